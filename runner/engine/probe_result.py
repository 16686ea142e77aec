"""What a run's background probes found, as report.json carries it (`probes: [...]`).

Plain frozen data with JSON conversion (part of `RunResult`), so every renderer draws the same
figures and `chaos report DIR` rebuilds them. The names are the report's contract: per probe
`name, target, interval_s, requests, phases, time_to_recover_s, slo`; per phase `requests,
succeeded, success_rate, p50_ms, p95_ms, p99_ms, longest_outage_s, first_failure_at,
recovered_at`; per SLO check `phase, check, threshold, observed, passed`. No I/O here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

PHASES = ("setup", "fault", "recovered", "rollback")  # ProbePhase values, in the order they come


@dataclass(frozen=True)
class PhaseStats:
    """One phase of one probe, by when each request was sent."""

    requests: int = 0
    succeeded: int = 0
    success_rate: float | None = None  # None: no request in the phase
    p50_ms: float | None = None  # latency percentiles of the successful requests
    p95_ms: float | None = None
    p99_ms: float | None = None
    longest_outage_s: float = 0.0  # the longest outage that began in the phase (to the next success)
    first_failure_at: float | None = None  # unix time the phase's first failed request was sent
    recovered_at: float | None = None  # the first success after the phase's last failure
    started_at: float | None = None  # the phase's window (None: the run never reached it)
    ended_at: float | None = None
    errors: Mapping[str, int] = field(default_factory=dict)  # the commonest failures, with counts
    ttfb_p50_ms: float | None = None  # streams: time to first byte of the successful requests
    ttfb_p95_ms: float | None = None
    chunk_gap_p50_ms: float | None = None  # streams: time between chunks
    chunk_gap_p95_ms: float | None = None


@dataclass(frozen=True)
class SloCheck:
    """One SLO of one phase. `passed` None: not evaluated (the phase had no request to judge)."""

    phase: str
    check: str  # the scenario's key: min-success-rate, max-outage, max-p95-latency, ...
    threshold: float
    observed: float | None
    passed: bool | None
    unit: str = ""  # "" for a rate (0..1), "s" for an outage, "ms" for a latency

    def describe(self) -> str:
        """`fault max-outage: observed 4.21s, threshold 3s` (or `... not evaluated: no requests`)."""
        if self.passed is None or self.observed is None:
            return f"{self.phase} {self.check}: not evaluated (no requests to judge), threshold " \
                   f"{fmt_value(self.threshold, self.unit)}"
        return (f"{self.phase} {self.check}: observed {fmt_value(self.observed, self.unit)}, "
                f"threshold {fmt_value(self.threshold, self.unit)}")


def fmt_value(value: float, unit: str) -> str:
    """A threshold or an observation in its unit: 0.93, 4.21s, 180ms."""
    if unit == "s":
        return f"{value:.3g}s" if value < 100 else f"{value:.0f}s"
    if unit == "ms":
        return f"{value:.3g}ms" if value < 1000 else f"{value / 1000:.3g}s"
    return f"{value:.4g}"


@dataclass(frozen=True)
class ProbeResult:
    """One background probe over the whole run."""

    name: str
    target: str  # `service inference/vllm-worker:8000/v1/completions` or the URL
    interval_s: float
    requests: int
    phases: Mapping[str, PhaseStats]  # setup, fault, recovered, rollback (always all four)
    time_to_recover_s: float | None  # first failure after arming -> the first of three successes in a row
    slo: tuple[SloCheck, ...] = ()
    method: str = "GET"
    headers: Mapping[str, str] = field(default_factory=dict)  # values redacted in every report
    body: str = ""  # redacted in every report
    stream: bool = False
    missed: int = 0  # interval slots skipped because the request before was still in flight
    # [unix time sent, 1 ok / 0 failed, latency ms] for the HTML lane (thinned beyond a few thousand)
    series: tuple[tuple[float, int, float], ...] = ()

    @property
    def missed_slos(self) -> list[SloCheck]:
        return [c for c in self.slo if c.passed is False]

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ProbeResult:
        phases = {name: PhaseStats(**{**p, "errors": dict(p.get("errors") or {})})
                  for name, p in (data.get("phases") or {}).items()}
        return cls(
            name=data["name"], target=data["target"], interval_s=data["interval_s"],
            requests=data["requests"], phases=phases, time_to_recover_s=data.get("time_to_recover_s"),
            slo=tuple(SloCheck(**c) for c in data.get("slo") or ()), method=data.get("method", "GET"),
            headers=dict(data.get("headers") or {}), body=data.get("body", ""),
            stream=data.get("stream", False), missed=data.get("missed", 0),
            series=tuple((float(a), int(b), float(c)) for a, b, c in data.get("series") or ()))
