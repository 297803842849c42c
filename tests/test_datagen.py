"""The generator: reproducible bytes, correct counts and splits, valid + grounded examples."""

from __future__ import annotations

import hashlib
from collections import Counter

import pytest

from maaza.config import DataConfig
from maaza.data import build_dataset, leakage, split_records
from maaza.datagen import BUILDERS, allocate, generate, generate_schema
from maaza.datagen.render import TIER_STYLES
from maaza.io import to_jsonl
from maaza.schemas import load_schemas, tier_of
from maaza.validate import validate_records

HOLDOUT = ["weather_observation", "flight_booking", "event_registration"]
SMALL = DataConfig(n_examples=96, holdout_schemas=HOLDOUT, holdout_per_schema=4)


@pytest.fixture(scope="module")
def schemas():
    return load_schemas()


@pytest.fixture(scope="module")
def sample(schemas):
    """40 examples of every schema (960 in all)."""
    return generate(dict.fromkeys(BUILDERS, 40), seed=3, schemas=schemas)


def digest(splits) -> str:
    return hashlib.sha256(
        "".join(to_jsonl(splits[n]) for n in ("train", "test", "holdout")).encode()
    ).hexdigest()


def test_same_seed_same_bytes_other_seed_differs(schemas):
    first = digest(build_dataset(SMALL, schemas))
    assert digest(build_dataset(SMALL, schemas)) == first
    assert digest(build_dataset(SMALL.model_copy(update={"seed": 7}), schemas)) != first


def test_schema_streams_are_independent(schemas):
    # More examples of one schema (or other schemas alongside) must not change a schema's examples.
    alone = generate_schema("invoice", schemas["invoice"], 5, seed=1)
    together = generate({"invoice": 8, "rating": 3}, seed=1, schemas=schemas)
    assert [r for r in together if r["schema_id"] == "invoice"][:5] == alone


def test_every_generated_example_passes_every_check(sample, schemas):
    summary = validate_records(sample, schemas)
    assert summary["n"] == 40 * 24
    assert summary["failed"] == []


def test_records_have_the_design_form(sample, schemas):
    for r in sample:
        assert list(r) == ["id", "schema_id", "complexity", "style", "prompt", "expected_output"]
        assert r["complexity"] == tier_of(schemas[r["schema_id"]])
        assert r["style"] in TIER_STYLES[r["complexity"]]


def _same_order(value, schema) -> bool:
    if isinstance(value, dict):
        order = [k for k in schema["properties"] if k in value]
        return list(value) == order and all(
            _same_order(v, schema["properties"][k]) for k, v in value.items()
        )
    if isinstance(value, list) and schema.get("type") == "array":
        return all(_same_order(v, schema["items"]) for v in value)
    return True


def test_expected_output_keys_follow_schema_order(sample, schemas):
    assert all(_same_order(r["expected_output"], schemas[r["schema_id"]]) for r in sample)


def test_optional_fields_are_sometimes_dropped_and_sometimes_kept(sample, schemas):
    for sid, schema in schemas.items():
        outputs = [r["expected_output"] for r in sample if r["schema_id"] == sid]
        for key in set(schema["properties"]) - set(schema["required"]):
            present = sum(key in o for o in outputs)
            assert 0 < present < len(outputs), f"{sid}.{key} present in {present}/{len(outputs)}"


def test_styles_and_formats_vary(sample):
    for tier, styles in TIER_STYLES.items():
        used = {r["style"] for r in sample if r["complexity"] == tier}
        assert used == set(styles), tier
    prompts = " ".join(r["prompt"] for r in sample)
    for written in ("$", "€", "£", " USD", "°C", "%"):
        assert written in prompts
    invoices = [r for r in sample if r["schema_id"] == "invoice"]
    assert len({r["prompt"].split()[0] for r in invoices}) > 5  # openings differ


def test_distractors_follow_the_rate(schemas):
    from maaza.datagen.render import DISTRACTORS, EXPORT_NOISE

    def share(rate: float) -> float:
        recs = generate(
            {"contact_info": 150, "invoice": 50}, seed=2, distractor_rate=rate, schemas=schemas
        )
        return sum(any(d in r["prompt"] for d in DISTRACTORS + EXPORT_NOISE) for r in recs) / len(
            recs
        )

    assert share(0.0) == 0.0
    assert share(1.0) > 0.9


def test_allocation_follows_the_paper_mix(schemas):
    tiers = {s: tier_of(v) for s, v in schemas.items() if s not in HOLDOUT}
    counts = allocate(787, tiers)
    assert sum(counts.values()) == 787
    by_tier = Counter()
    for sid, n in counts.items():
        by_tier[tiers[sid]] += n
    assert by_tier == {"simple": 378, "medium": 283, "complex": 126}
    assert max(counts.values()) - min(n for s, n in counts.items() if tiers[s] == "simple") == 0


def test_default_dataset_matches_the_paper_split(schemas):
    splits = build_dataset(DataConfig(holdout_schemas=HOLDOUT), schemas)
    assert (len(splits["train"]), len(splits["test"]), len(splits["holdout"])) == (629, 158, 60)
    train, test = (
        Counter(r["schema_id"] for r in splits["train"]),
        Counter(r["schema_id"] for r in splits["test"]),
    )
    for sid in train:  # stratified: every schema's test share is 20% up to rounding
        assert abs(test[sid] - 0.2 * (train[sid] + test[sid])) < 1, sid
    assert leakage(splits) == {"train_test_shared_prompts": 0, "holdout_shared_prompts": 0,
                               "holdout_schemas_in_train_or_test": 0}  # fmt: skip
    assert {r["schema_id"] for r in splits["holdout"]} == set(HOLDOUT)


def test_split_is_stratified_and_disjoint():
    records = [
        {"schema_id": s, "prompt": f"{s}{i}"}
        for s, n in (("a", 50), ("b", 20), ("c", 7))
        for i in range(n)
    ]
    train, test = split_records(records, 0.2, seed=0)
    assert len(test) == 16 and len(train) == 61  # ceil(77 * 0.2)
    assert Counter(r["schema_id"] for r in test) == {"a": 10, "b": 4, "c": 2}
    assert not {r["prompt"] for r in train} & {r["prompt"] for r in test}


def test_unknown_holdout_schema_is_an_error(schemas):
    from maaza.data import DataError

    with pytest.raises(DataError, match="unknown schema"):
        build_dataset(DataConfig(holdout_schemas=["nope"]), schemas)


def test_stage_writes_files_and_report(tmp_path, tiny_model, monkeypatch):
    import json

    import maaza.models
    from maaza.data import run_stage
    from maaza.io import read_jsonl

    monkeypatch.setattr(maaza.models, "load_tokenizer", lambda name: tiny_model[1])
    paths = {n: tmp_path / f"{n}.jsonl" for n in ("train", "test", "holdout")}
    paths |= {"report_json": tmp_path / "report.json", "report_md": tmp_path / "report.md"}
    run_stage(SMALL, paths, tokenizer_name="smollm2-135m-instruct", progress=False)
    report = json.loads(paths["report_json"].read_text())
    assert [report["counts"][n]["n"] for n in ("train", "test", "holdout")] == [76, 20, 12]
    assert all(
        c["pass_rate"] == 1.0
        for split in report["checks"].values()
        for c in split["checks"].values()
    )
    assert (
        report["tokens"]["train"]["complex"]["sequence"]["mean"]
        > report["tokens"]["train"]["simple"]["sequence"]["mean"]
    )
    assert "| grounded | 100.0% (0 failed)" in paths["report_md"].read_text()
    assert len(read_jsonl(paths["train"])) == 76
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        p.name for p in paths.values()
    )  # no temp files


def test_stage_writes_nothing_when_a_check_fails(tmp_path, monkeypatch):
    import maaza.data
    from maaza.data import DataError, run_stage

    real = maaza.data.build_dataset

    def corrupted(*args, **kwargs):
        splits = real(*args, **kwargs)
        splits["test"][0]["expected_output"]["made_up"] = "not in the text"
        return splits

    monkeypatch.setattr(maaza.data, "build_dataset", corrupted)
    paths = {n: tmp_path / n for n in ("train", "test", "holdout", "report_json", "report_md")}
    with pytest.raises(DataError, match="nothing written"):
        run_stage(SMALL, paths, tokenizer_name=None, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_extra_training_examples_leave_the_splits_alone_and_share_no_prompt(schemas):
    base = build_dataset(SMALL, schemas)
    splits = build_dataset(SMALL.model_copy(update={"extra_train": 120}), schemas)
    assert "train_extra" not in base  # paper-sized data: no extra split at all
    for name in ("train", "test", "holdout"):
        assert splits[name] == base[name], name
    extra = splits["train_extra"]
    assert 110 <= len(extra) <= 120  # prompts that collide with another split are dropped
    assert all(r["id"].startswith("x-") for r in extra)
    assert len({r["id"] for r in extra}) == len(extra)
    assert set(leakage(splits).values()) == {0}
    assert {r["schema_id"] for r in extra} <= {r["schema_id"] for r in splits["train"]}
    assert validate_records(extra, schemas)["n_failed"] == 0
    # shuffled, so a prefix is a fair sample: the first quarter already spans most schemas
    assert len({r["schema_id"] for r in extra[:30]}) >= 12


def test_extra_split_settings_change_only_the_extra_split(schemas):
    """extra_optional_drop_rate and extra_name_locales reshape train_extra.jsonl alone."""
    from faker.providers.person.pl_PL import Provider as PolishNames

    plain = build_dataset(SMALL.model_copy(update={"extra_train": 120}), schemas)
    update = {"extra_train": 120, "extra_optional_drop_rate": 1.0, "extra_name_locales": ["pl_PL"]}
    custom = build_dataset(SMALL.model_copy(update=update), schemas)
    for name in ("train", "test", "holdout"):
        assert custom[name] == plain[name], name
    assert validate_records(custom["train_extra"], schemas)["n_failed"] == 0

    def n_keys(recs):
        return sum(len(r["expected_output"]) for r in recs) / len(recs)

    assert n_keys(custom["train_extra"]) < n_keys(plain["train_extra"]) - 0.5  # optionals gone

    def first_names(recs):
        return [
            v.split()[0]
            for r in recs
            for k, v in r["expected_output"].items()
            if k.endswith("name") and isinstance(v, str) and len(v.split()) == 2
        ]

    polish = set(PolishNames.first_names_male) | set(PolishNames.first_names_female)
    names = first_names(custom["train_extra"])
    assert len(names) >= 10
    assert sum(n in polish for n in names) / len(names) > 0.8
    assert sum(n in polish for n in first_names(plain["train_extra"])) < len(names) * 0.3


def test_unknown_name_locale_is_a_config_error():
    with pytest.raises(ValueError, match="unknown Faker locale"):
        type(SMALL).model_validate({**SMALL.model_dump(), "extra_name_locales": ["xx_YY"]})
