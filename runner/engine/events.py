"""How the engine tells the outside world what is happening: a listener with no-op methods.

The CLI's live view, the reports and tests subclass `RunListener` and override what they need.
The engine only ever calls listeners through `SafeListener`, so a listener that raises is logged
once and ignored: a broken renderer must never break a run (or, worse, its rollback).
This module must not render anything itself.
"""

from __future__ import annotations

import logging
from typing import Any

from runner.engine.result import RollbackResult, RunResult, StepResult, UndoOutcome
from runner.errors import Interrupted
from runner.scenario.model import Scenario, StepBase

log = logging.getLogger("chaos.engine")


class RunListener:
    """Override what you need; every method defaults to doing nothing."""

    def run_started(self, scenario: Scenario, run_id: str, run_dir: str, cluster: str) -> None:
        """The run began (nothing changed yet)."""

    def preflight_done(self, ok: bool, message: str, data: dict[str, Any]) -> None:
        """Preflight finished: `data` holds target node, pods, guardrail figures."""

    def step_started(self, step: StepBase, index: int, total: int, deadline_s: float) -> None:
        """A step began; it has `deadline_s` seconds."""

    def step_progress(self, step: StepBase, message: str, data: dict[str, Any]) -> None:
        """A running step reported progress (counts, pods by node...)."""

    def step_finished(self, result: StepResult) -> None:
        """A step ended (or was skipped)."""

    def rollback_started(self, pending: list[str]) -> None:
        """Rollback began; `pending` describes each change to undo, in undo order."""

    def undo_done(self, outcome: UndoOutcome) -> None:
        """One undo action ran."""

    def rollback_finished(self, result: RollbackResult) -> None:
        """Rollback and its verification ended."""

    def rollback_signal(self, left: list[str], hint: str) -> None:
        """SIGINT/SIGTERM arrived during rollback: it goes on; `left` is what is still to undo."""

    def run_finished(self, result: RunResult) -> None:
        """The run ended with `result`."""


class SafeListener(RunListener):
    """Wraps a listener: each call that raises is logged (once per method) and swallowed."""

    def __init__(self, inner: RunListener | None) -> None:
        self._inner = inner or RunListener()
        self._broken: set[str] = set()

    def _call(self, name: str, *args: Any) -> None:
        try:
            getattr(self._inner, name)(*args)
        except Interrupted:
            raise  # a signal that landed while the listener ran is the run's, not the listener's
        except Exception as exc:  # noqa: BLE001 - a listener bug must never break a run
            if name not in self._broken:
                self._broken.add(name)
                log.warning("run listener %s.%s failed (ignored from now on): %s",
                            type(self._inner).__name__, name, exc)

    def run_started(self, scenario: Scenario, run_id: str, run_dir: str, cluster: str) -> None:
        self._call("run_started", scenario, run_id, run_dir, cluster)

    def preflight_done(self, ok: bool, message: str, data: dict[str, Any]) -> None:
        self._call("preflight_done", ok, message, data)

    def step_started(self, step: StepBase, index: int, total: int, deadline_s: float) -> None:
        self._call("step_started", step, index, total, deadline_s)

    def step_progress(self, step: StepBase, message: str, data: dict[str, Any]) -> None:
        self._call("step_progress", step, message, data)

    def step_finished(self, result: StepResult) -> None:
        self._call("step_finished", result)

    def rollback_started(self, pending: list[str]) -> None:
        self._call("rollback_started", pending)

    def undo_done(self, outcome: UndoOutcome) -> None:
        self._call("undo_done", outcome)

    def rollback_finished(self, result: RollbackResult) -> None:
        self._call("rollback_finished", result)

    def rollback_signal(self, left: list[str], hint: str) -> None:
        self._call("rollback_signal", left, hint)

    def run_finished(self, result: RunResult) -> None:
        self._call("run_finished", result)
