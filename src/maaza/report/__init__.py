"""Figures, LaTeX tables, paper/generated/numbers.tex and the README's results from the result
files (`maaza report`, `dvc repro report`); params.yaml says what should exist, so a missing
result reads "not run". Modules form a one-way chain (tests/test_report_structure.py)."""

from maaza.report.build import ReportPaths, build_report, describe, load_frames
from maaza.report.design import design_from_params
from maaza.report.numbers import parse_numbers, render
from maaza.results import ReportError, load_reference

__all__ = [
    "ReportError",
    "ReportPaths",
    "build_report",
    "describe",
    "design_from_params",
    "load_frames",
    "load_reference",
    "parse_numbers",
    "render",
]
