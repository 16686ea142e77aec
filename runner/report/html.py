"""`report.html`: one self-contained page a person opens after a run.

Verdict banner, key timings, an SVG timeline (steps, the fault window, a lane for every node of the
timeline with its pod and node events, and under them a lane per probe: its requests as runs of
successes and failures, its latency as a line, where its phases begin), the service impact
(per probe and phase, and its SLOs), the steps table, evidence in collapsible <details>, and
rollback. Every event gets its own marker with a tooltip: events a few ms apart stack in rows
inside their lane (the lane grows), and past a few rows move sideways with a dashed leader to their
true time, so none hides another. Inline CSS and
inline SVG only: no scripts, no external URLs, so it opens anywhere (CI artefact viewers, air-gapped
machines). Every string from the result goes through html.escape. This module must not read files
or the cluster.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from html import escape
from pathlib import Path

from runner.engine.result import ProbeResult, RunResult, StepResult, StepStatus, TimelineEvent, Verdict
from runner.report import private
from runner.report.probes_view import PHASE_COLUMNS, fmt_ms, headline, phase_rows, slo_rows, stream_rows
from runner.report.text import clean
from runner.report.timings import (
    counts,
    crash_text,
    disarm,
    disarm_text,
    fault_window,
    fmt_duration,
    fmt_time,
    key_timings,
)

FILENAME = "report.html"

VERDICT_COLOUR = {
    Verdict.PASSED: "#1a7f37", Verdict.FAILED: "#cf222e", Verdict.INCONCLUSIVE: "#9a6700",
    Verdict.INTERRUPTED: "#6e7781", Verdict.ROLLBACK_INCOMPLETE: "#8250df",
}
STATUS_COLOUR = {
    StepStatus.PASSED: "#2da44e", StepStatus.FAILED: "#cf222e", StepStatus.ERROR: "#bc4c00",
    StepStatus.SKIPPED: "#afb8c1", StepStatus.INTERRUPTED: "#6e7781",
}
# timeline event kind -> (legend label, colour, shape)
MARKERS = {
    "pod-crash": ("pod crashed", "#cf222e", "cross"),
    "pod-ready": ("pod Ready", "#2da44e", "circle"),
    "pod-scheduled": ("pod scheduled", "#0969da", "square"),
    "pod-deleted": ("pod deleted", "#57606a", "diamond"),
    "node-cordoned": ("node cordoned", "#bc4c00", "bar"),
    "node-uncordoned": ("node uncordoned", "#1a7f37", "bar"),
    "first-injection": ("first injection", "#8250df", "star"),
}

CSS = """
:root { color-scheme: light; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0; color: #1f2328;
       background: #f6f8fa; }
main { max-width: 1240px; margin: 0 auto; padding: 20px; }
.banner { color: #fff; padding: 18px 22px; border-radius: 8px; margin-bottom: 16px; }
.banner h1 { margin: 0 0 4px; font-size: 26px; letter-spacing: .02em; }
.banner .reason { font-size: 16px; opacity: .95; }
.banner .sub { font-size: 13px; opacity: .85; margin-top: 6px; }
section { background: #fff; border: 1px solid #d0d7de; border-radius: 8px; padding: 14px 18px;
          margin-bottom: 16px; }
h2 { font-size: 17px; margin: 0 0 10px; }
h3 { font-size: 14px; margin: 12px 0 6px; }
table + table { margin-top: 14px; }
tr.bad td { color: #cf222e; }
.grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(220px, 1fr)); gap: 12px 24px; }
.grid div { overflow-wrap: anywhere; }
.k { color: #57606a; font-size: 12px; text-transform: uppercase; letter-spacing: .04em; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 6px 8px; border-bottom: 1px solid #eaeef2; vertical-align: top; }
th { font-size: 12px; text-transform: uppercase; color: #57606a; letter-spacing: .04em; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.pill { display: inline-block; padding: 1px 8px; border-radius: 10px; color: #fff; font-size: 12px;
        font-weight: 600; white-space: nowrap; }
details { border: 1px solid #eaeef2; border-radius: 6px; margin: 6px 0; padding: 4px 10px; }
details[open] { background: #fbfcfd; }
summary { cursor: pointer; font-weight: 600; }
pre { background: #f6f8fa; padding: 8px; border-radius: 6px; overflow-x: auto; font-size: 12px;
      white-space: pre-wrap; overflow-wrap: anywhere; }
.ev { margin: 6px 0 6px 4px; }
.ev .kind { font-size: 11px; text-transform: uppercase; color: #57606a; margin-right: 6px; }
.ok { color: #1a7f37; } .bad { color: #cf222e; font-weight: 600; }
.recover { border-left: 4px solid #8250df; background: #fbefff; padding: 8px 12px; border-radius: 4px; }
svg text { font: 12px system-ui, sans-serif; fill: #1f2328; }
svg .axis text { fill: #57606a; font-size: 11px; }
.legend { display: flex; flex-wrap: wrap; gap: 14px; font-size: 12px; color: #57606a; margin-top: 6px; }
.legend span { display: inline-flex; align-items: center; gap: 5px; }
.sw { width: 12px; height: 12px; display: inline-block; border-radius: 2px; }
footer { color: #57606a; font-size: 12px; text-align: center; padding: 8px; }
"""


def render(result: RunResult, files: list[str] | None = None) -> str:
    colour = VERDICT_COLOUR[result.verdict]
    title = f"chaos {result.verdict.value}: {result.scenario_name}"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(title)}</title>",
        f"<style>{CSS}</style></head><body><main>",
        _banner(result, colour),
        _recover_callout(result),
        _overview(result),
        _timeline_section(result),
        _service_impact(result),
        _steps(result),
        _rollback(result),
    ]
    if files:
        parts.append("<section><h2>Files</h2><ul>"
                     + "".join(f"<li><code>{_e(f)}</code></li>" for f in files) + "</ul></section>")
    parts.append(f"<footer>chaos {_e(result.tool_version)} · run {_e(result.run_id)}</footer>")
    parts.append("</main></body></html>\n")
    return "\n".join(parts)


def write(result: RunResult, run_dir: Path, files: list[str] | None = None) -> Path:
    path = run_dir / FILENAME
    return private.write_text(path, render(result, files))  # 0600: see runner.report.private


def _e(text: object) -> str:
    return escape(clean(str(text)), quote=True)


def _pill(text: str, colour: str) -> str:
    return f'<span class="pill" style="background:{colour}">{_e(text)}</span>'


def _banner(result: RunResult, colour: str) -> str:
    return (
        f'<div class="banner" id="verdict" style="background:{colour}">'
        f"<h1>{_e(result.verdict.value.upper())} <small>(exit {result.exit_code})</small></h1>"
        f'<div class="reason">{_e(result.reason)}</div>'
        f'<div class="sub">{_e(result.scenario_name)} · XID {result.fault.xid} {_e(result.fault.title)} · '
        f"{_e(result.cluster)}</div></div>"
    )


def _dirty(result: RunResult) -> bool:
    return bool(result.rollback.leftovers) or result.verdict is Verdict.ROLLBACK_INCOMPLETE


def _recover_callout(result: RunResult) -> str:
    if not _dirty(result):
        return ""
    return (f'<section class="recover" id="recover"><strong>The cluster is not as it was</strong> '
            f"({len(result.rollback.leftovers)} change(s) left). Recover with "
            f"<code>chaos recover {_e(result.run_dir or '<run dir>')}</code>; "
            f"details under Rollback.</section>")


def _overview(result: RunResult) -> str:
    f = result.fault
    armed, _ = fault_window(result)
    c = counts(result)
    cells = [
        ("Scenario", f"{_e(result.scenario_name)}<br><code>{_e(result.scenario_path)}</code>"),
        ("Cluster", _e(result.cluster)),
        ("Run", f"{_e(result.run_id)}<br>{_e(fmt_time(result.started_at))}"),
        ("Duration", _e(fmt_duration(result.finished_at - result.started_at))),
        ("Fault", f"XID {f.xid} — {_e(f.title)}<br>scope {_e(f.scope)}, expected {_e(f.expected_outcome)}"),
        ("Node", _e(f.node or "—")),
        ("Armed", _e(fmt_time(armed))),
        ("Disarmed", _e(disarm_text(result))),
        ("Injections seen", str(f.injections_seen)),
        ("Pod crashes", _e(crash_text(result))),
        ("Steps", ", ".join(f"{n} {k}" for k, n in c.items() if n) or "none"),
    ]
    grid = "".join(f'<div><div class="k">{k}</div><div>{v}</div></div>' for k, v in cells)
    rows = "".join(
        f"<tr><td>{_e(t.label)}</td><td>{_e(fmt_time(t.at) if t.at is not None else 'did not happen')}</td>"
        f'<td class="num">{_e(fmt_duration(t.since_armed))}</td></tr>'
        for t in key_timings(result))
    return (f'<section><h2>Overview</h2><div class="grid">{grid}</div></section>'
            f'<section><h2>Key timings</h2><table><thead><tr><th>Event</th><th>When</th>'
            f'<th class="num">After arming</th></tr></thead><tbody>{rows}</tbody></table></section>')


# --- the timeline picture -------------------------------------------------------------------

_W, _LEFT, _RIGHT, _LANE, _TOP = 1180, 170, 40, 44, 28
_GAP = 16.0  # markers closer than this (px) in one row would hide each other
_ROW = 16.0  # the height of one row of markers inside a lane
_MAX_ROWS = 5  # beyond this a lane's markers move sideways (with a leader to their true time)


def _nice_step(span: float) -> float:
    for step in (0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200):
        if span / step <= 10:
            return step
    return 14400.0


def _tick_label(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:g}s"
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes}m" if not secs else f"{minutes}m{secs:02d}s"


def timeline_lanes(result: RunResult) -> list[str]:
    """'steps', then every node the run touched: the fault's node first, then every node of the
    timeline in the order it first appears."""
    nodes: list[str] = []
    for n in [result.fault.node, *(e.node for e in sorted(result.timeline, key=lambda e: e.at))]:
        if n and n not in nodes:
            nodes.append(n)
    return ["steps", *nodes]


def _place(xs: list[float], lo: float, hi: float) -> list[tuple[int, float]]:
    """(row, drawn x) for markers at `xs` (sorted) so that no two in one row are closer than _GAP:
    each takes the first row free at its own time; when all rows are taken there, the nearest free
    spot to either side, so events a few ms apart stay visible and hoverable."""
    rows: list[list[float]] = []
    out: list[tuple[int, float]] = []

    def free_row(x: float) -> int | None:
        return next((i for i, row in enumerate(rows)
                     if all(abs(x - other) >= _GAP - 1e-6 for other in row)), None)

    for x in xs:
        row, spot = free_row(x), x
        if row is None and len(rows) < _MAX_ROWS:
            rows.append([])
            row = len(rows) - 1
        k = 0
        while row is None and k < 4 * len(xs) + 2:
            k += 1
            for candidate in (x + k * _GAP / 2, x - k * _GAP / 2):
                if lo <= candidate <= hi and (row := free_row(candidate)) is not None:
                    spot = candidate
                    break
        if row is None:  # cannot happen with room for 4x the markers; draw it where it belongs
            row = 0
        rows[row].append(spot)
        out.append((row, spot))
    return out


def timeline_svg(result: RunResult) -> str:
    """The run's timeline as an inline SVG element (public for tests and other renderers)."""
    times = [t for s in result.steps for t in (s.started_at, s.finished_at) if t > 0]
    times += [e.at for e in result.timeline if e.at > 0]
    times += [p.series[i][0] for p in result.probes for i in (0, -1) if p.series]
    times += [t for t in (result.started_at, result.finished_at) if t > 0]
    t0 = min(times) if times else 0.0
    t1 = max(times) if times else 1.0
    span = max(t1 - t0, 1.0)
    plot_w = _W - _LEFT - _RIGHT

    def x(at: float) -> float:
        return _LEFT + (at - t0) / span * plot_w

    lanes = timeline_lanes(result)

    # every marker's lane, then its row and drawn position inside the lane
    fallback = lanes.index(result.fault.node) if result.fault.node in lanes else 0
    per_lane: dict[int, list[TimelineEvent]] = {}
    for e in sorted(result.timeline, key=lambda e: e.at):
        if e.kind in MARKERS and e.at > 0:
            per_lane.setdefault(lanes.index(e.node) if e.node in lanes else fallback, []).append(e)
    placed: dict[int, list[tuple[TimelineEvent, int, float]]] = {}
    for index, events in per_lane.items():
        spots = _place([x(e.at) for e in events], _LEFT + 6, _W - 6)
        placed[index] = [(e, row, spot) for e, (row, spot) in zip(events, spots, strict=True)]
    row_count = [max((row + 1 for _, row, _ in placed.get(i, [])), default=1) for i in range(len(lanes))]
    heights = [max(_LANE, _ROW * n + 12) for n in row_count]
    tops = [_TOP + sum(heights[:i]) for i in range(len(lanes))]
    probe_top = _TOP + sum(heights)
    bottom = probe_top + _PROBE_LANE * len(result.probes)

    height = bottom + 30
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="100%" viewBox="0 0 {_W} {height}" '
           f'role="img" aria-label="run timeline">']

    # the fault window, behind everything
    armed, disarmed = fault_window(result)
    if armed is not None:
        end = disarmed if disarmed is not None else t1
        how = disarm(result)
        until = (f"disarmed {how.by} at {fmt_time(how.at)}".replace("  ", " ") if how.at is not None
                 else f"still armed at the end ({fmt_time(end)})")
        out.append(f'<rect x="{x(armed):.1f}" y="{_TOP - 14}" width="{max(x(end) - x(armed), 2):.1f}" '
                   f'height="{bottom - _TOP + 14}" fill="#cf222e" fill-opacity="0.09" '
                   f'stroke="#cf222e" stroke-opacity="0.35" stroke-dasharray="4 3">'
                   f"<title>fault armed {_e(fmt_time(armed))}; {_e(until)}</title></rect>")
        out.append(f'<text x="{x(armed) + 4:.1f}" y="{_TOP - 3}" style="fill:#cf222e;font-weight:600">'
                   f"XID {result.fault.xid} armed</text>")
        if how.at is not None and how.by and x(end) - x(armed) > 260:
            out.append(f'<text x="{x(end) - 4:.1f}" y="{_TOP - 3}" text-anchor="end" '
                       f'style="fill:#cf222e">disarmed {_e(how.by)}</text>')

    # lanes and labels
    for i, lane in enumerate(lanes):
        y = tops[i]
        out.append(f'<rect x="{_LEFT}" y="{y}" width="{plot_w}" height="{heights[i] - 6}" '
                   f'fill="{"#f6f8fa" if i % 2 == 0 else "#ffffff"}" fill-opacity="0.6"/>')
        weight = "600" if i == 0 or lane == result.fault.node else "400"
        short = lane if len(lane) <= 22 else lane[:21] + "…"
        suffix = " ⚡" if i > 0 and lane == result.fault.node else ""
        out.append(f'<text x="{_LEFT - 8}" y="{y + (heights[i] - 6) / 2 + 4:.1f}" text-anchor="end" '
                   f'style="font-weight:{weight}"><title>{_e(lane)}</title>{_e(short)}{suffix}</text>')

    # axis
    step = _nice_step(span)
    out.append('<g class="axis">')
    tick = 0.0
    while tick <= span + 1e-9:
        tx = x(t0 + tick)
        out.append(f'<line x1="{tx:.1f}" y1="{_TOP - 14}" x2="{tx:.1f}" y2="{bottom}" stroke="#d0d7de" '
                   f'stroke-width="0.6"/><text x="{tx:.1f}" y="{bottom + 14}" text-anchor="middle">'
                   f"+{_e(_tick_label(tick))}</text>")
        tick += step
    out.append("</g>")

    # step bars
    y = tops[0] + (heights[0] - 6 - (_LANE - 18)) / 2
    for s in result.steps:
        if s.started_at <= 0:
            continue
        x0, x1 = x(s.started_at), x(max(s.finished_at, s.started_at))
        w = max(x1 - x0, 3.0)
        out.append(f'<rect x="{x0:.1f}" y="{y:.1f}" width="{w:.1f}" height="{_LANE - 18}" rx="3" '
                   f'fill="{STATUS_COLOUR[s.status]}" stroke="#fff" stroke-width="1">'
                   f"<title>{_e(s.name)} ({_e(s.kind)}): {_e(s.status.value)}, {_e(fmt_duration(s.duration))}"
                   f"{' — ' + _e(s.message) if s.message else ''}</title></rect>")
        if w > 7 * min(len(s.name), 18) + 10:
            name = s.name if len(s.name) <= 18 else s.name[:17] + "…"
            out.append(f'<text x="{x0 + 5:.1f}" y="{y + (_LANE - 18) / 2 + 4:.1f}" '
                       f'style="fill:#fff;font-size:11px">{_e(name)}</text>')

    # node and pod markers, each visible on its own (spread over rows, or sideways with a leader)
    crashes: dict[str, int] = {}
    totals: dict[str, int] = {}
    for e in result.timeline:
        if e.kind == "pod-crash":
            totals[e.pod] = totals.get(e.pod, 0) + 1
    leaders: list[str] = []  # drawn first, so that no leader covers a marker
    markers: list[str] = []
    for index in sorted(placed):
        rows = row_count[index]
        centre = tops[index] + (heights[index] - 6) / 2
        for e, row, spot in placed[index]:
            cy = centre + (row - (rows - 1) / 2) * _ROW
            note = ""
            if e.kind == "pod-crash" and totals.get(e.pod, 0) > 1:
                crashes[e.pod] = crashes.get(e.pod, 0) + 1
                note = f" (crash {crashes[e.pod]} of {totals[e.pod]})"
            true_x = x(e.at)
            if abs(spot - true_x) > 0.5:
                leaders.append(f'<line x1="{true_x:.1f}" y1="{cy:.1f}" x2="{spot:.1f}" y2="{cy:.1f}" '
                               f'stroke="#57606a" stroke-width="1" stroke-dasharray="2 2" '
                               f'pointer-events="none"/>')
            markers.append(_marker(e, spot, cy, tall=rows == 1, note=note, offset=e.at - t0))
    out += leaders + markers
    for i, probe in enumerate(result.probes):
        out += probe_lane(probe, probe_top + i * _PROBE_LANE, x, first=i == 0)
    out.append("</svg>")
    return "".join(out)


_PROBE_LANE = 70  # px: a strip of successes and failures, and the latency line above it
_PHASE_COLOUR = {"fault": "#cf222e", "recovered": "#1a7f37", "rollback": "#8250df"}


def _runs(series: tuple[tuple[float, int, float], ...]) -> list[tuple[int, int, int]]:
    """(ok, first index, last index) of each run of successes or of failures."""
    runs: list[tuple[int, int, int]] = []
    for i, (_, ok, _) in enumerate(series):
        if runs and runs[-1][0] == ok:
            runs[-1] = (ok, runs[-1][1], i)
        else:
            runs.append((ok, i, i))
    return runs


def probe_lane(probe: ProbeResult, top: float, x: Callable[[float], float], *,
               first: bool = False) -> list[str]:
    """A probe's lane of the timeline: its requests as a strip (green runs of successes, red runs
    of failures, each with a tooltip), its latency as a line above (gaps where requests failed),
    and dashed lines where its phases begin (public for tests and other renderers)."""
    h = _PROBE_LANE - 6
    strip_y, strip_h = top + h - 14, 10
    plot_top, plot_h = top + 6, h - 26
    out = [f'<g class="probe-lane" data-probe="{_e(probe.name)}">',
           f'<rect x="{_LEFT}" y="{top}" width="{_W - _LEFT - _RIGHT}" height="{h}" fill="#fff8f0" '
           f'fill-opacity="0.7"/>',
           f'<text x="{_LEFT - 8}" y="{top + h / 2:.1f}" text-anchor="end" style="font-weight:600">'
           f"<title>{_e(probe.target)}</title>probe {_e(probe.name[:16])}</text>",
           f'<text x="{_LEFT - 8}" y="{top + h / 2 + 14:.1f}" text-anchor="end" '
           f'style="fill:#57606a;font-size:10px">ok / latency</text>']
    for name, colour in _PHASE_COLOUR.items():
        at = probe.phases[name].started_at if name in probe.phases else None
        if at is None:
            continue
        px = x(at)
        out.append(f'<line class="phase" data-phase="{name}" x1="{px:.1f}" y1="{top}" x2="{px:.1f}" '
                   f'y2="{top + h}" stroke="{colour}" stroke-width="1.2" stroke-dasharray="3 3"/>')
        out.append(f'<text x="{px + 3:.1f}" y="{top + 11}" style="fill:{colour};font-size:10px">'
                   f"{name}</text>")
    series = probe.series
    if not series:
        out.append(f'<text x="{_LEFT + 6}" y="{strip_y + 8}" style="fill:#57606a">no requests</text></g>')
        return out
    step = probe.interval_s
    for ok, a, b in _runs(series):
        x0, x1 = x(series[a][0]), x(series[b][0] + step)
        count = b - a + 1
        what = "succeeded" if ok else "failed"
        tip = f"{count} request(s) {what}, {fmt_time(series[a][0])} to {fmt_time(series[b][0])}"
        out.append(f'<rect class="{"ok" if ok else "fail"}" x="{x0:.1f}" y="{strip_y - (0 if ok else 3)}" '
                   f'width="{max(x1 - x0, 1.5):.1f}" height="{strip_h + (0 if ok else 6)}" '
                   f'fill="{"#2da44e" if ok else "#cf222e"}"><title>{_e(tip)}</title></rect>')
    latencies = sorted(p[2] for p in series if p[1])
    if latencies:
        top_ms = max(latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1.2, 1.0)
        for ok, a, b in _runs(series):
            if not ok:
                continue
            pts = " ".join(f"{x(series[i][0]):.1f},"
                           f"{plot_top + plot_h * (1 - min(series[i][2] / top_ms, 1)):.1f}"
                           for i in range(a, b + 1))
            if a == b:
                cx, cy = pts.split(",")
                out.append(f'<circle cx="{cx}" cy="{cy}" r="1.5" fill="#0969da"/>')
            else:
                out.append(f'<polyline class="latency" points="{pts}" fill="none" stroke="#0969da" '
                           f'stroke-width="1.2"/>')
        out.append(f'<text x="{_LEFT + 4}" y="{plot_top + 8}" style="fill:#0969da;font-size:10px">'
                   f"{_e(fmt_ms(top_ms))}</text>")
    out.append("</g>")
    return out


def _marker(e: TimelineEvent, cx: float, cy: float, *, tall: bool = True, note: str = "",
            offset: float | None = None, tooltip: bool = True) -> str:
    """One event as a `<g class="mk">` with its tooltip; data-* attributes say where it was drawn."""
    label, colour, shape = MARKERS[e.kind]
    who = " ".join(p for p in (e.pod, e.node) if p)
    extra = " — " + _e(e.message) if e.message else ""
    when = fmt_time(e.at) + (f" (+{offset:.3f}s)" if offset is not None else "")
    tip = f"<title>{_e(label)} {_e(who)}{_e(note)} at {_e(when)}{extra}</title>" if tooltip else ""
    if shape == "circle":
        body = f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="6" fill="{colour}" stroke="#fff"/>'
    elif shape == "square":
        body = f'<rect x="{cx - 5:.1f}" y="{cy - 5:.1f}" width="10" height="10" fill="{colour}"/>'
    elif shape == "diamond":
        body = (f'<polygon points="{cx:.1f},{cy - 7:.1f} {cx + 7:.1f},{cy:.1f} {cx:.1f},{cy + 7:.1f} '
                f'{cx - 7:.1f},{cy:.1f}" fill="{colour}"/>')
    elif shape == "bar":
        half = 16 if tall else 7
        body = (f'<rect x="{cx - 2:.1f}" y="{cy - half:.1f}" width="4" height="{2 * half}" '
                f'fill="{colour}"/>')
    elif shape == "star":
        body = (f'<polygon points="{cx:.1f},{cy - 8:.1f} {cx + 2.5:.1f},{cy - 2.5:.1f} {cx + 8:.1f},{cy:.1f} '
                f'{cx + 2.5:.1f},{cy + 2.5:.1f} {cx:.1f},{cy + 8:.1f} {cx - 2.5:.1f},{cy + 2.5:.1f} '
                f'{cx - 8:.1f},{cy:.1f} {cx - 2.5:.1f},{cy - 2.5:.1f}" fill="{colour}"/>')
    else:
        body = (f'<g stroke="{colour}" stroke-width="3" stroke-linecap="round">'
                f'<line x1="{cx - 6:.1f}" y1="{cy - 6:.1f}" x2="{cx + 6:.1f}" y2="{cy + 6:.1f}"/>'
                f'<line x1="{cx - 6:.1f}" y1="{cy + 6:.1f}" x2="{cx + 6:.1f}" y2="{cy - 6:.1f}"/></g>'
                # a transparent hit area: the cross's thin strokes alone are hard to hover
                f'<rect x="{cx - 7:.1f}" y="{cy - 7:.1f}" width="14" height="14" fill="transparent"/>')
    return (f'<g class="mk" data-kind="{_e(e.kind)}" data-x="{cx:.1f}" data-y="{cy:.1f}">'
            f"{tip}{body}</g>")


def _legend(probes: bool = False) -> str:
    items = [f'<span><i class="sw" style="background:{c}"></i>step {s.value}</span>'
             for s, c in STATUS_COLOUR.items()]
    if probes:
        items += ['<span><i class="sw" style="background:#2da44e"></i>probe requests ok</span>',
                  '<span><i class="sw" style="background:#cf222e"></i>probe requests failed</span>',
                  '<span><i class="sw" style="background:#0969da;height:3px"></i>latency</span>']
    items.append('<span><i class="sw" style="background:#cf222e;opacity:.25"></i>fault window</span>')
    for kind, (label, _colour, _shape) in MARKERS.items():
        icon = _marker(TimelineEvent(at=0.0, kind=kind), 9.0, 9.0, tall=False, tooltip=False)
        items.append(f'<span><svg width="18" height="18" viewBox="0 0 18 18" aria-hidden="true">{icon}'
                     f"</svg>{_e(label)}</span>")
    return '<div class="legend">' + "".join(items) + "</div>"


def _timeline_section(result: RunResult) -> str:
    return f"<section><h2>Timeline</h2>{timeline_svg(result)}{_legend(bool(result.probes))}</section>"


# --- service impact (the probes) --------------------------------------------------------------


def _service_impact(result: RunResult) -> str:
    if not result.probes:
        return ""
    parts = ["<section id=\"service-impact\"><h2>Service impact</h2>"]
    for probe in result.probes:
        head = "".join(f'<th{" class=num" if i else ""}>{_e(c)}</th>' for i, c in enumerate(PHASE_COLUMNS))
        rows = "".join(
            f'<tr class="{"bad" if row.failed else ""}">'
            + "".join(f'<td{" class=num" if i else ""}>{_e(c)}</td>' for i, c in enumerate(row.cells))
            + "</tr>" for row in phase_rows(probe, result.started_at))
        parts.append(f"<h3>{_e(headline(probe))}</h3><table><thead><tr>{head}</tr></thead>"
                     f"<tbody>{rows}</tbody></table>")
        streams = stream_rows(probe)
        if streams:
            parts.append("<table><thead><tr><th>phase</th><th class=num>time to first byte p50 / p95</th>"
                         "<th class=num>between chunks p50 / p95</th></tr></thead><tbody>"
                         + "".join(f"<tr><td>{_e(a)}</td><td class=num>{_e(b)}</td>"
                                   f"<td class=num>{_e(c)}</td></tr>" for a, b, c in streams)
                         + "</tbody></table>")
        if probe.slo:
            colours = {"passed": "#2da44e", "MISSED": "#cf222e"}
            parts.append("<table><thead><tr><th>SLO</th><th>phase</th><th>check</th>"
                         "<th class=num>threshold</th><th class=num>observed</th></tr></thead><tbody>"
                         + "".join(f"<tr><td>{_pill(v, colours.get(v, '#9a6700'))}</td><td>{_e(ph)}</td>"
                                   f"<td><code>{_e(ch)}</code></td><td class=num>{_e(th)}</td>"
                                   f"<td class=num>{_e(ob)}</td></tr>"
                                   for ph, ch, th, ob, v in slo_rows(probe))
                         + "</tbody></table>")
    parts.append("<p><small>Every request is in <code>probes.jsonl</code> in the run directory.</small></p>"
                 "</section>")
    return "".join(parts)


# --- steps, evidence, rollback ----------------------------------------------------------------


def _steps(result: RunResult) -> str:
    rows = "".join(
        f"<tr><td>{_pill(s.status.value, STATUS_COLOUR[s.status])}</td><td>{_e(s.name)}</td>"
        f"<td><code>{_e(s.kind)}</code></td>"
        f'<td class="num">{_e(fmt_duration(s.duration) if s.started_at > 0 else "—")}</td>'
        f"<td>{_e(s.message)}</td></tr>"
        for s in result.steps)
    evidence = "".join(_step_details(s) for s in result.steps)
    return (f"<section><h2>Steps</h2><table><thead><tr><th>Status</th><th>Step</th><th>Kind</th>"
            f'<th class="num">Duration</th><th>Message</th></tr></thead><tbody>{rows}</tbody></table>'
            f"</section><section><h2>Evidence</h2>{evidence or '<p>No steps.</p>'}</section>")


def _step_details(s: StepResult) -> str:
    open_attr = " open" if s.status in (StepStatus.FAILED, StepStatus.ERROR) else ""
    body = []
    if s.message:
        body.append(f"<p>{_e(s.message)}</p>")
    for ev in s.evidence:
        data = ""
        if ev.data:
            data = "<pre>" + _e(json.dumps(dict(ev.data), indent=2, ensure_ascii=False, sort_keys=True,
                                            default=str)) + "</pre>"
        body.append(f'<div class="ev"><span class="kind">{_e(ev.kind)}</span>{_e(ev.summary)}{data}</div>')
    if s.changes:
        body.append("<p>Changed:</p><ul>" + "".join(f"<li>{_e(c)}</li>" for c in s.changes) + "</ul>")
    if not body:
        body.append("<p>No evidence recorded.</p>")
    where = f" · line {s.line}" if s.line else ""
    return (f"<details{open_attr}><summary>{_pill(s.status.value, STATUS_COLOUR[s.status])} "
            f"{_e(s.name)} <small>({_e(s.kind)}{where}, {len(s.evidence)} evidence)</small></summary>"
            + "".join(body) + "</details>")


def _rollback(result: RunResult) -> str:
    rb = result.rollback
    if not rb.ran:
        head = f"<p>Rollback did not run (policy <code>{_e(rb.policy)}</code>).</p>"
    else:
        state = '<span class="ok">complete</span>' if rb.complete else '<span class="bad">INCOMPLETE</span>'
        verified = "verified" if rb.verified else "not verified"
        head = f"<p>Policy <code>{_e(rb.policy)}</code> — {state}; after-check {verified}.</p>"
    undone = "".join(
        f'<li><span class="{"ok" if u.ok else "bad"}">{"✔" if u.ok else "✘"}</span> {_e(u.description)}'
        f"{' — ' + _e(u.message) if u.message else ''}</li>" for u in rb.undone)
    body = head + (f"<ul>{undone}</ul>" if undone else "")
    if _dirty(result):
        left = "".join(f"<li>{_e(x)}</li>" for x in rb.leftovers) or "<li>(see the journal)</li>"
        body += (f'<div class="recover"><strong>The cluster is not as it was.</strong> Still changed:'
                 f"<ul>{left}</ul>Recover with "
                 f"<code>chaos recover {_e(result.run_dir or '<run dir>')}</code> "
                 f"or <code>chaos recover --run {_e(result.run_id)}</code>.</div>")
    return f"<section><h2>Rollback</h2>{body}</section>"
