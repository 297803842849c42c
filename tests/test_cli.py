"""The command line's conventions (issue 19): -h everywhere, --version, one name for the params
file, the same --mode default in `eval` and `extract`, and where the Extractor looks for runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

import maaza
import maaza.extract as ex
from maaza.cli import app
from maaza.config import DEFAULT_MODE, DEFAULT_PARAMS

runner = CliRunner()
COMMAND = typer.main.get_command(app)
COMMANDS = sorted(COMMAND.commands)


def _options(command: str) -> dict:
    return {p.name: p for p in COMMAND.commands[command].params if p.param_type_name == "option"}


@pytest.mark.parametrize("args", [[], *([c] for c in COMMANDS)])
def test_dash_h_is_help_everywhere(args):
    result = runner.invoke(app, [*args, "-h"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output
    assert result.output == runner.invoke(app, [*args, "--help"]).output


def test_version():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"maaza {maaza.__version__}"


def test_the_params_file_option_has_one_name():
    for command in COMMANDS:
        for option in _options(command).values():
            if "params" in option.name and option.name != "path":
                assert option.opts == ["--params"], (command, option.opts)
    assert {c for c in COMMANDS if "params_path" in _options(c)} >= {"params", "eval", "train"}


def test_params_path_is_a_hidden_deprecated_alias():
    assert _options("params")["path"].hidden
    new = runner.invoke(app, ["params", "--params", str(DEFAULT_PARAMS), "--profile", "quick"])
    old = runner.invoke(app, ["params", "--path", str(DEFAULT_PARAMS), "--profile", "quick"])
    assert new.exit_code == old.exit_code == 0
    assert "--path is deprecated; use --params" in old.output
    assert '"profile": "quick"' in new.output and new.output in old.output


def test_eval_and_extract_default_to_the_same_mode():
    defaults = {c: _options(c)["mode"].default for c in ("eval", "extract")}
    assert (
        defaults == {"eval": DEFAULT_MODE, "extract": DEFAULT_MODE}
        and DEFAULT_MODE == "constrained"
    )


def _fake_run(root: Path, run: str) -> None:
    (root / "runs" / run / "adapter").mkdir(parents=True)
    (root / "runs" / run / "adapter" / "adapter_config.json").write_text('{"peft_type": "LORA"}')
    metrics = {"run": run, "model": "tiny-random", "prompt_format": "compact"}
    (root / "runs" / run / "train_metrics.json").write_text(json.dumps(metrics))


def test_installed_outside_a_checkout_needs_maaza_root(tmp_path, monkeypatch):
    """maaza in site-packages: PROJECT_ROOT is no checkout; runs come from $MAAZA_ROOT or --root."""
    monkeypatch.setattr(ex, "PROJECT_ROOT", tmp_path / "site-packages")
    monkeypatch.delenv(ex.ROOT_ENV, raising=False)
    assert not ex.in_checkout()
    with pytest.raises(ex.NoAdapterError, match="outside a checkout.*set MAAZA_ROOT"):
        ex.choose_source()
    project = tmp_path / "project"
    _fake_run(project, "a-r8")
    assert ex.choose_source(root=project).run == "a-r8"
    monkeypatch.setenv(ex.ROOT_ENV, str(project))
    assert ex.choose_source().run == "a-r8"
    assert ex.choose_source(zero_shot=True).adapter is None  # no runs needed


def test_cli_extract_outside_a_checkout_is_one_clear_line(tmp_path, monkeypatch):
    monkeypatch.setattr(ex, "PROJECT_ROOT", tmp_path / "site-packages")
    monkeypatch.delenv(ex.ROOT_ENV, raising=False)
    schema = tmp_path / "s.json"
    schema.write_text('{"type": "object", "properties": {"a": {"type": "string"}}}')
    result = runner.invoke(app, ["extract", "--schema", str(schema), "text"])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "MAAZA_ROOT" in lines[0], result.output
