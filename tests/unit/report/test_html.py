"""report.html: self-contained, escaped, draws the timeline, and opens in headless Chromium
without console errors."""

from __future__ import annotations

import dataclasses
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import tests.unit.report.report_samples as report_samples
from runner.engine.result import RunResult, StepStatus
from runner.report import html
from runner.report.html import MARKERS, STATUS_COLOUR, timeline_lanes
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


def _markers(svg: str) -> list[dict[str, str | None]]:
    return [a for t, a in _parse(svg).tags if t == "g" and a.get("class") == "mk"]


def test_every_event_is_drawn_apart_from_the_others() -> None:
    """A pod that crashed three times within 2 ms shows three crashes, and no marker sits on
    another (each can be seen and hovered)."""
    result = report_samples.crowded()
    svg = html.timeline_svg(result)
    marks = _markers(svg)
    assert len(marks) == sum(1 for e in result.timeline if e.kind in MARKERS)
    crashes = [m for m in marks if m["data-kind"] == "pod-crash"]
    assert len(crashes) == sum(1 for e in result.timeline if e.kind == "pod-crash") == 4
    for n in (1, 2, 3):
        assert f"vllm-worker-a gpu-node-1 (crash {n} of 3) at " in svg
    points = [(float(m["data-x"] or 0), float(m["data-y"] or 0)) for m in marks]
    for i, (x1, y1) in enumerate(points):
        for x2, y2 in points[i + 1:]:
            assert max(abs(x1 - x2), abs(y1 - y2)) >= 14, ((x1, y1), (x2, y2))
    # tooltips tell events a millisecond apart by their offset from the start
    assert "(+44.001s)" in svg
    assert "(+44.002s)" in svg


def test_a_lane_for_every_node_of_the_timeline() -> None:
    result = report_samples.crowded()
    nodes = {e.node for e in result.timeline if e.node} | {result.fault.node}
    assert set(timeline_lanes(result)) == {"steps", *nodes}
    svg = html.timeline_svg(result)
    for node in nodes:
        assert f"<title>{node}</title>{node}" in svg  # the lane's label
    assert "gpu-node-4" in nodes  # appears only in an event without a marker


def test_disarmed_by_rollback_is_said_everywhere() -> None:
    from runner.report import markdown, terminal

    result = report_samples.crowded()
    page = html.render(result)
    assert "by rollback at 2026-" in page
    assert "never (still armed at the end)" not in page
    assert "disarmed by rollback" in html.timeline_svg(result)
    assert "/ disarmed by rollback at 2026-" in markdown.render(result)
    assert "fault disarmed by rollback" in terminal.render_text(result)
    # the engine may set only the timeline event: the report still knows
    only_event = dataclasses.replace(result, fault=dataclasses.replace(result.fault, disarmed_at=None))
    assert "by rollback at 2026-" in html.render(only_event)
    dirty = html.render(report_samples.rollback_incomplete())
    assert "never (still armed at the end)" in dirty


HOVER_CHECK = """<script>
const svg = document.querySelector('svg[aria-label="run timeline"]');
const marks = [...svg.querySelectorAll('g.mk')];
const hidden = [];
for (const g of marks) {
  g.scrollIntoView({block: 'center'});
  const pt = svg.createSVGPoint();
  pt.x = +g.dataset.x; pt.y = +g.dataset.y;
  const p = pt.matrixTransform(svg.getScreenCTM());
  const hit = document.elementFromPoint(p.x, p.y);
  if (!hit || hit.closest('g.mk') !== g) hidden.push(g.querySelector('title').textContent);
}
document.body.setAttribute('data-hover', JSON.stringify({total: marks.length, hidden}));
</script>"""


def test_chromium_can_hover_every_marker(tmp_path: Path) -> None:
    """In a real browser, the point at each marker's centre belongs to that marker."""
    page = tmp_path / "hover.html"
    page.write_text(html.render(report_samples.crowded()).replace("</body>", HOVER_CHECK + "</body>"))
    proc = run_chromium(page.as_uri(), tmp_path / "profile", "--window-size=1280,900", "--dump-dom")
    assert proc.returncode == 0, proc.stderr[-2000:]
    found = re.search(r"data-hover=\"([^\"]*)\"", proc.stdout)
    assert found, proc.stdout[-2000:]
    check = json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&"))
    assert check["total"] == sum(1 for e in report_samples.crowded().timeline if e.kind in MARKERS)
    assert check["hidden"] == []
