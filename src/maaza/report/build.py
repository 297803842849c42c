"""Writes the report atomically: every figure (PNG+PDF), every table, numbers.tex, the README's
results block (results.md) and the inventory of what was found and what is missing."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

from maaza.io import write_json, write_text
from maaza.plan import EXTERNAL
from maaza.report.design import Design, load_design
from maaza.report.figures import FIGURES, save
from maaza.report.frames import Frames, Inventory, build_frames, model_params
from maaza.report.numbers import render
from maaza.report.original import ORIGINAL_TABLES
from maaza.report.readme import results_markdown
from maaza.report.tables import TABLES, external_results
from maaza.results import DEFAULT_REFERENCE, load_reference, load_results


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


def registry_params(models: Iterable[str]) -> dict[str, int]:
    """Parameter counts the model registry knows without loading any weights."""
    from maaza.models import ModelError, resolve  # imports torch: only when a count is missing

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
    results = load_results(paths.runs_dir, paths.eval_dir, paths.data_report, paths.bench_dir)
    design = load_design(paths.params_file)
    # A model no result reports a parameter count for yet (e.g. a zero-shot model whose runs are
    # still training) takes the registry's, so it still sits on the parameter axis.
    models = {e.metrics.model for e in results.evals.values()}
    models |= {r.model for r in design.plan.runs} | set(design.plan.zeroshot_models)
    unknown = sorted(models - set(model_params(results)))
    if unknown:
        results = replace(results, registry_params=registry_params(unknown))
    frames = build_frames(results, design)
    if design.plan.external_name is None:
        return frames
    # results of the external dataset's runs sit apart: runs/external/, results/eval/external/
    ext = load_results(paths.runs_dir / EXTERNAL, paths.eval_dir / EXTERNAL, None)
    # main_values: the frames' ablation rows expect the paper-recipe run's knobs (no ablations here)
    ext_design = Design(plan=design.plan.external_plan(), main_values=design.main_values)
    return replace(frames, external=build_frames(ext, ext_design))


def build_report(paths: ReportPaths, progress: bool = True) -> Inventory:
    """Write every figure (PNG+PDF), every table and numbers.tex; return the inventory."""
    from tqdm.auto import tqdm

    frames = load_frames(paths)
    reference = load_reference(paths.reference)
    for name, fn in tqdm(FIGURES.items(), desc="figures", disable=not progress):
        save(fn(frames, reference), paths.figures_dir / name)
    for name, fn in (TABLES | ORIGINAL_TABLES).items():
        write_text(paths.tables_dir / f"{name}.tex", fn(frames, reference))
    # only with an external dataset: the paper inputs this table if the file exists
    ext_table = paths.tables_dir / f"{EXTERNAL}.tex"
    if frames.external is not None:
        write_text(ext_table, external_results(frames, reference))
    else:
        ext_table.unlink(missing_ok=True)
    write_text(paths.generated_dir / "numbers.tex", render(frames, reference))
    write_text(paths.generated_dir / "results.md", results_markdown(frames, reference, FIGURES))
    write_json(paths.generated_dir / "inventory.json", frames.inventory.as_dict())
    return frames.inventory


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
