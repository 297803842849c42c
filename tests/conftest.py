"""Shared pytest setup: offline hub, the real model cache, and a reusable tiny model.

def test_something(tiny_model):
    model, tok = tiny_model          # session-wide: do not train or modify it in place
def test_training(fresh_tiny_model):
    model, tok = fresh_tiny_model    # a new copy per test, safe to train
"""

from __future__ import annotations

import os
from pathlib import Path

# Before anything imports huggingface_hub/transformers (they read these at import time):
# tests never touch the network, and they reuse the dequantized models already cached on this
# machine instead of dequantizing again into a temporary folder.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("MAAZA_CACHE", str(Path("~/.cache/maaza").expanduser()))

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def tiny_model():
    """(model, tokenizer) of `tiny-random`: 2-layer llama, real SmolLM2 tokenizer, seeded weights."""
    from maaza.models import load

    return load("tiny-random")


@pytest.fixture
def fresh_tiny_model(tiny_model):
    """Deep copies of `tiny_model` for tests that change weights or tokenizer settings."""
    import copy

    model, tok = tiny_model
    return copy.deepcopy(model), copy.deepcopy(tok)


@pytest.fixture(scope="module")
def one_thread():
    """One torch thread for a module's tests (`pytestmark = pytest.mark.usefixtures("one_thread")`):
    tiny-random's 64-wide matrices gain nothing from OpenMP, whose synchronisation made such tests
    10-30x slower on a shared CPU; the decode regression reference was recorded with one thread."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
