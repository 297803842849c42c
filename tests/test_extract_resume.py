"""`maaza extract --input X --output O` resumes only answers of the very same job (issue 17):
a changed schema, model, adapter, decoding setting or text never reuses old lines, and a file
extract did not write is refused untouched."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

import maaza.evaluate
from maaza.cli import app

runner = CliRunner()
SCHEMA = {"type": "object", "properties": {"title": {"type": "string"},
          "year": {"type": "integer"}}, "required": ["title"]}  # fmt: skip


@pytest.fixture
def setup(tmp_path, monkeypatch, tiny_model):
    monkeypatch.setenv("MAAZA_ROOT", str(tmp_path))  # no runs, no params.yaml
    monkeypatch.setattr(maaza.evaluate, "load_model", lambda *a, **k: tiny_model)
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    src = tmp_path / "in.jsonl"
    src.write_text('{"id": "a", "text": "Dune, 1965"}\n{"id": "b", "text": "Emma, 1815"}\n')
    schema = tmp_path / "book.json"
    schema.write_text(json.dumps(SCHEMA))
    yield tmp_path, src, schema
    torch.set_num_threads(before)


def _run(src: Path, schema: Path, out: Path, *extra: str):
    result = runner.invoke(app, ["extract", "--schema", str(schema), "--model", "tiny-random",
                                 "--zero-shot", "--max-new-tokens", "24", "--input", str(src),
                                 "--output", str(out), *extra])  # fmt: skip
    assert "Traceback" not in result.output
    return result, " ".join(result.output.split())


def test_a_changed_job_never_reuses_old_lines(setup):
    """Was: a rerun with another --schema said 'all 40 lines already done' and kept the old
    answers (only line numbers and ids were compared)."""
    tmp_path, src, schema = setup
    out = tmp_path / "out.jsonl"
    first, _ = _run(src, schema, out)
    assert first.exit_code == 0, first.output
    done = out.read_bytes()
    again, text = _run(src, schema, out, "--batch-size", "1")  # batch size: same job
    assert again.exit_code == 0 and "all 2 lines already done" in text

    other = tmp_path / "other.json"
    other.write_text(json.dumps({**SCHEMA, "required": ["title", "year"]}))
    for args, changed in (((other,), "schema"), ((schema, "--mode", "free"), "mode"),
                          ((schema, "--max-new-tokens", "30"), "decode")):  # fmt: skip
        result, text = _run(src, args[0], out, *args[1:])  # a repeated option: the last wins
        assert result.exit_code == 1, result.output
        assert f"{out}:1: answered by another job ({changed} changed since)" in text
        assert out.read_bytes() == done  # untouched

    src.write_text('{"id": "a", "text": "Dune, 1965"}\n{"id": "b", "text": "Persuasion, 1817"}\n')
    result, text = _run(src, schema, out)
    assert result.exit_code == 1 and "the text of input line 2 changed" in text
    assert out.read_bytes() == done


def test_a_foreign_output_is_refused_untouched(setup):
    """Was: the unrelated file's unterminated last line was cut before the refusal."""
    tmp_path, src, schema = setup
    for content in (b"first line\nlast line, no newline", b'{"a": 1}\n', b"no newline at all",
                    b'{"line": 1, "id": "a", "value": 1, "valid": true}\n'):  # fmt: skip
        out = tmp_path / "notes.txt"
        out.write_bytes(content)
        result, text = _run(src, schema, out)
        assert result.exit_code == 1, result.output
        assert f"{out}" in text and ("not written by maaza extract" in text
                                     or "older maaza extract" in text), text  # fmt: skip
        assert out.read_bytes() == content


def test_a_folder_as_output_is_one_line(setup):
    tmp_path, src, schema = setup
    result, text = _run(src, schema, tmp_path)
    assert result.exit_code == 1 and f"error: {tmp_path}: is a folder" in text
