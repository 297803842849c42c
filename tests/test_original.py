"""The original's inconsistencies table (maaza.report.original): written row by row from the data
file, its derived numbers computed from the stored values, bad rows refused with their place."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from maaza.report.original import (
    DERIVE,
    ORIGINAL_TABLES,
    inconsistency_rows,
    inconsistency_table,
    lora_params,
)
from maaza.results import ReportError, load_reference

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def ref() -> dict[str, Any]:
    return copy.deepcopy(load_reference())


def test_the_table_has_one_row_per_row_of_the_data_file(ref: dict[str, Any]) -> None:
    tex = ORIGINAL_TABLES["original_inconsistencies"](None, ref)  # type: ignore[arg-type]
    assert r"\label{tab:original-inconsistencies}" in tex and "% source: " in tex
    rows = ref["inconsistencies"]
    assert len(rows) >= 15 and tex.count(r"\addlinespace") == len(rows)
    for row in rows:
        assert row["what"] in tex
    # the list is all there
    derived = {r["derive"] for r in rows if "derive" in r}
    assert {
        "tier_percentages",
        "tier_sums",
        "trainable",
        "steps",
        "latency",
        "size_ratio",
    } <= derived


def test_cells_are_read_from_the_data_file(ref: dict[str, Any]) -> None:
    before = inconsistency_table(None, ref)  # type: ignore[arg-type]
    assert "0.780" in before and "0.729" in before and "79.7\\%" in before
    ref["model_card"]["overall"]["field_f1"] = 0.5
    ref["inconsistencies"].append(
        {"what": "A new row", "paper": {"text": "x", "where": "here"},
         "elsewhere": {"refs": ["test_split.n"], "where": "there"}, "follows": "y"}
    )  # fmt: skip
    after = inconsistency_table(None, ref)  # type: ignore[arg-type]
    assert "0.500" in after and "0.729" not in after
    assert "A new row & x" in after and "158" in after


def test_estimated_values_are_marked(ref: dict[str, Any]) -> None:
    first = inconsistency_rows(ref)[0]  # the 360M baseline: an estimate against a measurement
    assert first[1][0].startswith("$\\sim$5.0\\%") and "$\\sim$" not in first[2][0]


def test_tier_checks_are_computed_from_the_stored_percentages(ref: dict[str, Any]) -> None:
    v = DERIVE["tier_percentages"](ref)
    assert (v["n_bad"], v["n_checked"]) == (4, 12)  # e.g. 13.5% of 57 is no whole number
    assert (v["n_fit"], v["n_nonzero"], v["n_fit_stated"]) == (6, 7, 3)  # card: 10 of 74
    assert "Maaza-MLM-135M medium 13.5\\% of 57" in v["bad"]
    v = DERIVE["tier_sums"](ref)
    # 44.7% of 76 + 13.5% of 57 = 41.7 correct, against 24.7% of 158 = 39.0 overall
    assert "Maaza-MLM-135M 41.7" in v["sums"] and "Maaza-SLM-360M 90.3" in v["sums"]
    assert "= 39.0" in v["overall"] and "= 87.1" in v["overall"]
    assert "Qwen" not in v["sums"]  # its tiers add up (23.5 vs 23.1)
    ref["test_split"]["by_tier"] = ref["model_card"]["test_by_tier"]
    assert DERIVE["tier_percentages"](ref)["n_bad"] != 4  # follows the stored sizes


def test_step_count_follows_the_recipe(ref: dict[str, Any]) -> None:
    assert DERIVE["steps"](ref)["steps"] == 60  # ceil(629 / 32) * 3
    ref["claims"]["batch"]["value"] = 16
    assert DERIVE["steps"](ref)["steps"] == 120
    assert "32 epochs" not in inconsistency_table(None, ref)  # type: ignore[arg-type]
    assert "batch 16, 3 epochs: 120 steps" in inconsistency_table(None, ref)  # type: ignore[arg-type]


def test_lora_count_matches_peft_on_our_run_and_the_card(ref: dict[str, Any]) -> None:
    ours = json.loads((ROOT / "runs" / "smollm2-135m-r16" / "train_metrics.json").read_text())
    assert lora_params(ref["architectures"]["maaza-mlm-135m"], 16) == ours["params_trainable"]
    n360 = lora_params(ref["architectures"]["maaza-slm-360m"], 32)
    assert round(n360 / 1e6, 1) == ref["model_card"]["trainable_m"]  # the card's 17.4M


def test_size_ratio_and_latency(ref: dict[str, Any]) -> None:
    v = DERIVE["size_ratio"](ref)
    assert v["param_ratio"].endswith("3.7$\\times$") and v["size_ratio"].endswith("3.5$\\times$")
    v = DERIVE["latency"](ref)
    assert v["tokens"] == "0.96--1.00"  # ms x tokens/s: one token, not one answer


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"what": "w", "derive": "nope", "follows": ""}, "unknown derive 'nope'"),
        ({"what": "w", "derive": "steps", "paper": {"text": "", "where": ""},
          "elsewhere": {"text": "", "where": ""}, "follows": "{typo}"}, "names 'typo'"),
        ({"what": "w", "paper": {"refs": ["models.no-such.overall"], "where": ""},
          "elsewhere": {"text": "", "where": ""}, "follows": ""}, "no value at 'models.no-such"),
    ],
)  # fmt: skip
def test_bad_rows_are_refused_with_their_place(
    ref: dict[str, Any], row: dict[str, Any], message: str
) -> None:
    ref["inconsistencies"] = [row]
    with pytest.raises(ReportError, match="paper_reference.yaml") as e:
        inconsistency_rows(ref)
    assert message in str(e.value)
