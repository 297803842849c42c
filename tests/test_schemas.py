"""The 24 schemas: valid draft-07, documented, tiers from shape agree with their folders."""

from __future__ import annotations

import json

import pytest
from jsonschema import Draft7Validator

from maaza.schemas import (
    SchemaLoadError,
    folder_tiers,
    load_schemas,
    nesting_depth,
    schema_dir,
    tier_of,
)

PAPER_SCHEMAS = {
    "sensor_reading", "iot_device_network", "log_entry", "shopping_cart", "order_details", "invoice",
    "product_info", "support_ticket", "meeting_notes", "user_profile", "notification", "medical_record",
    "medical_encounter", "transaction_record", "multi_party_transaction", "contact_info", "simple_config",
    "location", "rating", "nested_organization",
}  # fmt: skip
HOLDOUT = {"weather_observation", "flight_booking", "event_registration"}


@pytest.fixture(scope="module")
def schemas():
    return load_schemas()


def test_24_schemas_with_the_paper_names(schemas):
    assert len(schemas) == 24
    assert set(schemas) >= PAPER_SCHEMAS | HOLDOUT


def test_schemas_are_valid_and_documented(schemas):
    for sid, s in schemas.items():
        Draft7Validator.check_schema(s)
        assert s["title"] and s["description"], sid
        assert set(s["required"]) <= set(s["properties"]), sid
        assert all("description" in p for p in s["properties"].values()), sid


def test_folder_tier_matches_shape(schemas):
    folders = folder_tiers()
    assert set(folders) == set(schemas)
    for sid, s in schemas.items():
        assert tier_of(s) == folders[sid], sid
    assert {t: sum(v == t for v in folders.values()) for t in ("simple", "medium", "complex")} == {
        "simple": 8, "medium": 9, "complex": 7,
    }  # fmt: skip


def test_tier_rules():
    def flat(n):
        return {
            "type": "object",
            "properties": {f"f{i}": {"type": "string"} for i in range(n)},
        }

    assert tier_of(flat(2)) == "simple"
    assert tier_of(flat(4)) == "simple"
    assert tier_of(flat(5)) == "medium"
    assert tier_of(flat(9)) == "complex"
    nested = flat(3)
    nested["properties"]["addr"] = {"type": "object", "properties": {"city": {"type": "string"}}}
    assert (nesting_depth(nested), tier_of(nested)) == (1, "medium")
    tags = flat(2)
    tags["properties"]["tags"] = {"type": "array", "items": {"type": "string"}}
    assert tier_of(tags) == "medium"
    lines = flat(2)
    lines["properties"]["lines"] = {
        "type": "array",
        "items": {"type": "object", "properties": {"q": {"type": "integer"}}},
    }
    assert (nesting_depth(lines), tier_of(lines)) == (2, "complex")


def test_load_flat_and_nested_folders(tmp_path):
    schema = {"type": "object", "properties": {"a": {"type": "string"}}}
    (tmp_path / "medium").mkdir()
    (tmp_path / "medium" / "x.json").write_text(json.dumps(schema))
    (tmp_path / "y.json").write_text(json.dumps(schema))
    assert set(load_schemas(tmp_path)) == {"x", "y"}
    assert folder_tiers(tmp_path) == {"x": "medium"}  # y sits at the root: no folder tier


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"a.json": "{\n  nope"}, "a.json:2: invalid JSON"),
        ({"a.json": '{"type": "array"}'}, "must be an object schema"),
        ({"a.json": '{"type": "object", "required": 3}'}, "not a valid draft-07 schema"),
        (
            {"a.json": '{"type": "object"}', "simple/a.json": '{"type": "object"}'},
            "duplicate schema id 'a'",
        ),
    ],
)
def test_bad_schema_files_name_the_file(tmp_path, files, message):
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    with pytest.raises(SchemaLoadError, match=message.replace("(", r"\(")):
        load_schemas(tmp_path)


def test_missing_folder():
    with pytest.raises(SchemaLoadError, match="not found"):
        load_schemas(schema_dir() / "nope")
