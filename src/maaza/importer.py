"""Import external data in the EdgeJSON JSONL form.

    from maaza.importer import import_edgejson
    records, schemas = import_edgejson("edgejson/test.jsonl", "edgejson/schemas")

One JSON object per line with `id`, `schema_id`, `prompt`, `expected_output` and optionally
`complexity` (and our `style`); any other key is ignored. Schemas are `<schema_id>.json` files in a
folder, possibly nested under `simple/ medium/ complex/`. A record without `complexity` takes its
schema's folder name, else the tier computed from the schema's shape (`maaza.schemas.tier_of`).
Bad input (not JSON, a missing key, an unknown schema) stops at the first problem with
`file:line: what is wrong`. Label noise (records that fail a data check) is maaza.external's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from maaza import io
from maaza.schemas import TIERS, SchemaLoadError, folder_tiers, load_schemas, schema_files, tier_of

KEPT = ("id", "schema_id", "complexity", "style", "prompt", "expected_output")


class EdgeJSONImportError(io.InputError):
    """Malformed import data; the message is `file:line: what is wrong`."""


def _resolve_pointer(schema: dict[str, Any], ref: str) -> bool:
    """Does a local `#/a/b` reference point at something in `schema`?"""
    node: Any = schema
    for part in ref[1:].split("/")[1:] if ref != "#" else []:
        part = part.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return False
    return True


def ref_problems(schema: Any) -> list[str]:
    """`$ref`s jsonschema could not resolve offline: non-local ones and local pointers to nothing
    (scoring would stop on them with a RefResolutionError traceback)."""
    problems, stack = [], [(schema, "")]
    while stack:
        node, at = stack.pop()
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str):
                if not ref.startswith("#"):
                    problems.append(f"{at or '/'}: $ref {ref!r} points outside this schema")
                elif not _resolve_pointer(schema, ref):
                    problems.append(f"{at or '/'}: $ref {ref!r} does not resolve")
            stack.extend((v, f"{at}/{k}") for k, v in node.items() if k not in ("enum", "const"))
        elif isinstance(node, list):
            stack.extend((v, f"{at}/{i}") for i, v in enumerate(node))
    return sorted(problems)


def check_schemas(schemas: dict[str, dict[str, Any]], schema_dir: str | Path) -> None:
    """Every schema's `$ref`s resolve (EdgeJSONImportError naming the file and the pointer)."""
    files = schema_files(Path(schema_dir))
    for sid, schema in schemas.items():
        problems = ref_problems(schema)
        if problems:
            raise EdgeJSONImportError(f"{files.get(sid, sid)}: {'; '.join(problems)}")


def read_rows(
    jsonl_path: str | Path, schema_dir: str | Path | None, require_id: bool = True
) -> tuple[list[tuple[int, dict[str, Any]]], dict[str, dict[str, Any]]]:
    """(line, record) of every line, checked by maaza.io.read_examples, and every schema."""
    try:
        schemas = load_schemas(schema_dir)
        check_schemas(schemas, schema_dir or Path(__file__).parent / "schemas")
        rows = io.read_examples(jsonl_path, schemas, require_id=require_id, tiers=TIERS)
    except (SchemaLoadError, io.InputError) as err:
        raise EdgeJSONImportError(str(err)) from None
    return rows, schemas


def read_examples(
    jsonl_path: str | Path, schema_dir: str | Path | None = None, *, require_id: bool = True
) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
    """Records of any example file (training, evaluation or import data), checked line by line
    with maaza.io.read_examples against the schemas of `schema_dir` (default: the package's),
    and those schemas (all of them). EdgeJSONImportError (an io.InputError) on any problem."""
    rows, schemas = read_rows(jsonl_path, schema_dir, require_id)
    return [record for _, record in rows], schemas


def our_form(
    rows: list[tuple[int, dict[str, Any]]], schemas: dict[str, dict[str, Any]], schema_dir: Any
) -> list[dict[str, Any]]:
    """Keys in KEPT order, complexity filled in (given, else the schema's folder, else its shape)."""
    try:
        tiers = folder_tiers(schema_dir)
    except SchemaLoadError as err:
        raise EdgeJSONImportError(str(err)) from None
    out = []
    for _, r in rows:
        sid = r["schema_id"]
        record = {**r, "complexity": r.get("complexity") or tiers.get(sid) or tier_of(schemas[sid])}
        out.append({k: record[k] for k in KEPT if k in record})
    return out


def used_schemas(
    records: list[dict[str, Any]], schemas: dict[str, Any]
) -> dict[str, dict[str, Any]]:
    used = {r["schema_id"] for r in records}
    return {sid: s for sid, s in schemas.items() if sid in used}


def import_edgejson(
    jsonl_path: str | Path, schema_dir: str | Path
) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
    """Records (our form: keys in KEPT order, complexity filled in) and the schemas they use;
    raises EdgeJSONImportError on bad input."""
    rows, schemas = read_rows(jsonl_path, schema_dir)
    records = our_form(rows, schemas, schema_dir)
    return records, used_schemas(records, schemas)
