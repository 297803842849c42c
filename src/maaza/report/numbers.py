"""paper/generated/numbers.tex: one `\\newcommand` per number the paper's text quotes, and only
those (tests/test_report_structure.py fails on a macro that nothing in paper/ or README.md uses).

    tex = render(frames, reference)      # frames from maaza.report.frames.build_frames

The text refers to roles, not run names: `Main` is the paper-recipe run (params.yaml's role
paper_recipe), `Ours` our recipe's run (role ours), `Scale` the larger base model's (role scale);
`Ft`/`Zs` fine-tuned/zero-shot, constrained decoding unless `Free`; `Holdout` the held-out-schema
split; `Fit` a sample of the run's own training split. So `\\MainFtExact` is the main run's JSONExact
with constrained decoding on the test split. `Ours` numbers are all fine-tuned and its zero-shot
baseline is the main run's, so they drop `Ft`: `\\OursExact`, `\\OursFreeExact`; `\\OursLearningRate`
etc. are our recipe's settings (params.yaml). `Paper...` macros are numbers reported by the
original paper (paper_reference.yaml, see paper_numbers.py); `Bench...` macros the benchmarks'
results (results/bench/*.json). A result that does not exist yet expands to `\\notrun` ("(not
run)"), never to a guess. Each line ends with a comment naming the file and key it comes from.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from maaza.plan import FIT_SPLIT
from maaza.report.fmt import (
    NOT_RUN,
    fmt_ci,
    fmt_duration,
    fmt_gap,
    fmt_int,
    fmt_metric,
    fmt_num,
    fmt_params,
    fmt_pct,
    fmt_points,
    fmt_ratio,
    fmt_seconds,
    fmt_sig,
    fmt_signed_pct,
    fmt_times,
    missing,
    tex_escape,
    tt,
    tt_or_not_run,
)  # fmt: skip
from maaza.report.frames import Frames
from maaza.report.paper_numbers import Number, comparison_numbers, reference_numbers


def _get(row: pd.Series | None, key: str) -> Any:
    if row is None or key not in row.index:
        return None
    value = row[key]
    return None if missing(value) else value


# ----------------------------------------------------------------------------- what is quoted
@dataclass(frozen=True)
class Quoted:
    """What the paper quotes of one role: macro name parts, in numbers.tex order."""

    run: tuple[str, ...]  # Run, Model, Params
    evals: dict[str, tuple[str, ...]]  # eval slot -> registry metrics, `n`, `ci` (of JSONExact)
    derived: tuple[str, ...]  # DERIVED keys: gains and fit readings across the role's evals
    train: tuple[str, ...]  # TRAIN_METRICS keys
    errors: dict[str, tuple[str, ...]] = field(default_factory=dict)  # eval slot -> ERRORS keys


ONLY_EXACT = ("json_exact",)
QUOTED = {
    "Main": Quoted(
        run=("Model", "Params"),
        evals={
            "Ft": (
                "json_exact",
                "field_f1",
                "leaf_f1",
                "compliance",
                "latency_mean_s",
                "latency_p95_s",
                "tokens_per_s",
                "n",
                "ci",
            ),
            "FtFree": ("json_exact", "compliance"),
            "Holdout": ("json_exact", "field_f1", "n", "ci"),
            "Fit": ("json_exact", "ci"),
            "Zs": ONLY_EXACT,
            "ZsFree": ONLY_EXACT,
        },  # fmt: skip
        derived=(
            "Gain",
            "GainPoints",
            "GainPointsFree",
            "DecodeGain",
            "ZsDecodeGain",
            "HoldoutGap",
            "FitVerdict",
            "FitShort",
        ),  # fmt: skip
        train=(
            "WallTime",
            "TokensPerS",
            "Roof",
            "Trainable",
            "TrainablePct",
            "AdapterMB",
            "Epochs",
            "Steps",
            "LoraR",
            "NTrain",
            "NTruncated",
            "Cores",
            "CPU",
        ),  # fmt: skip
        errors={
            "Ft": ("Errors", "ErrTop", "ErrTopShare", "ErrInvalid"),
            "FtFree": ("Errors", "ErrTop", "ErrTopShare", "ErrInvalid"),
            "ZsFree": ("Errors", "ErrTop", "ErrTopShare"),
        },
    ),
    "Scale": Quoted(
        run=("Model", "Params"),
        evals={
            "Ft": ("json_exact", "field_f1", "ci"),
            "FtFree": ONLY_EXACT,
            "Holdout": ONLY_EXACT,
            "Fit": ONLY_EXACT,
            "Zs": ONLY_EXACT,
            "ZsFree": ONLY_EXACT,
        },  # fmt: skip
        derived=("FitVerdict", "FitShort"),
        train=(),
    ),
    "Ours": Quoted(
        run=("Run",),
        evals={
            "Ft": ("json_exact", "field_f1", "leaf_f1", "compliance", "n", "ci"),
            "FtFree": ("json_exact", "compliance"),
            "Holdout": ("json_exact", "ci"),
            "Fit": ("json_exact", "n", "ci"),
        },
        derived=("Gain", "FitGap", "FitVerdict", "FitReading"),
        train=("WallTime", "TokensPerS", "Steps", "NTrain"),
        errors={"Ft": ("Errors", "ErrTop", "ErrTopShare"), "FtFree": ("Errors",)},
    ),
}
# Eval slot -> its part of the macro name. Ours is always fine-tuned and shares the main run's
# base model, whose zero-shot evals are already MainZs*: no `Ft`.
SLOTS = {s: s for s in ("Ft", "FtFree", "Holdout", "Fit", "Zs", "ZsFree")}
OURS_SLOTS = {"Ft": "", "FtFree": "Free", "Holdout": "Holdout", "Fit": "Fit"}
# Registry metric (maaza.metrics.METRICS) -> its part of a macro name (TeX names have no digits).
METRIC_MACRO = {
    "json_exact": "Exact", "field_f1": "FieldFOne", "leaf_f1": "LeafFOne",
    "compliance": "Compliance", "latency_mean_s": "Latency", "latency_p95_s": "LatencyPNinetyFive",
    "tokens_per_s": "TokensPerS",
}  # fmt: skip


def slot_names(role: str) -> dict[str, str]:
    return OURS_SLOTS if role == "Ours" else SLOTS


def roles(frames: Frames) -> dict[str, str | None]:
    d = frames.design
    return {
        "Main": d.main_run,
        "Scale": d.scale_runs[0] if d.scale_runs else None,
        "Ours": d.ours_runs[0] if d.ours_runs else None,
    }


def role_evals(frames: Frames, run: str | None) -> dict[str, pd.Series | None]:
    if run is None:
        return dict.fromkeys(SLOTS)
    model = frames.design.run_model(run)
    return {
        "Ft": frames.find_eval(run, "constrained"),
        "FtFree": frames.find_eval(run, "free"),
        "Holdout": frames.find_eval(run, "constrained", "holdout"),
        "Fit": frames.find_eval(run, "constrained", FIT_SPLIT),  # a sample of its training split
        "Zs": frames.find_eval(None, "constrained", model=model),
        "ZsFree": frames.find_eval(None, "free", model=model),
    }


# ----------------------------------------------------------------------------- status + data
def completeness(frames: Frames) -> str:
    """One sentence for the paper: all results present, or which are missing or still training."""
    inv, design = frames.inventory, frames.design
    n_runs, n_evals = len(design.expected_runs()), len(design.expected_evals())
    defined = (
        f"{n_runs + n_evals} results the pipeline defines "
        f"({n_runs} training runs and {n_evals} evaluations)"
    )
    if not inv.missing and not inv.in_progress:
        return f"All {defined} were available when this document was built."
    missing_list = ", ".join(tt(m) for m in inv.missing) or "none"
    running = ", ".join(f"{tt(r)} ({s} steps)" for r, s in inv.in_progress.items()) or "none"
    return (
        f"{len(inv.missing)} of the {defined} were not available when this document was built: "
        f"{missing_list}. Runs still training: {running}. Every number that depends on them reads "
        r"\notrun{} rather than a guess."
    )


def status_numbers(frames: Frames) -> list[Number]:
    src = "derived: files found under runs/ and results/eval/ vs params.yaml"
    return [Number("ReportCompleteness", completeness(frames), src)]


def data_numbers(frames: Frames) -> list[Number]:
    """Split sizes and schema counts, read from the evaluations themselves (what was scored)."""
    main = frames.design.main_run
    test, hold = (frames.find_eval(main, "constrained", split) if main else None
                  for split in ("test", "holdout"))  # fmt: skip
    test = test if test is not None else _any_eval(frames, "test")
    hold = hold if hold is not None else _any_eval(frames, "holdout")
    n_schemas = NOT_RUN
    if hold is not None and not frames.schemas.empty:
        n_schemas = str(int((frames.schemas["name"] == hold["name"]).sum()))
    out = [
        Number("NTest", fmt_int(_get(test, "n")), f"{_get(test, 'source')}: n"),
        Number("NHoldout", fmt_int(_get(hold, "n")), f"{_get(hold, 'source')}: n"),
        Number("NSchemasHoldout", n_schemas, f"{_get(hold, 'source')}: by_schema"),
    ]
    tiers = frames.tiers
    for tier in ("simple", "medium", "complex"):
        hit = tiers[(tiers["name"] == _get(test, "name")) & (tiers["tier"] == tier)] if not tiers.empty else tiers  # fmt: skip
        n = hit["n"].iloc[0] if len(hit) else None
        src = f"{_get(test, 'source')}: by_tier.{tier}.n"
        out.append(Number(f"NTest{tier.title()}", fmt_int(n), src))
    return out


def _any_eval(frames: Frames, split: str) -> pd.Series | None:
    e = frames.evals
    hit = e[e["split"] == split] if not e.empty else e
    return hit.iloc[0] if len(hit) else None


def dataset_numbers(frames: Frames) -> list[Number]:
    """What the data stage generated and checked (data/report.json)."""
    d, src = frames.data, frames.data_source or "data/report.json (missing)"
    hold = d.counts.get("holdout") if d else None
    styles = sorted({st for c in (d.counts.values() if d else []) for st in c.by_style})
    checks = sorted({k for sc in (d.checks.values() if d else []) for k in sc.checks})
    rates = [cc.pass_rate for sc in (d.checks.values() if d else []) for cc in sc.checks.values()]
    tok = (d.tokens.get("train") or {}).get("all", {}) if d else {}
    seq, target = tok.get("sequence", {}), tok.get("target", {})
    seq_src = f"{src}: tokens.train.all.sequence"

    def if_data(text: Callable[[], str]) -> str:
        return text() if d else NOT_RUN

    return [
        Number("DataNHoldout", fmt_int(hold.n if hold else None), f"{src}: counts.holdout.n"),
        Number("DataNSchemas", if_data(lambda: str(len(d.schemas))), f"{src}: schemas"),
        Number("DataNStyles", if_data(lambda: str(len(styles))), f"{src}: counts.*.by_style"),
        Number("DataStyles", if_data(lambda: ", ".join(map(tex_escape, styles))), f"{src}: counts.*.by_style"),
        Number("DataNChecks", if_data(lambda: str(len(checks))), f"{src}: checks"),
        Number("DataCheckNames", if_data(lambda: ", ".join(map(tt, checks))), f"{src}: checks"),
        Number("DataMinPassRate", fmt_pct(min(rates)) if rates else NOT_RUN,
               f"{src}: checks.*.checks.*.pass_rate (min)"),
        Number("DataNFailed", if_data(lambda: fmt_int(sum(sc.n_failed for sc in d.checks.values()))),
               f"{src}: checks.*.n_failed"),
        Number("DataLeakage", fmt_int(sum(d.leakage.values())) if d and d.leakage else NOT_RUN,
               f"{src}: leakage"),
        Number("DataTokenizer", tt(d.tokens["tokenizer"]) if d and d.tokens.get("tokenizer") else NOT_RUN,
               f"{src}: tokens.tokenizer"),
        Number("DataSeqMean", fmt_num(seq.get("mean"), 0), f"{seq_src}.mean"),
        Number("DataSeqPNinetyFive", fmt_int(seq.get("p95")), f"{seq_src}.p95"),
        Number("DataSeqMax", fmt_int(seq.get("max")), f"{seq_src}.max"),
        Number("DataTargetMean", fmt_num(target.get("mean"), 0), f"{src}: tokens.train.all.target.mean"),
    ]  # fmt: skip


OURS_SETTINGS = ("ExtraTrain", "ExtraDropRate", "ExtraLocales", "LearningRate", "Epochs",
                 "MicroBatch", "GradAccum", "Batch")  # fmt: skip


def recipe_numbers(frames: Frames) -> list[Number]:
    """Settings quoted in the method section, from params.yaml (so the text cannot drift)."""
    out = [
        Number(f"Recipe{name}", _fmt_setting(name, value), f"params.yaml: {key}")
        for name, (value, key) in frames.design.recipe.items()
    ]
    # Always defined (the text quotes them), "not run" when params.yaml has no run of our recipe.
    ours = frames.design.ours_recipe
    for name in dict.fromkeys([*OURS_SETTINGS, *ours]):
        value, key = ours.get(name, (None, "train.runs (no run of our recipe)"))
        out.append(Number(f"Ours{name}", _fmt_setting(name, value), f"params.yaml: {key}"))
    return out


def _fmt_setting(name: str, value: Any) -> str:
    if missing(value):
        return NOT_RUN
    if isinstance(value, str):
        return tt(value)
    if name == "TestFraction":
        return fmt_pct(value, 0)
    if name == "ExtraTrain":  # an example count, printed like NTrain (thousands separated)
        return fmt_int(value)
    if isinstance(value, float) and 0 < abs(value) < 1e-2:
        mantissa, exp = f"{value:.0e}".split("e")
        return f"${mantissa}\\times10^{{{int(exp)}}}$"
    return f"{value:g}"


# ----------------------------------------------------------------------------- per role
def eval_numbers(frames: Frames) -> list[Number]:
    out = []
    for role, run in roles(frames).items():
        quoted, names, ev = QUOTED[role], slot_names(role), role_evals(frames, run)
        out += _run_numbers(frames, role, run, quoted.run)
        for slot, metrics in quoted.evals.items():
            row, prefix = ev[slot], f"{role}{names[slot]}"
            src = _get(row, "source") or "missing"
            out += [_eval_number(prefix, m, row, src) for m in metrics]
        out += [Number(f"{role}{k}", DERIVED[k](ev), DERIVED_SOURCE) for k in quoted.derived]
    return out


def _run_numbers(
    frames: Frames, role: str, run: str | None, parts: tuple[str, ...]
) -> list[Number]:
    model = frames.design.run_model(run)
    n_params = frames.model_params.get(model) if model else None
    # A parameter count is a property of the model, not a result: unknown, not "not run".
    made = {
        "Run": (tt(run) if run else NOT_RUN, "params.yaml: train.runs"),
        "Model": (tt(model) if model else NOT_RUN, f"params.yaml: train.runs.{run}.model"),
        "Params": (r"\textit{unknown}" if n_params is None else fmt_params(n_params),
                   "metrics.json or train_metrics.json of the model: params_total"),
    }  # fmt: skip
    return [Number(f"{role}{p}", *made[p]) for p in parts]


def _eval_number(prefix: str, metric: str, row: pd.Series | None, src: str) -> Number:
    if metric == "ci":
        ci = NOT_RUN if _get(row, "json_exact_lo") is None else f"{fmt_ci(row)}\\%"
        return Number(f"{prefix}ExactCI", ci, f"derived: Wilson 95% interval of {src}")
    if metric == "n":
        return Number(f"{prefix}N", fmt_int(_get(row, "n")), f"{src}: n")
    return Number(
        f"{prefix}{METRIC_MACRO[metric]}", fmt_metric(metric, _get(row, metric)), f"{src}: {metric}"
    )


def _side(ev: dict[str, pd.Series | None]) -> str | None:
    """Where the test JSONExact falls against the training sample's 95% interval."""
    test, fit = ev["Ft"], ev["Fit"]
    if test is None or fit is None:
        return None
    if test["json_exact"] < fit["json_exact_lo"]:
        return "below"
    return "above" if test["json_exact"] > fit["json_exact_hi"] else "inside"


# What the test score's place against the training sample's interval means, as a clause the text
# can use, so that the prose follows the numbers when they change.
FIT_READING = {
    "inside": "it does no better on examples it was trained on than on unseen ones of the same "
    "schemas, so it has not fit its training data: more optimisation (epochs, rank, a larger base "
    "model) should come before more data",
    "below": "it does better on examples it was trained on than on unseen ones, so it has fit "
    "its training data beyond what carries over: more varied data should help more than more "
    "optimisation",
    "above": "it does better on unseen examples than on ones it was trained on, which samples this "
    "small can show by chance; it has not fit its training data",
}
# The same verdict in a few words, for a run mentioned in passing.
FIT_SHORT = {
    "inside": "it has not yet fit its training data",
    "below": "it has fit its training data beyond what carries over to unseen examples",
    "above": "no sign of fitting its training data",
}


def _in_words(words: dict[str, str] | None) -> Callable[[dict], str]:
    """'inside'/'outside' (words None) or a FIT_* clause, from the fit side."""

    def text(ev: dict) -> str:
        side = _side(ev)
        if side is None:
            return NOT_RUN
        return ("inside" if side == "inside" else "outside") if words is None else words[side]

    return text  # fmt: skip


def _exact(ev: dict[str, pd.Series | None], *slots: str) -> list[Any]:
    return [_get(ev[s], "json_exact") for s in slots]


# Numbers derived from a role's evals (JSONExact ratios, differences, readings), by macro suffix.
DERIVED: dict[str, Callable[[dict[str, pd.Series | None]], str]] = {
    "Gain": lambda ev: fmt_ratio(*_exact(ev, "Ft", "Zs")),
    "GainPoints": lambda ev: fmt_points(*_exact(ev, "Ft", "Zs")),
    "GainPointsFree": lambda ev: fmt_points(*_exact(ev, "FtFree", "ZsFree")),
    "DecodeGain": lambda ev: fmt_points(*_exact(ev, "Ft", "FtFree")),
    "ZsDecodeGain": lambda ev: fmt_points(*_exact(ev, "Zs", "ZsFree")),
    "HoldoutGap": lambda ev: fmt_gap(*_exact(ev, "Holdout", "Ft")),
    "FitGap": lambda ev: fmt_gap(*_exact(ev, "Ft", "Fit")),  # test vs training sample
    # inside: the model scores no better on examples it was trained on than on unseen ones
    "FitVerdict": _in_words(None),
    "FitReading": _in_words(FIT_READING),
    "FitShort": _in_words(FIT_SHORT),
}
DERIVED_SOURCE = "derived: JSONExact ratios/differences of the evals above"

TRAIN_METRICS: dict[str, tuple[str, Callable[[Any], str]]] = {
    "WallTime": ("wall_time_s", fmt_duration),
    "TokensPerS": ("real_tokens_per_s", lambda x: fmt_num(x, 0)),
    "Roof": ("roof_fraction", lambda x: fmt_pct(x, 0)),
    "Trainable": ("params_trainable", fmt_params),
    "TrainablePct": ("trainable_pct", lambda x: NOT_RUN if missing(x) else f"{x:.2f}\\%"),
    "AdapterMB": ("adapter_mb", lambda x: fmt_num(x, 1)),
    "Epochs": ("epochs", lambda x: fmt_num(x, 0)),
    "Steps": ("steps", fmt_int),
    "LoraR": ("r", fmt_int),
    "NTrain": ("n_train_examples", fmt_int),
    "NTruncated": ("n_truncated", fmt_int),
    "Cores": ("cores", fmt_int),
    "CPU": ("cpu", lambda x: NOT_RUN if missing(x) else tex_escape(x)),
}


def train_numbers(frames: Frames) -> list[Number]:
    out = []
    for role, run in roles(frames).items():
        row = frames.run_row(run)
        src = _get(row, "source") or "missing"
        for suffix in QUOTED[role].train:
            key, fmt = TRAIN_METRICS[suffix]
            out.append(Number(f"{role}Train{suffix}", fmt(_get(row, key)), f"{src}: {key}"))
    return out


def ours_numbers(frames: Frames) -> list[Number]:
    """Our recipe against the paper's recipe on the same base model (the main run)."""
    r = roles(frames)
    ours, main = role_evals(frames, r["Ours"]), role_evals(frames, r["Main"])
    ex = {s: (_get(ours[s], "json_exact"), _get(main[s], "json_exact")) for s in OURS_SLOTS}
    src = "derived: JSONExact of our recipe's eval vs the main run's (same split and decoding)"
    run_ours, run_main = frames.run_row(r["Ours"]), frames.run_row(r["Main"])
    tsrc = "derived: train_metrics.json of our recipe's run / the main run's"
    return [
        Number("OursVsMain", fmt_points(*ex["Ft"]), f"{src}: OursExact - MainFtExact"),
        Number("OursVsMainFree", fmt_points(*ex["FtFree"]), f"{src}: OursFreeExact - MainFtFreeExact"),
        Number("OursVsMainHoldout", fmt_points(*ex["Holdout"]), f"{src}: OursHoldoutExact - MainHoldoutExact"),
        *(Number(f"OursTrain{name}Ratio", fmt_ratio(_get(run_ours, key), _get(run_main, key)), f"{tsrc}: {key}")
          for name, key in (("Time", "wall_time_s"), ("Steps", "steps"))),
    ]  # fmt: skip


def scale_numbers(frames: Frames) -> list[Number]:
    """The larger base model against the main run (same recipe) and against our recipe on the
    smaller model: is a recipe worth more than doubling the parameters?"""
    r = roles(frames)
    scale, main, ours = (_get(role_evals(frames, r[k])["Ft"], "json_exact") for k in ("Scale", "Main", "Ours"))  # fmt: skip
    params = [frames.model_params.get(frames.design.run_model(r[k])) for k in ("Scale", "Main")]
    src = "derived: JSONExact of the fine-tuned evals (test split, constrained)"
    return [
        Number("ScaleParamsRatio", fmt_ratio(*params), "derived: ScaleParams / MainParams"),
        Number("ScaleVsMainGap", fmt_gap(scale, main), f"{src}: ScaleFtExact vs MainFtExact"),
        Number("OursVsScaleGap", fmt_gap(ours, scale), f"{src}: OursExact vs ScaleFtExact"),
    ]


# ----------------------------------------------------------------------------- benchmarks
EVAL_BENCH, TRAIN_BENCH = "eval_throughput", "train_throughput"  # results/bench/<stem>.json
UNSEEN_BENCH = "extract_unseen"  # benchmarks/extract_unseen.py: hand-written schemas

# Macro -> (benchmark file stem, dotted key in it, format). Eval: the reference harness's loop
# (one example at a time, no early stop) vs ours, free and constrained. Train: the reference recipe
# (HF Trainer, padding to a fixed length, full-sequence loss) vs maaza.train, same examples/steps.
BENCH_NUMBERS: dict[str, tuple[str, str, Callable[[Any], str]]] = {
    "BenchEvalN": (EVAL_BENCH, "n", fmt_int),
    "BenchEvalModel": (EVAL_BENCH, "model", tt_or_not_run),
    "BenchEvalDtype": (EVAL_BENCH, "dtype", tt_or_not_run),
    "BenchEvalThreads": (EVAL_BENCH, "threads", fmt_int),
    "BenchEvalRefExPerS": (EVAL_BENCH, "reference.examples_per_s", fmt_sig),
    "BenchEvalFreeExPerS": (EVAL_BENCH, "free.examples_per_s", fmt_sig),
    "BenchEvalConstrainedExPerS": (EVAL_BENCH, "constrained.examples_per_s", fmt_sig),
    "BenchEvalSpeedup": (EVAL_BENCH, "speedup_free_vs_reference", fmt_times),
    "BenchConstrainedOverhead": (EVAL_BENCH, "constrained_overhead_wall", fmt_signed_pct),
    "BenchConstrainedOverheadPerToken": (
        EVAL_BENCH,
        "constrained_overhead_per_token",
        fmt_signed_pct,
    ),
    "BenchTrainModel": (TRAIN_BENCH, "model", tt_or_not_run),
    "BenchTrainN": (TRAIN_BENCH, "n_examples", fmt_int),
    "BenchTrainSteps": (TRAIN_BENCH, "steps", fmt_int),
    "BenchTrainThreads": (TRAIN_BENCH, "threads", fmt_int),
    "BenchTrainRefMaxLength": (TRAIN_BENCH, "reference_max_length", fmt_int),
    "BenchTrainOursDtype": (TRAIN_BENCH, "ours.base_dtype", tt_or_not_run),
    "BenchTrainSpeedup": (TRAIN_BENCH, "ratio", fmt_times),
    "BenchTrainSpeedupCPU": (TRAIN_BENCH, "ratio_cpu", fmt_times),
    "BenchTrainRefTokS": (TRAIN_BENCH, "reference.tokens_per_s", lambda x: fmt_num(x, 0)),
    "BenchTrainOursTokS": (TRAIN_BENCH, "ours.tokens_per_s", lambda x: fmt_num(x, 0)),
    "BenchTrainRefTruncated": (TRAIN_BENCH, "reference.n_truncated", fmt_int),
    "BenchTrainRefRoof": (TRAIN_BENCH, "reference.roof_fraction", fmt_pct),
    "BenchTrainOursRoof": (TRAIN_BENCH, "ours.roof_fraction", fmt_pct),
    "BenchUnseenRun": (UNSEEN_BENCH, "run", tt_or_not_run),
    "BenchUnseenModel": (UNSEEN_BENCH, "model", tt_or_not_run),
    "BenchUnseenN": (UNSEEN_BENCH, "n", fmt_int),
    "BenchUnseenValid": (UNSEEN_BENCH, "n_valid", fmt_int),
    "BenchUnseenExact": (UNSEEN_BENCH, "n_exact", fmt_int),
    "BenchUnseenLeavesRight": (UNSEEN_BENCH, "leaves_right", fmt_int),
    "BenchUnseenLeaves": (UNSEEN_BENCH, "leaves", fmt_int),
    "BenchUnseenLatency": (UNSEEN_BENCH, "mean_latency_s", lambda x: fmt_seconds(x, 1)),
}


def _dig(data: Any, key: str) -> Any:
    """data["a"]["b"] for key "a.b"; None when a part is absent (or the value is NaN)."""
    for part in key.split("."):
        data = data.get(part) if isinstance(data, dict) else None
    return None if missing(data) else data


def bench_numbers(frames: Frames) -> list[Number]:
    """The benchmarks' results; every macro exists, and reads not run without its file."""
    data = {stem: b.data for stem, b in frames.bench.items()}
    src = {
        stem: frames.bench[stem].source if stem in frames.bench else f"{stem}.json (missing)"
        for stem in (EVAL_BENCH, TRAIN_BENCH, UNSEEN_BENCH)
    }
    out = [
        Number(name, fmt(_dig(data.get(stem), key)), f"{src[stem]}: {key}")
        for name, (stem, key, fmt) in BENCH_NUMBERS.items()
    ]
    ev, tr = data.get(EVAL_BENCH), data.get(TRAIN_BENCH)
    ref_tokens, n = _dig(ev, "reference.tokens"), _dig(ev, "n")
    real, padded = _dig(tr, "reference.real_tokens"), _dig(tr, "reference.padded_tokens")
    return out + [
        Number("BenchEvalAdapter", _adapter_text(ev), f"{src[EVAL_BENCH]}: adapter"),
        # The reference never stops early, so this is its max_new_tokens as actually run.
        Number("BenchEvalRefNewTokens", fmt_int(ref_tokens / n) if ref_tokens is not None and n else NOT_RUN,
               f"derived: {src[EVAL_BENCH]}: reference.tokens / n"),
        Number("BenchEvalConstrainedSpeedup",
               fmt_ratio(_dig(ev, "reference.seconds"), _dig(ev, "constrained.seconds")),
               f"derived: {src[EVAL_BENCH]}: reference.seconds / constrained.seconds"),
        Number("BenchTrainRefPadding", fmt_pct(1 - real / padded) if real is not None and padded else NOT_RUN,
               f"derived: {src[TRAIN_BENCH]}: 1 - reference.real_tokens / reference.padded_tokens"),
    ]  # fmt: skip


def _adapter_text(ev: dict[str, Any] | None) -> str:
    """'with the adapter of run R' (adapter path runs/R/adapter) or 'without an adapter' (the base
    model, zero-shot), so the text can name what was timed."""
    if ev is None:
        return NOT_RUN
    if not ev.get("adapter"):
        return "without an adapter"
    path = Path(ev["adapter"])
    return (
        f"with the adapter of run {tt(path.parent.name if path.name == 'adapter' else path.name)}"
    )


# ----------------------------------------------------------------------------- ablations
ABLATION_SOURCE = "derived: ablation runs' train_metrics.json + ab-*/ft-* constrained metrics.json"


def ablation_numbers(frames: Frames) -> list[Number]:
    ab, src = frames.ablations, ABLATION_SOURCE
    rank, data = (ab[(ab["factor"] == f) & ab["json_exact"].notna()] if not ab.empty else ab
                  for f in ("rank", "data"))  # fmt: skip
    best = (
        rank.sort_values(["json_exact", "value"], ascending=[False, True]).iloc[0]
        if len(rank)
        else None
    )
    spread = (
        f"{100 * (rank['json_exact'].max() - rank['json_exact'].min()):.1f}\\,pp"
        if len(rank) > 1
        else NOT_RUN
    )
    done = ab[ab["json_exact"].notna()] if not ab.empty else ab
    half = ((done["json_exact_hi"] - done["json_exact_lo"]) / 2).max() if len(done) > 1 else None
    loss = ab[ab["factor"] == "loss"] if not ab.empty else ab
    full = loss[~loss["is_main"]].iloc[0] if len(loss[~loss["is_main"]]) else None
    resp = loss[loss["is_main"]].iloc[0] if len(loss[loss["is_main"]]) else None
    return [
        Number("AblRankCount", str(len(rank)), src),
        *_ends(rank, "Rank", fmt_int),
        Number("AblRankBestValue", fmt_int(_get(best, "value")), src),
        Number("AblRankBestExact", fmt_pct(_get(best, "json_exact")), src),
        Number("AblRankSpread", spread, src),
        *_ends(data, "Data", lambda v: fmt_pct(v, 0)),
        Number("AblCIHalfWidth", NOT_RUN if half is None else f"{100 * half:.1f}\\,pp", src),
        Number("AblFullLossExact", fmt_pct(_get(full, "json_exact")), src),
        Number("AblFullLossDelta", fmt_points(_get(full, "json_exact"), _get(resp, "json_exact")), src),
    ]  # fmt: skip


def _ends(pts: pd.DataFrame, name: str, fmt_value: Callable[[Any], str]) -> list[Number]:
    """The smallest and largest value of one ablated knob: JSONExact, Field F1, training time."""
    out = []
    for pos, i in (("Min", 0), ("Max", -1)):
        p = pts.sort_values("value").iloc[i] if len(pts) else None
        out += [
            Number(f"Abl{name}{pos}Value", fmt_value(_get(p, "value")), ABLATION_SOURCE),
            Number(f"Abl{name}{pos}Exact", fmt_pct(_get(p, "json_exact")), ABLATION_SOURCE),
            Number(f"Abl{name}{pos}FieldFOne", fmt_metric("field_f1", _get(p, "field_f1")), ABLATION_SOURCE),
            Number(f"Abl{name}{pos}Time", fmt_duration(_get(p, "wall_time_s")), ABLATION_SOURCE),
        ]  # fmt: skip
        if name == "Data" and pos == "Min":  # the smallest data fraction's example count
            out.append(
                Number("AblDataMinNTrain", fmt_int(_get(p, "n_train_examples")), ABLATION_SOURCE)
            )
    return out


# ----------------------------------------------------------------------------- errors
ERRORS: dict[str, Callable[[pd.DataFrame | None], str]] = {
    "Errors": lambda err: NOT_RUN if err is None else fmt_int(_wrong(err)["count"].sum()),
    "ErrTop": lambda err: NOT_RUN if (top := _top_error(err)) is None else top["category"].replace("_", " "),
    "ErrTopShare": lambda err: fmt_pct(_get(_top_error(err), "share_of_errors"), 0),
    "ErrInvalid": lambda err: NOT_RUN if err is None else fmt_int(err.loc[err["category"] == "invalid_json", "count"].sum()),
}  # fmt: skip
ERRORS_KEY = {"ErrInvalid": "errors.invalid_json"}


def _wrong(err: pd.DataFrame) -> pd.DataFrame:
    return err[err["category"] != "correct"]


def _top_error(err: pd.DataFrame | None) -> pd.Series | None:
    """The most frequent error category (ties: by name), None without errors."""
    if err is None or _wrong(err)["count"].sum() == 0:
        return None
    return _wrong(err).sort_values(["count", "category"], ascending=[False, True]).iloc[0]


def error_numbers(frames: Frames) -> list[Number]:
    out = []
    for role, run in roles(frames).items():
        names, ev = slot_names(role), role_evals(frames, run)
        for slot, keys in QUOTED[role].errors.items():
            name, src = _get(ev[slot], "name"), _get(ev[slot], "source") or "missing"
            err = (
                frames.errors[frames.errors["name"] == name]
                if name and not frames.errors.empty
                else None
            )
            out += [Number(f"{role}{names[slot]}{k}", ERRORS[k](err), f"{src}: {ERRORS_KEY.get(k, 'errors')}")
                    for k in keys]  # fmt: skip
    return out


# ----------------------------------------------------------------------------- render
def collect(frames: Frames, reference: dict[str, Any]) -> list[Number]:
    main, _, ours = roles(frames).values()
    numbers = [
        *status_numbers(frames),
        *data_numbers(frames),
        *dataset_numbers(frames),
        *recipe_numbers(frames),
        *eval_numbers(frames),
        *train_numbers(frames),
        *ours_numbers(frames),
        *scale_numbers(frames),
        *bench_numbers(frames),
        *ablation_numbers(frames),
        *error_numbers(frames),
        *reference_numbers(reference),
        *comparison_numbers(reference, *(_get(role_evals(frames, r)["Ft"], "json_exact") for r in (main, ours))),
    ]  # fmt: skip
    _check(numbers)
    return numbers


MACRO_NAME = re.compile(r"^[A-Za-z]+$")


def _check(numbers: Iterable[Number]) -> None:
    seen: set[str] = set()
    for n in numbers:
        if not MACRO_NAME.match(n.name):
            raise ValueError(f"macro name {n.name!r} is not letters-only TeX")
        if n.name in seen:
            raise ValueError(f"macro {n.name!r} generated twice")
        if "\n" in n.value:
            raise ValueError(f"macro {n.name!r}: value spans lines")
        seen.add(n.name)


def render(frames: Frames, reference: dict[str, Any]) -> str:
    lines = [
        "% Generated by maaza.report.numbers -- do not edit; rerun `dvc repro report`.",
        "% One macro per number quoted in the paper; the comment after each names its source.",
        r"\providecommand{\notrun}{\textit{not run}}",
    ]
    lines += [
        f"\\newcommand{{\\{n.name}}}{{{n.value}}}% {n.source}" for n in collect(frames, reference)
    ]
    return "\n".join(lines) + "\n"


LINE = re.compile(r"^\\newcommand\{\\([A-Za-z]+)\}\{(.*)\}% (.*)$")


def parse_numbers(tex: str) -> list[Number]:
    """Every macro of a rendered numbers.tex with its source comment (`maaza numbers`)."""
    return [Number(*m.groups()) for line in tex.splitlines() if (m := LINE.match(line))]


def parse(tex: str) -> dict[str, str]:
    """Macro name -> value of a rendered numbers.tex (used by tests and the notebook)."""
    return {n.name: n.value for n in parse_numbers(tex)}
