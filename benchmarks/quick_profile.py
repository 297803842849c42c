"""Time the quick profile end to end from a fresh clone, and say where the time goes.

    .venv/bin/python benchmarks/quick_profile.py                 # warm model cache (~/.cache/maaza)
    .venv/bin/python benchmarks/quick_profile.py --cold          # also with an empty model cache
    .venv/bin/python benchmarks/quick_profile.py --keep build/quick --out build/quick/times.json
                                                                 # = `make quick`: keep the clone

Clones this repository's HEAD into a fresh folder, sets `profile: quick` in the clone's
params.yaml, leaves out the recipe search (`search.runs: {}`: its trials are declared stages that
a profile cannot remove, 2 notebook processes each, and their code paths, training and a
constrained evaluation, are the other stages'; the report draws an empty search table) and the
seed replicates (`seeds: {}`, for the same reasons) and runs
`dvc repro` there (the results of this checkout are never touched; the
clone's PDF is build/quick/paper/main.pdf with --keep), and reads papermill's own records in
the executed notebooks: per stage the kernel start (notebook time not spent in any cell), the
imports cell, the model load and the work, and what is left for DVC between stages. Writes
results/bench/quick_profile.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from maaza import io  # noqa: E402


def _capability() -> str:
    """The CPU's widest matmul ISA from /proc/cpuinfo, as torch names it (AVX512 / AVX2), with
    native bf16 said explicitly: it decides the training dtype and so the times."""
    text = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    flags = set(next((ln.split(":", 1)[1].split() for ln in text.splitlines()
                      if ln.startswith("flags")), []))  # fmt: skip
    isa = "AVX512" if "avx512f" in flags else "AVX2" if "avx2" in flags else "other"
    return isa + (", native bf16" if {"avx512_bf16", "amx_bf16"} & flags else ", no native bf16")


def notebook_times(path: Path) -> dict[str, float]:
    """Seconds of a papermill-executed notebook: total, kernel start + overhead, and per cell
    (first code cell after the parameters = imports; the rest = work)."""
    nb = json.loads(path.read_text())
    total = nb["metadata"]["papermill"]["duration"] or 0.0
    cells = [
        c for c in nb["cells"] if c["cell_type"] == "code" and "injected-parameters" not in
        c["metadata"].get("tags", []) and "parameters" not in c["metadata"].get("tags", [])
    ]  # fmt: skip
    durations = [c["metadata"].get("papermill", {}).get("duration") or 0.0 for c in cells]
    imports = durations[0] if durations else 0.0
    return {
        "total_s": round(total, 2),
        "kernel_and_overhead_s": round(total - sum(durations), 2),
        "imports_s": round(imports, 2),
        "work_s": round(sum(durations[1:]), 2),
    }


def stage_table(clone: Path) -> list[dict[str, object]]:
    rows = []
    for nb in sorted((clone / "notebooks" / "executed").glob("*.ipynb")):
        rows.append({"notebook": nb.stem, **notebook_times(nb)})
    return rows


def run_quick(clone: Path, cache: Path | None) -> float:
    """`dvc repro` of the quick profile in `clone`; the clone's own code (PYTHONPATH), this
    checkout's virtualenv. Returns the wall time."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(clone / "src")}
    env["PATH"] = f"{ROOT / '.venv' / 'bin'}:{env['PATH']}"
    if cache is not None:
        env["MAAZA_CACHE"] = str(cache)
    params = clone / "params.yaml"
    raw = yaml.safe_load(params.read_text())
    if raw.get("profile") != "default":
        raise SystemExit(f"{params}: expected `profile: default`, got {raw.get('profile')!r}")
    raw["profile"] = "quick"
    raw["search"]["runs"] = {}  # = dvc exp run -S profile=quick -S 'search.runs={}'
    raw["seeds"] = {}  # seed replicates too (-S 'seeds={}'): the same code paths, 10 more notebooks
    params.write_text(yaml.safe_dump(raw, sort_keys=False))
    start = time.perf_counter()
    subprocess.run(["dvc", "repro"], cwd=clone, env=env, check=True)
    return time.perf_counter() - start


def summarize(clone: Path, wall_s: float | None) -> dict[str, object]:
    stages = stage_table(clone)
    in_notebooks = sum(s["total_s"] for s in stages)
    return {
        "wall_s": round(wall_s, 1) if wall_s is not None else None,
        "notebooks_s": round(in_notebooks, 1),
        "outside_notebooks_s": round(wall_s - in_notebooks, 1) if wall_s is not None else None,
        "kernel_and_overhead_s": round(sum(s["kernel_and_overhead_s"] for s in stages), 1),
        "imports_s": round(sum(s["imports_s"] for s in stages), 1),
        "work_s": round(sum(s["work_s"] for s in stages), 1),
        "n_notebooks": len(stages),
        "stages": stages,
    }


def fresh_clone(clone: Path) -> Path:
    if clone.exists():
        raise SystemExit(f"{clone}: exists; remove it first")
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    return clone.resolve()  # absolute: it goes into PYTHONPATH of processes run inside it


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cold", action="store_true", help="also run with an empty model cache")
    parser.add_argument("--from-clone", type=Path, help="summarize an existing quick run only")
    parser.add_argument("--keep", type=Path, help="clone here and keep it (warm run only)")
    parser.add_argument("--out", type=Path, default=ROOT / "results/bench/quick_profile.json")
    args = parser.parse_args()
    if args.from_clone:
        result = {"warm": summarize(args.from_clone, None)}
    else:
        result = {}
        cases = [("warm", None)] + ([("cold", "empty")] if args.cold else [])
        for name, cache in cases:
            with tempfile.TemporaryDirectory() as tmp:
                keep = args.keep if args.keep and name == "warm" else None
                clone = fresh_clone(keep or Path(tmp) / "maaza")
                cold_cache = Path(tmp) / "cache" if cache else None
                wall = run_quick(clone, cold_cache)
                result[name] = {**summarize(clone, wall), "git": io.git_commit(clone)}
                print(f"{name}: {wall:.0f} s wall, {result[name]['n_notebooks']} notebooks")
    result["machine"] = {
        "cpu": io.cpu_name(),
        "cpu_capability": _capability(),
        "cores": os.cpu_count(),
    }
    io.write_json(args.out, result)
    print(json.dumps({k: {kk: vv for kk, vv in v.items() if kk != "stages"}
                      for k, v in result.items() if k != "machine"}, indent=1))  # fmt: skip


if __name__ == "__main__":
    main()
