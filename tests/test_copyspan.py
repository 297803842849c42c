"""maaza.copyspan: free-text values kept to verbatim spans of the input (decode copy_spans)."""

from __future__ import annotations

import pytest

from maaza.copyspan import SpanRow, is_free_text

SCHEMA = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "kind": {"type": "string", "enum": ["a", "b"]},
        "when": {"type": "string", "format": "date"},
        "note": {"type": ["string", "null"]},
        "owner": {"type": "object", "properties": {"city": {"type": "string"}}},
        "tags": {"type": "array", "items": {"type": "string"}},
    },
}
TEXT = 'Dana "DW" Whitfield, Trek bikes, Lisbon\nnotes: ok'


def test_free_text_is_a_plain_string():
    assert is_free_text({"type": "string"}) and is_free_text({"type": ["string", "null"]})
    for schema in ({"type": "string", "enum": ["a"]}, {"type": "string", "format": "date"},
                   {"type": "string", "pattern": "^x$"}, {"type": "integer"}, None):  # fmt: skip
        assert not is_free_text(schema)


@pytest.mark.parametrize(
    ("written", "copying"),
    [
        ('{"na', False),  # a key
        ('{"name": "Da', True),
        ('{"kind": "', False),  # enum: the grammar decides
        ('{"when": "', False),  # format: a date need not be written as in the text
        ('{"note": "', True),  # nullable string
        ('{"owner": {"city": "Lis', True),  # nested
        ('{"owner": {"city": "Lisbon"}, "tags": ["Tr', True),  # array items
        ('{"owner": {"city": "Lisbon"}, "kind": "', False),  # a key after a closed object
        ('{"name": "Dana", "tags": []', False),
    ],
)
def test_the_tracker_knows_when_a_free_text_value_is_open(written, copying):
    row = SpanRow(SCHEMA, TEXT)
    row.feed(written)
    assert row.copying == copying


def test_a_free_text_value_must_stay_a_span_of_the_input():
    row = SpanRow(SCHEMA, TEXT)
    row.feed('{"name": "Dana \\"D')  # the text's quotes, JSON-escaped as the answer writes them
    assert row.allows('W\\" Whit') and row.allows('W\\"", ')  # continue, or close at a span end
    assert not row.allows("avid")  # not in the text
    row = SpanRow(SCHEMA, TEXT)
    row.feed('{"tags": ["Tr')
    assert row.allows('ek"') and not row.allows('ip_Up"')
    assert SpanRow(SCHEMA, TEXT).allows("anything at all")  # not inside a value: no constraint
    row = SpanRow(SCHEMA, TEXT)
    row.feed('{"note": "ok\\')
    assert not row.allows("n")  # "ok\n" is not in the text; "Lisbon\nnotes" is
    row = SpanRow(SCHEMA, TEXT)
    row.feed('{"note": "Lisbon\\')
    assert row.allows("nnotes")


def test_constrained_decoding_with_copy_spans_copies(tiny_model):
    import torch

    from maaza.config import DecodeConfig
    from maaza.decode import generate
    from maaza.metrics import parse_output

    model, tok = tiny_model
    schema = {"type": "object", "properties": {"name": {"type": "string"},
              "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 2}},
              "required": ["name", "tags"]}  # fmt: skip
    texts = ["Order for Dana Whitfield of Larkspur Robotics.", "Ship to Trek Bicycle, Waterloo"]
    cfg = DecodeConfig(batch_size=2, max_new_tokens=96, copy_spans=True)
    torch.set_num_threads(1)
    gens = generate(model, tok, [f"Text: {t}\nJSON:" for t in texts], cfg, mode="constrained",
                    schemas=[schema] * 2, sources=texts, progress=False)  # fmt: skip
    for gen, text in zip(gens, texts, strict=True):
        value = parse_output(gen.text).value
        assert value is not None, gen
        for s in [value["name"], *value["tags"]]:
            assert s in text, (s, text)
    with pytest.raises(ValueError, match="sources"):
        generate(model, tok, ["x"], cfg, mode="constrained", schemas=[schema], progress=False)
