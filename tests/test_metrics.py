"""Hand-computed cases for maaza.metrics (paper Section 3.4 and 5.7)."""

import pytest

from maaza.metrics import (
    Parsed,
    error_category,
    field_prf,
    flatten,
    is_compliant,
    json_equal,
    json_exact,
    leaf_prf,
    parse_output,
    schema_errors,
    score_example,
)

SCHEMA = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "age": {"type": "integer"},
        "address": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "zip": {"type": "string"}},
            "required": ["city"],
        },
        "tags": {"type": "array", "items": {"type": "string"}},
        "seen": {"type": "string", "format": "date-time"},
    },
    "required": ["name", "age"],
}
EXPECTED = {
    "name": "Ada",
    "age": 36,
    "address": {"city": "London", "zip": "N1"},
    "tags": ["a", "b"],
}


# ----------------------------------------------------------------------------- parsing
@pytest.mark.parametrize(
    ("raw", "value"),
    [
        ('{"a": 1}', {"a": 1}),
        ('Sure! Here is the JSON:\n```json\n{"a": [1, 2]}\n```\nHope it helps.', {"a": [1, 2]}),
        ('```\n{"a": "}"}\n```', {"a": "}"}),  # bracket inside a string does not close
        ('{"a": 1}{"a": 2}', {"a": 1}),  # first value only
        ('{"a": "say \\"hi\\" {"}  trailing', {"a": 'say "hi" {'}),
        ('Fill {name} in: {"name": "x"}', {"name": "x"}),  # balanced prose skipped
        ('[1, {"b": 2}] then {"c": 3}', [1, {"b": 2}]),
    ],
)
def test_parse_output_finds_first_balanced_value(raw, value):
    parsed = parse_output(raw)
    assert parsed.ok and parsed.value == value


@pytest.mark.parametrize(
    "raw",
    ["", "no json here", '{"a": 1, "b": [1, 2', '{"a": 1,}', "{'a': 1}", '{"a": {"b": 1}'],
)
def test_parse_output_failures_are_recorded_not_raised(raw):
    parsed = parse_output(raw)
    assert not parsed.ok and parsed.value is None and parsed.error


def test_truncated_value_is_not_replaced_by_an_inner_fragment():
    # The outer object never closes; its complete inner object must not be taken as the answer.
    assert not parse_output('{"a": {"b": 1}, "c": [1, 2, 3, 3, 3').ok


# ----------------------------------------------------------------------------- equality + exact
def test_json_equality_numbers_strings_booleans():
    assert json_equal(18, 18.0) and json_exact({"n": 18}, {"n": 18.0}) == 1
    assert not json_equal("100", 100)
    assert not json_equal(True, 1) and not json_equal(0, False)  # Python says equal; JSON does not
    assert not json_equal([1, 2], [2, 1])  # arrays are ordered
    assert json_equal({"a": 1, "b": 2}, {"b": 2, "a": 1})  # objects are not
    assert json_exact({"a": {"b": [1, {"c": None}]}}, {"a": {"b": [1, {"c": None}]}}) == 1
    assert json_exact({"a": {"b": [1, {"c": None}]}}, {"a": {"b": [1, {}]}}) == 0


# ----------------------------------------------------------------------------- field F1
def test_field_f1_hand_computed():
    # 4 predicted keys: name right, age wrong type ("36"), address right, extra "email".
    # 4 expected keys: name, age, address, tags (missing).   correct = 2
    pred = {"name": "Ada", "age": "36", "address": {"city": "London", "zip": "N1"}, "email": "a@b"}
    p, r, f1 = field_prf(pred, EXPECTED)
    assert (p, r) == (2 / 4, 2 / 4) and f1 == pytest.approx(0.5)
    # 2 predicted keys, both right; 4 expected: P = 1, R = 0.5, F1 = 2/3
    p, r, f1 = field_prf({"name": "Ada", "age": 36.0}, EXPECTED)
    assert (p, r) == (1.0, 0.5) and f1 == pytest.approx(2 / 3)


def test_field_f1_nested_value_is_all_or_nothing_but_leaf_f1_is_not():
    pred = {**EXPECTED, "address": {"city": "London", "zip": "N2"}}
    assert field_prf(pred, EXPECTED)[2] == pytest.approx(0.75)  # 3 of 4 top-level keys
    # leaves: name, age, address.city, address.zip, tags[0], tags[1] -> 5 of 6 right
    assert leaf_prf(pred, EXPECTED)[2] == pytest.approx(5 / 6)


def test_field_f1_edge_cases_follow_the_paper():
    assert field_prf({}, EXPECTED) == (0.0, 0.0, 0.0)
    assert field_prf([EXPECTED], EXPECTED) == (0.0, 0.0, 0.0)  # not an object
    assert field_prf(EXPECTED, EXPECTED) == (1.0, 1.0, 1.0)


def test_flatten_paths():
    assert flatten({"a": {"b": 1}, "c": [2, {"d": 3}], "e": [], "f": {}}) == {
        "a.b": 1,
        "c[0]": 2,
        "c[1].d": 3,
        "e": [],
        "f": {},
    }
    assert flatten(5) == {"$": 5}


def test_leaf_f1_arrays_of_objects():
    exp = {"items": [{"sku": "A", "qty": 1}, {"sku": "B", "qty": 2}]}
    pred = {"items": [{"sku": "A", "qty": 1}]}  # 2 of 2 predicted leaves right, 2 of 4 recalled
    p, r, f1 = leaf_prf(pred, exp)
    assert (p, r) == (1.0, 0.5) and f1 == pytest.approx(2 / 3)


# ----------------------------------------------------------------------------- compliance
def test_compliance_types_required_nested():
    assert is_compliant(EXPECTED, SCHEMA)
    assert not is_compliant({"name": "Ada"}, SCHEMA)  # required age missing
    assert not is_compliant({"name": "Ada", "age": "36"}, SCHEMA)  # "36" is not an integer
    assert is_compliant({"name": "Ada", "age": 36.0}, SCHEMA)  # 36.0 is an integer in JSON Schema
    assert not is_compliant({"name": "Ada", "age": 36, "address": {"zip": "1"}}, SCHEMA)
    assert schema_errors({"name": "Ada"}, SCHEMA) == ["$: 'age' is a required property"]


def test_format_policy_annotation_vs_assert():
    no_offset = {"name": "Ada", "age": 36, "seen": "2024-05-01T10:00:00"}
    assert is_compliant(no_offset, SCHEMA, "annotation")
    assert not is_compliant(no_offset, SCHEMA, "assert")
    assert is_compliant({**no_offset, "seen": "2024-05-01T10:00:00Z"}, SCHEMA, "assert")


# ----------------------------------------------------------------------------- error categories
@pytest.mark.parametrize(
    ("pred", "category"),
    [
        (EXPECTED, "correct"),
        ({**EXPECTED, "age": 36.0}, "correct"),
        ({k: v for k, v in EXPECTED.items() if k != "tags"}, "field_omission"),
        ({**EXPECTED, "tags": ["a"]}, "field_omission"),  # shorter array
        ({**EXPECTED, "age": None}, "field_omission"),  # null in place of a value
        ({**EXPECTED, "age": "36"}, "type_error"),
        ({**EXPECTED, "age": 37}, "value_mismatch"),
        ({**EXPECTED, "email": "x@y.z"}, "value_mismatch"),  # invented key
        ({**EXPECTED, "address": "London N1"}, "structure_error"),
        (
            {"name": "Ada", "age": 36, "address_city": "London", "tags": ["a", "b"]},
            "structure_error",
        ),
        ([EXPECTED], "structure_error"),
        ({"type": "json", "data": EXPECTED}, "structure_error"),  # wrapped one level down
        ({"data": {"name": "Ada"}, "age": 36}, "structure_error"),
        ({**EXPECTED, "age": "36", "name": None}, "field_omission"),  # most basic kind wins
    ],
)
def test_error_category(pred, category):
    assert error_category(Parsed(True, pred), EXPECTED) == category


def test_score_example_invalid_json_scores_zero():
    score = score_example(parse_output('{"name": "Ada", "age": 3'), EXPECTED, SCHEMA)
    assert score.error == "invalid_json" and not score.compliant
    assert (score.json_exact, score.field_f1, score.leaf_f1) == (0, 0.0, 0.0)


def test_score_example_compliant_but_wrong():
    score = score_example(Parsed(True, {**EXPECTED, "name": "Bob"}), EXPECTED, SCHEMA)
    assert score.compliant and score.json_exact == 0 and score.error == "value_mismatch"
    assert score.field_f1 == pytest.approx(0.75) and score.leaf_f1 == pytest.approx(5 / 6)


# ----------------------------------------------------------------------------- copy fidelity
def test_copy_checks_find_copied_strings_dates_and_numbers():
    from maaza.metrics import copy_checks

    prompt = (
        "Review by KIMBERLY LOPEZ on March 4, 1979: Works. Really well. Score 5, paid $1,234.50"
    )
    expected = {"reviewer": "KIMBERLY LOPEZ", "date": "1979-03-04", "score": 5, "ok": True,
                "comment": "Works. Really well.", "price": 1234.5, "tier": "gold"}  # fmt: skip
    predicted = {"reviewer": "Kimberly Lopez", "date": "2020-03-04", "score": 5,
                 "comment": "Works. Really well.", "price": 1234.5}  # fmt: skip
    checks = copy_checks(prompt, expected, predicted)
    # "gold" is not in the text and booleans are not copied: neither is checked
    assert checks == [
        ("string", "9-16", 0),  # casing changed
        ("date", "9-16", 0),  # year rewritten
        ("number", "1-8", 1),
        ("string", "17-32", 1),
        ("number", "1-8", 1),
    ]
    assert all(exact == 0 for _, _, exact in copy_checks(prompt, expected, None))


def test_copy_fidelity_breaks_exactness_down_by_kind_and_length():
    from maaza.metrics import copy_fidelity

    checks = [["string", "65+", 0], ["string", "65+", 1], ["string", "1-8", 1], ["date", "9-16", 1]]
    out = copy_fidelity(checks)
    assert out["n"] == 4 and out["exact"] == 0.75
    assert out["by_kind"]["string"]["by_length"] == {
        "1-8": {"n": 1, "exact": 1.0}, "65+": {"n": 2, "exact": 0.5},
    }  # fmt: skip
    assert out["by_kind"]["number"] == {"n": 0, "exact": None, "by_length": {}}


def test_aggregate_reports_copy_fidelity():
    from maaza.evaluate import aggregate

    row = {"schema_id": "s", "complexity": "simple", "style": "kv", "json_exact": 0,
           "field_f1": 0.5, "leaf_f1": 0.5, "compliant": True, "error": "value_mismatch",
           "truncated": False, "latency_s": 1.0, "n_tokens": 10, "loop_breaks": 0,
           "copies": [["string", "65+", 0], ["number", "1-8", 1]]}  # fmt: skip
    metrics = aggregate([row], 1.0)
    assert metrics["overall"]["copy_exact"] == 0.5
    assert metrics["copy_fidelity"]["by_kind"]["string"]["by_length"]["65+"] == {
        "n": 1,
        "exact": 0.0,
    }
