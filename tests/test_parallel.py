"""maaza.parallel (evaluate.workers): shards, merging, forked decode workers and their failures."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest

import maaza.parallel
from maaza.config import PROJECT_ROOT, DecodeConfig, load_params
from maaza.evaluate import EvalInputError, load_model, predict, run_eval, spec_from_params
from maaza.importer import import_edgejson
from maaza.parallel import WorkerError, deal, fork_map, gather

EXTERNAL = Path(__file__).parent / "fixtures" / "external"
PARAMS = PROJECT_ROOT / "params.yaml"
KEYS = ("id", "raw", "n_tokens", "stop", "loop_breaks", "budget_closed", "json_exact", "compliant")


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


def _spec(mode: str, workers: int, max_new_tokens: int = 120):
    spec = spec_from_params(
        load_params(PARAMS), name="n", mode=mode, split="external", model="tiny-random"
    )
    decode = DecodeConfig(max_new_tokens=max_new_tokens, batch_size=2)  # several batches a shard
    return dataclasses.replace(spec, decode=decode, workers=workers, dtype="float32")


def test_deal_sorts_then_deals_round_robin():
    keys = [(40, 9), (10, 5), (40, 2), (10, 7), (20, 1)]  # (budget, prompt length)
    assert deal(keys, 2) == [[1, 4, 0], [3, 2]]  # sorted: 1, 3, 4, 2, 0
    assert deal(keys, 1) == [[1, 3, 4, 2, 0]]
    assert deal(keys[:2], 3) == [[1], [0]]  # no empty shard
    assert deal([], 2) == []


def test_gather_restores_row_order():
    shards = [[1, 4, 0], [3, 2]]
    parts = [["b", "e", "a"], ["d", "c"]]
    assert gather(shards, parts) == ["a", "b", "c", "d", "e"]


def test_fork_map_returns_results_in_job_order_and_counts_ticks():
    def square(x, tick):
        for _ in range(x):
            tick()
        return x * x, os.getpid()

    out = fork_map(square, [3, 1, 2], total=6, desc="t", progress=False)
    assert [r for r, _ in out] == [9, 1, 4]
    assert len({pid for _, pid in out} | {os.getpid()}) == 4  # each job in its own process


@pytest.mark.parametrize("weights", ["float32", "float16"])
@pytest.mark.parametrize("mode", ["free", "constrained"])
def test_workers_decode_exactly_like_one_process(tiny_model, mode, weights):
    """The rows dealt to 2 processes (other batches than in one process) come back in input
    order, with the same greedy outputs and stops as workers=1."""
    model, tok = tiny_model if weights == "float32" else load_model("tiny-random", dtype=weights)
    records, schemas = import_edgejson(EXTERNAL / "data.jsonl", EXTERNAL / "schemas")
    one, _ = predict(model, tok, records, schemas, _spec(mode, 1), progress=False)
    two, wall = predict(model, tok, records, schemas, _spec(mode, 2), progress=False)
    assert [{k: r[k] for k in KEYS} for r in two] == [{k: r[k] for k in KEYS} for r in one]
    assert [r["id"] for r in two] == [r["id"] for r in records] and wall > 0
    assert all(r["latency_s"] > 0 for r in two)


def _fails(*args, **kwargs):
    raise ValueError("bad row\nsecond line")


def _dies(*args, **kwargs):
    os._exit(3)


@pytest.mark.parametrize(
    ("decode", "message"),
    [
        (_fails, r"^worker \d of 2 failed: ValueError: bad row$"),
        (_dies, r"^worker \d of 2 died \(exit code 3\) before sending its results$"),
    ],
)
def test_a_worker_failure_fails_the_evaluation_and_writes_nothing(
    tiny_model, tmp_path, monkeypatch, decode, message
):
    monkeypatch.setattr(maaza.parallel, "generate", decode)  # what the forked workers run
    out = tmp_path / "eval"
    with pytest.raises(WorkerError, match=message):
        run_eval(
            _spec("free", 2), EXTERNAL / "data.jsonl", EXTERNAL / "schemas", out,
            model_and_tokenizer=tiny_model, progress=False,
        )  # fmt: skip
    assert not out.exists() or not any(out.iterdir())


def test_int8_weights_refuse_workers(tiny_model, tmp_path):
    """int8 outputs depend on the batch: workers would change them, so they are refused."""
    spec = dataclasses.replace(_spec("free", 2), dtype="int8")
    with pytest.raises(EvalInputError, match=r"evaluate\.workers: 2 with int8 decode weights"):
        run_eval(spec, EXTERNAL / "data.jsonl", EXTERNAL / "schemas", tmp_path / "eval")
    model, tok = load_model("tiny-random", dtype="int8")  # a spec that does not say int8
    records, schemas = import_edgejson(EXTERNAL / "data.jsonl", EXTERNAL / "schemas")
    with pytest.raises(ValueError, match="2 decode workers with int8 weights would change"):
        predict(model, tok, records, schemas, _spec("free", 2), progress=False)


def test_provenance_names_the_workers(tiny_model, tmp_path):
    metrics = run_eval(
        _spec("free", 2, max_new_tokens=16), EXTERNAL / "data.jsonl", EXTERNAL / "schemas",
        tmp_path / "eval", model_and_tokenizer=tiny_model, progress=False,
    )  # fmt: skip
    hardware = metrics["provenance"]["hardware"]
    assert (hardware["decode_workers"], hardware["torch_threads"]) == (2, 1)
    assert metrics["n"] == 6 and metrics["overall"]["wall_time_s"] > 0
