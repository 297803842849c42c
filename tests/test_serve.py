"""`maaza serve`: requests batch together, bad input is a 4xx, a real server answers concurrently.

The HTTP test starts `maaza serve` in a subprocess on a free localhost port with `tiny-random`
zero-shot (a few seconds); it and the app tests skip when the `serve` extra (FastAPI, uvicorn) is
missing. The Batcher test needs neither.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace

import pytest

from maaza.extract import ExtractError
from maaza.serve import Batcher

FLAG = {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]}
YEAR = {
    "type": "object",
    "properties": {"year": {"type": "integer", "minimum": 1900, "maximum": 2100}},
    "required": ["year"],
}


class FakeExtractor:
    """Answers each text with its own length; 'LONG' fails the prompt-length check."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def check_lengths(self, texts, schemas):
        if texts == ["LONG"]:
            raise ExtractError("text 0: prompt too long")

    def extract_batch(self, texts, schemas):
        self.calls.append(list(texts))
        return [SimpleNamespace(value={"n": len(t)}) for t in texts]


def test_concurrent_requests_decode_as_one_batch_and_errors_stay_per_row():
    fake = FakeExtractor()

    async def main():
        batcher = Batcher(fake, max_batch=4, max_wait_ms=50)  # type: ignore[arg-type]
        batcher.start()
        texts = ["a", "bb", "LONG", "dddd", "eeeee"]
        results = await asyncio.gather(
            *(batcher.submit(t, FLAG) for t in texts), return_exceptions=True
        )
        await batcher.stop()
        return batcher, results

    batcher, results = asyncio.run(main())
    # queued together: the first 4 form one batch (the too-long text fails alone), the 5th follows
    assert fake.calls == [["a", "bb", "dddd"], ["eeeee"]]
    assert batcher.batches == [3, 1]
    assert isinstance(results[2], ExtractError)
    assert [r[0].value["n"] for i, r in enumerate(results) if i != 2] == [1, 2, 4, 5]
    assert [r[1] for i, r in enumerate(results) if i != 2] == [3, 3, 3, 1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """`maaza serve` (tiny-random, zero-shot) on a free localhost port; its base URL."""
    pytest.importorskip("fastapi", reason="the serve extra (FastAPI, uvicorn) is not installed")
    pytest.importorskip("uvicorn", reason="the serve extra (FastAPI, uvicorn) is not installed")
    httpx = pytest.importorskip("httpx")
    root = tmp_path_factory.mktemp("root")  # no params.yaml: default decoding settings
    port = _free_port()
    env = {
        **os.environ,
        "MAAZA_ROOT": str(root),
        "PYTHONPATH": str(Path(__file__).parents[1] / "src"),
    }
    cmd = [sys.executable, "-m", "maaza.cli", "serve", "--model", "tiny-random", "--zero-shot",
           "--port", str(port), "--max-new-tokens", "24", "--threads", "1",
           "--batch-size", "8", "--max-wait-ms", "1000"]  # fmt: skip
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        while True:  # the model loads first; the process ends on any startup error
            if proc.poll() is not None:
                pytest.fail(f"maaza serve exited {proc.returncode}: {proc.stdout.read().decode()}")
            try:
                if httpx.get(url + "/health").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_server_answers_concurrent_requests_in_batches(server):
    import httpx

    first = httpx.post(server + "/extract", json={"schema": YEAR, "text": "warm-up"}, timeout=120)
    assert first.status_code == 200, first.text  # compiles the grammar once

    def ask(i: int) -> dict:
        r = httpx.post(server + "/extract", json={"schema": YEAR, "text": f"year {1990 + i}"},
                       timeout=120)  # fmt: skip
        assert r.status_code == 200, r.text
        return r.json()

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(ask, range(8)))
    for a in answers:
        assert a["valid"] and 1900 <= a["value"]["year"] <= 2100  # constrained: always valid
        assert a["n_tokens"] > 0 and a["latency_ms"] >= a["decode_ms"] > 0
    assert max(a["batch"] for a in answers) > 1  # sent together, decoded together
    health = httpx.get(server + "/health").json()
    assert health["requests"] == 9 and "tiny-random zero-shot" in health["source"]


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({"schema": {"type": "array"}, "text": "x"}, "the root must be"),
        ({"schema": {"type": "object", "properties": {"a": {"type": 5}}}, "text": "x"},
         "not a valid JSON Schema"),
        ({"schema": FLAG, "text": "   "}, "text: text is empty"),
        ({"schema": FLAG}, "Field required"),
        ({"schema": "{}", "text": "x"}, "valid dictionary"),
    ],
)  # fmt: skip
def test_bad_schema_or_text_is_a_422_with_the_reason(server, body, detail):
    import httpx

    r = httpx.post(server + "/extract", json=body, timeout=60)
    assert r.status_code == 422
    assert detail in json.dumps(r.json()["detail"])


def test_device_cuda_without_a_gpu_says_how_to_get_one(tmp_path, monkeypatch):
    import torch
    from typer.testing import CliRunner

    from maaza.cli import app

    if torch.cuda.is_available():
        pytest.skip("a GPU is visible here")
    monkeypatch.setenv("MAAZA_ROOT", str(tmp_path))
    schema = tmp_path / "flag.json"
    schema.write_text(json.dumps(FLAG))
    args = ["extract", "--schema", str(schema), "--zero-shot", "--model", "tiny-random", "x"]
    r = CliRunner().invoke(app, [*args, "--device", "cuda"])
    assert r.exit_code == 1 and "--device cuda:" in r.output and "CUDA build of torch" in r.output
    r = CliRunner().invoke(app, [*args, "--device", "gpu"])
    assert r.exit_code == 2 and "auto, cpu, cuda" in r.output
