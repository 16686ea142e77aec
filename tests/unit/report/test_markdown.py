"""summary.md: verdict, steps table, key timings from the timeline, rollback and recovery."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import tests.unit.report.report_samples as report_samples
from runner.engine.result import RunResult
from runner.report import markdown
from runner.report.markdown import STATUS_EMOJI, VERDICT_EMOJI


def _table_rows(text: str, header: str) -> list[list[str]]:
    lines = text.splitlines()
    start = lines.index(header)
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        # split on unescaped pipes only
        rows.append([c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]])
    return rows


def test_summary_has_verdict_steps_and_fault(written: tuple[RunResult, Path, list[Path]]) -> None:
    result, run_dir, _ = written
    text = (run_dir / "summary.md").read_text()
    first = text.splitlines()[0]
    assert first.startswith(f"## {VERDICT_EMOJI[result.verdict]} ")
    assert result.verdict.value.upper() in first
    assert f"exit {result.exit_code}" in first
    assert result.reason in text
    assert f"XID {result.fault.xid}" in text
    assert result.fault.node in text
    rows = _table_rows(text, "| | Step | Kind | Duration | Message |")
    assert [r[1] for r in rows] == [s.name for s in result.steps]
    assert [r[0] for r in rows] == [f"{STATUS_EMOJI[s.status]} {s.status.value}" for s in result.steps]
    assert all(len(r) == 5 for r in rows)


def test_key_timings_come_from_the_timeline() -> None:
    text = markdown.render(report_samples.passed())
    rows = {r[0]: r for r in _table_rows(text, "| Event | When | After arming |")}
    # armed at +40s; injection +42.5; crash +44; cordon +58; first Ready on gpu-node-2 at +121
    assert rows["first injection"][2] == "2.5s"
    assert rows["first pod crash"][2] == "4.0s"
    assert rows["node cordoned"][2] == "18.0s"
    assert rows["Ready on another node"][2] == "1m21s"
    failed = {r[0]: r for r in _table_rows(markdown.render(report_samples.failed()),
                                           "| Event | When | After arming |")}
    assert failed["Ready on another node"][1] == "did not happen"


def test_dirty_run_says_how_to_recover() -> None:
    dirty = markdown.render(report_samples.rollback_incomplete())
    assert "INCOMPLETE" in dirty
    assert "chaos recover reports/x-dirty" in dirty
    for leftover in report_samples.rollback_incomplete().rollback.leftovers:
        assert markdown.md(leftover) in dirty
    assert "chaos recover" not in markdown.render(report_samples.passed())


def test_user_text_cannot_break_the_table_or_inject_html() -> None:
    base = report_samples.passed()
    step = dataclasses.replace(base.steps[0], name="a|b <img src=x onerror=alert(1)>",
                               message="line1\nline2 | `code` *bold*")
    text = markdown.render(dataclasses.replace(base, steps=(step, *base.steps[1:])))
    rows = _table_rows(text, "| | Step | Kind | Duration | Message |")
    assert all(len(r) == 5 for r in rows)
    assert "<img" not in text
    assert "&lt;img" in text
    assert "\\|" in rows[0][1]
