"""How long the whole default `dvc repro` takes, stage by stage, from the committed result files.

    .venv/bin/python benchmarks/pipeline_time.py        # -> results/bench/pipeline_time.json

Training stages: `wall_time_s` of runs/<run>/train_metrics.json; evaluation stages: the sum of
the `overall.wall_time_s` of the evaluations maaza.plan declares for the subject (decoding and
scoring; model loading and process start are not in it, a few seconds per stage). Stages whose
result files are missing are listed as missing, never guessed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from maaza import io  # noqa: E402
from maaza.plan import load_plan  # noqa: E402


def _wall(path: Path, *keys: str) -> float | None:
    if not path.is_file():
        return None
    value = io.read_json(path)
    for key in keys:
        value = value.get(key, {}) if isinstance(value, dict) else {}
    return float(value) if isinstance(value, int | float) else None


def _hardware(path: Path) -> dict[str, object]:
    hw = io.read_json(path).get("hardware") or {}
    return {
        "cpu": hw.get("cpu"),
        "cores": hw.get("cores"),
        "cpu_capability": hw.get("cpu_capability"),
    }


def stage_times(root: Path) -> list[dict[str, object]]:
    plan = load_plan(root / "params.yaml")
    rows: list[dict[str, object]] = []
    for run in plan.runs:
        wall = _wall(root / "runs" / run.name / "train_metrics.json", "wall_time_s")
        rows.append({"stage": "train", "subject": run.name, "role": run.role, "wall_s": wall})
    for subject in plan.subjects:
        evals = plan.evals_of(subject)
        walls = [
            _wall(root / e.out_dir() / "metrics.json", "overall", "wall_time_s") for e in evals
        ]
        wall = None if None in walls else sum(walls)  # type: ignore[arg-type]
        rows.append({"stage": "eval", "subject": subject, "n_evals": len(evals), "wall_s": wall})
    return rows


def summary(rows: list[dict[str, object]]) -> dict[str, object]:
    def total(stage: str) -> float:
        return sum(r["wall_s"] for r in rows if r["stage"] == stage and r["wall_s"] is not None)  # type: ignore[misc]

    return {
        "train_s": round(total("train"), 1),
        "eval_s": round(total("eval"), 1),
        "total_s": round(total("train") + total("eval"), 1),
        "total_h": round((total("train") + total("eval")) / 3600, 2),
        "missing": [f"{r['stage']}@{r['subject']}" for r in rows if r["wall_s"] is None],
        "stages": rows,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "results/bench/pipeline_time.json")
    args = parser.parse_args()
    result = summary(stage_times(ROOT))
    # where the committed runs were measured (not necessarily this machine)
    hw = [_hardware(p) for p in sorted((ROOT / "runs").glob("*/train_metrics.json"))]
    result["machine"] = next((h for h in hw if h), {})
    io.write_json(args.out, result)
    for r in result["stages"]:
        wall = "missing" if r["wall_s"] is None else f"{r['wall_s'] / 60:6.1f} min"
        print(f"{r['stage']:6} {r['subject']:28} {wall}")
    print(
        f"total: {result['total_h']} h (train {result['train_s']:.0f} s, eval {result['eval_s']:.0f} s)"
    )


if __name__ == "__main__":
    main()
