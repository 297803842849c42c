"""Training throughput: the reference recipe vs maaza.train, same model, examples and steps.

    .venv/bin/python benchmarks/train_throughput.py                      # SmolLM2-135M, 64 examples, 2 steps
    .venv/bin/python benchmarks/train_throughput.py --threads 1          # on a CPU shared with other jobs
    .venv/bin/python benchmarks/train_throughput.py --variants           # one micro-batch, idea by idea
    .venv/bin/python benchmarks/train_throughput.py --model tiny-random  # smoke test
    .venv/bin/python benchmarks/train_throughput.py --long               # long vs short examples, ours only

(a) reference: Hugging Face Trainer + peft LoRA, every example padded to 512 tokens
    (`padding="max_length"`), loss over the full sequence, logits at every position;
(b) ours: `maaza.train.train` (length-grouped dynamic padding, response-only loss computed only at
    labelled positions) with the same LoRA, optimizer settings, effective batch and steps.
Both see the same 64 generated examples (the data generator, seeded) in the same prompt format.
Real tokens are non-padding tokens; tokens/s is over the training loop's wall time. Prints each
and the ratio (b)/(a) (the issue's goal: >= 3x), plus the fraction of the measured matmul roof.

--long trains (b) twice, same recipe and steps: on the short examples above and on long ones
(complex-tier records with long free text and long arrays, 800-1,000 tokens of prompt + answer);
it prints both tokens/s, their ratio (the issue's goal: long within 20% of short) and the peak
resident memory of each training (sampled every 50 ms; the model is loaded inside, so the
difference between the two peaks is what longer micro-batches cost).

--variants times one forward+backward of a typical micro-batch (4 examples near the mean length),
adding one idea at a time, round-robin over a few repeats so that load from other processes
hits every variant alike.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402

from maaza.collate import collate, encode_records  # noqa: E402
from maaza.config import DataConfig, TrainRun, VarietyConfig, deep_merge, load_params  # noqa: E402
from maaza.data import build_dataset  # noqa: E402
from maaza.fastlora import patch_lora_layers  # noqa: E402
from maaza.io import to_jsonl  # noqa: E402
from maaza.models import load, load_tokenizer  # noqa: E402
from maaza.prompts import build_prompt, render_target  # noqa: E402
from maaza.schemas import load_schemas  # noqa: E402
from maaza.train import LabelledLMLoss, add_lora, matmul_gflops, train  # noqa: E402

REF_MAX_LENGTH = 512  # the reference recipe pads (and truncates) every example to this
LONG_TOKENS = (800, 1000)  # the long-example case: prompt + answer tokens, in the run's format


def examples(n: int, seed: int) -> list[dict[str, Any]]:
    """n generated training records (the data stage's generator, its own seed)."""
    cfg = DataConfig(n_examples=math.ceil(n / 0.8) + 1, seed=seed, holdout_per_schema=0)
    records = build_dataset(cfg)["train"]
    if len(records) < n:
        raise SystemExit(f"generator gave {len(records)} train examples, need {n}")
    return records[:n]


def long_examples(n: int, seed: int, run: TrainRun) -> list[dict[str, Any]]:
    """n generated complex-tier records of LONG_TOKENS tokens (long free text and long arrays on;
    about one in eight lands in the range), drawn in seeded rounds."""
    tok = load_tokenizer(run.model)
    lo, hi = LONG_TOKENS
    keep: list[dict[str, Any]] = []
    for round_ in range(50):
        cfg = DataConfig(n_examples=400, seed=seed + round_, holdout_per_schema=0, val_factor=0,
                         tier_mix={"simple": 0.0, "medium": 0.0, "complex": 1.0},
                         variety=VarietyConfig(long_text=1.0, long_arrays=1.0))  # fmt: skip
        records = build_dataset(cfg)["train"]
        lengths = [len(tok(t)["input_ids"]) for t in texts(records, run, tok.eos_token)]
        # rounds reuse ids (each round numbers its own records): the round makes them unique
        keep += [{**r, "id": f"{r['id']}-r{round_}"}
                 for r, k in zip(records, lengths, strict=True) if lo <= k <= hi]  # fmt: skip
        if len(keep) >= n:
            return keep[:n]
    raise SystemExit(f"only {len(keep)} generated examples of {lo}-{hi} tokens, need {n}")


class PeakRSS:
    """Peak resident memory (bytes) of this process while the block runs, sampled every 50 ms."""

    def __enter__(self) -> PeakRSS:
        import threading

        import psutil

        self.peak, self._proc, self._stop = 0, psutil.Process(), threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.05):
            self.peak = max(self.peak, self._proc.memory_info().rss)

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def texts(records: list[dict[str, Any]], run: TrainRun, eos: str) -> list[str]:
    schemas = load_schemas()
    return [
        build_prompt(r["prompt"], schemas[r["schema_id"]], run.prompt_format)
        + render_target(r["expected_output"])
        + eos
        for r in records
    ]


# ----------------------------------------------------------------------------- (a) reference
def reference(run: TrainRun, records: list[dict[str, Any]], steps: int) -> dict[str, float]:
    """HF Trainer, padding="max_length" 512, full-sequence loss."""
    from transformers import Trainer, TrainingArguments, default_data_collator

    model, tok = load(run.model)
    tok.padding_side = "right"
    enc = tok(texts(records, run, tok.eos_token), padding="max_length", truncation=True,
              max_length=REF_MAX_LENGTH)  # fmt: skip
    labels = [
        [t if m else -100 for t, m in zip(ids, mask, strict=True)]
        for ids, mask in zip(enc["input_ids"], enc["attention_mask"], strict=True)
    ]
    data = [  # a list of feature dicts is a valid map-style dataset for the Trainer
        {"input_ids": i, "attention_mask": m, "labels": y}
        for i, m, y in zip(enc["input_ids"], enc["attention_mask"], labels, strict=True)
    ]
    torch.manual_seed(run.seed)
    model = add_lora(model, run, lean=False)  # plain peft, as the reference recipe
    with tempfile.TemporaryDirectory() as out:
        args = TrainingArguments(
            output_dir=out, per_device_train_batch_size=run.micro_batch_size,
            gradient_accumulation_steps=run.grad_accum, max_steps=steps,
            learning_rate=run.learning_rate, lr_scheduler_type="cosine",
            warmup_steps=run.warmup_ratio, weight_decay=run.weight_decay,
            max_grad_norm=run.max_grad_norm, seed=run.seed, use_cpu=True, report_to="none",
            save_strategy="no", logging_steps=1, disable_tqdm=True,
        )  # fmt: skip
        trainer = Trainer(
            model=model, args=args, train_dataset=data, data_collator=default_data_collator
        )
        start, cpu_start = time.perf_counter(), time.process_time()
        trainer.train()
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    seen = min(len(records), steps * run.micro_batch_size * run.grad_accum)
    real = sum(sum(m) for m in enc["attention_mask"][:seen])
    truncated = sum(
        len(tok(t)["input_ids"]) > REF_MAX_LENGTH for t in texts(records, run, tok.eos_token)
    )
    return {"wall_s": wall, "cpu_s": cpu, "real_tokens": real, "padded_tokens": seen * REF_MAX_LENGTH,
            "tokens_per_s": real / wall, "tokens_per_cpu_s": real / cpu, "n_truncated": truncated}  # fmt: skip


# ----------------------------------------------------------------------------- (b) ours
def ours(
    run_name: str, run: TrainRun, records: list[dict[str, Any]], steps: int
) -> dict[str, float]:
    run = TrainRun.model_validate(deep_merge(run.model_dump(), {"max_steps": steps}))
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "train.jsonl"
        data.write_text(to_jsonl(records))
        m = train(run_name, run, data, Path(tmp) / "run", progress_bar=False)
    return {"wall_s": m["wall_time_s"], "cpu_s": m["cpu_time_s"], "real_tokens": m["real_tokens"],
            "tokens_per_s": m["real_tokens_per_s"], "tokens_per_cpu_s": m["real_tokens"] / m["cpu_time_s"], "padding_efficiency": m["padding_efficiency"],
            "n_truncated": m["n_truncated"], "roof_fraction": m["roof_fraction"],
            "base_dtype": m["base_dtype"], "matmul_roof_gflops": m["matmul_roof_gflops"]}  # fmt: skip


# ----------------------------------------------------------------------------- variants
def variants(run: TrainRun, records: list[dict[str, Any]], repeats: int) -> list[dict[str, Any]]:
    """Tokens/s of one forward+backward per idea, added one at a time."""
    model, tok = load(run.model)
    schemas = load_schemas()
    full = encode_records(records, schemas, tok, run.prompt_format, run.max_length, "full")
    resp = encode_records(records, schemas, tok, run.prompt_format, run.max_length, "response")
    mean = statistics.mean(len(e.input_ids) for e in resp)
    pick = sorted(range(len(resp)), key=lambda i: abs(len(resp[i].input_ids) - mean))[
        : run.micro_batch_size
    ]
    pad = tok.pad_token_id
    dyn_full, dyn_resp = (
        collate([full[i] for i in pick], pad),
        collate([resp[i] for i in pick], pad),
    )
    padded = {k: torch.nn.functional.pad(v, (0, REF_MAX_LENGTH - v.shape[1]), value=pad if k == "input_ids"
              else (0 if k == "attention_mask" else -100)) for k, v in dyn_full.items()}  # fmt: skip
    torch.manual_seed(run.seed)
    peft_model = add_lora(model, run, lean=False)
    peft_model.train()
    labelled = LabelledLMLoss(peft_model, right_padded=False)
    fast_model = copy.deepcopy(peft_model)
    patch_lora_layers(fast_model)
    fast_masked = LabelledLMLoss(fast_model, right_padded=False)
    fast = LabelledLMLoss(fast_model)
    n_resp = int((dyn_resp["labels"][:, 1:] != -100).sum())
    dropouts = [
        m
        for net in (peft_model, fast_model)
        for m in net.modules()
        if isinstance(m, torch.nn.Dropout)
    ]

    def hf(batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return peft_model(**batch).loss

    def labelled_loss(batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return labelled(**batch) / n_resp

    def lean_loss(batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return fast_masked(**batch) / n_resp

    def ours_loss(batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return fast(**batch) / n_resp

    cases = [
        ("reference: pad 512, full loss, all logits", hf, padded, 0.1),
        ("+ dynamic padding", hf, dyn_full, 0.1),
        ("+ response-only labels (logits everywhere)", hf, dyn_resp, 0.1),
        ("+ logits/loss only at labelled positions", labelled_loss, dyn_resp, 0.1),
        ("+ lean LoRA layers: cheap dropout masks", lean_loss, dyn_resp, 0.1),
        ("+ no padding mask: causal kernel (ours)", ours_loss, dyn_resp, 0.1),
        ("  (info) ours without LoRA dropout", ours_loss, dyn_resp, 0.0),
    ]
    real = int(dyn_full["attention_mask"].sum())
    times: dict[str, list[float]] = {name: [] for name, *_ in cases}
    for _ in range(repeats + 1):  # first round warms up, not counted
        for name, fn, batch, p in cases:
            for d in dropouts:
                d.p = p
            start = time.perf_counter()
            fn(batch).backward()
            times[name].append(time.perf_counter() - start)
            peft_model.zero_grad(set_to_none=True)
            fast_model.zero_grad(set_to_none=True)
    return [{"variant": name, "shape": list(batch["input_ids"].shape), "real_tokens": real,
             "median_s": statistics.median(times[name][1:]),
             "tokens_per_s": real / statistics.median(times[name][1:])}
            for name, _, batch, _ in cases]  # fmt: skip


# ----------------------------------------------------------------------------- main
def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--params", default="params.yaml")
    ap.add_argument("--run", default="smollm2-135m-r16", help="run whose recipe both sides use")
    ap.add_argument("--model", default=None, help="override the run's model (e.g. tiny-random)")
    ap.add_argument("--base-dtype", default=None, choices=["auto", "float32", "bfloat16"],
                    help="override the run's base_dtype for (b) (the reference is always fp32)")  # fmt: skip
    ap.add_argument("--n", type=int, default=64, help="generated examples")
    ap.add_argument("--steps", type=int, default=2, help="optimizer steps for both sides")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: all cores)")
    ap.add_argument("--seed", type=int, default=7, help="generator seed for the examples")
    ap.add_argument("--variants", action="store_true", help="per-idea micro-benchmark instead")
    ap.add_argument("--long", action="store_true", help="(b) on short vs long examples instead")
    ap.add_argument("--repeats", type=int, default=3, help="rounds for --variants")
    ap.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = ap.parse_args()

    overrides: dict[str, Any] = {"threads": args.threads}
    if args.model:
        overrides["model"] = args.model
    if args.base_dtype:
        overrides["base_dtype"] = args.base_dtype
    run = load_params(args.params).train_run(args.run)
    run = TrainRun.model_validate(deep_merge(run.model_dump(), overrides))
    if args.threads:
        torch.set_num_threads(args.threads)
    records = examples(args.n, args.seed)
    dtype = torch.float32
    roof = matmul_gflops(dtype)  # best of 6 short samples, as train() measures it
    flops_per_token = None
    result: dict[str, Any] = {"model": run.model, "run": args.run, "reference_max_length": REF_MAX_LENGTH,
                              "n_examples": len(records), "steps": args.steps,
                              "threads": torch.get_num_threads(), "matmul_roof_gflops": round(roof, 1)}  # fmt: skip
    if args.long:
        result["long_tokens"] = list(LONG_TOKENS)
        for case, recs in (("short", records), ("long", long_examples(args.n, args.seed, run))):
            with PeakRSS() as mem:
                side = ours(args.run, run, recs, args.steps)
            result[case] = side | {"peak_rss_gb": round(mem.peak / 1e9, 2),
                                   "micro_batch_size": run.micro_batch_size}  # fmt: skip
            print(f"{case:6s} {side['real_tokens']:7d} real tokens {side['wall_s']:8.1f} s "
                  f"{side['tokens_per_s']:7.1f} real tok/s  {100 * side['roof_fraction']:.0f}% of the "
                  f"{side['base_dtype']} roof  peak RSS {mem.peak / 1e9:.2f} GB "
                  f"(micro-batch {run.micro_batch_size})")  # fmt: skip
        result["ratio_long_short"] = (
            result["long"]["tokens_per_s"] / result["short"]["tokens_per_s"]
        )
        print(f"long / short tokens/s: {result['ratio_long_short']:.2f} (goal: at least 0.80)")
    elif args.variants:
        rows = variants(run, records, args.repeats)
        result["variants"] = rows
        base = rows[0]["tokens_per_s"]
        for r in rows:
            print(f"{r['variant']:50s} {str(r['shape']):>10s} {r['median_s']:7.2f} s  "
                  f"{r['tokens_per_s']:7.1f} real tok/s  x{r['tokens_per_s'] / base:.2f}")  # fmt: skip
    else:
        a = reference(run, records, args.steps)
        b = ours(args.run, run, records, args.steps)
        model, _ = load(run.model)
        flops_per_token = 4 * sum(p.numel() for p in model.parameters())
        # Each side against the roof of the dtype its base weights ran in: the reference is fp32;
        # ours ran where `base_dtype: auto` put it (bf16 on a CPU with native bf16 matmuls), and
        # train() measured that roof itself.
        a |= {"base_dtype": "float32", "matmul_roof_gflops": round(roof, 1)}
        a["roof_fraction"] = a["tokens_per_s"] * flops_per_token / (roof * 1e9)
        result |= {"reference": a, "ours": b, "ratio": b["tokens_per_s"] / a["tokens_per_s"],
                   "ratio_cpu": b["tokens_per_cpu_s"] / a["tokens_per_cpu_s"],
                   "flops_per_token": flops_per_token}  # fmt: skip
        print(f"{flops_per_token / 1e9:.3f} GFLOP per token (4 x params); matmul roofs measured "
              f"with {result['threads']} threads")  # fmt: skip
        for name, side in (
            ("(a) reference (HF Trainer, pad 512, full loss)", a),
            ("(b) maaza.train", b),
        ):
            print(f"{name:48s} {side['real_tokens']:7d} real tokens {side['wall_s']:8.1f} s "
                  f"{side['tokens_per_s']:7.1f} real tok/s  {100 * side['roof_fraction']:.0f}% of the "
                  f"{side['base_dtype']} roof ({side['matmul_roof_gflops']:.0f} GFLOP/s)  "
                  f"({side['tokens_per_cpu_s'] * result['threads']:.1f} real tok per CPU-s x threads)")  # fmt: skip
        print(f"ratio (b)/(a): {result['ratio']:.2f}x wall-clock, {result['ratio_cpu']:.2f}x CPU time "
              "(CPU time is the fairer one when other jobs share the CPU)")  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
