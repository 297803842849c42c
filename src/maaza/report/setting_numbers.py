"""Macros of the setting rather than a run: which results exist, split sizes, the generated data
(data/report.json), the recipe settings (params.yaml) and the benchmarks (results/bench)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

from maaza.report import fmt
from maaza.report.fmt import NOT_RUN, Number, tex_escape, tt
from maaza.report.frames import Frames, cell, first_row
from maaza.results import DataReport
from maaza.schemas import TIERS

SPEC = fmt.load_spec("numbers")  # its `bench` and `ours_settings` macros


def completeness(frames: Frames) -> str:
    """One sentence for the paper (numbers.yaml `completeness`): all results present, or which are
    missing or still training."""
    inv, plan, text = frames.inventory, frames.design.plan, SPEC["completeness"]
    runs, evals = len(plan.run_names), len(plan.evals)
    counts = {"n": runs + evals, "runs": runs, "evals": evals, "n_missing": len(inv.missing)}
    if not inv.missing and not inv.in_progress:
        return text["all"].format_map(counts)
    missing = ", ".join(tt(m) for m in inv.missing) or "none"
    running = ", ".join(f"{tt(r)} ({s} steps)" for r, s in inv.in_progress.items()) or "none"
    return text["some"].format_map(counts | {"missing": missing, "running": running})


def status_numbers(frames: Frames) -> list[Number]:
    src = "derived: files found under runs/ and results/eval/ vs params.yaml"
    return [
        Number("ReportCompleteness", completeness(frames), src),
        Number("FactorMinBase", str(fmt.MIN_BASE), "maaza.report.fmt: MIN_BASE"),
    ]


def data_numbers(frames: Frames) -> list[Number]:
    """Split sizes and schema counts, read from the evaluations themselves (what was scored)."""
    e, main = frames.evals, frames.design.main_run
    test, hold = (frames.find_eval(main, "constrained", split) for split in ("test", "holdout"))
    test = test if test is not None else first_row(e[e["split"] == "test"])
    hold = hold if hold is not None else first_row(e[e["split"] == "holdout"])
    n_schemas = NOT_RUN
    if hold is not None and not frames.schemas.empty:
        n_schemas = str(int((frames.schemas["name"] == hold["name"]).sum()))
    out = [
        Number("NTest", fmt.integer(cell(test, "n")), f"{cell(test, 'source')}: n"),
        Number("NHoldout", fmt.integer(cell(hold, "n")), f"{cell(hold, 'source')}: n"),
        Number("NSchemasHoldout", n_schemas, f"{cell(hold, 'source')}: by_schema"),
    ]
    tiers = frames.tiers
    for tier in TIERS:
        hit = tiers[(tiers["name"] == cell(test, "name")) & (tiers["tier"] == tier)]
        src = f"{cell(test, 'source')}: by_tier.{tier}.n"
        out.append(Number(f"NTest{tier.title()}", fmt.integer(cell(first_row(hit), "n")), src))
    return out


def dataset_numbers(frames: Frames) -> list[Number]:
    """What the data stage generated and checked (data/report.json); \\notrun without it."""
    d, src = frames.data, frames.data_source or "data/report.json (missing)"
    r = d or DataReport(counts={})  # without the file: every macro reads not run
    hold = r.counts.get("holdout")
    styles = sorted({st for c in r.counts.values() for st in c.by_style})
    checks = sorted({k for sc in r.checks.values() for k in sc.checks})
    rates = [cc.pass_rate for sc in r.checks.values() for cc in sc.checks.values()]
    failed = fmt.integer(sum(sc.n_failed for sc in r.checks.values()))
    leakage = fmt.integer(sum(r.leakage.values())) if r.leakage else NOT_RUN
    tokens = (r.tokens.get("train") or {}).get("all", {})
    seq, target = tokens.get("sequence", {}), tokens.get("target", {})
    tokenizer = fmt.FORMATS["tt"](r.tokens.get("tokenizer") or None)
    made = {  # macro -> (value, the key of report.json it reads)
        "DataNHoldout": (fmt.integer(hold.n if hold else None), "counts.holdout.n"),
        "DataNSchemas": (str(len(r.schemas)), "schemas"),
        "DataNStyles": (str(len(styles)), "counts.*.by_style"),
        "DataStyles": (", ".join(map(tex_escape, styles)), "counts.*.by_style"),
        "DataNChecks": (str(len(checks)), "checks"),
        "DataCheckNames": (", ".join(map(tt, checks)), "checks"),
        "DataMinPassRate": (fmt.pct(min(rates, default=None)), "checks.*.checks.*.pass_rate (min)"),
        "DataNFailed": (failed, "checks.*.n_failed"),
        "DataLeakage": (leakage, "leakage"),
        "DataTokenizer": (tokenizer, "tokens.tokenizer"),
        "DataSeqMean": (fmt.num(seq.get("mean"), 0), "tokens.train.all.sequence.mean"),
        "DataSeqPNinetyFive": (fmt.integer(seq.get("p95")), "tokens.train.all.sequence.p95"),
        "DataSeqMax": (fmt.integer(seq.get("max")), "tokens.train.all.sequence.max"),
        "DataTargetMean": (fmt.num(target.get("mean"), 0), "tokens.train.all.target.mean"),
    }
    return [
        Number(name, value if d else NOT_RUN, f"{src}: {key}")
        for name, (value, key) in made.items()
    ]


def recipe_numbers(frames: Frames) -> list[Number]:
    """Settings quoted in the method section, from params.yaml (so the text cannot drift)."""
    out = [
        Number(f"Recipe{name}", fmt.setting(name, value), f"params.yaml: {key}")
        for name, (value, key) in frames.design.recipe.items()
    ]
    # the frozen base's dtype as training resolved it (params.yaml may say "auto")
    main = frames.run_row(frames.design.main_run)
    src = cell(main, "source") or "main run's train_metrics.json (missing)"
    dtype = fmt.FORMATS["tt"](cell(main, "base_dtype"))
    out.append(Number("RecipeBaseDtype", dtype, f"{src}: base_dtype"))
    # Always defined (the text quotes them), "not run" when params.yaml has no run of our recipe.
    ours = frames.design.ours_recipe
    for name in dict.fromkeys([*SPEC["ours_settings"], *ours]):
        value, key = ours.get(name, (None, "train.runs (no run of our recipe)"))
        out.append(Number(f"Ours{name}", fmt.setting(name, value), f"params.yaml: {key}"))
    return out


def compute_ratio(frames: Frames) -> Decimal | None:
    """Our recipe's training compute over the paper recipe's: real tokens trained times FLOPs per
    token (train_metrics.json); None without both."""
    flops = []
    for name in (frames.design.ours_run, frames.design.main_run):
        run = frames.run_row(name)
        tokens, per_token = cell(run, "real_tokens"), cell(run, "flops_per_token")
        flops.append(tokens * per_token if tokens and per_token else None)
    return fmt.factor(*flops) if all(flops) else None


def _dig(data: Any, key: str) -> Any:
    """data["a"]["b"] for key "a.b"; None when a part is absent (or the value is NaN)."""
    for part in key.split("."):
        data = data.get(part) if isinstance(data, dict) else None
    return None if fmt.missing(data) else data


def bench_numbers(frames: Frames) -> list[Number]:
    """The benchmarks' results (results/bench/<stem>.json); without its file a macro reads not run."""
    data = {stem: b.data for stem, b in frames.bench.items()}
    src = {stem: f"{stem}.json (missing)" for stem, _, _ in SPEC["bench"].values()}
    src |= {stem: b.source for stem, b in frames.bench.items()}
    out = [
        Number(name, fmt.FORMATS[show](_dig(data.get(stem), key)), f"{src[stem]}: {key}")
        for name, (stem, key, show) in SPEC["bench"].items()
    ]
    ev, tr = data.get("eval_throughput"), data.get("train_throughput")
    ref_tokens, n, ref_s = (_dig(ev, k) for k in ("reference.tokens", "n", "reference.seconds"))
    real, padded = _dig(tr, "reference.real_tokens"), _dig(tr, "reference.padded_tokens")

    def derived(stem: str, name: str, value: str, how: str) -> None:
        out.append(Number(name, value, f"derived: {src[stem]}: {how}"))

    out.append(Number("BenchEvalAdapter", _adapter_text(ev), f"{src['eval_throughput']}: adapter"))
    # the reference never stops early: this is its max_new_tokens as actually run
    new_tokens = fmt.integer(ref_tokens / n) if ref_tokens is not None and n else NOT_RUN
    derived("eval_throughput", "BenchEvalRefNewTokens", new_tokens, "reference.tokens / n")
    for mode, name in (
        ("free", "BenchEvalSpeedup"),
        ("constrained", "BenchEvalConstrainedSpeedup"),
    ):
        speedup = fmt.ratio(ref_s, _dig(ev, f"{mode}.seconds"))
        derived("eval_throughput", name, speedup, f"reference.seconds / {mode}.seconds")
    for seconds, name in (("wall_s", "BenchTrainSpeedup"), ("cpu_s", "BenchTrainSpeedupCPU")):
        how = f"real_tokens / {seconds}, ours over the reference's"
        derived("train_throughput", name, _train_speedup(tr, seconds), how)
    padding = fmt.pct(1 - real / padded) if real is not None and padded else NOT_RUN
    how = "1 - reference.real_tokens / reference.padded_tokens"
    derived("train_throughput", "BenchTrainRefPadding", padding, how)
    return out


def _train_speedup(tr: dict[str, Any] | None, seconds: str) -> str:
    """Our training's real tokens per second over the reference's, from the counts and times."""
    ours, ref = (_dig(tr, f"{side}.real_tokens") for side in ("ours", "reference"))
    t_ours, t_ref = (_dig(tr, f"{side}.{seconds}") for side in ("ours", "reference"))
    if None in (ours, ref, t_ours, t_ref):
        return NOT_RUN
    return fmt.ratio(ours * t_ref, ref * t_ours)


def _adapter_text(ev: dict[str, Any] | None) -> str:
    """What was timed: 'with the adapter of run R' (runs/R/adapter) or 'without an adapter'."""
    if ev is None:
        return NOT_RUN
    if not ev.get("adapter"):
        return "without an adapter"
    path = Path(ev["adapter"])
    run = path.parent.name if path.name == "adapter" else path.name
    return f"with the adapter of run {tt(run)}"
