"""maaza.decode: JSON-close tracking, loop detection, grammar schemas, constrained decoding on tiny-random."""

from __future__ import annotations

import json

import pytest
import torch
import xgrammar as xgr

from maaza.config import DecodeConfig
from maaza.decode import (
    GrammarCache,
    JsonCloser,
    RepeatTracker,
    TokenTable,
    _Loop,
    batch_order,
    generate,
    grammar_schema,
    minimal_instance,
    repeating_period,
    vocab_size,
)
from maaza.metrics import is_compliant, parse_output, schema_errors
from maaza.prompts import render_target

# Every string, array and number is bounded, so a random model must finish inside the budget.
BOUNDED = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "count": {"type": "integer", "minimum": 0, "maximum": 99},
        "kind": {"type": "string", "enum": ["a", "b", "c"]},
        "ok": {"type": "boolean"},
        "owner": {
            "type": "object",
            "properties": {
                "id": {"type": "string"},
                "age": {"type": "integer", "minimum": 0, "maximum": 9},
            },
            "required": ["id"],
        },
        "tags": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["name", "count", "kind", "ok", "owner", "tags"],
}
DATED = {
    "type": "object",
    "properties": {"when": {"type": "string", "format": "date-time"}},
    "required": ["when"],
}
TIGHT = DecodeConfig(
    batch_size=4, max_new_tokens=256, max_string_length=6, max_items=2, repeat_span=12
)


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


# ----------------------------------------------------------------------------- pure helpers
@pytest.mark.parametrize(
    ("chunks", "closes_at"),
    [
        (['{"a": 1', "}", " trailing"], 1),
        (["Sure, here it is:\n```json\n", '{"a": "}', '"}'], 2),  # a brace inside a string
        (['{"a": "\\"}', '"}'], 1),  # an escaped quote does not end the string
        (['[1, [2], {"b": [3]}', "]"], 1),
        (['He said "hi" ', 'and "bye.\n', '{"x": {}}'], 2),  # prose quotes are not strings
        (['{"a": ', "[1, 2"], None),
    ],
)
def test_json_closer(chunks, closes_at):
    closer = JsonCloser()
    results = [closer.feed(c) for c in chunks]
    assert (results.index(True) if True in results else None) == closes_at


def test_repeating_period():
    assert repeating_period([5] * 24, 24) == 1
    assert repeating_period([5] * 23, 24) is None  # too short a tail
    assert repeating_period([9, 8, 1, 2, 3] * 10, 24) == 5
    assert repeating_period([1, 2, 3] * 10 + [4], 24) is None  # the loop was left
    assert repeating_period(list(range(100)), 24) is None
    item = list(range(30))  # a long chunk (>= 16 tokens) repeated twice is a loop already
    assert repeating_period(item * 2, 24) == 30
    assert repeating_period([99] + list(range(10)) * 2, 24) is None  # a short one needs 3 copies
    assert repeating_period(list(range(10)) * 3, 24) == 10


@pytest.mark.parametrize("min_span", [6, 12, 24])
def test_repeat_tracker_equals_repeating_period(min_span):
    """The incremental tracker gives repeating_period's answer after every token."""
    import random

    rng = random.Random(min_span)
    for _ in range(40):
        tokens: list[int] = []
        tracker = RepeatTracker(min_span)
        while len(tokens) < 400:  # free text, then loops of random periods, then free text...
            if rng.random() < 0.5:
                chunk = [rng.randrange(4) for _ in range(rng.randrange(1, 40))]
            else:
                period = [rng.randrange(50) for _ in range(rng.choice([1, 2, 5, 15, 16, 40, 90]))]
                chunk = period * rng.randrange(1, 5)
            for token in chunk:
                tokens.append(token)
                assert tracker.push(token) == repeating_period(tokens, min_span), len(tokens)


def test_batch_order_groups_budgets_then_lengths():
    assert batch_order([64, 200, 64, 200, 32], [10, 5, 3, 50, 7]) == [4, 2, 0, 1, 3]


def test_grammar_schema_policy_and_bounds():
    schema = {
        "type": "object",
        "properties": {
            "format": {"type": "string", "format": "date"},  # a property *named* format stays
            "tags": {"type": "array", "items": {"type": "string"}},
            "few": {"type": "array", "items": {"type": "integer"}, "maxItems": 3},
            "code": {"type": "string", "pattern": "^[A-Z]+$"},
            "maybe": {"type": ["string", "null"]},
        },
    }
    out = grammar_schema(schema, "annotation", max_items=8, max_string_length=40)
    props = out["properties"]
    assert set(props) == set(schema["properties"])
    assert props["format"] == {"type": "string", "maxLength": 40}
    assert props["tags"] == {
        "type": "array",
        "items": {"type": "string", "maxLength": 40},
        "maxItems": 8,
    }
    assert props["few"]["maxItems"] == 3  # the schema's own bound wins
    assert "maxLength" not in props["code"]  # a pattern already constrains the string
    assert props["maybe"]["maxLength"] == 40
    assert schema["properties"]["format"] == {"type": "string", "format": "date"}  # input unchanged
    kept = grammar_schema(schema, "assert", max_items=None, max_string_length=None)
    assert kept["properties"]["format"] == {"type": "string", "format": "date"}
    assert "maxItems" not in kept["properties"]["tags"]


# ----------------------------------------------------------------------------- grammar
@pytest.mark.parametrize(
    ("policy", "no_offset", "with_offset"),
    [("annotation", True, True), ("assert", False, True)],
)
def test_format_policy_reaches_the_grammar(tiny_model, policy, no_offset, with_offset):
    model, tok = tiny_model
    cache = GrammarCache(tok, vocab_size(model), DecodeConfig(format_policy=policy))
    assert (
        xgr.GrammarMatcher(cache.get(DATED)).accept_string('{"when": "2024-05-01T10:00:00"}')
        is no_offset
    )
    assert (
        xgr.GrammarMatcher(cache.get(DATED)).accept_string('{"when": "2024-05-01T10:00:00Z"}')
        is with_offset
    )


def test_grammar_admits_exactly_the_training_layout(tiny_model):
    model, tok = tiny_model
    cache = GrammarCache(tok, vocab_size(model), DecodeConfig())
    target = {
        "name": "x",
        "count": 3,
        "kind": "a",
        "ok": True,
        "owner": {"id": "u1"},
        "tags": ["t"],
    }
    assert xgr.GrammarMatcher(cache.get(BOUNDED)).accept_string(render_target(target))
    compact = json.dumps(target, separators=(",", ":"))
    assert not xgr.GrammarMatcher(cache.get(BOUNDED)).accept_string(compact)
    assert cache.get(BOUNDED) is cache.get(json.loads(json.dumps(BOUNDED)))  # compiled once


# ----------------------------------------------------------------------------- generation
def test_constrained_rows_with_different_schemas_are_always_valid(tiny_model):
    model, tok = tiny_model
    schemas = [BOUNDED, DATED, BOUNDED, DATED, BOUNDED]
    prompts = [f"Record {i}: " + "some words " * (3 * i) for i in range(len(schemas))]
    for policy in ("annotation", "assert"):
        cfg = TIGHT.model_copy(update={"format_policy": policy})
        gens = generate(
            model, tok, prompts, cfg, mode="constrained", schemas=schemas, progress=False
        )
        for gen, schema in zip(gens, schemas, strict=True):
            parsed = parse_output(gen.text)
            assert gen.stop == "json" and not gen.truncated, gen
            assert gen.text == render_target(parsed.value)  # nothing after the closing brace
            assert is_compliant(parsed.value, schema, policy), gen.text


def test_constrained_rows_close_before_their_budget(tiny_model):
    from maaza.schemas import load_schemas

    model, tok = tiny_model
    schemas = load_schemas()
    names = ("rating", "location", "sensor_reading", "invoice", "iot_device_network")
    chosen = [schemas[s] for s in names]
    cfg = DecodeConfig(batch_size=5, max_new_tokens=200, repeat_span=24)
    budgets = [64, 64, 64, 160, 200]  # far too few for a rambling random model
    prompts = ["Text:"] * 4 + ["Text 0:"]  # iot: a row that must leave an array of objects
    gens = generate(
        model, tok, prompts, cfg, mode="constrained", schemas=chosen, budgets=budgets,
        progress=False,
    )  # fmt: skip
    for gen, schema, budget in zip(gens, chosen, budgets, strict=True):
        parsed = parse_output(gen.text)
        assert gen.stop == "json" and parsed.ok and is_compliant(parsed.value, schema), gen
        assert gen.n_tokens <= budget
    assert any(g.budget_closed for g in gens)


def test_batched_equals_one_at_a_time_and_keeps_input_order(tiny_model):
    model, tok = tiny_model
    prompts = ["A short one.", "A much longer prompt " * 6, "Medium length prompt here."]
    schemas = [BOUNDED] * 3
    batched = generate(
        model, tok, prompts, TIGHT, mode="constrained", schemas=schemas, progress=False
    )
    single = TIGHT.model_copy(update={"batch_size": 1})
    alone = generate(
        model, tok, prompts, single, mode="constrained", schemas=schemas, progress=False
    )
    assert [g.text for g in batched] == [g.text for g in alone]


def test_free_mode_truncations_are_counted(tiny_model):
    model, tok = tiny_model
    cfg = DecodeConfig(batch_size=2, max_new_tokens=64, repeat_span=24)
    gens = generate(model, tok, ["Hello", "Extract JSON:"], cfg, budgets=[5, 64], progress=False)
    assert gens[0].stop == "budget" and gens[0].n_tokens == 5 and gens[0].truncated
    # tiny-random loops; the guard must stop it long before the budget
    assert gens[1].truncated and gens[1].n_tokens <= 64
    assert all(g.latency_s > 0 and g.tokens_per_s > 0 for g in gens)


def test_constrained_needs_a_schema_per_prompt(tiny_model):
    model, tok = tiny_model
    with pytest.raises(ValueError, match="one schema per prompt"):
        generate(
            model, tok, ["a", "b"], TIGHT, mode="constrained", schemas=[BOUNDED], progress=False
        )


# ----------------------------------------------------------------------------- loop steering
TEXTS = ['"', '"}', '"]', "}", "}]", ",", "a", "1", "]", "},", ' "x', "{", '"},']
TABLE = TokenTable.from_texts(TEXTS)


def _ids(mask) -> list[str]:
    return [TEXTS[i] for i in mask.nonzero().flatten().tolist()]


def test_token_table():
    assert _ids(TABLE.quote) == ['"', '"}', '"]', ' "x', '"},']
    assert _ids(TABLE.close) == ["}", "}]", "]", "},"]
    assert TABLE.delta.tolist() == [0, -1, -1, -1, -2, 0, 0, 0, -1, -1, 0, 1, -1]
    assert _ids(TABLE.has_comma) == [",", "},", '"},']


@pytest.mark.parametrize(
    ("states", "texts", "kind", "depth"),
    [
        ([(True, 2)] * 3, ["ab", "c", "ab"], "string", 2),
        ([(False, 2)] * 3, ["2", "2", "2"], "value", 2),  # digits of one number
        ([(False, 2)] * 2, ["1", ", "], "container", 2),  # [1, 1, 1, ...
        ([(True, 3), (False, 3), (False, 2), (True, 3)], ['"x', '"}', ", {", '"k'], "container", 2),
    ],
)
def test_loop_kinds(states, texts, kind, depth):
    assert _Loop.of(states, texts) == _Loop(kind, depth)


def _closer(in_string: bool, depth: int) -> JsonCloser:
    closer = JsonCloser()
    closer.in_string, closer.depth = in_string, depth
    return closer


def test_loop_steering_targets():
    everything = torch.ones(len(TEXTS), dtype=torch.bool)
    container = _Loop("container", 2)
    assert _ids(container.steer(everything, _closer(False, 3), TABLE)) == ["}]"]  # closes the most
    assert _ids(container.steer(everything, _closer(True, 3), TABLE)) == ['"}', '"]']
    # closing an item inside an array: '"}' ends there, '"},' would commit to another item
    item_end = torch.tensor([t in ('"}', '"},') for t in TEXTS])
    assert _ids(container.steer(item_end, _closer(True, 3), TABLE)) == ['"}']
    only_comma_close = torch.tensor([t == '"},' for t in TEXTS])  # all the grammar allows
    assert _ids(container.steer(only_comma_close, _closer(True, 3), TABLE)) == ['"},']
    assert _ids(_Loop("string", 3).steer(everything, _closer(True, 3), TABLE)) == [
        '"',
        '"}',
        '"]',
        ' "x',
        '"},',
    ]
    assert _ids(_Loop("value", 2).steer(everything, _closer(False, 2), TABLE)) == [","]
    only_digits = torch.tensor([t in ("1", "a") for t in TEXTS])
    assert _Loop("value", 2).steer(only_digits, _closer(False, 2), TABLE) is None
    # leaving: a container loop ends above its depth; a string loop when the string closes
    assert not container.left(_closer(False, 2)) and container.left(_closer(False, 1))
    assert _Loop("string", 3).left(_closer(False, 3)) and not _Loop("string", 3).left(
        _closer(True, 3)
    )


def test_minimal_instance_is_valid_and_small():
    from maaza.schemas import load_schemas

    assert minimal_instance(BOUNDED) == {
        "name": "",
        "count": 0,
        "kind": "a",
        "ok": False,
        "owner": {"id": ""},
        "tags": [],
    }
    assert minimal_instance({"type": ["string", "null"]}) is None
    assert minimal_instance({"type": "array", "items": {"type": "integer"}, "minItems": 2}) == [
        0,
        0,
    ]
    for schema in load_schemas().values():  # the reserve is sized by a real answer
        errors = schema_errors(minimal_instance(schema), schema)
        assert all("does not match" in e for e in errors), errors  # patterns: sized only
