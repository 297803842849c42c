"""The README's results block is the report stage's paper/generated/results.md, byte for byte."""

from __future__ import annotations

from pathlib import Path

import pytest

from maaza.report.readme import BEGIN, END, replace_block

ROOT = Path(__file__).resolve().parents[1]


def test_readme_results_block_is_the_generated_one():
    readme = (ROOT / "README.md").read_text()
    block = (ROOT / "paper" / "generated" / "results.md").read_text()
    assert readme.count(BEGIN) == 1 and readme.count(END) == 1
    assert replace_block(readme, block) == readme, (
        "README results differ from paper/generated/results.md: run `maaza report --readme README.md`"
    )


def test_replace_block_needs_its_markers():
    assert replace_block(f"a\n{BEGIN}\nold\n{END}\nb", f"{BEGIN}\nnew\n{END}\n") == (
        f"a\n{BEGIN}\nnew\n{END}\nb"
    )
    with pytest.raises(ValueError, match="no results block"):
        replace_block("no markers", "x")
