"""Figures, LaTeX tables and paper/generated/numbers.tex from the pipeline's result files.

    maaza report                           # or `dvc repro report` (runs notebooks/04_report.ipynb)
    inventory = build_report(ReportPaths(...))   # -> what was found, what is missing

Reads only result files -- runs/*/train_metrics.json, runs/*/loss.csv,
results/eval/*/metrics.json and predictions.jsonl, data/report.json, results/bench/*.json --
discovered by glob, never from a list. params.yaml (through maaza.plan) only says which runs and
evaluations the pipeline is *meant* to produce and the role of each run, so a result that is not
there yet is listed as missing and quoted as "not run" instead of being silently dropped. The
original paper's numbers come from paper_reference.yaml and are always labelled as theirs.

A one-way chain, each module importing only those before it (tests/test_report_structure.py):

    results   result-file formats and loaders          (I/O in)
    design    what params.yaml declares, over maaza.plan
    frames    tidy pandas frames                        (pure)
    fmt       TeX number formatting                     (pure)
    original, setting_numbers -> numbers                (pure: frames in, TeX macros out)
    tables, figstyle -> figures, readme                 (pure: frames in, TeX / Figure / Markdown)
    build     writes every output atomically            (I/O out)
"""

from maaza.report.build import ReportPaths, build_report, describe, load_frames
from maaza.report.design import Design, design_from_params, load_design
from maaza.report.fmt import tex_escape
from maaza.report.frames import Frames, Inventory, build_frames, wilson
from maaza.report.numbers import parse, parse_numbers, render
from maaza.results import ReportError, load_bench, load_eval, load_reference, load_results

__all__ = [
    "Design", "Frames", "Inventory", "ReportError", "ReportPaths", "build_frames", "build_report",
    "describe", "design_from_params", "load_bench", "load_design", "load_eval", "load_frames",
    "load_reference", "load_results", "parse", "parse_numbers", "render", "tex_escape", "wilson",
]  # fmt: skip
