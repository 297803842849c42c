"""LoRA fine-tuning with the paper's recipe, fast on a CPU, resumable, launchable by accelerate.

    python -m maaza.train --run smollm2-135m-r16 --params params.yaml --data data/train.jsonl \\
        --out runs/smollm2-135m-r16
    accelerate launch --num_processes 2 -m maaza.train --run ...  # same entry point, multi-node
    maaza train smollm2-135m-r16                                  # the CLI wrapper

Rerunning the same command after a kill resumes from `<out>/checkpoints/` (deleted on success).
Outputs in `<out>/`: adapter/ (peft, with the model card README.md and the base named by hub id:
maaza.card), train_metrics.json, loss.csv, merged/ (merge: true).

Where the speed comes from (measured log below; benchmarks/train_throughput.py reproduces it):
- the loss runs the decoder, then the output layer and cross-entropy only at labelled positions
  (with response-only loss most positions are prompt; the 49k-wide vocabulary projection is a
  fifth of the model's FLOPs per position);
- micro-batches are cut from length-sorted windows of `group_steps` optimizer steps and padded
  to their own longest member (padding efficiency 0.97 where grouping inside one step gave 0.72);
- lean LoRA layers (fastlora.py): same math as peft, cheaper dropout masks, less memory;
- frozen base weights carry no gradient state; only the LoRA matrices (fp32) are optimised;
- `threads` torch threads, and waiting OpenMP threads sleep instead of spinning (below).

Experiment log (2026-11-23/24, SmolLM2-135M, LoRA r=16 on 7 projections, this 2-core AVX2 EPYC
shared with ~5 other jobs, so wall-clock numbers move with the load; one micro-batch of 4
examples near the mean length unless noted; "tok/s" counts real, non-padding tokens):
- fp32 matmul roof ~57 GFLOP/s per core (~115 for 2); bf16 and fp16 matmuls are emulated on
  AVX2 (~2 GFLOP/s), so a bf16 base is ~50x slower here: base_dtype auto -> fp32 on this CPU.
- 1 thread, interleaved variants: reference (pad 512, full loss, logits everywhere) 29.9 tok/s;
  + dynamic padding 68.3 (x2.28); + response-only labels 66.1; + logits/loss only at labelled
  positions 74.3 (x2.48); + lean LoRA layers 78.6 (x2.63); (no dropout at all would be 87.1).
- One micro-batch profiled (1 thread, peft layers): base-weight matmuls 54% of CPU time (~58
  GFLOP/s: at the fp32 roof), attention 11%, LoRA dropout (Bernoulli masks, copies) ~15%, LoRA
  rank-16 matmuls 7%. fastlora: step -6%, activation memory -~40%; its dropout still costs ~10%.
- torch.compile (inductor, dynamic shapes, plain peft): 16 min to compile, then 91 tok/CPU-s vs
  125 for the eager lean path: not used.
- Threads under load (load average 3-6): 1 thread 74-77 tok/s; 2 threads with OpenMP spinning
  15-33; 2 threads with OMP_WAIT_POLICY=PASSIVE 59-114. Hence the PASSIVE default
  (maaza/__init__.py), and `threads: 1` when the CPU is crowded.
- 2026-11-30, method full vs lora (our recipe's batch: 4 x 2, data/train.jsonl + 2,400 extra,
  3 steps, 2 threads, shared CPU): seconds per step lora 19.1 / 23.1 / 11.0, full 21.1 / 26.0 /
  12.1 (full ~1.1x: the frozen base already pays the activation backward; weight gradients and
  AdamW over 134.5M instead of 4.9M parameters add little at this batch); peak RSS lora 6.3 GB,
  full 5.7 GB (process peak before saving, allocator caching included); full's saved delta
  269 MB (bf16) against lora's 19.6 MB adapter.
- 2026-11-30, idle AVX2, the paper recipe, 2 optimizer steps on the same examples: one process
  with 2 threads 105.5 real tok/s, accelerate DDP over 2 processes of 1 thread 110.1 (same final
  loss): data parallelism gains 4% here, so training stays one process (decoding gains 1.3x the
  same way: evaluate.workers).
"""

# Waiting OpenMP threads sleep rather than spin (OMP_WAIT_POLICY=PASSIVE): set for every entry
# point in maaza/__init__.py, which Python runs before this module imports torch.
from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import random
import shutil
import sys
import time
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from maaza import headline, io
from maaza.card import make_portable
from maaza.collate import (
    Example,
    TrainDataError,
    collate,
    encode_records,
    padding_stats,
    read_records,
    step_plan,
    steps_per_epoch,
    stratified_subset,
    total_steps,
)
from maaza.config import TrainRun, load_params
from maaza.fastlora import patch_lora_layers
from maaza.models import model_context, native_bf16, resolve_dtype
from maaza.results import LOSS_COLUMNS

CHECKPOINT_PREFIX = "step-"
KEEP_CHECKPOINTS = 2  # the newest one may be mid-write when a kill lands; keep one more


class TrainError(RuntimeError):
    """A run that cannot start (bad settings for this hardware, inconsistent state)."""


# ----------------------------------------------------------------------------- model pieces
class LabelledLMLoss(nn.Module):
    """Summed next-token cross-entropy, computing logits only where a label exists.

    Wrapping the loss in a module (rather than calling the model's parts from the loop) keeps it
    one forward call, so DistributedDataParallel under `accelerate launch` sees and syncs it.

    `right_padded`: batches from `collate` pad on the right, so under causal attention no real
    token ever sees a pad (pads come after it), and pads carry no labels: the padding mask can be
    dropped, which lets SDPA take its plain causal kernel (no (B, 1, T, T) mask to build or read).
    """

    def __init__(self, peft_model: nn.Module, right_padded: bool = True) -> None:
        super().__init__()
        self.peft_model = peft_model
        self.right_padded = right_padded
        # a peft model (LoRA) or, with `method: full`, the plain model itself
        base = peft_model.get_base_model() if hasattr(peft_model, "get_base_model") else peft_model
        self.decoder = base.get_decoder()  # LoRA layers live inside it (peft injects in place)
        self.lm_head = base.get_output_embeddings()
        self.softcap = getattr(base.config, "final_logit_softcapping", None)  # gemma-style

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, labels: torch.Tensor
    ) -> torch.Tensor:
        mask = None if self.right_padded else attention_mask
        hidden = self.decoder(
            input_ids=input_ids, attention_mask=mask, use_cache=False
        ).last_hidden_state  # (B, T, C)
        targets = labels[:, 1:]  # position t predicts token t+1
        keep = targets != -100  # (B, T-1)
        logits = self.lm_head(hidden[:, :-1][keep]).float()  # (N, V), N = labelled positions
        if self.softcap is not None:
            logits = torch.tanh(logits / self.softcap) * self.softcap
        return F.cross_entropy(logits, targets[keep], reduction="sum")


def base_dtype(run: TrainRun) -> torch.dtype:
    if run.method == "full":
        # trained weights stay fp32: AdamW updates of ~1e-5 vanish in bf16's 8-bit mantissa
        return torch.float32
    if run.base_dtype == "bfloat16" and not native_bf16():
        raise TrainError(
            "base_dtype: bfloat16 needs native bf16 matmuls (CUDA, or a CPU with AVX512-BF16/AMX); "
            f"this CPU ({torch.backends.cpu.get_cpu_capability()}) emulates them far slower than "
            "fp32 (measured here: ~2 vs ~115 GFLOP/s). Set train.common.base_dtype: auto or float32"
        )
    return resolve_dtype(run.base_dtype)  # auto: bf16 pays only with hardware bf16 matmuls


def add_lora(model: nn.Module, run: TrainRun, lean: bool = True) -> nn.Module:
    """peft LoRA per the run's settings; `lean`: route the LoRA layers through fastlora.py."""
    from peft import LoraConfig, get_peft_model

    config = LoraConfig(
        r=run.lora.r,
        lora_alpha=run.lora.alpha,
        lora_dropout=run.lora.dropout,
        target_modules=list(run.lora.target_modules),
        bias="none",
        task_type="CAUSAL_LM",
    )
    # autocast_adapter_dtype (peft's default) keeps the LoRA matrices in fp32 over a bf16 base.
    peft_model = get_peft_model(model, config)
    if lean:
        patch_lora_layers(peft_model)  # same math, cheaper dropout and less memory
    return peft_model


def prepare_model(model: nn.Module, run: TrainRun) -> nn.Module:
    """The model to optimise: LoRA matrices on a frozen base, or (`method: full`) every weight."""
    if run.method == "lora":
        return add_lora(model, run)
    for p in model.parameters():
        p.requires_grad_(True)
    return model


def count_params(model: nn.Module) -> tuple[int, int]:
    """(base model, trainable: the LoRA matrices, or every weight with `method: full`); tied
    weights counted once (parameters() deduplicates)."""
    named = list(model.named_parameters())
    trainable = sum(p.numel() for _, p in named if p.requires_grad)
    return sum(p.numel() for n, p in named if "lora_" not in n), trainable


def matmul_gflops(dtype: torch.dtype, seconds: float = 0.25, samples: int = 6) -> float:
    """Measured matmul throughput in a LoRA-step-like shape: the roof a step is compared with.

    The best of `samples` timings of `seconds` each: one sample moves with whatever else the
    machine does at that moment (42-94 GFLOP/s on one machine kind with a single 0.5 s sample).
    """
    a, b = torch.randn(1024, 576, dtype=dtype), torch.randn(576, 1536, dtype=dtype)
    a @ b  # warm-up
    best = 0.0
    for _ in range(samples):
        n, start = 0, time.perf_counter()
        while (elapsed := time.perf_counter() - start) < seconds or n < 2:
            a @ b
            n += 1
        best = max(best, 2 * 1024 * 576 * 1536 * n / elapsed / 1e9)
    return best


# ----------------------------------------------------------------------------- state
@dataclass
class Progress:
    """Everything besides tensors that a resumed run needs to continue seamlessly."""

    step: int = 0  # optimizer steps done
    elapsed_s: float = 0.0  # training time so far, summed over sessions
    cpu_s: float = 0.0  # process CPU time (all threads) in training steps: robust to CPU sharing
    real_tokens: int = 0  # non-padding tokens processed so far
    rows: list[dict[str, float]] = field(default_factory=list)  # loss.csv rows so far


def fingerprint(
    run_name: str, run: TrainRun, data_path: Path, world: int, dtype: torch.dtype = torch.float32,
    extra_path: Path | None = None,
) -> str:  # fmt: skip
    """Identity of a run's inputs: a checkpoint from other inputs must never be resumed.

    `dtype` is the resolved base dtype: `base_dtype: auto` means fp32 on one CPU and bf16 on
    another, and a run resumed on the other kind would mix the two halfway through.
    """
    h = hashlib.sha256()
    settings = run.model_dump(exclude={"threads", "checkpoint_every"})  # no effect on results
    h.update(json.dumps([run_name, settings, world, str(dtype)], sort_keys=True).encode())
    h.update(data_path.read_bytes())
    if run.extra_train and extra_path is not None:
        h.update(extra_path.read_bytes())
    return h.hexdigest()[:16]


def _rng_state() -> dict[str, Any]:
    return {
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": torch.get_rng_state(),
    }


def _set_rng_state(state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])


def trainable_state(model: nn.Module) -> dict[str, torch.Tensor]:
    return {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}


def save_checkpoint(
    ckpt_dir: Path, model: nn.Module, optimizer: Any, scheduler: Any, progress: Progress,
    fp: str, rank: int, is_main: bool,
) -> None:  # fmt: skip
    """Write step-N/ atomically (temp folder, then rename) and drop older checkpoints."""
    from safetensors.torch import save_file

    final = ckpt_dir / f"{CHECKPOINT_PREFIX}{progress.step:06d}"
    tmp = ckpt_dir / f".tmp-{final.name}"
    if is_main:
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        save_file(trainable_state(model), str(tmp / "lora.safetensors"))
        torch.save(
            {"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
             "progress": progress.__dict__, "fingerprint": fp},
            tmp / "state.pt",
        )  # fmt: skip
    _barrier()
    torch.save(_rng_state(), tmp / f"rng-{rank}.pt")  # dropout masks differ per process
    _barrier()
    if is_main:
        tmp.rename(final)
        for old in sorted(ckpt_dir.glob(f"{CHECKPOINT_PREFIX}*"))[:-KEEP_CHECKPOINTS]:
            shutil.rmtree(old, ignore_errors=True)
    _barrier()


def latest_checkpoint(ckpt_dir: Path) -> Path | None:
    done = sorted(ckpt_dir.glob(f"{CHECKPOINT_PREFIX}*")) if ckpt_dir.is_dir() else []
    return done[-1] if done else None


def load_checkpoint(
    path: Path, model: nn.Module, optimizer: Any, scheduler: Any, rank: int
) -> Progress:
    from safetensors.torch import load_file

    weights = load_file(str(path / "lora.safetensors"))
    params = dict(model.named_parameters())
    with torch.no_grad():
        for name, value in weights.items():
            params[name].copy_(value)
    state = torch.load(path / "state.pt", weights_only=False)
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    _set_rng_state(torch.load(path / f"rng-{rank}.pt", weights_only=False))
    return Progress(**state["progress"])


def resume_point(ckpt_dir: Path, fp: str, is_main: bool) -> Path | None:
    """The newest checkpoint of these very inputs; stale ones (other data/settings) are removed."""
    latest = latest_checkpoint(ckpt_dir)
    if latest is None:
        return None
    if torch.load(latest / "state.pt", weights_only=False)["fingerprint"] == fp:
        return latest
    _barrier()  # everyone has read it before the main process deletes it
    if is_main:
        print(
            f"ignoring {ckpt_dir}: written for other data or settings; starting fresh",
            file=sys.stderr,
        )
        shutil.rmtree(ckpt_dir, ignore_errors=True)
    _barrier()
    return None


def _barrier() -> None:
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.barrier()


# ----------------------------------------------------------------------------- output files


def loss_csv(rows: Sequence[dict[str, float]]) -> str:
    lines = [",".join(LOSS_COLUMNS)]
    lines += [
        ",".join(f"{row[c]:.6g}" if c != "step" else str(int(row[c])) for c in LOSS_COLUMNS)
        for row in rows
    ]
    return "\n".join(lines) + "\n"


def hardware() -> dict[str, Any]:
    return {
        "cpu": io.cpu_name(),
        "cores": torch.get_num_threads(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "native_bf16": native_bf16(),
        "cuda": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
        "torch": torch.__version__,
    }


VERSIONED = ("torch", "transformers", "peft", "accelerate", "maaza")


def provenance(run: TrainRun, data_path: Path, extra_path: Path | None) -> dict[str, Any]:
    """What produced a run, as eval metrics record it: resolved recipe, code, data, libraries."""
    from importlib.metadata import version

    files = [p for p in (data_path, extra_path) if p is not None]
    return {
        "git": io.git_commit(),
        "date": io.now(),
        "run_config": run.model_dump(),
        "data": [{"path": str(p), "sha256": io.sha256(p)} for p in files],
        "versions": {pkg: version(pkg) for pkg in VERSIONED},
    }


def dir_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6


# ----------------------------------------------------------------------------- the loop
@dataclass
class Data:
    examples: list[Example]
    plan: list[list[list[int]]]
    steps_per_epoch: int
    n_too_long: int = 0  # examples left out (too_long: skip)
    limit: int | None = None  # token limit: min(max_length, the model's context)


def training_records(
    run: TrainRun, data_path: Path, extra_path: Path | None, schema_ids: Any = None
) -> list[dict[str, Any]]:
    """The run's share of the training split, plus the first run.extra_train extra examples;
    every line checked (maaza.io.read_examples), its schema_id among `schema_ids` if given."""
    records = stratified_subset(read_records(data_path, schema_ids), run.train_fraction, run.seed)
    if not run.extra_train:
        return records
    if extra_path is None or not extra_path.is_file():
        raise TrainError(
            f"extra_train: {run.extra_train} needs the extra training examples "
            f"({extra_path or 'data/train_extra.jsonl'}); set data.extra_train and run `dvc repro data`"
        )
    extra = read_records(extra_path, schema_ids)
    if len(extra) < run.extra_train:
        raise TrainError(
            f"extra_train: {run.extra_train} but {extra_path} holds {len(extra)} examples; "
            "raise data.extra_train"
        )
    return records + extra[: run.extra_train]  # the file is shuffled: any prefix is a fair sample


def length_policy(
    run: TrainRun, records: list[dict[str, Any]], examples: list[Example], context: int | None
) -> tuple[list[Example], int, int]:
    """(examples kept, how many were too long, the token limit): prompt + answer + eos must fit
    min(max_length, the model's context). too_long: skip leaves the others out (counted), fail
    names the first one; a run left with no labelled token is an error, never a 'loss 0.0'."""
    limit = min(run.max_length, context) if context else run.max_length
    why = f"max_length {run.max_length}" + (f", model context {context}" if context else "")
    long = [i for i, e in enumerate(examples) if len(e.input_ids) > limit]
    if long and run.too_long == "fail":
        i = long[0]
        name = (
            f"example {i + 1} (id {records[i]['id']!r})"
            if "id" in records[i]
            else f"example {i + 1}"
        )
        raise TrainDataError(
            f"{name}: prompt + answer is {len(examples[i].input_ids)} tokens, over the limit of "
            f"{limit} ({why}); {len(long)} example(s) too long; too_long: skip leaves them out"
        )
    skipped = set(long)
    kept = [e for i, e in enumerate(examples) if i not in skipped]
    if not kept or sum(e.n_labels for e in kept) == 0:
        raise TrainError(
            f"nothing to train on: {len(long)} of {len(examples)} examples are longer than "
            f"{limit} tokens ({why}), and the rest carry no labelled token"
        )
    return kept, len(long), limit


def capped_steps(run: TrainRun, n_examples: int) -> int | None:
    """max_steps, or with `step_fraction` < 1 (a screening run) that share of the planned steps."""
    if run.step_fraction == 1.0:
        return run.max_steps
    planned = total_steps(n_examples, run.micro_batch_size, run.grad_accum, run.epochs, None)
    screen = max(1, math.ceil(run.step_fraction * planned))
    return min(screen, run.max_steps) if run.max_steps else screen


def prepare_data(
    run: TrainRun,
    records: list[dict[str, Any]],
    schemas: dict,
    tokenizer: Any,
    context: int | None = None,
) -> Data:
    """Encode (never cut: see length_policy) and plan the batches of a run's examples."""
    encoded = encode_records(records, schemas, tokenizer, run.prompt_format, 1 << 62, run.loss)
    examples, n_too_long, limit = length_policy(run, records, encoded, context)
    lengths = [len(e.input_ids) for e in examples]
    plan = step_plan(
        lengths,
        run.micro_batch_size,
        run.grad_accum,
        run.epochs,
        run.seed,
        capped_steps(run, len(examples)),
        run.group_steps,
    )
    return Data(
        examples, plan, steps_per_epoch(len(examples), run.micro_batch_size, run.grad_accum),
        n_too_long, limit,
    )  # fmt: skip


def check_out(out_dir: Path, run_name: str, force: bool = False) -> None:
    """Refuse a run folder holding another job's results (another run's train_metrics.json, or
    an evaluation's metrics.json) unless `force`; the same run may replace its own results."""
    if out_dir.exists() and not out_dir.is_dir():
        raise TrainError(f"{out_dir}: exists and is not a folder")
    if force or not out_dir.is_dir():
        return
    if (out_dir / "metrics.json").exists():
        raise TrainError(
            f"{out_dir}: holds an evaluation's results; pick another --out (or --force)"
        )
    metrics = out_dir / "train_metrics.json"
    if metrics.exists():
        try:
            other = io.read_json(metrics)
        except io.InputError:
            other = None
        was = other.get("run") if isinstance(other, dict) else None
        if was != run_name:
            raise TrainError(
                f"{out_dir}: holds the results of run {was!r}, not {run_name!r}; pick another "
                "--out, or --force to replace them"
            )


def set_threads(requested: int | None, world_local: int) -> int:
    """`requested`, or all cores this process may use shared among this machine's processes.

    On a CPU shared with other jobs fewer threads can be faster: torch's OpenMP threads spin
    while waiting for each other, and a descheduled thread stalls the whole matmul.
    """
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    torch.set_num_threads(requested or max(1, (cores or 1) // max(1, world_local)))
    return torch.get_num_threads()


def load_schema_dirs(
    schemas_dir: str | Path | Sequence[str | Path] | None,
) -> dict[str, dict[str, Any]]:
    """The schemas of one folder (None: the package's), or of several (external data plus ours,
    for external runs that add our generated examples); an id must mean one schema."""
    from maaza.schemas import SchemaLoadError, load_schemas

    dirs = list(schemas_dir) if isinstance(schemas_dir, list | tuple) else [schemas_dir]
    out: dict[str, dict[str, Any]] = {}
    for d in dirs:
        try:
            found = load_schemas(d)
        except SchemaLoadError as err:
            raise TrainDataError(str(err)) from None
        for sid, schema in found.items():
            if out.setdefault(sid, schema) != schema:
                raise TrainDataError(f"{d}: schema {sid!r} differs from the one in {dirs[0]}")
    return out


def train(
    run_name: str,
    run: TrainRun,
    data_path: str | Path,
    out_dir: str | Path,
    schemas_dir: str | Path | Sequence[str | Path] | None = None,
    progress_bar: bool = True,
    loaded: tuple[nn.Module, Any] | None = None,
    extra_path: str | Path | None = None,
    force: bool = False,
) -> dict[str, Any]:
    """Train one run end to end (resuming if a checkpoint of the same inputs exists); returns
    the metrics written to `<out_dir>/train_metrics.json`. `loaded`: an already loaded
    (model, tokenizer) of `run.model` to train in place instead of loading it (tests).
    `out_dir` holding another job's results is refused unless `force` (check_out)."""
    check_out(Path(out_dir), run_name, force)
    from accelerate import Accelerator
    from accelerate.utils import set_seed
    from tqdm.auto import tqdm
    from transformers import get_cosine_schedule_with_warmup

    from maaza.models import load

    accelerator = Accelerator()
    rank, world, is_main = (
        accelerator.process_index,
        accelerator.num_processes,
        accelerator.is_main_process,
    )
    if run.grad_accum % world:
        raise TrainError(
            f"grad_accum ({run.grad_accum}) must be a multiple of the process count ({world})"
        )
    if accelerator.device.type == "cpu":
        set_threads(run.threads, int(os.environ.get("LOCAL_WORLD_SIZE", 1)))
    data_path, out_dir = Path(data_path), Path(out_dir)
    extra_path = Path(extra_path) if extra_path else None
    ckpt_dir = out_dir / "checkpoints"
    schemas = load_schema_dirs(schemas_dir)
    # fails fast, before the model loads
    records = training_records(run, data_path, extra_path, schemas)
    dtype = base_dtype(run)
    fp = fingerprint(run_name, run, data_path, world, dtype, extra_path)
    model, tokenizer = loaded or load(run.model, dtype=dtype)
    data = prepare_data(run, records, schemas, tokenizer, model_context(model, tokenizer))
    n_steps = len(data.plan)

    set_seed(run.seed)  # LoRA init and dropout masks
    model = prepare_model(model, run)
    model.train()
    params_total, params_trainable = count_params(model)
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=run.learning_rate, weight_decay=run.weight_decay)
    scheduler = get_cosine_schedule_with_warmup(
        optimizer, math.ceil(run.warmup_ratio * n_steps), n_steps
    )

    progress = Progress()
    latest = resume_point(ckpt_dir, fp, is_main)
    if latest is not None:
        progress = load_checkpoint(latest, model, optimizer, scheduler, rank)
        accelerator.print(f"resuming {run_name} from {latest} (step {progress.step}/{n_steps})")

    loss_module = accelerator.prepare(LabelledLMLoss(model))
    pad_id = tokenizer.pad_token_id
    bar = tqdm(total=n_steps, initial=progress.step, desc=run_name, disable=not (is_main and progress_bar),
               dynamic_ncols=True, unit="step")  # fmt: skip
    while progress.step < n_steps:
        step_start, cpu_start = time.perf_counter(), time.process_time()
        micro = data.plan[progress.step]
        n_labels = max(1, sum(data.examples[i].n_labels for mb in micro for i in mb))
        mine = micro[rank::world] or [micro[0]]  # every process must join the gradient sync
        lr = scheduler.get_last_lr()[0]
        loss_sum, real = torch.zeros((), device=accelerator.device), 0
        for j, mb in enumerate(mine):
            batch = {
                k: v.to(accelerator.device)
                for k, v in collate([data.examples[i] for i in mb], pad_id).items()
            }
            # DDP averages gradients over processes; scale so the step's mean is over all labels.
            weight = world / n_labels if micro[rank::world] else 0.0
            sync = j == len(mine) - 1
            with accelerator.no_sync(loss_module) if not sync else nullcontext():
                loss = loss_module(**batch)
                accelerator.backward(loss * weight)
            loss_sum += loss.detach() * (weight > 0)
            real += int(batch["attention_mask"].sum()) if weight else 0
        torch.nn.utils.clip_grad_norm_(trainable, run.max_grad_norm)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)

        totals = accelerator.reduce(
            torch.tensor([float(loss_sum), float(real)], device=accelerator.device), "sum"
        )
        step_loss, step_real = float(totals[0]) / n_labels, int(totals[1])
        dt = time.perf_counter() - step_start
        progress.step += 1
        progress.elapsed_s += dt
        progress.cpu_s += time.process_time() - cpu_start
        progress.real_tokens += step_real
        progress.rows.append({
            "step": progress.step, "epoch": progress.step / data.steps_per_epoch, "loss": step_loss,
            "lr": lr, "tokens_per_s": step_real / dt, "elapsed_s": progress.elapsed_s,
        })  # fmt: skip
        bar.update(1)
        bar.set_postfix(loss=f"{step_loss:.4f}", tok_s=f"{step_real / dt:.0f}")
        if progress.step % run.checkpoint_every == 0 and progress.step < n_steps:
            save_checkpoint(ckpt_dir, model, optimizer, scheduler, progress, fp, rank, is_main)
            if is_main:  # progress view for a watcher; the final loss.csv is written at the end
                io.write_text(ckpt_dir / "loss.csv", loss_csv(progress.rows))
    bar.close()

    metrics: dict[str, Any] = {}
    if is_main:
        prov = provenance(run, data_path, extra_path if run.extra_train else None)
        metrics = finish(run_name, run, model, tokenizer, data, progress, out_dir,
                         params_total, params_trainable, dtype, prov)  # fmt: skip
        shutil.rmtree(ckpt_dir, ignore_errors=True)  # done: no resume state left to confuse a rerun
    accelerator.wait_for_everyone()
    return metrics


def finish(
    run_name: str, run: TrainRun, model: nn.Module, tokenizer: Any, data: Data, progress: Progress,
    out_dir: Path, params_total: int, params_trainable: int, dtype: torch.dtype,
    prov: dict[str, Any],
) -> dict[str, Any]:  # fmt: skip
    """Save adapter (+ merged model), metrics, loss curve and model card; return the metrics."""
    out_dir.mkdir(parents=True, exist_ok=True)
    full = run.method == "full"
    if full:  # the change of every weight against a freshly loaded base (correct after a resume)
        from maaza.models import load, save_full_delta

        base = load(run.model, dtype=torch.float32)[0]
        io.write_dir(out_dir / "adapter", lambda p: save_full_delta(model, base, p, run.model))
        del base
    else:
        io.write_dir(out_dir / "adapter", model.save_pretrained)
    if run.merge:

        def save_merged(path: Path) -> None:
            merged = model if full else model.merge_and_unload()
            merged.save_pretrained(path)
            tokenizer.save_pretrained(path)

        io.write_dir(out_dir / "merged", save_merged)
    tokens_per_s = progress.real_tokens / max(progress.elapsed_s, 1e-9)
    roof = matmul_gflops(dtype) if not torch.cuda.is_available() else None
    # forward 2N + backward to activations 2N (frozen base); full: + weight gradients 2N
    flops_per_token = (6 if full else 4) * params_total
    pad = padding_stats(data.examples, data.plan)
    metrics = {
        "run": run_name,
        "model": run.model,
        "params_total": params_total,
        "params_trainable": params_trainable,
        "trainable_pct": round(100 * params_trainable / params_total, 2),
        "method": run.method,
        "lora": {"r": run.lora.r, "alpha": run.lora.alpha, "dropout": run.lora.dropout}
        if not full
        else {"r": 0, "alpha": 0, "dropout": 0.0},  # no LoRA: every weight trained
        "loss_type": run.loss,
        "prompt_format": run.prompt_format,
        "train_fraction": run.train_fraction,
        "extra_train": run.extra_train,
        "n_train_examples": len(data.examples),
        "n_truncated": sum(e.truncated for e in data.examples),  # 0: nothing is cut any more
        "too_long": run.too_long,
        "n_too_long": data.n_too_long,  # left out: prompt + answer over max_length or context
        "max_tokens": data.limit,
        "epochs": run.epochs,
        "steps": progress.step,
        "wall_time_s": round(progress.elapsed_s, 1),
        "cpu_time_s": round(progress.cpu_s, 1),
        "real_tokens": progress.real_tokens,
        "real_tokens_per_s": round(tokens_per_s, 1),
        "padding_efficiency": round(pad["padding_efficiency"], 4),
        "base_dtype": str(dtype).removeprefix("torch."),
        "flops_per_token": flops_per_token,
        "matmul_roof_gflops": round(roof, 1) if roof else None,
        "roof_fraction": round(tokens_per_s * flops_per_token / (roof * 1e9), 3) if roof else None,
        "final_loss": round(progress.rows[-1]["loss"], 5) if progress.rows else None,
        "adapter_mb": round(dir_mb(out_dir / "adapter"), 2),
        "hardware": hardware(),
        "provenance": prov,
    }
    io.write_text(out_dir / "loss.csv", loss_csv(progress.rows))
    io.write_json(out_dir / "train_metrics.json", metrics)
    make_portable(out_dir / "adapter", run_name, run, metrics)  # a model card for both methods
    return metrics


# ----------------------------------------------------------------------------- entry point
def train_from_files(
    run_name: str,
    params_path: str | Path,
    data_path: str | Path,
    out_dir: str | Path,
    profile: str | None = None,
    schemas_dir: str | Path | Sequence[str | Path] | None = None,
    progress_bar: bool = True,
    extra_path: str | Path | None = None,
    force: bool = False,
    metrics_dir: str | Path | None = None,
) -> dict[str, Any]:
    """What the notebook, the CLI and `python -m maaza.train` call; with `metrics_dir` the
    headline numbers also go to <metrics_dir>/train-<run>.json (maaza.headline)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    run = load_params(params_path, profile).train_run(run_name)
    metrics = train(
        run_name, run, data_path, out_dir, schemas_dir, progress_bar, extra_path=extra_path,
        force=force,
    )  # fmt: skip
    if metrics_dir is not None:
        headline.write_train(run_name, metrics, metrics_dir)
    return metrics


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--run",
        required=True,
        help="run name declared in params.yaml (train.runs, train.runs_extra or ablate.runs)",
    )
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--profile", default=None, help="params profile (default: the file's)")
    parser.add_argument("--data", default="data/train.jsonl")
    parser.add_argument("--extra-data", default="data/train_extra.jsonl",
                        help="extra examples, read only by runs with extra_train > 0")  # fmt: skip
    parser.add_argument("--out", default=None, help="run folder (default: runs/<run>)")
    parser.add_argument("--schemas", default=None, help="schema folder (default: the package's)")
    parser.add_argument("--force", action="store_true",
                        help="replace another run's results in --out")  # fmt: skip
    args = parser.parse_args(argv)
    from maaza.config import ConfigError

    try:
        train_from_files(args.run, args.params, args.data, args.out or f"runs/{args.run}",
                         args.profile, args.schemas, extra_path=args.extra_data,
                         force=args.force)  # fmt: skip
    except (ConfigError, TrainDataError, TrainError) as err:
        sys.exit(f"error: {err}")  # one line, exit 1: bad input, not a crash


if __name__ == "__main__":
    main(sys.argv[1:])
