"""Time as a run sees it: the `Clock` protocol, the real clock, and a fake one for tests.

Why it exists: deadlines, pacing, the dead-man renewer and timestamps all read time through one
injected `Clock`, so a unit test of any step (renewals included) runs on `FakeClock` and never
really sleeps. Nothing else in the kernel, the engine or the steps calls `time` directly, except
to measure a latency (the probe's stopwatch).
"""

from __future__ import annotations

import heapq
import itertools
import math
import threading
import time
from collections.abc import Callable
from typing import Protocol

from runner.kernel.signals import InterruptGate


class Repeating(Protocol):
    """A task `Clock.every` runs until stopped."""

    @property
    def runs(self) -> int:
        """How many times the task ran so far."""
        ...

    @property
    def errors(self) -> list[str]:
        """What the runs that failed raised (a failed run does not stop the task)."""
        ...

    @property
    def missed(self) -> int:
        """Slots skipped because the run before them was still in flight when they came."""
        ...

    def stop(self, *, wait: bool = True) -> None:
        """Idempotent; once it returns no run will start, and with `wait` none is in flight
        (without: a run in flight may still finish, for work whose late end is harmless)."""
        ...


class Clock(Protocol):
    """Time as the engine and the steps see it."""

    def time(self) -> float:
        """Unix time (reports, the dead-man expiry)."""
        ...

    def monotonic(self) -> float:
        """Monotonic seconds (deadlines)."""
        ...

    def sleep(self, seconds: float) -> None:
        """Sleep (pause and pacing loops only; waits block in watches)."""
        ...

    def every(self, interval: float, task: Callable[[], object]) -> Repeating:
        """Run `task` every `interval` seconds, first after one interval, until stopped. Runs are
        due at start + k * interval (no drift, however long a run takes); a slot that passed while
        a run was still in flight is skipped and counted in `missed`."""
        ...


def next_slot(start: float, interval: float, done: int, now: float) -> tuple[int, int]:
    """(the slot to run next, slots skipped) after slot `done` finished at `now`: slot k is due at
    start + k * interval; every slot whose time has already passed is skipped."""
    due = done + 1
    late = math.floor((now - start) / interval) if interval > 0 else due
    if late >= due + 1:  # slot `due` (and maybe more) passed while the last run was in flight
        return late + 1, late + 1 - due
    return due, 0


class _Thread:
    """`Clock.every` in real time: a daemon thread. A run in flight finishes before stop returns."""

    def __init__(self, interval: float, task: Callable[[], object], name: str) -> None:
        self._interval = interval
        self._task = task
        self._stopped = threading.Event()
        self._lock = threading.Lock()  # held during a run, so stop() waits it out
        self.runs = 0
        self.missed = 0
        self.errors: list[str] = []
        self._start = time.monotonic()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        slot = 1
        while not self._stopped.wait(max(0.0, self._start + slot * self._interval - time.monotonic())):
            with self._lock:
                if self._stopped.is_set():
                    return
                _run_once(self, self._task)
            slot, skipped = next_slot(self._start, self._interval, slot, time.monotonic())
            self.missed += skipped

    def stop(self, *, wait: bool = True) -> None:
        self._stopped.set()
        if not wait:
            return
        with self._lock:
            pass
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout=max(5.0, self._interval))


def _run_once(owner: _Thread | _Timer, task: Callable[[], object]) -> None:
    try:
        task()
        owner.runs += 1
    except Exception as exc:  # noqa: BLE001 - one failed run must not end a renewer (the expiry is 3x away)
        owner.errors.append(f"{type(exc).__name__}: {exc}")


class SystemClock:
    """`Clock` backed by the `time` module. With a gate, a sleep is a point where Ctrl-C may land."""

    def __init__(self, gate: InterruptGate | None = None) -> None:
        self._gate = gate

    def time(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            return
        if self._gate is None:
            time.sleep(seconds)
            return
        with self._gate.interruptible():  # Ctrl-C during a pause step ends it at once
            time.sleep(seconds)

    def every(self, interval: float, task: Callable[[], object]) -> Repeating:
        return _Thread(interval, task, "chaos-every")


class _Timer:
    """`Clock.every` on a FakeClock: re-armed timers that fire as fake time passes."""

    def __init__(self, clock: FakeClock, interval: float, task: Callable[[], object]) -> None:
        self._clock = clock
        self._interval = interval
        self._task = task
        self._stopped = False
        self.runs = 0
        self.missed = 0
        self.errors: list[str] = []
        self._start = clock.monotonic()
        self._slot = 1
        clock.call_at(self._start + interval, self._fire)

    def _fire(self) -> None:
        if self._stopped:
            return
        _run_once(self, self._task)
        self._slot, skipped = next_slot(self._start, self._interval, self._slot, self._clock.monotonic())
        self.missed += skipped
        if not self._stopped:
            self._clock.call_at(self._start + self._slot * self._interval, self._fire)

    def stop(self, *, wait: bool = True) -> None:
        self._stopped = True


class FakeClock:
    """A `Clock` whose time moves only when a test or a sleep moves it; thread-safe.

    `sleep(s)` advances time at once, and timers (`call_later`, `call_at`, `every`) fire in time
    order, on the advancing thread, whenever time passes them. The tests' FakeCluster uses that
    too: a watch with nothing to report advances the clock to its next timer (or to the watch's
    timeout) instead of blocking, so "the pod crashes 30 s after the toggle" runs in microseconds.
    """

    def __init__(self, start: float = 1_700_000_000.0, monotonic_start: float = 1000.0) -> None:
        self._offset = start - monotonic_start  # unix time = monotonic + offset
        self._now = monotonic_start
        self._timers: list[tuple[float, int, Callable[[], object]]] = []
        self._seq = itertools.count()
        self._lock = threading.RLock()
        self.slept: list[float] = []

    def time(self) -> float:
        with self._lock:
            return self._now + self._offset

    def monotonic(self) -> float:
        with self._lock:
            return self._now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.advance(seconds)

    def every(self, interval: float, task: Callable[[], object]) -> Repeating:
        return _Timer(self, interval, task)

    def advance(self, seconds: float) -> None:
        """Move time forward by `seconds`, firing every timer due on the way, in order."""
        self.advance_to(self.monotonic() + max(0.0, seconds))

    def advance_to(self, when: float) -> None:
        """Move monotonic time forward to `when` (never backwards), firing due timers."""
        while True:
            with self._lock:
                if self._timers and self._timers[0][0] <= when:
                    at, _, fn = heapq.heappop(self._timers)
                    self._now = max(self._now, at)
                else:
                    self._now = max(self._now, when)
                    return
            fn()  # outside the lock: a timer may change a FakeCluster, which may read this clock

    def call_at(self, when: float, fn: Callable[[], object]) -> None:
        """Run `fn()` once monotonic time reaches `when`."""
        with self._lock:
            heapq.heappush(self._timers, (when, next(self._seq), fn))

    def call_later(self, delay: float, fn: Callable[[], object]) -> None:
        """Run `fn()` once `delay` seconds have passed."""
        self.call_at(self.monotonic() + delay, fn)

    def next_timer(self) -> float | None:
        with self._lock:
            return self._timers[0][0] if self._timers else None
