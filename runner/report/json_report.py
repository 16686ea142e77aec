"""`report.json`: the machine-readable result, and the way back from it.

The file is exactly `RunResult.to_json()` (after redaction) so that `chaos report DIR` and other
tools rebuild the same result; `schema/report.schema.json` describes it. This module must not
render anything for people.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from runner.engine.result import RunResult
from runner.errors import ChaosError

FILENAME = "report.json"


def dumps(result: RunResult) -> str:
    """The report as JSON text (stable key order, UTF-8 kept readable)."""
    return json.dumps(result.to_json(), indent=2, ensure_ascii=False) + "\n"


def write(result: RunResult, run_dir: Path) -> Path:
    path = run_dir / FILENAME
    path.write_text(dumps(result), encoding="utf-8")
    return path


def load(run_dir: Path) -> RunResult:
    """The RunResult saved in `run_dir` (or given as the report.json path itself)."""
    path = run_dir / FILENAME if run_dir.is_dir() else run_dir
    if not path.exists():
        raise ChaosError(f"no {FILENAME} in {run_dir}: is this a run directory?")
    try:
        data: Any = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ChaosError(f"{path} cannot be read as JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ChaosError(f"{path} is not a run report (expected a JSON object)")
    try:
        return RunResult.from_json(data)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ChaosError(f"{path} is not a valid run report: {type(exc).__name__}: {exc}") from exc
