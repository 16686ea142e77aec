"""From a probe's samples to what its callers saw: phases, outages, percentiles, recovery, SLOs.

Pure functions (unit-tested with synthetic samples). A sample belongs to the phase it was SENT in,
by the boundaries the executor stamped (`Marks`): setup until the arming step began (from then on
the fault may bite: a toggle file is read within ~100 ms of its write, before the step has confirmed
it), fault until the recovery step ended, recovered until cleanup or rollback began, rollback to the
end. An outage runs from a failed request to the next success; it belongs to the phase it began in,
however long it lasts (one no success ended lasts until probing stopped). Latency percentiles are
nearest-rank over the successful requests. `time_to_recover_s` runs from the first failure after
arming to the first of three successes in a row. A missed SLO in `setup` makes the run inconclusive;
in any other phase it fails the run (`slo_verdict`). Nothing here does I/O or reads a clock.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from runner.engine.probe_result import PHASES, PhaseStats, ProbeResult, SloCheck
from runner.engine.result import Verdict
from runner.kernel.probing import Sample, percentile
from runner.scenario.model import PhaseSlo, Probe, ProbePhase, ProbeSlo

RECOVERED_AFTER = 3  # successes in a row that count as recovered (time_to_recover_s)
SERIES_LIMIT = 3000  # points of a probe's lane kept in report.json; more are thinned


@dataclass(frozen=True)
class Marks:
    """Where the phases begin (unix times; None: not reached)."""

    armed_at: float | None = None
    recovered_at: float | None = None
    rollback_at: float | None = None

    def phase_of(self, at: float) -> ProbePhase:
        if self.rollback_at is not None and at >= self.rollback_at:
            return ProbePhase.ROLLBACK
        if self.armed_at is None or at < self.armed_at:
            return ProbePhase.SETUP
        if self.recovered_at is not None and at >= self.recovered_at:
            return ProbePhase.RECOVERED
        return ProbePhase.FAULT

    def windows(self, start: float, end: float) -> dict[str, tuple[float | None, float | None]]:
        """(from, until) of each phase within [start, end]; (None, None) for one never reached."""
        rollback = self.rollback_at if self.rollback_at is not None else end
        armed = self.armed_at if self.armed_at is not None and self.armed_at < rollback else None
        recovered = (self.recovered_at if armed is not None and self.recovered_at is not None
                     and self.recovered_at < rollback else None)
        out: dict[str, tuple[float | None, float | None]] = {
            "setup": (start, armed if armed is not None else rollback),
            "fault": (armed, recovered if recovered is not None else rollback) if armed is not None
            else (None, None),
            "recovered": (recovered, rollback) if recovered is not None else (None, None),
            "rollback": (self.rollback_at, end) if self.rollback_at is not None else (None, None),
        }
        return out


@dataclass(frozen=True)
class Outage:
    start: float  # the first failed request
    end: float  # the next success, or when probing stopped
    ended: bool  # a success ended it


def outages(samples: Sequence[Sample], stopped_at: float) -> list[Outage]:
    """Every run of failures, from its first failed request to the next success."""
    out: list[Outage] = []
    start: float | None = None
    for s in samples:
        if not s.ok and start is None:
            start = s.at
        elif s.ok and start is not None:
            out.append(Outage(start, s.at, True))
            start = None
    if start is not None:
        out.append(Outage(start, max(stopped_at, start), False))
    return out


def time_to_recover(samples: Sequence[Sample], armed_at: float | None) -> float | None:
    """Seconds from the first failed request sent after arming to the first of RECOVERED_AFTER
    successes in a row after it; None when nothing failed after arming or it never recovered."""
    if armed_at is None:
        return None
    first: float | None = None
    streak: list[Sample] = []
    for s in samples:
        if s.at < armed_at:
            continue
        if first is None:
            if not s.ok:
                first = s.at
            continue
        if s.ok:
            streak.append(s)
            if len(streak) == RECOVERED_AFTER:
                return streak[0].at - first
        else:
            streak = []
    return None


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value * 1000, 3)


def phase_stats(samples: Sequence[Sample], marks: Marks, phase: ProbePhase, window: tuple[
        float | None, float | None], all_outages: Sequence[Outage]) -> PhaseStats:
    mine = [s for s in samples if marks.phase_of(s.at) is phase]
    good = [s for s in mine if s.ok]
    failed = [s for s in mine if not s.ok]
    latencies = [s.latency_s for s in good]
    began = [o for o in all_outages if marks.phase_of(o.start) is phase]
    recovered_at = None
    if failed:
        last = failed[-1].at
        recovered_at = next((s.at for s in samples if s.ok and s.at > last), None)
    ttfb = [s.ttfb_s for s in good if s.ttfb_s is not None]
    gaps = [g for s in good for g in s.chunk_gaps_s]
    errors = Counter(s.error or f"HTTP {s.status}" for s in failed)
    return PhaseStats(
        requests=len(mine), succeeded=len(good),
        success_rate=round(len(good) / len(mine), 6) if mine else None,
        p50_ms=_ms(percentile(latencies, 50)), p95_ms=_ms(percentile(latencies, 95)),
        p99_ms=_ms(percentile(latencies, 99)),
        longest_outage_s=round(max((o.end - o.start for o in began), default=0.0), 6),
        first_failure_at=failed[0].at if failed else None, recovered_at=recovered_at,
        started_at=window[0], ended_at=window[1], errors=dict(errors.most_common(5)),
        ttfb_p50_ms=_ms(percentile(ttfb, 50)), ttfb_p95_ms=_ms(percentile(ttfb, 95)),
        chunk_gap_p50_ms=_ms(percentile(gaps, 50)), chunk_gap_p95_ms=_ms(percentile(gaps, 95)))


# --- SLOs -----------------------------------------------------------------------------------

_LATENCIES = (("max-p50-latency", "max_p50_latency", "p50_ms"),
              ("max-p95-latency", "max_p95_latency", "p95_ms"),
              ("max-p99-latency", "max_p99_latency", "p99_ms"))


def _phase_checks(phase: str, slo: PhaseSlo, stats: PhaseStats) -> list[SloCheck]:
    checks: list[SloCheck] = []
    judged = stats.requests > 0
    if slo.min_success_rate is not None:
        rate = stats.success_rate
        checks.append(SloCheck(phase, "min-success-rate", slo.min_success_rate, rate,
                               None if rate is None else rate >= slo.min_success_rate))
    if slo.max_outage is not None:
        outage = stats.longest_outage_s if judged else None
        checks.append(SloCheck(phase, "max-outage", slo.max_outage.seconds, outage,
                               None if outage is None else outage <= slo.max_outage.seconds, "s"))
    for key, name, stat in _LATENCIES:
        limit = getattr(slo, name)
        if limit is None:
            continue
        observed: float | None = getattr(stats, stat)
        threshold = round(limit.seconds * 1000, 3)
        checks.append(SloCheck(phase, key, threshold, observed,
                               None if observed is None else observed <= threshold, "ms"))
    return checks


def evaluate(slo: ProbeSlo, phases: dict[str, PhaseStats]) -> tuple[SloCheck, ...]:
    """Every SLO of a probe, in phase order; one on a phase without requests is not evaluated."""
    out: list[SloCheck] = []
    for phase in ProbePhase:
        wanted = slo.of(phase)
        if wanted is not None:
            out += _phase_checks(phase.value, wanted, phases[phase.value])
    return tuple(out)


def slo_verdict(results: Sequence[ProbeResult]) -> tuple[Verdict, str] | None:
    """What the probes' SLOs say about the run: inconclusive for a missed setup SLO (the service
    was not healthy before the fault, so the run proves nothing), failed for any other miss, None
    when every SLO held or was not evaluated."""
    missed = [(r.name, c) for r in results for c in r.missed_slos]
    if not missed:
        return None
    setup = [(n, c) for n, c in missed if c.phase == ProbePhase.SETUP.value]
    if setup:
        said = "; ".join(f"probe {n}: {c.describe()}" for n, c in setup)
        return Verdict.INCONCLUSIVE, (f"the service was not healthy before the fault ({said}), so "
                                      "the run proves nothing")
    said = "; ".join(f"probe {n}: {c.describe()}" for n, c in missed)
    return Verdict.FAILED, f"SLO missed: {said}"


# --- the whole probe --------------------------------------------------------------------------


def thin(samples: Sequence[Sample], limit: int = SERIES_LIMIT) -> tuple[tuple[float, int, float], ...]:
    """[at, ok, latency ms] per sample; beyond `limit`, one point per time bucket (a failure if the
    bucket had one, else its slowest success), so an outage never disappears from the lane."""
    points = [(round(s.at, 3), int(s.ok), round(s.latency_s * 1000, 2)) for s in samples]
    if len(points) <= limit or not points:
        return tuple(points)
    t0, t1 = points[0][0], points[-1][0]
    width = max((t1 - t0) / (limit // 2), 1e-6)
    buckets: dict[int, tuple[float, int, float]] = {}
    for p in points:
        key = int((p[0] - t0) / width)
        held = buckets.get(key)
        if held is None or (held[1] and (not p[1] or p[2] > held[2])):
            buckets[key] = p
    return tuple(buckets[k] for k in sorted(buckets))


def summarize(probe: Probe, target: str, samples: Sequence[Sample], marks: Marks, started: float,
              stopped: float, missed: int = 0) -> ProbeResult:
    """The ProbeResult of one probe (samples in the order they were sent)."""
    ordered = sorted(samples, key=lambda s: s.at)
    windows = marks.windows(started, stopped)
    found = outages(ordered, stopped)
    phases = {name: phase_stats(ordered, marks, ProbePhase(name), windows[name], found)
              for name in PHASES}
    return ProbeResult(
        name=probe.name, target=target, interval_s=probe.interval.seconds, requests=len(ordered),
        phases=phases, time_to_recover_s=_round(time_to_recover(ordered, marks.armed_at)),
        slo=evaluate(probe.slo, phases), method=probe.method, headers=dict(probe.headers),
        body=probe.body, stream=probe.stream, missed=missed, series=thin(ordered))


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 6)
