"""Call deadlines: every request to the API server ends by the deadline of whoever made it.

Why it exists: a run must stay bounded however sick the API server is (slow, or accepting requests
and answering none). Whoever makes calls opens a deadline scope on the cluster
(`Cluster.deadline(...)`): the engine around preflight (the scenario's deadline), each step (the
step's), the rollback and each undo (what is left of `settings.rollback-timeout`), and each
background renewal (a short one of its own). The adapter reads what is left of the soonest open
scope at every request: the request's connect and read timeouts come from it, retries and their
back-off stop when it is spent, and the call then raises `CallTimeout` instead of waiting on.

A deadline is a function returning the seconds left, so it reads whatever clock its owner uses (the
run's injected Clock). Scopes are per thread: a background renewer never inherits, or shortens, the
step that happens to be running. This module decides no deadline itself and imports no client.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from runner.errors import CallTimeout

SecondsLeft = Callable[[], float]


def until(deadline: float, now: Callable[[], float]) -> SecondsLeft:
    """The seconds left before `deadline`, a point on the `now` clock (e.g. `clock.monotonic`)."""
    return lambda: deadline - now()


@dataclass(frozen=True)
class Budget:
    """What is left of the soonest open scope, and whose deadline it is ("step fault-seen")."""

    left: float
    what: str

    @property
    def spent(self) -> bool:
        return self.left <= 0


@dataclass(frozen=True)
class _Scope:
    left: SecondsLeft
    what: str


class Deadlines:
    """The open deadline scopes of each thread (what an adapter keeps behind `Cluster.deadline`)."""

    def __init__(self) -> None:
        self._local = threading.local()

    def _stack(self) -> list[_Scope]:
        stack: list[_Scope] | None = getattr(self._local, "stack", None)
        if stack is None:
            stack = []
            self._local.stack = stack
        return stack

    @contextmanager
    def scope(self, left: SecondsLeft, what: str = "") -> Iterator[None]:
        """Within the block, this thread's calls end when `left()` reaches 0 (nested: the soonest)."""
        stack = self._stack()
        stack.append(_Scope(left, what or "the caller"))
        try:
            yield
        finally:
            stack.pop()

    def budget(self) -> Budget | None:
        """The soonest open scope of this thread (None: no deadline)."""
        soonest: Budget | None = None
        for scope in self._stack():
            left = scope.left()
            if soonest is None or left < soonest.left:
                soonest = Budget(left, scope.what)
        return soonest

    def check(self, doing: str) -> Budget | None:
        """The budget for a call about to be made; CallTimeout (nothing sent) when it is spent."""
        budget = self.budget()
        if budget is not None and budget.spent:
            raise CallTimeout(f"{doing}: not sent, the deadline of {budget.what} has passed", None,
                              "Timeout")
        return budget


def capped(timeout: tuple[float, float], budget: Budget | None) -> tuple[float, float]:
    """A request's (connect, read) timeouts, no longer than what is left of `budget`."""
    if budget is None:
        return timeout
    left = round(max(0.001, budget.left), 3)
    return min(timeout[0], left), min(timeout[1], left)
