"""The small DVC metrics files (issue 19): a handful of keys, rows that fit 120 columns, written
by the eval stage and (from the committed metrics.json) by the migration, identically."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from maaza import headline, io
from maaza.config import PROJECT_ROOT, load_params
from maaza.plan import load_plan

PLAN = load_plan(PROJECT_ROOT / "params.yaml")
PARAMS = load_params(PROJECT_ROOT / "params.yaml")


def test_eval_headline_keys_and_interval():
    metrics = io.read_json(
        PROJECT_ROOT / "results/eval/ft-smollm2-135m-maaza-constrained/metrics.json"
    )
    h = headline.eval_headline(metrics)
    assert list(h) == list(headline.EVAL_KEYS)
    lo, hi = headline.wilson(metrics["overall"]["json_exact"], metrics["n"])
    assert h["exact_ci"] == f"{lo:.3f}-{hi:.3f}" and lo < h["exact"] < hi


def _committed(path: Path, role: str, replicate: bool = False) -> bool:
    """Every result but a search trial's or a seed replicate's is committed; those are committed
    as they finish."""
    assert path.exists() or role == "trial" or replicate, f"{path} is missing"
    return path.exists()


def test_committed_headlines_are_what_the_writers_write():
    for e in PLAN.evals:
        path = e.out_dir(PROJECT_ROOT / "results/eval") / "metrics.json"
        if not _committed(path, e.role, e.replicates is not None):
            continue
        written = io.read_json(PROJECT_ROOT / headline.eval_path(e.name))
        assert written == headline.eval_headline(metrics := io.read_json(path)), e.name
    for run in PLAN.run_names:
        path = PROJECT_ROOT / "runs" / run / "train_metrics.json"
        if not _committed(path, PARAMS.run_role(run), PLAN.replicated(run) is not None):
            continue
        metrics = io.read_json(path)
        assert io.read_json(PROJECT_ROOT / headline.train_path(run)) == headline.train_headline(
            metrics
        )


def test_dvc_metrics_show_fits_120_columns():
    out = subprocess.run(
        [sys.executable, "-m", "dvc", "metrics", "show"],
        cwd=PROJECT_ROOT, capture_output=True, text=True, check=True,
    ).stdout.splitlines()  # fmt: skip
    assert len(out) == 1 + len(PLAN.evals)  # header + one row per evaluation
    assert max(map(len, out)) <= 120, max(out, key=len)


def test_report_figures_are_declared_as_image_plots():
    """Top-level plots: exactly the report's figures (the loss curves are each train stage's)."""
    import yaml

    from maaza.report.figures import FIGURES

    top = yaml.safe_load((PROJECT_ROOT / "dvc.yaml").read_text())["plots"]
    assert sorted(top) == sorted(f"figures/{name}.png" for name in FIGURES)
