"""Figures, LaTeX tables and paper/generated/numbers.tex from the pipeline's result files.

    maaza report                           # or `dvc repro report` (runs notebooks/04_report.ipynb)
    inventory = build_report(ReportPaths(...))   # -> what was found, what is missing

Reads only result files, found by glob; params.yaml (maaza.plan) says which runs and evaluations
are meant to exist and each run's role, so a missing result reads "not run", never a guess. A
one-way import chain (tests/test_report_structure.py): results -> design -> frames -> fmt ->
original, setting_numbers, figstyle -> numbers, tables, figures, readme -> build (I/O out).
"""

from maaza.report.build import ReportPaths, build_report, describe, load_frames
from maaza.report.design import Design, design_from_params, load_design
from maaza.report.fmt import tex_escape
from maaza.report.frames import Frames, Inventory, build_frames, wilson
from maaza.report.numbers import parse, parse_numbers, render
from maaza.results import ReportError, load_bench, load_eval, load_reference, load_results

__all__ = [
    "Design",
    "Frames",
    "Inventory",
    "ReportError",
    "ReportPaths",
    "build_frames",
    "build_report",
    "describe",
    "design_from_params",
    "load_bench",
    "load_design",
    "load_eval",
    "load_frames",
    "load_reference",
    "load_results",
    "parse",
    "parse_numbers",
    "render",
    "tex_escape",
    "wilson",
]
