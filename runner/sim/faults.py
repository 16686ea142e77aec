"""Faults the embedded API server injects into its own answers, for testing our retries and resumes.

A `ServerFaults` object decides per request whether to answer an error (500, or 429 with
Retry-After), how much latency to add, when to cut a watch stream (after N events or T seconds), and
whether to freeze: with `freeze` set the server still accepts connections and reads requests but
answers none of them (nor sends watch events) until the fault is cleared, which is what a client of
a stopped or partitioned API server sees; the held requests are then answered, or their connections
closed unanswered when the server stops. The admin endpoint itself is never frozen.
Settable from Python and through `POST /_chaos/faults` (a JSON object of the same fields). It must
not know about HTTP handlers or the store; the API server asks it questions.
"""

from __future__ import annotations

import random
import re
import threading
from dataclasses import asdict, dataclass, field, fields
from typing import Any


@dataclass
class FaultDecision:
    code: int = 0  # 0: answer normally
    retry_after: int = 0


@dataclass
class ServerFaults:
    """What to break. All defaults mean "nothing". Thread-safe."""

    error_rate: float = 0.0  # share of matching requests answered with `error_code`
    fail_next: int = 0  # answer the next N matching requests with `error_code` (deterministic)
    error_code: int = 500  # 500 or 429
    retry_after: int = 1  # seconds, sent with 429
    verbs: list[str] = field(default_factory=list)  # Kubernetes verbs to affect; empty: all
    path_regex: str = ""  # only paths matching this; empty: all
    latency_s: float = 0.0  # added before answering every matching request
    watch_drop_after_events: int = 0  # cut each watch stream after N events (0: never)
    watch_drop_after_s: float = 0.0  # cut each watch stream after T seconds (0: never)
    freeze: bool = False  # accept and read requests matching path_regex, answer none until cleared
    seed: int | None = None
    injected: int = 0  # how many errors were answered (read-only counter)
    watches_dropped: int = 0  # how many watch streams were cut (read-only counter)
    held: int = 0  # requests being held by `freeze` right now (read-only)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._rng = random.Random(self.seed)  # noqa: S311 - fault sampling, not security

    def hold(self, path: str, stopping: threading.Event) -> bool:
        """Block while `freeze` applies to `path`; False when the server began stopping meanwhile
        (the caller then closes the connection without an answer), True when it may answer."""
        with self._changed:
            if not self._frozen(path):
                return True
            self.held += 1
            try:
                while self._frozen(path) and not stopping.is_set():
                    self._changed.wait(0.25)  # woken by update/clear/wake; the timeout covers stop
            finally:
                self.held -= 1
            return not stopping.is_set()

    def _frozen(self, path: str) -> bool:
        return self.freeze and not (self.path_regex and not re.search(self.path_regex, path))

    def wake(self) -> None:
        """Wake every held request so it can see that the server is stopping."""
        with self._changed:
            self._changed.notify_all()

    def _matches(self, verb: str, path: str) -> bool:
        if self.verbs and verb not in self.verbs:
            return False
        return not (self.path_regex and not re.search(self.path_regex, path))

    def decide(self, verb: str, path: str) -> FaultDecision:
        with self._lock:
            if not self._matches(verb, path):
                return FaultDecision()
            hit = False
            if self.fail_next > 0:
                self.fail_next -= 1
                hit = True
            elif self.error_rate > 0 and self._rng.random() < self.error_rate:
                hit = True
            if not hit:
                return FaultDecision()
            self.injected += 1
            return FaultDecision(self.error_code, self.retry_after if self.error_code == 429 else 0)

    def note_watch_drop(self) -> None:
        with self._lock:
            self.watches_dropped += 1

    def latency(self, verb: str, path: str) -> float:
        with self._lock:
            return self.latency_s if self.latency_s > 0 and self._matches(verb, path) else 0.0

    def update(self, values: dict[str, Any]) -> None:
        """Set fields from a JSON object; unknown names are a ValueError."""
        known = {f.name for f in fields(self)}
        unknown = set(values) - known
        if unknown:
            raise ValueError(f"unknown fault settings: {', '.join(sorted(unknown))}")
        read_only = {"injected", "watches_dropped", "held"} & set(values)
        if read_only:
            raise ValueError(f"read-only fault counters: {', '.join(sorted(read_only))}")
        if "freeze" in values and not isinstance(values["freeze"], bool):
            raise ValueError("freeze must be true or false")
        with self._changed:
            for key, value in values.items():
                setattr(self, key, value)
            if "seed" in values:
                self._rng = random.Random(self.seed)  # noqa: S311
            self._changed.notify_all()

    def clear(self) -> None:
        defaults = ServerFaults()
        with self._changed:
            for f in fields(self):
                if f.name not in ("injected", "watches_dropped", "held"):
                    setattr(self, f.name, getattr(defaults, f.name))
            self._changed.notify_all()

    def as_dict(self) -> dict[str, Any]:
        with self._lock:
            return {k: v for k, v in asdict(self).items() if not k.startswith("_")}
