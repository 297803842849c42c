"""Copy spans: keep free-text string values to verbatim spans of the input (constrained decoding,
`evaluate.decode.copy_spans`).

    tracker = SpanRow(schema, text)      # one per batch row
    tracker.feed('{"name": "Da')         # the row's generated text so far, piece by piece
    tracker.allows('na W')               # would this token keep the open value a span of `text`?

A string value is *free text* when its schema is a plain string (no enum, const, format or
pattern): a name, a city, a comment. While the model writes one, a token is allowed only if the
value so far plus the token's characters (up to a closing quote) is still a substring of the input
(compared in JSON-escaped form, as the answer is written), or closes the value there. Keys, enums,
dates and numbers are left to the grammar. The check is per row and per step on the highest-
scoring tokens only (greedy decoding takes the best token the grammar and the span both allow), so
it costs a few string searches per step, not a pass over the vocabulary. On hand-written unseen
schemas the adapter garbles rare words it should copy ("Trek" -> "Trip_Up"); this rules that out.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

_PLAIN_STRING_BLOCKERS = ("enum", "const", "format", "pattern")


def is_free_text(schema: dict[str, Any] | None) -> bool:
    """A plain string schema (nullable allowed): copied from the text rather than chosen."""
    if not isinstance(schema, dict) or any(k in schema for k in _PLAIN_STRING_BLOCKERS):
        return False
    kind = schema.get("type")
    kinds = kind if isinstance(kind, list) else [kind]
    return "string" in kinds and not (set(kinds) - {"string", "null"})


def _child(schema: dict[str, Any] | None, key: str | None) -> dict[str, Any] | None:
    """The subschema of an object property (key) or of an array's items (key None)."""
    if not isinstance(schema, dict):
        return None
    if key is None:
        items = schema.get("items")
        return items if isinstance(items, dict) else None
    props = schema.get("properties", {})
    return props.get(key) if isinstance(props, dict) else None


@dataclass
class _Frame:
    kind: str  # "object" | "array"
    schema: dict[str, Any] | None
    key: str | None = None  # object: the key whose value comes next


@dataclass
class SpanRow:
    """Tracks one row's JSON (where it is, which schema node) and its open free-text value."""

    schema: dict[str, Any]
    text: str
    source: str = field(init=False)  # the input as it reads inside a JSON string
    stack: list[_Frame] = field(default_factory=list)
    in_string: bool = False
    escaped: bool = False
    string_is_key: bool = False
    buf: str = ""  # the open string's characters so far (JSON-escaped form)
    copying: bool = False  # the open string is a free-text value

    def __post_init__(self) -> None:
        self.source = json.dumps(self.text, ensure_ascii=False)[1:-1]

    def _value_schema(self) -> dict[str, Any] | None:
        if not self.stack:
            return self.schema
        top = self.stack[-1]
        return _child(top.schema, top.key if top.kind == "object" else None)

    def feed(self, piece: str) -> None:
        for ch in piece:
            self._char(ch)

    def _char(self, ch: str) -> None:
        if self.in_string:
            if self.escaped:
                self.escaped = False
                self.buf += ch
            elif ch == "\\":
                self.escaped = True
                self.buf += ch
            elif ch == '"':
                self._close_string()
            else:
                self.buf += ch
            return
        if ch == '"':
            top = self.stack[-1] if self.stack else None
            self.string_is_key = top is not None and top.kind == "object" and top.key is None
            self.copying = not self.string_is_key and is_free_text(self._value_schema())
            self.in_string, self.buf = True, ""
        elif ch in "{[":
            kind = "object" if ch == "{" else "array"
            self.stack.append(_Frame(kind, self._value_schema()))
        elif ch in "}]" and self.stack:
            self.stack.pop()  # the parent object's key stays set until its ','
        elif ch == "," and self.stack and self.stack[-1].kind == "object":
            self.stack[-1].key = None

    def _close_string(self) -> None:
        self.in_string, self.copying = False, False
        if self.string_is_key and self.stack:
            self.stack[-1].key = json.loads(f'"{self.buf}"')
        self.buf = ""

    def allows(self, piece: str) -> bool:
        """Whether emitting `piece` keeps the open free-text value a span of the input (always
        true outside such a value)."""
        if not self.copying:
            return True
        content, escaped = [], self.escaped
        for ch in piece:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':  # the value closes here: what it holds must be a span
                return self.buf + "".join(content) in self.source
            content.append(ch)
        return self.buf + "".join(content) in self.source
