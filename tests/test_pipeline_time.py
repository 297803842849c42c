"""benchmarks/pipeline_time.py: parts totalled apart, missing stages never guessed in the
measured totals, projections labelled as estimates."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from maaza.plan import Plan, Run

spec = importlib.util.spec_from_file_location(
    "pipeline_time", Path(__file__).parents[1] / "benchmarks" / "pipeline_time.py"
)
pt = importlib.util.module_from_spec(spec)
spec.loader.exec_module(pt)  # type: ignore[union-attr]

PLAN = Plan(
    runs=(
        Run("r", "paper_recipe", "train.runs", "m"),
        Run("r-s1", "paper_recipe", "train.runs", "m", "r"),
    )
)


def _eval(split: str, mode: str, n: int, wall: float | None) -> dict:
    return {
        "name": f"ft-r-{mode}-{split}",
        "split": split,
        "mode": mode,
        "n": n,
        "wall_s": wall,
        "cpu": None,
    }


ROWS = [
    {"stage": "train", "subject": "r", "part": "default", "wall_s": 100.0, "cpu": "AVX2"},
    {"stage": "train", "subject": "r-s1", "part": "seeds", "wall_s": None, "cpu": None},
    {"stage": "eval", "subject": "r", "part": "default", "wall_s": None, "cpu": "AVX2",
     "evals": [_eval("test", "free", 10, 20.0), _eval("test", "constrained", 10, 30.0),
               _eval("val", "constrained", 20, None)]},
    {"stage": "eval", "subject": "r-s1", "part": "seeds", "wall_s": None, "cpu": None,
     "evals": [_eval("test", "constrained", 10, None)]},
]  # fmt: skip


def test_summary_totals_parts_apart_and_lists_missing() -> None:
    s = pt.summary(ROWS)
    assert s["parts"]["default"]["train_s"] == 100.0
    assert s["parts"]["default"]["eval_s"] == 0.0  # a subject with a missing evaluation: not summed
    assert s["parts"]["default"]["missing"] == ["eval@r"]
    assert s["parts"]["seeds"]["missing"] == ["train@r-s1", "eval@r-s1"]
    assert s["total_h"] == s["parts"]["default"]["total_h"]


def test_projection_divides_by_mode_speedup_and_labels_estimates() -> None:
    p = pt.project(ROWS, {"free": 2.0, "constrained": 3.0}, {"test": 10, "val": 20}, PLAN)
    # measured 20/2 + 30/3, plus val estimated from test constrained: 3 s/example x 20 / 3
    assert p["default"]["eval_s"] == 10.0 + 10.0 + 20.0
    assert p["default"]["estimated"] == ["ft-r-constrained-val"]
    # the replicate: trained and evaluated like the run it replicates
    assert p["seeds"]["train_s"] == 100.0 and p["seeds"]["eval_s"] == 10.0
    assert p["seeds"]["estimated"] == ["train@r-s1 (as r)", "ft-r-constrained-test"]
