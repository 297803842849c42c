"""Optional teacher rewriting: a model paraphrases a share of the prompts (the paper's Phase 2,
"teacher model refinement"), and a rewrite is kept only if it still grounds every expected value.

    params.yaml:  data.teacher: {model: smollm2-135m-instruct, fraction: 0.2, max_new_tokens: 256}

Off by default (`model: null`). `rewrite_records` is pure given a `paraphrase(texts) -> texts`
function, so the accept/reject logic is tested without a model; `model_paraphraser` wraps a registry
model with batched greedy decoding (deterministic).
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from maaza.config import TeacherConfig
from maaza.validate import grounding_errors

INSTRUCTION = (
    "Rewrite the text below in your own words, as a different person might write it. Keep every "
    "name, number, date, code, email and amount exactly as written. Reply with the rewritten text only."
    "\n\nText:\n{text}"
)
BATCH_SIZE = 8
Paraphraser = Callable[[list[str]], list[str]]


def verdict(original: str, rewrite: str, expected: dict[str, Any], taken: set[str]) -> str:
    """'accepted' or the reason a rewrite is rejected."""
    rewrite = rewrite.strip()
    if not rewrite:
        return "empty"
    if rewrite == original.strip():
        return "unchanged"
    if rewrite in taken:
        return "duplicate"
    if grounding_errors(rewrite, expected):
        return "ungrounded"
    return "accepted"


def rewrite_records(
    records: Sequence[dict[str, Any]],
    paraphrase: Paraphraser,
    fraction: float,
    seed: int | str,
    taken: set[str] | None = None,
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Offer round(fraction * n) seeded-chosen prompts to `paraphrase`; keep grounded rewrites.

    Kept rewrites get style "<style>+teacher". Returns (new records, {outcome: count})."""
    out = [dict(r) for r in records]
    rng = random.Random(f"maaza-teacher:{seed}")
    chosen = sorted(rng.sample(range(len(out)), round(fraction * len(out))))
    taken = set(taken or ()) | {r["prompt"] for r in out}
    outcomes: Counter[str] = Counter()
    for start in range(0, len(chosen), BATCH_SIZE):
        batch = chosen[start : start + BATCH_SIZE]
        rewrites = paraphrase([out[i]["prompt"] for i in batch])
        for i, rewrite in zip(batch, rewrites, strict=True):
            outcome = verdict(out[i]["prompt"], rewrite, out[i]["expected_output"], taken)
            outcomes[outcome] += 1
            if outcome == "accepted":
                taken.add(rewrite.strip())
                out[i]["prompt"] = rewrite.strip()
                out[i]["style"] = f"{out[i].get('style', 'unknown')}+teacher"
    return out, {"offered": len(chosen), **dict(sorted(outcomes.items()))}


def model_paraphraser(model: Any, tok: Any, max_new_tokens: int) -> Paraphraser:
    """Batched greedy paraphrasing with a causal LM (chat template when the tokenizer has one)."""
    import torch

    def as_input(text: str) -> str:
        message = INSTRUCTION.format(text=text)
        if getattr(tok, "chat_template", None):
            return tok.apply_chat_template(
                [{"role": "user", "content": message}], add_generation_prompt=True, tokenize=False
            )
        return message + "\n\nRewritten text:\n"

    def paraphrase(texts: list[str]) -> list[str]:
        tok.padding_side = "left"  # decoder-only batching: pad on the left so outputs line up
        batch = tok(
            [as_input(t) for t in texts],
            return_tensors="pt",
            padding=True,
            add_special_tokens=False,
        )
        with torch.inference_mode():
            out = model.generate(
                **batch,
                max_new_tokens=max_new_tokens,
                do_sample=False,
                pad_token_id=tok.pad_token_id,
            )
        return tok.batch_decode(out[:, batch["input_ids"].shape[1] :], skip_special_tokens=True)

    return paraphrase


def rewrite_splits(
    splits: Mapping[str, list[dict[str, Any]]],
    cfg: TeacherConfig,
    seed: int,
    paraphrase: Paraphraser | None = None,
) -> tuple[dict[str, list[dict[str, Any]]], dict[str, dict[str, int]]]:
    """Rewrite train and test prompts (held-out schemas stay as generated). Loads `cfg.model` from
    the registry unless a `paraphrase` function is given. Returns (splits, per-split outcomes)."""
    if paraphrase is None:
        from maaza.models import load

        model, tok = load(cfg.model)
        paraphrase = model_paraphraser(model, tok, cfg.max_new_tokens)
    taken = {r["prompt"] for recs in splits.values() for r in recs}  # rewrites must stay unique
    new, stats = dict(splits), {}
    for name in ("train", "test"):
        new[name], stats[name] = rewrite_records(
            splits[name], paraphrase, cfg.fraction, f"{seed}:{name}", taken
        )
        taken |= {r["prompt"] for r in new[name]}
    return new, stats
