"""Packed decode weights (evaluate.dtype: int8 | float16) against fp32, on one merged run: the
cost of one decode step, whether outputs change, and whether a row's output depends on its batch.

    .venv/bin/python benchmarks/decode_weights.py --run smollm2-135m-maaza \\
        --out results/bench/decode_weights.json

(1) One decode step (a token per row over a KV cache of --context prompt tokens) of --rows rows
in fp32, int8 with one weight scale per output channel (maaza.models.pack_linears), int8 with
one scale per tensor (torch.ao's default dynamic qconfig) and fp16 weights: round-robin, median
of --rounds. (2) The first --n examples of --data decoded (constrained, the evaluation's
batching) in fp32, int8 and float16: JSONExact and outputs identical to fp32's. (3) The first
--alone of them decoded again one at a time: dynamic int8 quantizes a Linear layer's input with
ONE scale over the whole batch, so a row's logits can change with its neighbours (fp32 is the
control: padding and kernels could differ too). Timings are relative when the CPU is shared;
a run's verdict belongs to benchmarks/decode_dtype.py --candidate int8|float16 on all of
data/val.jsonl.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time
from pathlib import Path

import torch
from torch import nn

from maaza import io
from maaza.config import load_params
from maaza.decode import GrammarCache, generate, vocab_size
from maaza.evaluate import _decode_inputs, load_model, prediction_row, spec_from_params
from maaza.importer import import_edgejson
from maaza.models import pack_linears


def per_tensor_int8(model: nn.Module) -> nn.Module:
    """torch.ao's default dynamic qconfig: one weight scale per tensor (pack_linears' rival)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.ao's deprecation notices (see pack_linears)
        from torch.ao.quantization import default_dynamic_qconfig, quantize_dynamic

        return quantize_dynamic(model, {nn.Linear: default_dynamic_qconfig}, dtype=torch.qint8)


@torch.inference_mode()
def step_ms(models: dict[str, nn.Module], ids: torch.Tensor, rounds: int) -> dict[str, float]:
    """Median ms of one decode step per model over a prefilled cache of ids (rows, context)."""
    from transformers import DynamicCache

    caches = {}
    for name, model in models.items():
        caches[name] = DynamicCache()
        model(input_ids=ids, past_key_values=caches[name], use_cache=True)
    token = ids[:, -1:]
    times: dict[str, list[float]] = {name: [] for name in models}
    for _ in range(rounds):  # round-robin: a change in the machine's load hits every model alike
        for name, model in models.items():
            start = time.perf_counter()
            model(input_ids=token, past_key_values=caches[name], use_cache=True)
            times[name].append(1000 * (time.perf_counter() - start))
            caches[name].crop(-1)  # drop the step's token: the next round sees the same cache
    return {name: round(statistics.median(t), 2) for name, t in times.items()}


def decode(model, tok, prompts, schemas, budgets, cfg, grammars) -> list:
    return generate(
        model, tok, prompts, cfg, mode="constrained", schemas=schemas, grammars=grammars,
        budgets=budgets, progress=False,
    )  # fmt: skip


def main(args: argparse.Namespace) -> dict:
    torch.set_num_threads(args.threads)
    params = load_params(args.params)
    run_dir = Path(args.runs_dir) / args.run
    train = io.read_json(run_dir / "train_metrics.json")
    spec = spec_from_params(
        params, name="weights", mode="constrained", split="val", run=args.run,
        model=train["model"], prompt_format=train["prompt_format"],
        adapter=str(run_dir / "adapter"),
    )  # fmt: skip
    fp32, tok = load_model(spec.model, spec.adapter, "float32")
    models = {
        "float32": fp32,
        "int8": pack_linears(copy.deepcopy(fp32), "int8"),
        "int8_per_tensor": per_tensor_int8(copy.deepcopy(fp32)),
        "float16": pack_linears(copy.deepcopy(fp32), "float16"),
    }
    records, schemas = import_edgejson(args.data, args.schemas)
    records = records[: args.n]
    prompts, row_schemas, budgets = _decode_inputs(fp32, tok, records, schemas, spec)
    all_ids = tok(prompts)["input_ids"]
    context = min(args.context, *map(len, all_ids))  # every row's cache the same length
    result: dict = {"run": args.run, "threads": args.threads, "context": context, "step_ms": {}}
    for rows in args.rows:
        ids = torch.tensor([all_ids[i % len(all_ids)][:context] for i in range(rows)])
        result["step_ms"][rows] = step_ms(models, ids, args.rounds)
        print(f"one step, {rows} rows (ms): {result['step_ms'][rows]}", flush=True)
    grammars = GrammarCache(tok, vocab_size(fp32), spec.decode)
    texts, alone = {}, {}
    for name in ("float32", "int8", "float16"):
        start = time.perf_counter()
        gens = decode(models[name], tok, prompts, row_schemas, budgets, spec.decode, grammars)
        seconds = time.perf_counter() - start
        texts[name] = [g.text for g in gens]
        exact = [
            prediction_row(r, schemas[r["schema_id"]], g, spec.decode.format_policy)["json_exact"]
            for r, g in zip(records, gens, strict=True)
        ]
        result[name] = {"json_exact": sum(exact), "n": len(gens), "seconds": round(seconds, 1)}
        k = args.alone
        alone[name] = [
            decode(models[name], tok, [p], [s], [b], spec.decode, grammars)[0].text
            for p, s, b in zip(prompts[:k], row_schemas[:k], budgets[:k], strict=True)
        ]
        same = sum(a == b for a, b in zip(alone[name], texts[name][:k], strict=True))
        result[name]["alone_equals_batched"] = f"{same}/{len(alone[name])}"
        same = sum(a == b for a, b in zip(texts["float32"], texts[name], strict=True))
        result[name]["equals_float32"] = f"{same}/{len(records)}"
        print(f"{name}: {result[name]}", flush=True)
    if args.out:
        io.write_json(args.out, result, indent=1)
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--run", default="smollm2-135m-maaza")
    parser.add_argument("--runs-dir", default="runs")
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--data", default="data/val.jsonl")
    parser.add_argument("--schemas", default="src/maaza/schemas")
    parser.add_argument("--rows", type=int, nargs="+", default=[8, 16])
    parser.add_argument(
        "--context", type=int, default=256, help="prompt tokens in the cache (at most)"
    )
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--n", type=int, default=16, help="examples decoded in both")
    parser.add_argument("--alone", type=int, default=4, help="of them, decoded one at a time")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=None)
    main(parser.parse_args())
