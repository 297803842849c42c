"""`maaza extract` on schemas and texts written by hand that the training data never saw.

    .venv/bin/python benchmarks/extract_unseen.py                      # default adapter (best run)
    .venv/bin/python benchmarks/extract_unseen.py --adapter runs/smollm2-135m-r16/adapter \\
        --out results/bench/extract_unseen-r16.json

Cases live in examples/unseen/cases.jsonl (name, schema file, text, expected JSON written before
any model saw the text). Each case is decoded on its own, as a user would run the command, with
the Extractor of the Python API (one model load for all). Printed per case: valid?, exact?, the
fields that differ, tokens and latency; written to --out as JSON.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from maaza.config import load_params
from maaza.extract import Extractor, load_schema
from maaza.metrics import flatten, json_equal, json_exact, leaf_prf

CASES = Path("examples/unseen/cases.jsonl")


def differing_leaves(predicted: object, expected: object) -> dict[str, list[object]]:
    """{path: [predicted, expected]} for every flattened leaf that is missing, extra or unequal."""
    p, e = flatten(predicted), flatten(expected)
    return {
        k: [p.get(k), e.get(k)]
        for k in sorted(p.keys() | e.keys())
        if k not in p or k not in e or not json_equal(p[k], e[k])
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--cases", type=Path, default=CASES)
    ap.add_argument("--model", default=None, help="base model (default: the adapter's)")
    ap.add_argument(
        "--adapter", default=None, help="adapter folder (default: the best trained run)"
    )
    ap.add_argument("--zero-shot", action="store_true", help="no adapter: the base model alone")
    ap.add_argument("--mode", choices=["constrained", "free"], default="constrained")
    ap.add_argument(
        "--copy-spans", action="store_true",
        help="constrained: free-text values must be verbatim spans of the text (params otherwise)",
    )  # fmt: skip
    ap.add_argument("--out", type=Path, default=Path("results/bench/extract_unseen.json"))
    args = ap.parse_args()

    cases = [json.loads(line) for line in args.cases.read_text().splitlines() if line.strip()]
    kwargs: dict[str, object] = {"adapter": args.adapter} if args.adapter else {}
    if args.copy_spans:
        kwargs["decode"] = load_params().evaluate.decode.model_copy(update={"copy_spans": True})
    extractor = Extractor(args.model, mode=args.mode, zero_shot=args.zero_shot, **kwargs)
    print(
        f"{extractor.source.describe()}: {extractor.source.note}; loaded in {extractor.load_s:.1f} s"
    )
    rows = []
    for case in cases:
        schema = load_schema(args.cases.parent / case["schema"])
        start = time.perf_counter()
        res = extractor.extract_batch([case["text"]], schema)[0]
        wall = time.perf_counter() - start  # includes compiling the schema's grammar (first use)
        diff = differing_leaves(res.value, case["expected"])
        rows.append({
            "name": case["name"], "valid": res.valid, "exact": json_exact(res.value, case["expected"]),
            "leaf_f1": round(leaf_prf(res.value, case["expected"])[2], 3),
            "n_leaves": len(flatten(case["expected"])),
            "n_right": sum(path not in diff for path in flatten(case["expected"])), "wrong": diff, "output": res.value,
            "n_tokens": res.n_tokens, "latency_s": res.latency_s, "wall_s": round(wall, 3),
            "tokens_per_s": round(res.n_tokens / res.latency_s, 1) if res.latency_s else None,
        })  # fmt: skip
        r = rows[-1]
        print(f"{r['name']:>16}: valid={r['valid']} exact={r['exact']} leaf F1={r['leaf_f1']:.3f} "
              f"{r['n_tokens']} tokens in {r['latency_s']:.2f} s ({r['tokens_per_s']} tok/s)"
              + (f"  wrong: {json.dumps(diff, ensure_ascii=False)}" if diff else ""))  # fmt: skip
    summary = {
        "source": extractor.source.describe(),
        "run": extractor.source.run,  # None: zero-shot
        "model": extractor.source.model,
        "mode": args.mode,
        "copy_spans": extractor.cfg.copy_spans,
        "load_s": round(extractor.load_s, 2),
        "n": len(rows),
        "n_valid": sum(r["valid"] for r in rows),
        "n_exact": sum(r["exact"] for r in rows),
        "leaves_right": sum(r["n_right"] for r in rows),
        "leaves": sum(r["n_leaves"] for r in rows),
        "mean_latency_s": round(sum(r["latency_s"] for r in rows) / len(rows), 3),
        "cases": rows,
    }
    print(f"{summary['n_exact']}/{summary['n']} exact, {summary['n_valid']}/{summary['n']} valid, "
          f"mean latency {summary['mean_latency_s']:.2f} s")  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
