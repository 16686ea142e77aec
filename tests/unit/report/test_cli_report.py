"""`chaos report DIR [-o ...]` through the real CLI, on directories written by write_reports: the
run's exit code in every format, and one clear paragraph with exit 2 for anything that is not a
valid report.json."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import tests.unit.report.report_samples as report_samples
from runner.engine.result import RunResult
from runner.report import write_reports


def test_text(chaos, written: tuple[RunResult, Path, list[Path]]) -> None:
    result, run_dir, paths = written
    proc = chaos(["report", str(run_dir)])
    assert proc.returncode == result.exit_code, proc.stderr
    out = proc.stdout
    assert result.verdict.value.upper() in out
    assert result.reason[:40] in out
    for step in result.steps:
        assert step.name in out
    for path in paths:
        assert str(path) in out
    assert "\x1b[" not in out  # NO_COLOR and a pipe: plain
    if result.rollback.leftovers:
        assert f"chaos recover {result.run_dir}" in out


def test_json_md_html(chaos, tmp_path: Path) -> None:
    result = report_samples.rollback_incomplete()
    write_reports(result, tmp_path)
    as_json = chaos(["report", str(tmp_path), "-o", "json"])
    assert as_json.returncode == 5, as_json.stderr
    assert json.loads(as_json.stdout) == json.loads((tmp_path / "report.json").read_text())
    assert RunResult.from_json(json.loads(as_json.stdout)) == result
    md = chaos(["report", str(tmp_path), "-o", "md"])
    assert md.returncode == 5
    assert md.stdout.startswith("## 🚨 ")
    assert "chaos recover" in md.stdout
    page = chaos(["report", str(tmp_path / "report.json"), "--output", "html"])
    assert page.returncode == 5
    assert page.stdout.startswith("<!DOCTYPE html>")
    assert "ROLLBACK-INCOMPLETE" in page.stdout


def test_errors_are_messages_not_tracebacks(chaos, tmp_path: Path) -> None:
    missing = chaos(["report", str(tmp_path / "nope")])
    assert missing.returncode == 2
    assert "no report.json" in missing.stderr
    assert "Traceback" not in missing.stderr
    (tmp_path / "report.json").write_text("{broken")
    corrupt = chaos(["report", str(tmp_path)])
    assert corrupt.returncode == 2
    assert "cannot be read as JSON" in corrupt.stderr
    assert "Traceback" not in corrupt.stderr
    write_reports(report_samples.passed(), tmp_path)
    bad = chaos(["report", str(tmp_path), "-o", "yaml"])
    assert bad.returncode == 2
    assert "-o must be one of" in bad.stderr


FORMATS = ["text", "json", "md", "html"]


@pytest.mark.parametrize("output", FORMATS)
def test_exits_with_the_runs_exit_code(chaos, written: tuple[RunResult, Path, list[Path]],
                                       output: str) -> None:
    result, run_dir, _ = written
    saved = json.loads((run_dir / "report.json").read_text())
    assert saved["exit_code"] == result.exit_code
    proc = chaos(["report", str(run_dir), "-o", output])
    assert proc.returncode == result.exit_code, proc.stderr
    assert proc.stderr == ""


def _edit(change: Callable[[dict[str, Any]], None]) -> Callable[[Path], str]:
    """A breakage that edits a valid report.json; returns the field the message must name."""
    def apply(path: Path) -> str:
        data = json.loads(path.read_text())
        change(data)
        path.write_text(json.dumps(data))
        return ""
    return apply


def _set(field: str, value: Any) -> Callable[[Path], str]:
    def apply(path: Path) -> str:
        data = json.loads(path.read_text())
        target = data
        *parents, last = field.replace("[", ".").replace("]", "").split(".")
        for part in parents:
            target = target[int(part)] if part.isdigit() else target[part]
        target[int(last) if last.isdigit() else last] = value
        path.write_text(json.dumps(data))
        return field
    return apply


def _write(content: bytes, names: str = "") -> Callable[[Path], str]:
    def apply(path: Path) -> str:
        path.write_bytes(content)
        return names
    return apply


def _replace_with_directory(path: Path) -> str:
    path.unlink()
    path.mkdir()
    (path / "x").write_text("{}")
    return "a directory"


def _replace_with_fifo(path: Path) -> str:
    path.unlink()
    os.mkfifo(path)
    return "a FIFO"


BREAKAGES: dict[str, Callable[[Path], str]] = {
    "started_at a word": _set("started_at", "yesterday"),
    "steps not a list": _set("steps", {"name": "x"}),
    "verdict unknown": _set("verdict", "mostly-fine"),
    "exit code disagrees": _set("exit_code", 4),
    "step status unknown": _set("steps[0].status", "green"),
    "evidence not a list": _set("steps[1].evidence", "none"),
    "event time a string": _set("timeline[0].at", "noon"),
    "armed_at negative": _set("fault.armed_at", -5),
    "time past year 9999": _set("finished_at", 1e300),
    "rollback missing": _edit(lambda d: d.pop("rollback")),
    "NaN": _write(b'{"run_id": "x", "started_at": NaN}', "NaN"),
    "binary garbage": _write(bytes(range(256)) * 4, "not UTF-8"),
    "empty file": _write(b"", "empty"),
    "a JSON array": _write(b"[1, 2]", "an array"),
    "a directory named report.json": _replace_with_directory,
    "a FIFO named report.json": _replace_with_fifo,
}


@pytest.mark.parametrize("output", FORMATS)
@pytest.mark.parametrize("breakage", sorted(BREAKAGES))
def test_a_bad_report_is_one_clear_paragraph(chaos, tmp_path: Path, breakage: str, output: str) -> None:
    write_reports(report_samples.passed(), tmp_path)
    path = tmp_path / "report.json"
    names = BREAKAGES[breakage](path)
    proc = chaos(["report", str(tmp_path), "-o", output], timeout=30)  # a FIFO must not block
    assert proc.returncode == 2, (proc.stdout[-500:], proc.stderr)
    assert proc.stdout == ""
    assert "Traceback" not in proc.stderr
    message = proc.stderr.strip()
    assert "\n" not in message, message  # one paragraph
    assert message.startswith(f"error: {path} "), message
    if names:
        assert names in message, message


def test_a_bad_field_is_named(chaos, tmp_path: Path) -> None:
    write_reports(report_samples.passed(), tmp_path)
    _set("started_at", "yesterday")(tmp_path / "report.json")
    proc = chaos(["report", str(tmp_path), "-o", "json"])
    assert proc.stderr.strip() == (
        f"error: {tmp_path / 'report.json'} is not a valid run report: field started_at: \"yesterday\" is "
        "a string, expected number. `chaos report` reads the report.json that `chaos run` writes "
        "(schema/report.schema.json).")
    _set("exit_code", 3)(tmp_path / "report.json")
    _set("started_at", 1.0)(tmp_path / "report.json")
    proc = chaos(["report", str(tmp_path)])
    assert "field exit_code: 3 does not match verdict 'passed' (exit 0)" in proc.stderr


def test_a_report_without_exit_code_still_loads(chaos, tmp_path: Path) -> None:
    """report.json written before it carried exit_code: the code follows from the verdict."""
    write_reports(report_samples.failed(), tmp_path)
    _edit(lambda d: d.pop("exit_code"))(tmp_path / "report.json")
    proc = chaos(["report", str(tmp_path), "-o", "json"])
    assert proc.returncode == 1, proc.stderr
    assert json.loads(proc.stdout)["exit_code"] == 1
