"""paper/generated/numbers.tex: a `\\newcommand` per number the text quotes (which: numbers.yaml),
each commented with its file and key; a result not there yet reads `\\notrun`, never a guess."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pandas as pd

from maaza import claims
from maaza.plan import FIT_SPLIT, VAL_SPLIT
from maaza.report import fmt, original
from maaza.report import recipe_words as words_of
from maaza.report import setting_numbers as setting
from maaza.report.fmt import NOT_RUN, Number, tt
from maaza.report.frames import Frames, any_full, cell, first_row, short_model

SPEC = fmt.load_spec("numbers")  # which macros, per role, claim and benchmark
QUOTED: dict[str, dict[str, Any]] = SPEC["roles"]
# A role's evaluations: slot -> decoding mode and split (Zs: the run's base model, zero-shot;
# Fit: a sample of the run's own training split).
SLOTS = {
    "Ft": ("constrained", "test"),
    "FtFree": ("free", "test"),
    "Holdout": ("constrained", "holdout"),
    "Fit": ("constrained", FIT_SPLIT),
    "Zs": ("constrained", "test"),
    "ZsFree": ("free", "test"),
}
Evals = dict[str, pd.Series | None]  # a role's evaluation rows by slot (role_evals)


def slot_name(role: str, slot: str) -> str:
    """A slot's part of a macro name: the slot itself unless the role renames it (Ours)."""
    return QUOTED[role].get("slots", {}).get(slot, slot)


def roles(frames: Frames) -> dict[str, str | None]:
    d = frames.design
    return {"Main": d.main_run, "Scale": d.first("scale"), "Ours": d.ours_run}


def role_evals(frames: Frames, run: str | None) -> Evals:
    if run is None:
        return dict.fromkeys(SLOTS)
    model = frames.design.run_model(run)
    return {
        slot: frames.find_eval(None if slot.startswith("Zs") else run, mode, split, model)
        for slot, (mode, split) in SLOTS.items()
    }


def eval_numbers(frames: Frames) -> list[Number]:
    out = []
    for role, run in roles(frames).items():
        quoted, ev = QUOTED[role], role_evals(frames, run)
        model = frames.design.run_model(run)
        n_params = frames.model_params.get(model) if model else None
        # A parameter count is a property of the model, not a result: unknown, not "not run".
        made = {
            "Run": (tt(run) if run else NOT_RUN, "params.yaml: train.runs"),
            "Model": (tt(model) if model else NOT_RUN, f"params.yaml: train.runs.{run}.model"),
            "Params": (
                r"\textit{unknown}" if n_params is None else fmt.params(n_params),
                "metrics.json or train_metrics.json of the model: params_total",
            ),
        }
        out += [Number(f"{role}{p}", *made[p]) for p in quoted["run"]]
        for slot, metrics in quoted["evals"].items():
            row, prefix = ev[slot], f"{role}{slot_name(role, slot)}"
            out += [_eval_number(prefix, m, row, cell(row, "source") or "missing") for m in metrics]
        out += [Number(f"{role}{k}", DERIVED[k](ev), DERIVED_SOURCE) for k in quoted["derived"]]
    return out


def _eval_number(prefix: str, metric: str, row: pd.Series | None, src: str) -> Number:
    if metric == "ci":
        ci = NOT_RUN if cell(row, "json_exact_lo") is None else f"{fmt.ci(row)}\\%"
        return Number(f"{prefix}ExactCI", ci, f"derived: Wilson 95% interval of {src}")
    if metric == "n":
        return Number(f"{prefix}N", fmt.integer(cell(row, "n")), f"{src}: n")
    name = f"{prefix}{SPEC['metric_macro'][metric]}"
    return Number(name, fmt.metric(metric, cell(row, metric)), f"{src}: {metric}")


def _fit(words: dict[str, str]) -> Callable[[Evals], str]:
    """Where the test JSONExact falls against the training sample's 95% interval, in `words`."""

    def reading(ev: Evals) -> str:
        test, fit = ev["Ft"], ev["Fit"]
        if test is None or fit is None:
            return NOT_RUN
        if test["json_exact"] < fit["json_exact_lo"]:
            return words["below"]
        return words["above" if test["json_exact"] > fit["json_exact_hi"] else "inside"]

    return reading


def _points(a: str, b: str) -> Callable[[Evals], str]:
    """JSONExact of slot a minus slot b's, in percentage points."""
    return lambda ev: fmt.points(cell(ev[a], "json_exact"), cell(ev[b], "json_exact"))


# Numbers derived from a role's evals (JSONExact ratios, differences, readings), by macro suffix.
DERIVED: dict[str, Callable[[Evals], str]] = {
    "Gain": lambda ev: fmt.gain(ev["Ft"], ev["Zs"]),
    "GainPoints": _points("Ft", "Zs"),
    "GainPointsFree": _points("FtFree", "ZsFree"),
    "DecodeGain": _points("Ft", "FtFree"),
    "ZsDecodeGain": _points("Zs", "ZsFree"),
    "FitVerdict": _fit(SPEC["fit"]["verdict"]),
    "FitReading": _fit(SPEC["fit"]["reading"]),
    "FitShort": _fit(SPEC["fit"]["short"]),
}
DERIVED_SOURCE = "derived: JSONExact ratios/differences of the evals above"


def train_numbers(frames: Frames) -> list[Number]:
    out = []
    for role, run in roles(frames).items():
        row = frames.run_row(run)
        src = cell(row, "source") or "missing"
        for suffix in QUOTED[role]["train"]:
            key = SPEC["train_metrics"][suffix]
            value = fmt.column(key, cell(row, key))
            out.append(Number(f"{role}Train{suffix}", value, f"{src}: {key}"))
    return out


def ours_numbers(frames: Frames) -> list[Number]:
    """Our recipe against the paper's recipe on the same base model (the main run)."""
    r = roles(frames)
    ours, main = role_evals(frames, r["Ours"]), role_evals(frames, r["Main"])
    src = "derived: JSONExact of our recipe's eval vs the main run's (same split and decoding)"
    out = []
    for slot in ("Ft", "FtFree", "Holdout"):
        diff = fmt.points(cell(ours[slot], "json_exact"), cell(main[slot], "json_exact"))
        name = slot_name("Ours", slot)
        out.append(Number(f"OursVsMain{name}", diff, f"{src}: Ours{name}Exact - Main{slot}Exact"))
    run_ours, run_main = frames.run_row(r["Ours"]), frames.run_row(r["Main"])
    src = "derived: train_metrics.json of our recipe's run / the main run's"
    for name, key in (("Time", "wall_time_s"), ("Steps", "steps")):
        ratio = fmt.ratio(cell(run_ours, key), cell(run_main, key))
        out.append(Number(f"OursTrain{name}Ratio", ratio, f"{src}: {key}"))
    compute = fmt.times(setting.compute_ratio(frames))  # the README quotes the same value
    out.append(Number("OursTrainComputeRatio", compute, f"{src}: real_tokens * flops_per_token"))
    # what our recipe changes, in words (maaza.report.recipe_words): LoRA or every weight
    src = "derived: params.yaml and train_metrics.json, our recipe's run vs the main run's"
    words = {
        "OursDiffers": words_of.differs_text,
        "OursKeeps": words_of.keeps_text,
        "OursTrainsChange": words_of.trains_text,
    }
    return out + [Number(k, say(frames, r["Ours"], r["Main"]), src) for k, say in words.items()]


def best_on_val(frames: Frames) -> str | None:
    """The `ours` run with the highest validation JSONExact (ties: the headline run), once every
    `ours` run has one: recipes and models are chosen on val, never on test."""
    d, ours = frames.design, roles(frames)["Ours"]
    val = {
        o: cell(frames.find_eval(o, "constrained", VAL_SPLIT), "json_exact") for o in d.ours_runs
    }
    if not val or any(fmt.missing(v) for v in val.values()):
        return None
    return max(val, key=lambda o: (val[o], o == ours))


def _beside_values(frames: Frames, run: str, claim: pd.Series | None) -> dict[str, str]:
    """numbers.yaml `beside`'s words for a further `ours` run against the headline one."""
    d, ours = frames.design, roles(frames)["Ours"]
    val = {o: frames.find_eval(o, "constrained", VAL_SPLIT) for o in (run, ours)}
    test, hold = (frames.find_eval(run, "constrained", s) for s in ("test", "holdout"))
    best = run == best_on_val(frames)
    return {
        "model": tt(short_model(d.run_model(run) or "")),
        "run": tt(run),
        "ours": tt(ours),
        "ours_model": tt(short_model(d.run_model(ours) or "")),
        **{f"best_{k}": v if best else "" for k, v in SPEC["beside"]["best"].items()},
        "differs": words_of.differs_text(frames, run, ours),
        "val": fmt.pct(cell(val[run], "json_exact")),
        "ours_val": fmt.pct(cell(val[ours], "json_exact")),
        "test": fmt.pct(cell(test, "json_exact")),
        "ci": NOT_RUN if test is None else f"{fmt.ci(test)}\\%",
        "ours_test": fmt.pct(cell(frames.find_eval(ours, "constrained"), "json_exact")),
        "verdict": claims.verdict_text(claim) or NOT_RUN,
        "p": claims.p_text(claim) or NOT_RUN,
        "holdout": fmt.pct(cell(hold, "json_exact")),
    }


def beside_numbers(frames: Frames, reference: dict[str, Any]) -> list[Number]:
    """Our recipe on other base models than the main run's, beside the headline run: a sentence
    each (numbers.yaml `beside`; empty without such a run) with its paired test (maaza.claims)."""
    ours = roles(frames)["Ours"]
    others = [o for o in frames.design.ours_runs if o != ours]
    values = []
    if others:
        tests = claims.for_report(frames, reference).set_index("stem")
        values = [_beside_values(frames, o, tests.loc[claims.beside_stem(o)]) for o in others]
    src = "derived: constrained val/test/holdout metrics.json of every ours run (maaza.claims)"
    return [
        Number(name, "".join(SPEC["beside"][key].format_map(v) for v in values), src)
        for name, key in (("OursBeside", "long"), ("OursBesideBrief", "brief"))
    ]


def size_numbers(frames: Frames) -> list[Number]:
    """What the size figure's x axis adds to a model's weights (the figure says the same)."""
    full = any_full(frames.headline("test"))
    text = SPEC["size_adapter"]["full" if full else "lora"]
    return [Number("SizeOnDiskAdapter", text, "derived: train_metrics.json of each run: method")]


def scale_numbers(frames: Frames) -> list[Number]:
    """The larger base model's parameters against the main run's (its comparisons: claims)."""
    r = roles(frames)
    params = [frames.model_params.get(frames.design.run_model(r[k])) for k in ("Scale", "Main")]
    return [Number("ScaleParamsRatio", fmt.ratio(*params), "derived: ScaleParams / MainParams")]


ABLATION_SOURCE = "derived: ablation runs' train_metrics.json + ab-*/ft-* constrained metrics.json"


def ablation_numbers(frames: Frames) -> list[Number]:
    ab = frames.ablations
    done = ab[ab["json_exact"].notna()]
    rank, data = (done[done["factor"] == f] for f in ("rank", "data"))
    best = first_row(rank.sort_values(["json_exact", "value"], ascending=[False, True]))
    exact = rank["json_exact"]
    spread = fmt.pp(exact.max() - exact.min() if len(rank) > 1 else None)
    half = ((done["json_exact_hi"] - done["json_exact_lo"]) / 2).max() if len(done) > 1 else None
    loss = ab[ab["factor"] == "loss"]
    is_main = loss["is_main"].astype(bool)
    full, resp = first_row(loss[~is_main]), first_row(loss[is_main])
    values = {
        "AblRankCount": str(len(rank)),
        **_ends(rank, "Rank", fmt.integer),
        "AblRankBestValue": fmt.integer(cell(best, "value")),
        "AblRankBestExact": fmt.pct(cell(best, "json_exact")),
        "AblRankSpread": spread,
        **_ends(data, "Data", lambda v: fmt.pct(v, 0)),
        "AblCIHalfWidth": fmt.pp(half),
        "AblFullLossExact": fmt.pct(cell(full, "json_exact")),
        "AblFullLossDelta": fmt.points(cell(full, "json_exact"), cell(resp, "json_exact")),
    }
    return [Number(name, value, ABLATION_SOURCE) for name, value in values.items()]


def _ends(pts: pd.DataFrame, name: str, show: Callable[[Any], str]) -> dict[str, str]:
    """The smallest and largest value of one ablated knob: JSONExact, Field F1, training time."""
    out = {}
    for pos, i in (("Min", 0), ("Max", -1)):
        p = pts.sort_values("value").iloc[i] if len(pts) else None
        out |= {
            f"Abl{name}{pos}Value": show(cell(p, "value")),
            f"Abl{name}{pos}Exact": fmt.pct(cell(p, "json_exact")),
            f"Abl{name}{pos}FieldFOne": fmt.metric("field_f1", cell(p, "field_f1")),
            f"Abl{name}{pos}Time": fmt.duration(cell(p, "wall_time_s")),
        }
        if name == "Data" and pos == "Min":  # the smallest data fraction's example count
            out["AblDataMinNTrain"] = fmt.integer(cell(p, "n_train_examples"))
    return out


ERRORS_KEY = {"ErrInvalid": "errors.invalid_json"}  # the key each macro reads; default "errors"


def _error_values(err: pd.DataFrame | None) -> dict[str, str]:
    """An eval's error macros by suffix, from its rows of frames.errors (None: no eval). ErrTop is
    the most frequent error category (ties: by name)."""
    if err is None:
        return dict.fromkeys(("Errors", "ErrTop", "ErrTopShare", "ErrInvalid"), NOT_RUN)
    wrong = err[err["category"] != "correct"]
    ranked = wrong.sort_values(["count", "category"], ascending=[False, True])
    top = ranked.iloc[0] if wrong["count"].sum() else None
    return {
        "Errors": fmt.integer(wrong["count"].sum()),
        "ErrTop": NOT_RUN if top is None else top["category"].replace("_", " "),
        "ErrTopShare": fmt.pct(cell(top, "share_of_errors"), 0),
        "ErrInvalid": fmt.integer(err.loc[err["category"] == "invalid_json", "count"].sum()),
    }


def error_numbers(frames: Frames) -> list[Number]:
    out, errors = [], frames.errors
    for role, run in roles(frames).items():
        ev = role_evals(frames, run)
        for slot, keys in QUOTED[role].get("errors", {}).items():
            name, src = cell(ev[slot], "name"), cell(ev[slot], "source") or "missing"
            err = errors[errors["name"] == name] if name and not errors.empty else None
            values, prefix = _error_values(err), f"{role}{slot_name(role, slot)}"
            for k in keys:
                out.append(Number(prefix + k, values[k], f"{src}: {ERRORS_KEY.get(k, 'errors')}"))
    return out


def claim_numbers(frames: Frames, reference: dict[str, Any]) -> list[Number]:
    table = claims.for_report(frames, reference)
    out = []
    for stem, parts in SPEC["claims"].items():
        c = first_row(table[table["stem"] == stem])  # the claim's row, None when not made
        sides = " vs ".join(cell(c, k) or "(not run)" for k in ("a", "b"))
        src = f"derived: {cell(c, 'what')}: {sides} (maaza.claims)"
        text = {"Verdict": claims.verdict_text, "P": claims.p_text, "Seed": claims.seed_text}
        out += [Number(stem + p, text[p](c) or NOT_RUN, f"{src}; test: \\{stem}P") for p in parts]
    r = roles(frames)
    for name, (role, split) in SPEC["bootstrapped"].items():
        row = frames.find_eval(r[role], "constrained", split)
        lo, hi = claims.bootstrap_interval(frames.outcomes, cell(row, "name"))
        value = NOT_RUN if fmt.missing(lo) else f"{fmt.interval(lo, hi)}\\%"
        src = f"derived: schema-clustered bootstrap of {cell(row, 'source') or '(not run)'}"
        out.append(Number(name, value, src))
    alpha = Number("TestAlpha", f"{claims.ALPHA:g}", "maaza.stats.ALPHA: above/below only below it")
    out.append(alpha)
    # mean and range of JSONExact over a run and its seed replicates (test split, constrained)
    seeds = claims.seed_table(frames.evals, frames.design.plan, frames.design.plan.run_names)
    for role in ("Main", "Ours"):
        s = first_row(seeds[seeds["run"] == r[role]])
        src = f"derived: {r[role]} and its seed replicates (params.yaml seeds), test split, constrained"
        runs = NOT_RUN if s is None else f"{s['n_run']} of {s['seeds']}"
        spread = NOT_RUN
        if s is not None and not fmt.missing(s["range"]):
            spread = f"{fmt.pct(s['mean'])} (range {100 * s['lo']:.1f}--{100 * s['hi']:.1f}\\%)"
        out += [Number(f"{role}SeedRuns", runs, src), Number(f"{role}SeedSpread", spread, src)]
    return out


def collect(frames: Frames, reference: dict[str, Any]) -> list[Number]:
    numbers = [
        *setting.status_numbers(frames),
        *setting.data_numbers(frames),
        *setting.dataset_numbers(frames),
        *setting.recipe_numbers(frames),
        *eval_numbers(frames),
        *train_numbers(frames),
        *ours_numbers(frames),
        *beside_numbers(frames, reference),
        *scale_numbers(frames),
        *size_numbers(frames),
        *setting.bench_numbers(frames),
        *ablation_numbers(frames),
        *error_numbers(frames),
        *original.reference_numbers(reference),
        *claim_numbers(frames, reference),
    ]
    # Name, in the source comment of each comparative macro written elsewhere, the test behind it.
    tested = claims.TESTED_BY
    numbers = [
        replace(n, source=f"{n.source}; test: \\{tested[n.name]}P") if n.name in tested else n
        for n in numbers
    ]
    made = Counter(n.name for n in numbers)
    for n in numbers:
        if not MACRO_NAME.match(n.name) or "\n" in n.value or made[n.name] > 1:
            raise ValueError(f"macro {n.name!r}: not letters-only TeX, spans lines, or made twice")
    return numbers


MACRO_NAME = re.compile(r"^[A-Za-z]+$")
LINE = re.compile(r"^\\newcommand\{\\([A-Za-z]+)\}\{(.*)\}% (.*)$")


HEAD = """% Generated by maaza.report.numbers -- do not edit; rerun `dvc repro report`.
% One macro per number quoted in the paper; the comment after each names its source.
\\providecommand{\\notrun}{\\textit{not run}}
"""


def render(frames: Frames, reference: dict[str, Any]) -> str:
    macros = collect(frames, reference)
    return HEAD + "".join(f"\\newcommand{{\\{n.name}}}{{{n.value}}}% {n.source}\n" for n in macros)


def parse_numbers(tex: str) -> list[Number]:
    """Every macro of a rendered numbers.tex with its source comment (`maaza numbers`)."""
    return [Number(*m.groups()) for line in tex.splitlines() if (m := LINE.match(line))]


def parse(tex: str) -> dict[str, str]:
    """Macro name -> value of a rendered numbers.tex (used by tests and the notebook)."""
    return {n.name: n.value for n in parse_numbers(tex)}
