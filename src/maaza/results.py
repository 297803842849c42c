"""The pipeline's result files: their formats (pydantic) and their loaders.

    results = load_results(Path("runs"), Path("results/eval"), Path("data/report.json"))
    EvalMetrics.model_validate(json.load(f))      # writers may validate what they write, too

Formats accept extra keys (provenance, new metrics): they say only what the report reads. Files
are found by glob, keyed by folder name (runs/R, results/eval/E), never listed. A bad file raises
`ReportError` naming `path[:line[:column]]`. Shared by the writers (train.py writes loss.csv
with LOSS_COLUMNS), the report and anyone reading results; imports nothing of the report.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from maaza.io import InputError, read_json, read_jsonl

if TYPE_CHECKING:  # pandas loads only where a loader needs it: train.py imports LOSS_COLUMNS
    import pandas as pd

DEFAULT_REFERENCE = Path(__file__).with_name("paper_reference.yaml")  # beside this module
ReportError = InputError  # a result file the report cannot use; the message starts with its path


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
    copy_exact: float | None = Field(None, ge=0, le=1)  # share of copied values reproduced exactly


class EvalMetrics(_Loose):
    """results/eval/<name>/metrics.json (maaza.evaluate)."""

    model: str
    run: str | None = None
    mode: str
    prompt_format: str | None = None
    split: str
    n: int = Field(ge=0)
    overall: Overall
    by_tier: dict[str, Scores] = {}
    by_schema: dict[str, Scores] = {}
    errors: dict[str, int] = {}
    params_total: int | None = None  # optional: lets a zero-shot model be placed on a params axis


class LoraInfo(_Loose):
    r: int
    alpha: int


class TrainMetrics(_Loose):
    """runs/<run>/train_metrics.json (maaza.train)."""

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


LOSS_COLUMNS = ("step", "epoch", "loss", "lr", "tokens_per_s", "elapsed_s")  # runs/<run>/loss.csv


class SplitCounts(_Loose):
    n: int
    by_tier: dict[str, int] = {}
    by_style: dict[str, int] = {}
    by_schema: dict[str, int] = {}


class CheckCount(_Loose):
    failed: int
    pass_rate: float


class SplitChecks(_Loose):
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


# ----------------------------------------------------------------------------- loading
def _validate(model: type[BaseModel], raw: Any, path: Path) -> Any:
    try:
        return model.model_validate(raw)
    except ValidationError as err:
        first = err.errors()[0]
        key = ".".join(str(p) for p in first["loc"])
        raise ReportError(f"{path}: {key}: {first['msg']} (got {first.get('input')!r})") from None


def read_loss(path: Path) -> pd.DataFrame:
    import pandas as pd

    frame = pd.read_csv(path)
    missing = [c for c in ("step", "loss") if c not in frame.columns]
    if missing:
        raise ReportError(f"{path}:1: missing column(s) {missing}; expected {list(LOSS_COLUMNS)}")
    return frame


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
    metrics = None
    if metrics_path.exists():
        metrics = _validate(TrainMetrics, read_json(metrics_path), metrics_path)
    loss = read_loss(loss_path) if loss_path.exists() else None
    return RunResult(folder.name, metrics, loss, str(metrics_path))


def load_eval(folder: Path) -> EvalResult | None:
    path, preds_path = folder / "metrics.json", folder / "predictions.jsonl"
    if not path.exists():
        return None
    metrics = _validate(EvalMetrics, read_json(path), path)
    import pandas as pd

    preds = pd.DataFrame(read_jsonl(preds_path)) if preds_path.exists() else None
    return EvalResult(folder.name, metrics, preds, str(path))


def _subdirs(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("*") if p.is_dir()) if folder.exists() else []


def load_bench(bench_dir: Path | None) -> dict[str, BenchResult]:
    """Every bench_dir/*.json present, keyed by file stem; a benchmark not run is simply absent."""
    if bench_dir is None or not bench_dir.exists():
        return {}
    out = {}
    for path in sorted(bench_dir.glob("*.json")):
        data = _validate(BENCH_FORMATS.get(path.stem, _Loose), read_json(path), path).model_dump()
        out[path.stem] = BenchResult(data, str(path))
    return out


def load_results(
    runs_dir: Path, eval_dir: Path, data_report: Path | None, bench_dir: Path | None = None
) -> Results:
    """Everything present on disk."""
    runs = {r.name: r for r in map(load_run, _subdirs(runs_dir)) if r is not None}
    evals = {e.name: e for e in map(load_eval, _subdirs(eval_dir)) if e is not None}
    data = None
    if data_report and data_report.exists():
        data = _validate(DataReport, read_json(data_report), data_report)
    source = str(data_report) if data is not None else None
    return Results(runs, evals, data, source, bench=load_bench(bench_dir))


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
