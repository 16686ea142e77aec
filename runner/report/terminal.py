"""The run result in a terminal, with Rich.

Verdict panel, steps table, key timings, a table per probe (what the service's callers saw, per
phase, and each SLO), rollback, the run directory and the files written. Plain
(no colour, ASCII boxes) when NO_COLOR is set or the output is not a TTY, so CI logs stay readable.
The CLI calls `render()` with the result as the engine returned it, so `build()` starts with the
one redaction pass (`runner.report.redact.redacted`). This module must not decide anything about
the run.
"""

from __future__ import annotations

import os
import sys
from typing import IO

from rich import box
from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from runner.engine.result import RunResult, StepStatus, Verdict
from runner.report.probes_view import PHASE_COLUMNS, headline, phase_rows, slo_rows, stream_rows
from runner.report.redact import redacted
from runner.report.timings import fmt_duration, fmt_time, key_timings

VERDICT_STYLE = {
    Verdict.PASSED: "bold green", Verdict.FAILED: "bold red", Verdict.INCONCLUSIVE: "bold yellow",
    Verdict.INTERRUPTED: "bold bright_black", Verdict.ROLLBACK_INCOMPLETE: "bold magenta",
}
STATUS_STYLE = {
    StepStatus.PASSED: "green", StepStatus.FAILED: "red", StepStatus.ERROR: "red",
    StepStatus.SKIPPED: "bright_black", StepStatus.INTERRUPTED: "yellow",
}


def is_plain(stream: IO[str] | None = None) -> bool:
    """True when output must be plain: NO_COLOR set (any value) or not a terminal."""
    stream = stream if stream is not None else sys.stdout
    if "NO_COLOR" in os.environ:
        return True
    isatty = getattr(stream, "isatty", None)
    return not (callable(isatty) and isatty())


def make_console(stream: IO[str] | None = None, *, plain: bool | None = None) -> Console:
    plain = is_plain(stream) if plain is None else plain
    return Console(file=stream, no_color=plain, highlight=False, emoji=False,
                   force_terminal=None if plain else True, color_system=None if plain else "auto",
                   soft_wrap=False)


def build(result: RunResult, files: list[str] | None = None, *, plain: bool = False) -> Group:
    """The renderable (for callers that own a console or a Live view), from the redacted result."""
    result = redacted(result)
    boxes = box.ASCII2 if plain else box.ROUNDED
    vstyle = VERDICT_STYLE[result.verdict]
    head = Text()
    head.append(f"{result.verdict.value.upper()}", style=vstyle)
    head.append(f"  (exit {result.exit_code})\n")
    head.append(result.reason + "\n")
    f = result.fault
    head.append(f"scenario {result.scenario_name}  ·  XID {f.xid} {f.title}  ·  node {f.node or '—'}"
                f"  ·  {fmt_duration(result.finished_at - result.started_at)}\n", style="dim")
    head.append(f"cluster {result.cluster}  ·  run {result.run_id}", style="dim")
    panel = Panel(head, title="chaos", box=boxes, border_style=vstyle.replace("bold ", ""), expand=False)

    steps = Table(box=boxes, title="Steps", title_justify="left", expand=True)
    steps.add_column("#", justify="right", no_wrap=True)
    steps.add_column("status", no_wrap=True)
    steps.add_column("step", no_wrap=True)
    steps.add_column("time", justify="right", no_wrap=True)
    steps.add_column("message", overflow="fold", ratio=1)  # the message gets the width that is left
    for i, s in enumerate(result.steps, 1):
        # a default name ("3-toggle") already says the kind; a chosen one gets it added
        label = s.name if s.name == f"{i}-{s.kind}" else f"{s.name} ({s.kind})"
        steps.add_row(str(i), Text(s.status.value, style=STATUS_STYLE[s.status]), label,
                      fmt_duration(s.duration) if s.started_at > 0 else "—", s.message)

    timings = Table(box=boxes, title="Key timings", title_justify="left", expand=False)
    timings.add_column("event")
    timings.add_column("when")
    timings.add_column("after arming", justify="right")
    for t in key_timings(result):
        timings.add_row(t.label, fmt_time(t.at) if t.at is not None else "did not happen",
                        fmt_duration(t.since_armed))

    probes = _probe_tables(result, boxes)

    rb = result.rollback
    rbt = Text()
    if not rb.ran:
        cleaned = any(st.kind == "cleanup" and st.status.value == "passed" for st in result.steps)
        rbt.append("Rollback: nothing left to undo (the cleanup step restored everything).\n" if cleaned
                   else f"Rollback did not run (policy {rb.policy}).\n")
    else:
        rbt.append(f"Rollback (policy {rb.policy}): ")
        rbt.append("complete" if rb.complete else "INCOMPLETE", style="green" if rb.complete else "bold red")
        rbt.append(f", after-check {'verified' if rb.verified else 'not verified'}\n")
    for u in rb.undone:
        rbt.append("  ok   " if u.ok else "  FAIL ", style="green" if u.ok else "red")
        rbt.append(u.description + (f" — {u.message}" if u.message else "") + "\n")
    if rb.leftovers or result.verdict is Verdict.ROLLBACK_INCOMPLETE:
        rbt.append("The cluster is not as it was. Still changed:\n", style="bold red")
        for x in rb.leftovers:
            rbt.append(f"  - {x}\n")
        rbt.append(f"Recover with: chaos recover {result.run_dir or '<run dir>'}\n", style="bold")

    tail = Text()
    if result.run_dir:
        tail.append(f"Run directory: {result.run_dir}\n")
    for path in files or []:
        tail.append(f"  {path}\n")
    return Group(panel, steps, timings, *probes, rbt, tail)


def _probe_tables(result: RunResult, boxes: box.Box) -> list[Table | Text]:
    """A table per probe (one row per phase), then its SLO checks, one line each."""
    out: list[Table | Text] = []
    for probe in result.probes:
        table = Table(box=boxes, title=f"Service impact — {headline(probe)}", title_justify="left",
                      expand=False, pad_edge=False)
        for i, column in enumerate(PHASE_COLUMNS):
            table.add_column(column, justify="left" if i == 0 else "right", no_wrap=True)
        for row in phase_rows(probe, result.started_at):
            style = "red" if row.failed else ("bright_black" if not row.reached else "")
            table.add_row(*row.cells, style=style)
        out.append(table)
        streams = stream_rows(probe)
        slos = Text()
        for phase, ttfb, gaps in streams:
            slos.append(f"  {phase}: time to first byte p50/p95 {ttfb}, between chunks {gaps}\n")
        for phase, check, threshold, observed, verdict in slo_rows(probe):
            colour = {"passed": "green", "MISSED": "bold red"}.get(verdict, "yellow")
            slos.append("  SLO ")
            slos.append(verdict, style=colour)
            slos.append(f"  {phase} {check}: observed {observed}, threshold {threshold}\n")
        if slos.plain:
            out.append(slos)
    return out


def render(result: RunResult, files: list[str] | None = None, *, stream: IO[str] | None = None,
           plain: bool | None = None) -> None:
    """Print the result to `stream` (stdout by default)."""
    plain = is_plain(stream) if plain is None else plain
    console = make_console(stream, plain=plain)
    console.print(build(result, files, plain=plain))


def render_text(result: RunResult, files: list[str] | None = None, width: int = 120) -> str:
    """The plain rendering as a string (for `chaos report -o text` into a pipe, and tests)."""
    import io

    buf = io.StringIO()
    console = Console(file=buf, no_color=True, color_system=None, width=width, highlight=False,
                      emoji=False, force_terminal=False)
    console.print(build(result, files, plain=True))
    return buf.getvalue()
