"""Helpers shared by the gate tests (a plain module: conftest.py is not importable by name)."""

from __future__ import annotations

import importlib.metadata
import subprocess
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
GATE_SCRIPT = REPO / "scripts" / "gate.sh"
PLUGIN = "runner.pytest_plugin"


def plugin_args() -> list[str]:
    """Arguments that load the chaos pytest plugin in an inner pytest: none when the package is
    installed (the `pytest11` entry point loads it; naming it again would register it twice),
    else `-p runner.pytest_plugin`."""
    installed = any(ep.value == PLUGIN for ep in importlib.metadata.entry_points(group="pytest11"))
    return [] if installed else ["-p", PLUGIN]


@dataclass
class GateRun:
    """What one run of scripts/gate.sh left behind."""

    proc: subprocess.CompletedProcess[str]
    workdir: Path
    summary: Path
    output: Path

    def outputs(self) -> dict[str, str]:
        """The `name=value` lines the script appended to $GITHUB_OUTPUT."""
        pairs = [line.split("=", 1) for line in self.output.read_text().splitlines() if line]
        return dict(pairs)
