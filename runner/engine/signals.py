"""SIGINT/SIGTERM handling: turn a signal into `Interrupted` at a safe point, never mid-journal.

The handler raises `runner.errors.Interrupted` in the main thread, unless the engine is inside a
critical section (writing a journal entry), where it is remembered and raised when the section
ends. During rollback a signal is only remembered and reported (rollback must finish); a second
Ctrl-C never aborts it. This module installs nothing by itself: `install()` does, and `restore()`
puts the previous handlers back.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any

from runner.errors import Interrupted

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class InterruptGate:
    """Decides what a SIGINT/SIGTERM does right now: raise, defer, or (in rollback) only note."""

    def __init__(self) -> None:
        self.received: list[str] = []  # every signal seen, by name
        self.pending: str | None = None  # a signal deferred by a critical section
        self.fired = False  # Interrupted was raised (a step may have swallowed it)
        self._depth = 0
        self.rolling_back = False
        self.on_rollback_signal: Callable[[str], None] | None = None
        self._previous: dict[int, Any] = {}

    @property
    def interrupted(self) -> bool:
        return bool(self.received)

    def handle(self, signum: int, frame: FrameType | None = None) -> None:
        name = signal.Signals(signum).name
        self.received.append(name)
        if self.rolling_back:
            if self.on_rollback_signal is not None:
                self.on_rollback_signal(name)
            return
        if self._depth > 0:
            self.pending = name
            return
        self.fired = True
        raise Interrupted(f"{name} received")

    @contextlib.contextmanager
    def critical(self) -> Iterator[None]:
        """A section a signal must not cut in half (a journal write and its mirror)."""
        self._depth += 1
        try:
            yield
        finally:
            self._depth -= 1
        self.checkpoint()

    def checkpoint(self) -> None:
        """Raise a deferred signal now, if any (a safe point)."""
        if self._depth == 0 and self.pending and not self.rolling_back:
            name, self.pending = self.pending, None
            self.fired = True
            raise Interrupted(f"{name} received")

    def install(self) -> bool:
        """Install handlers for SIGINT and SIGTERM; False (nothing installed) off the main thread."""
        if threading.current_thread() is not threading.main_thread():
            return False
        for sig in SIGNALS:
            self._previous[sig] = signal.signal(sig, self.handle)
        return True

    def restore(self) -> None:
        for sig, previous in self._previous.items():
            signal.signal(sig, previous)
        self._previous.clear()
