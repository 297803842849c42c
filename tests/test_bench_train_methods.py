"""benchmarks/train_methods.py: seconds per step and tokens/s leave the warm-up steps out."""

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location(
    "train_methods", ROOT / "benchmarks" / "train_methods.py"
)
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)

# cumulative elapsed 10, 12, 15, 19 s; per-step tokens 100*10, 50*2, 20*3, 10*4
ROWS = [
    {"elapsed_s": 10.0, "tokens_per_s": 100.0},
    {"elapsed_s": 12.0, "tokens_per_s": 50.0},
    {"elapsed_s": 15.0, "tokens_per_s": 20.0},
    {"elapsed_s": 19.0, "tokens_per_s": 10.0},
]


def test_measured_leaves_the_warmup_out():
    m = bench.measured(ROWS, warmup=1)
    assert m["measured_steps"] == 3
    assert m["s_per_step"] == pytest.approx(3.0)  # (19 - 10) / 3
    assert m["real_tokens"] == 100 + 60 + 40
    assert m["real_tokens_per_s"] == pytest.approx(200 / 9, abs=0.05)


def test_measured_without_warmup_counts_every_step():
    m = bench.measured(ROWS, warmup=0)
    assert m["s_per_step"] == pytest.approx(19 / 4)
    assert m["real_tokens"] == 1000 + 100 + 60 + 40


def test_measured_refuses_too_few_steps():
    with pytest.raises(SystemExit, match="need more than the 4 warm-up"):
        bench.measured(ROWS, warmup=4)


def test_peak_rss_is_a_positive_size_in_gb():
    assert 0.001 < bench.peak_rss_gb() < 1000
