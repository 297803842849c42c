"""A document before it becomes text: fields with their canonical value and their written form.

A builder returns a `Doc`; `expected_output(doc, schema)` gives the label (keys in the schema's
property order, omitted optional fields absent) and `render.render(doc, style, ctx)` gives the text.
Both come from the same nodes, so the label can only contain what the text states.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class Field:
    key: str
    value: Any  # canonical JSON value (scalar, or list of scalars)
    text: str | None  # as written in the prompt; None = stated elsewhere (e.g. a currency symbol)
    label: str  # human label, e.g. "due date"
    say: tuple[str, ...] = ()  # prose templates with {v}, e.g. "Payment is due {v}."


@dataclass
class Obj:
    key: str
    label: str
    nodes: list[Node]
    say: tuple[str, ...] = ()  # prose templates with {v} = the object written inline
    bare: bool = False  # written inline as its values only (an address), not "label value"
    line: tuple[str, ...] = ()  # one-line templates over its field texts, e.g. "{min} to {max}"


@dataclass
class Items:
    """An array of objects; `line` templates write one item on a line, e.g. "{quantity} x {description}"."""

    key: str
    label: str
    items: list[list[Node]]
    line: tuple[str, ...] = ()
    say: tuple[str, ...] = ()  # prose templates with {v} = the items joined


Node = Field | Obj | Items


@dataclass
class Doc:
    schema_id: str
    title: str  # e.g. "invoice INV-2041", used in headers and subjects
    nodes: list[Node]
    intro: tuple[str, ...] = ()  # opening sentences for prose / email
    log: tuple[str, ...] = ()  # one-line templates over top-level field texts, for the log style
    people: tuple[str, str] = ("", "")  # (sender, recipient) for email and chat


def F(key: str, value: Any, text: str | None, label: str, *say: str) -> Field:
    """Shorthand used by the builders."""
    return Field(key, value, text, label, tuple(say))


def expected_output(nodes: list[Node], schema: dict[str, Any]) -> dict[str, Any]:
    """The label for `nodes`: keys in the schema's property order (the training target order)."""
    by_key = {node.key: node for node in nodes}
    unknown = set(by_key) - set(schema.get("properties", {}))
    if unknown:
        raise KeyError(f"builder produced keys not in the schema: {sorted(unknown)}")
    out: dict[str, Any] = {}
    for key, sub in schema.get("properties", {}).items():
        node = by_key.get(key)
        if node is None:
            continue
        if isinstance(node, Field):
            out[key] = canonical(node.value)
        elif isinstance(node, Obj):
            out[key] = expected_output(node.nodes, sub)
        else:
            out[key] = [expected_output(item, sub["items"]) for item in node.items]
    return out


def canonical(value: Any) -> Any:
    """Whole floats as ints (85000.0 -> 85000): the form a model should write, and JSON-equal."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list):
        return [canonical(v) for v in value]
    return value


def texts(nodes: list[Node]) -> dict[str, str]:
    """{key: written text} of the scalar fields among `nodes` (for line templates)."""
    return {n.key: n.text for n in nodes if isinstance(n, Field) and n.text is not None}
