"""The paper's metrics (Section 3.4) and error categories (Section 5.7), as pure functions.

    parsed = parse_output(raw)                  # never raises; parsed.ok, parsed.value, parsed.error
    score_example(parsed, expected, schema)     # -> ExampleScore (all metrics + error category)

Equality is JSON equality, not Python equality: 18 == 18.0 (one JSON number), but "100" != 100
and True != 1 (Python says True == 1, JSON does not). Field F1 follows the paper's code exactly
(top-level keys; a key counts only when its value is equal; empty prediction -> 0). Leaf F1 applies
the same formula to flattened paths (`a.b`, `items[0].sku`) so nested errors are not hidden.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

import jsonschema

from maaza.config import FormatPolicy

ERROR_CATEGORIES: tuple[str, ...] = (
    "correct",
    "field_omission",
    "type_error",
    "value_mismatch",  # the paper's "value hallucination": wrong or invented values, extra keys
    "structure_error",
    "invalid_json",
)
# When one output has several kinds of error, report the most basic one (an output with a missing
# nested object is a structure error first, whatever its leaf values).
_SEVERITY: tuple[str, ...] = (
    "invalid_json",
    "structure_error",
    "field_omission",
    "type_error",
    "value_mismatch",
)

_FENCE = re.compile(r"```[a-zA-Z0-9_-]*\s*\n?(.*?)```", re.DOTALL)


# ----------------------------------------------------------------------------- parsing
@dataclass(frozen=True)
class Parsed:
    ok: bool
    value: Any = None
    error: str | None = None  # why parsing failed (None when ok)


def _balanced_end(text: str, start: int) -> int | None:
    """Index just past the bracket that closes text[start] ('{' or '['), or None if it never closes."""
    depth, in_string, escaped = 0, False, False
    for i in range(start, len(text)):
        ch = text[i]
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "{[":
            depth += 1
        elif ch in "}]":
            depth -= 1
            if depth == 0:
                return i + 1
    return None


def first_json_value(text: str) -> Parsed:
    """The first balanced `{...}` or `[...]` in text that parses as JSON."""
    pos, last_error = 0, "no '{' or '[' in output"
    while True:
        starts = [i for i in (text.find("{", pos), text.find("[", pos)) if i >= 0]
        if not starts:
            return Parsed(False, error=last_error)
        start = min(starts)
        end = _balanced_end(text, start)
        if end is None:  # an unclosed value: truncated output; inner values are only fragments
            return Parsed(False, error=f"unclosed JSON value starting at char {start}")
        try:
            return Parsed(True, json.loads(text[start:end]))
        except json.JSONDecodeError as err:
            # Balanced but not JSON, e.g. prose like "{name}" before the answer: keep looking.
            last_error = f"invalid JSON at char {start + err.pos}: {err.msg}"
            pos = end


def parse_output(raw: str) -> Parsed:
    """Parse a model's continuation: markdown fences and surrounding prose are ignored."""
    fenced = _FENCE.search(raw)
    if fenced:
        inside = first_json_value(fenced.group(1))
        if inside.ok:
            return inside
    return first_json_value(raw)


# ----------------------------------------------------------------------------- equality
def json_type(value: Any) -> str:
    """The JSON type name of a parsed value (bool checked before int: bool is an int in Python)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    raise TypeError(f"not a JSON value: {type(value).__name__}")


def json_equal(a: Any, b: Any) -> bool:
    """Equality of JSON values: numbers by value (18 == 18.0), booleans never equal numbers."""
    kind = json_type(a)
    if kind != json_type(b):
        return False
    if kind == "object":
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    if kind == "array":
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b, strict=True))
    return a == b


# ----------------------------------------------------------------------------- metrics
def json_exact(predicted: Any, expected: Any) -> int:
    """1 if the parsed output equals the expected object, else 0 (paper 3.4.1)."""
    return int(json_equal(predicted, expected))


def _prf(predicted: dict[str, Any], expected: dict[str, Any]) -> tuple[float, float, float]:
    # The paper's formula (3.4.2), keys compared by name, values by JSON equality.
    correct = sum(
        1 for k in predicted.keys() & expected.keys() if json_equal(predicted[k], expected[k])
    )
    precision = correct / len(predicted) if predicted else 0.0
    recall = correct / len(expected) if expected else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    return precision, recall, f1


def field_prf(predicted: Any, expected: dict[str, Any]) -> tuple[float, float, float]:
    """Precision, recall and F1 over top-level keys; a non-object prediction scores 0."""
    if not isinstance(predicted, dict):
        return 0.0, 0.0, 0.0
    return _prf(predicted, expected)


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Leaf paths of a JSON value: {"a": {"b": 1}, "c": [2]} -> {"a.b": 1, "c[0]": 2}.

    Empty objects and arrays are leaves themselves, so `[]` vs a missing key is still visible.
    """
    if isinstance(value, dict) and value:
        out: dict[str, Any] = {}
        for key, sub in value.items():
            out.update(flatten(sub, f"{prefix}.{key}" if prefix else str(key)))
        return out
    if isinstance(value, list) and value:
        out = {}
        for i, sub in enumerate(value):
            out.update(flatten(sub, f"{prefix}[{i}]"))
        return out
    return {prefix or "$": value}


def leaf_prf(predicted: Any, expected: Any) -> tuple[float, float, float]:
    """Field F1's formula over flattened leaf paths (nested values scored one leaf at a time)."""
    return _prf(flatten(predicted), flatten(expected))


@lru_cache(maxsize=256)
def _validator(schema_json: str, format_policy: FormatPolicy) -> jsonschema.protocols.Validator:
    schema = json.loads(schema_json)
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    checker = cls.FORMAT_CHECKER if format_policy == "assert" else None
    return cls(schema, format_checker=checker)


def schema_errors(
    value: Any, schema: dict[str, Any], format_policy: FormatPolicy = "annotation"
) -> list[str]:
    """jsonschema's messages for `value` (empty = compliant): the one schema check of the data
    checks, the metrics and `maaza extract`. `format` is checked only under format_policy assert."""
    validator = _validator(json.dumps(schema, sort_keys=True), format_policy)
    return [
        f"{'/'.join(map(str, e.absolute_path)) or '$'}: {e.message}"
        for e in validator.iter_errors(value)
    ]


def is_compliant(
    value: Any, schema: dict[str, Any], format_policy: FormatPolicy = "annotation"
) -> bool:
    return not schema_errors(value, schema, format_policy)


# ----------------------------------------------------------------------------- error categories
def _nested_keys(values: list[Any]) -> set[str]:
    """Every object key at any depth inside values."""
    keys: set[str] = set()
    stack = list(values)
    while stack:
        v = stack.pop()
        if isinstance(v, dict):
            keys.update(v)
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)
    return keys


def _issues(pred: Any, exp: Any, found: set[str]) -> None:
    """Walk prediction and reference together, adding the kinds of difference found."""
    exp_kind, pred_kind = json_type(exp), json_type(pred)
    if exp_kind == "object":
        if pred_kind != "object":
            found.add("structure_error")
            return
        missing = [k for k in exp if k not in pred]
        extra = [k for k in pred if k not in exp]
        # A nested object/array that is missing while unknown keys appear was most likely
        # flattened or renamed ("customer_name" instead of "customer": {"name"}); a missing key
        # found deeper in the output was wrapped ({"data": {...}}): both are structure errors.
        flattened = extra and any(isinstance(exp[k], dict | list) for k in missing)
        if flattened or (missing and set(missing) & _nested_keys([pred[k] for k in extra])):
            found.add("structure_error")
        if missing:
            found.add("field_omission")
        if extra:
            found.add("value_mismatch")  # invented fields
        for k in exp.keys() & pred.keys():
            _issues(pred[k], exp[k], found)
    elif exp_kind == "array":
        if pred_kind != "array":
            found.add("structure_error")
            return
        if len(pred) < len(exp):
            found.add("field_omission")
        elif len(pred) > len(exp):
            found.add("value_mismatch")
        for p, e in zip(pred, exp, strict=False):
            _issues(p, e, found)
    elif pred_kind in ("object", "array"):
        found.add("structure_error")
    elif pred_kind == "null" and exp_kind != "null":
        found.add("field_omission")  # the model gave up on the value
    elif pred_kind != exp_kind:
        found.add("type_error")  # "100" for 100, "true" for true
    elif not json_equal(pred, exp):
        found.add("value_mismatch")


def error_category(parsed: Parsed, expected: Any) -> str:
    """One of ERROR_CATEGORIES for an example: the most basic kind of error it shows."""
    if not parsed.ok:
        return "invalid_json"
    found: set[str] = set()
    _issues(parsed.value, expected, found)
    return next((kind for kind in _SEVERITY if kind in found), "correct")


# ----------------------------------------------------------------------------- copy fidelity
# Values a model must copy from the text, by kind, and how long they are (characters as written in
# the label): a model that learned narrow ranges rewrites a 1979 date, cuts a long comment or
# changes casing, which JSONExact alone does not locate (issue 20).
COPY_KINDS: tuple[str, ...] = ("string", "date", "number")
LENGTH_BUCKETS: tuple[tuple[str, int], ...] = (
    ("1-8", 8), ("9-16", 16), ("17-32", 32), ("33-64", 64), ("65+", 1 << 62),
)  # fmt: skip
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?")


def length_bucket(n: int) -> str:
    return next(name for name, most in LENGTH_BUCKETS if n <= most)


def copy_kind(value: Any, prompt: str) -> str | None:
    """date: an ISO date or timestamp (copied, or rewritten from "March 4, 1979"); number: a
    number (not a boolean); string: any other string the prompt contains verbatim (case and all);
    None: not a copied value (booleans, nulls, strings the text does not state as such)."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str) and _ISO_DATE.fullmatch(value):
        return "date"
    if isinstance(value, str) and value and value in prompt:
        return "string"
    return None


def copy_checks(prompt: str, expected: Any, predicted: Any) -> list[tuple[str, str, int]]:
    """(kind, length bucket, exact) of every copied leaf of `expected`: exact = the prediction
    holds a JSON-equal value at the same path (a missing or unparsable answer scores 0)."""
    got = flatten(predicted) if predicted is not None else {}
    out = []
    for path, value in flatten(expected).items():
        kind = copy_kind(value, prompt)
        if kind is None:
            continue
        written = value if isinstance(value, str) else json.dumps(value)
        exact = int(path in got and json_equal(got[path], value))
        out.append((kind, length_bucket(len(written)), exact))
    return out


def copy_fidelity(checks: list[list[Any]]) -> dict[str, Any]:
    """metrics.json's copy_fidelity: exactness of copied values overall, by kind, and by kind x
    length bucket ({"n", "exact"} each; exact = share of copied values reproduced exactly)."""

    def cell(rows: list[list[Any]]) -> dict[str, Any]:
        n = len(rows)
        return {"n": n, "exact": round(sum(r[2] for r in rows) / n, 6) if n else None}

    by_kind = {}
    for kind in COPY_KINDS:
        rows = [c for c in checks if c[0] == kind]
        by_length = {b: cell([c for c in rows if c[1] == b]) for b, _ in LENGTH_BUCKETS}
        by_kind[kind] = {**cell(rows), "by_length": {b: v for b, v in by_length.items() if v["n"]}}
    return {**cell(checks), "by_kind": by_kind}


# ----------------------------------------------------------------------------- per example
@dataclass(frozen=True)
class ExampleScore:
    json_exact: int
    field_precision: float
    field_recall: float
    field_f1: float
    leaf_f1: float
    compliant: bool
    error: str  # one of ERROR_CATEGORIES


def score_example(
    parsed: Parsed,
    expected: Any,
    schema: dict[str, Any],
    format_policy: FormatPolicy = "annotation",
) -> ExampleScore:
    """All metrics for one example; an unparsable output scores 0 everywhere."""
    if not parsed.ok:
        return ExampleScore(0, 0.0, 0.0, 0.0, 0.0, False, "invalid_json")
    p, r, f1 = field_prf(parsed.value, expected)
    return ExampleScore(
        json_exact=json_exact(parsed.value, expected),
        field_precision=p,
        field_recall=r,
        field_f1=f1,
        leaf_f1=leaf_prf(parsed.value, expected)[2],
        compliant=is_compliant(parsed.value, schema, format_policy),
        error=error_category(parsed, expected),
    )


# ----------------------------------------------------------------------------- registry
@dataclass(frozen=True)
class Metric:
    """A headline metric: a key of metrics.json's `overall` (and of its by_tier/by_schema rows)."""

    name: str  # its key in metrics.json
    label: str  # how tables and the paper name it
    higher_is_better: bool
    # Over the examples of an evaluation: rate = share of examples where a 0/1 score is 1; mean =
    # mean of a per-example value; p95 = nearest-rank 95th percentile; throughput = total / wall time.
    aggregate: Literal["rate", "mean", "p95", "throughput"]
    unit: Literal["fraction", "seconds", "tokens/s"]
    # rate/mean metrics: the per-example value (a predictions.jsonl row) they average
    of_example: Callable[[dict[str, Any]], float] | None = None


def _key(name: str) -> Callable[[dict[str, Any]], float]:
    return lambda row: float(row[name])


METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric("json_exact", "JSONExact", True, "rate", "fraction", _key("json_exact")),
        Metric("field_f1", "Field F1", True, "mean", "fraction", _key("field_f1")),
        Metric("leaf_f1", "Leaf F1", True, "mean", "fraction", _key("leaf_f1")),
        Metric("compliance", "Compliance", True, "rate", "fraction", _key("compliant")),
        Metric(
            "parse_rate",
            "Parse rate",
            True,
            "rate",
            "fraction",
            lambda row: float(row["error"] != "invalid_json"),
        ),  # fmt: skip
        Metric("truncated", "Truncated", False, "rate", "fraction", _key("truncated")),
        # over the copied values of all examples, not per example (copy_fidelity)
        Metric("copy_exact", "Copy fidelity", True, "rate", "fraction"),
        Metric("latency_mean_s", "Latency", False, "mean", "seconds"),
        Metric("latency_p95_s", "Latency p95", False, "p95", "seconds"),
        Metric("tokens_per_s", "Tokens/s", True, "throughput", "tokens/s"),
    )
}
