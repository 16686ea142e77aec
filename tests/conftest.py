"""Fixtures every test area shares. Area-specific fixtures live in that area's own conftest.py."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

# pytest's own `pytester` fixture (the chaos pytest plugin is tested by running pytest inside pytest);
# pytest only accepts pytest_plugins in the top-level conftest.
pytest_plugins = ("pytester",)

REPO = Path(__file__).resolve().parent.parent


def cli_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for running `chaos` as a subprocess: plain output, repo importable."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env["NO_COLOR"] = "1"
    env.pop("FORCE_COLOR", None)
    env["COLUMNS"] = "200"
    if extra:
        env.update(extra)
    return env


def run_chaos(args: Sequence[str], *, cwd: Path | None = None, env: dict[str, str] | None = None,
              timeout: float = 120, input: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run the real CLI (`python -m runner ...`) in a subprocess and capture its output."""
    return subprocess.run(
        [sys.executable, "-m", "runner", *args],
        cwd=cwd or REPO, env=cli_env(env), capture_output=True, text=True, timeout=timeout,
        input=input, check=False,
    )


@pytest.fixture
def chaos() -> Callable[..., subprocess.CompletedProcess[str]]:
    """`chaos(["validate", path])` runs the real CLI as a subprocess."""
    return run_chaos


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO
