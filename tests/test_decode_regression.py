"""maaza.decode keeps its greedy outputs: fixed tiny-random cases against the outputs recorded
from the `model.generate` decoder (tests/fixtures/decode/make_reference.py)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

FIXTURE = Path(__file__).parent / "fixtures" / "decode"
_spec = importlib.util.spec_from_file_location("make_reference", FIXTURE / "make_reference.py")
make_reference = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(make_reference)
REFERENCE = json.loads((FIXTURE / "reference.json").read_text())


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


@pytest.mark.parametrize("case", make_reference.cases(), ids=lambda c: c["name"])
def test_same_outputs_as_the_recorded_decoder(tiny_model, case):
    model, tok = tiny_model
    assert make_reference.run_case(model, tok, case) == REFERENCE[case["name"]]
