"""The report's LaTeX tables, each `Frames, reference -> str` (captions, notes and fixed headers:
tables.yaml). A missing result reads `\\notrun`; the original paper's rows sit in their own block."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd

from maaza import claims
from maaza.metrics import ERROR_CATEGORIES
from maaza.plan import FIT_SPLIT, MODES
from maaza.report import fmt
from maaza.report.fmt import DAGGER, LAYOUT, NOT_RUN, Prose, block_title, head, row, span, table, tt
from maaza.report.fmt import tex_escape as esc
from maaza.report.frames import (
    OURS_LABEL,
    Frames,
    any_full,
    cell,
    error_categories,
    short_model,
    tier_order,
)
from maaza.report.original import ABLATION_KEY, SOURCE
from maaza.schemas import TIERS

TableFn = Callable[[Frames, dict[str, Any]], str]
Columns = dict[str, Callable[[pd.Series], str]]  # header -> the cell of a row
TABLES: dict[str, TableFn] = {}  # in the paper's order
PAPER = "Reported by the original paper"
ADD_SPACE = r"\addlinespace[2pt]"  # before a block title instead of a rule


def tabular(fn: TableFn) -> TableFn:
    TABLES[fn.__name__] = fn
    return fn


def rows(frame: pd.DataFrame, columns: Columns) -> list[str]:
    return [row(cell(r) for cell in columns.values()) for _, r in frame.iterrows()]


def sources_of(frame: pd.DataFrame, key: str = "source") -> list[str]:
    """A frame's source files: a column of paths, or of lists of paths."""
    values = frame[key].dropna() if key in frame else []
    return [s for v in values for s in (v if isinstance(v, list) else [v])]


def setting(r: pd.Series) -> str:
    base = "zero-shot" if r["kind"] == "zero-shot" else "fine-tuned"
    return base if r["split"] == "test" else f"{base}, {r['split']}"


def model_cell(r: pd.Series) -> str:
    """Our recipe's rows share the main run's model, so they say so."""
    return tt(short_model(r["model"])) + (f", {OURS_LABEL}" if r.get("role") == "ours" else "")


def ours_note(frames: Frames) -> str:
    """tables.yaml's `ours_note` when params.yaml has a run of our recipe, else nothing; its
    `models` form when one of them trains another base model than the main run's."""
    d = frames.design
    runs = ", ".join(tt(r) for r in d.ours_runs)
    same = all(d.run_model(r) == d.run_model(d.main_run) for r in d.ours_runs)
    note = LAYOUT["ours_note"]["main_model" if same else "models"]
    return Prose(note).substitute(runs=runs) if runs else ""


def run_cell(frames: Frames, run: str) -> str:
    """A run name, marked when it is the paper's recipe or ours (same base model, both)."""
    tag = {"paper_recipe": "paper recipe", "ours": OURS_LABEL}.get(frames.design.role_of(run))
    return tt(run) + (rf" {{\scriptsize({tag})}}" if tag else "")


@tabular
def dataset(frames: Frames, reference: dict[str, Any]) -> str:
    """Examples per split and tier, and each validation check's pass rate (data/report.json)."""
    d = frames.data
    counts = d.counts if d else {}
    tiers = tier_order(t for c in counts.values() for t in c.by_tier) or list(TIERS)
    body = []
    for split, c in counts.items():
        by_tier = [fmt.integer(c.by_tier.get(t, 0)) for t in tiers]
        body.append(row([esc(split), fmt.integer(c.n), *by_tier, fmt.integer(len(c.by_schema))]))
    checks = sorted({k for sc in d.checks.values() for k in sc.checks}) if d else []
    if checks:
        body.append(block_title("Validation checks: pass rate (failed examples)", 3 + len(tiers)))
    for check in checks:
        found = [d.checks[s].checks.get(check) if s in d.checks else None for s in counts]
        cells = [NOT_RUN if c is None else f"{fmt.pct(c.pass_rate)} ({c.failed})" for c in found]
        body.append(row([tt(check), span(1 + len(tiers) + 1, " / ".join(cells), "l")]))
    header = [row(["Split", "n", *tiers, "Schemas"])]
    splits = " / ".join(esc(s) for s in counts)
    sources, colspec = [frames.data_source or ""], "lr" + "r" * len(tiers) + "r"
    return table("dataset", header, body, sources, colspec=colspec, splits=splits)


@tabular
def main_results(frames: Frames, reference: dict[str, Any]) -> str:
    return _results_table("main_results", frames, reference)


MAIN_METRICS = ("json_exact", "ci", "field_f1", "leaf_f1", "compliance", "latency_mean_s")


def _results_table(name: str, frames: Frames, reference: dict | None, **fields: Any) -> str:
    """The main results' layout (our test split, or an external dataset's); the paper's rows
    beside them unless `reference` is None."""
    headline, body = frames.headline_rows(), []
    for _, r in headline.iterrows():
        n_params = frames.model_params.get(r["model"])  # unknown until a run or eval reports it
        params = "--" if fmt.missing(n_params) else fmt.params(n_params)
        cells = [model_cell(r), params, setting(r), r["mode"]]
        if fmt.missing(r.get("json_exact")):
            cells.append(span(6, NOT_RUN))
        else:
            cells += [fmt.ci(r) if m == "ci" else fmt.metric(m, r.get(m)) for m in MAIN_METRICS]
        body.append(row(cells))
    if headline.empty:
        body.append(row([span(10, NOT_RUN)]))
    paper = _paper_main_rows(reference) if reference else []
    sources = [*sources_of(headline), *([SOURCE] if paper else [])]
    metrics = ("95\\% CI" if m == "ci" else head(m) for m in MAIN_METRICS)
    header = [row(["Model", "Params", "Setting", "Decoding", *metrics])]
    return table(name, header, body + paper, sources, note_end=ours_note(frames), **fields)


def _paper_main_rows(reference: dict[str, Any]) -> list[str]:
    models = reference.get("models", [])
    if not models:
        return []
    section, n = models[0]["overall"]["section"], reference["test_split"]["n"]
    out = [block_title(f"{PAPER} (Section {section}; its test split of {n} examples)", 10)]
    for m in models:
        o, est = m["overall"], m["overall"].get("estimated", False)
        latency = fmt.integer(o["latency_ms"]) + r"\,ms" if "latency_ms" in o else "--"
        exact, f1 = fmt.paper_pct(o["json_exact"], est), fmt.paper_f1(o["field_f1"], est)
        compliance = fmt.paper_pct(o.get("compliance"), est)
        cells = [esc(m["label"]), f"{m['params_m']}M", m["kind"], "greedy", exact, "--", f1, "--"]
        out.append(row([*cells, compliance, latency]))
    return out


PAPER_DATASET = "edgejson"  # the external dataset's name under which the paper's numbers apply


def external_results(frames: Frames, reference: dict[str, Any]) -> str:
    """Runs trained and tested on the external dataset (beside the paper's rows if EdgeJSON)."""
    ext = frames.external
    if ext is None:
        return ""
    name = str(ext.design.plan.external_name)
    paper, spec = name == PAPER_DATASET, LAYOUT["external_results"]
    runs = ", ".join(tt(r.name) for r in ext.design.plan.runs)
    beside = spec["beside"] if paper else "."
    fields = {"dataset": tt(name), "beside": beside, "runs": runs, "key": esc(name)}
    text = _results_table("external_results", ext, reference if paper else None, **fields)
    return Prose(spec["intro"]).substitute(dataset=tt(name)) + text


@tabular
def tier_breakdown(frames: Frames, reference: dict[str, Any]) -> str:
    headline, tiers = frames.headline_rows(), frames.tiers
    headline = headline[headline["split"] == "test"]
    order = tier_order(tiers["tier"]) or list(TIERS)
    n = tiers[tiers["name"].isin(headline["name"])].groupby("tier")["n"].max()
    header = [
        row(["", "", ""] + [span(2, f"{t} (n={fmt.integer(n.get(t))})") for t in order]),
        "".join(rf"\cmidrule(lr){{{4 + 2 * i}-{5 + 2 * i}}}" for i in range(len(order))),
        row(["Model", "Setting", "Decoding"] + [head("json_exact"), head("field_f1")] * len(order)),
    ]
    body, scores = [], [(t, m) for t in order for m in ("json_exact", "field_f1")]
    for _, r in headline.iterrows():
        sub = tiers[tiers["name"] == r["name"]].set_index("tier")
        cells = [fmt.metric(m, sub.loc[t, m] if t in sub.index else None) for t, m in scores]
        body.append(row([model_cell(r), setting(r), r["mode"], *cells]))
    papers = [m for m in reference.get("models", []) if m.get("by_tier")]
    if papers:  # the paper's rows
        paper_n = reference["test_split"]["by_tier"]
        sizes = ", ".join(f"{t} {paper_n[t]}" for t in order if t in paper_n)
        title = f"{PAPER} (Section {papers[0]['by_tier']['section']}; n = {sizes})"
        body.append(block_title(title, 3 + 2 * len(order)))
    for m in papers:
        bt, est = m["by_tier"], m["by_tier"].get("estimated", False)
        paper_cell = {"json_exact": fmt.paper_pct, "field_f1": fmt.paper_f1}
        cells = [paper_cell[m](bt.get(t, {}).get(m), est) for t, m in scores]
        body.append(row([esc(m["label"]), m["kind"], "greedy", *cells]))
    layout = {"colspec": "lll" + "rr" * len(order), "note_end": ours_note(frames)}
    return table("tier_breakdown", header, body, [*sources_of(headline), SOURCE], **layout)


ABLATION_COLUMNS = ("params_trainable", "n_train_examples", "json_exact", "field_f1", "wall_time_s")


def _ablation_setting(factor: str, value: Any) -> str:
    if factor == "rank":
        return f"$r={value}$"
    if factor == "data":
        return f"{100 * float(value):.0f}\\%"
    losses = LAYOUT["ablations"]["losses"]
    return losses.get(str(value), esc(value)) if factor == "loss" else esc(value)


@tabular
def ablations(frames: Frames, reference: dict[str, Any]) -> str:
    body, paper = [], reference.get("ablations", {})
    for factor, group in frames.ablations.groupby("factor", sort=False):
        body.append(block_title(LAYOUT["ablations"]["factors"][factor], 9, before=ADD_SPACE))
        key = ABLATION_KEY.get(factor)  # the paper's points of this knob, if it reports them
        points = paper.get(factor, {}).get("points", []) if key else []
        for _, p in group.iterrows():
            ref = next((x for x in points if float(x[key]) == float(p["value"])), {})
            name = tt(p["run"]) + (r" {\scriptsize(main)}" if p["is_main"] else "")
            cells = [fmt.column(k, p[k]) for k in ABLATION_COLUMNS]
            reported = [
                fmt.paper_pct(ref.get("json_exact")),
                f"{ref['time_s']}\\,s" if ref else "--",
            ]
            body.append(row([_ablation_setting(factor, p["value"]), name, *cells, *reported]))
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
    sources = [*sources_of(frames.evals), *frames.runs["source"]]
    return table("ablations", None, body, sources, sections=", ".join(s for s in sections if s))


SCHEMA_METRICS = ("json_exact", "field_f1", "leaf_f1", "compliance")


@tabular
def schema_best_worst(frames: Frames, reference: dict[str, Any], k: int = 5) -> str:
    name = frames.main_eval_name()
    data = frames.schemas[frames.schemas["name"] == name] if name else pd.DataFrame()
    columns: Columns = {
        "Schema": lambda r: tt(r["schema"]),
        "Tier": lambda r: str(r["tier"]),
        "n": lambda r: fmt.integer(r["n"]),
        **{head(m): lambda r, m=m: fmt.metric(m, r.get(m)) for m in SCHEMA_METRICS},
    }
    body = []
    if not data.empty:
        keys = ["json_exact", "field_f1", "schema"]
        best = data.sort_values(keys, ascending=[False, False, True]).head(k)
        worst = data.drop(best.index).sort_values(keys).head(k)
        for title, part, before in ((f"Best {k}", best, ""), (f"Worst {k}", worst, r"\midrule")):
            body += [block_title(title, 7, before=before), *rows(part, columns)]
    src = frames.evals.loc[frames.evals["name"] == name, "source"] if name else []
    eval_name = tt(name) if name else NOT_RUN
    return table("schema_best_worst", [row(columns)], body, list(src), k=k, eval=eval_name)


FIT_COLUMNS = (("train sample", FIT_SPLIT), ("test", "test"), ("held-out", "holdout"))


@tabular
def generalisation(frames: Frames, reference: dict[str, Any]) -> str:
    """Each fine-tuned run on a sample of its own training split, the test split and held-out
    schemas: equal scores on the first two mean it has not fit even what it saw."""
    d = frames.design
    body, sources, sizes = [], [], set()
    # the runs that are not ablations, in the order tables list them
    for run in (r for r in (d.main_run, *d.ours_runs, *d.plan.runs_with("scale")) if r):
        hits = [frames.find_eval(run, "constrained", split) for _, split in FIT_COLUMNS]
        sources += [h["source"] for h in hits if h is not None]
        sizes |= {int(hits[0]["n"])} if hits[0] is not None else set()
        cells = [tt(run) + (f" ({OURS_LABEL})" if d.role_of(run) == "ours" else "")]
        for h in hits:
            if h is None:
                cells.append(span(3, NOT_RUN))
            else:
                cells += [fmt.pct(h["json_exact"]), fmt.ci(h), fmt.f1(h.get("leaf_f1"))]
        body.append(row(cells))  # the run's name says its model
    header = [
        row(["", *(span(3, title) for title, _ in FIT_COLUMNS)]),
        r"\cmidrule(lr){2-4}\cmidrule(lr){5-7}\cmidrule(lr){8-10}",
        row(["Run", *[head("json_exact"), "95\\% CI", head("leaf_f1")] * len(FIT_COLUMNS)]),
    ]
    sizes_text = " or ".join(map(str, sorted(sizes))) or NOT_RUN
    return table("generalisation", header, body, sources, sizes=sizes_text)


def _err_cell(sub: pd.DataFrame, cat: str) -> str:
    if cat not in sub.index:
        return "0"
    count, share = sub.loc[cat, "count"], sub.loc[cat, "share_of_errors"]
    return str(int(count)) if fmt.missing(share) else f"{int(count)} ({100 * share:.0f}\\%)"


@tabular
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
    names = LAYOUT["error_analysis"]["categories"]
    header = [row(["Model", "Setting", "Decoding", *[names.get(c, esc(c)) for c in cats]])]
    layout = {"colspec": "lll" + "r" * len(cats), "note_end": ours_note(frames)}
    return table("error_analysis", header, body, list(evals["source"]), **layout)


def _compute_cell(r: pd.Series, key: str) -> str:
    if key == "r" and r.get("method") == "full":  # no LoRA rank: every weight trained
        return LAYOUT["compute"]["full_rank"]
    if key == "trainable":  # the count and its share
        share = fmt.column("trainable_pct", r["trainable_pct"])
        return f"{fmt.column('params_trainable', r['params_trainable'])} ({share})"
    return fmt.column(key, r.get(key))


@tabular
def compute(frames: Frames, reference: dict[str, Any]) -> str:
    trials = set(frames.design.trial_runs)  # the search table gives their training time
    runs = frames.runs[~frames.runs["run"].isin(trials)]
    columns: Columns = {"Run": lambda r: run_cell(frames, r["run"])}
    for key, title in LAYOUT["compute"]["columns"].items():
        columns[title] = lambda r, key=key: _compute_cell(r, key)
    body = rows(runs, columns)
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
    full = LAYOUT["compute"]["full_note"] if any_full(runs) else ""
    layout = {"hardware": hardware or NOT_RUN, "note_end": full + ours_note(frames)}
    return table("compute", [row(columns)], body, [*runs["source"], SOURCE], **layout)


EXACT = head("json_exact")


@tabular
def search(frames: Frames, reference: dict[str, Any]) -> str:
    """Each trial on the validation split and on its own training sample, its training time and
    seconds per optimizer step: test is not a column, it was not looked at."""
    columns: Columns = {
        "Trial": lambda r: tt(r["trial"]),
        "Model": lambda r: tt(short_model(r["model"] or "")),
        f"Val {EXACT}": lambda r: fmt.pct(r["json_exact"]),
        "95\\% CI": lambda r: NOT_RUN if fmt.missing(r["json_exact"]) else fmt.ci(r),
        f"Train-sample {EXACT}": lambda r: fmt.pct(r["fit_exact"]),
        "Train min": lambda r: fmt.num(r["train_minutes"], 1),
        "s/step": lambda r: fmt.num(r["step_s"], 1),
    }
    body = rows(frames.search, columns)
    return table("search", [row(columns)], body, sources_of(frames.search, "sources"))


@tabular
def paired_tests(frames: Frames, reference: dict[str, Any]) -> str:
    """Every comparison the text makes: its test, p-value, reading and seed spread (maaza.claims)."""
    tests = claims.for_report(frames, reference)

    def done(r: pd.Series) -> bool:
        return r["test"] not in ("", "none") and not fmt.missing(r["p"])

    def reading(r: pd.Series) -> str:
        return {"same": "n.s."}.get(r["direction"], r["direction"]) if done(r) else NOT_RUN

    def seed(r: pd.Series) -> str:
        if fmt.missing(r["seed_range"]):
            return NOT_RUN if r["seeds_declared"] else "--"
        return f"{fmt.pp(r['seed_range'])} ({'within' if r['within_seed'] else 'beyond'})"

    columns: Columns = {
        "Comparison (A vs B)": lambda r: esc(r["what"]),
        "A": lambda r: fmt.pct(r["a_exact"]),
        "B": lambda r: fmt.pct(r["b_exact"]) + (DAGGER if r["b"] == "reported" else ""),
        "Test": lambda r: r["test"] or NOT_RUN,
        "Counts": lambda r: esc(r["detail"]),
        "$p$": lambda r: f"${claims.p_number(r['p'])}$".replace("$= ", "$") if done(r) else NOT_RUN,
        "A is": reading,
        "Seed spread": seed,
    }
    sources, alpha = sources_of(tests, "sources"), f"{claims.ALPHA:g}"
    return table("paired_tests", [row(columns)], rows(tests, columns), sources, alpha=alpha)


@tabular
def seed_spread(frames: Frames, reference: dict[str, Any]) -> str:
    """Each run with seed replicates (params.yaml seeds): JSONExact per seed, mean and range."""
    plan = frames.design.plan
    seeds = claims.seed_table(frames.evals, plan, plan.run_names)
    columns: Columns = {
        "Run": lambda r: run_cell(frames, r["run"]),
        "Seeds run": lambda r: f"{r['n_run']} of {r['seeds']}",
        "JSONExact per seed": lambda r: ", ".join(map(fmt.pct, r["values"].values())),
        "Mean": lambda r: fmt.pct(r["mean"]) if r["n_run"] else NOT_RUN,
        "Range": lambda r: fmt.pp(r["range"]),
    }
    return table("seed_spread", [row(columns)], rows(seeds, columns), sources_of(seeds, "sources"))
