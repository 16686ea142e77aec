"""The real clock (runner.steps.base.Clock): wall time, monotonic time, real sleep.

Kept apart so the engine reads time only through an injected Clock and tests can swap in a fake.
"""

from __future__ import annotations

import time

from runner.engine.signals import interruptible


class SystemClock:
    """`Clock` backed by the `time` module."""

    def time(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            with interruptible():  # Ctrl-C during a pause step ends it at once
                time.sleep(seconds)
