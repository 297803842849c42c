"""The report package's shape: a one-way import chain, no torch, and no macro the paper does not use."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

from maaza.metrics import METRICS
from maaza.report import load_frames, load_reference, render
from maaza.results import Overall

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "maaza" / "report"
# Each module may import only modules of a lower rank: results -> design -> frames -> fmt ->
# (original, setting_numbers, figstyle, recipe_words) -> (numbers | tables | figures | readme, which do not
# import each other) -> build.
RANK = {"design": 1, "frames": 2, "fmt": 3, "original": 4, "setting_numbers": 4, "figstyle": 4,
        "recipe_words": 4, "numbers": 5, "tables": 5, "figures": 5, "readme": 5,
        "build": 6}  # fmt: skip


def report_imports(path: Path) -> set[str]:
    """The maaza.report modules a module imports (`from maaza.report import x` counts as x)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if (
            isinstance(node, ast.ImportFrom)
            and node.module
            and node.module.startswith("maaza.report")
        ):
            sub = node.module.removeprefix("maaza.report").lstrip(".")
            out |= {sub} if sub else {a.name for a in node.names}
        elif isinstance(node, ast.Import):
            out |= {
                a.name.removeprefix("maaza.report.")
                for a in node.names
                if a.name.startswith("maaza.report.")
            }
    return out


def test_modules_form_a_one_way_chain() -> None:
    modules = {p.stem for p in PACKAGE.glob("*.py")} - {"__init__"}
    assert modules == set(RANK), "add a new module to RANK, at its place in the chain"
    for name, rank in RANK.items():
        imported = report_imports(PACKAGE / f"{name}.py")
        assert imported <= set(RANK), f"{name} imports {imported - set(RANK)}"
        later = {m for m in imported if RANK[m] >= rank}
        assert not later, f"{name} imports {later}: not earlier in the chain"


def test_importing_the_report_does_not_import_torch() -> None:
    code = "import sys, maaza.report; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False", "importing maaza.report imported torch"


def test_every_registry_metric_is_a_field_of_the_metrics_file() -> None:
    assert set(METRICS) <= set(Overall.model_fields)


def _used_macros() -> set[str]:
    paper = ROOT / "paper"
    texts = [
        paper / "main.tex",
        *(paper / "sections").glob("*.tex"),
        *(paper / "tables").glob("*.tex"),
    ]
    used = set(re.findall(r"\\([A-Za-z]+)", "\n".join(p.read_text() for p in texts)))
    return used | set(re.findall(r"\b[A-Z][A-Za-z]+\b", (ROOT / "README.md").read_text()))


def _defined(tex: str) -> list[str]:
    return re.findall(r"^\\newcommand\{\\([A-Za-z]+)\}", tex, flags=re.MULTILINE)


def test_every_generated_macro_is_used() -> None:
    """numbers.tex defines only what paper/ (main.tex, sections/, tables/) or README.md uses: both
    the committed file and what the code renders now (from the test fixture)."""
    from test_report import FIXTURE, paths_for

    used = _used_macros()
    committed = _defined((ROOT / "paper" / "generated" / "numbers.tex").read_text())
    rendered = _defined(
        render(load_frames(paths_for(FIXTURE, Path("/nonexistent"))), load_reference())
    )
    for where, defined in (("paper/generated/numbers.tex", committed), ("render()", rendered)):
        unused = sorted(set(defined) - used)
        assert not unused, f"{where}: macros nothing in paper/ or README.md uses: {unused}"
