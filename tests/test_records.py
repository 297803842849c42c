"""One checked reader for every example file (maaza.io.read_examples), tested once here, and each
command that reads JSONL (train, eval, data-import, extract --input) failing on a bad line with a
one-line `file:line` error and exit 1, never a traceback (issue 17)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from maaza.cli import app
from maaza.io import InputError, read_examples

ROOT = Path(__file__).resolve().parents[1]
TRAIN_PARAMS = ROOT / "tests" / "fixtures" / "train" / "params.yaml"
GOOD = {"id": "a-1", "schema_id": "contact_info", "prompt": "Ana, ana@x.org",
        "expected_output": {"name": "Ana"}}  # fmt: skip
SCHEMA_IDS = {"contact_info", "invoice"}


def _file(tmp_path: Path, *lines: str | bytes) -> Path:
    path = tmp_path / "data.jsonl"
    good = json.dumps(GOOD).encode() + b"\n"
    path.write_bytes(good + b"".join(x if isinstance(x, bytes) else x.encode() for x in lines))
    return path


BAD_LINES = {
    "a number": ("42\n", "2: expected a JSON object, got a number"),
    "a string": ('"Ana, ana@x.org"\n', "2: expected a JSON object, got a string"),
    "an array": ("[1, 2]\n", "2: expected a JSON object, got an array"),
    "prompt a number": (json.dumps({**GOOD, "id": "b", "prompt": 123}) + "\n",
                        "2: 'prompt' must be a string, got a number"),
    "output a string": (json.dumps({**GOOD, "id": "b", "expected_output": "{}"}) + "\n",
                        "2: 'expected_output' must be a JSON object, got a string"),
    "id a number": (json.dumps({**GOOD, "id": 7}) + "\n", "2: 'id' must be a string"),
    "empty prompt": (json.dumps({**GOOD, "id": "b", "prompt": " "}) + "\n", "2: 'prompt' is empty"),
    "missing keys": ('{"id": "b", "schema_id": "invoice"}\n',
                     "2: missing keys 'prompt', 'expected_output'"),
    "unknown schema": (json.dumps({**GOOD, "id": "b", "schema_id": "weather"}) + "\n",
                       "2: unknown schema 'weather' (known: contact_info, invoice)"),
    "duplicate id": (json.dumps(GOOD) + "\n", "2: duplicate id 'a-1' (first on line 1)"),
    "bad json": ('{"id": "b",\n', "2:12: invalid JSON"),
    "not utf-8": (b'{"id": "caf\xe9"}\n', "2: not UTF-8"),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(BAD_LINES))
def test_checked_reader_names_file_and_line(tmp_path, case):
    line, message = BAD_LINES[case]
    path = _file(tmp_path, line)
    with pytest.raises(InputError) as err:
        read_examples(path, SCHEMA_IDS)
    assert str(err.value).startswith(f"{path}:{message}"), str(err.value)
    assert "\n" not in str(err.value)


def test_checked_reader_keeps_good_records_and_optional_keys(tmp_path):
    second = {**GOOD, "id": "b", "complexity": "simple", "style": "csv", "extra": 1}
    path = _file(tmp_path, "\n", json.dumps(second) + "\n")
    assert read_examples(path, SCHEMA_IDS) == [(1, GOOD), (3, second)]
    no_id = {k: v for k, v in GOOD.items() if k != "id"}
    path.write_text(json.dumps(no_id) + "\n")
    assert read_examples(path, require_id=False) == [(1, no_id)]  # training data may lack ids
    with pytest.raises(InputError, match="missing key 'id'"):
        read_examples(path)
    with pytest.raises(InputError, match="complexity must be one of simple, medium"):
        path.write_text(json.dumps({**GOOD, "complexity": "hard"}) + "\n")
        read_examples(path, tiers=("simple", "medium", "complex"))
    for bad, message in ((tmp_path, "is a folder"), (tmp_path / "none.jsonl", "file not found")):
        with pytest.raises(InputError, match=message):
            read_examples(bad)
    (tmp_path / "empty.jsonl").write_text("\n")
    with pytest.raises(InputError, match="no records"):
        read_examples(tmp_path / "empty.jsonl")


# ----------------------------------------------------------------------------- every command
def _one_line_error(result, where: str) -> str:
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    text = " ".join(result.output.split())
    assert where in text, result.output
    return text


COMMAND_CASES = {"a number": "42\n", "a string": '"Ana"\n', "not utf-8": b'"caf\xe9"\n',
                 "prompt a number": json.dumps({**GOOD, "id": "b", "prompt": 123}) + "\n",
                 "output a string": json.dumps({**GOOD, "id": "b", "expected_output": "x"}) + "\n"}  # fmt: skip


@pytest.mark.parametrize("case", sorted(COMMAND_CASES))
def test_train_reads_through_the_checked_reader(tmp_path, case):
    """Was a TypeError traceback (42, a string line), or training with exit 0 (prompt: 123, a
    string expected_output), or a UnicodeDecodeError traceback."""
    path = _file(tmp_path, COMMAND_CASES[case])
    out = tmp_path / "run"
    result = CliRunner().invoke(app, ["train", "tiny", "--params", str(TRAIN_PARAMS), "--data",
                                      str(path), "--out", str(out)])  # fmt: skip
    _one_line_error(result, f"{path}:2")
    assert not out.exists()


@pytest.mark.parametrize("case", sorted(COMMAND_CASES))
def test_data_import_and_eval_read_through_the_checked_reader(tmp_path, case):
    path = _file(tmp_path, COMMAND_CASES[case])
    schemas = str(ROOT / "src" / "maaza" / "schemas")
    imported = CliRunner().invoke(app, ["data-import", str(path), "--schemas", schemas])
    _one_line_error(imported, f"{path}:2")
    evaluated = CliRunner().invoke(app, ["eval", "--model", "tiny-random", "--data", str(path),
                                         "--out", str(tmp_path / "ev")])  # fmt: skip
    _one_line_error(evaluated, f"{path}:2")
    assert not (tmp_path / "ev").exists()


def test_extract_batch_reads_through_the_line_reader(tmp_path, monkeypatch):
    monkeypatch.setenv("MAAZA_ROOT", str(tmp_path))
    schema = tmp_path / "s.json"
    schema.write_text(json.dumps({"type": "object", "properties": {"name": {"type": "string"}}}))
    src = tmp_path / "in.jsonl"
    for content, message in ((b'"Ana"\n{"text": "caf\xe9"}\n', f"{src}:2: not UTF-8"),
                             (b'"Ana"\n{"text": "x"\n', f"{src}:2:13: invalid JSON"),
                             (b'"Ana"\n{"id": null, "text": "x"}\n', f"{src}:2: 'id' must be"),
                             (b'"Ana"\n', f"{tmp_path}: is a folder")):  # fmt: skip
        src.write_bytes(content)
        target = tmp_path if "folder" in message else src
        result = CliRunner().invoke(app, ["extract", "--schema", str(schema), "--input",
                                          str(target), "--output", str(tmp_path / "o.jsonl")])  # fmt: skip
        assert message in _one_line_error(result, message)
        assert not (tmp_path / "o.jsonl").exists()  # refused before anything is written
