"""Evaluation throughput: the reference harness's loop vs ours, constrained vs free, on the test
split and on long answers; and one decoder against another (e.g. an older commit's), side by side.

    .venv/bin/python benchmarks/eval_throughput.py --adapter runs/smollm2-135m-maaza/adapter \\
        --prompt-format compact --out results/bench/eval_throughput.json
    # an older decoder (same script, its code): export it, run it, then compare this one to it
    mkdir -p /tmp/maaza-881a4b3 && git archive 881a4b3 src params.yaml | tar -x -C /tmp/maaza-881a4b3
    .venv/bin/python benchmarks/eval_throughput.py --code-dir /tmp/maaza-881a4b3/src \\
        --adapter runs/smollm2-135m-maaza/adapter --prompt-format compact --no-reference \\
        --out results/bench/eval_throughput_881a4b3.json
    .venv/bin/python benchmarks/eval_throughput.py --adapter runs/smollm2-135m-maaza/adapter \\
        --prompt-format compact --no-reference --baseline results/bench/eval_throughput_881a4b3.json \\
        --out results/bench/eval_throughput_new.json
    # decode workers (evaluate.workers): 2 forked processes of 1 thread vs 1 process of 2 threads
    .venv/bin/python benchmarks/eval_throughput.py --adapter runs/smollm2-135m-maaza/adapter \\
        --prompt-format compact --no-reference --workers 2 \\
        --baseline results/bench/eval_throughput_w1.json --out results/bench/eval_throughput_w2.json

Cases, one model:
  test: the first N (32) examples of data/test.jsonl;
  long: the examples of data/val.jsonl whose reference answers exceed 300 tokens (at most 16);
decoded by ours (b) free (batched, left padding, per-schema token budgets, stop when the JSON
closes) and (c) constrained ((b) plus xgrammar masking; grammars compiled beforehand, as in a run),
and, on the test case only, (a) the reference: one example at a time, always max_new_tokens (512)
new tokens, no early stop (the paper's eval.py with greedy decoding and a 512-token limit).
Budgets come from each case's whole file, as an evaluation of that file computes them.
Goals: (b) at least 4x the examples/s of (a); (c) at most 15% slower than (b). Each side reports
examples/s, generated tokens/s and JSONExact; with --baseline, the speedup over another run of
this script and how many outputs are identical (the same greedy maths gives the same outputs).
Only APIs that commit 881a4b3 has are used, so --code-dir can point at its src (--workers > 1
needs this decoder: maaza.parallel; its workers' forward passes are not counted).
"""

from __future__ import annotations

import argparse
import cProfile
import dataclasses
import functools
import hashlib
import json
import os
import pstats
import sys
import time
from pathlib import Path
from typing import Any

TIME_LIMIT_S = 4 * 3600  # the reference loop is slow by design; give up rather than run forever
LONG_MIN_TOKENS = 300  # "long output": reference answers over this many tokens
MODES = ("free", "constrained")


def reference_loop(model, tok, prompts: list[str], max_new_tokens: int, deadline: float) -> int:
    """One prompt at a time, exactly max_new_tokens new tokens each; returns tokens generated."""
    import torch
    from tqdm.auto import tqdm

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


def timed(label: str, profile: Path | None, fn, *args, **kwargs):
    """fn(*args, **kwargs) and its wall time; with `profile`, its cProfile stats too (written to
    that file, the top 12 functions by own time printed)."""
    prof = cProfile.Profile() if profile else None
    start = time.perf_counter()
    if prof:
        prof.enable()
    result = fn(*args, **kwargs)
    if prof:
        prof.disable()
    seconds = time.perf_counter() - start
    print(f"{label}: {seconds:.1f} s", flush=True)
    if prof:
        prof.dump_stats(profile)
        pstats.Stats(prof).sort_stats("tottime").print_stats(12)
    return result, seconds


def load_case(path: str, schemas_dir: str, count_tokens, cfg, n: int, min_tokens: int | None):
    """(records, schemas, budgets): the first n records (over min_tokens of answer, if given)."""
    from maaza.evaluate import schema_budgets
    from maaza.importer import import_edgejson
    from maaza.prompts import render_target

    records, schemas = import_edgejson(path, schemas_dir)
    budget = schema_budgets(records, count_tokens, cfg)  # from the whole file, as an evaluation
    if min_tokens is not None:
        records = [
            r for r in records if count_tokens(render_target(r["expected_output"])) > min_tokens
        ]
    records = records[:n]
    if not records:
        raise SystemExit(f"{path}: no example with an answer over {min_tokens} tokens")
    return records, schemas, [budget[r["schema_id"]] for r in records]


def side(gens, records, row_schemas, seconds: float, policy: str) -> dict[str, Any]:
    """One decode's numbers: speed, JSONExact, truncations and a digest of its outputs."""
    from maaza.metrics import parse_output, score_example

    texts = [g.text for g in gens]
    exact = [
        score_example(parse_output(t), r["expected_output"], s, policy).json_exact
        for t, r, s in zip(texts, records, row_schemas, strict=True)
    ]
    tokens = sum(g.n_tokens for g in gens)
    return {
        "seconds": round(seconds, 2),
        "tokens": tokens,
        "examples_per_s": round(len(gens) / seconds, 4),
        "tokens_per_s": round(tokens / seconds, 2),
        "json_exact": sum(exact),
        "truncated": sum(g.truncated for g in gens),
        "outputs_sha256": [hashlib.sha256(t.encode()).hexdigest()[:16] for t in texts],
    }


def versus(result: dict[str, Any], baseline: dict[str, Any]) -> dict[str, Any]:
    """Per case and mode: examples/s over the baseline's, and outputs identical to it."""
    out = {}
    for case, numbers in result["cases"].items():
        for mode in MODES:
            ours, theirs = numbers[mode], baseline.get("cases", {}).get(case, {}).get(mode)
            if theirs is None or len(theirs["outputs_sha256"]) != len(ours["outputs_sha256"]):
                continue
            same = sum(
                a == b
                for a, b in zip(ours["outputs_sha256"], theirs["outputs_sha256"], strict=True)
            )
            out[f"{case}/{mode}"] = {
                "speedup": round(ours["examples_per_s"] / theirs["examples_per_s"], 3),
                "identical_outputs": same,
                "n": len(ours["outputs_sha256"]),
                "json_exact": [theirs["json_exact"], ours["json_exact"]],
            }
    return out


def params_for(code_dir: str | None) -> Path:
    """params.yaml beside the decoder's src (an older checkout's config may not read today's)."""
    beside = Path(code_dir).resolve().parent / "params.yaml" if code_dir else None
    return beside if beside and beside.is_file() else Path("params.yaml")


def main(args: argparse.Namespace) -> dict:
    if args.code_dir:  # the decoder under test: another checkout's src, before any maaza import
        sys.path.insert(0, str(Path(args.code_dir).resolve()))
    import torch

    import maaza
    from maaza.config import load_params
    from maaza.decode import GrammarCache, generate, vocab_size
    from maaza.evaluate import load_model
    from maaza.prompts import build_prompt

    try:  # decoders since continuous batching count their forward passes
        from maaza.decode import DecodeStats
    except ImportError:
        DecodeStats = None
    print(f"decoder: {maaza.__file__}", flush=True)
    if args.threads:
        torch.set_num_threads(args.threads)
    params = load_params(args.params or params_for(args.code_dir))
    cfg = params.evaluate.decode
    if args.batch_size:
        cfg = cfg.model_copy(update={"batch_size": args.batch_size})
    dtype = args.dtype or params.evaluate.dtype
    decode = generate
    if args.workers > 1:  # rows shared among forked 1-thread processes (maaza.parallel)
        from maaza.parallel import WORKER_THREADS, generate_parallel

        decode = functools.partial(generate_parallel, workers=args.workers)
    model, tok = load_model(args.model, args.adapter, dtype)  # every side alike

    def count_tokens(s: str) -> int:
        return len(tok(s, add_special_tokens=False)["input_ids"])

    cases = {
        "test": load_case(args.data, args.schemas, count_tokens, cfg, args.n, None),
        "long": load_case(
            args.long_data, args.schemas, count_tokens, cfg, args.long_n, args.long_min_tokens
        ),
    }
    grammars = GrammarCache(tok, vocab_size(model), cfg)
    result: dict[str, Any] = {
        "model": args.model,
        "adapter": args.adapter,
        "prompt_format": args.prompt_format,
        "n": len(cases["test"][0]),
        "batch_size": cfg.batch_size,
        "workers": args.workers,
        "threads": WORKER_THREADS if args.workers > 1 else torch.get_num_threads(),  # per worker
        # packed Linear layers hold no parameters (an older decoder's maaza cannot pack)
        "dtype": (
            dtype
            if dtype in ("int8", "float16")
            else str(next(model.parameters()).dtype).removeprefix("torch.")
        ),
        "decoder": str(Path(maaza.__file__).parent),
        "cases": {},
    }
    for case, (records, schemas, budgets) in cases.items():
        prompts = [
            build_prompt(r["prompt"], schemas[r["schema_id"]], args.prompt_format) for r in records
        ]
        row_schemas = [schemas[r["schema_id"]] for r in records]
        for s in row_schemas:  # compile before timing: a run compiles each schema once
            grammars.get(s)
        result["cases"][case] = {"n": len(records), "budget_max": max(budgets)}
        for mode in MODES:
            stats = {"stats": DecodeStats()} if DecodeStats and args.workers == 1 else {}
            gens, seconds = timed(
                f"{case}: ours, {mode}",
                Path(f"{args.profile}.{case}.{mode}.prof") if args.profile else None,
                decode, model, tok, prompts, cfg, mode=mode, schemas=row_schemas,
                grammars=grammars, budgets=budgets, sources=[r["prompt"] for r in records],
                **stats,
            )  # fmt: skip
            result["cases"][case][mode] = side(
                gens, records, row_schemas, seconds, cfg.format_policy
            )
            if stats:  # forward passes and rows per step: how full the batch ran
                counts = stats["stats"]
                result["cases"][case][mode]["forwards"] = {
                    **dataclasses.asdict(counts),
                    "rows_per_step": round(counts.rows_per_step, 3),
                }
        free, con = result["cases"][case]["free"], result["cases"][case]["constrained"]
        result["cases"][case]["constrained_overhead_wall"] = round(
            con["seconds"] / free["seconds"] - 1, 4
        )
        if case == "test":  # the report's fields (maaza.results.EvalBench)
            result["free"], result["constrained"] = free, con
            result["constrained_overhead_wall"] = result["cases"][case]["constrained_overhead_wall"]
            result["constrained_overhead_per_token"] = round(
                (con["seconds"] / con["tokens"]) / (free["seconds"] / free["tokens"]) - 1, 4
            )
        if case == "test" and args.reference:
            ref_tokens, t_ref = timed(
                "(a) reference", None, reference_loop, model, tok, prompts, cfg.max_new_tokens,
                time.perf_counter() + TIME_LIMIT_S,
            )  # fmt: skip
            n = len(prompts)
            result["reference"] = {
                "seconds": round(t_ref, 2),
                "tokens": ref_tokens,
                "examples_per_s": round(n / t_ref, 4),
            }
            result["speedup_free_vs_reference"] = round(t_ref / free["seconds"], 2)
    for case, r in result["cases"].items():
        print(
            f"{case} (n={r['n']}): examples/s free {r['free']['examples_per_s']:.3f}, "
            f"constrained {r['constrained']['examples_per_s']:.3f}; tokens/s free "
            f"{r['free']['tokens_per_s']:.1f}, constrained {r['constrained']['tokens_per_s']:.1f}; "
            f"JSONExact free {r['free']['json_exact']}, constrained "
            f"{r['constrained']['json_exact']}; constrained overhead "
            f"{100 * r['constrained_overhead_wall']:+.1f}% (goal <= +15%)"
        )
    if "reference" in result:
        print(f"(b)/(a) = {result['speedup_free_vs_reference']:.1f}x (goal >= 4x)")
    if args.baseline:
        result["vs_baseline"] = versus(result, json.loads(args.baseline.read_text()))
        result["baseline"] = str(args.baseline)
        for key, v in result["vs_baseline"].items():
            print(
                f"vs baseline {key}: {v['speedup']:.2f}x examples/s (goal >= 2x), identical "
                f"outputs {v['identical_outputs']}/{v['n']}, JSONExact {v['json_exact']}"
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
    parser.add_argument("--long-data", default="data/val.jsonl")
    parser.add_argument("--long-min-tokens", type=int, default=LONG_MIN_TOKENS)
    parser.add_argument("--long-n", type=int, default=16, help="long examples (the first N)")
    parser.add_argument("--schemas", default="src/maaza/schemas")
    parser.add_argument(
        "--params", default=None, help="default: params.yaml beside --code-dir's src, else ./"
    )
    parser.add_argument("--n", type=int, default=32, help="test examples (the first N)")
    parser.add_argument(
        "--threads", type=int, default=None, help="torch threads (default: torch's)"
    )
    parser.add_argument(
        "--workers", type=int, default=1,
        help="decode processes of 1 torch thread each (evaluate.workers; default 1: this one)",
    )  # fmt: skip
    parser.add_argument("--batch-size", type=int, default=None, help="default: params.yaml's")
    parser.add_argument(
        "--dtype", default=None, choices=["auto", "float32", "bfloat16", "int8", "float16"],
        help="decode weights (default: params.yaml evaluate.dtype); int8 and float16 need this "
        "decoder (not an older --code-dir)",
    )  # fmt: skip
    parser.add_argument(
        "--no-reference", dest="reference", action="store_false",
        help="skip (a), the slow one-at-a-time loop (side-by-side decoder runs do not need it)",
    )  # fmt: skip
    parser.add_argument(
        "--code-dir", default=None, help="the maaza src folder to import (an older decoder)"
    )
    parser.add_argument("--baseline", type=Path, default=None, help="another run's --out JSON")
    parser.add_argument("--profile", default=None, help="write cProfile stats to PREFIX.*.prof")
    parser.add_argument("--out", type=Path, default=None, help="also write the numbers as JSON")
    main(parser.parse_args())
