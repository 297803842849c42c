"""Every maaza entry point makes waiting OpenMP threads sleep (maaza/__init__.py), unless the
environment says otherwise: spinning threads make a 2-core decode or training several times
slower beside any other process."""

import os
import subprocess
import sys

CODE = "import maaza.evaluate, os; print(os.environ.get('OMP_WAIT_POLICY'))"


def _policy(env_value: str | None) -> str:
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    if env_value is not None:
        env["OMP_WAIT_POLICY"] = env_value
    out = subprocess.run([sys.executable, "-c", CODE], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_passive_by_default():
    assert _policy(None) == "PASSIVE"


def test_the_environment_wins():
    assert _policy("ACTIVE") == "ACTIVE"
