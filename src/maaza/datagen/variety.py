"""Free-text values of several sentences (issue 20): a model that saw only short values learns to
cut a review or a message after its first clause. With `long_text` variety a free-text field
(a plain string: no enum, format or pattern, and a key in FREE_TEXT_KEYS) that the text states
verbatim grows by 1-4 sentences, in the text and in the label alike.
"""

from __future__ import annotations

from typing import Any

from maaza.datagen.doc import Field, Items, Node, Obj
from maaza.datagen.values import Ctx

FREE_TEXT_KEYS = frozenset({"message", "comment", "description", "subject", "notes", "summary"})


def is_free_text(key: str, schema: dict[str, Any]) -> bool:
    return (
        key in FREE_TEXT_KEYS
        and schema.get("type") == "string"
        and not any(k in schema for k in ("enum", "const", "format", "pattern"))
    )


def extra_sentences(ctx: Ctx) -> str:
    """1-4 sentences of ordinary words (Faker's word list), without quotes or commas, so that every
    surface style (CSV cells, quoted log fields) can hold them unchanged."""
    return " ".join(
        ctx.fake.sentence(nb_words=ctx.rng.randint(4, 14)) for _ in range(ctx.rng.randint(1, 4))
    )


def lengthen_free_text(nodes: list[Node], schema: dict[str, Any], ctx: Ctx) -> None:
    """Grow free-text fields in place, each with chance `ctx.variety.long_text`."""
    props = schema.get("properties", {})
    for node in nodes:
        sub = props.get(node.key, {})
        if isinstance(node, Obj):
            lengthen_free_text(node.nodes, sub, ctx)
        elif isinstance(node, Items):
            for item in node.items:
                lengthen_free_text(item, sub.get("items", {}), ctx)
        elif (
            isinstance(node, Field)
            and isinstance(node.value, str)
            and node.text == node.value
            and is_free_text(node.key, sub)
            and ctx.often(ctx.variety.long_text)
        ):
            head = node.value.rstrip()
            closed = head.endswith((".", "!", "?"))
            grown = f"{head if closed else head + '.'} {extra_sentences(ctx)}"
            # a value that ended without a full stop still does (templates add their own: "{v}.")
            node.value = node.text = grown if closed else grown.removesuffix(".")
