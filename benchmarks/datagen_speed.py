"""Data generation speed and quality at scale: 10,000 examples must generate in under a minute.

    .venv/bin/python benchmarks/datagen_speed.py                     # n = 10,000, default params
    .venv/bin/python benchmarks/datagen_speed.py --n 787 --out /tmp/d  # also write the full report

Times generation (+ split) and validation separately, checks every example passes every check,
and exits 1 if generation is slower than the limit or any check fails.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

from maaza.config import DataConfig, load_params
from maaza.data import build_dataset, leakage
from maaza.schemas import load_schemas
from maaza.validate import validate_records

LIMIT_S = 60.0  # the bar for 10,000 examples


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--n", type=int, default=10_000, help="train+test examples")
    ap.add_argument("--params", default="params.yaml")
    ap.add_argument(
        "--out",
        type=Path,
        help="also write splits + report.json/md here (data stage, no tokenizer)",
    )
    args = ap.parse_args()

    base = load_params(args.params).data
    cfg = DataConfig.model_validate({**base.model_dump(), "n_examples": args.n})
    schemas = load_schemas()
    t0 = time.perf_counter()
    splits = build_dataset(cfg, schemas)
    t_gen = time.perf_counter() - t0
    records = [r for recs in splits.values() for r in recs]
    t0 = time.perf_counter()
    summary = validate_records(records, schemas)
    t_val = time.perf_counter() - t0
    result = {
        "n_examples": args.n,
        "n_records_incl_holdout": len(records),
        "generate_s": round(t_gen, 2),
        "examples_per_s": round(len(records) / t_gen),
        "validate_s": round(t_val, 2),
        "pass_rates": {k: v["pass_rate"] for k, v in summary["checks"].items()},
        "n_failed": summary["n_failed"],
        "leakage": leakage(splits),
        "limit_s": LIMIT_S,
        "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
    }
    if args.out:
        from maaza.data import run_stage

        names = ("train", "test", "holdout")
        paths = {n: args.out / f"{n}.jsonl" for n in names} | {
            "report_json": args.out / "report.json", "report_md": args.out / "report.md"}  # fmt: skip
        run_stage(
            cfg, paths, tokenizer_name=os.environ.get("MAAZA_TOKENIZER") or None, progress=False
        )
    print(json.dumps(result, indent=2))
    ok = t_gen < LIMIT_S and summary["n_failed"] == 0 and not any(result["leakage"].values())
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
