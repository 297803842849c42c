"""The report's LaTeX tables (booktabs), each `Frames, reference -> str`, and their layout.

    tex = TABLES["main_results"](frames, reference)     # a complete `table` float

Each table starts with a comment naming the result files it was computed from, so any number in
the PDF can be traced back. Rows the pipeline should produce but has not yet show "not run"
(`\\notrun`, defined in numbers.tex). Numbers the original paper reported sit in their own block,
headed "Reported by the original paper" with the section they come from.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd

from maaza import claims
from maaza.metrics import ERROR_CATEGORIES
from maaza.plan import FIT_SPLIT, MODES
from maaza.report import fmt
from maaza.report.fmt import (
    DAGGER,
    NOT_RUN,
    block_title,
    head,
    latex_table,
    row,
    span,
    tex_escape,
    tt,
)
from maaza.report.frames import OURS_LABEL, Frames, cell, error_categories, short_model, tier_order
from maaza.schemas import TIERS

TableFn = Callable[[Frames, dict[str, Any]], str]
PAPER = "Reported by the original paper"
REFERENCE_FILE = "src/maaza/paper_reference.yaml"


# ----------------------------------------------------------------------------- cells
def sources_of(rows: pd.DataFrame) -> list[str]:
    return list(rows["source"].dropna())


def setting(r: pd.Series) -> str:
    base = "zero-shot" if r["kind"] == "zero-shot" else "fine-tuned"
    return base if r["split"] == "test" else f"{base}, {r['split']}"


def model_cell(r: pd.Series) -> str:
    """The model column: our recipe's rows share the main run's model, so they say so."""
    return tt(short_model(r["model"])) + (f", {OURS_LABEL}" if r.get("role") == "ours" else "")


def ours_note(frames: Frames) -> str:
    """A sentence for table notes when params.yaml has a run of our recipe, else nothing."""
    if not frames.design.ours_runs:
        return ""
    runs = ", ".join(tt(r) for r in frames.design.ours_runs)
    return (
        rf" \emph{{{OURS_LABEL.capitalize()}}}: {runs}, the main run's base model trained with our "
        r"recipe instead of the paper's (\cref{sec:method})."
    )


def run_cell(frames: Frames, run: str) -> str:
    """A run name, marked when it is the paper's recipe or ours (same base model, both)."""
    tag = {"paper_recipe": "paper recipe", "ours": OURS_LABEL}.get(frames.design.role_of(run))
    return tt(run) + (rf" {{\scriptsize({tag})}}" if tag else "")


def hardware_text(frames: Frames) -> str:
    runs = frames.runs
    if runs.empty:
        return NOT_RUN
    combos = runs[["cpu", "cores", "torch"]].drop_duplicates()
    return "; ".join(
        f"{tex_escape(c.cpu or 'unknown CPU')}, {c.cores or '?'} cores, torch {tex_escape(c.torch or '?')}"
        for c in combos.itertuples()
    )


# ----------------------------------------------------------------------------- tables
MAIN_METRICS = ("json_exact", "ci", "field_f1", "leaf_f1", "compliance", "latency_mean_s")


def _result_rows(rows: pd.DataFrame, frames: Frames) -> list[str]:
    body = []
    for _, r in rows.iterrows():
        n_params = frames.model_params.get(r["model"])  # unknown until a run or eval reports it
        params = "--" if fmt.missing(n_params) else fmt.params(n_params)
        cells = [model_cell(r), params, setting(r), r["mode"]]
        if fmt.missing(r.get("json_exact")):
            cells.append(span(6, NOT_RUN))
        else:
            cells += [fmt.ci(r) if m == "ci" else fmt.metric(m, r.get(m)) for m in MAIN_METRICS]
        body.append(row(cells))
    if rows.empty:
        body.append(row([span(10, NOT_RUN)]))
    return body


RESULT_HEADER = row(["Model", "Params", "Setting", "Decoding",
                     *("95\\% CI" if m == "ci" else head(m) for m in MAIN_METRICS)])  # fmt: skip


def _results_table(name: str, frames: Frames, rows: pd.DataFrame, paper: list[str],
                   caption: str, note: str) -> str:  # fmt: skip
    """The main results' layout, shared by our test split and an external dataset's."""
    return latex_table(
        name=name,
        caption=caption + " 95\\% Wilson intervals for JSONExact.",
        colspec="llllrcrrrr",
        header=[RESULT_HEADER],
        body=_result_rows(rows, frames) + paper,
        sources=[*sources_of(rows), *([REFERENCE_FILE] if paper else [])],
        note=note + ours_note(frames),
        colsep="3pt",  # room for "our recipe" in the model column
    )


def main_results(frames: Frames, reference: dict[str, Any]) -> str:
    return _results_table(
        "main_results", frames, frames.headline_rows(), _paper_main_rows(reference),
        caption="Main results on our test split (and on held-out schemas), beside the numbers "
        "reported by the original paper on its own test split.",
        note=f"{fmt.DAGGER} marked by the original paper as estimated from spot checks. "
        "The two test sets differ (ours is generated by this pipeline); the paper's rows give scale, "
        "not a paired comparison. Latency: mean seconds per example on our CPU; the paper's is its "
        "own (per-example milliseconds, hardware of its Section 5.1.2).",
    )  # fmt: skip


PAPER_DATASET = "edgejson"  # the external dataset's name under which the paper's numbers apply


def external_results(frames: Frames, reference: dict[str, Any]) -> str:
    """Runs trained on the external dataset's train file and tested on its test file (the
    paper's protocol when the dataset is EdgeJSON: then the paper's rows sit beside them)."""
    ext = frames.external
    if ext is None:
        return ""
    name = str(ext.design.plan.external_name)
    paper = name == PAPER_DATASET
    runs = ", ".join(tt(r.name) for r in ext.design.plan.runs)
    # the paper mentions the external dataset only here, so the text comes with the table
    text = (
        f"\\paragraph{{Trained and tested on {tt(name)}.}} \\Cref{{tab:external-results}} "
        "repeats the protocol on an external labelled dataset: the runs are trained on its "
        "training file and evaluated on its test file in both decoding modes.\n\n"
    )
    return text + _results_table(
        "external_results", ext, ext.headline_rows(), _paper_main_rows(reference) if paper else [],
        caption=f"Trained and tested on {tt(name)}: each run trained on its training file alone "
        "and evaluated on its test file"
        + (", beside the numbers the original paper reported on the same test file." if paper else "."),
        note=f"Runs ({runs}): the settings of the run each is named after (params.yaml "
        f"\\texttt{{external.{tex_escape(name)}}}), trained on the external training file instead "
        "of our generated split.",
    )  # fmt: skip


def _paper_main_rows(reference: dict[str, Any]) -> list[str]:
    models = reference.get("models", [])
    if not models:
        return []
    sec = models[0]["overall"]["section"]
    out = [block_title(f"{PAPER} (Section {sec}; its test split of "
                       f"{reference['test_split']['n']} examples)", 10)]  # fmt: skip
    for m in models:
        o, est = m["overall"], m["overall"].get("estimated", False)
        lat = fmt.integer(o["latency_ms"]) + r"\,ms" if "latency_ms" in o else "--"
        out.append(row([tex_escape(m["label"]), f"{m['params_m']}M", m["kind"], "greedy",
                        fmt.paper_pct(o["json_exact"], est), "--", fmt.paper_f1(o["field_f1"], est), "--",
                        fmt.paper_pct(o.get("compliance"), est), lat]))  # fmt: skip
    return out


def tier_breakdown(frames: Frames, reference: dict[str, Any]) -> str:
    rows = frames.headline_rows()
    rows, tiers = rows[rows["split"] == "test"], frames.tiers
    order = tier_order(tiers["tier"]) or list(TIERS)
    n = tiers[tiers["name"].isin(rows["name"])].groupby("tier")["n"].max()
    header = [
        row(["", "", ""] + [span(2, f"{t} (n={fmt.integer(n.get(t))})") for t in order]),
        "".join(rf"\cmidrule(lr){{{4 + 2 * i}-{5 + 2 * i}}}" for i in range(len(order))),
        row(["Model", "Setting", "Decoding"] + [head("json_exact"), head("field_f1")] * len(order)),
    ]
    body = []
    for _, r in rows.iterrows():
        sub = tiers[tiers["name"] == r["name"]].set_index("tier")
        cells = [fmt.metric(m, sub.loc[t, m] if t in sub.index else None)
                 for t in order for m in ("json_exact", "field_f1")]  # fmt: skip
        body.append(row([model_cell(r), setting(r), r["mode"], *cells]))
    body += _paper_tier_rows(reference, order, 3 + 2 * len(order))
    return latex_table(
        name="tier_breakdown",
        caption="JSONExact and Field F1 by schema complexity tier (test split), beside the "
        "original paper's reported tier results.",
        colspec="lll" + "rr" * len(order),
        header=header,
        body=body,
        sources=[*sources_of(rows), REFERENCE_FILE],
        note=f"{fmt.DAGGER} estimated by the original paper. Tier sizes differ between the two test sets."
        + ours_note(frames),
    )


def _paper_tier_rows(reference: dict[str, Any], order: list[str], ncols: int) -> list[str]:
    models = [m for m in reference.get("models", []) if m.get("by_tier")]
    if not models:
        return []
    n = reference["test_split"]["by_tier"]
    sizes = ", ".join(f"{t} {n[t]}" for t in order if t in n)
    out = [block_title(f"{PAPER} (Section {models[0]['by_tier']['section']}; n = {sizes})", ncols)]
    for m in models:
        bt, est = m["by_tier"], m["by_tier"].get("estimated", False)
        cells = [c for t in order for c in (fmt.paper_pct(bt.get(t, {}).get("json_exact"), est),
                                             fmt.paper_f1(bt.get(t, {}).get("field_f1"), est))]  # fmt: skip
        out.append(row([tex_escape(m["label"]), m["kind"], "greedy", *cells]))
    return out


FACTOR_TITLE = {"rank": "LoRA rank $r$", "data": "Training data", "loss": "Loss", "other": "Other"}
LOSS_NAMES = {"response": "response tokens only", "full": "full sequence"}


def _ablation_setting(factor: str, value: Any) -> str:
    if factor == "rank":
        return f"$r={value}$"
    if factor == "data":
        return f"{100 * float(value):.0f}\\%"
    return LOSS_NAMES.get(str(value), tex_escape(value)) if factor == "loss" else tex_escape(value)


def _paper_point(reference: dict[str, Any], factor: str, value: Any) -> dict[str, Any]:
    key = {"rank": "r", "data": "fraction"}.get(factor)
    points = reference.get("ablations", {}).get(factor, {}).get("points", [])
    return next((p for p in points if key and float(p[key]) == float(value)), {})


def ablations(frames: Frames, reference: dict[str, Any]) -> str:
    body = []
    for factor, group in frames.ablations.groupby("factor", sort=False):
        body.append(block_title(FACTOR_TITLE[factor], 9, before=r"\addlinespace[2pt]"))
        for _, p in group.iterrows():
            ref = _paper_point(reference, factor, p["value"])
            name = tt(p["run"]) + (r" {\scriptsize(main)}" if p["is_main"] else "")
            body.append(row([_ablation_setting(factor, p["value"]), name,
                             fmt.params(p["params_trainable"]), fmt.integer(p["n_train_examples"]),
                             fmt.pct(p["json_exact"]), fmt.f1(p["field_f1"]), fmt.duration(p["wall_time_s"]),
                             fmt.paper_pct(ref.get("json_exact")), f"{ref['time_s']}\\,s" if ref else "--"]))  # fmt: skip
    body += _decoding_rows(frames)
    sections = [reference.get("ablations", {}).get(f, {}).get("section") for f in ("rank", "data")]
    return latex_table(
        name="ablations",
        caption="Ablations of the main run (one knob changed at a time; JSONExact with constrained "
        "decoding on the test split), beside the JSONExact and training time "
        "reported by the original paper (Sections " + ", ".join(s for s in sections if s) + ").",
        colspec="llrrrrr@{\\hspace{1.5em}}rr",
        header=[
            row([span(7, "Ours"), span(2, r"\shortstack{Reported by the\\original paper}")]),
            r"\cmidrule(r){1-7}\cmidrule(l){8-9}",
            row(["Setting", "Run", "Trainable", "Train ex.", head("json_exact"), head("field_f1"),
                 "Time", head("json_exact"), "Time (GPU)"]),
        ],
        body=body,
        sources=[*sources_of(frames.evals), *frames.runs["source"]],
        note="Times: wall-clock training time on our CPU; the paper's on one RTX 4080. "
        "Decoding rows use the main fine-tuned and zero-shot models (no retraining).",
        colsep="3pt",
    )  # fmt: skip


def _decoding_rows(frames: Frames) -> list[str]:
    main = frames.design.main_run
    if not main:
        return []
    model = frames.design.run_model(main)
    out = [block_title("Decoding", 9, before=r"\addlinespace[2pt]")]
    for kind, run in (("fine-tuned", main), ("zero-shot", None)):
        for mode in MODES:
            r = frames.find_eval(run, mode, model=model)
            exact, f1 = fmt.pct(cell(r, "json_exact")), fmt.f1(cell(r, "field_f1"))
            name = tt(main if run else short_model(model))
            out.append(row([f"{mode}, {kind}", name, "", "", exact, f1, "", "--", "--"]))
    return out


SCHEMA_METRICS = ("json_exact", "field_f1", "leaf_f1", "compliance")


def _schema_rows(sub: pd.DataFrame) -> list[str]:
    return [row([tt(r["schema"]), str(r["tier"]), fmt.integer(r["n"]),
                 *(fmt.metric(m, r.get(m)) for m in SCHEMA_METRICS)])
            for _, r in sub.iterrows()]  # fmt: skip


def schema_best_worst(frames: Frames, reference: dict[str, Any], k: int = 5) -> str:
    name = frames.main_eval_name()
    data = frames.schemas[frames.schemas["name"] == name] if name else pd.DataFrame()
    body = []
    if not data.empty:
        keys = ["json_exact", "field_f1", "schema"]
        best = data.sort_values(keys, ascending=[False, False, True]).head(k)
        worst = data.drop(best.index).sort_values(keys, ascending=[True, True, True]).head(k)
        body = [block_title(f"Best {k}", 7, before=""), *_schema_rows(best),
                block_title(f"Worst {k}", 7), *_schema_rows(worst)]  # fmt: skip
    src = frames.evals.loc[frames.evals["name"] == name, "source"] if name else []
    return latex_table(
        name="schema_best_worst",
        caption=f"Best and worst {k} schemas of the main fine-tuned model "
        f"({tt(name) if name else NOT_RUN}; constrained decoding, test split).",
        colspec="llrrrrr",
        header=[row(["Schema", "Tier", "n", *map(head, SCHEMA_METRICS)])],
        body=body,
        sources=list(src),
        size=r"\small",
        note="Ties are broken by Field F1, then by name; a schema is listed once. Few examples per schema: "
        "read as a ranking, not as precise rates.",
    )


FIT_COLUMNS = (("train sample", FIT_SPLIT), ("test", "test"), ("held-out", "holdout"))


def _fit_cells(r: pd.Series | None) -> list[str]:
    if r is None:
        return [span(3, NOT_RUN)]
    return [fmt.pct(r["json_exact"]), fmt.ci(r), fmt.f1(r.get("leaf_f1"))]


def generalisation(frames: Frames, reference: dict[str, Any]) -> str:
    """Each fine-tuned run on a sample of its own training split, on the test split and on the
    held-out schemas (constrained decoding): a model that fits its training data scores higher on
    the first; equal scores mean it has not learnt even what it saw (under-fitting)."""
    d = frames.design
    body, sources, sizes = [], [], set()
    for run in d.train_runs:
        hits = [frames.find_eval(run, "constrained", split) for _, split in FIT_COLUMNS]
        sources += [h["source"] for h in hits if h is not None]
        sizes |= {int(hits[0]["n"])} if hits[0] is not None else set()
        label = tt(run) + (f" ({OURS_LABEL})" if d.role_of(run) == "ours" else "")
        body.append(row([label, *(c for h in hits for c in _fit_cells(h))]))  # run names the model
    return latex_table(
        name="generalisation",
        caption="Each fine-tuned run on examples it was trained on (a sample of its training "
        "split), on the test split (unseen examples of the same schemas) and on the held-out "
        "schemas; constrained decoding. 95\\% Wilson intervals for JSONExact.",
        colspec="l" + "rcr" * len(FIT_COLUMNS),
        header=[
            row(["", *(span(3, title) for title, _ in FIT_COLUMNS)]),
            r"\cmidrule(lr){2-4}\cmidrule(lr){5-7}\cmidrule(lr){8-10}",
            row(["Run", *[head("json_exact"), "95\\% CI", head("leaf_f1")] * len(FIT_COLUMNS)]),
        ],
        body=body,
        sources=sources,
        note=f"Train sample: the first {' or '.join(map(str, sorted(sizes))) or NOT_RUN} examples "
        "of the shuffled training split (dvc.yaml's \\texttt{eval\\_trainfit}), which every run "
        "above trained on.",
        colsep="3pt",
    )  # fmt: skip


ERROR_HEAD = {
    "correct": "Correct", "field_omission": "Omission", "type_error": "Type",
    "value_mismatch": "Value", "structure_error": "Structure", "invalid_json": "Invalid JSON",
}  # fmt: skip


def error_analysis(frames: Frames, reference: dict[str, Any]) -> str:
    err = frames.errors
    cats = error_categories(err["category"]) or list(ERROR_CATEGORIES)
    evals = frames.headline()
    body = []
    for _, r in evals.iterrows():
        sub = err[err["name"] == r["name"]].set_index("category")
        body.append(row([model_cell(r), setting(r), r["mode"], *(_err_cell(sub, c) for c in cats)]))
    if not body:
        body.append(row([span(3 + len(cats), NOT_RUN)]))
    ref = reference.get("errors")
    if ref:
        title = (f"{PAPER} (Section {ref['section']}; {ref['n_inspected']} errors of "
                 "Maaza-SLM-360M, labelled by hand; \\% of errors)")  # fmt: skip
        shares = ["--" if c == "correct" else fmt.paper_pct(ref["share"].get(c)) for c in cats]
        body.append(block_title(title, 3 + len(cats)))
        body.append(row(["Maaza-SLM-360M", "fine-tuned", "greedy", *shares]))
    return latex_table(
        name="error_analysis",
        caption="Error categories, computed for every example (count, and in brackets the share of "
        "the model's errors).",
        colspec="lll" + "r" * len(cats),
        header=[row(["Model", "Setting", "Decoding", *[ERROR_HEAD.get(c, tex_escape(c)) for c in cats]])],
        body=body,
        sources=list(evals["source"]),
        note="Each wrong output gets its most basic error: invalid JSON, then structure, omission, "
        "type, and value mismatch (wrong or invented value, extra key; the paper's \\emph{value "
        "hallucination})." + ours_note(frames),
    )  # fmt: skip


def _err_cell(sub: pd.DataFrame, cat: str) -> str:
    if cat not in sub.index:
        return "0"
    count, share = sub.loc[cat, "count"], sub.loc[cat, "share_of_errors"]
    return str(int(count)) if fmt.missing(share) else f"{int(count)} ({100 * share:.0f}\\%)"


# The compute table's columns after the run's name; "trainable": the count and its share.
COMPUTE_COLUMNS = ("r", "n_train_examples", "epochs", "steps", "wall_time_s", "real_tokens_per_s",
                   "roof_fraction", "trainable", "adapter_mb", "final_loss")  # fmt: skip


def _compute_cell(r: pd.Series, key: str) -> str:
    if key == "trainable":
        share = fmt.column("trainable_pct", r["trainable_pct"])
        return f"{fmt.column('params_trainable', r['params_trainable'])} ({share})"
    return fmt.column(key, r.get(key))


def compute(frames: Frames, reference: dict[str, Any]) -> str:
    trials = set(frames.design.trial_runs)  # the search table gives their training time
    runs = frames.runs[~frames.runs["run"].isin(trials)]
    body = []
    for _, r in runs.iterrows():
        cells = [_compute_cell(r, k) for k in COMPUTE_COLUMNS]
        body.append(row([run_cell(frames, r["run"]), *cells]))
    inv = frames.inventory
    for run in (r for r in inv.missing_runs if r not in trials):
        steps = inv.in_progress.get(run)
        status = f"running ({steps} steps logged)" if steps else NOT_RUN
        body.append(row([run_cell(frames, run), span(10, status, "l")]))
    comp = reference.get("compute")
    if comp:
        body.append(block_title(f"{PAPER} (Sections {comp['section']})", 11))
        what = span(5, f"Maaza-MLM-135M on {tex_escape(comp['hardware'])}", "@{}l")
        body.append(row([what, fmt.duration(comp["train_time_s"]), span(5, "--", "l")]))
    return latex_table(
        name="compute",
        caption="Training compute of every run: wall time, real (non-padding) tokens per second and "
        "their fraction of the measured matmul roof of this CPU in the dtype of the frozen base "
        "weights (bf16 where native), trainable parameters, adapter size.",
        colspec="lrrrrrrrrrr",
        header=[row(["Run", "$r$", "Train ex.", "Ep.", "Steps", "Time", "Tok/s", "Roof", "Trainable", "MB", "Loss"])],
        body=body,
        sources=[*runs["source"], REFERENCE_FILE],
        note="Hardware: " + hardware_text(frames) + "." + ours_note(frames),
    )  # fmt: skip


def dataset(frames: Frames, reference: dict[str, Any]) -> str:
    """Examples per split and tier, and each validation check's pass rate (data/report.json)."""
    d = frames.data
    counts = d.counts if d else {}
    splits = list(counts)
    tiers = tier_order(t for c in counts.values() for t in c.by_tier) or list(TIERS)
    body = [row([tex_escape(s), fmt.integer(c.n), *(fmt.integer(c.by_tier.get(t, 0)) for t in tiers),
                 fmt.integer(len(c.by_schema))]) for s, c in counts.items()]  # fmt: skip
    checks = sorted({k for sc in d.checks.values() for k in sc.checks}) if d else []
    if checks:
        body.append(block_title("Validation checks: pass rate (failed examples)", 3 + len(tiers)))
        for c in checks:
            cells = [_check_cell(d.checks.get(s), c) for s in splits]
            body.append(row([tt(c), span(1 + len(tiers) + 1, " / ".join(cells), "l")]))
    return latex_table(
        name="dataset",
        caption="Generated data: examples per split and complexity tier, and the pass rate of each "
        "validation check (" + " / ".join(tex_escape(s) for s in splits) + ").",
        colspec="lr" + "r" * len(tiers) + "r",
        header=[row(["Split", "n", *tiers, "Schemas"])],
        body=body,
        sources=[frames.data_source or ""],
        size=r"\small",
    )


def _check_cell(sc: Any, check: str) -> str:
    cc = sc.checks.get(check) if sc else None
    return NOT_RUN if cc is None else f"{fmt.pct(cc.pass_rate)} ({cc.failed})"


def search(frames: Frames, reference: dict[str, Any]) -> str:
    """The recipe search: each trial on the validation split (constrained), its train-sample score
    where evaluated, and its training time. Test is not a column: it was not looked at."""
    body = [
        row([tt(r["trial"]), tt(short_model(r["model"] or "")), fmt.pct(r["json_exact"]),
             NOT_RUN if fmt.missing(r["json_exact"]) else fmt.ci(r), fmt.pct(r["fit_exact"]),
             fmt.num(r["train_minutes"], 1)])
        for _, r in frames.search.iterrows()
    ]  # fmt: skip
    ex = head("json_exact")
    return latex_table(
        name="search",
        caption="Recipe search: every trial scored on the validation split (constrained decoding; "
        "95\\% Wilson interval of JSONExact), on a sample of its own training split where that "
        "was evaluated, and its training time. The test split was not looked at while choosing.",
        colspec="llrcrr",
        header=[
            row(["Trial", "Model", f"Val {ex}", "95\\% CI", f"Train-sample {ex}", "Train min"])
        ],
        body=body,
        sources=[s for srcs in frames.search.get("sources", []) for s in srcs],
        empty="no search trials declared (params.yaml search.runs)",
        note="Trials named \\texttt{screen-*} train a fraction of their planned optimizer steps "
        "(\\texttt{step\\_fraction} in params.yaml) as a cheap first screen.",
    )


def paired_tests(frames: Frames, reference: dict[str, Any]) -> str:
    """Every comparison the text makes, with its test, p-value, the reading the test allows and
    the seed spread it is set against (maaza.claims)."""
    body = []
    for _, r in claims.for_report(frames, reference).iterrows():
        other = fmt.pct(r["b_exact"]) + (DAGGER if r["b"] == "reported" else "")
        done = r["test"] not in ("", "none") and not fmt.missing(r["p"])
        seed = (NOT_RUN if r["seeds_declared"] else "--") if fmt.missing(r["seed_range"]) else (
            f"{100 * r['seed_range']:.1f}\\,pp ({'within' if r['within_seed'] else 'beyond'})")  # fmt: skip
        body.append(row([tex_escape(r["what"]), fmt.pct(r["a_exact"]), other,
                         r["test"] or NOT_RUN, tex_escape(r["detail"]),
                         f"${claims.p_number(r['p'])}$".replace("$= ", "$") if done else NOT_RUN,
                         {"same": "n.s."}.get(r["direction"], r["direction"]) if done else NOT_RUN,
                         seed]))  # fmt: skip
    sources = [s for srcs in claims.for_report(frames, reference)["sources"] for s in srcs]
    return latex_table(
        name="paired_tests",
        caption="Every comparison the text makes (side A vs side B, JSONExact), with its exact "
        "test: McNemar on the same examples (discordant pairs: right only under A : only under B), "
        "Fisher on different examples ($k/n$ of each side), binomial against a rate the original "
        f"paper reports ($^\\dagger$; a different test set). Above/below: $p < {claims.ALPHA:g}$, else n.s. "
        "(not significant). Seed spread: the larger range of JSONExact over a side's training seeds, "
        "and whether the difference lies within it.",
        colspec="lrrlcrlr",
        header=[row(["Comparison (A vs B)", "A", "B", "Test", "Counts", "$p$", "A is", "Seed spread"])],
        body=body or [row([span(8, NOT_RUN)])],
        sources=sources,
        colsep="3pt",
    )  # fmt: skip


def seed_spread(frames: Frames, reference: dict[str, Any]) -> str:
    """Each run with seed replicates (params.yaml seeds): JSONExact per seed, mean and range."""
    plan = frames.design.plan
    table = claims.seed_table(frames.evals, plan, plan.run_names)
    body = []
    for _, r in table.iterrows():
        per_seed = ", ".join(NOT_RUN if v is None else fmt.pct(v) for v in r["values"].values())
        spread = NOT_RUN if fmt.missing(r["range"]) else f"{100 * r['range']:.1f}\\,pp"
        body.append(row([run_cell(frames, r["run"]), f"{r['n_run']} of {r['seeds']}", per_seed,
                         fmt.pct(r["mean"]) if r["n_run"] else NOT_RUN, spread]))  # fmt: skip
    return latex_table(
        name="seed_spread",
        caption="Runs trained again with other seeds (params.yaml \\texttt{seeds}; nothing else "
        "changed): JSONExact on the test split with constrained decoding, per seed (the run's own "
        "seed first), mean and range (max $-$ min).",
        colspec="lclrr",
        header=[row(["Run", "Seeds run", "JSONExact per seed", "Mean", "Range"])],
        body=body or [row([span(5, "no seed replicates declared (params.yaml seeds)")])],
        sources=[s for srcs in table["sources"] for s in srcs],
    )  # fmt: skip


TABLES: dict[str, TableFn] = {t.__name__: t for t in (  # in the paper's order
    dataset, main_results, tier_breakdown, ablations, schema_best_worst,
    generalisation, error_analysis, compute, search, paired_tests, seed_spread)}  # fmt: skip
