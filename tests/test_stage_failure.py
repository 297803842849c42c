"""A killed stage loses no committed result: DVC deletes a stage's outputs before running it (ours
are kept in git, cache: false), and `make restore` puts them back as the last commit has them."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent  # the venv's bin: dvc, papermill


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_killed_stage_is_undone_by_make_restore(tmp_path):
    clone = tmp_path / "repo"
    subprocess.run(["git", "clone", "-q", "--local", str(ROOT), str(clone)], check=True)
    pdf = clone / "paper" / "main.pdf"
    committed = pdf.read_bytes()
    env = {**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}"}
    proc = subprocess.Popen(
        [str(BIN / "dvc"), "repro", "-s", "-f", "paper"], cwd=clone, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    for _ in range(6000):  # bounded wait (10 min) for DVC to delete the output
        if not pdf.exists() or proc.poll() is not None:
            break
        time.sleep(0.1)
    proc.kill()
    proc.wait()
    assert not pdf.exists(), "the stage was not killed after DVC deleted its output"
    subprocess.run(["make", "restore", f"BIN={BIN}"], cwd=clone, env=env, check=True,
                   capture_output=True)  # fmt: skip
    assert pdf.read_bytes() == committed
    status = subprocess.run(["git", "status", "--porcelain"], cwd=clone, capture_output=True,
                            text=True, check=True).stdout  # fmt: skip
    assert status == ""


def test_stages_find_papermill_without_the_venv_on_path():
    """dvc.yaml calls scripts/papermill (the venv's Python), never a bare `papermill`, so a
    `dvc repro` outside the venv does not fail after DVC has deleted the outputs."""
    import yaml

    cmds = []
    for stage in yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"].values():
        cmd = stage.get("do", stage).get("cmd", "")
        cmds.append(" ".join(cmd) if isinstance(cmd, list) else cmd)
    notebook_cmds = [c for c in cmds if "papermill" in c]
    assert notebook_cmds and all(c.startswith("scripts/papermill ") for c in notebook_cmds)
    bare = {"PATH": "/usr/bin:/bin", "HOME": os.environ.get("HOME", "/tmp")}
    out = subprocess.run([str(ROOT / "scripts" / "papermill"), "--version"], env=bare,
                         capture_output=True, text=True, check=True)  # fmt: skip
    assert "papermill" in out.stdout  # e.g. "2.7.0 from .../papermill/cli.py"
