"""maaza.evaluate and `maaza eval`: budgets, aggregation, result files on external EdgeJSON data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from maaza.cli import app
from maaza.config import PROJECT_ROOT, DecodeConfig, load_params
from maaza.decode import Generation
from maaza.evaluate import (
    aggregate,
    failure_examples,
    predict,
    predict_pooled,
    prediction_row,
    schema_budgets,
    spec_from_params,
)
from maaza.importer import import_edgejson
from maaza.plan import eval_name

EXTERNAL = Path(__file__).parent / "fixtures" / "external"
PARAMS = PROJECT_ROOT / "params.yaml"
OVERALL_KEYS = {"json_exact", "field_f1", "leaf_f1", "compliance", "parse_rate", "truncated"}
OVERALL_KEYS |= {"latency_mean_s", "latency_p95_s", "tokens_per_s"}
SCHEMA = {
    "type": "object",
    "properties": {"a": {"type": "integer"}, "b": {"type": "string"}},
    "required": ["a"],
}


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


def _row(**kw):
    base = {
        "complexity": "simple",
        "style": None,
        "json_exact": 0,
        "field_f1": 0.0,
        "leaf_f1": 0.0,
        "compliant": False,
        "error": "invalid_json",
        "latency_s": 1.0,
        "n_tokens": 10,
        "truncated": False,
        "loop_breaks": 0,
        "parsed": None,
    }
    return base | kw


def test_schema_budgets_per_schema_longest_answer_capped():
    records = [
        {"schema_id": "s", "expected_output": {"a": 1}},  # '{"a": 1}' = 8 chars (+1 stop)
        {"schema_id": "s", "expected_output": {"a": 12345}},  # 12 chars + 1 -> 13
        {"schema_id": "t", "expected_output": {"b": "x" * 200}},  # 209 + 1 -> 630 > cap
        {"schema_id": "u", "expected_output": {}},  # 2 + 1 -> 9 < floor 32
    ]
    cfg = DecodeConfig(max_new_tokens=512, token_budget_factor=3.0)
    assert schema_budgets(records, len, cfg) == {"s": 39, "t": 512, "u": 32}


def test_prediction_row_scores_and_records_decoding_facts():
    record = {
        "id": "x-1",
        "schema_id": "s",
        "complexity": "simple",
        "prompt": "p",
        "expected_output": {"a": 1},
    }
    gen = Generation('```json\n{"a": "1"}\n```', n_tokens=12, latency_s=0.5, stop="json")
    row = prediction_row(record, SCHEMA, gen, "annotation")
    assert row["parsed"] == {"a": "1"} and row["error"] == "type_error"
    assert (row["json_exact"], row["compliant"], row["truncated"]) == (0, False, False)
    assert row["schema_errors"] == ["a: '1' is not of type 'integer'"]
    assert row["style"] is None and row["expected"] == {"a": 1}
    cut = prediction_row(record, SCHEMA, Generation('{"a": 1', 40, 2.0, "budget"), "annotation")
    assert cut["truncated"] and cut["error"] == "invalid_json" and cut["parse_error"]


def test_aggregate_hand_computed():
    rows = [
        _row(id="1", schema_id="s", style="email", json_exact=1, field_f1=1.0, leaf_f1=1.0, compliant=True, error="correct", parsed={}),
        _row(id="2", schema_id="s", style="chat", field_f1=0.5, leaf_f1=0.75, compliant=True, error="value_mismatch", parsed={}, latency_s=3.0),
        _row(id="3", schema_id="t", complexity="complex", truncated=True, latency_s=2.0, n_tokens=50),
    ]  # fmt: skip
    m = aggregate(rows, wall_time_s=7.0)
    o = m["overall"]
    assert o.keys() >= OVERALL_KEYS
    assert (o["json_exact"], o["field_f1"], o["leaf_f1"]) == (
        round(1 / 3, 6),
        0.5,
        round(1.75 / 3, 6),
    )
    assert (o["compliance"], o["parse_rate"], o["truncated"]) == (
        round(2 / 3, 6),
        round(2 / 3, 6),
        round(1 / 3, 6),
    )
    assert o["latency_mean_s"] == 2.0 and o["latency_p95_s"] == 3.0
    assert o["tokens_per_s"] == 10.0  # 70 tokens / 7 s
    assert o["stderr"]["json_exact"] == pytest.approx((1 / 3) ** 0.5 / 3**0.5, abs=1e-6)
    assert m["by_tier"]["simple"]["n"] == 2 and m["by_tier"]["complex"]["truncated"] == 1.0
    assert m["by_schema"]["t"]["tier"] == "complex"
    assert set(m["by_style"]) == {"email", "chat", "unknown"}
    assert m["errors"] == {
        "correct": 1, "field_omission": 0, "type_error": 0, "value_mismatch": 1,
        "structure_error": 0, "invalid_json": 1,
    }  # fmt: skip


def test_specs_and_names_from_params():
    params = load_params(PARAMS)
    zs = spec_from_params(params, name="n", mode="free", split="test", model="gemma3-270m")
    assert zs.prompt_format == params.evaluate.zeroshot_prompt_format and zs.run is None
    ft = spec_from_params(
        params, name="n", mode="constrained", split="test", run="smollm2-135m-r16"
    )
    run = params.train_run("smollm2-135m-r16")
    assert (ft.model, ft.prompt_format) == (run.model, run.prompt_format)
    with pytest.raises(ValueError, match="model"):
        spec_from_params(params, name="n", mode="free", split="test")
    assert (
        eval_name("smollm2-135m-instruct", None, "free", "test") == "zs-smollm2-135m-instruct-free"
    )
    assert (
        eval_name(None, "smollm2-135m-r16", "constrained", "holdout")
        == "ft-smollm2-135m-r16-constrained-holdout"
    )


def test_cli_eval_on_external_edgejson_data(tmp_path):
    out = tmp_path / "zs-tiny-constrained-external"
    args = ["eval", "--model", "tiny-random", "--data", str(EXTERNAL / "data.jsonl")]
    args += ["--schemas", str(EXTERNAL / "schemas"), "--out", str(out), "--mode", "constrained"]
    result = CliRunner().invoke(app, [*args, "--params", str(PARAMS)])
    assert result.exit_code == 0, result.output
    metrics = json.loads((out / "metrics.json").read_text())
    rows = [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]
    assert (metrics["name"], metrics["split"], metrics["mode"], metrics["n"]) == (
        "zs-tiny-random-constrained-external",  # what ran, whatever the folder is called
        "external",
        "constrained",
        6,
    )
    assert metrics["prompt_format"] == "paper" and metrics["run"] is None
    assert set(metrics["by_tier"]) == {"simple", "medium", "complex"}  # from the nested folders
    assert (
        metrics["provenance"]["data"]["sha256"]
        and metrics["provenance"]["decode"]["max_items"] == 32
    )
    assert [r["id"] for r in rows] == [
        f"ext-{s}-{i}" for s in ("book", "pet", "req") for i in (1, 2)
    ]
    for r in rows:  # constrained: schema-valid by construction unless cut off (and then counted)
        assert r["compliant"] or r["truncated"], r
    assert metrics["overall"]["compliance"] + metrics["overall"]["truncated"] >= 1.0


@pytest.mark.parametrize("mode", ["free", "constrained"])
def test_pooled_evaluations_decode_like_separate_ones(tiny_model, mode, monkeypatch):
    """evaluate.pool: two evaluations in shared batches give each the rows it gets alone, with its
    own token budgets, and each gets a share of the pooled decode's wall time."""
    import maaza.evaluate

    model, tok = tiny_model
    records, schemas = import_edgejson(EXTERNAL / "data.jsonl", EXTERNAL / "schemas")
    # ext-book-2 alone gets a smaller budget than beside ext-book-1 (a shorter reference answer)
    groups = [(records[:2], schemas), (records[1:4], schemas)]
    params = load_params(PARAMS)
    spec = spec_from_params(params, name="n", mode=mode, split="test", model="tiny-random")
    decode = DecodeConfig(max_new_tokens=120)
    spec = spec.__class__(**{**spec.__dict__, "decode": decode, "workers": 1})  # generate seen here
    budgets = []
    generate = maaza.evaluate.generate
    monkeypatch.setattr(
        maaza.evaluate,
        "generate",
        lambda *a, **kw: budgets.append(kw["budgets"]) or generate(*a, **kw),
    )
    pooled = predict_pooled(model, tok, groups, spec, progress=False)
    alone = [predict(model, tok, recs, sch, spec, progress=False) for recs, sch in groups]
    assert budgets[0] == budgets[1] + budgets[2] and budgets[1][1] > budgets[2][0]
    keys = ("id", "raw", "n_tokens", "stop", "json_exact", "compliant")
    for (rows, wall), (rows1, _) in zip(pooled, alone, strict=True):
        assert [{k: r[k] for k in keys} for r in rows] == [{k: r[k] for k in keys} for r in rows1]
        assert wall > 0
    assert [len(rows) for rows, _ in pooled] == [2, 3]


def test_cli_eval_reports_bad_input(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a"}\n')
    args = [
        "eval",
        "--model",
        "tiny-random",
        "--data",
        str(bad),
        "--schemas",
        str(EXTERNAL / "schemas"),
    ]
    result = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "o"), "--params", str(PARAMS)])
    assert result.exit_code == 1 and f"{bad}:1: missing key" in result.output
    result = CliRunner().invoke(
        app, ["eval", "--model", "tiny-random", "--mode", "greedy", "--params", str(PARAMS)]
    )
    assert result.exit_code == 2 and "'greedy' is not one of free, constrained" in result.output


def test_failure_examples_one_per_category_first():
    errors = ["correct", "type_error", "type_error", "invalid_json", "value_mismatch"]
    rows = [_row(id=str(i), error=e) for i, e in enumerate(errors)]
    assert [r["id"] for r in failure_examples(rows, k=3)] == ["1", "4", "3"]  # category order
    assert [r["id"] for r in failure_examples(rows, k=10)] == ["1", "4", "3", "2"]


def test_rescore_keeps_decoding_facts(tmp_path):
    from maaza.evaluate import rescore
    from maaza.importer import import_edgejson
    from maaza.prompts import render_target

    records, _ = import_edgejson(EXTERNAL / "data.jsonl", EXTERNAL / "schemas")
    raws = [render_target(r["expected_output"]) for r in records[:2]] + ["no json"]
    old = [
        {"id": r["id"], "schema_id": r["schema_id"], "raw": raw, "n_tokens": 7, "latency_s": 0.5,
         "stop": "json", "loop_breaks": 0, "json_exact": 0}
        for r, raw in zip(records, raws, strict=False)
    ]  # fmt: skip
    metrics = {
        "name": "x",
        "overall": {"wall_time_s": 1.5},
        "provenance": {"decode": {"format_policy": "annotation"}},
    }
    (tmp_path / "predictions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in old))
    (tmp_path / "metrics.json").write_text(json.dumps(metrics))
    new = rescore(tmp_path, EXTERNAL / "data.jsonl", EXTERNAL / "schemas")
    rows = [json.loads(line) for line in (tmp_path / "predictions.jsonl").read_text().splitlines()]
    assert [r["json_exact"] for r in rows] == [1, 1, 0] and rows[2]["error"] == "invalid_json"
    assert all(r["n_tokens"] == 7 and r["latency_s"] == 0.5 for r in rows)
    assert new["n"] == 3 and new["overall"]["json_exact"] == round(2 / 3, 6)
    assert new["overall"]["tokens_per_s"] == 14.0 and "rescored" in new["provenance"]
    assert json.loads((tmp_path / "metrics.json").read_text()) == new


def test_dtype_auto_follows_native_bf16(monkeypatch):
    import torch

    import maaza.models as models

    monkeypatch.setattr(models, "native_bf16", lambda: True)
    assert models.resolve_dtype("auto") == torch.bfloat16
    monkeypatch.setattr(models, "native_bf16", lambda: False)
    assert models.resolve_dtype("auto") == torch.float32
    assert models.resolve_dtype("bfloat16") == torch.bfloat16
    assert models.resolve_dtype("float32") == torch.float32


def test_dtype_verdict_is_paired_and_keeps_fp32_when_bf16_loses():
    from maaza.evaluate import dtype_verdict

    fp32 = [1] * 80 + [0] * 20
    same = dtype_verdict(fp32, list(fp32))
    assert same["dtype"] == "auto" and same["diff"] == 0 and same["ci95"] == [0, 0]
    assert dtype_verdict(fp32, list(fp32), "int8")["dtype"] == "int8"  # the candidate's setting
    swapped = fp32[:-1] + [1]  # one example flips each way: noise
    swapped[0] = 0
    assert dtype_verdict(fp32, swapped)["dtype"] == "auto"
    worse = [0] * 5 + fp32[5:]  # five fewer right, none gained: 5 points and significant
    verdict = dtype_verdict(fp32, worse)
    assert verdict["dtype"] == "float32" and verdict["fp32_only_right"] == 5
    assert verdict["ci95"][1] < 0
    with pytest.raises(ValueError, match="same examples"):
        dtype_verdict(fp32, fp32[:-1])


@pytest.mark.parametrize("weights", ["int8", "float16"])
def test_packed_weights_decode_and_are_recorded(weights, tmp_path, recwarn):
    """evaluate.dtype int8 / float16: every Linear (lm_head too) becomes a dynamic packed layer,
    constrained decoding still yields schema-valid JSON, and the provenance names the weights;
    torch.ao's own deprecation notices are not shown."""
    from torch import nn
    from torch.ao.nn.quantized.dynamic import Linear as PackedLinear

    from maaza.decode import vocab_size
    from maaza.evaluate import load_model, run_eval

    model, tok = load_model("tiny-random", dtype=weights)
    layers = [m for m in model.modules() if isinstance(m, nn.Linear | PackedLinear)]
    assert len(layers) == 2 * 7 + 1 and all(isinstance(m, PackedLinear) for m in layers)
    assert isinstance(model.lm_head, PackedLinear) and vocab_size(model) == len(tok.get_vocab())
    assert not [w for w in recwarn if "quantiz" in str(w.message)]
    spec = spec_from_params(
        load_params(PARAMS), name=weights, mode="constrained", split="external", model="tiny-random"
    )
    spec = spec.__class__(**{**spec.__dict__, "dtype": weights, "workers": 1})  # int8: 1 only
    metrics = run_eval(
        spec, EXTERNAL / "data.jsonl", EXTERNAL / "schemas", tmp_path,
        model_and_tokenizer=(model, tok), progress=False,
    )  # fmt: skip
    assert metrics["provenance"]["dtype"] == weights and metrics["n"] == 6
    rows = [json.loads(line) for line in (tmp_path / "predictions.jsonl").read_text().splitlines()]
    for r in rows:  # constrained: schema-valid by construction unless cut off
        assert r["compliant"] or r["truncated"], r
    assert any(r["compliant"] for r in rows)


def test_packed_weights_are_not_a_dtype_to_load():
    from maaza.models import resolve_dtype

    for weights in ("int8", "float16"):
        with pytest.raises(ValueError, match=f"{weights}: decode-only"):
            resolve_dtype(weights)
