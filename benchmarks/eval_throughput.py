"""Evaluation throughput: the reference harness's loop vs ours, and constrained vs free decoding.

    nice -n 10 .venv/bin/python benchmarks/eval_throughput.py --threads 1
    nice -n 10 .venv/bin/python benchmarks/eval_throughput.py --adapter runs/smollm2-135m-r16/adapter \\
        --prompt-format compact --out results/bench/eval_throughput.json

One run on the first N (32) test examples with one model:
  (a) reference: one example at a time, always max_new_tokens (512) new tokens, no early stop
      (what the paper's eval.py does with greedy decoding and a 512-token limit);
  (b) ours, free: batched, left padding, per-schema token budgets, stop when the JSON closes;
  (c) ours, constrained: (b) plus xgrammar masking (grammars compiled beforehand, as in a run).
Goals: (b) at least 4x the examples/s of (a); (c) at most 15% slower than (b). Per-token cost is
also printed, since (b) and (c) need not produce the same number of tokens.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import torch
from tqdm.auto import tqdm

from maaza.config import load_params
from maaza.decode import GrammarCache, generate, vocab_size
from maaza.evaluate import load_model, schema_budgets
from maaza.importer import import_edgejson
from maaza.prompts import build_prompt

TIME_LIMIT_S = 4 * 3600  # the reference loop is slow by design; give up rather than run forever


def reference_loop(model, tok, prompts: list[str], max_new_tokens: int, deadline: float) -> int:
    """One prompt at a time, exactly max_new_tokens new tokens each; returns tokens generated."""
    total = 0
    for prompt in tqdm(prompts, desc="(a) reference", unit="ex"):
        enc = tok(prompt, return_tensors="pt")
        with torch.inference_mode():
            out = model.generate(
                **enc,
                max_new_tokens=max_new_tokens,
                min_new_tokens=max_new_tokens,  # no early stop, as the reference
                do_sample=False,
                temperature=None,
                top_p=None,
                top_k=None,
                pad_token_id=tok.pad_token_id,
            )
        total += out.shape[1] - enc["input_ids"].shape[1]
        if time.perf_counter() > deadline:
            raise SystemExit(f"reference loop over the {TIME_LIMIT_S} s limit")
    return total


def timed(label: str, fn):
    start = time.perf_counter()
    result = fn()
    seconds = time.perf_counter() - start
    print(f"{label}: {seconds:.1f} s", flush=True)
    return result, seconds


def main(args: argparse.Namespace) -> dict:
    if args.threads:
        torch.set_num_threads(args.threads)
    params = load_params(args.params)
    cfg = params.evaluate.decode
    records, schemas = import_edgejson(args.data, args.schemas)
    records = records[: args.n]
    model, tok = load_model(args.model, args.adapter, params.evaluate.dtype)  # all three alike
    prompts = [
        build_prompt(r["prompt"], schemas[r["schema_id"]], args.prompt_format) for r in records
    ]
    row_schemas = [schemas[r["schema_id"]] for r in records]
    budget = schema_budgets(
        records, lambda s: len(tok(s, add_special_tokens=False)["input_ids"]), cfg
    )
    budgets = [budget[r["schema_id"]] for r in records]
    grammars = GrammarCache(tok, vocab_size(model), cfg)
    for s in row_schemas:  # compile before timing: a real run compiles each schema once
        grammars.get(s)
    deadline = time.perf_counter() + TIME_LIMIT_S

    def ours(mode: str):
        return generate(
            model,
            tok,
            prompts,
            cfg,
            mode=mode,
            schemas=row_schemas,
            grammars=grammars,
            budgets=budgets,
        )

    free, t_free = timed("(b) ours, free", lambda: ours("free"))
    constrained, t_con = timed("(c) ours, constrained", lambda: ours("constrained"))
    ref_tokens, t_ref = timed(
        "(a) reference", lambda: reference_loop(model, tok, prompts, cfg.max_new_tokens, deadline)
    )
    n = len(prompts)
    tok_free = sum(g.n_tokens for g in free)
    tok_con = sum(g.n_tokens for g in constrained)
    result = {
        "model": args.model,
        "adapter": args.adapter,
        "prompt_format": args.prompt_format,
        "n": n,
        "batch_size": cfg.batch_size,
        "threads": torch.get_num_threads(),
        "dtype": str(next(model.parameters()).dtype).removeprefix("torch."),
        "reference": {
            "seconds": round(t_ref, 2),
            "tokens": ref_tokens,
            "examples_per_s": round(n / t_ref, 4),
        },
        "free": {
            "seconds": round(t_free, 2),
            "tokens": tok_free,
            "examples_per_s": round(n / t_free, 4),
        },
        "constrained": {
            "seconds": round(t_con, 2),
            "tokens": tok_con,
            "examples_per_s": round(n / t_con, 4),
        },
        "speedup_free_vs_reference": round(t_ref / t_free, 2),
        "constrained_overhead_wall": round(t_con / t_free - 1, 4),
        "constrained_overhead_per_token": round((t_con / tok_con) / (t_free / tok_free) - 1, 4),
        "truncated": {
            "free": sum(g.truncated for g in free),
            "constrained": sum(g.truncated for g in constrained),
        },
    }
    print(
        f"\nexamples/s  (a) reference {n / t_ref:.3f}   (b) ours free {n / t_free:.3f}   "
        f"(c) ours constrained {n / t_con:.3f}\n"
        f"(b)/(a) = {t_ref / t_free:.1f}x (goal >= 4x)\n"
        f"(c) vs (b): {100 * result['constrained_overhead_wall']:+.1f}% wall, "
        f"{100 * result['constrained_overhead_per_token']:+.1f}% per token (goal <= +15%)"
    )
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        tmp = args.out.with_suffix(".tmp")
        tmp.write_text(json.dumps(result, indent=1) + "\n")
        os.replace(tmp, args.out)
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default="smollm2-135m-instruct")
    parser.add_argument("--adapter", default=None, help="peft adapter folder (merged)")
    parser.add_argument(
        "--prompt-format", default="paper", choices=["paper", "model_card", "compact"]
    )
    parser.add_argument("--data", default="data/test.jsonl")
    parser.add_argument("--schemas", default="src/maaza/schemas")
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--n", type=int, default=32, help="examples (the first N)")
    parser.add_argument(
        "--threads", type=int, default=None, help="torch threads (default: torch's)"
    )
    parser.add_argument("--out", type=Path, default=None, help="also write the numbers as JSON")
    main(parser.parse_args())
