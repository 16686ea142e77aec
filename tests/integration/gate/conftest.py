"""Fixtures for the PR-gate tests: a copy of the bundled scenarios and the gate script runner."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.integration.gate.gate_support import GATE_SCRIPT, REPO, GateRun
from tests.integration.gate.sim_support import Sim
from tests.unit.report.junit_check import junit_xsd_path  # noqa: F401  (a fixture: the JUnit XSD)


@pytest.fixture
def scenario_dir(tmp_path: Path) -> Path:
    """A project directory holding a copy of the bundled scenarios (with their manifests)."""
    project = tmp_path / "project"
    shutil.copytree(REPO / "scenarios", project / "scenarios")
    return project


@pytest.fixture
def gate(tmp_path: Path) -> Callable[..., GateRun]:
    """Run the action's script the way action.yml does, with fake GitHub files in tmp_path."""

    def run(workdir: Path, **inputs: str) -> GateRun:
        summary = tmp_path / "step-summary.md"
        output = tmp_path / "github-output"
        summary.write_text("")
        output.write_text("")
        env = dict(os.environ)
        env.update({
            "PYTHONPATH": str(REPO),
            "NO_COLOR": "1",
            "GITHUB_STEP_SUMMARY": str(summary),
            "GITHUB_OUTPUT": str(output),
            "CHAOS_GATE_CHAOS": f"{sys.executable} -m runner",
            "CHAOS_GATE_PYTHON": sys.executable,
        })
        env.update({f"CHAOS_GATE_{k.upper()}": v for k, v in inputs.items()})
        proc = subprocess.run(["bash", str(GATE_SCRIPT)], cwd=workdir, env=env, capture_output=True,
                              text=True, timeout=600, check=False)
        return GateRun(proc, workdir, summary, output)

    return run


@pytest.fixture(scope="session")
def sim_build_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One compile of the embedded cluster's worker image per session."""
    return tmp_path_factory.mktemp("sim-images")


@pytest.fixture
def sim(tmp_path: Path, sim_build_dir: Path) -> Iterator[Sim]:
    """A seeded embedded cluster for one test (see sim_support.py)."""
    from tests.integration.gate.sim_support import seeded_sim

    with seeded_sim(tmp_path / "sim", sim_build_dir) as started:
        yield started
