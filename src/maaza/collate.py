"""Training examples and batches: tokenize, mask, subset, group by length, pad dynamically.

    examples = encode_records(records, schemas, tok, "compact", max_length=1024, loss="response")
    plan = step_plan([len(e.input_ids) for e in examples], micro_batch=4, grad_accum=8, epochs=3,
                     seed=42, group_steps=16)
    batch = collate([examples[i] for i in plan[0][0]], pad_id=tok.pad_token_id)

Everything here is pure and deterministic (seeded), so a resumed run rebuilds the exact same
batch order from the step number alone. Padding is to the longest sequence of each micro-batch,
and micro-batches are cut from length-sorted windows of steps, so little compute goes to pads.
"""

from __future__ import annotations

import math
import random
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch

from maaza import io
from maaza.config import PromptFormat
from maaza.prompts import build_prompt, render_target

IGNORE_INDEX = -100  # label value that cross-entropy skips (torch's default ignore_index)


class TrainDataError(io.InputError):
    """Unusable training data; the message starts with file:line."""


@dataclass(frozen=True)
class Example:
    input_ids: list[int]
    labels: list[int]  # same length; IGNORE_INDEX where no loss is taken
    truncated: bool  # cut at max_length (counted and reported)

    @property
    def n_labels(self) -> int:
        """Positions that contribute to the loss after the causal shift (labels[1:])."""
        return sum(1 for t in self.labels[1:] if t != IGNORE_INDEX)


# ----------------------------------------------------------------------------- records
def read_records(path: str | Path, schema_ids: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """Read a JSONL dataset through maaza.io.read_examples (the checked reader every input goes
    through): each line a JSON object with a string `prompt`, an object `expected_output` and a
    `schema_id` (one of `schema_ids` when given); TrainDataError naming file:line otherwise."""
    try:
        return [rec for _, rec in io.read_examples(path, schema_ids, require_id=False)]
    except io.InputError as err:
        raise TrainDataError(str(err)) from None


def stratified_subset(
    records: Sequence[dict[str, Any]], fraction: float, seed: int
) -> list[dict[str, Any]]:
    """A seeded subset keeping `fraction` of every schema (at least one each), in input order."""
    if fraction >= 1.0:
        return list(records)
    by_schema: dict[str, list[int]] = defaultdict(list)
    for i, rec in enumerate(records):
        by_schema[rec["schema_id"]].append(i)
    rng = random.Random(seed)
    keep: set[int] = set()
    for schema_id in sorted(by_schema):
        idx = by_schema[schema_id]
        keep.update(rng.sample(idx, max(1, round(fraction * len(idx)))))
    return [rec for i, rec in enumerate(records) if i in keep]


# ----------------------------------------------------------------------------- tokenize
def encode(
    prompt_ids: Sequence[int],
    target_ids: Sequence[int],
    max_length: int,
    loss: Literal["response", "full"],
) -> Example:
    """Concatenate prompt and target ids, mask the prompt (response loss) and cut at max_length."""
    ids = [*prompt_ids, *target_ids]
    masked = len(prompt_ids) if loss == "response" else 0
    labels = [IGNORE_INDEX] * masked + ids[masked:]
    truncated = len(ids) > max_length
    return Example(ids[:max_length], labels[:max_length], truncated)


def encode_records(
    records: Sequence[dict[str, Any]],
    schemas: dict[str, dict[str, Any]],
    tokenizer: Any,
    prompt_format: PromptFormat,
    max_length: int,
    loss: Literal["response", "full"],
) -> list[Example]:
    """Training text = build_prompt(...) + render_target(...) + eos, tokenized in two parts.

    Prompt and target are tokenized separately so the boundary is exactly where inference starts
    generating (the prompt alone is fed there), whatever merges the tokenizer would do across it.
    """
    unknown = sorted({r["schema_id"] for r in records} - set(schemas))
    if unknown:
        raise TrainDataError(f"records use unknown schema_id(s): {', '.join(unknown)}")
    prompts = [build_prompt(r["prompt"], schemas[r["schema_id"]], prompt_format) for r in records]
    targets = [render_target(r["expected_output"]) for r in records]
    prompt_ids = tokenizer(prompts)["input_ids"]
    target_ids = tokenizer(targets, add_special_tokens=False)["input_ids"]
    eos = tokenizer.eos_token_id
    return [
        encode(p, [*t, eos], max_length, loss) for p, t in zip(prompt_ids, target_ids, strict=True)
    ]


# ----------------------------------------------------------------------------- batching
def steps_per_epoch(n_examples: int, micro_batch: int, grad_accum: int) -> int:
    return math.ceil(n_examples / (micro_batch * grad_accum))


def total_steps(
    n_examples: int, micro_batch: int, grad_accum: int, epochs: float, max_steps: int | None
) -> int:
    steps = math.ceil(epochs * steps_per_epoch(n_examples, micro_batch, grad_accum))
    return min(steps, max_steps) if max_steps else steps


def step_plan(
    lengths: Sequence[int],
    micro_batch: int,
    grad_accum: int,
    epochs: float,
    seed: int,
    max_steps: int | None = None,
    group_steps: int = 1,
) -> list[list[list[int]]]:
    """Example indices per optimizer step, per micro-batch: plan[step][micro] -> [i, ...].

    Each epoch is a seeded shuffle cut into windows of `group_steps` optimizer steps. Inside a
    window the examples are sorted by length and cut into micro-batches, so each micro-batch pads
    to a length close to all of its members'; the micro-batches are then shuffled (seeded) and
    dealt out grad_accum at a time, so one optimizer step still mixes short and long examples.
    With group_steps=1 every step holds exactly the examples plain random batching would give it
    (only their order inside the step changes, and the loss is normalised over the whole step),
    but micro_batch * grad_accum examples are few to group: larger windows pad much less
    (the HF Trainer's group_by_length uses windows of 50 batches for the same reason).
    """
    per_step = micro_batch * grad_accum
    n_steps = total_steps(len(lengths), micro_batch, grad_accum, epochs, max_steps)
    plan: list[list[list[int]]] = []
    epoch = 0
    while len(plan) < n_steps:
        order = list(range(len(lengths)))
        random.Random(f"{seed}-{epoch}").shuffle(order)
        window = per_step * group_steps
        for start in range(0, len(order), window):
            chunk = sorted(order[start : start + window], key=lambda i: (-lengths[i], i))
            micros = [chunk[j : j + micro_batch] for j in range(0, len(chunk), micro_batch)]
            random.Random(f"{seed}-{epoch}-{start}").shuffle(micros)
            plan.extend(micros[j : j + grad_accum] for j in range(0, len(micros), grad_accum))
        epoch += 1
    return plan[:n_steps]


def collate(examples: Sequence[Example], pad_id: int) -> dict[str, torch.Tensor]:
    """Right-pad to the longest example of this micro-batch (never to a fixed length)."""
    width = max(len(e.input_ids) for e in examples)
    ids = torch.full((len(examples), width), pad_id, dtype=torch.long)
    labels = torch.full((len(examples), width), IGNORE_INDEX, dtype=torch.long)
    mask = torch.zeros((len(examples), width), dtype=torch.long)
    for row, e in enumerate(examples):
        n = len(e.input_ids)
        ids[row, :n] = torch.tensor(e.input_ids)
        labels[row, :n] = torch.tensor(e.labels)
        mask[row, :n] = 1
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}


def padding_stats(
    examples: Sequence[Example], plan: Sequence[Sequence[Sequence[int]]]
) -> dict[str, float]:
    """Real vs padded token counts over a plan (how much compute padding would waste)."""
    real = padded = 0
    for step in plan:
        for micro in step:
            lengths = [len(examples[i].input_ids) for i in micro]
            real += sum(lengths)
            padded += max(lengths) * len(lengths)
    return {"real_tokens": real, "padded_tokens": padded, "padding_efficiency": real / padded}
