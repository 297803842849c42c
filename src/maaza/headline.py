"""The headline numbers of each evaluation and training run: small files for DVC.

    eval_headline(metrics)          # results/eval/<name>/metrics.json -> metrics/<name>.json
    train_headline(train_metrics)   # runs/<run>/train_metrics.json -> metrics/train-<run>.json

`dvc metrics show` prints one row per metrics file and one column per key of every file, so these
hold a handful of short keys (breakdowns, timing and provenance stay in the full files the report
reads). The evaluations' files are the DVC metrics: path, 6 columns, at most 120 characters a row.
The training runs' files have other keys; declared as DVC metrics they would add their columns to
every row, so they are plain outputs: `dvc metrics show metrics/train-*.json`.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from maaza import io

METRICS_DIR = Path("metrics")
# Column meanings, for the README and the model card.
EVAL_KEYS = {
    "exact": "JSONExact (fraction of examples exactly right)",
    "exact_ci": "its 95% Wilson interval, low-high",
    "field_f1": "Field F1 (top-level keys)",
    "leaf_f1": "Leaf F1 (every nested value)",
    "valid": "schema compliance (fraction of answers valid against the schema)",
    "latency": "mean seconds per example",
}
TRAIN_KEYS = {
    "final_loss": "training loss at the last optimizer step",
    "tokens_per_s": "real (non-padding) training tokens per second",
    "wall_s": "training wall time, seconds",
}


def wilson(p: float, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson score interval for a proportion; sane at p=0 or 1 and small n (unlike p±2se)."""
    if n <= 0:
        return (math.nan, math.nan)
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def eval_headline(metrics: dict[str, Any]) -> dict[str, Any]:
    """An evaluation's metrics.json -> its DVC metrics (keys: EVAL_KEYS)."""
    o = metrics["overall"]
    lo, hi = wilson(o["json_exact"], metrics["n"])
    return {
        "exact": round(o["json_exact"], 4),
        "exact_ci": f"{lo:.3f}-{hi:.3f}",  # one column: two would push a row past 120 characters
        "field_f1": round(o["field_f1"], 4),
        "leaf_f1": round(o["leaf_f1"], 4),
        "valid": round(o["compliance"], 4),
        "latency": round(o["latency_mean_s"], 2),
    }


def train_headline(metrics: dict[str, Any]) -> dict[str, Any]:
    """A run's train_metrics.json -> its headline (keys: TRAIN_KEYS)."""
    return {
        "final_loss": metrics["final_loss"],
        "tokens_per_s": metrics["real_tokens_per_s"],
        "wall_s": metrics["wall_time_s"],
    }


def eval_path(name: str, metrics_dir: str | Path = METRICS_DIR) -> Path:
    return Path(metrics_dir) / f"{name}.json"


def train_path(run: str, metrics_dir: str | Path = METRICS_DIR) -> Path:
    return Path(metrics_dir) / f"train-{run}.json"


def write_eval(metrics: dict[str, Any], metrics_dir: str | Path = METRICS_DIR) -> Path:
    path = eval_path(metrics["name"], metrics_dir)
    io.write_json(path, eval_headline(metrics), indent=1)
    return path


def write_train(run: str, metrics: dict[str, Any], metrics_dir: str | Path = METRICS_DIR) -> Path:
    path = train_path(run, metrics_dir)
    io.write_json(path, train_headline(metrics), indent=1)
    return path
