"""Per-example data checks (the paper's Phase 3, and more).

    from maaza.validate import validate_records
    summary = validate_records(records, schemas)   # {"n", "checks": {name: {...}}, "failed": [...]}

Checks, each reported separately:
  record       the record has id, a known schema_id, a tier name as complexity, a prompt, an object output
  parses       expected_output survives a JSON round trip unchanged (no NaN, no non-JSON types)
  schema_valid expected_output validates against its schema (maaza.metrics.schema_errors: the
               metrics' check, `format` asserted only under format_policy "assert")
  derived      derived fields agree with their parts within 0.02 (line totals, subtotal, tax, total,
               fees, counts, headcounts)
  unique       no prompt appears twice
  grounded     every expected leaf value appears in the prompt in some written form
               (see `grounding_errors`), or is the product of two numbers that do
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from maaza.config import FormatPolicy
from maaza.datagen.values import CURRENCY_NAMES, NUMBER_WORDS, date_forms, time_forms
from maaza.metrics import schema_errors
from maaza.schemas import TIERS

CHECKS: tuple[str, ...] = ("record", "parses", "schema_valid", "derived", "unique", "grounded")
TOLERANCE = 0.02  # derived money fields, as in the paper
NUMBER_TOLERANCE = 0.005  # a written number matches a value when it rounds to it at 2 decimals
REQUIRED_KEYS = ("id", "schema_id", "prompt", "expected_output")

_GROUPED = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?")  # 1,234.50
_PLAIN = re.compile(r"\d+(?:\.\d+)?")  # also read commas as separators: "60,2023" in a CSV row
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATETIME = re.compile(
    r"^(\d{4}-\d{2}-\d{2})[T ](\d{2}):(\d{2})(?::(\d{2}))?(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?$"
)


# ----------------------------------------------------------------------------- grounding
def normalize(text: str) -> str:
    return " ".join(text.casefold().split())


def prompt_numbers(prompt: str) -> list[float]:
    """Every number written in the prompt (digits with optional thousands commas, or 0-12 in words)."""
    found = [float(m.replace(",", "")) for m in _GROUPED.findall(prompt)]
    found += [float(m) for m in _PLAIN.findall(prompt)]
    words = set(re.findall(r"[a-z]+", prompt.casefold()))
    found += [float(i) for i, w in enumerate(NUMBER_WORDS) if w in words]
    return found


def _number_grounded(value: float, numbers: list[float]) -> bool:
    # The magnitude is enough: "74.0060° W" grounds -74.006, "8.25%" grounds 0.0825.
    targets = {abs(value), abs(value) * 100}
    if any(abs(n - t) < NUMBER_TOLERANCE for n in numbers for t in targets):
        return True
    # Derivable: a product of two written numbers (a line total that the text leaves implicit).
    return any(
        abs(a * b - abs(value)) < NUMBER_TOLERANCE
        for i, a in enumerate(numbers)
        for b in numbers[i + 1 :]
    )


def _date_grounded(value: str, text: str) -> bool:
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        return False
    return any(normalize(form) in text for form in date_forms(day))


def _datetime_grounded(value: str, text: str) -> bool:
    m = _DATETIME.match(value)
    if not m:
        return False
    moment = dt.time(int(m[2]), int(m[3]), int(m[4] or 0))
    return _date_grounded(m[1], text) and any(
        normalize(form) in text for form in time_forms(moment)
    )


def _string_grounded(value: str, key: str, text: str) -> bool:
    if _DATE.match(value):
        return _date_grounded(value, text)
    if _DATETIME.match(value):
        return _datetime_grounded(value, text)
    candidates = {
        value,
        value.replace("_", " "),
        value.replace("_", "-"),
        *CURRENCY_NAMES.get(value, ()),
    }
    return any(normalize(c) in text for c in candidates if c)


def _bool_grounded(key: str, text: str) -> bool:
    # A boolean has no surface form of its own; require that the prompt talks about the field
    # (a word of its key, e.g. "stock" for in_stock). Weaker than the other checks, by nature.
    words = [w for w in key.casefold().split("_") if len(w) >= 4] or [key.casefold()]
    return any(w in text for w in words)


def leaves(value: Any, path: str = "") -> Iterable[tuple[str, str, Any]]:
    """(path, last key, leaf value) for every scalar in a JSON value."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield from leaves(v, f"{path}.{k}" if path else k)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from (
                (p, k if k != "" else path.rsplit(".", 1)[-1], x)
                for p, k, x in leaves(v, f"{path}[{i}]")
            )
    else:
        yield path, path.rsplit(".", 1)[-1].split("[")[0], value


def grounding_errors(prompt: str, expected: Any) -> list[str]:
    """Paths of expected leaves that the prompt does not state; empty when all are grounded."""
    text = normalize(prompt)
    numbers = prompt_numbers(prompt)
    errors = []
    for path, key, value in leaves(expected):
        if value is None:
            continue  # an explicit null asserts nothing that text could contradict
        if isinstance(value, bool):
            ok = _bool_grounded(key, text)
        elif isinstance(value, int | float):
            ok = _number_grounded(float(value), numbers)
        else:
            ok = _string_grounded(str(value), key, text)
        if not ok:
            errors.append(f"{path}={value!r} not found in prompt")
    return errors


# ----------------------------------------------------------------------------- derived fields
def _close(a: Any, b: float) -> bool:
    return isinstance(a, int | float) and abs(a - b) <= TOLERANCE


def _lines(obj: dict, key: str, qty: str, price: str, amount: str) -> list[str]:
    errors = []
    for i, line in enumerate(obj.get(key, [])):
        if amount in line and not _close(line[amount], line[qty] * line[price]):
            errors.append(
                f"{key}[{i}].{amount}={line[amount]} != {qty}*{price}={line[qty] * line[price]:.2f}"
            )
    return errors


def _eq(name: str, actual: Any, expected: float) -> list[str]:
    return [] if _close(actual, expected) else [f"{name}={actual} != {expected:.2f}"]


def _invoice(o: dict) -> list[str]:
    errors = _lines(o, "line_items", "quantity", "unit_price", "amount")
    errors += _eq("subtotal", o["subtotal"], sum(x["amount"] for x in o["line_items"]))
    if "tax_rate" in o:
        errors += _eq("tax", o["tax"], o["subtotal"] * o["tax_rate"])
    return errors + _eq("total", o["total"], o["subtotal"] + o["tax"])


def _cart(o: dict) -> list[str]:
    errors = _lines(o, "items", "quantity", "unit_price", "line_total")
    errors += _eq("subtotal", o["subtotal"], sum(x["line_total"] for x in o["items"]))
    return errors + _eq(
        "total", o["total"], o["subtotal"] - o.get("discount", 0) + o["shipping"] + o["tax"]
    )


def _order(o: dict) -> list[str]:
    return _eq("total", o["total"], o["quantity"] * o["unit_price"] + o.get("shipping_fee", 0))


def _multi_party(o: dict) -> list[str]:
    paid = sum(p["amount"] for p in o["parties"] if p["role"] == "payer")
    received = sum(p["amount"] for p in o["parties"] if p["role"] == "payee")
    fees = sum(f["amount"] for f in o.get("fees", []))
    return _eq("total_amount (payer)", o["total_amount"], paid) + _eq(
        "total_amount (payees + fees)", o["total_amount"], received + fees
    )


def _iot(o: dict) -> list[str]:
    online = sum(1 for d in o["devices"] if d["status"] == "online")
    return _eq("device_count", o["device_count"], len(o["devices"])) + _eq(
        "online_count", o["online_count"], online
    )


def _organization(o: dict) -> list[str]:
    errors = []
    for i, d in enumerate(o["departments"]):
        errors += _eq(
            f"departments[{i}].employees", d["employees"], sum(t["size"] for t in d["teams"])
        )
    return errors + _eq(
        "total_employees", o["total_employees"], sum(d["employees"] for d in o["departments"])
    )


def _event(o: dict) -> list[str]:
    tickets = sum(t["quantity"] * t["price"] for t in o["tickets"])
    return _eq("total", o["total"], tickets + o.get("service_fee", 0))


DERIVED_RULES: dict[str, Callable[[dict], list[str]]] = {
    "invoice": _invoice,
    "shopping_cart": _cart,
    "order_details": _order,
    "multi_party_transaction": _multi_party,
    "iot_device_network": _iot,
    "nested_organization": _organization,
    "event_registration": _event,
}


def derived_errors(schema_id: str, expected: dict) -> list[str]:
    rule = DERIVED_RULES.get(schema_id)
    if rule is None:
        return []
    try:
        return rule(expected)
    except (KeyError, TypeError) as err:  # schema-invalid records are reported by schema_valid
        return [f"cannot check derived fields: {type(err).__name__} {err}"]


# ----------------------------------------------------------------------------- per record
def _parses(expected: Any) -> list[str]:
    try:
        back = json.loads(json.dumps(expected, allow_nan=False))
    except (TypeError, ValueError) as err:
        return [f"not JSON-serialisable: {err}"]
    if back != expected:
        return ["changes on a JSON round trip"]
    floats = [v for _, _, v in leaves(expected) if isinstance(v, float) and not math.isfinite(v)]
    return [f"non-finite numbers: {floats}"] if floats else []


def _record_errors(record: Mapping[str, Any], schemas: Mapping[str, dict]) -> list[str]:
    errors = [f"missing key {k!r}" for k in REQUIRED_KEYS if k not in record]
    if errors:
        return errors
    if record["schema_id"] not in schemas:
        return [f"unknown schema {record['schema_id']!r}"]
    if not isinstance(record["prompt"], str) or not record["prompt"].strip():
        errors.append("prompt must be a non-empty string")
    if not isinstance(record["expected_output"], dict):
        errors.append("expected_output must be a JSON object")
    # Imported data may take its tier from a schema folder, so any tier name is accepted here;
    # generated data is tested to carry exactly tier_of(schema).
    if record.get("complexity", "simple") not in TIERS:
        errors.append(
            f"complexity must be one of {', '.join(TIERS)}, got {record.get('complexity')!r}"
        )
    return errors


def check_record(
    record: Mapping[str, Any],
    schemas: Mapping[str, dict],
    format_policy: FormatPolicy = "annotation",
) -> dict[str, list[str]]:
    """{check: [error, ...]} for one record (all lists empty = passes; `unique` is dataset-level)."""
    out: dict[str, list[str]] = {name: [] for name in CHECKS}
    out["record"] = _record_errors(record, schemas)
    if out["record"]:
        return out
    sid, expected = record["schema_id"], record["expected_output"]
    out["parses"] = _parses(expected)
    out["schema_valid"] = schema_errors(expected, schemas[sid], format_policy)
    if not out["schema_valid"]:
        out["derived"] = derived_errors(sid, expected)
    out["grounded"] = grounding_errors(record["prompt"], expected)
    return out


def validate_records(
    records: Iterable[Mapping[str, Any]],
    schemas: Mapping[str, dict],
    format_policy: FormatPolicy = "annotation",
) -> dict[str, Any]:
    """Run every check on every record; a summary with per-check counts and the failing examples
    (`failed`: their index in `records`, id and errors, in order)."""
    seen: dict[str, str] = {}
    counts = {name: 0 for name in CHECKS}
    failed: list[dict[str, Any]] = []
    n = 0
    for index, record in enumerate(records):
        n += 1
        result = check_record(record, schemas, format_policy)
        prompt = record.get("prompt")
        if isinstance(prompt, str):
            if prompt in seen:
                result["unique"] = [f"same prompt as {seen[prompt]}"]
            else:
                seen[prompt] = str(record.get("id"))
        bad = {k: v for k, v in result.items() if v}
        for k in bad:
            counts[k] += 1
        if bad:
            failed.append({"index": index, "id": record.get("id"), "errors": bad})
    checks = {
        name: {
            "failed": counts[name],
            "passed": n - counts[name],
            "pass_rate": (n - counts[name]) / n if n else 1.0,
        }
        for name in CHECKS
    }
    return {"n": n, "n_failed": len(failed), "checks": checks, "failed": failed}
