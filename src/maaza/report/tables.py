"""The report's LaTeX tables, each `Frames, reference -> str`; captions and layout: tables.yaml.

    tex = TABLES["main_results"](frames, reference)     # a complete `table` float

Each starts with a comment naming its result files; a missing result reads `\\notrun`. The
original paper's numbers sit in their own block, headed with the section they come from.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd

from maaza import claims
from maaza.metrics import ERROR_CATEGORIES
from maaza.plan import FIT_SPLIT, MODES
from maaza.report import fmt
from maaza.report.fmt import DAGGER, NOT_RUN, Prose, block_title, head, row, span, table, tt
from maaza.report.fmt import tex_escape as esc
from maaza.report.frames import OURS_LABEL, Frames, cell, error_categories, short_model, tier_order
from maaza.report.original import SOURCE
from maaza.schemas import TIERS

TableFn = Callable[[Frames, dict[str, Any]], str]
PAPER = "Reported by the original paper"
ADD_SPACE = r"\addlinespace[2pt]"  # before a block title instead of a rule


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


# ----------------------------------------------------------------------------- results
MAIN_METRICS = ("json_exact", "ci", "field_f1", "leaf_f1", "compliance", "latency_mean_s")
RESULT_HEADER = row(
    [
        "Model",
        "Params",
        "Setting",
        "Decoding",
        *("95\\% CI" if m == "ci" else head(m) for m in MAIN_METRICS),
    ]
)


def _results_table(
    name: str, frames: Frames, reference: dict[str, Any] | None, **fields: Any
) -> str:
    """The main results' layout, shared by our test split and an external dataset's; the
    paper's rows beside them unless `reference` is None."""
    rows, body = frames.headline_rows(), []
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
    paper = _paper_main_rows(reference) if reference else []
    sources = [*sources_of(rows), *([SOURCE] if paper else [])]
    return table(name, [RESULT_HEADER], body + paper, sources, note_end=ours_note(frames), **fields)


def main_results(frames: Frames, reference: dict[str, Any]) -> str:
    return _results_table("main_results", frames, reference)


PAPER_DATASET = "edgejson"  # the external dataset's name under which the paper's numbers apply


def external_results(frames: Frames, reference: dict[str, Any]) -> str:
    """Runs trained on the external dataset's train file and tested on its test file (the
    paper's protocol when the dataset is EdgeJSON: then the paper's rows sit beside them)."""
    ext = frames.external
    if ext is None:
        return ""
    name = str(ext.design.plan.external_name)
    paper, spec = name == PAPER_DATASET, fmt.TABLES["external_results"]
    runs = ", ".join(tt(r.name) for r in ext.design.plan.runs)
    return Prose(spec["intro"]).substitute(dataset=tt(name)) + _results_table(
        "external_results",
        ext,
        reference if paper else None,
        dataset=tt(name),
        beside=spec["beside"] if paper else ".",
        runs=runs,
        key=esc(name),
    )


def _paper_main_rows(reference: dict[str, Any]) -> list[str]:
    models = reference.get("models", [])
    if not models:
        return []
    out = [
        block_title(
            f"{PAPER} (Section {models[0]['overall']['section']}; its test split of "
            f"{reference['test_split']['n']} examples)",
            10,
        )
    ]
    for m in models:
        o, est = m["overall"], m["overall"].get("estimated", False)
        lat = fmt.integer(o["latency_ms"]) + r"\,ms" if "latency_ms" in o else "--"
        out.append(
            row(
                [
                    esc(m["label"]),
                    f"{m['params_m']}M",
                    m["kind"],
                    "greedy",
                    fmt.paper_pct(o["json_exact"], est),
                    "--",
                    fmt.paper_f1(o["field_f1"], est),
                    "--",
                    fmt.paper_pct(o.get("compliance"), est),
                    lat,
                ]
            )
        )
    return out


def tier_breakdown(frames: Frames, reference: dict[str, Any]) -> str:
    rows, tiers = frames.headline_rows(), frames.tiers
    rows = rows[rows["split"] == "test"]
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
        cells = [
            fmt.metric(m, sub.loc[t, m] if t in sub.index else None)
            for t in order
            for m in ("json_exact", "field_f1")
        ]
        body.append(row([model_cell(r), setting(r), r["mode"], *cells]))
    papers = [m for m in reference.get("models", []) if m.get("by_tier")]
    if papers:  # the paper's rows
        paper_n = reference["test_split"]["by_tier"]
        sizes = ", ".join(f"{t} {paper_n[t]}" for t in order if t in paper_n)
        title = f"{PAPER} (Section {papers[0]['by_tier']['section']}; n = {sizes})"
        body.append(block_title(title, 3 + 2 * len(order)))
    for m in papers:
        bt, est = m["by_tier"], m["by_tier"].get("estimated", False)
        cells = [
            c
            for t in order
            for c in (
                fmt.paper_pct(bt.get(t, {}).get("json_exact"), est),
                fmt.paper_f1(bt.get(t, {}).get("field_f1"), est),
            )
        ]
        body.append(row([esc(m["label"]), m["kind"], "greedy", *cells]))
    return table(
        "tier_breakdown",
        header,
        body,
        [*sources_of(rows), SOURCE],
        colspec="lll" + "rr" * len(order),
        note_end=ours_note(frames),
    )


# ----------------------------------------------------------------------------- ablations
FACTOR_TITLE = {"rank": "LoRA rank $r$", "data": "Training data", "loss": "Loss", "other": "Other"}
LOSS_NAMES = {"response": "response tokens only", "full": "full sequence"}
PAPER_KEY = {"rank": "r", "data": "fraction"}  # an ablation point's value in paper_reference


def _ablation_setting(factor: str, value: Any) -> str:
    if factor == "rank":
        return f"$r={value}$"
    if factor == "data":
        return f"{100 * float(value):.0f}\\%"
    return LOSS_NAMES.get(str(value), esc(value)) if factor == "loss" else esc(value)


def ablations(frames: Frames, reference: dict[str, Any]) -> str:
    body, paper = [], reference.get("ablations", {})
    for factor, group in frames.ablations.groupby("factor", sort=False):
        body.append(block_title(FACTOR_TITLE[factor], 9, before=ADD_SPACE))
        points = paper.get(factor, {}).get("points", []) if factor in PAPER_KEY else []
        for _, p in group.iterrows():
            ref = next((x for x in points if float(x[PAPER_KEY[factor]]) == float(p["value"])), {})
            name = tt(p["run"]) + (r" {\scriptsize(main)}" if p["is_main"] else "")
            body.append(
                row(
                    [
                        _ablation_setting(factor, p["value"]),
                        name,
                        fmt.params(p["params_trainable"]),
                        fmt.integer(p["n_train_examples"]),
                        fmt.pct(p["json_exact"]),
                        fmt.f1(p["field_f1"]),
                        fmt.duration(p["wall_time_s"]),
                        fmt.paper_pct(ref.get("json_exact")),
                        f"{ref['time_s']}\\,s" if ref else "--",
                    ]
                )
            )
    main = frames.design.main_run
    if main:  # the main run's decoding modes, fine-tuned and zero-shot
        model = frames.design.run_model(main)
        body.append(block_title("Decoding", 9, before=ADD_SPACE))
        for kind, run in (("fine-tuned", main), ("zero-shot", None)):
            for mode in MODES:
                r = frames.find_eval(run, mode, model=model)
                exact, f1 = fmt.pct(cell(r, "json_exact")), fmt.f1(cell(r, "field_f1"))
                name = tt(main if run else short_model(model))
                body.append(row([f"{mode}, {kind}", name, "", "", exact, f1, "", "--", "--"]))
    sections = [paper.get(f, {}).get("section") for f in ("rank", "data")]
    header = [
        row([span(7, "Ours"), span(2, r"\shortstack{Reported by the\\original paper}")]),
        r"\cmidrule(r){1-7}\cmidrule(l){8-9}",
        row(
            [
                "Setting",
                "Run",
                "Trainable",
                "Train ex.",
                head("json_exact"),
                head("field_f1"),
                "Time",
                head("json_exact"),
                "Time (GPU)",
            ]
        ),
    ]
    return table(
        "ablations",
        header,
        body,
        [*sources_of(frames.evals), *frames.runs["source"]],
        sections=", ".join(s for s in sections if s),
    )


# ----------------------------------------------------------------------------- schemas, fit
SCHEMA_METRICS = ("json_exact", "field_f1", "leaf_f1", "compliance")


def schema_best_worst(frames: Frames, reference: dict[str, Any], k: int = 5) -> str:
    name = frames.main_eval_name()
    data = frames.schemas[frames.schemas["name"] == name] if name else pd.DataFrame()
    body = []
    if not data.empty:
        keys = ["json_exact", "field_f1", "schema"]
        best = data.sort_values(keys, ascending=[False, False, True]).head(k)
        worst = data.drop(best.index).sort_values(keys).head(k)
        for title, rows, before in ((f"Best {k}", best, ""), (f"Worst {k}", worst, r"\midrule")):
            body.append(block_title(title, 7, before=before))
            body += [
                row(
                    [
                        tt(r["schema"]),
                        str(r["tier"]),
                        fmt.integer(r["n"]),
                        *(fmt.metric(m, r.get(m)) for m in SCHEMA_METRICS),
                    ]
                )
                for _, r in rows.iterrows()
            ]
    src = frames.evals.loc[frames.evals["name"] == name, "source"] if name else []
    header = [row(["Schema", "Tier", "n", *map(head, SCHEMA_METRICS)])]
    return table(
        "schema_best_worst", header, body, list(src), k=k, eval=tt(name) if name else NOT_RUN
    )


FIT_COLUMNS = (("train sample", FIT_SPLIT), ("test", "test"), ("held-out", "holdout"))


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
        cells = [
            c
            for h in hits
            for c in (
                [span(3, NOT_RUN)]
                if h is None
                else [fmt.pct(h["json_exact"]), fmt.ci(h), fmt.f1(h.get("leaf_f1"))]
            )
        ]
        label = tt(run) + (f" ({OURS_LABEL})" if d.role_of(run) == "ours" else "")
        body.append(row([label, *cells]))  # the run's name says its model
    header = [
        row(["", *(span(3, title) for title, _ in FIT_COLUMNS)]),
        r"\cmidrule(lr){2-4}\cmidrule(lr){5-7}\cmidrule(lr){8-10}",
        row(["Run", *[head("json_exact"), "95\\% CI", head("leaf_f1")] * len(FIT_COLUMNS)]),
    ]
    return table(
        "generalisation",
        header,
        body,
        sources,
        sizes=" or ".join(map(str, sorted(sizes))) or NOT_RUN,
    )


# ----------------------------------------------------------------------------- errors, compute
ERROR_HEAD = {
    "correct": "Correct",
    "field_omission": "Omission",
    "type_error": "Type",
    "value_mismatch": "Value",
    "structure_error": "Structure",
    "invalid_json": "Invalid JSON",
}


def _err_cell(sub: pd.DataFrame, cat: str) -> str:
    if cat not in sub.index:
        return "0"
    count, share = sub.loc[cat, "count"], sub.loc[cat, "share_of_errors"]
    return str(int(count)) if fmt.missing(share) else f"{int(count)} ({100 * share:.0f}\\%)"


def error_analysis(frames: Frames, reference: dict[str, Any]) -> str:
    err, evals = frames.errors, frames.headline()
    cats = error_categories(err["category"]) or list(ERROR_CATEGORIES)
    body = []
    for _, r in evals.iterrows():
        sub = err[err["name"] == r["name"]].set_index("category")
        body.append(row([model_cell(r), setting(r), r["mode"], *(_err_cell(sub, c) for c in cats)]))
    if not body:
        body.append(row([span(3 + len(cats), NOT_RUN)]))
    ref = reference.get("errors")
    if ref:
        title = (
            f"{PAPER} (Section {ref['section']}; {ref['n_inspected']} errors of "
            "Maaza-SLM-360M, labelled by hand; \\% of errors)"
        )
        shares = ["--" if c == "correct" else fmt.paper_pct(ref["share"].get(c)) for c in cats]
        body.append(block_title(title, 3 + len(cats)))
        body.append(row(["Maaza-SLM-360M", "fine-tuned", "greedy", *shares]))
    header = [row(["Model", "Setting", "Decoding", *[ERROR_HEAD.get(c, esc(c)) for c in cats]])]
    return table(
        "error_analysis",
        header,
        body,
        list(evals["source"]),
        colspec="lll" + "r" * len(cats),
        note_end=ours_note(frames),
    )


# The compute table's columns after the run's name; "trainable": the count and its share.
COMPUTE_COLUMNS = (
    "r",
    "n_train_examples",
    "epochs",
    "steps",
    "wall_time_s",
    "real_tokens_per_s",
    "roof_fraction",
    "trainable",
    "adapter_mb",
    "final_loss",
)
COMPUTE_HEADER = (
    "Run",
    "$r$",
    "Train ex.",
    "Ep.",
    "Steps",
    "Time",
    "Tok/s",
    "Roof",
    "Trainable",
    "MB",
    "Loss",
)


def _compute_cell(r: pd.Series, key: str) -> str:
    if key == "trainable":
        share = fmt.column("trainable_pct", r["trainable_pct"])
        return f"{fmt.column('params_trainable', r['params_trainable'])} ({share})"
    return fmt.column(key, r.get(key))


def compute(frames: Frames, reference: dict[str, Any]) -> str:
    trials = set(frames.design.trial_runs)  # the search table gives their training time
    runs = frames.runs[~frames.runs["run"].isin(trials)]
    body = [
        row([run_cell(frames, r["run"]), *(_compute_cell(r, k) for k in COMPUTE_COLUMNS)])
        for _, r in runs.iterrows()
    ]
    inv = frames.inventory
    for run in (r for r in inv.missing_runs if r not in trials):
        steps = inv.in_progress.get(run)
        status = f"running ({steps} steps logged)" if steps else NOT_RUN
        body.append(row([run_cell(frames, run), span(10, status, "l")]))
    comp = reference.get("compute")
    if comp:
        body.append(block_title(f"{PAPER} (Sections {comp['section']})", 11))
        what = span(5, f"Maaza-MLM-135M on {esc(comp['hardware'])}", "@{}l")
        body.append(row([what, fmt.duration(comp["train_time_s"]), span(5, "--", "l")]))
    machines = frames.runs.reindex(columns=["cpu", "cores", "torch"]).drop_duplicates()
    hardware = "; ".join(
        f"{esc(c.cpu or 'unknown CPU')}, {c.cores or '?'} cores, torch {esc(c.torch or '?')}"
        for c in machines.itertuples()
    )
    return table(
        "compute",
        [row(COMPUTE_HEADER)],
        body,
        [*runs["source"], SOURCE],
        hardware=hardware or NOT_RUN,
        note_end=ours_note(frames),
    )


# ----------------------------------------------------------------------------- data, search
def dataset(frames: Frames, reference: dict[str, Any]) -> str:
    """Examples per split and tier, and each validation check's pass rate (data/report.json)."""
    d = frames.data
    counts = d.counts if d else {}
    tiers = tier_order(t for c in counts.values() for t in c.by_tier) or list(TIERS)
    body = [
        row(
            [
                esc(s),
                fmt.integer(c.n),
                *(fmt.integer(c.by_tier.get(t, 0)) for t in tiers),
                fmt.integer(len(c.by_schema)),
            ]
        )
        for s, c in counts.items()
    ]
    checks = sorted({k for sc in d.checks.values() for k in sc.checks}) if d else []
    if checks:
        body.append(block_title("Validation checks: pass rate (failed examples)", 3 + len(tiers)))
    for check in checks:
        found = [d.checks[s].checks.get(check) if s in d.checks else None for s in counts]
        cells = [NOT_RUN if c is None else f"{fmt.pct(c.pass_rate)} ({c.failed})" for c in found]
        body.append(row([tt(check), span(1 + len(tiers) + 1, " / ".join(cells), "l")]))
    return table(
        "dataset",
        [row(["Split", "n", *tiers, "Schemas"])],
        body,
        [frames.data_source or ""],
        colspec="lr" + "r" * len(tiers) + "r",
        splits=" / ".join(esc(s) for s in counts),
    )


def search(frames: Frames, reference: dict[str, Any]) -> str:
    """The recipe search: each trial on the validation split (constrained), its train-sample score
    where evaluated, and its training time. Test is not a column: it was not looked at."""
    body = [
        row(
            [
                tt(r["trial"]),
                tt(short_model(r["model"] or "")),
                fmt.pct(r["json_exact"]),
                NOT_RUN if fmt.missing(r["json_exact"]) else fmt.ci(r),
                fmt.pct(r["fit_exact"]),
                fmt.num(r["train_minutes"], 1),
            ]
        )
        for _, r in frames.search.iterrows()
    ]
    ex = head("json_exact")
    header = [row(["Trial", "Model", f"Val {ex}", "95\\% CI", f"Train-sample {ex}", "Train min"])]
    sources = [s for srcs in frames.search.get("sources", []) for s in srcs]
    return table("search", header, body, sources)


# ----------------------------------------------------------------------------- tests, seeds
def paired_tests(frames: Frames, reference: dict[str, Any]) -> str:
    """Every comparison the text makes, with its test, p-value, the reading the test allows and
    the seed spread it is set against (maaza.claims)."""
    tests, body = claims.for_report(frames, reference), []
    for _, r in tests.iterrows():
        other = fmt.pct(r["b_exact"]) + (DAGGER if r["b"] == "reported" else "")
        done = r["test"] not in ("", "none") and not fmt.missing(r["p"])
        seed = (
            (NOT_RUN if r["seeds_declared"] else "--")
            if fmt.missing(r["seed_range"])
            else (
                f"{100 * r['seed_range']:.1f}\\,pp ({'within' if r['within_seed'] else 'beyond'})"
            )
        )
        body.append(
            row(
                [
                    esc(r["what"]),
                    fmt.pct(r["a_exact"]),
                    other,
                    r["test"] or NOT_RUN,
                    esc(r["detail"]),
                    f"${claims.p_number(r['p'])}$".replace("$= ", "$") if done else NOT_RUN,
                    {"same": "n.s."}.get(r["direction"], r["direction"]) if done else NOT_RUN,
                    seed,
                ]
            )
        )
    header = [
        row(["Comparison (A vs B)", "A", "B", "Test", "Counts", "$p$", "A is", "Seed spread"])
    ]
    sources = [s for srcs in tests["sources"] for s in srcs]
    return table("paired_tests", header, body, sources, alpha=f"{claims.ALPHA:g}")


def seed_spread(frames: Frames, reference: dict[str, Any]) -> str:
    """Each run with seed replicates (params.yaml seeds): JSONExact per seed, mean and range."""
    plan = frames.design.plan
    seeds = claims.seed_table(frames.evals, plan, plan.run_names)
    body = []
    for _, r in seeds.iterrows():
        per_seed = ", ".join(NOT_RUN if v is None else fmt.pct(v) for v in r["values"].values())
        spread = NOT_RUN if fmt.missing(r["range"]) else f"{100 * r['range']:.1f}\\,pp"
        body.append(
            row(
                [
                    run_cell(frames, r["run"]),
                    f"{r['n_run']} of {r['seeds']}",
                    per_seed,
                    fmt.pct(r["mean"]) if r["n_run"] else NOT_RUN,
                    spread,
                ]
            )
        )
    header = [row(["Run", "Seeds run", "JSONExact per seed", "Mean", "Range"])]
    return table("seed_spread", header, body, [s for srcs in seeds["sources"] for s in srcs])


TABLES: dict[str, TableFn] = {
    t.__name__: t
    for t in (  # in the paper's order
        dataset,
        main_results,
        tier_breakdown,
        ablations,
        schema_best_worst,
        generalisation,
        error_analysis,
        compute,
        search,
        paired_tests,
        seed_spread,
    )
}
