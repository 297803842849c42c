"""Length policy (issue 17): prompt + answer must fit the model's context (and train's
max_length) before any work. Train skips (counted) or fails per `too_long`, and a run with no
labelled token is an error; eval and extract name the example and the lengths. Also: after a
repetition stop, extract's hint does not say "raise max_new_tokens"."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

import maaza.decode
import maaza.evaluate
from maaza.cli import app
from maaza.collate import TrainDataError
from maaza.config import TrainRun, deep_merge, load_params
from maaza.decode import Generation
from maaza.extract import ExtractError, Extractor
from maaza.train import TrainError, train

FIXTURES = Path(__file__).parent / "fixtures"
TRAIN_PARAMS, TRAIN_DATA = FIXTURES / "train" / "params.yaml", FIXTURES / "train" / "train.jsonl"
EXTERNAL = FIXTURES / "external"
LONG = "The lease runs from May to June. " * 6000  # ~200 KB, far over 4096 tokens
runner = CliRunner()


def _run(**overrides) -> TrainRun:
    run = load_params(TRAIN_PARAMS).train_run("tiny")
    return TrainRun.model_validate(deep_merge(run.model_dump(), overrides))


def _with_long(tmp_path: Path, keep: int = 12) -> Path:
    records = [json.loads(x) for x in TRAIN_DATA.read_text().splitlines()][:keep]
    long = {**records[0], "id": "huge-1", "prompt": LONG} if records else {
        "id": "huge-1", "schema_id": "contact_info", "prompt": LONG,
        "expected_output": {"name": "Ana"}}  # fmt: skip
    path = tmp_path / "train.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in [*records, long]))
    return path


def test_train_skips_too_long_examples_and_counts_them(fresh_tiny_model, tmp_path):
    model, tok = fresh_tiny_model
    metrics = train("tiny", _run(), _with_long(tmp_path), tmp_path / "run", progress_bar=False,
                    loaded=(model, tok))  # fmt: skip
    assert (metrics["n_train_examples"], metrics["n_too_long"]) == (12, 1)
    assert metrics["too_long"] == "skip" and metrics["max_tokens"] == 1024
    assert json.loads((tmp_path / "run" / "train_metrics.json").read_text())["n_too_long"] == 1


def test_train_fails_on_too_long_when_asked(fresh_tiny_model, tmp_path):
    with pytest.raises(TrainDataError, match=r"example 13 \(id 'huge-1'\): prompt \+ answer is "
                       r"\d+ tokens, over the limit of 1024 \(max_length 1024, model context 4096\)"):  # fmt: skip
        train("tiny", _run(too_long="fail"), _with_long(tmp_path), tmp_path / "run",
              progress_bar=False, loaded=fresh_tiny_model)  # fmt: skip
    assert not (tmp_path / "run" / "train_metrics.json").exists()


def test_a_run_with_no_labelled_token_is_an_error(tmp_path):
    """Was: a 200 KB prompt 'trained' on 0 labelled tokens and ended with final loss 0.0, exit 0."""
    data = _with_long(tmp_path, keep=0)
    result = runner.invoke(app, ["train", "tiny", "--params", str(TRAIN_PARAMS), "--data",
                                 str(data), "--out", str(tmp_path / "run")])  # fmt: skip
    assert result.exit_code == 1 and "Traceback" not in result.output, result.output
    assert "nothing to train on: 1 of 1 examples are longer than 1024 tokens" in " ".join(
        result.output.split()
    )
    with pytest.raises(TrainError, match="nothing to train on"):
        train("tiny", _run(), data, tmp_path / "r2", progress_bar=False)


def test_eval_names_the_example_over_the_context(tmp_path, tiny_model, monkeypatch):
    """Was: a 200 KB prompt was scored silently."""
    monkeypatch.setattr(maaza.evaluate, "load_model", lambda *a, **k: tiny_model)
    lines = (EXTERNAL / "data.jsonl").read_text().splitlines()
    huge = {**json.loads(lines[0]), "id": "ext-huge", "prompt": LONG}
    data = tmp_path / "data.jsonl"
    data.write_text("\n".join([*lines, json.dumps(huge)]) + "\n")
    result = runner.invoke(app, ["eval", "--model", "tiny-random", "--data", str(data),
                                 "--schemas", str(EXTERNAL / "schemas"), "--out",
                                 str(tmp_path / "e")])  # fmt: skip
    text = " ".join(result.output.split())
    assert result.exit_code == 1 and "Traceback" not in result.output, result.output
    assert "example 'ext-huge': prompt of" in text
    assert "over the model's context of 4096 tokens" in text
    assert not (tmp_path / "e").exists()


SCHEMA = {"type": "object", "properties": {"title": {"type": "string"}}, "required": ["title"]}


def test_extract_names_the_text_over_the_context(tmp_path, tiny_model, monkeypatch):
    monkeypatch.setenv("MAAZA_ROOT", str(tmp_path))
    torch.set_num_threads(1)
    ex = Extractor("tiny-random", zero_shot=True, loaded=tiny_model)
    with pytest.raises(ExtractError, match=r"text 1: prompt of \d+ tokens \+ max_new_tokens 512"):
        ex.extract_batch(["Dune", LONG], SCHEMA)
    monkeypatch.setattr(maaza.evaluate, "load_model", lambda *a, **k: tiny_model)
    src, out, schema = tmp_path / "in.jsonl", tmp_path / "out.jsonl", tmp_path / "s.json"
    src.write_text(
        json.dumps({"id": "a", "text": "Dune"})
        + "\n"
        + json.dumps({"id": "b", "text": LONG})
        + "\n"
    )
    schema.write_text(json.dumps(SCHEMA))
    result = runner.invoke(app, ["extract", "--schema", str(schema), "--model", "tiny-random",
                                 "--zero-shot", "--input", str(src), "--output", str(out)])  # fmt: skip
    text = " ".join(result.output.split())
    assert result.exit_code == 1 and "Traceback" not in result.output, result.output
    assert "input line 2 (id b): prompt of" in text and "over the model's context of 4096" in text
    assert not out.exists() or out.read_text() == ""  # nothing decoded before the check


def test_repetition_stop_hint_is_not_about_max_new_tokens(tmp_path, tiny_model, monkeypatch):
    monkeypatch.setenv("MAAZA_ROOT", str(tmp_path))
    ex = Extractor("tiny-random", zero_shot=True, mode="free", loaded=tiny_model)
    for stop, hint in (("repetition", "repeated itself"), ("budget", "raise max_new_tokens")):
        gen = Generation('{"title": "la la la la', 40, 0.1, stop)
        monkeypatch.setattr(maaza.decode, "generate", lambda *a, g=gen, **k: [g])
        [res] = ex.extract_batch(["Dune"], SCHEMA)
        assert not res.valid and hint in res.errors[0], res.errors
        assert stop == "budget" or "max_new_tokens" not in res.errors[0]
