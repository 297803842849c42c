"""Continuous batching (maaza.decode: rows leave the running batch, new prompts are prefilled and
merged in) changes no greedy output: batched = each prompt decoded alone, on tiny-random, on a
tiny random Gemma 3 (sliding-window layers) and on the real SmolLM2-135M with validation
examples whose answers end at very different steps. benchmarks/decode_steps.py counts the
forward passes the decoder makes."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch

from maaza.config import DecodeConfig, load_params
from maaza.decode import DecodeStats, batch_order, generate

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("decode_steps", ROOT / "benchmarks/decode_steps.py")
decode_steps = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(decode_steps)

# Every string, array and number bounded (a random model must finish inside the budget).
BOUNDED = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "count": {"type": "integer", "minimum": 0, "maximum": 99},
        "tags": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["name", "count", "tags"],
}
PROMPTS = [f"Record {i}: " + "some words " * (5 * i % 17) for i in range(8)]
BUDGETS = [5, 64, 40, 64, 12, 64, 30, 50]


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


def decoded(model, tok, prompts, cfg, batch_size, stats=None, **kwargs):
    cfg = cfg.model_copy(update={"batch_size": batch_size})
    gens = generate(model, tok, prompts, cfg, progress=False, stats=stats, **kwargs)
    return [(g.text, g.n_tokens, g.stop, g.loop_breaks, g.budget_closed) for g in gens]


@pytest.fixture(scope="module")
def tiny_gemma3(tiny_model):
    """A 2-layer random Gemma 3 (a sliding-window layer of 8 positions, then a full one) with the
    SmolLM2 tokenizer: prompts and answers run past its window."""
    from transformers import Gemma3ForCausalLM, Gemma3TextConfig

    _, tok = tiny_model
    config = Gemma3TextConfig(
        vocab_size=len(tok.get_vocab()), hidden_size=64, intermediate_size=128,
        num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, head_dim=16,
        sliding_window=8, layer_types=["sliding_attention", "full_attention"],
        max_position_embeddings=4096, bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id,
    )  # fmt: skip
    torch.manual_seed(0)
    return Gemma3ForCausalLM(config).eval(), tok


@pytest.mark.parametrize("model_name", ["tiny_model", "tiny_gemma3"])
@pytest.mark.parametrize("mode", ["free", "constrained"])
def test_continuous_batches_equal_one_at_a_time(request, model_name, mode):
    model, tok = request.getfixturevalue(model_name)
    cfg = DecodeConfig(max_new_tokens=64, max_string_length=6, max_items=2, repeat_span=12)
    kwargs = {"mode": mode, "budgets": BUDGETS}
    if mode == "constrained":
        kwargs["schemas"] = [BOUNDED] * len(PROMPTS)
    stats = DecodeStats()
    batched = decoded(model, tok, PROMPTS, cfg, 3, stats, **kwargs)
    assert stats.merges >= 1  # rows joined a running batch
    assert batched == decoded(model, tok, PROMPTS, cfg, 1, **kwargs)


def test_caches_that_cannot_merge_decode_batch_after_batch(tiny_model, monkeypatch):
    model, tok = tiny_model
    cfg = DecodeConfig(max_new_tokens=64, repeat_span=12)
    merged = decoded(model, tok, PROMPTS, cfg, 3, budgets=BUDGETS)
    monkeypatch.setattr("maaza.decode._mergeable", lambda cache: False)
    stats = DecodeStats()
    assert decoded(model, tok, PROMPTS, cfg, 3, stats, budgets=BUDGETS) == merged
    assert stats.merges == 0 and stats.prefills == 3  # batches of 3, 3 and 2


def test_the_step_count_simulation_counts_what_the_decoder_does(tiny_model):
    model, tok = tiny_model
    cfg = DecodeConfig(batch_size=3, max_new_tokens=64, repeat_span=12)
    stats = DecodeStats()
    gens = generate(model, tok, PROMPTS, cfg, budgets=BUDGETS, progress=False, stats=stats)
    lengths = [len(ids) for ids in tok(PROMPTS)["input_ids"]]
    order = batch_order(BUDGETS, lengths)
    counted = decode_steps.continuous(order, [g.n_tokens for g in gens], lengths, 3, 2)
    assert (stats.prefills, stats.merges, stats.steps, stats.row_steps) == (
        counted["prefills"], counted["merges"], counted["steps"], counted["row_steps"],
    )  # fmt: skip
    assert stats.row_steps + len(PROMPTS) == sum(g.n_tokens for g in gens)


@pytest.fixture(scope="module")
def smollm2():
    from maaza.models import load

    return load("smollm2-135m-instruct")


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["constrained", "free"])
def test_real_model_continuous_batches_equal_one_at_a_time(smollm2, mode):
    """Zero-shot SmolLM2 on validation examples of every tier (answers from ~20 tokens to the
    budget), budgets and prompts as its evaluation makes them (capped at 96 tokens: time)."""
    from maaza.evaluate import schema_budgets
    from maaza.importer import import_edgejson
    from maaza.prompts import build_prompt

    model, tok = smollm2
    params = load_params(ROOT / "params.yaml")
    cfg = params.evaluate.decode.model_copy(update={"max_new_tokens": 96})
    records, schemas = import_edgejson(ROOT / "data/val.jsonl", ROOT / "src/maaza/schemas")
    budget = schema_budgets(
        records, lambda s: len(tok(s, add_special_tokens=False)["input_ids"]), cfg
    )
    chosen = [r for tier in ("simple", "medium", "complex") for r in
              [r for r in records if r["complexity"] == tier][:3]][:8]  # fmt: skip
    prompts = [
        build_prompt(r["prompt"], schemas[r["schema_id"]], params.evaluate.zeroshot_prompt_format)
        for r in chosen
    ]
    kwargs = {"mode": mode, "budgets": [budget[r["schema_id"]] for r in chosen]}
    if mode == "constrained":
        kwargs["schemas"] = [schemas[r["schema_id"]] for r in chosen]
        kwargs["sources"] = [r["prompt"] for r in chosen]  # params' copy_spans: spans of the text
    stats = DecodeStats()
    batched = decoded(model, tok, prompts, cfg, 3, stats, **kwargs)
    assert stats.merges >= 1
    assert len({n for _, n, *_ in batched}) >= 4  # rows end at different steps
    assert batched == decoded(model, tok, prompts, cfg, 1, **kwargs)


def test_decoding_records_no_autograd_graph(tiny_model):
    """Every forward pass of generate runs in inference mode: no graph, no saved activations
    (a decorator once slid off _decode onto a helper and nothing else noticed)."""
    model, tok = tiny_model
    seen: list[bool] = []
    hook = model.register_forward_hook(lambda *_: seen.append(torch.is_inference_mode_enabled()))
    try:
        cfg = DecodeConfig(batch_size=3, max_new_tokens=8, repeat_span=12)
        generate(model, tok, PROMPTS[:4], cfg, budgets=[8] * 4, progress=False)
    finally:
        hook.remove()
    assert seen and all(seen)
