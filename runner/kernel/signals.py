"""SIGINT/SIGTERM handling: turn a signal into `Interrupted` at a safe point, never mid-change.

An exception raised at an arbitrary bytecode could cut a journal write, a client's bookkeeping or
a cluster call in half (or leave a lock acquired and never released), so the handler raises
`runner.errors.Interrupted` in the main thread only while it is blocked in an interruptible wait
(`interruptible()`: a plain sleep, which holds nothing). Anywhere else the signal is remembered
and raised at the next safe point (`checkpoint()`: between steps, after a journal entry, at each
turn of a wait — watches are cut into chunks of a couple of seconds for this). During rollback a
signal is only remembered and reported (rollback must finish); a second Ctrl-C never aborts it.
This module installs nothing by itself: `install()` does, and `restore()` puts the previous
handlers back. There is no global gate: the engine hands its gate to every step context, clock and
wait, so two runs in one process (tests, the Python API) never share one by accident.
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
        self._interruptible = 0
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
        if self._interruptible > 0 and self._depth == 0:
            self.fired = True
            raise Interrupted(f"{name} received")
        self.pending = name  # raised at the next safe point

    @contextlib.contextmanager
    def critical(self) -> Iterator[None]:
        """A section a signal must not cut in half (a journal write and its mirror)."""
        self._depth += 1
        try:
            yield
        finally:
            self._depth -= 1
        self.checkpoint()

    @contextlib.contextmanager
    def holding(self) -> Iterator[None]:
        """A rollback: signals during the block are only noted (`received`), never raised."""
        before = self.rolling_back
        self.rolling_back = True
        try:
            yield
        finally:
            self.rolling_back = before

    @contextlib.contextmanager
    def interruptible(self) -> Iterator[None]:
        """A blocking wait that a signal may cut short (nothing half-done inside)."""
        self.checkpoint()
        self._interruptible += 1
        try:
            yield
        finally:
            self._interruptible -= 1

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

    @contextlib.contextmanager
    def installed(self) -> Iterator[bool]:
        """`install()` for the block, `restore()` after it; yields whether handlers went in."""
        done = self.install()
        try:
            yield done
        finally:
            self.restore()
