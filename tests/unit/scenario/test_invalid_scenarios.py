"""Every file under invalid/ is refused with the exact code, field and place its header names.

Each file starts with `# expect: CODE FIELD LINE:COL` (FIELD `-` when the problem has no field).
All of them go through the real CLI (a subprocess) and through the library.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from runner.scenario.problems import CODES, Severity
from runner.scenario.validate import validate_file

INVALID = Path(__file__).parent / "invalid"
CASES = sorted(INVALID.glob("*.yaml"))


def expectation(path: Path) -> tuple[str, str, int, int]:
    header = path.read_text(encoding="utf-8").splitlines()[0]
    code, field, place = header.removeprefix("# expect:").split()
    line, column = place.split(":")
    return code, "" if field == "-" else field, int(line), int(column)


def test_there_are_enough_cases() -> None:
    assert len(CASES) >= 30


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.stem)
def test_library_reports_exact_problem(path: Path) -> None:
    code, field, line, column = expectation(path)
    result = validate_file(path)
    errors = [(p.code, p.field, p.line, p.column) for p in result.problems if p.severity is Severity.ERROR]
    assert (code, field, line, column) in errors
    assert not result.passed()
    assert CODES[code].severity is Severity.ERROR


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.stem)
def test_cli_reports_exact_problem(path: Path,
                                   chaos: Callable[..., subprocess.CompletedProcess[str]]) -> None:
    code, field, line, column = expectation(path)
    shown = str(path.relative_to(Path.cwd())) if path.is_relative_to(Path.cwd()) else str(path)
    proc = chaos(["validate", shown])
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    # the text line the brief fixes: `file:line:col  CODE  field  message`, then an indented hint
    prefix = f"{shown}:{line}:{column}  {code}  {field or '-'}  error: "
    lines = proc.stdout.splitlines()
    index = next(i for i, text in enumerate(lines) if text.startswith(prefix))
    assert lines[index + 1].startswith("    hint: ")
    assert lines[-1].startswith("1 file, ")


def test_cli_json_for_all_invalid_files(chaos: Callable[..., subprocess.CompletedProcess[str]]) -> None:
    proc = chaos(["validate", "-o", "json", str(INVALID)])
    assert proc.returncode == 2
    report = json.loads(proc.stdout)
    assert report["summary"]["files"] == len(CASES)
    assert report["summary"]["valid"] is False
    by_path = {Path(f["path"]).name: f for f in report["files"]}
    for path in CASES:
        code, field, line, column = expectation(path)
        problems = by_path[path.name]["problems"]
        assert {"code": code, "field": field, "line": line, "column": column} in [
            {k: p[k] for k in ("code", "field", "line", "column")} for p in problems], path.name
