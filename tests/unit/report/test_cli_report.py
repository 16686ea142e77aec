"""`chaos report DIR [-o ...]` through the real CLI, on directories written by write_reports."""

from __future__ import annotations

import json
from pathlib import Path

import tests.unit.report.report_samples as report_samples
from runner.engine.result import RunResult
from runner.report import write_reports


def test_text(chaos, written: tuple[RunResult, Path, list[Path]]) -> None:
    result, run_dir, paths = written
    proc = chaos(["report", str(run_dir)])
    assert proc.returncode == 0, proc.stderr
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
    assert as_json.returncode == 0, as_json.stderr
    assert json.loads(as_json.stdout) == json.loads((tmp_path / "report.json").read_text())
    assert RunResult.from_json(json.loads(as_json.stdout)) == result
    md = chaos(["report", str(tmp_path), "-o", "md"])
    assert md.returncode == 0
    assert md.stdout.startswith("## 🚨 ")
    assert "chaos recover" in md.stdout
    page = chaos(["report", str(tmp_path / "report.json"), "--output", "html"])
    assert page.returncode == 0
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
