"""The key timings of a run, read off its timeline.

Every format shows the same chain — fault armed → first injection or crash → node cordoned →
workload Ready elsewhere — so it is computed once here. Pure functions of a RunResult; no rendering.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass

from runner.engine.result import RunResult, StepStatus, TimelineEvent


@dataclass(frozen=True)
class Timing:
    label: str
    at: float | None  # unix time; None when it never happened
    since_armed: float | None  # seconds after the fault was armed


def fault_window(result: RunResult) -> tuple[float | None, float | None]:
    """(armed, disarmed-or-end): from the fault summary, else from the timeline."""
    armed = result.fault.armed_at
    if armed is None:
        armed = _first(result.timeline, "fault-armed")
    disarmed = result.fault.disarmed_at
    if disarmed is None:
        disarmed = _first(result.timeline, "fault-disarmed", after=armed)
    if armed is not None and disarmed is None:
        disarmed = result.finished_at
    return armed, disarmed


def key_timings(result: RunResult) -> list[Timing]:
    """The recovery chain in order; rows whose event never happened carry at=None."""
    armed, _ = fault_window(result)
    tl = result.timeline
    after = armed if armed is not None else result.started_at
    injection = _first(tl, "first-injection", after=after)
    crash = _first(tl, "pod-crash", after=after)
    cordoned = _first(tl, "node-cordoned", after=after)
    node = result.fault.node
    ready_elsewhere = next(
        (e.at for e in sorted(tl, key=lambda e: e.at)
         if e.kind == "pod-ready" and e.at >= after and e.node and e.node != node),
        None,
    )
    rows = [("fault armed", armed), ("first injection", injection), ("first pod crash", crash),
            ("node cordoned", cordoned), ("Ready on another node", ready_elsewhere)]
    return [Timing(label, at, None if at is None or armed is None else at - armed) for label, at in rows]


def counts(result: RunResult) -> dict[str, int]:
    """Steps per status value, every status present (zero when none)."""
    out = {s.value: 0 for s in StepStatus}
    for step in result.steps:
        out[step.status.value] += 1
    return out


def fmt_duration(seconds: float | None) -> str:
    """'850ms', '12.3s', '4m05s', '1h02m'; '—' for None."""
    if seconds is None:
        return "—"
    if seconds < 0:
        return "-" + fmt_duration(-seconds)
    if seconds == 0:
        return "0s"
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def fmt_time(at: float | None) -> str:
    """UTC wall-clock time, ISO-like, for humans reading a report later."""
    if at is None:
        return "—"
    return _dt.datetime.fromtimestamp(at, tz=_dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def _first(events: tuple[TimelineEvent, ...], kind: str, after: float | None = None) -> float | None:
    times = [e.at for e in events if e.kind == kind and (after is None or e.at >= after)]
    return min(times) if times else None
