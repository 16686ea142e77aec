"""Fixtures for the report tests: sample results written to real run directories, and Chromium."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # report_samples lives next to the tests

import tests.unit.report.report_samples as report_samples
from runner.engine.result import RunResult
from runner.report import write_reports
from tests.unit.report.junit_check import junit_xsd_path  # noqa: F401  (a fixture)

VERDICTS = sorted(report_samples.ALL)


@pytest.fixture(params=VERDICTS)
def sample(request: pytest.FixtureRequest) -> RunResult:
    """One RunResult per verdict the engine can produce (built in code)."""
    return report_samples.ALL[request.param]()


@pytest.fixture
def written(sample: RunResult, tmp_path: Path) -> tuple[RunResult, Path, list[Path]]:
    run_dir = tmp_path / "run"
    return sample, run_dir, write_reports(sample, run_dir)


CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"]


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def run_chromium(url: str, profile: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    exe = find_chromium()
    if exe is None:
        pytest.skip("chromium is not installed (apt-get install -y chromium; listed in .ci/apt-packages)")
    return subprocess.run([exe, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *extra, url],
                          capture_output=True, text=True, timeout=120, check=False)


def console_messages(stderr: str) -> list[str]:
    """Lines Chromium logs for page console output and uncaught errors (--enable-logging=stderr)."""
    return [line for line in stderr.splitlines() if ":CONSOLE" in line or "Uncaught" in line]
