"""Prompt formats shared by training, evaluation and extraction.

    build_prompt(text, schema, "paper")       # Section 4.2.3 of the paper: full JSON Schema inline
    build_prompt(text, schema, "model_card")  # the model card's template: no schema at all
    build_prompt(text, schema, "compact")     # ours: the schema as a one-line type sketch

The model is trained on `build_prompt(...) + render_target(expected) + eos`; at inference the
prompt alone is fed and the JSON is read back. `render_target` fixes key order and separators so
that training targets and grammar-constrained decoding agree byte for byte.
"""

from __future__ import annotations

import json
from typing import Any, get_args

from maaza.config import PromptFormat

PROMPT_FORMATS: tuple[str, ...] = get_args(PromptFormat)
# json.dumps' own defaults with indent=None; decode.py hands the same pair to the grammar engine.
JSON_SEPARATORS: tuple[str, str] = (", ", ": ")


def render_target(obj: Any) -> str:
    """The exact text a model should emit for `obj` (one line, schema key order kept)."""
    return json.dumps(obj, ensure_ascii=False, separators=JSON_SEPARATORS)


def _type_sketch(schema: dict[str, Any]) -> str:
    """TypeScript-like sketch of a JSON Schema: far fewer tokens than the schema itself."""
    if "enum" in schema:
        return "|".join(json.dumps(v, ensure_ascii=False) for v in schema["enum"])
    kind = schema.get("type", "any")
    if isinstance(kind, list):  # e.g. ["string", "null"]
        return "|".join(kind)
    if kind == "object":
        required = set(schema.get("required", []))
        fields = [
            f"{name}{'' if name in required else '?'}: {_type_sketch(sub)}"
            for name, sub in schema.get("properties", {}).items()
        ]
        return "{" + ", ".join(fields) + "}"
    if kind == "array":
        return "[" + _type_sketch(schema.get("items", {})) + "]"
    if "format" in schema:
        return f"{kind}({schema['format']})"
    return str(kind)


def render_schema(schema: dict[str, Any], fmt: PromptFormat) -> str:
    if fmt == "paper":
        return json.dumps(schema, ensure_ascii=False, indent=2)
    if fmt == "compact":
        return _type_sketch(schema)
    return ""


def build_prompt(text: str, schema: dict[str, Any], fmt: PromptFormat) -> str:
    """The model input for one example; ends where the JSON answer should begin."""
    if fmt == "paper":
        return (
            "### Instruction:\nExtract the following information as JSON matching this schema:\n"
            f"{render_schema(schema, 'paper')}\n\n### Input:\n{text}\n\n### Response:\n"
        )
    if fmt == "model_card":
        return f"Extract the structured JSON data from the following text.\n\nInput: {text}\n\nOutput:\n"
    if fmt == "compact":
        title = schema.get("title", "record")
        return (
            f"### Extract {title} as JSON.\n### Schema: {render_schema(schema, 'compact')}\n"
            f"### Text:\n{text}\n### JSON:\n"
        )
    raise ValueError(f"unknown prompt format {fmt!r} (allowed: {', '.join(PROMPT_FORMATS)})")
