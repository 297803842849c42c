"""benchmarks/train_throughput.py --long: its long examples are what the issue asks for (complex
tier, 800-1,000 tokens of prompt + answer in the run's format), drawn reproducibly."""

import importlib.util
import time
from pathlib import Path

from maaza.config import load_params
from maaza.models import load_tokenizer

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location(
    "train_throughput", ROOT / "benchmarks" / "train_throughput.py"
)
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)


def test_long_examples_are_complex_and_in_the_token_range():
    run = load_params(ROOT / "params.yaml").train_run("smollm2-135m-r16")
    records = bench.long_examples(6, seed=7, run=run)
    tok = load_tokenizer(run.model)
    lengths = [len(tok(t)["input_ids"]) for t in bench.texts(records, run, tok.eos_token)]
    lo, hi = bench.LONG_TOKENS
    assert len(records) == 6
    assert all(lo <= n <= hi for n in lengths), lengths
    assert {r["complexity"] for r in records} == {"complex"}
    assert bench.long_examples(6, seed=7, run=run) == records  # seeded: the same draw again


def test_peak_rss_sees_an_allocation():
    with bench.PeakRSS() as mem:
        block = bytearray(200_000_000)  # 200 MB, touched so it is resident
        block[::4096] = b"x" * len(block[::4096])
        time.sleep(0.2)
    assert mem.peak > 200_000_000
