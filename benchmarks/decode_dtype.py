"""Choose a run's decode dtype by accuracy, not by assumption: decode held-out generated examples
(data/val.jsonl: no run trains on them) in fp32 and in a cheaper candidate (bf16, int8 or float16
weights), and compare JSONExact pairwise.

    .venv/bin/python benchmarks/decode_dtype.py --subject smollm2-135m-r16 \\
        --out results/bench/decode_dtype-smollm2-135m-r16.json
    .venv/bin/python benchmarks/decode_dtype.py --subject smollm2-135m-instruct   # zero-shot
    .venv/bin/python benchmarks/decode_dtype.py --subject smollm2-135m-r16 \\
        --candidate int8 float16 --out results/bench/decode_dtype-packed-smollm2-135m-r16.json

Prints the params.yaml line to set: `evaluate.dtypes.<subject>: <setting>` of the first candidate
given that loses at most 1 JSONExact point and not significantly (maaza.evaluate.dtype_verdict),
else float32. The setting of bf16 is `auto`: bf16 only where the CPU multiplies bf16 natively
(AMX / AVX512-BF16); elsewhere (AVX2, e.g. the EPYC the paper ran on) bf16 is emulated, slower
than fp32, and auto decodes in fp32; the accuracy check itself runs anywhere (slowly where
emulated). The settings `int8` and `float16` pack the Linear layers' weights
(maaza.models.pack_linears; fast on AVX2 too). int8's activation scale is shared by a batch's
rows, so candidates are judged as an evaluation decodes: batched, same config.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from maaza import io
from maaza.config import load_params
from maaza.evaluate import (
    dtype_verdict,
    load_model,
    predict,
    spec_from_params,
    trained_settings,
)
from maaza.importer import import_edgejson
from maaza.plan import plan_from_params

# the evaluate.dtypes value that decodes in each candidate
SETTING = {"bfloat16": "auto", "int8": "int8", "float16": "float16"}


def subject_spec(params, subject: str, mode: str, runs_dir: str):
    """The evaluation spec of a run (its adapter, base model and prompt format) or a zero-shot model."""
    if subject in params.evaluate.zeroshot_models:
        return spec_from_params(
            params, name=f"dtype-{subject}", mode=mode, split="val", model=subject
        )
    run_dir = plan_from_params(params).run(subject).dir(runs_dir)
    model, fmt = trained_settings(run_dir)
    return spec_from_params(
        params, name=f"dtype-{subject}", mode=mode, split="val", run=subject, model=model,
        prompt_format=fmt, adapter=str(run_dir / "adapter"),
    )  # fmt: skip


def main(args: argparse.Namespace) -> dict:
    params = load_params(args.params)
    spec = subject_spec(params, args.subject, args.mode, args.runs_dir)
    records, schemas = import_edgejson(args.data, args.schemas)
    records = records[: args.n] if args.n else records
    exact, raw, walls = {}, {}, {}
    for dtype in ("float32", *args.candidate):
        model, tok = load_model(spec.model, spec.adapter, dtype)
        rows, walls[dtype] = predict(model, tok, records, schemas, spec)
        exact[dtype] = [int(r["json_exact"]) for r in rows]
        raw[dtype] = [r["raw"] for r in rows]
        print(f"{dtype}: JSONExact {sum(exact[dtype])}/{len(rows)} in {walls[dtype]:.0f} s",
              flush=True)  # fmt: skip
    verdicts = [
        {"candidate": c, **dtype_verdict(exact["float32"], exact[c], SETTING[c]),
         # how often the cheaper weights change the answer at all, and the decode's wall time
         "identical_outputs": sum(a == b for a, b in zip(raw["float32"], raw[c], strict=True)),
         "wall_s": round(walls[c], 1), "wall_s_float32": round(walls["float32"], 1)}
        for c in args.candidate
    ]  # fmt: skip
    # the first candidate (in the order given: the preferred first) that keeps JSONExact
    dtype = next((v["dtype"] for v in verdicts if v["dtype"] != "float32"), "float32")
    result = {
        "subject": args.subject, "data": args.data, "mode": args.mode, "verdicts": verdicts,
        "dtype": dtype,
    }  # fmt: skip
    print(json.dumps(result, indent=1))
    print(f"\nparams.yaml, evaluate.dtypes:\n  {args.subject}: {dtype}")
    if args.out:
        io.write_json(args.out, result, indent=1)
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--subject", required=True, help="a declared run or a zero-shot model")
    parser.add_argument("--data", default="data/val.jsonl")
    parser.add_argument("--schemas", default="src/maaza/schemas")
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--runs-dir", default="runs")
    parser.add_argument("--mode", default="constrained", choices=["free", "constrained"])
    parser.add_argument(
        "--candidate", nargs="+", default=["bfloat16"], choices=sorted(SETTING),
        help="cheaper decode dtypes, each compared with one fp32 decode; the first that keeps "
        "JSONExact is printed (give the preferred first, e.g. int8 float16)",
    )  # fmt: skip
    parser.add_argument("--n", type=int, default=None, help="the first N examples only")
    parser.add_argument("--out", type=Path, default=None)
    main(parser.parse_args())
