"""The 24 EdgeJSON-style JSON Schemas (draft-07) and their loader.

    from maaza.schemas import load_schemas, tier_of
    schemas = load_schemas()                 # {schema_id: schema}, from this package's folders
    tier_of(schemas["invoice"])              # 'complex', computed from the schema's shape

Files live in `simple/`, `medium/`, `complex/` sub-folders (or flat): `<schema_id>.json`. The folder
name is documentation; `tier_of` decides the tier from the shape, following the paper (Section 3.1):
simple = 2-4 flat fields; medium = 5-8 fields, at most one nesting level; complex = more fields,
two or more nesting levels, or arrays of objects.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from jsonschema import Draft7Validator
from jsonschema.exceptions import SchemaError

TIERS: tuple[str, ...] = ("simple", "medium", "complex")


class SchemaLoadError(ValueError):
    """A schema file that cannot be used; the message starts with the file path."""


def schema_dir() -> Path:
    """The package's own schema folder."""
    return Path(__file__).resolve().parent


def nesting_depth(schema: dict[str, Any]) -> int:
    """Container levels below the root object: a nested object or an array of scalars is 1,
    an array of objects is 2 (the array, then the object), and so on recursively."""
    depth = 0
    for sub in schema.get("properties", {}).values():
        depth = max(depth, _container_depth(sub))
    return depth


def _container_depth(sub: dict[str, Any]) -> int:
    kind = sub.get("type")
    if kind == "object":
        return 1 + nesting_depth(sub)
    if kind == "array":
        return 1 + _container_depth(sub.get("items", {}))
    return 0


def tier_of(schema: dict[str, Any]) -> str:
    """'simple' | 'medium' | 'complex' from the number of top-level fields and the nesting depth."""
    n_fields = len(schema.get("properties", {}))
    depth = nesting_depth(schema)
    if depth >= 2 or n_fields > 8:
        return "complex"
    if depth == 1 or n_fields > 4:
        return "medium"
    return "simple"


tier = tier_of  # the name docs/DESIGN.md uses


def load_schema_file(path: Path) -> dict[str, Any]:
    """Read and check one schema file (valid JSON, valid draft-07, an object schema)."""
    try:
        schema = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as err:
        raise SchemaLoadError(f"{path}: cannot read: {err}") from None
    except json.JSONDecodeError as err:
        raise SchemaLoadError(f"{path}:{err.lineno}: invalid JSON: {err.msg}") from None
    if not isinstance(schema, dict) or schema.get("type") != "object":
        raise SchemaLoadError(f"{path}: top level must be an object schema with type 'object'")
    try:
        Draft7Validator.check_schema(schema)
    except SchemaError as err:
        raise SchemaLoadError(f"{path}: not a valid draft-07 schema: {err.message}") from None
    return schema


def schema_files(directory: Path) -> dict[str, Path]:
    """{schema_id: path} for every `*.json` under `directory` (tier sub-folders allowed)."""
    found: dict[str, Path] = {}
    for path in sorted(directory.rglob("*.json")):
        if path.stem in found:
            raise SchemaLoadError(
                f"{path}: duplicate schema id {path.stem!r} (also {found[path.stem]})"
            )
        found[path.stem] = path
    return found


def load_schemas(dir: str | Path | None = None) -> dict[str, dict[str, Any]]:  # noqa: A002
    """{schema_id: schema} for every schema file in `dir` (default: the package's schemas)."""
    directory = Path(dir) if dir is not None else schema_dir()
    if not directory.is_dir():
        raise SchemaLoadError(f"{directory}: schema folder not found")
    return {sid: load_schema_file(path) for sid, path in schema_files(directory).items()}


def folder_tiers(dir: str | Path | None = None) -> dict[str, str]:
    """{schema_id: tier} for schemas that sit in a `simple/ medium/ complex/` folder."""
    directory = Path(dir) if dir is not None else schema_dir()
    return {
        sid: path.parent.name
        for sid, path in schema_files(directory).items()
        if path.parent.name in TIERS and path.parent != directory
    }
