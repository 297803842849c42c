"""No silent overwrite (issue 17): `maaza train --out` and `maaza eval --out` refuse a folder
holding another job's results unless --force, and the metrics name what really ran."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

from typer.testing import CliRunner

from maaza.cli import app

FIXTURES = Path(__file__).parent / "fixtures"
EXTERNAL = FIXTURES / "external"
TRAIN_PARAMS = FIXTURES / "train" / "params.yaml"
runner = CliRunner()


def _eval(out: Path, mode: str, *extra: str):
    return runner.invoke(app, ["eval", "--model", "tiny-random", "--data",
                               str(EXTERNAL / "data.jsonl"), "--schemas", str(EXTERNAL / "schemas"),
                               "--out", str(out), "--mode", mode, "--limit", "2", *extra])  # fmt: skip


def _refused(result, *words: str) -> None:
    assert result.exit_code == 1 and "Traceback" not in result.output, result.output
    text = " ".join(result.output.split())
    for word in words:
        assert word in text, result.output


def test_eval_refuses_another_evaluations_folder_unless_forced(tmp_path):
    """Was: a tiny-random free-mode external evaluation overwrote `ft-...-constrained` with exit
    0, and its metrics took the folder's name."""
    out = tmp_path / "ft-smollm2-135m-r16-constrained"
    first = _eval(out, "free")
    assert first.exit_code == 0, first.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert (metrics["name"], metrics["mode"]) == ("zs-tiny-random-free-external", "free")
    mask = os.umask(0)
    os.umask(mask)
    for name in ("metrics.json", "predictions.jsonl"):  # normal permissions, not mkstemp's 0600
        assert stat.S_IMODE((out / name).stat().st_mode) == 0o666 & ~mask

    before = (out / "metrics.json").read_bytes()
    _refused(_eval(out, "constrained"), f"{out}: holds another evaluation", "--force")
    assert (out / "metrics.json").read_bytes() == before
    assert _eval(out, "free").exit_code == 0  # the same evaluation again may replace itself
    forced = _eval(out, "constrained", "--force")
    assert forced.exit_code == 0, forced.output
    assert json.loads((out / "metrics.json").read_text())["mode"] == "constrained"


def test_eval_refuses_a_training_run_folder(tmp_path):
    run = tmp_path / "runs" / "r"
    (run / "adapter").mkdir(parents=True)
    (run / "train_metrics.json").write_text('{"run": "r"}')
    _refused(_eval(run, "free"), "holds a training run's results")
    assert sorted(p.name for p in run.iterdir()) == ["adapter", "train_metrics.json"]


def test_train_refuses_another_runs_folder_unless_forced(tmp_path):
    """Was: `maaza train --out runs/<existing run>` overwrote its adapter and metrics, exit 0."""
    out = tmp_path / "run"
    out.mkdir()
    (out / "train_metrics.json").write_text('{"run": "some-other-run"}')
    args = ["train", "tiny", "--params", str(TRAIN_PARAMS), "--data",
            str(FIXTURES / "train" / "train.jsonl"), "--out", str(out)]  # fmt: skip
    _refused(runner.invoke(app, args), "holds the results of run 'some-other-run', not 'tiny'")
    assert sorted(p.name for p in out.iterdir()) == ["train_metrics.json"]
    (out / "train_metrics.json").unlink()
    (out / "metrics.json").write_text('{"name": "zs-x-free"}')
    _refused(runner.invoke(app, args), "holds an evaluation's results")
    (out / "metrics.json").unlink()
    (out / "train_metrics.json").write_text('{"run": "some-other-run"}')
    forced = runner.invoke(app, [*args, "--force"])
    assert forced.exit_code == 0, forced.output
    assert json.loads((out / "train_metrics.json").read_text())["run"] == "tiny"
