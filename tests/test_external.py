"""External data (issue 18): the import policies on the hand-written EdgeJSON-form fixture
(tests/fixtures/labelled/, see make_fixture.py), the `data-import` command, the `external:`
params section and the runs and evaluations the plan gives it."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from maaza.cli import app
from maaza.config import DEFAULT_PARAMS, ConfigError, resolve
from maaza.external import FAILED_KEY, ExternalDataError, import_checked, write_external
from maaza.plan import plan_from_params

LABELLED = Path(__file__).parent / "fixtures" / "labelled"
TRAIN, TEST, SCHEMAS = LABELLED / "train.jsonl", LABELLED / "test.jsonl", LABELLED / "schemas"

# The fixture's label noise (make_fixture.py), by record id and line of train.jsonl.
NO_OFFSET = {
    "train-meeting-1": 6,
    "train-meeting-3": 14,
    "train-meeting-5": 22,
    "train-meeting-7": 30,
}
NOISE = {"train-shipment-2": ("schema_valid", 12),  # a key the schema does not allow
         "train-contact_card-4": ("grounded", 17),   # a city the text never mentions
         "train-order_details-6": ("derived", 27)}  # a total that does not add up  # fmt: skip
ALL_IDS = [json.loads(line)["id"] for line in TRAIN.read_text().splitlines()]


def failing(policy: str) -> dict[str, str]:
    """{id: failing check} the fixture should give under a format policy."""
    out = {i: check for i, (check, _) in NOISE.items()}
    if policy == "assert":
        out |= dict.fromkeys(NO_OFFSET, "schema_valid")
    return out


@pytest.mark.parametrize("policy", ["annotation", "assert"])
@pytest.mark.parametrize("on_invalid", ["fail", "drop", "keep"])
def test_each_policy_gives_the_expected_records_and_report(policy, on_invalid):
    result = import_checked(TRAIN, SCHEMAS, on_invalid, policy)
    bad = failing(policy)
    report = result.report
    assert (report["n"], report["n_failed"]) == (40, len(bad))
    counts = {k: c["failed"] for k, c in report["checks"].items()}
    expected = {k: list(bad.values()).count(k) for k in counts}
    assert counts == expected
    ids = [r["id"] for r in result.records]
    if on_invalid == "fail":
        assert result.refused and ids == []  # refused: none to write
    elif on_invalid == "drop":
        assert ids == [i for i in ALL_IDS if i not in bad] and not result.refused
    else:
        assert ids == ALL_IDS and not result.refused
        marked = {r["id"]: list(r[FAILED_KEY]) for r in result.records if FAILED_KEY in r}
        assert marked == {i: [check] for i, check in bad.items()}
    assert report["n_out"] == len(ids)
    # the first failures of each check with file:line
    lines = {i: line for i, (_, line) in NOISE.items()} | (NO_OFFSET if policy == "assert" else {})
    quoted = {f["id"]: f["where"] for fs in report["first_failures"].values() for f in fs}
    assert quoted == {i: f"{TRAIN}:{lines[i]}" for i in bad}


def test_what_the_import_reads_and_fills_in():
    result = import_checked(TRAIN, SCHEMAS, "keep")
    by_id = {r["id"]: r for r in result.records}
    # no complexity in the file: the schema's tier folder gives it
    assert [by_id[f"train-{s}-0"]["complexity"] for s in ("contact_card", "meeting", "order_details")] == [
        "simple", "simple", "medium"
    ]  # fmt: skip
    assert result.report["ignored_keys"] == {"source": 2}
    assert "source" not in by_id["train-contact_card-2"]
    assert set(result.schemas) == {"contact_card", "meeting", "order_details", "shipment"}
    # the test file: clean except one date-time without an offset (an annotation by default)
    assert import_checked(TEST, SCHEMAS).report["n_failed"] == 0
    assert import_checked(TEST, SCHEMAS, "drop", "assert").report["n_out"] == 11


def test_write_external_is_all_or_nothing(tmp_path):
    out = tmp_path / "external"
    splits = {s: import_checked(p, SCHEMAS, "drop") for s, p in (("train", TRAIN), ("test", TEST))}
    write_external(out, splits)
    assert sorted(p.name for p in out.iterdir()) == [
        "schemas", "test.jsonl", "test.report.json", "train.jsonl", "train.report.json",
    ]  # fmt: skip
    assert len((out / "train.jsonl").read_text().splitlines()) == 37
    assert sorted(p.stem for p in (out / "schemas").iterdir()) == sorted(splits["train"].schemas)
    refused = {"train": import_checked(TRAIN, SCHEMAS, "fail"), "test": splits["test"]}
    with pytest.raises(ExternalDataError, match=rf"3 of 40 records of {TRAIN} failed a check"):
        write_external(tmp_path / "other", refused)
    assert not (tmp_path / "other").exists()
    with pytest.raises(ExternalDataError):
        write_external(out, refused)
    assert len((out / "train.jsonl").read_text().splitlines()) == 37  # the old folder stays


def test_data_import_command(tmp_path):
    runner = CliRunner()
    out = tmp_path / "drop" / "train.jsonl"
    args = ["data-import", str(TRAIN), "--schemas", str(SCHEMAS), "--out", str(out)]
    ok = runner.invoke(app, [*args, "--on-invalid", "drop"])
    assert ok.exit_code == 0, ok.output
    assert "wrote 37 of 40 records" in ok.output
    assert len(out.read_text().splitlines()) == 37
    report = json.loads((out.parent / "train.report.json").read_text())
    assert report["on_invalid"] == "drop" and report["format_policy"] == "annotation"
    # the default is fail: the report is written, the records are not
    refused = tmp_path / "fail" / "train.jsonl"
    bad = runner.invoke(
        app, ["data-import", str(TRAIN), "--schemas", str(SCHEMAS), "--out", str(refused)]
    )
    assert bad.exit_code == 1
    assert f"{TRAIN}:12" in bad.output and not refused.exists()
    assert (refused.parent / "train.report.json").exists()
    strict = runner.invoke(app, [*args, "--on-invalid", "drop", "--format-policy", "assert"])
    assert "wrote 33 of 40 records" in strict.output
    usage = runner.invoke(app, [*args, "--on-invalid", "skip"])
    assert usage.exit_code == 2 and "fail, drop, keep" in usage.output
    missing = runner.invoke(
        app, ["data-import", str(tmp_path / "none.jsonl"), "--schemas", str(SCHEMAS)]
    )
    assert missing.exit_code == 1 and "file not found" in missing.output


RAW = {**yaml.safe_load(DEFAULT_PARAMS.read_text()), "external": {}}


def with_external(**entry) -> dict:
    raw = copy.deepcopy(RAW)
    raw["external"] = {
        "fixture": {"train": str(TRAIN), "test": str(TEST), "schemas": str(SCHEMAS), **entry}
    }
    return raw


def test_external_params_and_plan():
    assert plan_from_params(resolve(copy.deepcopy(RAW))).external_runs == ()
    params = resolve(with_external())
    plan = plan_from_params(params)
    # default: every paper_recipe and ours run, under their settings, on the external data alone
    assert [(r.name, r.role) for r in plan.external_runs] == [
        ("fixture-smollm2-135m-r16", "paper_recipe"), ("fixture-smollm2-135m-maaza", "ours"),
    ]  # fmt: skip
    ours = params.train_run("fixture-smollm2-135m-maaza")
    assert (
        ours.extra_train == 0
        and ours.learning_rate == params.train_run("smollm2-135m-maaza").learning_rate
    )
    assert (
        resolve(with_external(extra=True)).train_run("fixture-smollm2-135m-maaza").extra_train > 0
    )
    evals = plan.evals_of("fixture-smollm2-135m-r16")
    assert [(e.name, e.mode) for e in evals] == [
        ("ft-fixture-smollm2-135m-r16-free-external", "free"),
        ("ft-fixture-smollm2-135m-r16-constrained-external", "constrained"),
    ]
    assert (
        str(evals[0].out_dir()) == "results/eval/external/ft-fixture-smollm2-135m-r16-free-external"
    )
    assert str(evals[0].data_file()) == "data/external/test.jsonl"
    assert (
        str(plan.run("fixture-smollm2-135m-r16").dir()) == "runs/external/fixture-smollm2-135m-r16"
    )
    assert all(e.name not in {x.name for x in plan.evals} for e in plan.external_evals)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"runs": ["nope"]}, "external.fixture.runs[0]: unknown run 'nope'"),
        ({"on_invalid": "skip"}, "external.fixture.on_invalid"),
        ({"tain": "x"}, "external.fixture.tain: unknown key"),
    ],
)
def test_bad_external_params(change, message):
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        resolve(with_external(**change))


def test_one_dataset_with_a_plain_name():
    raw = with_external()
    raw["external"]["other"] = raw["external"]["fixture"]
    with pytest.raises(ConfigError, match="one dataset at a time"):
        resolve(raw)
    raw = with_external()
    raw["external"] = {"Edge JSON": raw["external"]["fixture"]}
    with pytest.raises(ConfigError, match="lowercase letters"):
        resolve(raw)


# ----------------------------------------------------------------------------- the report's table
REPORT = Path(__file__).parent / "fixtures" / "report"


def paths_for(src: Path, out: Path, params: Path = REPORT / "params.yaml"):
    from maaza.report import ReportPaths

    return ReportPaths(
        runs_dir=src / "runs", eval_dir=src / "results" / "eval",
        data_report=src / "data" / "report.json", params_file=params,
        figures_dir=out / "figures", tables_dir=out / "paper" / "tables",
        generated_dir=out / "paper" / "generated", bench_dir=src / "results" / "bench",
    )  # fmt: skip


def external_results_tree(tmp_path: Path, name: str) -> tuple[Path, Path]:
    """The report fixture plus made-up results of the external dataset `name` (its paper-recipe
    run in free mode; the rest missing), and a params file declaring it."""
    import shutil

    src = tmp_path / "src"
    shutil.copytree(REPORT, src)
    params = yaml.safe_load((REPORT / "params.yaml").read_text())
    params["external"] = {name: {"train": "t.jsonl", "test": "t.jsonl", "schemas": "s"}}
    (src / "params.yaml").write_text(yaml.safe_dump(params))
    run, base = f"{name}-smollm2-135m-r16", "ft-smollm2-135m-r16-free"
    target = src / "results" / "eval" / "external" / f"ft-{run}-free-external"
    shutil.copytree(REPORT / "results" / "eval" / base, target)
    metrics = json.loads((target / "metrics.json").read_text())
    metrics |= {"name": target.name, "run": run, "split": "external"}
    (target / "metrics.json").write_text(json.dumps(metrics))
    return src, src / "params.yaml"


@pytest.mark.parametrize("name", ["edgejson", "mydata"])
def test_the_report_adds_the_external_table(tmp_path, name):
    from maaza.report import load_frames, load_reference
    from maaza.report.tables import external_results

    src, params = external_results_tree(tmp_path, name)
    frames = load_frames(paths_for(src, tmp_path / "out", params))
    tex = external_results(frames, load_reference())
    assert f"Trained and tested on \\texttt{{{name}}}" in tex
    assert "results/eval/external/ft-" in tex  # the source files are named
    assert tex.count("71.4\\%") == 1  # the one evaluation found; the other three "not run"
    assert tex.count("\\notrun") == 3
    # the paper's reported numbers (on its EdgeJSON test file) sit beside ours only for edgejson
    assert ("Reported by the original paper" in tex) == (name == "edgejson")
    assert ("Maaza-MLM-135M" in tex) == (name == "edgejson")
    # the main results ignore the external folders
    assert not any("external" in n for n in frames.evals["name"])


def test_without_external_data_the_report_writes_no_external_table(tmp_path):
    from maaza.report import build_report, load_frames

    paths = paths_for(REPORT, tmp_path)
    assert load_frames(paths).external is None
    stale = paths.tables_dir / "external.tex"
    stale.parent.mkdir(parents=True)
    stale.write_text("% from an earlier run with external data\n")
    build_report(paths, progress=False)
    assert not stale.exists() and (paths.tables_dir / "main_results.tex").exists()
