"""External data: import a labelled file with a policy for records that fail a data check.

    maaza data-import edgejson/train.jsonl --schemas edgejson/schemas --out x.jsonl --on-invalid drop
    result = import_checked("edgejson/train.jsonl", "edgejson/schemas", on_invalid="drop")
    write_import(result, "x.jsonl")            # x.jsonl + x.report.json, each atomically

Bad input (not JSON, a missing key, an unknown schema) stops with `file:line` (maaza.importer).
Label noise -- a record that fails a check of maaza.validate (schema, derived totals, grounding,
duplicates) under the one `format_policy` -- is the policy's to decide (`on_invalid`): `fail`
refuses the file, `drop` leaves the record out, `keep` keeps it with its failing checks under
FAILED_KEY. The report counts each check and quotes the first failures with `file:line`.
The `data_external` stage runs this on the `external:` dataset of params.yaml.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from maaza import io
from maaza.config import FormatPolicy, OnInvalid
from maaza.importer import KEPT, our_form, read_rows, used_schemas
from maaza.validate import CHECKS, validate_records

FAILED_KEY = "failed_checks"  # on_invalid=keep: {check: [error, ...]} of a record that fails
FIRST_FAILURES = 5  # failures quoted per check in the report


@dataclass(frozen=True)
class Imported:
    records: list[dict[str, Any]]  # what the policy lets through (keep: failures marked)
    schemas: dict[str, dict[str, Any]]  # the schemas those records use
    report: dict[str, Any]  # per-check counts, the first failures with file:line

    @property
    def refused(self) -> bool:
        """on_invalid=fail and some record failed a check: nothing may be written."""
        return self.report["on_invalid"] == "fail" and self.report["n_failed"] > 0


def import_checked(
    jsonl_path: str | Path,
    schema_dir: str | Path,
    on_invalid: OnInvalid = "fail",
    format_policy: FormatPolicy = "annotation",
) -> Imported:
    """Import a file and run every data check (maaza.validate, under `format_policy`); apply
    `on_invalid` to the records that fail one. Bad input raises EdgeJSONImportError; failing
    checks never raise (see Imported.refused)."""
    rows, schemas = read_rows(jsonl_path, schema_dir)
    records = our_form(rows, schemas, schema_dir)
    summary = validate_records(records, schemas, format_policy)
    failed = {f["index"]: f["errors"] for f in summary["failed"]}
    first: dict[str, list[dict[str, Any]]] = {name: [] for name in CHECKS}
    for index, errors in failed.items():
        for check, messages in errors.items():
            if len(first[check]) < FIRST_FAILURES:
                where = f"{jsonl_path}:{rows[index][0]}"
                first[check].append(
                    {"where": where, "id": records[index]["id"], "errors": messages}
                )
    if on_invalid == "drop":
        out = [r for i, r in enumerate(records) if i not in failed]
    elif on_invalid == "keep":
        out = [{**r, FAILED_KEY: failed[i]} if i in failed else r for i, r in enumerate(records)]
    else:
        out = [] if failed else records
    ignored = Counter(k for _, r in rows for k in r if k not in KEPT)
    report = {
        "source": str(jsonl_path),
        "schemas": str(schema_dir),
        "on_invalid": on_invalid,
        "format_policy": format_policy,
        "n": summary["n"],
        "n_failed": summary["n_failed"],
        "n_out": len(out),
        "checks": summary["checks"],
        "first_failures": {k: v for k, v in first.items() if v},
        "ignored_keys": dict(sorted(ignored.items())),
    }
    return Imported(out, used_schemas(out, schemas), report)


def report_path(out: str | Path) -> Path:
    """Where an import's report goes: next to its output, `<stem>.report.json`."""
    out = Path(out)
    return out.with_name(f"{out.stem}.report.json")


def write_import(result: Imported, out: str | Path) -> None:
    """The report next to `out` (always: it says what failed), then the records, unless the policy
    refused them. Each file is written atomically; a refused import leaves `out` as it was."""
    io.write_json(report_path(out), result.report)
    if not result.refused:
        io.write_jsonl(out, result.records)


class ExternalDataError(io.InputError):
    """An import the policy refuses (on_invalid=fail and a record failed a check)."""


def refusal(result: Imported) -> str:
    """One line: how many records failed which check, and the first failure's file:line."""
    counts = ", ".join(
        f"{k} {c['failed']}" for k, c in result.report["checks"].items() if c["failed"]
    )
    first = next(iter(result.report["first_failures"].values()))[0]
    return (
        f"{result.report['n_failed']} of {result.report['n']} records of "
        f"{result.report['source']} failed a check ({counts}); first: {first['where']}: "
        f"{first['errors'][0]} (on_invalid: fail; drop or keep them instead)"
    )


def write_external(out_dir: str | Path, splits: dict[str, Imported]) -> None:
    """`<split>.jsonl` and `<split>.report.json` per split, and schemas/<schema_id>.json of the
    schemas any split uses, as one folder written atomically; nothing if the policy refuses one."""
    for result in splits.values():
        if result.refused:
            raise ExternalDataError(refusal(result))
    schemas = {sid: s for r in splits.values() for sid, s in r.schemas.items()}

    def build(tmp: Path) -> None:
        for split, result in splits.items():
            io.write_jsonl(tmp / f"{split}.jsonl", result.records)
            io.write_json(tmp / f"{split}.report.json", result.report)
        for sid, schema in sorted(schemas.items()):
            io.write_json(tmp / "schemas" / f"{sid}.json", schema)

    io.write_dir(out_dir, build)
