"""Figures, LaTeX tables, paper/generated/numbers.tex and the README's results from the result
files (`maaza report`, `dvc repro report`); params.yaml says what should exist, so a missing
result reads "not run". Modules form a one-way chain (tests/test_report_structure.py)."""

from maaza.report.build import ReportPaths, build_report, describe, load_frames
from maaza.report.design import Design, design_from_params, load_design
from maaza.report.fmt import tex_escape
from maaza.report.frames import Frames, wilson
from maaza.report.numbers import parse_numbers, render
from maaza.results import ReportError, load_bench, load_eval, load_reference

__all__ = [
    "Design",
    "Frames",
    "ReportError",
    "ReportPaths",
    "build_report",
    "describe",
    "design_from_params",
    "load_bench",
    "load_design",
    "load_eval",
    "load_frames",
    "load_reference",
    "parse_numbers",
    "render",
    "tex_escape",
    "wilson",
]
