"""How long the whole default `dvc repro` takes, stage by stage, from the committed result files,
and what the measured decoder speedup makes of it.

    .venv/bin/python benchmarks/pipeline_time.py        # -> results/bench/pipeline_time.json
    .venv/bin/python benchmarks/pipeline_time.py --decode-bench results/bench/eval_throughput_decode.json

Training stages: `wall_time_s` of runs/<run>/train_metrics.json; evaluation stages: the sum of
the `overall.wall_time_s` of the evaluations maaza.plan declares for the subject (decoding and
scoring; model loading and process start are not in it, a few seconds per stage). Stages whose
result files are missing are listed as missing, never guessed.

Stages fall in three parts, totalled apart: `default` (the zero-shot models and the declared runs:
the paper's tables), `seeds` (seed replicates) and `search` (the recipe search's trials, run once
to choose a recipe). Each stage says on which CPU kind its times were measured.

--decode-bench (a benchmarks/eval_throughput.py result with --baseline) adds a projection: each
evaluation's time divided by the measured speedup of its decoding mode on the test case (the
committed evaluations ran on the baseline decoder: pass the matching baseline). A projection is an
estimate and labelled so: a declared evaluation not yet run is estimated from the same subject's
test evaluation in that mode, scaled by the number of examples; a seed replicate from the run it
replicates.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from maaza import io  # noqa: E402
from maaza.plan import SPLIT_FILES, Plan, load_plan  # noqa: E402

PARTS = ("default", "seeds", "search")


def _read(path: Path) -> dict[str, Any]:
    return io.read_json(path) if path.is_file() else {}


def _number(metrics: dict[str, Any], *keys: str) -> float | None:
    value: Any = metrics
    for key in keys:
        value = value.get(key, {}) if isinstance(value, dict) else {}
    return float(value) if isinstance(value, int | float) else None


def _cpu_kind(metrics: dict[str, Any]) -> str | None:
    hw = metrics.get("hardware") or {}
    return metrics.get("cpu_capability") or hw.get("cpu_capability")


def _part(plan: Plan, subject: str) -> str:
    if subject not in plan.run_names:
        return "default"  # a zero-shot model
    run = plan.run(subject)
    return "search" if run.role == "trial" else "seeds" if run.replicates else "default"


def stage_times(root: Path) -> list[dict[str, Any]]:
    plan = load_plan(root / "params.yaml")
    rows: list[dict[str, Any]] = []
    for run in plan.runs:
        m = _read(root / "runs" / run.name / "train_metrics.json")
        rows.append({
            "stage": "train", "subject": run.name, "role": run.role, "part": _part(plan, run.name),
            "wall_s": _number(m, "wall_time_s"), "cpu": _cpu_kind(m),
        })  # fmt: skip
    for subject in plan.subjects:
        evals = []
        for e in plan.evals_of(subject):
            m = _read(root / e.out_dir() / "metrics.json")
            evals.append({
                "name": e.name, "split": e.split, "mode": e.mode, "n": _number(m, "n"),
                "wall_s": _number(m, "overall", "wall_time_s"), "cpu": _cpu_kind(m.get("provenance", m)),
            })  # fmt: skip
        walls = [e["wall_s"] for e in evals]
        rows.append({
            "stage": "eval", "subject": subject, "part": _part(plan, subject), "n_evals": len(evals),
            "wall_s": None if None in walls else round(sum(walls), 1), "evals": evals,
            "cpu": next((e["cpu"] for e in evals if e["cpu"]), None),
        })  # fmt: skip
    return rows


def _total(rows: list[dict[str, Any]], stage: str, key: str = "wall_s") -> float:
    return round(sum(r[key] or 0.0 for r in rows if r["stage"] == stage), 1)


def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Per part: measured training and evaluation seconds, hours, and the missing stages."""
    parts = {}
    for part in PARTS:
        mine = [r for r in rows if r["part"] == part]
        train, ev = _total(mine, "train"), _total(mine, "eval")
        parts[part] = {
            "train_s": train, "eval_s": ev, "total_s": round(train + ev, 1),
            "total_h": round((train + ev) / 3600, 2),
            "missing": [f"{r['stage']}@{r['subject']}" for r in mine if r["wall_s"] is None],
            "cpu": sorted({r["cpu"] for r in mine if r["cpu"]}),
        }  # fmt: skip
    return {**{k: v for k, v in parts["default"].items() if k != "cpu"}, "parts": parts}


def _test_rate(rows: list[dict[str, Any]], subject: str, mode: str) -> float | None:
    """Seconds per example of a subject's test evaluation in a mode (for estimates)."""
    for r in rows:
        if r["stage"] == "eval" and r["subject"] == subject:
            for e in r["evals"]:
                if e["split"] == "test" and e["mode"] == mode and e["wall_s"] and e["n"]:
                    return e["wall_s"] / e["n"]
    return None


def project(rows: list[dict[str, Any]], speedup: dict[str, float], sizes: dict[str, int],
            plan: Plan) -> dict[str, Any]:  # fmt: skip
    """Projected seconds per part with the new decoder, and which figures are estimates."""
    by_subject = {(r["stage"], r["subject"]): r for r in rows}
    out: dict[str, Any] = {}
    for part in ("default", "seeds"):
        train = evals = 0.0
        estimated: list[str] = []
        for r in (r for r in rows if r["part"] == part):
            base = plan.replicated(r["subject"]) if part == "seeds" else None
            if r["stage"] == "train":
                wall = r["wall_s"] or (
                    by_subject.get(("train", base), {}).get("wall_s") if base else None
                )
                if r["wall_s"] is None and wall is not None:
                    estimated.append(f"train@{r['subject']} (as {base})")
                train += wall or 0.0
                continue
            for e in r["evals"]:
                wall = e["wall_s"]
                if wall is None:
                    rate = _test_rate(rows, base or r["subject"], e["mode"])
                    if rate is None:
                        continue
                    wall = rate * sizes[e["split"]]
                    estimated.append(e["name"])
                evals += wall / speedup[e["mode"]]
        out[part] = {
            "train_s": round(train, 1), "eval_s": round(evals, 1),
            "total_h": round((train + evals) / 3600, 2), "estimated": estimated,
        }  # fmt: skip
    return out


def split_sizes(root: Path) -> dict[str, int]:
    return {
        split: len(io.read_jsonl(root / "data" / f))
        for split, f in SPLIT_FILES.items()
        if (root / "data" / f).is_file()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "results/bench/pipeline_time.json")
    parser.add_argument("--decode-bench", type=Path, default=None,
                        help="eval_throughput.py result with --baseline: project the evaluations")  # fmt: skip
    args = parser.parse_args()
    rows = stage_times(ROOT)
    result = summary(rows)
    result["stages"] = rows
    # where the committed default runs were measured (not necessarily this machine)
    hardware = (_read(p).get("hardware") for p in sorted(ROOT.glob("runs/*/train_metrics.json")))
    result["machine"] = next((hw for hw in hardware if hw), {})
    if args.decode_bench:
        bench = io.read_json(args.decode_bench)
        speedup = {
            mode: bench["vs_baseline"][f"test/{mode}"]["speedup"]
            for mode in ("free", "constrained")
        }
        result["projection"] = {
            "decode_bench": args.decode_bench.as_posix(),
            "decode_speedup": speedup,
            **project(rows, speedup, split_sizes(ROOT), load_plan(ROOT / "params.yaml")),
        }
    io.write_json(args.out, result)
    for r in rows:
        wall = "missing" if r["wall_s"] is None else f"{r['wall_s'] / 60:6.1f} min"
        print(f"{r['part']:8} {r['stage']:6} {r['subject']:28} {wall:>11}  {r['cpu'] or ''}")
    for part, p in result["parts"].items():
        print(f"{part}: {p['total_h']} h measured (train {p['train_s']:.0f} s, eval "
              f"{p['eval_s']:.0f} s), {len(p['missing'])} stages missing, on {', '.join(p['cpu']) or '?'}")  # fmt: skip
    for part, p in result.get("projection", {}).items():
        if isinstance(p, dict) and "total_h" in p:
            print(f"projected {part}: {p['total_h']} h (train {p['train_s']:.0f} s, eval "
                  f"{p['eval_s']:.0f} s; {len(p['estimated'])} estimated)")  # fmt: skip


if __name__ == "__main__":
    main()
