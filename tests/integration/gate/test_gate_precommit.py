"""The pre-commit hook (`.pre-commit-hooks.yaml`): its manifest, and pre-commit itself running it.

`pre-commit try-repo` installs this repository into its own virtualenv (pip, from PyPI or the
configured wheel sources) the first time; PRE_COMMIT_HOME is one temporary directory per test
session so that happens once.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from tests.integration.gate.gate_support import REPO


def _hook() -> dict[str, object]:
    hooks = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())
    (hook,) = (h for h in hooks if h["id"] == "chaos-validate")
    return dict(hook)


def test_hook_manifest() -> None:
    hook = _hook()
    assert hook["entry"] == "chaos validate"
    assert hook["language"] == "python"
    assert hook["pass_filenames"] is True
    files = re.compile(str(hook["files"]))
    exclude = re.compile(str(hook.get("exclude", "^$")))

    def selected(path: str) -> bool:
        return bool(files.search(path)) and not exclude.search(path)

    assert selected("scenarios/xid79.yaml")
    assert selected("scenarios/team-a/xid48.yml")
    assert not selected("scenarios/manifests/vllm-worker.yaml")  # manifests are not scenarios
    assert not selected("deploy/values.yaml")
    assert not selected("scenarios/README.md")


def test_validate_takes_several_files(chaos: Callable[..., subprocess.CompletedProcess[str]],
                                      tmp_path: Path) -> None:
    """pre-commit passes the staged files as arguments: several at once must work."""
    names = ["xid79.yaml", "xid48.yaml", "xid94.yaml"]
    ok = chaos(["validate", *(f"scenarios/{n}" for n in names)])
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert ok.stdout.splitlines()[-1] == "3 files, 0 errors, 0 warnings"
    bad = tmp_path / "bad.yaml"
    bad.write_text("apiVersion: chaos/v2\n")
    mixed = chaos(["validate", "scenarios/xid79.yaml", str(bad), "scenarios/xid48.yaml"])
    assert mixed.returncode == 2
    assert mixed.stdout.splitlines()[-1].startswith("3 files, ")
    assert f"{bad}:1:" in mixed.stdout


@pytest.fixture(scope="session")
def pre_commit_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("pre-commit-home")


def _project(tmp_path: Path) -> Path:
    """A git repository with the bundled scenarios, one broken copy and an unrelated YAML file."""
    project = tmp_path / "project"
    shutil.copytree(REPO / "scenarios", project / "scenarios")
    text = (project / "scenarios" / "xid79.yaml").read_text()
    (project / "scenarios" / "broken.yaml").write_text(text.replace("pin: preferred", "pin: soft"))
    (project / "deploy").mkdir()
    (project / "deploy" / "values.yaml").write_text("not: [a, scenario\n")  # outside files: skipped
    for args in (["init", "-q"], ["add", "-A"]):
        subprocess.run(["git", *args], cwd=project, check=True, capture_output=True)
    return project


@pytest.mark.slow
def test_pre_commit_try_repo(tmp_path: Path, pre_commit_home: Path) -> None:
    if not (REPO / ".git").exists():
        pytest.fail("try-repo needs this project as a git checkout")
    project = _project(tmp_path)
    env = {**os.environ, "PRE_COMMIT_HOME": str(pre_commit_home), "NO_COLOR": "1",
           "PRE_COMMIT_COLOR": "never"}
    env.pop("PYTHONPATH", None)  # the hook must run from its own install, not from this checkout

    def try_repo(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "pre_commit", "try-repo", str(REPO), "chaos-validate",
                               "--color", "never", *args], cwd=project, env=env, capture_output=True,
                              text=True, timeout=600, check=False)

    good = try_repo("--files", "scenarios/xid79.yaml", "scenarios/xid48.yaml", "deploy/values.yaml")
    assert good.returncode == 0, good.stdout + good.stderr
    assert re.search(r"chaos validate\.+Passed", good.stdout), good.stdout

    everything = try_repo("--all-files")
    assert everything.returncode == 1, everything.stdout + everything.stderr
    assert re.search(r"chaos validate\.+Failed", everything.stdout)
    assert "exit code: 2" in everything.stdout
    line = next(n for n, t in enumerate((project / "scenarios" / "broken.yaml").read_text().splitlines(), 1)
                if "pin: soft" in t)
    assert f"scenarios/broken.yaml:{line}:" in everything.stdout
    assert "CH013" in everything.stdout
    assert "deploy/values.yaml" not in everything.stdout  # not a scenario path: never passed
    assert "manifests" not in everything.stdout
