"""`maaza eval` and `maaza data-import` check what they can before any model loads (issue 17):
schemas whose `$ref` does not resolve, schemas constrained decoding cannot compile."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

import maaza.evaluate
from maaza.cli import app

EXTERNAL = Path(__file__).parent / "fixtures" / "external"
runner = CliRunner()


@pytest.fixture
def no_model(monkeypatch):
    """Any model load fails the test: the error must come first."""

    def boom(*args, **kwargs):
        raise AssertionError("the model was loaded before the input was checked")

    monkeypatch.setattr(maaza.evaluate, "load_model", boom)


def _schemas_with(tmp_path: Path, schema: dict) -> Path:
    """The external fixture's schemas, with book_reference replaced by `schema`."""
    folder = tmp_path / "schemas"
    shutil.copytree(EXTERNAL / "schemas", folder)
    (book,) = folder.rglob("book_reference.json")
    book.write_text(json.dumps(schema))
    return book


BOOK = {"type": "object", "properties": {"title": {"type": "string"},
        "author": {"type": "string"}, "year": {"type": "integer"}}}  # fmt: skip


def _one_line(result) -> str:
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output and isinstance(result.exception, SystemExit)
    return " ".join(result.output.split())


def test_unresolvable_ref_is_named_before_the_model_loads(tmp_path, no_model):
    """Was an xgrammar RuntimeError traceback after the model loaded (eval) and a jsonschema
    traceback (data-import)."""
    bad = {**BOOK, "properties": {**BOOK["properties"], "author": {"$ref": "#/definitions/x"}}}
    book = _schemas_with(tmp_path, bad)
    data, folder = str(EXTERNAL / "data.jsonl"), str(book.parents[1])
    for mode in ("constrained", "free"):
        out = _one_line(runner.invoke(app, ["eval", "--model", "tiny-random", "--data", data,
                                            "--schemas", folder, "--out", str(tmp_path / "e"),
                                            "--mode", mode]))  # fmt: skip
        assert f"{book}: /properties/author: $ref '#/definitions/x' does not resolve" in out
    out = _one_line(runner.invoke(app, ["data-import", data, "--schemas", folder]))
    assert f"{book}: /properties/author: $ref '#/definitions/x' does not resolve" in out


def test_constrained_eval_compiles_every_grammar_before_the_model_loads(tmp_path, no_model):
    bad = {**BOOK, "properties": {**BOOK["properties"], "author": {"enum": []}}}
    book = _schemas_with(tmp_path, bad)
    args = ["eval", "--model", "tiny-random", "--data", str(EXTERNAL / "data.jsonl"),
            "--schemas", str(book.parents[1]), "--out", str(tmp_path / "e")]  # fmt: skip
    out = _one_line(runner.invoke(app, [*args, "--mode", "constrained"]))
    assert f"{book}: schema 'book_reference' cannot be used for constrained decoding" in out
    assert "enum array must not be empty" in out
    assert not (tmp_path / "e").exists()


def test_eval_stage_checks_every_evaluation_before_its_one_model_load(tmp_path, no_model):
    """dvc.yaml's eval stages (evaluate_subject) load the model once for all of a subject's
    evaluations: a grammar that cannot compile must still fail before that load."""
    import yaml

    from maaza.config import DEFAULT_PARAMS, resolve
    from maaza.evaluate import EvalInputError, evaluate_subject

    raw = yaml.safe_load(DEFAULT_PARAMS.read_text())
    raw["evaluate"]["zeroshot_models"] = ["tiny-random"]
    book = _schemas_with(tmp_path, {**BOOK, "properties": {**BOOK["properties"],
                                                          "author": {"enum": []}}})  # fmt: skip
    (tmp_path / "data").mkdir()
    shutil.copy(EXTERNAL / "data.jsonl", tmp_path / "data" / "test.jsonl")
    with pytest.raises(EvalInputError, match="cannot be used for constrained decoding"):
        evaluate_subject(resolve(raw), "tiny-random", data_dir=tmp_path / "data",
                         schemas_dir=book.parents[1], eval_dir=tmp_path / "eval")  # fmt: skip
    assert not (tmp_path / "eval").exists()
