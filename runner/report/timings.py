"""The key timings of a run, read off its timeline.

Every format shows the same chain — fault armed → first injection or crash → node cordoned →
workload Ready elsewhere → fault disarmed (and by what) — so it is computed once here. Pure
functions of a RunResult; no rendering.
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


@dataclass(frozen=True)
class Disarm:
    """When and how the fault was disarmed; at=None when it never was."""

    at: float | None
    by: str = ""  # "by rollback", "by step cleanup", or "" when the run did not say


def armed_at(result: RunResult) -> float | None:
    """When the fault was armed: from the fault summary, else from the timeline."""
    armed = result.fault.armed_at
    return armed if armed is not None else _first(result.timeline, "fault-armed")


def disarm(result: RunResult) -> Disarm:
    """When the fault was disarmed (the summary's time, else the first `fault-disarmed` event after
    arming) and by what: the event's message when it says (`by rollback`), else its step."""
    armed = armed_at(result)
    events = sorted((e for e in result.timeline
                     if e.kind == "fault-disarmed" and (armed is None or e.at >= armed)), key=lambda e: e.at)
    at = result.fault.disarmed_at
    if at is None and events:
        at = events[0].at
    if at is None:
        return Disarm(None)
    if not events:
        return Disarm(at)
    event = min(events, key=lambda e: abs(e.at - at))  # the event that goes with the summary's time
    message = " ".join(event.message.split())
    if message.startswith("by "):
        return Disarm(at, message)
    return Disarm(at, f"by step {event.step}" if event.step else "")


def disarm_text(result: RunResult) -> str:
    """'by rollback at 2026-05-28 20:29:10 UTC', 'at ...', 'never (still armed at the end)' or '—'."""
    d = disarm(result)
    if d.at is None:
        return "never (still armed at the end)" if armed_at(result) is not None else "—"
    return f"{d.by} at {fmt_time(d.at)}" if d.by else f"at {fmt_time(d.at)}"


def fault_window(result: RunResult) -> tuple[float | None, float | None]:
    """(armed, disarmed-or-end): from the fault summary, else from the timeline."""
    armed = armed_at(result)
    disarmed = disarm(result).at
    if armed is not None and disarmed is None:
        disarmed = result.finished_at
    return armed, disarmed


def pod_crashes(result: RunResult) -> dict[str, int]:
    """Crashes per pod (one `pod-crash` event per restart), in the order they first crashed."""
    out: dict[str, int] = {}
    for e in sorted(result.timeline, key=lambda e: e.at):
        if e.kind == "pod-crash":
            key = e.pod or e.node or "?"
            out[key] = out.get(key, 0) + 1
    return out


def crash_text(result: RunResult) -> str:
    """'4 (vllm-worker-a ×3, vllm-worker-b)', or '0'."""
    per_pod = pod_crashes(result)
    total = sum(per_pod.values())
    if not total:
        return "0"
    parts = [f"{pod} ×{n}" if n > 1 else pod for pod, n in per_pod.items()]
    shown = ", ".join(parts[:6]) + (f", … {len(parts) - 6} more" if len(parts) > 6 else "")
    return f"{total} ({shown})"


def key_timings(result: RunResult) -> list[Timing]:
    """The recovery chain in order, ending with the disarm; rows whose event never happened carry
    at=None."""
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
    disarmed = disarm(result)
    rows = [("fault armed", armed), ("first injection", injection), ("first pod crash", crash),
            ("node cordoned", cordoned), ("Ready on another node", ready_elsewhere),
            (" ".join(("fault disarmed", disarmed.by)).strip(), disarmed.at)]
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
