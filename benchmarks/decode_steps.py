"""Forward passes a decode needs, counted from the answer lengths of an earlier evaluation (no
model, no clock: usable while another job owns the CPU): batches run to their longest answer
(the decoder before continuous batching) vs continuous batching (maaza.decode.refill_count).

    .venv/bin/python benchmarks/decode_steps.py \\
        --predictions /work/notes/saved/ft-screen-e1-constrained-val/predictions.jsonl

A one-token step re-reads every weight however few rows it carries (fp32 SmolLM2-135M: ~540 MB
per step, memory-bound), so forward passes approximate decode time; rows per step is how full
the batch ran. `kv_positions` sums rows x cached positions over steps: the attention reads,
which grow with the padding a merged batch carries. Budgets and prompt lengths (the batch order)
come from the data as an evaluation computes them; greedy outputs, hence answer lengths, are the
same under both schedules.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from maaza.config import load_params
from maaza.decode import batch_order, refill_count
from maaza.evaluate import schema_budgets
from maaza.importer import import_edgejson
from maaza.io import read_jsonl
from maaza.models import load_tokenizer
from maaza.prompts import build_prompt


def whole_batches(order: list[int], n: list[int], prompt: list[int], size: int) -> dict[str, Any]:
    """Batches of `size` in order, each decoding until its longest answer ends (the prefill gives
    every row its first token; finished rows leave, the prefill's padding stays)."""
    steps = row_steps = kv = few = 0
    for start in range(0, len(order), size):
        batch = order[start : start + size]
        width = max(prompt[i] for i in batch)
        for t in range(1, max(n[i] for i in batch)):  # token t + 1 of the rows still going
            rows = sum(n[i] > t for i in batch)
            steps, row_steps, kv = steps + 1, row_steps + rows, kv + rows * (width + t)
            few += rows <= 2
    prefills = -(-len(order) // size)
    return _summary(prefills, 0, steps, row_steps, kv, few)


def continuous(
    order: list[int], n: list[int], prompt: list[int], size: int, at_least: int
) -> dict[str, Any]:
    """maaza.decode._decode's schedule: refill_count decides when to prefill and merge."""
    pending, live = order[::-1], {}  # live: row -> tokens it has
    prefills = merges = steps = row_steps = kv = few = 0
    while live or pending:
        k = refill_count(len(live), len(pending), size, at_least)
        if k:
            merges += bool(live)
            prefills += 1
            joining = {i: 1 for i in (pending.pop() for _ in range(k))}
        else:
            width = max(prompt[i] + got for i, got in live.items())  # common padding dropped
            steps, row_steps, kv = steps + 1, row_steps + len(live), kv + len(live) * width
            few += len(live) <= 2
            joining, live = {}, {i: got + 1 for i, got in live.items()}
        live = {i: got for i, got in (live | joining).items() if got < n[i]}
    return _summary(prefills, merges, steps, row_steps, kv, few)


def _summary(
    prefills: int, merges: int, steps: int, row_steps: int, kv: int, few: int
) -> dict[str, Any]:
    return {
        "forwards": prefills + steps,
        "prefills": prefills,
        "merges": merges,
        "steps": steps,
        "row_steps": row_steps,
        "rows_per_step": round(row_steps / steps, 3),
        "steps_with_1_or_2_rows": few,
        "kv_positions": kv,
    }


def main(args: argparse.Namespace) -> dict[str, Any]:
    params = load_params(args.params)
    cfg = params.evaluate.decode
    size = args.batch_size or cfg.batch_size
    tok = load_tokenizer(args.model)
    records, schemas = import_edgejson(args.data, args.schemas)
    budget = schema_budgets(
        records, lambda s: len(tok(s, add_special_tokens=False)["input_ids"]), cfg
    )
    prompts = [
        build_prompt(r["prompt"], schemas[r["schema_id"]], args.prompt_format) for r in records
    ]
    prompt = [len(ids) for ids in tok(prompts)["input_ids"]]  # as generate counts them
    answers = {row["id"]: row["n_tokens"] for row in read_jsonl(args.predictions)}
    n = [answers[r["id"]] for r in records]
    order = batch_order([min(budget[r["schema_id"]], cfg.max_new_tokens) for r in records], prompt)
    result = {
        "predictions": str(args.predictions),
        "examples": len(records),
        "batch_size": size,
        "answer_tokens": sum(n),
        "whole_batches": whole_batches(order, n, prompt, size),
        "continuous": {
            f"refill_at_{k}": continuous(order, n, prompt, size, k) for k in args.refill_at
        },
    }
    old = result["whole_batches"]
    print(f"{len(records)} examples, {sum(n)} answer tokens, batch size {size}")
    print(f"whole batches:  {old['forwards']} forwards, {old['rows_per_step']} rows/step "
          f"({old['steps_with_1_or_2_rows']} steps with 1-2 rows), {old['kv_positions']:,} KV "
          "positions read")  # fmt: skip
    for name, c in result["continuous"].items():
        print(
            f"continuous {name}: {c['forwards']} forwards ({c['prefills']} prefills, "
            f"{c['merges']} merges), {c['rows_per_step']} rows/step ({c['steps_with_1_or_2_rows']} "
            f"with 1-2), {c['kv_positions']:,} KV "
            f"positions; forwards {old['forwards'] / c['forwards']:.2f}x fewer"
        )
    if args.out:
        args.out.write_text(json.dumps(result, indent=1) + "\n")
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--predictions", type=Path, required=True, help="an evaluation's output")
    parser.add_argument("--data", default="data/val.jsonl", help="the data it evaluated")
    parser.add_argument("--schemas", default="src/maaza/schemas")
    parser.add_argument("--model", default="smollm2-135m-instruct", help="its tokenizer")
    parser.add_argument("--prompt-format", default="compact")
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--batch-size", type=int, default=None, help="default: params.yaml's")
    parser.add_argument("--refill-at", type=int, nargs="+", default=[1, 2, 3, 4])
    parser.add_argument("--out", type=Path, default=None)
    main(parser.parse_args())
