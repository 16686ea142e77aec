"""The live view of a running scenario: what `chaos run` shows while it works.

`LiveView` is a `runner.engine.events.RunListener`: the engine calls it as the run goes.

On a TTY it shows a Rich Live panel: the current step, elapsed and deadline, the last message, and
pods by node and phase when progress data carries `pods` (a list of {name, node, phase, ready,
restarts}). Elsewhere (NO_COLOR, pipes, CI) it prints one plain line per event. It never raises
into the engine: a broken view must not break a run. It must not decide anything about the run.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import IO, Any

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from runner.engine.events import RunListener
from runner.report.redact import redact_text
from runner.report.terminal import STATUS_STYLE, is_plain, make_console
from runner.report.timings import fmt_duration


def _name_of(value: object) -> str:
    if isinstance(value, str):
        return value
    name = getattr(value, "name", None)
    return str(name) if name else str(value)


class LiveView(RunListener):
    """A RunListener-shaped live display (see the module docstring for the contract)."""

    def __init__(self, stream: IO[str] | None = None, *, plain: bool | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.plain = is_plain(stream) if plain is None else plain
        self.console: Console = make_console(stream, plain=self.plain)
        self._clock = clock
        self._live: Live | None = None
        self.run_id = ""
        self.scenario = ""
        self.started = 0.0
        self.deadline: float | None = None
        self.step = ""
        self.step_began = 0.0
        self.message = ""
        self.pods: list[Mapping[str, Any]] = []
        self.done: list[tuple[str, str, float]] = []  # (step, status, seconds)
        self.phase = "starting"
        self._last_progress = ""

    # --- the listener methods (runner.engine.events.RunListener) ----------------------------

    def run_started(self, scenario: Any, run_id: str, run_dir: str, cluster: str) -> None:
        timeout = getattr(getattr(getattr(scenario, "settings", None), "timeout", None), "seconds", None)
        self._safe(self._run_started, (_name_of(getattr(scenario, "metadata", scenario)), run_id,
                                       cluster, timeout), {})

    def preflight_done(self, ok: bool, message: str, data: dict[str, Any]) -> None:
        self._safe(self._event, (f"preflight {'ok' if ok else 'refused'}: {message}",), {})

    def step_started(self, step: Any, index: int, total: int, deadline_s: float) -> None:
        self._safe(self._step_started, (step, index, total), {})

    def step_progress(self, step: Any, message: str, data: dict[str, Any]) -> None:
        self._safe(self._step_progress, (message, data or {}), {})

    def step_finished(self, result: Any) -> None:
        self._safe(self._step_finished, (result,), {})

    def rollback_started(self, pending: list[str]) -> None:
        self.phase = "rolling back"
        self._safe(self._event, (f"rollback started: {len(pending)} change(s) to undo",), {})

    def undo_done(self, outcome: Any) -> None:
        ok = bool(getattr(outcome, "ok", False))
        text = f"undo {'ok' if ok else 'FAILED'}: {getattr(outcome, 'description', outcome)}"
        msg = getattr(outcome, "message", "")
        self._safe(self._event, (text + (f" — {msg}" if msg else ""),), {})

    def rollback_finished(self, result: Any) -> None:
        complete = bool(getattr(result, "complete", False))
        self._safe(self._event, (f"rollback finished{'' if complete else ': INCOMPLETE'}",), {})

    def rollback_signal(self, left: list[str], hint: str) -> None:
        # said even under the live panel: the user pressed Ctrl-C and must see the answer
        self._safe(self._line, (hint,), {})
        for item in left:
            self._safe(self._line, (f"  still to undo: {item}",), {})

    def run_finished(self, result: Any) -> None:
        self._safe(self._run_finished, (result,), {})

    # --- internals ----------------------------------------------------------------------------

    def _safe(self, fn: Callable[..., None], args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        try:
            fn(*args, **kwargs)
        except Exception:  # noqa: BLE001 - a display problem must never break a run
            self._stop()

    def _line(self, text: str) -> None:
        elapsed = self._clock() - self.started if self.started else 0.0
        # one event, one line: never wrapped, so log readers can grep it
        self.console.print(f"[{fmt_duration(elapsed):>7}] {redact_text(text)}", markup=False,
                           highlight=False, soft_wrap=True)

    def _event(self, text: str) -> None:
        self.message = text
        if self.plain:
            self._line(text)
        else:
            self._refresh()

    def _run_started(self, name: str, run_id: str, cluster: str, timeout: float | None) -> None:
        self.started = self._clock()
        self.run_id = run_id
        self.scenario = name
        self.deadline = self.started + float(timeout) if timeout else None
        self.phase = "running"
        text = f"run started: {self.scenario}" + (f" (run {self.run_id})" if self.run_id else "")
        text += f" on {cluster}" if cluster else ""
        if self.plain:
            self._line(text)
        else:
            self.console.print(redact_text(text), markup=False, highlight=False)
            self._live = Live(self._renderable(), console=self.console, refresh_per_second=4,
                              transient=True)
            self._live.start()

    def _step_started(self, step: Any, index: int, total: int) -> None:
        self.step = _name_of(step)
        self.step_began = self._clock()
        self.pods = []
        self._event(f"step {index + 1}/{total} started: {self.step}")

    def _step_progress(self, message: str, data: Mapping[str, Any]) -> None:
        pods = data.get("pods")
        if isinstance(pods, list):
            self.pods = [p for p in pods if isinstance(p, Mapping)]
        if self.plain:
            summary = self._pods_summary()
            line = f"{self.step}: {message}" + (f"  [{summary}]" if summary else "")
            if line != self._last_progress:  # a log is for changes, not heartbeats
                self._line(line)
            self._last_progress = line
        else:
            self.message = message
            self._refresh()

    def _step_finished(self, step: Any) -> None:
        status = getattr(getattr(step, "status", ""), "value", str(getattr(step, "status", "")))
        duration = float(getattr(step, "duration", 0.0))
        name = _name_of(step)
        self.done.append((name, status, duration))
        msg = getattr(step, "message", "")
        self._event(f"step {status}: {name} ({fmt_duration(duration)})" + (f" — {msg}" if msg else ""))

    def _run_finished(self, result: Any) -> None:
        self._stop()
        verdict = getattr(getattr(result, "verdict", ""), "value", str(getattr(result, "verdict", "")))
        if self.plain:
            self._line(f"run finished: {verdict} — {getattr(result, 'reason', '')}")

    def _stop(self) -> None:
        live, self._live = self._live, None
        if live is not None:
            try:
                live.stop()
            except Exception:  # noqa: BLE001 - already failing; nothing more to do
                return

    def _refresh(self) -> None:
        if self._live is not None:
            self._live.update(self._renderable())

    def _pods_summary(self) -> str:
        """'node-a: 2 Running (1 ready), node-b: 1 Pending' from the last pods list."""
        by_node: dict[str, dict[str, int]] = {}
        ready: dict[str, int] = {}
        for p in self.pods:
            node = str(p.get("node") or "(unscheduled)")
            phase = str(p.get("phase") or "?")
            by_node.setdefault(node, {}).setdefault(phase, 0)
            by_node[node][phase] += 1
            ready[node] = ready.get(node, 0) + (1 if p.get("ready") else 0)
        return ", ".join(
            f"{node}: " + " ".join(f"{n} {phase}" for phase, n in sorted(phases.items()))
            + f" ({ready[node]} ready)" for node, phases in sorted(by_node.items()))

    def _renderable(self) -> Group:
        now = self._clock()
        head = Text()
        head.append(f"{self.scenario or 'chaos run'}", style="bold")
        head.append(f"  {self.phase}  elapsed {fmt_duration(now - self.started if self.started else 0)}")
        if self.deadline is not None:
            head.append(f"  deadline in {fmt_duration(max(0.0, self.deadline - now))}")
        parts: list[Any] = [head]
        for name, status, seconds in self.done[-6:]:
            style = next((v for k, v in STATUS_STYLE.items() if k.value == status), "")
            parts.append(Text(f"  {status:<11} {name} ({fmt_duration(seconds)})", style=style))
        if self.step:
            parts.append(Text(f"▶ {self.step}  ({fmt_duration(now - self.step_began)})", style="cyan"))
        if self.message:
            parts.append(Text("  " + redact_text(self.message), style="dim"))
        if self.pods:
            table = Table(title="pods", title_justify="left", expand=False)
            for col in ("node", "pod", "phase", "ready", "restarts"):
                table.add_column(col)
            for p in sorted(self.pods, key=lambda p: (str(p.get("node") or ""), str(p.get("name") or ""))):
                table.add_row(str(p.get("node") or "—"), str(p.get("name", "")), str(p.get("phase", "")),
                              "yes" if p.get("ready") else "no", str(p.get("restarts", 0)))
            parts.append(table)
        return Group(*parts)
