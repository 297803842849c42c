"""Seeded EdgeJSON-style example generator.

    from maaza.datagen import generate
    records = generate({"invoice": 10, "rating": 5}, seed=42)   # list of record dicts

One seed gives byte-identical records. Each schema draws from its own stream
(`random.Random("maaza-data:<seed>:<schema_id>")` plus a Faker seeded from it), so asking for more
examples of one schema never changes another's. A record is
{id, schema_id, complexity, style, prompt, expected_output}; see docs/DESIGN.md.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from faker import Faker

from maaza.datagen import complex as complex_builders
from maaza.datagen import medium as medium_builders
from maaza.datagen import simple as simple_builders
from maaza.datagen.doc import Doc, Items, expected_output
from maaza.datagen.render import STYLES, TIER_STYLES, render
from maaza.datagen.values import NO_VARIETY, Ctx, Variety, new_ctx
from maaza.datagen.variety import lengthen_free_text
from maaza.schemas import load_schemas, tier_of

__all__ = ["BUILDERS", "STYLES", "allocate", "generate", "generate_schema", "make_record"]

BUILDERS: dict[str, Callable[[Ctx], Doc]] = {
    **simple_builders.BUILDERS,
    **medium_builders.BUILDERS,
    **complex_builders.BUILDERS,
}
# Share of examples per tier, from the paper's test set (76 / 57 / 25 of 158).
PAPER_TIER_MIX: dict[str, float] = {"simple": 0.48, "medium": 0.36, "complex": 0.16}
MAX_TRIES_PER_EXAMPLE = 50  # redraws allowed when a prompt repeats before giving up


def _largest_remainder(total: int, weights: Mapping[str, float]) -> dict[str, int]:
    """Split `total` into integers proportional to `weights` (ties broken by key order)."""
    norm = sum(weights.values())
    quotas = {k: total * w / norm for k, w in weights.items()}
    out = {k: int(q) for k, q in quotas.items()}
    by_remainder = sorted(quotas, key=lambda k: (-(quotas[k] - out[k]), k))
    for k in by_remainder[: total - sum(out.values())]:
        out[k] += 1
    return out


def allocate(
    n: int, tiers: Mapping[str, str], tier_mix: Mapping[str, float] = PAPER_TIER_MIX
) -> dict[str, int]:
    """Examples per schema: `n` split over tiers by `tier_mix`, then evenly over each tier's schemas."""
    present = {t: w for t, w in tier_mix.items() if any(v == t for v in tiers.values())}
    per_tier = _largest_remainder(n, present)
    counts: dict[str, int] = {}
    for tier, total in per_tier.items():
        members = sorted(s for s, t in tiers.items() if t == tier)
        counts.update(_largest_remainder(total, dict.fromkeys(members, 1.0)))
    return dict(sorted(counts.items()))


def styles_for(doc: Doc, tier: str) -> tuple[str, ...]:
    """Surface styles that can hold this document (a log or CSV line cannot hold arrays of objects)."""
    has_items = any(isinstance(node, Items) for node in doc.nodes)
    return tuple(s for s in TIER_STYLES[tier] if not (has_items and s in ("log", "csv")))


def make_record(
    schema_id: str, schema: dict[str, Any], index: int, ctx: Ctx, distractor_rate: float
) -> dict[str, Any]:
    """Build, render and label one example."""
    tier = tier_of(schema)
    doc = BUILDERS[schema_id](ctx)
    lengthen_free_text(doc.nodes, schema, ctx)
    style = ctx.pick(styles_for(doc, tier))
    return {
        "id": f"{schema_id}-{index:04d}",
        "schema_id": schema_id,
        "complexity": tier,
        "style": style,
        "prompt": render(doc, style, ctx, distractor_rate),
        "expected_output": expected_output(doc.nodes, schema),
    }


def generate_schema(
    schema_id: str,
    schema: dict[str, Any],
    n: int,
    seed: int | str,
    drop_rate: float = 0.3,
    distractor_rate: float = 0.3,
    fake: Faker | None = None,
    name_fakes: Sequence[Faker] = (),
    variety: Variety = NO_VARIETY,
) -> list[dict[str, Any]]:
    """`n` examples of one schema with distinct prompts, from the schema's own seeded stream.
    `name_fakes` (Fakers of other locales) widen the pool of people's names; without them the
    stream draws exactly what it always drew."""
    if schema_id not in BUILDERS:
        raise KeyError(
            f"no generator for schema {schema_id!r}; known: {', '.join(sorted(BUILDERS))}"
        )
    rng = random.Random(f"maaza-data:{seed}:{schema_id}")
    fake = fake or Faker("en_US")
    fake.seed_instance(rng.getrandbits(64))
    for name_fake in name_fakes:
        name_fake.seed_instance(rng.getrandbits(64))
    pool = tuple(name_fakes)
    records: list[dict[str, Any]] = []
    seen: set[str] = set()
    for _ in range(n * MAX_TRIES_PER_EXAMPLE):
        if len(records) == n:
            break
        record = make_record(
            schema_id,
            schema,
            len(records),
            new_ctx(rng, fake, drop_rate, pool, variety),
            distractor_rate,
        )
        if record["prompt"] not in seen:
            seen.add(record["prompt"])
            records.append(record)
    if len(records) < n:
        raise RuntimeError(
            f"{schema_id}: only {len(records)} distinct prompts after many tries (asked {n})"
        )
    return records


def generate(
    counts: Mapping[str, int],
    seed: int | str,
    drop_rate: float = 0.3,
    distractor_rate: float = 0.3,
    schemas: Mapping[str, dict[str, Any]] | None = None,
    progress: bool = False,
    name_locales: Sequence[str] = (),
    variety: Variety = NO_VARIETY,
) -> list[dict[str, Any]]:
    """Records for every schema in `counts` ({schema_id: n}), in schema-id order; people's names
    come from the Faker locales `name_locales` (default: en_US, like everything else)."""
    schemas = schemas or load_schemas()
    fake = Faker("en_US")  # one instance, re-seeded per schema (creating one costs ~50 ms)
    name_fakes = [Faker(locale) for locale in name_locales]
    ids = sorted(counts)
    if progress:
        from tqdm.auto import tqdm

        ids = tqdm(ids, desc="generate", unit="schema")
    out: list[dict[str, Any]] = []
    for sid in ids:
        out += generate_schema(
            sid,
            schemas[sid],
            counts[sid],
            seed,
            drop_rate,
            distractor_rate,
            fake,
            name_fakes,
            variety,
        )
    return out
