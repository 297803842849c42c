"""paper/generated/numbers.tex: one `\\newcommand` per number the paper's text quotes.

    tex = render(frames, reference)      # frames from maaza.report.build_frames

The text refers to roles, not run names: `Main` is params.yaml's first train run on the default
model (the paper's recipe), `Ours` the next train run on that same model (our recipe), `Scale` the
train run on another model (the larger model); `Ft`/`Zs` fine-tuned/zero-shot, constrained
decoding unless `Free`; `Holdout` the held-out-schema split; `Fit` a sample of the run's own
training split (dvc.yaml's eval_trainfit). So `\\MainFtExact` is the main run's
JSONExact with constrained decoding on the test split. `Ours` numbers are all fine-tuned and its
zero-shot baseline is the main run's, so they drop `Ft`: `\\OursExact`, `\\OursFreeExact`;
`\\OursLearningRate` etc. are our recipe's settings (params.yaml). `Paper...` macros are numbers
reported by the original paper (paper_reference.yaml); `Bench...` macros are the throughput
benchmarks' results (results/bench/*.json, written by benchmarks/*_throughput.py). A result that does not exist yet expands to
`\\notrun` ("(not run)"), never to a guess. Each line ends with a comment naming the file and key
the number comes from.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from maaza.report import (
    FIT_SPLIT,
    NOT_RUN,
    Frames,
    fmt_ci,
    fmt_duration,
    fmt_f1,
    fmt_int,
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
)

MACRO_NAME = re.compile(r"^[A-Za-z]+$")


@dataclass(frozen=True)
class Number:
    name: str  # TeX macro name: letters only
    value: str  # TeX text
    source: str  # "file: key" or "derived: how"


def _get(row: pd.Series | None, key: str) -> Any:
    if row is None or key not in row.index:
        return None
    value = row[key]
    return None if missing(value) else value


# ----------------------------------------------------------------------------- status + data
def status_numbers(frames: Frames) -> list[Number]:
    inv = frames.inventory
    n_runs, n_evals = _n_expected(frames)
    missing_list, running = _missing_and_running(frames)
    src = "derived: files found under runs/ and results/eval/ vs params.yaml"
    return [
        Number("ReportRunsFound", str(len(inv.found_runs)), src),
        Number("ReportEvalsFound", str(len(inv.found_evals)), src),
        Number("ReportRunsExpected", str(n_runs), "params.yaml"),
        Number("ReportEvalsExpected", str(n_evals), "params.yaml"),
        Number("ReportNMissing", str(len(inv.missing)), src),
        Number("ReportNExpected", str(n_runs + n_evals), "params.yaml"),
        Number("ReportMissingList", missing_list, src),
        Number("ReportRunning", running, "derived: runs/*/loss.csv without train_metrics.json"),
        Number("ReportCompleteness", completeness(frames), src),
    ]


def _n_expected(frames: Frames) -> tuple[int, int]:
    """Training runs and evaluations params.yaml defines."""
    return len(frames.design.expected_runs()), len(frames.design.expected_evals())


def _missing_and_running(frames: Frames) -> tuple[str, str]:
    inv = frames.inventory
    missing = ", ".join(tt(m) for m in inv.missing) or "none"
    running = ", ".join(f"{tt(r)} ({s} steps)" for r, s in inv.in_progress.items()) or "none"
    return missing, running


def completeness(frames: Frames) -> str:
    """One sentence for the paper: all results present, or which are missing or still training."""
    inv = frames.inventory
    n_runs, n_evals = _n_expected(frames)
    defined = (
        f"{n_runs + n_evals} results the pipeline defines "
        f"({n_runs} training runs and {n_evals} evaluations)"
    )
    if not inv.missing and not inv.in_progress:
        return f"All {defined} were available when this document was built."
    missing, running = _missing_and_running(frames)
    return (
        f"{len(inv.missing)} of the {defined} were not available when this document was built: "
        f"{missing}. Runs still training: {running}. Every number that depends on them reads "
        r"\notrun{} rather than a guess."
    )


def data_numbers(frames: Frames) -> list[Number]:
    """Split sizes and schema counts, read from the evaluations themselves (what was scored)."""
    main = frames.design.main_run
    test = frames.find_eval(main, "constrained") if main else None
    test = test if test is not None else _any_eval(frames, "test")
    hold = frames.find_eval(main, "constrained", "holdout") if main else None
    hold = hold if hold is not None else _any_eval(frames, "holdout")
    runs = frames.runs
    main_run = (
        runs[runs["run"] == main].iloc[0] if main and (runs.get("run") == main).any() else None
    )
    out = [
        Number(
            "NTrain",
            fmt_int(_get(main_run, "n_train_examples")),
            f"{_get(main_run, 'source')}: n_train_examples",
        ),
        Number("NTest", fmt_int(_get(test, "n")), f"{_get(test, 'source')}: n"),
        Number("NHoldout", fmt_int(_get(hold, "n")), f"{_get(hold, 'source')}: n"),
        Number("NSchemasTest", _n_schemas(frames, test), f"{_get(test, 'source')}: by_schema"),
        Number("NSchemasHoldout", _n_schemas(frames, hold), f"{_get(hold, 'source')}: by_schema"),
    ]
    tiers = frames.tiers
    for tier in ("simple", "medium", "complex"):
        hit = (
            tiers[(tiers["name"] == _get(test, "name")) & (tiers["tier"] == tier)]
            if not tiers.empty
            else tiers
        )
        n = hit["n"].iloc[0] if len(hit) else None
        out.append(
            Number(f"NTest{tier.title()}", fmt_int(n), f"{_get(test, 'source')}: by_tier.{tier}.n")
        )
    return out


def _any_eval(frames: Frames, split: str) -> pd.Series | None:
    e = frames.evals
    hit = e[e["split"] == split] if not e.empty else e
    return hit.iloc[0] if len(hit) else None


def _n_schemas(frames: Frames, row: pd.Series | None) -> str:
    if row is None or frames.schemas.empty:
        return NOT_RUN
    return str(int((frames.schemas["name"] == row["name"]).sum()))


def dataset_numbers(frames: Frames) -> list[Number]:
    """What the data stage generated and checked (data/report.json)."""
    d, src = frames.data, frames.data_source or "data/report.json (missing)"
    splits = ("train", "test", "holdout")
    counts = {s: (d.counts.get(s) if d else None) for s in splits}
    out = []
    for split in splits:
        c = counts[split]
        out.append(
            Number(f"DataN{split.title()}", fmt_int(c.n if c else None), f"{src}: counts.{split}.n")
        )
        for tier in ("simple", "medium", "complex"):
            n = c.by_tier.get(tier) if c else None
            out.append(
                Number(
                    f"DataN{split.title()}{tier.title()}",
                    fmt_int(n),
                    f"{src}: counts.{split}.by_tier",
                )
            )
    styles = sorted({st for c in counts.values() if c for st in c.by_style})
    checks = sorted({k for sc in (d.checks.values() if d else []) for k in sc.checks})
    rates = [cc.pass_rate for sc in (d.checks.values() if d else []) for cc in sc.checks.values()]
    tok = (d.tokens.get("train") or {}).get("all", {}) if d else {}
    seq, target = tok.get("sequence", {}), tok.get("target", {})
    out += [
        Number("DataNSchemas", str(len(d.schemas)) if d else NOT_RUN, f"{src}: schemas"),
        Number("DataNStyles", str(len(styles)) if d else NOT_RUN, f"{src}: counts.*.by_style"),
        Number(
            "DataStyles",
            ", ".join(tex_escape(x) for x in styles) if d else NOT_RUN,
            f"{src}: counts.*.by_style",
        ),
        Number("DataNChecks", str(len(checks)) if d else NOT_RUN, f"{src}: checks"),
        Number(
            "DataCheckNames", ", ".join(tt(c) for c in checks) if d else NOT_RUN, f"{src}: checks"
        ),
        Number(
            "DataMinPassRate",
            fmt_pct(min(rates)) if rates else NOT_RUN,
            f"{src}: checks.*.checks.*.pass_rate (min)",
        ),
        Number(
            "DataNFailed",
            fmt_int(sum(sc.n_failed for sc in d.checks.values())) if d else NOT_RUN,
            f"{src}: checks.*.n_failed",
        ),
        Number(
            "DataLeakage",
            fmt_int(sum(d.leakage.values())) if d and d.leakage else NOT_RUN,
            f"{src}: leakage",
        ),
        Number(
            "DataTokenizer",
            tt(d.tokens["tokenizer"]) if d and d.tokens.get("tokenizer") else NOT_RUN,
            f"{src}: tokens.tokenizer",
        ),
        Number(
            "DataSeqMean", fmt_num(seq.get("mean"), 0), f"{src}: tokens.train.all.sequence.mean"
        ),
        Number(
            "DataSeqPNinetyFive", fmt_int(seq.get("p95")), f"{src}: tokens.train.all.sequence.p95"
        ),
        Number("DataSeqMax", fmt_int(seq.get("max")), f"{src}: tokens.train.all.sequence.max"),
        Number(
            "DataTargetMean", fmt_num(target.get("mean"), 0), f"{src}: tokens.train.all.target.mean"
        ),
    ]
    return out


def recipe_numbers(frames: Frames) -> list[Number]:
    """Settings quoted in the method section, from params.yaml (so the text cannot drift)."""
    out = []
    for name, (value, key) in frames.design.recipe.items():
        out.append(Number(f"Recipe{name}", _fmt_setting(name, value), f"params.yaml: {key}"))
    # Always defined (the text quotes them), "not run" when params.yaml has no run of our recipe.
    ours = frames.design.ours_recipe
    for name in dict.fromkeys([*OURS_SETTINGS, *ours]):
        value, key = ours.get(name, (None, "train.runs (no run of our recipe)"))
        out.append(Number(f"Ours{name}", _fmt_setting(name, value), f"params.yaml: {key}"))
    return out


OURS_SETTINGS = (
    "ExtraTrain",
    "ExtraDropRate",
    "ExtraLocales",
    "LearningRate",
    "Epochs",
    "MicroBatch",
    "GradAccum",
    "Batch",
)


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
def roles(frames: Frames) -> dict[str, str | None]:
    d = frames.design
    return {
        "Main": d.main_run,
        "Scale": d.scale_runs[0] if d.scale_runs else None,
        "Ours": d.ours_runs[0] if d.ours_runs else None,
    }


# Eval slot (role_evals) -> its part of the macro name. Ours is always fine-tuned and shares the
# main run's base model, whose zero-shot evals are already MainZs*: no `Ft`, no zero-shot slots.
SLOTS = {s: s for s in ("Ft", "FtFree", "Holdout", "Fit", "Zs", "ZsFree")}
OURS_SLOTS = {"Ft": "", "FtFree": "Free", "Holdout": "Holdout", "Fit": "Fit"}


def slot_names(role: str) -> dict[str, str]:
    return OURS_SLOTS if role == "Ours" else SLOTS


EVAL_METRICS: dict[str, tuple[str, Callable[[Any], str]]] = {
    "Exact": ("json_exact", fmt_pct),
    "FieldFOne": ("field_f1", fmt_f1),
    "LeafFOne": ("leaf_f1", fmt_f1),
    "Compliance": ("compliance", fmt_pct),
    "ParseRate": ("parse_rate", fmt_pct),
    "Latency": ("latency_mean_s", fmt_seconds),
    "LatencyPNinetyFive": ("latency_p95_s", fmt_seconds),
    "TokensPerS": ("tokens_per_s", lambda x: fmt_num(x, 1)),
    "N": ("n", fmt_int),
}


def _run_model(frames: Frames, run: str | None) -> str | None:
    return frames.design.run_models.get(run) if run else None


def role_evals(frames: Frames, run: str | None) -> dict[str, pd.Series | None]:
    model = _run_model(frames, run)
    if run is None:
        return dict.fromkeys(SLOTS)
    return {
        "Ft": frames.find_eval(run, "constrained"),
        "FtFree": frames.find_eval(run, "free"),
        "Holdout": frames.find_eval(run, "constrained", "holdout"),
        "Fit": frames.find_eval(run, "constrained", FIT_SPLIT),  # a sample of its training split
        "Zs": frames.find_eval(None, "constrained", model=model),
        "ZsFree": frames.find_eval(None, "free", model=model),
    }


def eval_numbers(frames: Frames) -> list[Number]:
    out = []
    for role, run in roles(frames).items():
        model, ev = _run_model(frames, run), role_evals(frames, run)
        out += [
            Number(f"{role}Run", tt(run) if run else NOT_RUN, "params.yaml: train.runs"),
            Number(
                f"{role}Model",
                tt(model) if model else NOT_RUN,
                f"params.yaml: train.runs.{run}.model",
            ),
            Number(
                f"{role}Params",
                _params_text(_model_params(frames, model)),
                "metrics.json or train_metrics.json of the model: params_total",
            ),
        ]
        names = slot_names(role)
        for slot, row in ev.items():
            if slot not in names:
                continue
            src, prefix = _get(row, "source") or "missing", f"{role}{names[slot]}"
            for suffix, (key, fmt) in EVAL_METRICS.items():
                out.append(Number(f"{prefix}{suffix}", fmt(_get(row, key)), f"{src}: {key}"))
            ci = NOT_RUN if _get(row, "json_exact_lo") is None else f"{fmt_ci(row)}\\%"
            out.append(Number(f"{prefix}ExactCI", ci, f"derived: Wilson 95% interval of {src}"))
        out += _gain_numbers(role, ev)
    return out


def _params_text(n: float | None) -> str:
    # A parameter count is a property of the model, not a result: unknown, not "not run".
    return r"\textit{unknown}" if n is None else fmt_params(n)


def _model_params(frames: Frames, model: str | None) -> float | None:
    return frames.model_params.get(model) if model else None


def fmt_gap(a: float | None, b: float | None) -> str:
    """'12.3\\,pp below' / 'above' / 'equal to': a compared with b, in words the text can use."""
    if a is None or b is None:
        return NOT_RUN
    diff = 100 * (a - b)
    if abs(diff) < 0.05:
        return "equal to"
    return f"{abs(diff):.1f}\\,pp {'above' if diff > 0 else 'below'}"


def _gain_numbers(role: str, ev: dict[str, pd.Series | None]) -> list[Number]:
    ex = {k: _get(v, "json_exact") for k, v in ev.items()}
    src = "derived: JSONExact ratios/differences of the evals above"
    zs_decode = [Number(f"{role}ZsDecodeGain", fmt_points(ex["Zs"], ex["ZsFree"]), src)]
    return [
        Number(f"{role}Gain", fmt_ratio(ex["Ft"], ex["Zs"]), src),
        Number(f"{role}GainFree", fmt_ratio(ex["FtFree"], ex["ZsFree"]), src),
        Number(f"{role}GainPoints", fmt_points(ex["Ft"], ex["Zs"]), src),
        Number(f"{role}GainPointsFree", fmt_points(ex["FtFree"], ex["ZsFree"]), src),
        Number(f"{role}DecodeGain", fmt_points(ex["Ft"], ex["FtFree"]), src),
        *(zs_decode if "Zs" in slot_names(role) else []),  # Ours: that is MainZsDecodeGain
        Number(f"{role}HoldoutGap", fmt_gap(ex["Holdout"], ex["Ft"]), src),
        Number(f"{role}FitGap", fmt_gap(ex["Ft"], ex["Fit"]), src),  # test vs training sample
        Number(f"{role}FitVerdict", fit_verdict(ev["Ft"], ev["Fit"]), src),
        Number(f"{role}FitReading", fit_reading(ev["Ft"], ev["Fit"]), src),
        Number(f"{role}FitShort", fit_reading(ev["Ft"], ev["Fit"], short=True), src),
    ]


def fit_verdict(test: pd.Series | None, fit: pd.Series | None) -> str:
    """'inside' / 'outside': the test JSONExact against the training sample's 95% interval. Inside
    means the model scores no better on examples it was trained on than on unseen ones."""
    side = _fit_side(test, fit)
    return NOT_RUN if side is None else ("inside" if side == "inside" else "outside")


def _fit_side(test: pd.Series | None, fit: pd.Series | None) -> str | None:
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


def fit_reading(test: pd.Series | None, fit: pd.Series | None, short: bool = False) -> str:
    side = _fit_side(test, fit)
    return NOT_RUN if side is None else (FIT_SHORT if short else FIT_READING)[side]


def ours_numbers(frames: Frames) -> list[Number]:
    """Our recipe against the paper's recipe on the same base model (the main run)."""
    r = roles(frames)
    ours, main = role_evals(frames, r["Ours"]), role_evals(frames, r["Main"])
    ex = {s: (_get(ours[s], "json_exact"), _get(main[s], "json_exact")) for s in OURS_SLOTS}
    src = "derived: JSONExact of our recipe's eval vs the main run's (same split and decoding)"
    run_ours, run_main = _run_row(frames, r["Ours"]), _run_row(frames, r["Main"])
    time = (_get(run_ours, "wall_time_s"), _get(run_main, "wall_time_s"))
    steps = (_get(run_ours, "steps"), _get(run_main, "steps"))
    tsrc = "derived: train_metrics.json of our recipe's run / the main run's"
    return [
        Number("OursVsMain", fmt_points(*ex["Ft"]), f"{src}: OursExact - MainFtExact"),
        Number("OursVsMainGap", fmt_gap(*ex["Ft"]), f"{src}: OursExact vs MainFtExact"),
        Number(
            "OursVsMainFree", fmt_points(*ex["FtFree"]), f"{src}: OursFreeExact - MainFtFreeExact"
        ),
        Number(
            "OursVsMainHoldout",
            fmt_points(*ex["Holdout"]),
            f"{src}: OursHoldoutExact - MainHoldoutExact",
        ),
        Number("OursTrainTimeRatio", fmt_ratio(*time), f"{tsrc}: wall_time_s"),
        Number("OursTrainStepsRatio", fmt_ratio(*steps), f"{tsrc}: steps"),
    ]


def scale_numbers(frames: Frames) -> list[Number]:
    """The larger base model against the main run (same recipe) and against our recipe on the
    smaller model: is a recipe worth more than doubling the parameters?"""
    r = roles(frames)
    scale, main, ours = (
        _get(role_evals(frames, r[k])["Ft"], "json_exact") for k in ("Scale", "Main", "Ours")
    )
    params = [_model_params(frames, _run_model(frames, r[k])) for k in ("Scale", "Main")]
    src = "derived: JSONExact of the fine-tuned evals (test split, constrained)"
    return [
        Number("ScaleParamsRatio", fmt_ratio(*params), "derived: ScaleParams / MainParams"),
        Number("ScaleVsMainGap", fmt_gap(scale, main), f"{src}: ScaleFtExact vs MainFtExact"),
        Number("OursVsScaleGap", fmt_gap(ours, scale), f"{src}: OursExact vs ScaleFtExact"),
    ]


TRAIN_METRICS: dict[str, tuple[str, Callable[[Any], str]]] = {
    "WallTime": ("wall_time_s", fmt_duration),
    "TokensPerS": ("real_tokens_per_s", lambda x: fmt_num(x, 0)),
    "Roof": ("roof_fraction", lambda x: fmt_pct(x, 0)),
    "Trainable": ("params_trainable", lambda x: fmt_params(x)),
    "TrainablePct": ("trainable_pct", lambda x: NOT_RUN if missing(x) else f"{x:.2f}\\%"),
    "FinalLoss": ("final_loss", lambda x: fmt_num(x, 3)),
    "AdapterMB": ("adapter_mb", lambda x: fmt_num(x, 1)),
    "Epochs": ("epochs", lambda x: fmt_num(x, 0)),
    "Steps": ("steps", fmt_int),
    "LoraR": ("r", fmt_int),
    "LoraAlpha": ("alpha", fmt_int),
    "NTrain": ("n_train_examples", fmt_int),
    "NTruncated": ("n_truncated", fmt_int),
    "Cores": ("cores", fmt_int),
    "CPU": ("cpu", lambda x: NOT_RUN if missing(x) else tex_escape(x)),
    "Torch": ("torch", lambda x: NOT_RUN if missing(x) else tex_escape(x)),
}


def train_numbers(frames: Frames) -> list[Number]:
    out = []
    for role, run in roles(frames).items():
        row = _run_row(frames, run)
        src = _get(row, "source") or "missing"
        for suffix, (key, fmt) in TRAIN_METRICS.items():
            out.append(Number(f"{role}Train{suffix}", fmt(_get(row, key)), f"{src}: {key}"))
    return out


def _run_row(frames: Frames, run: str | None) -> pd.Series | None:
    runs = frames.runs
    hit = runs[runs["run"] == run] if run and not runs.empty else runs.iloc[0:0]
    return hit.iloc[0] if len(hit) else None


# ----------------------------------------------------------------------------- benchmarks
EVAL_BENCH, TRAIN_BENCH = "eval_throughput", "train_throughput"  # results/bench/<stem>.json
UNSEEN_BENCH = "extract_unseen"  # benchmarks/extract_unseen.py: hand-written schemas


def _tt_or_not_run(x: Any) -> str:
    return NOT_RUN if missing(x) else tt(x)


# Macro -> (benchmark file stem, dotted key in it, format). Eval: the reference harness's loop
# (one example at a time, no early stop) vs ours, free and constrained. Train: the reference recipe
# (HF Trainer, padding to a fixed length, full-sequence loss) vs maaza.train, same examples/steps.
BENCH_NUMBERS: dict[str, tuple[str, str, Callable[[Any], str]]] = {
    "BenchEvalN": (EVAL_BENCH, "n", fmt_int),
    "BenchEvalModel": (EVAL_BENCH, "model", _tt_or_not_run),
    "BenchEvalPromptFormat": (EVAL_BENCH, "prompt_format", _tt_or_not_run),
    "BenchEvalDtype": (EVAL_BENCH, "dtype", _tt_or_not_run),
    "BenchEvalThreads": (EVAL_BENCH, "threads", fmt_int),
    "BenchEvalBatch": (EVAL_BENCH, "batch_size", fmt_int),
    "BenchEvalRefExPerS": (EVAL_BENCH, "reference.examples_per_s", fmt_sig),
    "BenchEvalFreeExPerS": (EVAL_BENCH, "free.examples_per_s", fmt_sig),
    "BenchEvalConstrainedExPerS": (EVAL_BENCH, "constrained.examples_per_s", fmt_sig),
    "BenchEvalRefTime": (EVAL_BENCH, "reference.seconds", fmt_duration),
    "BenchEvalFreeTime": (EVAL_BENCH, "free.seconds", fmt_duration),
    "BenchEvalConstrainedTime": (EVAL_BENCH, "constrained.seconds", fmt_duration),
    "BenchEvalRefTokens": (EVAL_BENCH, "reference.tokens", fmt_int),
    "BenchEvalFreeTokens": (EVAL_BENCH, "free.tokens", fmt_int),
    "BenchEvalConstrainedTokens": (EVAL_BENCH, "constrained.tokens", fmt_int),
    "BenchEvalFreeTruncated": (EVAL_BENCH, "truncated.free", fmt_int),
    "BenchEvalConstrainedTruncated": (EVAL_BENCH, "truncated.constrained", fmt_int),
    "BenchEvalSpeedup": (EVAL_BENCH, "speedup_free_vs_reference", fmt_times),
    "BenchConstrainedOverhead": (EVAL_BENCH, "constrained_overhead_wall", fmt_signed_pct),
    "BenchConstrainedOverheadPerToken": (
        EVAL_BENCH,
        "constrained_overhead_per_token",
        fmt_signed_pct,
    ),
    "BenchTrainModel": (TRAIN_BENCH, "model", _tt_or_not_run),
    "BenchTrainN": (TRAIN_BENCH, "n_examples", fmt_int),
    "BenchTrainSteps": (TRAIN_BENCH, "steps", fmt_int),
    "BenchTrainThreads": (TRAIN_BENCH, "threads", fmt_int),
    "BenchTrainRefMaxLength": (TRAIN_BENCH, "reference_max_length", fmt_int),
    "BenchTrainOursDtype": (TRAIN_BENCH, "ours.base_dtype", _tt_or_not_run),
    "BenchTrainSpeedup": (TRAIN_BENCH, "ratio", fmt_times),
    "BenchTrainSpeedupCPU": (TRAIN_BENCH, "ratio_cpu", fmt_times),
    "BenchTrainRefTokS": (TRAIN_BENCH, "reference.tokens_per_s", lambda x: fmt_num(x, 0)),
    "BenchTrainOursTokS": (TRAIN_BENCH, "ours.tokens_per_s", lambda x: fmt_num(x, 0)),
    "BenchTrainRefTime": (TRAIN_BENCH, "reference.wall_s", fmt_duration),
    "BenchTrainOursTime": (TRAIN_BENCH, "ours.wall_s", fmt_duration),
    "BenchTrainRefTokens": (TRAIN_BENCH, "reference.real_tokens", fmt_int),
    "BenchTrainOursTokens": (TRAIN_BENCH, "ours.real_tokens", fmt_int),
    "BenchTrainRefTruncated": (TRAIN_BENCH, "reference.n_truncated", fmt_int),
    "BenchTrainRefRoof": (TRAIN_BENCH, "reference.roof_fraction", fmt_pct),
    "BenchTrainOursRoof": (TRAIN_BENCH, "ours.roof_fraction", fmt_pct),
    "BenchTrainOursPaddingEfficiency": (TRAIN_BENCH, "ours.padding_efficiency", fmt_pct),
    "BenchUnseenRun": (UNSEEN_BENCH, "run", _tt_or_not_run),
    "BenchUnseenModel": (UNSEEN_BENCH, "model", _tt_or_not_run),
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
        Number(
            "BenchEvalRefNewTokens",
            fmt_int(ref_tokens / n) if ref_tokens is not None and n else NOT_RUN,
            f"derived: {src[EVAL_BENCH]}: reference.tokens / n",
        ),
        Number(
            "BenchEvalConstrainedSpeedup",
            fmt_ratio(_dig(ev, "reference.seconds"), _dig(ev, "constrained.seconds")),
            f"derived: {src[EVAL_BENCH]}: reference.seconds / constrained.seconds",
        ),
        Number(
            "BenchTrainRefPadding",
            fmt_pct(1 - real / padded) if real is not None and padded else NOT_RUN,
            f"derived: {src[TRAIN_BENCH]}: 1 - reference.real_tokens / reference.padded_tokens",
        ),
    ]


def _adapter_text(ev: dict[str, Any] | None) -> str:
    """'with the adapter of run R' (adapter path runs/R/adapter) or 'without an adapter' (the base
    model, zero-shot), so the text can name what was timed."""
    if ev is None:
        return NOT_RUN
    adapter = ev.get("adapter")
    if not adapter:
        return "without an adapter"
    path = Path(adapter)
    run = path.parent.name if path.name == "adapter" else path.name
    return f"with the adapter of run {tt(run)}"


# ----------------------------------------------------------------------------- ablations
def ablation_numbers(frames: Frames) -> list[Number]:
    ab = frames.ablations
    src = "derived: ablation runs' train_metrics.json + ab-*/ft-* constrained metrics.json"
    out = []
    for factor, name in (("rank", "Rank"), ("data", "Data")):
        pts = ab[(ab["factor"] == factor) & ab["json_exact"].notna()] if not ab.empty else ab
        fmt_v = (lambda v: fmt_int(v)) if factor == "rank" else (lambda v: fmt_pct(v, 0))
        lo = pts.sort_values("value").iloc[0] if len(pts) else None
        hi = pts.sort_values("value").iloc[-1] if len(pts) else None
        best = (
            pts.sort_values(["json_exact", "value"], ascending=[False, True]).iloc[0]
            if len(pts)
            else None
        )
        spread = (pts["json_exact"].max(), pts["json_exact"].min()) if len(pts) else (None, None)
        out += [
            Number(f"Abl{name}Count", str(len(pts)), src),
            Number(f"Abl{name}MinValue", fmt_v(_get(lo, "value")), src),
            Number(f"Abl{name}MinExact", fmt_pct(_get(lo, "json_exact")), src),
            Number(f"Abl{name}MinFieldFOne", fmt_f1(_get(lo, "field_f1")), src),
            Number(f"Abl{name}MinTime", fmt_duration(_get(lo, "wall_time_s")), src),
            Number(f"Abl{name}MinNTrain", fmt_int(_get(lo, "n_train_examples")), src),
            Number(f"Abl{name}MaxValue", fmt_v(_get(hi, "value")), src),
            Number(f"Abl{name}MaxExact", fmt_pct(_get(hi, "json_exact")), src),
            Number(f"Abl{name}MaxFieldFOne", fmt_f1(_get(hi, "field_f1")), src),
            Number(f"Abl{name}MaxTime", fmt_duration(_get(hi, "wall_time_s")), src),
            Number(f"Abl{name}BestValue", fmt_v(_get(best, "value")), src),
            Number(f"Abl{name}BestExact", fmt_pct(_get(best, "json_exact")), src),
            Number(
                f"Abl{name}Spread",
                f"{100 * (spread[0] - spread[1]):.1f}\\,pp" if len(pts) > 1 else NOT_RUN,
                src,
            ),
        ]
    done = ab[ab["json_exact"].notna()] if not ab.empty else ab
    half = ((done["json_exact_hi"] - done["json_exact_lo"]) / 2).max() if len(done) > 1 else None
    out.append(Number("AblCIHalfWidth", NOT_RUN if half is None else f"{100 * half:.1f}\\,pp", src))
    loss = ab[ab["factor"] == "loss"] if not ab.empty else ab
    full = loss[~loss["is_main"]].iloc[0] if len(loss[~loss["is_main"]]) else None
    resp = loss[loss["is_main"]].iloc[0] if len(loss[loss["is_main"]]) else None
    out += [
        Number("AblFullLossExact", fmt_pct(_get(full, "json_exact")), src),
        Number(
            "AblFullLossDelta", fmt_points(_get(full, "json_exact"), _get(resp, "json_exact")), src
        ),
    ]
    return out


# ----------------------------------------------------------------------------- errors
def error_numbers(frames: Frames) -> list[Number]:
    out = []
    for role, run in roles(frames).items():
        names = slot_names(role)
        for slot, row in role_evals(frames, run).items():
            if slot not in ("Ft", "FtFree", "Zs", "ZsFree") or slot not in names:
                continue
            name = _get(row, "name")
            err = (
                frames.errors[frames.errors["name"] == name]
                if name and not frames.errors.empty
                else None
            )
            out += _error_numbers(f"{role}{names[slot]}", err, _get(row, "source") or "missing")
    return out


def _error_numbers(prefix: str, err: pd.DataFrame | None, src: str) -> list[Number]:
    wrong = err[err["category"] != "correct"] if err is not None else None
    has = wrong is not None and wrong["count"].sum() > 0
    top = wrong.sort_values(["count", "category"], ascending=[False, True]).iloc[0] if has else None
    invalid = err.loc[err["category"] == "invalid_json", "count"].sum() if err is not None else None
    return [
        Number(
            f"{prefix}Errors",
            fmt_int(wrong["count"].sum()) if wrong is not None else NOT_RUN,
            f"{src}: errors",
        ),
        Number(
            f"{prefix}ErrTop",
            top["category"].replace("_", " ") if has else NOT_RUN,
            f"{src}: errors",
        ),
        Number(f"{prefix}ErrTopShare", fmt_pct(_get(top, "share_of_errors"), 0), f"{src}: errors"),
        Number(
            f"{prefix}ErrInvalid",
            fmt_int(invalid) if err is not None else NOT_RUN,
            f"{src}: errors.invalid_json",
        ),
    ]


# ----------------------------------------------------------------------------- the paper's numbers
def _pct(v: float | None) -> str:
    return NOT_RUN if v is None else f"{v:.1f}\\%"


def reference_numbers(reference: dict[str, Any]) -> list[Number]:
    src = "src/maaza/paper_reference.yaml"
    split = reference["test_split"]
    out = [
        Number(name, str(split[key]), f"{src}: test_split.{key} (Section {split['section']})")
        for name, key in (
            ("PaperTestN", "n"),
            ("PaperTrainN", "n_train"),
            ("PaperNSchemas", "n_schemas"),
        )
    ]
    for m in reference.get("models", []):
        o, k = m["overall"], m["macro"]
        sec = f"{src}: {m['id']} (Section {o['section']})"
        out += [
            Number(f"Paper{k}Exact", _pct(o["json_exact"]), sec),
            Number(f"Paper{k}FieldFOne", f"{o['field_f1']:.3f}", sec),
            Number(f"Paper{k}Compliance", _pct(o.get("compliance")), sec),
            Number(f"Paper{k}Params", f"{m['params_m']}M", sec),
            Number(f"Paper{k}Size", f"{m.get('size_mb')}\\,MB", sec),
        ]
        if m.get("alt_overall"):
            alt = m["alt_overall"]
            asrc = f"{src}: {m['id']}.alt_overall ({alt['section']})"
            out += [
                Number(f"Paper{k}AltExact", _pct(alt["json_exact"]), asrc),
                Number(f"Paper{k}AltCompliance", _pct(alt.get("compliance")), asrc),
            ]
        if m.get("trainable_m"):
            out.append(
                Number(
                    f"Paper{k}Trainable",
                    f"{m['trainable_m']}M",
                    f"{src}: {m['id']} (Section 4.2.1)",
                )
            )
        for tier, v in (m.get("by_tier") or {}).items():
            if isinstance(v, dict):
                out.append(
                    Number(
                        f"Paper{k}{tier.title()}Exact",
                        _pct(v["json_exact"]),
                        f"{src}: {m['id']}.by_tier",
                    )
                )
    out += _reference_ablation_numbers(reference, src)
    comp = reference.get("compute", {})
    out += [
        Number("PaperTrainTime", fmt_duration(comp.get("train_time_s")), f"{src}: compute"),
        Number("PaperHardware", tex_escape(comp.get("hardware", "")), f"{src}: compute"),
    ]
    return out + consistency_numbers(reference, src) + _paper_gain(reference, src)


def _reference_ablation_numbers(reference: dict[str, Any], src: str) -> list[Number]:
    out = []
    for factor, name, key in (("rank", "Rank", "r"), ("data", "Data", "fraction")):
        pts = sorted(
            reference.get("ablations", {}).get(factor, {}).get("points", []), key=lambda p: p[key]
        )
        if not pts:
            continue
        value = (lambda v: str(v)) if factor == "rank" else (lambda v: f"{100 * v:.0f}\\%")
        for pos, p in (("Min", pts[0]), ("Max", pts[-1])):
            out += [
                Number(f"PaperAbl{name}{pos}Value", value(p[key]), f"{src}: ablations.{factor}"),
                Number(
                    f"PaperAbl{name}{pos}Exact", _pct(p["json_exact"]), f"{src}: ablations.{factor}"
                ),
                Number(
                    f"PaperAbl{name}{pos}Time",
                    fmt_duration(p["time_s"]),
                    f"{src}: ablations.{factor}",
                ),
            ]
    return out


def _paper_gain(reference: dict[str, Any], src: str) -> list[Number]:
    by_macro = {m["macro"]: m for m in reference.get("models", [])}
    base, ft = by_macro.get("BaseSmall"), by_macro.get("MaazaSmall")
    if not base or not ft:
        return []
    ratio = ft["overall"]["json_exact"] / base["overall"]["json_exact"]
    return [
        Number(
            "PaperGainSmall",
            f"{ratio:.1f}$\\times$",
            f"derived: {src} MaazaSmall/BaseSmall JSONExact",
        )
    ]


def achievable(pct: float, n: int, digits: int = 1) -> bool:
    """Can a percentage printed with `digits` decimals be k/n for some whole k?"""
    return any(round(100 * k / n, digits) == round(pct, digits) for k in range(n + 1))


def consistency_numbers(reference: dict[str, Any], src: str) -> list[Number]:
    """Which tier-level JSONExact percentages of the paper cannot be k/n for its stated tier size n
    (a transcription check on the paper itself, e.g. 13.5% is not a multiple of 1/57)."""
    sizes = reference["test_split"]["by_tier"]
    checked, bad = 0, []
    for m in reference.get("models", []):
        bt = m.get("by_tier") or {}
        if bt.get("estimated"):
            continue
        for tier, n in sizes.items():
            v = (bt.get(tier) or {}).get("json_exact")
            if v is None:
                continue
            checked += 1
            if not achievable(v, n):
                bad.append(f"{tex_escape(m['label'])}, {tier}: {v:.1f}\\% of {n}")
    return [
        Number(
            "PaperTierPctChecked", str(checked), f"derived: {src} by_tier vs test_split.by_tier"
        ),
        Number(
            "PaperTierPctImpossible", str(len(bad)), f"derived: {src} by_tier vs test_split.by_tier"
        ),
        Number("PaperTierPctImpossibleList", "; ".join(bad) or "none", f"derived: {src}"),
    ]


def comparison_numbers(frames: Frames, reference: dict[str, Any]) -> list[Number]:
    """Words, not numbers, that depend on results ('above'/'below'), so the text never asserts a
    direction the results do not show."""
    by_macro = {m["macro"]: m for m in reference.get("models", [])}
    paper = by_macro.get("MaazaSmall", {}).get("overall", {}).get("json_exact")
    out = []
    for name, role in (("MainFt", "Main"), ("Ours", "Ours")):
        ours = _get(role_evals(frames, roles(frames)[role]).get("Ft"), "json_exact")
        word = NOT_RUN if ours is None or paper is None else _direction(100 * ours, paper)
        out.append(Number(f"{name}VsPaper", word, f"derived: {name}Exact vs PaperMaazaSmallExact"))
    return out


def _direction(a: float, b: float) -> str:
    return "above" if a > b + 0.05 else "below" if a < b - 0.05 else "equal to"


# ----------------------------------------------------------------------------- render
def collect(frames: Frames, reference: dict[str, Any]) -> list[Number]:
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
        *comparison_numbers(frames, reference),
    ]
    _check(numbers)
    return numbers


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
        "% Generated by maaza.report_numbers -- do not edit; rerun `dvc repro report`.",
        "% One macro per number quoted in the paper; the comment after each names its source.",
        r"\providecommand{\notrun}{\textit{not run}}",
    ]
    lines += [
        f"\\newcommand{{\\{n.name}}}{{{n.value}}}% {n.source}" for n in collect(frames, reference)
    ]
    return "\n".join(lines) + "\n"


LINE = re.compile(r"^\\newcommand\{\\([A-Za-z]+)\}\{(.*)\}% (.*)$")


def parse(tex: str) -> dict[str, str]:
    """Macro name -> value of a rendered numbers.tex (used by tests and the notebook)."""
    return {n.name: n.value for n in parse_numbers(tex)}


def parse_numbers(tex: str) -> list[Number]:
    """Every macro of a rendered numbers.tex with its source comment (`maaza numbers`)."""
    return [Number(*m.groups()) for line in tex.splitlines() if (m := LINE.match(line))]
