"""EdgeJSON import: reads the hand-written fixture, stops on broken input with file:line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from maaza.importer import EdgeJSONImportError, import_edgejson
from maaza.validate import validate_records

FIXTURE = Path(__file__).parent / "fixtures" / "edgejson"
SCHEMAS = FIXTURE / "schemas"


def test_reads_the_fixture():
    records, schemas = import_edgejson(FIXTURE / "data.jsonl", SCHEMAS)
    assert [r["id"] for r in records] == ["cc-1", "cc-2", "pa-1", "po-1", "rm-1"]
    tiers = {r["id"]: r["complexity"] for r in records}
    # given / from the simple/ folder / from medium/ / from complex/ / computed from shape (root file)
    assert tiers == {
        "cc-1": "simple",
        "cc-2": "simple",
        "pa-1": "medium",
        "po-1": "complex",
        "rm-1": "simple",
    }
    assert set(schemas) == {"contact_card", "parcel", "purchase_order", "reminder"}
    assert "source" not in records[1] and "notes" not in records[1]  # unknown keys dropped
    assert records[3]["style"] == "kv"  # our optional key kept
    assert list(records[0]) == ["id", "schema_id", "complexity", "prompt", "expected_output"]
    assert validate_records(records, schemas)["n_failed"] == 0


@pytest.mark.parametrize(
    ("name", "line", "message"),
    [
        ("malformed.jsonl", "2:96", "invalid JSON"),
        ("missing_key.jsonl", 2, "missing key 'prompt'"),
        ("unknown_schema.jsonl", 3, "unknown schema 'weather'"),
        ("bad_complexity.jsonl", 1, "complexity must be one of simple, medium, complex"),
        ("output_not_object.jsonl", 1, "'expected_output' must be a JSON object"),
        ("duplicate_id.jsonl", 2, "duplicate id 'cc-1'"),
    ],
)
def test_broken_files_stop_with_file_and_line(name, line, message):
    path = FIXTURE / "broken" / name
    with pytest.raises(EdgeJSONImportError) as err:
        import_edgejson(path, SCHEMAS)
    assert str(err.value).startswith(f"{path}:{line}: {message}")


def test_ungrounded_record_imports_but_fails_validation():
    records, schemas = import_edgejson(FIXTURE / "broken" / "ungrounded.jsonl", SCHEMAS)
    summary = validate_records(records, schemas)
    assert summary["checks"]["grounded"]["failed"] == 1


def test_missing_inputs(tmp_path):
    with pytest.raises(EdgeJSONImportError, match="file not found"):
        import_edgejson(tmp_path / "none.jsonl", SCHEMAS)
    with pytest.raises(EdgeJSONImportError, match="schema folder not found"):
        import_edgejson(FIXTURE / "data.jsonl", tmp_path / "none")
    (tmp_path / "empty.jsonl").write_text("\n")
    with pytest.raises(EdgeJSONImportError, match="no records"):
        import_edgejson(tmp_path / "empty.jsonl", SCHEMAS)
