"""Figures, LaTeX tables and paper/generated/numbers.tex from the pipeline's result files.

    maaza report                           # or `dvc repro report` (runs notebooks/04_report.ipynb)
    inventory = build_report(ReportPaths(...))   # -> what was found, what is missing

Reads only the result files of docs/DESIGN.md -- runs/*/train_metrics.json, runs/*/loss.csv,
results/eval/*/metrics.json, results/eval/*/predictions.jsonl, data/report.json, and the benchmark
results results/bench/*.json (benchmarks/*_throughput.py) -- discovered by glob, never from a list. params.yaml only says which runs and evals the pipeline is *meant* to
produce and which run plays which role (main model, our recipe, larger model, ablation), so a
result that is not there yet is listed as missing and quoted as "not run" instead of being
silently dropped.
The original paper's numbers come from paper_reference.yaml and are always labelled as theirs.

Layout: loading (I/O) -> `Frames` (pure, tidy pandas tables) -> report_figures / report_tables /
report_numbers (pure: frames in, Figure / LaTeX text out) -> `build_report` writes them atomically.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from maaza.config import ConfigError, Params, TrainRun, load_params

DEFAULT_REFERENCE = Path(__file__).with_name("paper_reference.yaml")
# fit = a fine-tuned run scored on a sample of its own training split (how well it fits what it
# was trained on); kept out of the headline tables and figures, which are about unseen examples.
KIND_ORDER = ("zero-shot", "fine-tuned", "ablation", "fit")
# main = the paper's recipe on the paper's model; ours = our recipe on that same model; scale = a
# larger base model. Listed in the order tables, figures and legends show them.
ROLE_ORDER = ("zero-shot", "main", "ours", "scale", "ablation", "other")
MODE_ORDER = ("free", "constrained")
SPLIT_ORDER = ("test", "holdout", "train", "external")
FIT_SPLIT = "train"  # dvc.yaml's eval_trainfit: constrained decoding on a train.jsonl prefix
BF16_BYTES = 2  # disk size of a checkpoint = 2 bytes per parameter (bf16), plus the adapter


class ReportError(ValueError):
    """A result file the report cannot use; the message starts with `path[:line]:`."""


# ----------------------------------------------------------------------------- file formats
class _Loose(BaseModel):
    # extra="allow": result files may carry more than the report reads (provenance, new metrics).
    model_config = ConfigDict(extra="allow", frozen=True)


class Scores(_Loose):
    n: int | None = Field(None, ge=0)
    json_exact: float = Field(ge=0, le=1)
    field_f1: float = Field(ge=0, le=1)
    leaf_f1: float | None = Field(None, ge=0, le=1)
    compliance: float = Field(ge=0, le=1)
    tier: str | None = None  # by_schema rows only


class Overall(Scores):
    parse_rate: float | None = Field(None, ge=0, le=1)
    truncated: float | None = Field(None, ge=0, le=1)
    latency_mean_s: float | None = Field(None, ge=0)
    latency_p95_s: float | None = Field(None, ge=0)
    tokens_per_s: float | None = Field(None, ge=0)


class EvalMetrics(_Loose):
    name: str
    model: str
    run: str | None = None
    mode: str
    prompt_format: str | None = None
    split: str
    n: int = Field(ge=0)
    overall: Overall
    by_tier: dict[str, Scores] = {}
    by_schema: dict[str, Scores] = {}
    by_style: dict[str, Scores] = {}
    errors: dict[str, int] = {}
    params_total: int | None = None  # optional: lets a zero-shot model be placed on a params axis
    provenance: dict[str, Any] = {}


class LoraInfo(_Loose):
    r: int
    alpha: int


class TrainMetrics(_Loose):
    run: str
    model: str
    params_total: int = Field(gt=0)
    params_trainable: int = Field(ge=0)
    trainable_pct: float
    lora: LoraInfo
    loss_type: str
    train_fraction: float
    n_train_examples: int
    n_truncated: int = 0
    epochs: float
    steps: int
    wall_time_s: float
    real_tokens_per_s: float
    roof_fraction: float | None = None
    final_loss: float
    adapter_mb: float
    hardware: dict[str, Any] = {}


LOSS_COLUMNS = ("step", "epoch", "loss", "lr", "tokens_per_s", "elapsed_s")


class SplitCounts(_Loose):
    n: int
    by_tier: dict[str, int] = {}
    by_style: dict[str, int] = {}
    by_schema: dict[str, int] = {}


class CheckCount(_Loose):
    failed: int
    passed: int
    pass_rate: float


class SplitChecks(_Loose):
    n: int
    n_failed: int = 0
    checks: dict[str, CheckCount] = {}


class DataReport(_Loose):
    """data/report.json as written by maaza.data.dataset_report (only what the report reads)."""

    counts: dict[str, SplitCounts]
    schemas: dict[str, dict[str, Any]] = {}
    checks: dict[str, SplitChecks] = {}
    leakage: dict[str, int] = {}
    tokens: dict[str, Any] = {}


class EvalBenchSide(_Loose):
    seconds: float = Field(gt=0)
    tokens: int = Field(ge=0)
    examples_per_s: float = Field(ge=0)


class EvalBench(_Loose):
    """results/bench/eval_throughput.json, as benchmarks/eval_throughput.py --out writes it."""

    model: str
    adapter: str | None = None
    n: int = Field(gt=0)
    reference: EvalBenchSide
    free: EvalBenchSide
    constrained: EvalBenchSide
    speedup_free_vs_reference: float
    constrained_overhead_wall: float
    constrained_overhead_per_token: float


class TrainBenchSide(_Loose):
    wall_s: float = Field(gt=0)
    real_tokens: int = Field(ge=0)
    tokens_per_s: float = Field(ge=0)


class TrainBench(_Loose):
    """results/bench/train_throughput.json, as benchmarks/train_throughput.py --json writes it.
    Its --variants mode writes no reference/ours sides: their numbers then read as not run."""

    model: str
    n_examples: int = Field(gt=0)
    steps: int = Field(gt=0)
    reference: TrainBenchSide | None = None
    ours: TrainBenchSide | None = None
    ratio: float | None = None


class UnseenBench(_Loose):
    """results/bench/extract_unseen.json, as benchmarks/extract_unseen.py --out writes it."""

    source: str
    n: int = Field(gt=0)
    n_valid: int = Field(ge=0)
    n_exact: int = Field(ge=0)
    leaves_right: int = Field(ge=0)
    leaves: int = Field(gt=0)
    mean_latency_s: float = Field(ge=0)


# File stem -> its format. Any other results/bench/*.json only has to hold a JSON object.
BENCH_FORMATS: dict[str, type[_Loose]] = {
    "eval_throughput": EvalBench,
    "train_throughput": TrainBench,
    "extract_unseen": UnseenBench,
}


# ----------------------------------------------------------------------------- loading (I/O)
def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ReportError(f"{path}:{err.lineno}: invalid JSON: {err.msg}") from None


def _validate(model: type[BaseModel], raw: Any, path: Path) -> Any:
    try:
        return model.model_validate(raw)
    except ValidationError as err:
        first = err.errors()[0]
        key = ".".join(str(p) for p in first["loc"])
        raise ReportError(f"{path}: {key}: {first['msg']} (got {first.get('input')!r})") from None


def read_loss(path: Path) -> pd.DataFrame:
    frame = pd.read_csv(path)
    missing = [c for c in ("step", "loss") if c not in frame.columns]
    if missing:
        raise ReportError(f"{path}:1: missing column(s) {missing}; expected {list(LOSS_COLUMNS)}")
    return frame


def read_predictions(path: Path) -> pd.DataFrame:
    rows = []
    for lineno, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError as err:
            raise ReportError(f"{path}:{lineno}: invalid JSON: {err.msg}") from None
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class RunResult:
    name: str
    metrics: TrainMetrics | None  # None while training is still running
    loss: pd.DataFrame | None
    source: str


@dataclass(frozen=True)
class EvalResult:
    name: str
    metrics: EvalMetrics
    predictions: pd.DataFrame | None
    source: str


@dataclass(frozen=True)
class BenchResult:
    name: str  # file stem: eval_throughput, train_throughput
    data: dict[str, Any]  # the validated file as plain dicts (extra keys kept)
    source: str


@dataclass(frozen=True)
class Results:
    runs: dict[str, RunResult]
    evals: dict[str, EvalResult]
    data: DataReport | None
    data_source: str | None
    registry_params: dict[str, int] = field(default_factory=dict)  # model facts, not results
    bench: dict[str, BenchResult] = field(default_factory=dict)  # file stem -> benchmark result


def load_run(folder: Path) -> RunResult | None:
    metrics_path, loss_path = folder / "train_metrics.json", folder / "loss.csv"
    if not metrics_path.exists() and not loss_path.exists():
        return None
    metrics = (
        _validate(TrainMetrics, read_json(metrics_path), metrics_path)
        if metrics_path.exists()
        else None
    )
    loss = read_loss(loss_path) if loss_path.exists() else None
    return RunResult(folder.name, metrics, loss, str(metrics_path))


def load_eval(folder: Path) -> EvalResult | None:
    path = folder / "metrics.json"
    if not path.exists():
        return None
    metrics = _validate(EvalMetrics, read_json(path), path)
    preds_path = folder / "predictions.jsonl"
    preds = read_predictions(preds_path) if preds_path.exists() else None
    return EvalResult(folder.name, metrics, preds, str(path))


def load_results(runs_dir: Path, eval_dir: Path, data_report: Path | None) -> Results:
    """Everything present on disk; folders are keyed by their name (runs/R, results/eval/E)."""
    runs = {r.name: r for r in map(load_run, _subdirs(runs_dir)) if r is not None}
    evals = {e.name: e for e in map(load_eval, _subdirs(eval_dir)) if e is not None}
    data = None
    if data_report and data_report.exists():
        data = _validate(DataReport, read_json(data_report), data_report)
    return Results(runs, evals, data, str(data_report) if data is not None else None)


def load_bench(bench_dir: Path | None) -> dict[str, BenchResult]:
    """Every bench_dir/*.json present, keyed by file stem; a benchmark not run is simply absent."""
    if bench_dir is None or not bench_dir.exists():
        return {}
    out = {}
    for path in sorted(bench_dir.glob("*.json")):
        fmt = BENCH_FORMATS.get(path.stem, _Loose)
        data = _validate(fmt, read_json(path), path).model_dump()
        out[path.stem] = BenchResult(path.stem, data, str(path))
    return out


def _subdirs(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("*") if p.is_dir()) if folder.exists() else []


def load_reference(path: Path = DEFAULT_REFERENCE) -> dict[str, Any]:
    """The original paper's reported numbers (hand-transcribed, with section citations)."""
    ref = yaml.safe_load(path.read_text())
    for i, model in enumerate(ref.get("models", [])):
        for key in ("id", "macro", "label", "kind", "params_m", "overall"):
            if key not in model:
                raise ReportError(f"{path}: models[{i}]: missing key {key!r}")
        if not model["macro"].isalpha():
            raise ReportError(f"{path}: models[{i}].macro must be letters only (a TeX name)")
    return ref


# ----------------------------------------------------------------------------- design (params)
AblationFactor = Literal["rank", "data", "loss", "other"]
FACTORS: tuple[str, ...] = ("rank", "data", "loss", "other")


@dataclass(frozen=True)
class Ablation:
    run: str
    factor: AblationFactor
    value: float | str


@dataclass(frozen=True)
class Design:
    """What params.yaml says the pipeline produces; empty when there is no params file."""

    main_run: str | None = None  # first train run on train.common's model: the paper's recipe
    ours_runs: tuple[str, ...] = ()  # other train runs on the main run's model: our recipe(s)
    scale_runs: tuple[str, ...] = ()  # train runs on another model (the larger model)
    ablations: tuple[Ablation, ...] = ()
    run_models: dict[str, str] = field(default_factory=dict)
    main_values: dict[str, float | str] = field(default_factory=dict)  # main run's ablated knobs
    zeroshot_models: tuple[str, ...] = ()
    modes: tuple[str, ...] = ()
    holdout: bool = False
    recipe: dict[str, tuple[Any, str]] = field(default_factory=dict)  # name -> (value, params key)
    ours_recipe: dict[str, tuple[Any, str]] = field(default_factory=dict)  # first ours run's

    @property
    def train_runs(self) -> tuple[str, ...]:
        return tuple(r for r in (self.main_run, *self.ours_runs, *self.scale_runs) if r)

    def expected_runs(self) -> list[str]:
        return [*self.train_runs, *(a.run for a in self.ablations)]

    def expected_evals(self) -> list[str]:
        names = [f"zs-{m}-{mode}" for m in self.zeroshot_models for mode in self.modes]
        names += [f"ft-{r}-{mode}" for r in self.train_runs for mode in self.modes]
        if self.holdout:  # dvc.yaml's eval_holdout runs every run in every mode
            names += [f"ft-{r}-{mode}-holdout" for r in self.train_runs for mode in self.modes]
        names += [f"ft-{r}-constrained-{FIT_SPLIT}" for r in self.train_runs]  # eval_trainfit
        return names + [f"ab-{a.run}-constrained" for a in self.ablations]

    def expected_headline(self) -> list[dict[str, Any]]:
        """The zero-shot and fine-tuned evals params.yaml asks for, described without their files
        (so a table can show a row that says "not run")."""
        rows = [
            {"name": f"zs-{m}-{mode}", "model": m, "run": None, "mode": mode, "split": "test"}
            for m in self.zeroshot_models
            for mode in self.modes
        ]
        rows += [
            {
                "name": f"ft-{r}-{mode}",
                "model": self.run_models[r],
                "run": r,
                "mode": mode,
                "split": "test",
            }
            for r in self.train_runs
            for mode in self.modes
        ]
        if self.holdout and "constrained" in self.modes:
            rows += [
                {
                    "name": f"ft-{r}-constrained-holdout",
                    "model": self.run_models[r],
                    "run": r,
                    "mode": "constrained",
                    "split": "holdout",
                }  # fmt: skip
                for r in self.train_runs
            ]
        for row in rows:
            row["role"] = self.role_of(row["run"])
            row["kind"] = "zero-shot" if row["run"] is None else "fine-tuned"
            row["label"] = eval_label(
                row["model"], row["role"], row["run"], row["mode"], row["split"]
            )
        return rows

    def role_of(self, run: str | None) -> str:
        if run is None:
            return "zero-shot"
        if run == self.main_run:
            return "main"
        if run in self.ours_runs:
            return "ours"
        if run in self.scale_runs:
            return "scale"
        return "ablation" if run in {a.run for a in self.ablations} else "other"


def _knobs(run: TrainRun) -> dict[str, float | str]:
    return {"rank": run.lora.r, "data": run.train_fraction, "loss": run.loss}


def design_from_params(params: Params) -> Design:
    """Runs by their declared role (params.yaml), never by position."""
    from maaza.plan import MODES

    names = [n for n in params.run_names() if params.run_role(n) != "ablation"]
    resolved = {n: params.train_run(n) for n in params.run_names()}
    main = next((n for n in names if params.run_role(n) == "paper_recipe"), None)
    main_knobs = _knobs(resolved[main]) if main else {}
    ours = tuple(n for n in names if params.run_role(n) == "ours")
    ablations = []
    for name in params.ablate.runs:
        knobs = _knobs(resolved[name])
        changed = [k for k in ("rank", "data", "loss") if knobs[k] != main_knobs.get(k)]
        factor: AblationFactor = changed[0] if len(changed) == 1 else "other"  # type: ignore[assignment]
        ablations.append(Ablation(name, factor, knobs[factor] if factor != "other" else name))
    return Design(
        main_run=main,
        ours_runs=ours,
        scale_runs=tuple(n for n in names if params.run_role(n) == "scale"),
        ablations=tuple(ablations),
        run_models={n: r.model for n, r in resolved.items()},
        main_values=main_knobs,
        zeroshot_models=tuple(params.evaluate.zeroshot_models),
        modes=MODES,
        holdout=bool(params.data.holdout_schemas),
        recipe=recipe(params, resolved[main]) if main else {},
        ours_recipe=ours_recipe(params, ours[0], resolved[ours[0]]) if ours else {},
    )


def recipe(params: Params, main: TrainRun) -> dict[str, tuple[Any, str]]:
    """The settings the paper's method section quotes, each with the params key it comes from."""
    t, d, e = "train.common", "data", "evaluate"
    return {
        "LearningRate": (main.learning_rate, f"{t}.learning_rate"),
        "Epochs": (main.epochs, f"{t}.epochs"),
        "MicroBatch": (main.micro_batch_size, f"{t}.micro_batch_size"),
        "GradAccum": (main.grad_accum, f"{t}.grad_accum"),
        "Batch": (main.micro_batch_size * main.grad_accum, f"{t}.micro_batch_size * grad_accum"),
        "WarmupRatio": (main.warmup_ratio, f"{t}.warmup_ratio"),
        "WeightDecay": (main.weight_decay, f"{t}.weight_decay"),
        "MaxGradNorm": (main.max_grad_norm, f"{t}.max_grad_norm"),
        "MaxLength": (main.max_length, f"{t}.max_length"),
        "LoraR": (main.lora.r, f"{t}.lora.r"),
        "LoraAlpha": (main.lora.alpha, f"{t}.lora.alpha"),
        "LoraDropout": (main.lora.dropout, f"{t}.lora.dropout"),
        "LoraModules": (len(main.lora.target_modules), f"{t}.lora.target_modules"),
        "BaseDtype": (main.base_dtype, f"{t}.base_dtype"),
        "PromptFormat": (main.prompt_format, f"{t}.prompt_format"),
        "Seed": (main.seed, f"{t}.seed"),
        "DataSeed": (params.data.seed, f"{d}.seed"),
        "NExamples": (params.data.n_examples, f"{d}.n_examples"),
        "TestFraction": (params.data.test_fraction, f"{d}.test_fraction"),
        "HoldoutSchemas": (len(params.data.holdout_schemas), f"{d}.holdout_schemas"),
        "HoldoutPerSchema": (params.data.holdout_per_schema, f"{d}.holdout_per_schema"),
        "OptionalDropRate": (params.data.optional_drop_rate, f"{d}.optional_drop_rate"),
        "MaxNewTokens": (params.evaluate.decode.max_new_tokens, f"{e}.decode.max_new_tokens"),
        "BudgetFactor": (
            params.evaluate.decode.token_budget_factor,
            f"{e}.decode.token_budget_factor",
        ),
        "DecodeBatch": (params.evaluate.decode.batch_size, f"{e}.decode.batch_size"),
        "ZsPromptFormat": (params.evaluate.zeroshot_prompt_format, f"{e}.zeroshot_prompt_format"),
    }


def ours_recipe(params: Params, name: str, run: TrainRun) -> dict[str, tuple[Any, str]]:
    """What our recipe changes, each with the params key its value comes from (the run's own
    override when it has one, else train.common)."""
    overrides = params.sections()[params.run_section(name)][name]

    def key(field: str) -> str:
        return f"{params.run_section(name)}.{name}.{field}" if field in overrides else f"train.common.{field}"

    data = params.data
    drop = data.extra_optional_drop_rate
    drop = data.optional_drop_rate if drop is None else drop
    return {
        "ExtraTrain": (run.extra_train, key("extra_train")),
        # the extra examples' own generator settings (empty locale list: en_US only, one locale)
        "ExtraDropRate": (drop, "data.extra_optional_drop_rate"),
        "ExtraLocales": (max(1, len(data.extra_name_locales)), "data.extra_name_locales"),
        "LearningRate": (run.learning_rate, key("learning_rate")),
        "Epochs": (run.epochs, key("epochs")),
        "MicroBatch": (run.micro_batch_size, key("micro_batch_size")),
        "GradAccum": (run.grad_accum, key("grad_accum")),
        "Batch": (
            run.micro_batch_size * run.grad_accum,
            f"{key('micro_batch_size')} * {key('grad_accum')}",
        ),
    }


def load_design(params_file: Path | None) -> Design:
    if params_file is None or not Path(params_file).exists():
        return Design()
    try:
        return design_from_params(load_params(params_file))
    except ConfigError as err:
        raise ReportError(f"{params_file}: {err}") from None


# ----------------------------------------------------------------------------- small helpers
def wilson(p: float, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson score interval for a proportion; sane at p=0 or 1 and small n (unlike p±2se)."""
    if n <= 0:
        return (math.nan, math.nan)
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def short_model(model: str) -> str:
    """Registry name without the '-instruct' suffix, for labels."""
    return model.removesuffix("-instruct")


OURS_LABEL = "our recipe"  # how tables, figures and labels name an `ours` run


def eval_label(model: str, role: str, run: str | None, mode: str, split: str) -> str:
    if role in ("ablation", "other"):
        head = str(run)
    else:
        head = f"{short_model(model)} {'zero-shot' if role == 'zero-shot' else 'fine-tuned'}"
        head += f", {OURS_LABEL}" if role == "ours" else ""
    tail = "" if split == "test" else f", {'train sample' if split == FIT_SPLIT else split}"
    return f"{head} ({mode}{tail})"


def _order(value: str, order: Iterable[str]) -> int:
    order = list(order)
    return order.index(value) if value in order else len(order)


# ----------------------------------------------------------------------------- tidy frames
@dataclass(frozen=True)
class Inventory:
    found_runs: list[str]
    found_evals: list[str]
    missing_runs: list[str]
    missing_evals: list[str]
    in_progress: dict[str, int]  # run -> optimizer steps logged so far (no train_metrics.json yet)
    extra: list[str]  # present but not in params.yaml (still reported)
    data_report: str | None
    bench: list[str] = field(default_factory=list)  # benchmark result files found

    @property
    def missing(self) -> list[str]:
        return [*self.missing_runs, *self.missing_evals]

    def as_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__} | {"missing": self.missing}


def inventory(results: Results, design: Design) -> Inventory:
    finished = [n for n, r in results.runs.items() if r.metrics is not None]
    progress = {
        n: len(r.loss) if r.loss is not None else 0
        for n, r in results.runs.items()
        if r.metrics is None
    }
    expected_runs, expected_evals = design.expected_runs(), design.expected_evals()
    extra = [n for n in finished if n not in expected_runs]
    extra += [n for n in results.evals if n not in expected_evals]
    return Inventory(
        found_runs=finished,
        found_evals=list(results.evals),
        missing_runs=[n for n in expected_runs if n not in finished],
        missing_evals=[n for n in expected_evals if n not in results.evals],
        in_progress=progress,
        extra=extra if design.expected_runs() or design.zeroshot_models else [],
        data_report=results.data_source,
        bench=[b.source for b in results.bench.values()],
    )


def model_params(results: Results) -> dict[str, int]:
    """Base-model parameter count per model name. The registry's count comes first (a fact about
    the base model), then an eval's `params_total`, then a run's (which may include its adapter)."""
    out = {r.metrics.model: r.metrics.params_total for r in results.runs.values() if r.metrics}
    out |= {
        e.metrics.model: e.metrics.params_total
        for e in results.evals.values()
        if e.metrics.params_total
    }
    return out | results.registry_params


def _eval_row(e: EvalResult, results: Results, design: Design, params: dict[str, int]) -> dict:
    m = e.metrics
    role = design.role_of(m.run) if design.main_run else ("zero-shot" if m.run is None else "other")
    if role == "other" and e.name.startswith("ab-"):
        role = "ablation"
    kind = {"zero-shot": "zero-shot", "ablation": "ablation"}.get(role, "fine-tuned")
    kind = "fit" if m.split == FIT_SPLIT and m.run else kind
    run = results.runs.get(m.run) if m.run else None
    n_params = params.get(m.model)  # one count per model (see model_params)
    adapter = run.metrics.adapter_mb if run and run.metrics else 0.0
    lo, hi = wilson(m.overall.json_exact, m.n)
    return {
        "name": e.name,
        "label": eval_label(m.model, role, m.run, m.mode, m.split),
        "model": m.model,
        "run": m.run,
        "role": role,
        "kind": kind,
        "mode": m.mode,
        "split": m.split,
        "prompt_format": m.prompt_format,
        "n": m.n,
        "params_total": n_params,
        "disk_mb": n_params * BF16_BYTES / 1e6 + adapter if n_params else math.nan,
        **{k: v for k, v in m.overall.model_dump().items() if k in Overall.model_fields},
        "json_exact_lo": lo,
        "json_exact_hi": hi,
        "source": e.source,
    }


def eval_frame(results: Results, design: Design) -> pd.DataFrame:
    """One row per evaluation, ordered by model size, then zero-shot before fine-tuned."""
    params = model_params(results)
    rows = [_eval_row(e, results, design, params) for e in results.evals.values()]
    if not rows:
        return pd.DataFrame(
            columns=["name", "label", "model", "run", "role", "kind", "mode", "split"]
        )
    frame = pd.DataFrame(rows)
    frame["_key"] = [
        (
            r.params_total if pd.notna(r.params_total) else math.inf,
            r.model,
            _order(r.split, SPLIT_ORDER),
            _order(r.kind, KIND_ORDER),
            _order(r.role, ROLE_ORDER),  # the paper's recipe before ours on the same model
            str(r.run),
            _order(r.mode, MODE_ORDER),
        )
        for r in frame.itertuples()
    ]
    return frame.sort_values("_key").drop(columns="_key").reset_index(drop=True)


def _breakdown(results: Results, evals: pd.DataFrame, attr: str, key: str) -> pd.DataFrame:
    rows = []
    for name, label in zip(evals["name"], evals["label"], strict=True):
        for k, s in getattr(results.evals[name].metrics, attr).items():
            # key last: by_tier rows carry tier=None from Scores, the dict key is the tier
            rows.append({"name": name, "label": label, **s.model_dump(), key: k})
    return pd.DataFrame(rows)


def tier_frame(results: Results, evals: pd.DataFrame) -> pd.DataFrame:
    return _breakdown(results, evals, "by_tier", "tier")


def schema_frame(results: Results, evals: pd.DataFrame) -> pd.DataFrame:
    return _breakdown(results, evals, "by_schema", "schema")


def error_frame(results: Results, evals: pd.DataFrame) -> pd.DataFrame:
    """Long table: eval, category, count, share of all examples, share of the errors."""
    rows = []
    for name, label in zip(evals["name"], evals["label"], strict=True):
        errors = results.evals[name].metrics.errors
        total, wrong = sum(errors.values()), sum(v for k, v in errors.items() if k != "correct")
        for cat, count in errors.items():
            rows.append(
                {
                    "name": name,
                    "label": label,
                    "category": cat,
                    "count": count,
                    "share": count / total if total else math.nan,
                    "share_of_errors": count / wrong if wrong and cat != "correct" else math.nan,
                }
            )
    return pd.DataFrame(rows)


def error_tier_frame(results: Results, name: str | None) -> pd.DataFrame:
    """Error category x tier counts for one eval, from its predictions.jsonl (empty if absent)."""
    e = results.evals.get(name) if name else None
    preds = e.predictions if e else None
    if preds is None or preds.empty or not {"complexity", "error"} <= set(preds.columns):
        return pd.DataFrame()
    cats = preds["error"].fillna("correct")
    return pd.crosstab(cats, preds["complexity"])


def run_frame(results: Results, design: Design) -> pd.DataFrame:
    """One row per finished training run, ordered by model size then role."""
    factor = {a.run: a.factor for a in design.ablations}
    rows = []
    for r in results.runs.values():
        if r.metrics is None:
            continue
        m = r.metrics
        rows.append(
            {
                "run": r.name,
                "model": m.model,
                "role": design.role_of(r.name) if design.main_run else "other",
                "factor": factor.get(r.name),
                "r": m.lora.r,
                "alpha": m.lora.alpha,
                "loss_type": m.loss_type,
                "train_fraction": m.train_fraction,
                **m.model_dump(include=_RUN_FIELDS),
                "cpu": m.hardware.get("cpu"),
                "cores": m.hardware.get("cores"),
                "torch": m.hardware.get("torch"),
                "source": r.source,
            }
        )
    if not rows:
        return pd.DataFrame(columns=["run", "model", "role", "factor"])
    frame = pd.DataFrame(rows)
    frame["_key"] = [
        (p, _order(role, ROLE_ORDER), run)
        for p, role, run in zip(frame["params_total"], frame["role"], frame["run"], strict=True)
    ]
    return frame.sort_values("_key").drop(columns="_key").reset_index(drop=True)


_RUN_FIELDS = {
    "params_total",
    "params_trainable",
    "trainable_pct",
    "n_train_examples",
    "n_truncated",
    "epochs",
    "steps",
    "wall_time_s",
    "real_tokens_per_s",
    "roof_fraction",
    "final_loss",
    "adapter_mb",
}


def ablation_frame(design: Design, runs: pd.DataFrame, evals: pd.DataFrame) -> pd.DataFrame:
    """Each ablation point (the main run is the shared reference point of every factor) with its
    constrained test-split JSONExact and training time; NaN where the run or its eval is missing."""
    points = [(a.factor, a.value, a.run) for a in design.ablations]
    if design.main_run:
        points += [(f, design.main_values[f], design.main_run) for f in ("rank", "data", "loss")]
    rows = []
    for factor, value, run in points:
        ev = evals[
            (evals["run"] == run) & (evals["split"] == "test") & (evals["mode"] == "constrained")
        ]
        tr = runs[runs["run"] == run] if "run" in runs else runs.iloc[0:0]
        rows.append(
            {
                "factor": factor,
                "value": value,
                "run": run,
                "is_main": run == design.main_run,
                "json_exact": ev["json_exact"].iloc[0] if len(ev) else math.nan,
                "field_f1": ev["field_f1"].iloc[0] if len(ev) else math.nan,
                **{
                    k: ev[k].iloc[0] if len(ev) else math.nan
                    for k in ("json_exact_lo", "json_exact_hi")
                },
                "eval": ev["name"].iloc[0] if len(ev) else None,
                **{
                    k: (tr[k].iloc[0] if len(tr) else math.nan)
                    for k in ("wall_time_s", "params_trainable", "n_train_examples", "final_loss")
                },
            }
        )
    if not rows:
        return pd.DataFrame(columns=["factor", "value", "run", "json_exact", "wall_time_s"])
    # Within a factor values share a type (ranks, fractions, or loss names with the main run first).
    rows.sort(
        key=lambda r: (
            _order(r["factor"], FACTORS),
            r["value"] if r["factor"] in ("rank", "data") else (not r["is_main"], str(r["value"])),
        )
    )
    return pd.DataFrame(rows)


def loss_frame(results: Results, design: Design) -> pd.DataFrame:
    """Long table of every loss.csv (finished or still running): run, role, step, epoch, loss."""
    parts = []
    for r in sorted(
        results.runs.values(), key=lambda r: (_order(design.role_of(r.name), ROLE_ORDER), r.name)
    ):
        if r.loss is None or r.loss.empty:
            continue
        part = r.loss.assign(
            run=r.name, role=design.role_of(r.name), finished=r.metrics is not None
        )
        parts.append(part)
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


@dataclass(frozen=True)
class Frames:
    """Everything the figures, tables and numbers are drawn from (pure data, no I/O)."""

    design: Design
    inventory: Inventory
    evals: pd.DataFrame
    tiers: pd.DataFrame
    schemas: pd.DataFrame
    errors: pd.DataFrame
    error_tiers: pd.DataFrame  # category x tier counts of the main eval (from predictions)
    runs: pd.DataFrame
    ablations: pd.DataFrame
    losses: pd.DataFrame
    data: DataReport | None
    data_source: str | None
    model_params: dict[str, int] = field(default_factory=dict)  # model -> base parameter count
    bench: dict[str, BenchResult] = field(default_factory=dict)  # file stem -> benchmark result

    def find_eval(self, run: str | None, mode: str, split: str = "test", model: str | None = None):
        """The eval row of a fine-tuned run (run given) or a zero-shot model, or None."""
        e = self.evals
        if e.empty:
            return None
        hit = e[(e["mode"] == mode) & (e["split"] == split)]
        hit = hit[hit["run"] == run] if run else hit[hit["run"].isna() & (hit["model"] == model)]
        return hit.iloc[0] if len(hit) else None

    def main_eval_name(self) -> str | None:
        row = self.find_eval(self.design.main_run, "constrained") if self.design.main_run else None
        return None if row is None else row["name"]


def build_frames(results: Results, design: Design) -> Frames:
    evals = eval_frame(results, design)
    runs = run_frame(results, design)
    frames = Frames(
        design=design,
        inventory=inventory(results, design),
        evals=evals,
        tiers=tier_frame(results, evals),
        schemas=schema_frame(results, evals),
        errors=error_frame(results, evals),
        error_tiers=pd.DataFrame(),
        runs=runs,
        ablations=ablation_frame(design, runs, evals),
        losses=loss_frame(results, design),
        data=results.data,
        data_source=results.data_source,
        model_params=model_params(results),
        bench=results.bench,
    )
    # The error x tier table needs the main eval's name, which needs the frames themselves.
    return replace(frames, error_tiers=error_tier_frame(results, frames.main_eval_name()))


# ----------------------------------------------------------------------------- writing (I/O)
@dataclass(frozen=True)
class ReportPaths:
    runs_dir: Path
    eval_dir: Path
    data_report: Path | None
    params_file: Path | None
    figures_dir: Path
    tables_dir: Path
    generated_dir: Path
    reference: Path = DEFAULT_REFERENCE
    bench_dir: Path | None = None  # results/bench; None or absent: benchmark numbers read not run


def public_mode(path: str | Path) -> None:
    """mkstemp creates files 0600; give the final file the usual umask-based mode (e.g. 0644)."""
    mask = os.umask(0)
    os.umask(mask)
    os.chmod(path, 0o666 & ~mask)


def write_text(path: Path, text: str) -> None:
    """Write via a temp file + rename, so a killed run never leaves a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        public_mode(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def registry_params(models: Iterable[str]) -> dict[str, int]:
    """Parameter counts the model registry knows without loading anything (a fallback that places
    a zero-shot model on the parameter axis before any run or eval of it has reported a count)."""
    from maaza.models import ModelError, resolve

    out = {}
    for model in models:
        try:
            n = resolve(model).params
        except (ModelError, ValueError, OSError):
            continue
        if n:
            out[model] = n
    return out


def load_frames(paths: ReportPaths) -> Frames:
    results = load_results(paths.runs_dir, paths.eval_dir, paths.data_report)
    design = load_design(paths.params_file)
    seen = {e.metrics.model for e in results.evals.values()}
    models = seen | set(design.run_models.values()) | set(design.zeroshot_models)
    results = replace(
        results,
        registry_params=registry_params(sorted(models)),
        bench=load_bench(paths.bench_dir),
    )
    return build_frames(results, design)


def build_report(paths: ReportPaths, progress: bool = True) -> Inventory:
    """Write every figure (PNG+PDF), every table and numbers.tex; return the inventory."""
    from tqdm.auto import tqdm

    from maaza import report_figures, report_numbers, report_tables

    frames = load_frames(paths)
    reference = load_reference(paths.reference)
    jobs = [("figure", n, f) for n, f in report_figures.FIGURES.items()]
    jobs += [("table", n, f) for n, f in report_tables.TABLES.items()]
    for kind, name, fn in tqdm(jobs, desc="report", disable=not progress):
        if kind == "figure":
            report_figures.save(fn(frames, reference), paths.figures_dir / name)
        else:
            write_text(paths.tables_dir / f"{name}.tex", fn(frames, reference))
    write_text(paths.generated_dir / "numbers.tex", report_numbers.render(frames, reference))
    inv = frames.inventory
    write_text(paths.generated_dir / "inventory.json", json.dumps(inv.as_dict(), indent=2) + "\n")
    return inv


def describe(inv: Inventory) -> str:
    """Human-readable found/missing summary (printed by `maaza report` and the notebook)."""
    lines = [
        f"found {len(inv.found_runs)} finished run(s): {', '.join(inv.found_runs) or '-'}",
        f"found {len(inv.found_evals)} eval(s): {', '.join(inv.found_evals) or '-'}",
        f"data report: {inv.data_report or 'missing'}",
        f"benchmarks: {', '.join(inv.bench) or 'none'}",
    ]
    lines += [f"in progress: {r} ({s} steps logged)" for r, s in inv.in_progress.items()]
    lines += [f"missing: {m}" for m in inv.missing]
    lines += [f"not in params.yaml (still reported): {x}" for x in inv.extra]
    return "\n".join(lines)


# ----------------------------------------------------------------------------- formatting (TeX)
NOT_RUN = r"\notrun{}"  # defined in numbers.tex; the paper's word for a missing result


def missing(x: Any) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def fmt_pct(x: float | None, digits: int = 1) -> str:
    """A fraction in [0, 1] as a TeX percentage: 0.9123 -> '91.2\\%'."""
    return NOT_RUN if missing(x) else f"{100 * x:.{digits}f}\\%"


def fmt_f1(x: float | None) -> str:
    return NOT_RUN if missing(x) else f"{x:.3f}"


def fmt_num(x: float | None, digits: int = 1) -> str:
    return NOT_RUN if missing(x) else f"{x:,.{digits}f}".replace(",", "{,}")


def fmt_int(x: float | None) -> str:
    return NOT_RUN if missing(x) else f"{int(round(x)):,}".replace(",", "{,}")


def fmt_params(x: float | None) -> str:
    """Parameter count in millions: 134515008 -> '134.5M'."""
    return NOT_RUN if missing(x) else f"{x / 1e6:.1f}M"


def fmt_duration(seconds: float | None) -> str:
    """'48 s', '20.6 min' or '2.3 h': the unit a reader would use."""
    if missing(seconds):
        return NOT_RUN
    if seconds < 120:
        return f"{seconds:.0f}\\,s"
    if seconds < 7200:
        return f"{seconds / 60:.1f}\\,min"
    return f"{seconds / 3600:.1f}\\,h"


def fmt_seconds(seconds: float | None, digits: int = 2) -> str:
    """A latency kept in seconds whatever its size: 4.634 -> '4.63\\,s'."""
    return NOT_RUN if missing(seconds) else f"{seconds:.{digits}f}\\,s"


def fmt_ci(row: Any) -> str:
    """An eval row's 95% Wilson interval of JSONExact, in percent: '[9.4, 20.2]'."""
    return f"[{100 * row['json_exact_lo']:.1f}, {100 * row['json_exact_hi']:.1f}]"


def fmt_ratio(num: float | None, den: float | None) -> str:
    if missing(num) or missing(den):
        return NOT_RUN
    return r"$\infty$" if den == 0 else fmt_times(num / den)


def fmt_times(x: float | None) -> str:
    """A ratio that is already computed: 13.03 -> '13.0$\\times$' (fmt_ratio prints through it)."""
    return NOT_RUN if missing(x) else f"{x:.1f}$\\times$"


def fmt_signed_pct(x: float | None, digits: int = 1) -> str:
    """A relative change as a signed percentage: 0.1118 -> '+11.2\\%'."""
    return NOT_RUN if missing(x) else f"{100 * x:+.{digits}f}\\%"


def fmt_sig(x: float | None, sig: int = 3) -> str:
    """`sig` significant digits, no exponent (rates spanning decades): 0.0333 -> '0.0333',
    0.434 -> '0.434', 13.03 -> '13.0'."""
    if missing(x):
        return NOT_RUN
    digits = sig - 1 - math.floor(math.log10(abs(x))) if x else sig - 1
    return fmt_num(x, max(0, digits))


def fmt_points(a: float | None, b: float | None) -> str:
    """Difference a - b of two fractions, in signed percentage points."""
    return NOT_RUN if missing(a) or missing(b) else f"{100 * (a - b):+.1f}\\,pp"


_TEX_SPECIALS = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}


def tex_escape(text: Any) -> str:
    return "".join(_TEX_SPECIALS.get(ch, ch) for ch in str(text))


def tt(name: Any) -> str:
    """A run/model/schema name in typewriter type."""
    return r"\texttt{" + tex_escape(name) + "}"
