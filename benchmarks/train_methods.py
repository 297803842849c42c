"""Memory and time per optimizer step of each training method (issue 20 item 2): LoRA vs full
fine-tuning, on each model, with our recipe's batch.

    .venv/bin/python benchmarks/train_methods.py                  # both models x both methods
    .venv/bin/python benchmarks/train_methods.py --models tiny-random --steps 1   # smoke test

Each (model, method) trains `--warmup` + `--steps` optimizer steps with `maaza.train.train` on the
same generated examples (the data generator, seeded), with the settings of search run `--run`
(default screen-full-lr3e-4: micro-batch 4, grad_accum 2, effective batch 8) and only `model`,
`method` and the step count changed (the learning rate does not change the cost of a step).
Seconds per step and real (non-padding) tokens/s are over the measured steps only, from the run's
per-step loss.csv; the warm-up steps (first-touch allocations, kernel choice) are left out.

Peak memory is the process's peak resident set size from `resource.getrusage(RUSAGE_SELF)
.ru_maxrss` (the kernel's high-water mark, not a sample), read three times: after the model
loads, when training ends (just before the adapter/delta is saved: `peak_rss_train_gb`, the
number to quote) and at the end (`peak_rss_gb`: saving a full fine-tune's delta loads a second
base copy). Every (model, method) runs in its own process so that peaks do not mix.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any
from unittest import mock

os.environ.setdefault("HF_HUB_OFFLINE", "1")

ROOT = Path(__file__).resolve().parents[1]
MODELS = ("smollm2-135m-instruct", "gemma3-270m")
METHODS = ("lora", "full")


def peak_rss_gb() -> float:
    """This process's peak resident memory so far (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9


def measured(rows: list[dict[str, float]], warmup: int) -> dict[str, float]:
    """Seconds per optimizer step and real tokens/s over the steps after `warmup`, from loss.csv
    rows (cumulative `elapsed_s`, per-step `tokens_per_s`)."""
    if len(rows) <= warmup:
        raise SystemExit(f"{len(rows)} steps trained, need more than the {warmup} warm-up step(s)")
    before = rows[warmup - 1]["elapsed_s"] if warmup else 0.0
    ends = [before] + [r["elapsed_s"] for r in rows[warmup:]]
    durations = [b - a for a, b in zip(ends, ends[1:], strict=False)]
    tokens = sum(r["tokens_per_s"] * d for r, d in zip(rows[warmup:], durations, strict=True))
    seconds = ends[-1] - before
    return {
        "measured_steps": len(durations),
        "measured_s": round(seconds, 3),
        "s_per_step": round(seconds / len(durations), 3),
        "real_tokens": round(tokens),
        "real_tokens_per_s": round(tokens / seconds, 1),
    }


def read_loss_csv(path: Path) -> list[dict[str, float]]:
    """loss.csv rows as floats, through the report's reader (its column check included)."""
    from maaza.results import read_loss

    return [{k: float(v) for k, v in row.items()} for row in read_loss(path).to_dict("records")]


def one(args: argparse.Namespace, model_name: str, method: str) -> dict[str, Any]:
    """Train one (model, method) in this process and measure it."""
    import maaza.train as mt
    from maaza.config import TrainRun, deep_merge, load_params
    from maaza.io import to_jsonl
    from maaza.models import load

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from train_throughput import examples  # the generator's seeded records, as that benchmark

    n_steps = args.warmup + args.steps
    run = load_params(args.params).train_run(args.run)
    overrides = {"model": model_name, "method": method, "extra_train": 0, "step_fraction": 1.0,
                 "epochs": 1, "max_steps": n_steps, "threads": args.threads}  # fmt: skip
    run = TrainRun.model_validate(deep_merge(run.model_dump(), overrides))
    records = examples(n_steps * run.micro_batch_size * run.grad_accum, args.seed)
    rss: dict[str, float] = {"rss_before_load_gb": peak_rss_gb()}
    loaded = load(run.model, dtype=mt.base_dtype(run))
    rss["peak_rss_load_gb"] = peak_rss_gb()
    finish = mt.finish

    def finish_measured(*a: Any, **k: Any) -> dict[str, Any]:
        rss["peak_rss_train_gb"] = peak_rss_gb()  # training done, nothing saved yet
        return finish(*a, **k)

    with tempfile.TemporaryDirectory() as tmp, mock.patch.object(mt, "finish", finish_measured):
        data = Path(tmp) / "train.jsonl"
        data.write_text(to_jsonl(records))
        m = mt.train(f"{model_name}-{method}", run, data, Path(tmp) / "run", progress_bar=False,
                     loaded=loaded)  # fmt: skip
        rows = read_loss_csv(Path(tmp) / "run" / "loss.csv")
    rss["peak_rss_gb"] = peak_rss_gb()
    return {
        "model": model_name,
        "method": method,
        **measured(rows, args.warmup),
        **{k: round(v, 3) for k, v in rss.items()},
        "params_total": m["params_total"],
        "params_trainable": m["params_trainable"],
        "adapter_mb": m["adapter_mb"],  # the saved LoRA adapter or full-weight delta
        "base_dtype": m["base_dtype"],
        "learning_rate": run.learning_rate,
        "micro_batch_size": run.micro_batch_size,
        "grad_accum": run.grad_accum,
        "n_examples": len(records),
        "steps": m["steps"],
        "hardware": m["hardware"],
        "git": m["provenance"]["git"],
        "versions": m["provenance"]["versions"],
    }


def in_own_process(args: argparse.Namespace, model_name: str, method: str) -> dict[str, Any]:
    """`one` in a fresh interpreter: its peak RSS is its own."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "one.json"
        cmd = [sys.executable, __file__, "--one", model_name, method, "--json", str(out),
               "--params", args.params, "--run", args.run, "--warmup", str(args.warmup),
               "--steps", str(args.steps), "--seed", str(args.seed)]  # fmt: skip
        if args.threads:
            cmd += ["--threads", str(args.threads)]
        subprocess.run(cmd, check=True)
        return json.loads(out.read_text())


def summary_line(r: dict[str, Any]) -> str:
    return (f"{r['model']:24s} {r['method']:5s} {r['s_per_step']:7.2f} s/step "
            f"{r['real_tokens_per_s']:7.1f} real tok/s  peak RSS {r['peak_rss_train_gb']:.2f} GB "
            f"(with saving {r['peak_rss_gb']:.2f} GB)  {r['params_trainable']:,} trainable  "
            f"{r['adapter_mb']:.1f} MB saved")  # fmt: skip


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--params", default=str(ROOT / "params.yaml"))
    ap.add_argument("--run", default="screen-full-lr3e-4", help="run whose recipe every case uses")
    ap.add_argument("--models", nargs="+", default=list(MODELS))
    ap.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    ap.add_argument("--warmup", type=int, default=1, help="optimizer steps not measured")
    ap.add_argument("--steps", type=int, default=3, help="optimizer steps measured")
    ap.add_argument("--seed", type=int, default=7, help="generator seed for the examples")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: all cores)")
    ap.add_argument("--json", type=Path, default=ROOT / "results" / "bench" / "train_methods.json")
    ap.add_argument("--one", nargs=2, metavar=("MODEL", "METHOD"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.steps < 1 or args.warmup < 0:
        ap.error("--steps must be at least 1 and --warmup at least 0")
    from maaza import io

    if args.one:
        io.write_json(args.json, one(args, *args.one))
        return 0
    cases = []
    for model_name in args.models:
        for method in args.methods:
            cases.append(in_own_process(args, model_name, method))
            print(summary_line(cases[-1]), flush=True)
    result = {
        "run": args.run,
        "warmup_steps": args.warmup,
        "measured_steps": args.steps,
        "seed": args.seed,
        "memory": "ru_maxrss (kernel peak RSS) of one process per (model, method)",
        # model -> method -> its numbers: the report's macros read e.g. "gemma3-270m.full.s_per_step"
        "results": {m: {c["method"]: c for c in cases if c["model"] == m} for m in args.models},
        "machine": cases[0]["hardware"],
        "git": cases[0]["git"],
        "date": io.now(),
    }
    io.write_json(args.json, result)
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
