"""Tidy pandas frames of the results, the one input of numbers, tables and figures (pure: no I/O).
An evaluation row has its run's role (`other`: undeclared), kind, label and Wilson interval."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd

from maaza.headline import wilson
from maaza.metrics import ERROR_CATEGORIES, METRICS
from maaza.plan import FIT_SPLIT, MODES, SPLIT_ORDER, VAL_SPLIT, Eval
from maaza.report.design import FACTORS, Design
from maaza.results import BenchResult, DataReport, EvalResult, Results, TrainMetrics
from maaza.schemas import TIERS

# fit (a run on a sample of its own training split) and val (where recipes are chosen) are kept
# out of the headline tables and figures, which are about unseen examples.
KIND_ORDER = ("zero-shot", "fine-tuned", "ablation", "fit", "val", "seed")
ROLE_ORDER = ("zero-shot", "paper_recipe", "ours", "scale", "ablation", "trial", "other")
HEADLINE_KINDS = ("zero-shot", "fine-tuned")
BF16_BYTES = 2  # disk size of a checkpoint = 2 bytes per parameter (bf16), plus a LoRA adapter
OURS_LABEL = "our recipe"  # how tables, figures and labels name an `ours` run


def short_model(model: str) -> str:
    return model.removesuffix("-instruct")


def eval_label(model: str, role: str, run: str | None, mode: str, split: str) -> str:
    if role in ("ablation", "trial", "other"):
        head = str(run)
    else:
        head = f"{short_model(model)} {'zero-shot' if role == 'zero-shot' else 'fine-tuned'}"
        head += f", {OURS_LABEL}" if role == "ours" else ""
    tail = "" if split == "test" else f", {'train sample' if split == FIT_SPLIT else split}"
    return f"{head} ({mode}{tail})"


def _order(value: str, order: Iterable[str]) -> int:
    order = list(order)
    return order.index(value) if value in order else len(order)


def tier_order(tiers: Iterable[str]) -> list[str]:
    """simple, medium, complex, then any other tier by name."""
    return sorted(set(tiers), key=lambda t: (_order(t, TIERS), t))


def error_categories(present: Iterable[str]) -> list[str]:
    """maaza.metrics' categories in their order (the ones present), then any other by name."""
    present = set(present)
    return [c for c in ERROR_CATEGORIES if c in present] + sorted(present - set(ERROR_CATEGORIES))


def cell(row: pd.Series | None, key: str) -> Any:
    """row[key], or None when there is no row, no such column, or the value is NaN."""
    value = None if row is None else row.get(key)
    return None if isinstance(value, float) and math.isnan(value) else value


def first_row(frame: pd.DataFrame) -> pd.Series | None:
    return frame.iloc[0] if len(frame) else None


def pick(row: pd.Series | None, keys: Iterable[str]) -> dict[str, Any]:
    """row's values of `keys`; NaN for each when there is no row."""
    return {k: math.nan if row is None else row[k] for k in keys}


def _sorted(rows: list[dict[str, Any]], key: Any, columns: list[str]) -> pd.DataFrame:
    """The rows sorted by key(row as a namedtuple); no rows: an empty frame with `columns`."""
    if not rows:
        return pd.DataFrame(columns=columns)
    frame = pd.DataFrame(rows)
    frame["_key"] = [key(r) for r in frame.itertuples()]
    return frame.sort_values("_key").drop(columns="_key").reset_index(drop=True)


# ----------------------------------------------------------------------------- inventory
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
        return asdict(self) | {"missing": self.missing}


def inventory(results: Results, design: Design) -> Inventory:
    finished = [n for n, r in results.runs.items() if r.metrics is not None]
    unfinished = [r for r in results.runs.values() if r.metrics is None]
    progress = {r.name: len(r.loss) if r.loss is not None else 0 for r in unfinished}
    expected_runs, expected_evals = design.plan.run_names, [e.name for e in design.plan.evals]
    extra = [n for n in finished if n not in expected_runs]
    extra += [n for n in results.evals if n not in expected_evals]
    return Inventory(
        found_runs=finished,
        found_evals=list(results.evals),
        missing_runs=[n for n in expected_runs if n not in finished],
        missing_evals=[n for n in expected_evals if n not in results.evals],
        in_progress=progress,
        extra=extra if expected_runs or design.plan.zeroshot_models else [],
        data_report=results.data_source,
        bench=[b.source for b in results.bench.values()],
    )


def model_params(results: Results) -> dict[str, int]:
    """Base-model parameters per model: an eval's `params_total`, else a run's, else the registry's."""
    out = dict(results.registry_params)
    out |= {r.metrics.model: r.metrics.params_total for r in results.runs.values() if r.metrics}
    evals = [e.metrics for e in results.evals.values() if e.metrics.params_total]
    return out | {m.model: m.params_total for m in evals}


def any_full(frame: pd.DataFrame) -> bool:
    """Whether a row of an eval or run frame is of a full fine-tuning run (method full)."""
    return "full" in set(frame.get("method", []))


def train_method(m: TrainMetrics) -> str:
    """lora | full, as train_metrics.json says (files from before `method` existed: lora)."""
    return str(getattr(m, "method", None) or "lora")


def _eval_row(e: EvalResult, results: Results, design: Design, params: dict[str, int]) -> dict:
    m = e.metrics
    role = design.role_of(m.run)
    rep = design.plan.replicated(m.run)  # a seed replicate's evaluation: kind "seed"
    kind = Eval(e.name, m.run or m.model, m.run, m.model, role, m.split, m.mode, rep).kind
    run = results.runs.get(m.run) if m.run else None
    n_params = params.get(m.model)  # one count per model (see model_params)
    # A LoRA run ships the base plus its adapter; a full fine-tuning run (method full) its own
    # weights, of the base's size: its saved delta replaces the base, it is not added to it.
    method = train_method(run.metrics) if run and run.metrics else None
    adapter = run.metrics.adapter_mb if run and run.metrics and method != "full" else 0.0
    lo, hi = wilson(m.overall.json_exact, m.n)
    row = {"name": e.name, "label": eval_label(m.model, role, m.run, m.mode, m.split)}
    row |= {k: getattr(m, k) for k in ("model", "run", "mode", "split", "prompt_format")}
    disk_mb = n_params * BF16_BYTES / 1e6 + adapter if n_params else math.nan
    row |= {"role": role, "kind": kind, "params_total": n_params, "disk_mb": disk_mb}
    row |= {"method": method}  # None: zero-shot
    row |= m.overall.model_dump(include={"n", "tier", *METRICS})
    return row | {"json_exact_lo": lo, "json_exact_hi": hi, "source": e.source}


def eval_frame(results: Results, design: Design) -> pd.DataFrame:
    """One row per evaluation, ordered by model size, then zero-shot before fine-tuned."""
    params = model_params(results)
    rows = [_eval_row(e, results, design, params) for e in results.evals.values()]
    return _sorted(
        rows,
        lambda r: (
            r.params_total if pd.notna(r.params_total) else math.inf,
            r.model,
            _order(r.split, SPLIT_ORDER),
            _order(r.kind, KIND_ORDER),
            _order(r.role, ROLE_ORDER),  # the paper's recipe before ours on the same model
            str(r.run),
            _order(r.mode, MODES),
        ),
        ["name", "label", "model", "run", "role", "kind", "mode", "split", "source"],
    )


def _breakdown(results: Results, evals: pd.DataFrame, attr: str, key: str) -> pd.DataFrame:
    # key last: by_tier rows carry tier=None from Scores, the dict key is the tier
    rows = [
        {"name": name, "label": label, **s.model_dump(), key: k}
        for name, label in zip(evals["name"], evals["label"], strict=True)
        for k, s in getattr(results.evals[name].metrics, attr).items()
    ]
    return pd.DataFrame(rows) if rows else pd.DataFrame(columns=["name", "label", key, "n"])


def error_frame(results: Results, evals: pd.DataFrame) -> pd.DataFrame:
    """Long table: eval, category, count, share of all examples, share of the errors."""
    rows = [
        (name, label, cat, count)
        for name, label in zip(evals["name"], evals["label"], strict=True)
        for cat, count in results.evals[name].metrics.errors.items()
    ]
    err = pd.DataFrame(rows, columns=["name", "label", "category", "count"])
    is_error = err["category"] != "correct"
    total = err.groupby("name")["count"].transform("sum")
    wrong = err["count"].where(is_error, 0).groupby(err["name"]).transform("sum")
    # 0 / 0 is NaN in pandas: no share for an eval without examples, or without errors
    return err.assign(
        share=err["count"] / total, share_of_errors=(err["count"] / wrong).where(is_error)
    )


def error_tier_frame(results: Results, name: str | None) -> pd.DataFrame:
    """Error category x tier counts for one eval, from its predictions.jsonl (empty if absent)."""
    e = results.evals.get(name) if name else None
    preds = e.predictions if e else None
    if preds is None or preds.empty or not {"complexity", "error"} <= set(preds.columns):
        return pd.DataFrame()
    return pd.crosstab(preds["error"].fillna("correct"), preds["complexity"])


def outcome_frame(results: Results) -> pd.DataFrame:
    """Long table of per-example JSONExact (name, id, schema_id, json_exact) from every
    predictions.jsonl: the paired tests and clustered bootstraps of maaza.claims."""
    cols = ["id", "schema_id", "json_exact"]
    parts = [
        e.predictions[cols].assign(name=e.name)
        for e in results.evals.values()
        if e.predictions is not None and set(cols) <= set(e.predictions.columns)
    ]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["name", *cols])


def find_eval(
    evals: pd.DataFrame, run: str | None, mode: str, split: str = "test", model: str | None = None
) -> pd.Series | None:
    """The eval row of a fine-tuned run (run given) or a zero-shot model, or None."""
    hit = evals[(evals["mode"] == mode) & (evals["split"] == split)]
    return first_row(
        hit[hit["run"] == run] if run else hit[hit["run"].isna() & (hit["model"] == model)]
    )


# train_metrics.json's scalar fields, and extra keys TrainMetrics does not declare (it allows
# extras; a run without them gets NaN): the base's resolved dtype, and the counts the compute
# ratio uses
_RUN_FIELDS = set(TrainMetrics.model_fields) - {"lora", "hardware"}
_RUN_FIELDS |= {"base_dtype", "real_tokens", "flops_per_token"}


def run_frame(results: Results, design: Design) -> pd.DataFrame:
    """One row per finished training run, ordered by model size then role."""
    factor = {a.run: a.factor for a in design.ablations}
    rows = []
    for r in (r for r in results.runs.values() if r.metrics is not None):
        m = r.metrics
        row = {"run": r.name, "model": m.model, "role": design.role_of(r.name)}
        row |= {"factor": factor.get(r.name), "r": m.lora.r, "alpha": m.lora.alpha}
        row |= {"method": train_method(m)}
        hardware = {k: m.hardware.get(k) for k in ("cpu", "cores", "torch")}
        rows.append(row | m.model_dump(include=_RUN_FIELDS) | hardware | {"source": r.source})
    return _sorted(
        rows,
        lambda r: (r.params_total, _order(r.role, ROLE_ORDER), r.run),
        ["run", "model", "role", "factor", "source"],
    )


_ABLATION_EVAL = ("json_exact", "field_f1", "json_exact_lo", "json_exact_hi")
_ABLATION_RUN = ("wall_time_s", "params_trainable", "n_train_examples", "final_loss")


def ablation_frame(design: Design, runs: pd.DataFrame, evals: pd.DataFrame) -> pd.DataFrame:
    """Each ablation point (the main run is every factor's reference point): constrained test
    JSONExact and training time, NaN where missing."""
    points = [(a.factor, a.value, a.run) for a in design.ablations]
    if design.main_run:
        points += [(f, design.main_values[f], design.main_run) for f in ("rank", "data", "loss")]
    rows = []
    for factor, value, run in points:
        ev, tr = find_eval(evals, run, "constrained"), first_row(runs[runs["run"] == run])
        row = {"factor": factor, "value": value, "run": run, "is_main": run == design.main_run}
        rows.append(
            row | pick(ev, _ABLATION_EVAL) | {"eval": cell(ev, "name")} | pick(tr, _ABLATION_RUN)
        )
    # Within a factor values share a type (ranks, fractions, or loss names with the main run first).
    rows.sort(
        key=lambda r: (
            _order(r["factor"], FACTORS),
            r["value"] if r["factor"] in ("rank", "data") else (not r["is_main"], str(r["value"])),
        )
    )
    columns = ["factor", "value", "run", "is_main", *_ABLATION_EVAL, "eval", *_ABLATION_RUN]
    return pd.DataFrame(rows, columns=columns)  # the columns even without rows


def _tokens_seen(loss: pd.DataFrame) -> pd.Series:
    """Real tokens seen after each step: each step's tokens/s times its seconds, summed."""
    if not {"tokens_per_s", "elapsed_s"} <= set(loss.columns):
        return pd.Series(math.nan, index=loss.index)
    seconds = loss["elapsed_s"].diff().fillna(loss["elapsed_s"])
    return (loss["tokens_per_s"] * seconds).cumsum()


def loss_frame(results: Results, design: Design) -> pd.DataFrame:
    """Every loss.csv (finished or still running), long, with run, role, loss type and tokens."""
    role = {name: design.role_of(name) for name in results.runs}
    parts, runs = [], results.runs.values()
    for r in sorted(runs, key=lambda r: (_order(role[r.name], ROLE_ORDER), r.name)):
        if r.loss is not None and not r.loss.empty:
            extra = {"run": r.name, "role": role[r.name], "finished": r.metrics is not None}
            extra["loss_type"] = design.loss_of.get(r.name, "response")
            parts.append(r.loss.assign(**extra, tokens=_tokens_seen(r.loss)))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


SEARCH_EVAL = ("json_exact", "json_exact_lo", "json_exact_hi", "n")


def search_frame(design: Design, runs: pd.DataFrame, evals: pd.DataFrame) -> pd.DataFrame:
    """Per search trial: val and train-sample JSONExact (constrained), minutes of training and
    seconds per optimizer step (its wall time over its steps); no test column: it is not looked at
    while choosing."""
    rows = []
    for trial in design.trial_runs:
        val, fit = (find_eval(evals, trial, "constrained", s) for s in (VAL_SPLIT, FIT_SPLIT))
        tr = first_row(runs[runs["run"] == trial])
        row = {"trial": trial, "model": design.run_model(trial), **pick(val, SEARCH_EVAL)}
        row["fit_exact"] = pick(fit, ["json_exact"])["json_exact"]
        time = pick(tr, ["wall_time_s", "steps"])
        row["train_minutes"] = time["wall_time_s"] / 60
        row["step_s"] = time["wall_time_s"] / time["steps"] if time["steps"] else math.nan
        rows.append(row | {"sources": [x["source"] for x in (val, fit, tr) if x is not None]})
    columns = ["trial", "model", *SEARCH_EVAL, "fit_exact", "train_minutes", "step_s", "sources"]
    return pd.DataFrame(rows, columns=columns)


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
    search: pd.DataFrame  # one row per search trial (search_frame)
    losses: pd.DataFrame
    outcomes: pd.DataFrame  # per-example JSONExact of every evaluation (outcome_frame)
    data: DataReport | None
    data_source: str | None
    model_params: dict[str, int] = field(default_factory=dict)  # model -> base parameter count
    bench: dict[str, BenchResult] = field(default_factory=dict)  # file stem -> benchmark result
    # the external dataset's runs and evaluations (params.yaml `external:`), None when unset
    external: Frames | None = None

    def find_eval(self, run: str | None, mode: str, split: str = "test", model: str | None = None):
        return find_eval(self.evals, run, mode, split, model)

    def run_row(self, run: str | None) -> pd.Series | None:
        return first_row(self.runs[self.runs["run"] == run])

    def headline(self, split: str | None = None) -> pd.DataFrame:
        """Zero-shot and fine-tuned evals (not ablations, not training samples), of one split."""
        e = self.evals
        return e[e["kind"].isin(HEADLINE_KINDS) & ((e["split"] == split) if split else True)]

    def headline_rows(self) -> pd.DataFrame:
        """Found headline evals plus the plan's headline evals that are missing, test split first."""
        found = self.headline()
        keys = ("name", "model", "run", "mode", "split", "role", "kind")
        absent = [
            {k: getattr(e, k) for k in keys}
            | {"label": eval_label(e.model, e.role, e.run, e.mode, e.split)}
            for e in self.design.plan.evals
            if e.kind in HEADLINE_KINDS and e.name not in set(found["name"])
        ]
        rows = pd.concat([found, pd.DataFrame(absent)], ignore_index=True) if absent else found
        order = rows.assign(_test=rows["split"] != "test").sort_values("_test", kind="stable")
        return order.drop(columns="_test").reset_index(drop=True)

    def main_eval_name(self) -> str | None:
        return cell(self.find_eval(self.design.main_run, "constrained"), "name")


def build_frames(results: Results, design: Design) -> Frames:
    evals = eval_frame(results, design)
    runs = run_frame(results, design)
    main = find_eval(evals, design.main_run, "constrained")
    return Frames(
        design=design,
        inventory=inventory(results, design),
        evals=evals,
        tiers=_breakdown(results, evals, "by_tier", "tier"),
        schemas=_breakdown(results, evals, "by_schema", "schema"),
        errors=error_frame(results, evals),
        error_tiers=error_tier_frame(results, cell(main, "name")),
        runs=runs,
        ablations=ablation_frame(design, runs, evals),
        search=search_frame(design, runs, evals),
        losses=loss_frame(results, design),
        outcomes=outcome_frame(results),
        data=results.data,
        data_source=results.data_source,
        model_params=model_params(results),
        bench=results.bench,
    )
