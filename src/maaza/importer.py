"""Import external data in the EdgeJSON JSONL form.

    from maaza.importer import import_edgejson
    records, schemas = import_edgejson("edgejson/test.jsonl", "edgejson/schemas")

One JSON object per line with `id`, `schema_id`, `prompt`, `expected_output` and optionally
`complexity` (and our `style`); any other key is ignored. Schemas are `<schema_id>.json` files in a
folder, possibly nested under `simple/ medium/ complex/`. A record without `complexity` takes its
schema's folder name, else the tier computed from the schema's shape (`maaza.schemas.tier_of`).
Bad input stops at the first problem with `file:line: what is wrong`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from maaza.schemas import TIERS, SchemaLoadError, folder_tiers, load_schemas, tier_of

REQUIRED = {"id": str, "schema_id": str, "prompt": str, "expected_output": dict}
JSON_TYPE = {str: "string", dict: "JSON object"}
KEPT = ("id", "schema_id", "complexity", "style", "prompt", "expected_output")


class EdgeJSONImportError(ValueError):
    """Malformed import data; the message is `file:line: what is wrong`."""


def parse_record(
    raw: str, where: str, schemas: dict[str, dict], tiers: dict[str, str]
) -> dict[str, Any]:
    """One JSONL line -> a record in our form (keys in KEPT order, complexity filled in)."""
    try:
        obj = json.loads(raw)
    except json.JSONDecodeError as err:
        raise EdgeJSONImportError(
            f"{where}: malformed JSON: {err.msg} (column {err.colno})"
        ) from None
    if not isinstance(obj, dict):
        raise EdgeJSONImportError(f"{where}: expected a JSON object, got {type(obj).__name__}")
    for key, kind in REQUIRED.items():
        if key not in obj:
            raise EdgeJSONImportError(f"{where}: missing key {key!r}")
        if not isinstance(obj[key], kind):
            got = type(obj[key]).__name__
            raise EdgeJSONImportError(f"{where}: {key!r} must be a {JSON_TYPE[kind]}, got {got}")
    sid = obj["schema_id"]
    if sid not in schemas:
        raise EdgeJSONImportError(
            f"{where}: unknown schema {sid!r} (known: {', '.join(sorted(schemas))})"
        )
    complexity = obj.get("complexity") or tiers.get(sid) or tier_of(schemas[sid])
    if complexity not in TIERS:
        raise EdgeJSONImportError(
            f"{where}: complexity must be one of {', '.join(TIERS)}, got {complexity!r}"
        )
    if "style" in obj and not isinstance(obj["style"], str):
        raise EdgeJSONImportError(f"{where}: 'style' must be a string")
    record = {**obj, "complexity": complexity}
    return {k: record[k] for k in KEPT if k in record}


def import_edgejson(
    jsonl_path: str | Path, schema_dir: str | Path
) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
    """Records (our form) and the schemas they use; raises EdgeJSONImportError on bad input."""
    path = Path(jsonl_path)
    try:
        schemas = load_schemas(schema_dir)
        tiers = folder_tiers(schema_dir)
    except SchemaLoadError as err:
        raise EdgeJSONImportError(str(err)) from None
    if not path.is_file():
        raise EdgeJSONImportError(f"{path}: file not found")
    records: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    with path.open(encoding="utf-8") as f:
        for lineno, line in enumerate(f, start=1):
            if not line.strip():
                continue
            where = f"{path}:{lineno}"
            record = parse_record(line.strip(), where, schemas, tiers)
            if record["id"] in seen:
                raise EdgeJSONImportError(
                    f"{where}: duplicate id {record['id']!r} (first on line {seen[record['id']]})"
                )
            seen[record["id"]] = lineno
            records.append(record)
    if not records:
        raise EdgeJSONImportError(f"{path}: no records")
    used = {r["schema_id"] for r in records}
    return records, {sid: s for sid, s in schemas.items() if sid in used}
