"""report.html: self-contained, escaped, draws the timeline, and opens in headless Chromium
without console errors."""

from __future__ import annotations

import dataclasses
import re
from html.parser import HTMLParser
from pathlib import Path

import tests.unit.report.report_samples as report_samples
from runner.engine.result import RunResult, StepStatus
from runner.report import html
from runner.report.html import MARKERS, STATUS_COLOUR
from tests.unit.report.conftest import console_messages, run_chromium


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def _parse(text: str) -> _Collector:
    c = _Collector()
    c.feed(text)
    c.close()
    return c


def test_self_contained(written: tuple[RunResult, Path, list[Path]]) -> None:
    _, run_dir, _ = written
    text = (run_dir / "report.html").read_text()
    tags = _parse(text).tags
    names = {t for t, _ in tags}
    assert "script" not in names
    assert "link" not in names
    assert "img" not in names
    assert "iframe" not in names
    assert "style" in names
    assert "svg" in names
    assert "details" in names
    for _, attrs in tags:
        for key in ("src", "href"):
            assert not attrs.get(key), attrs
    # nothing fetched from CSS either (URLs in the cluster description are text, never loaded)
    assert "url(" not in text
    assert "@import" not in text


def test_timeline_draws_steps_fault_window_and_node_lanes() -> None:
    result = report_samples.passed()
    svg = html.timeline_svg(result)
    tags = _parse(svg).tags
    bars = [a for t, a in tags
            if t == "rect" and a.get("fill") in STATUS_COLOUR.values() and a.get("rx") == "3"]
    assert len(bars) == sum(s.started_at > 0 for s in result.steps)
    assert "XID 79 armed" in svg
    window = [a for t, a in tags if t == "rect" and a.get("fill-opacity") == "0.09"]
    assert len(window) == 1
    for node in ("gpu-node-1", "gpu-node-2"):
        assert f">{node}" in svg
    drawn = sum(1 for e in result.timeline if e.kind in MARKERS)
    titles = re.findall(r"<title>([^<]*)</title>", svg)
    marker_titles = [t for t in titles if any(t.startswith(label) for label, _, _ in MARKERS.values())]
    assert len(marker_titles) == drawn
    # bars are coloured by status: a failed step is red
    failed_svg = html.timeline_svg(report_samples.failed())
    assert f'fill="{STATUS_COLOUR[StepStatus.FAILED]}"' in failed_svg


def test_everything_is_escaped() -> None:
    base = report_samples.failed()
    evil = '<script>alert("x")</script>'
    step = dataclasses.replace(base.steps[0], name=evil, message=evil, kind=evil)
    result = dataclasses.replace(base, steps=(step, *base.steps[1:]), reason=evil, scenario_name=evil,
                                 cluster=evil)
    text = html.render(result)
    assert "<script" not in text
    assert "&lt;script&gt;" in text


def test_dirty_run_shows_recover_callout() -> None:
    text = html.render(report_samples.rollback_incomplete())
    assert 'id="recover"' in text
    assert "chaos recover reports/x-dirty" in text
    assert 'id="recover"' not in html.render(report_samples.passed())


def test_opens_in_chromium_without_console_errors(written: tuple[RunResult, Path, list[Path]],
                                                  tmp_path: Path) -> None:
    result, run_dir, _ = written
    url = (run_dir / "report.html").resolve().as_uri()
    proc = run_chromium(url, tmp_path / "profile", "--enable-logging=stderr", "--v=0", "--dump-dom")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert result.verdict.value.upper() in proc.stdout
    assert 'id="verdict"' in proc.stdout
    assert console_messages(proc.stderr) == []


def test_console_check_catches_a_broken_page(tmp_path: Path) -> None:
    """The console check above can fail: a page with a script error is caught."""
    page = tmp_path / "bad.html"
    page.write_text("<!DOCTYPE html><p>x</p><script>console.error('boom'); notDefined();</script>")
    proc = run_chromium(page.as_uri(), tmp_path / "profile", "--enable-logging=stderr", "--v=0", "--dump-dom")
    messages = console_messages(proc.stderr)
    assert any("boom" in m for m in messages)
    assert any("notDefined" in m for m in messages)


def test_screenshot_renders(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    from runner.report import write_reports

    write_reports(report_samples.passed(), run_dir)
    shot = tmp_path / "shot.png"
    proc = run_chromium((run_dir / "report.html").as_uri(), tmp_path / "profile", f"--screenshot={shot}",
                        "--window-size=1280,1600")
    assert proc.returncode == 0, proc.stderr[-2000:]
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > 20_000
