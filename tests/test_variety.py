"""The validation split (data/val.jsonl) and value variety (issue 20)."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from maaza.config import DataConfig, VarietyConfig
from maaza.data import build_dataset, leakage
from maaza.datagen import BUILDERS, generate
from maaza.datagen.variety import is_free_text
from maaza.schemas import load_schemas
from maaza.validate import leaves, validate_records

HOLDOUT = ["weather_observation", "flight_booking", "event_registration"]
SMALL = DataConfig(n_examples=96, holdout_schemas=HOLDOUT, holdout_per_schema=4)
WIDE = VarietyConfig(
    wide_dates=0.5, iso_timestamps=0.5, long_text=0.5, casing=0.3, long_arrays=0.3,
    number_scale=0.5,
)  # fmt: skip
ALL = VarietyConfig(**dict.fromkeys(VarietyConfig.model_fields, 1.0))


@pytest.fixture(scope="module")
def schemas():
    return load_schemas()


@pytest.fixture(scope="module")
def varied(schemas):
    """30 examples of every schema with wide variety."""
    return generate(dict.fromkeys(BUILDERS, 30), seed=5, schemas=schemas, variety=WIDE)


# ----------------------------------------------------------------------------- val split
def test_val_is_twice_the_test_split_like_it_and_shares_no_prompt(schemas):
    splits = build_dataset(SMALL.model_copy(update={"val_factor": 2.0, "extra_train": 60}), schemas)
    val, test = splits["val"], splits["test"]
    assert len(val) == 2 * len(test)
    assert all(r["id"].startswith("v-") for r in val)
    assert {r["schema_id"] for r in val} == {r["schema_id"] for r in splits["train"]}
    share = lambda recs, tier: sum(r["complexity"] == tier for r in recs) / len(recs)  # noqa: E731
    for tier in ("simple", "medium", "complex"):  # the same tier mix as test
        assert abs(share(val, tier) - share(test, tier)) < 0.06, tier
    others = {r["prompt"] for name, recs in splits.items() if name != "val" for r in recs}
    assert not others & {r["prompt"] for r in val}
    assert leakage(splits)["val_shared_prompts"] == 0
    assert validate_records(val, schemas)["n_failed"] == 0


def test_val_leaves_the_other_splits_alone(schemas):
    base = build_dataset(SMALL, schemas)
    with_val = build_dataset(SMALL.model_copy(update={"val_factor": 2.0}), schemas)
    assert "val" not in base and "val_shared_prompts" not in leakage(base)
    for name in ("train", "test", "holdout"):
        assert with_val[name] == base[name], name


def test_leakage_counts_a_val_prompt_seen_elsewhere(schemas):
    splits = build_dataset(SMALL.model_copy(update={"val_factor": 1.0}), schemas)
    splits["val"] = [*splits["val"], splits["train"][0]]
    assert leakage(splits)["val_shared_prompts"] == 1


def test_the_stage_writes_val_and_the_plan_reads_it(tmp_path):
    from maaza.data import run_stage
    from maaza.io import read_jsonl
    from maaza.plan import SPLIT_FILES

    names = ("train", "test", "holdout", "val")
    paths = {n: tmp_path / f"{n}.jsonl" for n in names}
    paths |= {"report_json": tmp_path / "report.json", "report_md": tmp_path / "report.md"}
    cfg = SMALL.model_copy(update={"val_factor": 2.0})
    report = run_stage(cfg, paths, tokenizer_name=None, progress=False)
    assert report["counts"]["val"]["n"] == 2 * report["counts"]["test"]["n"]
    assert len(read_jsonl(tmp_path / SPLIT_FILES["val"])) == 2 * report["counts"]["test"]["n"]
    assert "| val |" in paths["report_md"].read_text()


# ----------------------------------------------------------------------------- variety
def test_no_variety_draws_exactly_what_it_drew_before(schemas):
    zero = generate({"invoice": 4, "log_entry": 4}, 1, schemas=schemas, variety=VarietyConfig())
    assert zero == generate({"invoice": 4, "log_entry": 4}, 1, schemas=schemas)


def test_varied_examples_pass_every_check(varied, schemas):
    assert validate_records(varied, schemas)["failed"] == []
    assert (
        validate_records(
            generate(dict.fromkeys(BUILDERS, 8), seed=9, schemas=schemas, variety=ALL), schemas
        )["failed"]
        == []
    )


def _values(records, pattern):
    return [v for r in records for _, _, v in leaves(r["expected_output"])
            if isinstance(v, str) and re.fullmatch(pattern, v)]  # fmt: skip


def test_dates_span_1900_to_2100(varied):
    years = [int(v[:4]) for v in _values(varied, r"\d{4}-\d{2}-\d{2}.*")]
    assert min(years) < 1950 and max(years) > 2060
    assert len({y // 10 for y in years}) > 15  # decades all over the range, not two years


def test_timestamps_keep_the_offset_and_precision_the_text_gives(varied):
    stamps = [
        (r["prompt"], v) for r in varied for _, _, v in leaves(r["expected_output"])
        if isinstance(v, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}T.*", v)
    ]  # fmt: skip
    offsets = {re.search(r"(Z|[+-]\d{2}:\d{2})$", v)[1] for _, v in stamps}
    assert {"Z", "+05:30", "-08:00"} <= offsets
    assert any(re.search(r"\.\d{6}[Z+-]", v) for _, v in stamps)  # microseconds
    assert any(re.search(r"\.\d{3}[Z+-]", v) for _, v in stamps)
    # a non-UTC offset is never converted: the label is the text's string itself
    assert all(v in prompt for prompt, v in stamps if not v.endswith("Z"))


def test_free_text_values_of_several_sentences_are_copied_verbatim(varied, schemas):
    free = [
        (r["prompt"], v) for r in varied for path, key, v in leaves(r["expected_output"])
        if isinstance(v, str) and is_free_text(key, {"type": "string"})
    ]  # fmt: skip
    long = [(p, v) for p, v in free if v.count(". ") >= 2]
    assert len(long) > 20
    assert all(v in p for p, v in long)


def test_names_and_identifiers_come_in_any_casing(varied):
    names = [r["expected_output"].get("reviewer") or r["expected_output"].get("name")
             for r in varied if r["schema_id"] in ("rating", "contact_info")]  # fmt: skip
    names = [n for n in names if n]
    assert any(n.isupper() for n in names) and any(n.islower() for n in names)
    assert any(n != n.upper() and n != n.lower() for n in names)
    ids = [r["expected_output"]["transaction_id"] for r in varied
           if r["schema_id"] == "transaction_record"]  # fmt: skip
    assert any(i.islower() for i in ids if re.search("[a-z]", i.lower()))


def test_long_arrays_and_numbers_of_every_size(varied):
    arrays = [len(v) for r in varied for v in r["expected_output"].values() if isinstance(v, list)]
    assert max(arrays) >= 10 and min(arrays) <= 3
    money = [v for r in varied for _, key, v in leaves(r["expected_output"])
             if key in ("amount", "unit_price", "price") and isinstance(v, int | float) and v]  # fmt: skip
    assert min(money) < 1 and max(money) > 100_000


def test_wide_dates_stay_ordered_within_a_document(varied):
    for r in varied:
        if r["schema_id"] == "invoice" and "due_date" in r["expected_output"]:
            out = r["expected_output"]
            assert dt.date.fromisoformat(out["due_date"]) > dt.date.fromisoformat(out["issue_date"])
