"""The probes of a run as rows of text, the same in every format (terminal, summary.md, junit.xml,
report.html): one row per phase, one per SLO check, and a one-line headline per probe.

Pure functions of the (redacted) result; no rendering library and no escaping here (each format
escapes what it prints).
"""

from __future__ import annotations

from dataclasses import dataclass

from runner.engine.probe_result import PHASES, PhaseStats, ProbeResult, SloCheck, fmt_value
from runner.report.timings import fmt_duration

PHASE_COLUMNS = ("phase", "sent", "ok", "p50", "p95", "p99", "outage", "fail at", "back at")
SLO_COLUMNS = ("phase", "check", "threshold", "observed", "result")


def fmt_ms(value: float | None) -> str:
    if value is None:
        return "—"
    if round(value, 1) < 10:
        return f"{value:.1f}ms"
    return f"{value:.0f}ms" if value < 1000 else fmt_duration(value / 1000)


def fmt_rate(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.0%}" if value in (0.0, 1.0) else f"{value:.1%}"


def fmt_offset(at: float | None, t0: float) -> str:
    """`+12.3s` after the run started ('—' when it never happened)."""
    return "—" if at is None else f"+{fmt_duration(max(0.0, at - t0))}"


def slo_result(check: SloCheck) -> str:
    if check.passed is None:
        return "not evaluated"
    return "passed" if check.passed else "MISSED"


@dataclass(frozen=True)
class PhaseRow:
    phase: str
    cells: tuple[str, ...]  # in PHASE_COLUMNS order, the phase first
    failed: bool  # some request of the phase failed
    reached: bool  # the run reached the phase


def phase_rows(probe: ProbeResult, t0: float) -> list[PhaseRow]:
    rows = []
    for name in PHASES:
        p = probe.phases.get(name) or PhaseStats()
        outage = fmt_duration(p.longest_outage_s) if p.requests and p.longest_outage_s else "—"
        cells = (name, str(p.requests), fmt_rate(p.success_rate), fmt_ms(p.p50_ms),
                 fmt_ms(p.p95_ms), fmt_ms(p.p99_ms), outage, fmt_offset(p.first_failure_at, t0),
                 fmt_offset(p.recovered_at, t0))
        rows.append(PhaseRow(name, cells, p.succeeded < p.requests, p.started_at is not None))
    return rows


def stream_rows(probe: ProbeResult) -> list[tuple[str, str, str]]:
    """(phase, time to first byte p50/p95, between chunks p50/p95) for a streaming probe."""
    if not probe.stream:
        return []
    out = []
    for name in PHASES:
        p = probe.phases.get(name) or PhaseStats()
        if p.succeeded:
            out.append((name, f"{fmt_ms(p.ttfb_p50_ms)} / {fmt_ms(p.ttfb_p95_ms)}",
                        f"{fmt_ms(p.chunk_gap_p50_ms)} / {fmt_ms(p.chunk_gap_p95_ms)}"))
    return out


def slo_rows(probe: ProbeResult) -> list[tuple[str, ...]]:
    return [(c.phase, c.check, fmt_value(c.threshold, c.unit),
             "—" if c.observed is None else fmt_value(c.observed, c.unit), slo_result(c))
            for c in probe.slo]


def headline(probe: ProbeResult) -> str:
    """`completions: service inference/vllm-worker:8000/v1/completions, every 200ms, 78 requests;
    recovered 6.4s after the first failure; 1 SLO missed`."""
    parts = [f"{probe.name}: {probe.target}, {probe.method} every {fmt_duration(probe.interval_s)}"
             + (" (stream)" if probe.stream else ""), f"{probe.requests} requests"]
    if probe.time_to_recover_s is not None:
        parts.append(f"back (3 in a row) {fmt_duration(probe.time_to_recover_s)} after the first "
                     "failure")
    if probe.missed:
        parts.append(f"{probe.missed} slot(s) skipped (a request was still in flight)")
    missed = probe.missed_slos
    if missed:
        parts.append(f"{len(missed)} SLO(s) MISSED")
    elif probe.slo:
        held = sum(1 for c in probe.slo if c.passed)
        parts.append(f"{held}/{len(probe.slo)} SLO(s) held"
                     + (f", {len(probe.slo) - held} not evaluated" if held < len(probe.slo) else ""))
    return "; ".join(parts)
