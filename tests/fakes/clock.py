"""A fake `Clock` (runner/steps/base.py) for tests: time only moves when a test or a sleep moves it.

`sleep(s)` advances time at once (nothing really sleeps), and timers registered with `call_later`
/ `call_at` fire, in time order, whenever time passes them. The FakeCluster uses that too: a watch
with nothing to report on a FakeCluster built with this clock advances the clock to its next timer
(or to the watch's timeout) instead of blocking, so a scenario of "the pod crashes 30 s after the
toggle" runs in microseconds and deterministically.

API (stable; other test areas rely on it):
    clock = FakeClock(start=1_700_000_000.0)
    clock.time() / clock.monotonic()       # unix time / monotonic seconds (they move together)
    clock.sleep(5)                         # advance 5 s, firing due timers
    clock.advance(5)                       # same as sleep
    clock.call_later(30, fn) / clock.call_at(t_monotonic, fn)   # fn() runs when time passes t
    clock.next_timer()                     # monotonic time of the next pending timer, or None
    clock.slept                            # list of every sleep()'s argument, in order
"""

from __future__ import annotations

import heapq
import itertools
import threading
from collections.abc import Callable


class FakeClock:
    """Implements `runner.steps.base.Clock`; thread-safe; timers fire on the advancing thread."""

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
