"""How long each report format takes for a large run, against json.dumps of the same result.

Prints figures and ratios (no pass/fail): a run with many steps and a long timeline (a busy
cluster) must still render in well under a second per format.
Run: PYTHONPATH=. python bench/report_render.py
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from runner.engine.result import (
    Evidence,
    FaultSummary,
    RollbackResult,
    RunResult,
    StepResult,
    StepStatus,
    TimelineEvent,
    UndoOutcome,
    Verdict,
)
from runner.report import html, junit, markdown, redacted, terminal, write_reports

T0 = 1_780_000_000.0


def big_result(steps: int = 200, events: int = 5000, nodes: int = 16) -> RunResult:
    kinds = ["pod-crash", "pod-ready", "pod-scheduled", "pod-deleted", "node-cordoned"]
    return RunResult(
        run_id="bench", scenario_name="bench", scenario_path="bench.yaml", cluster="sim",
        started_at=T0, finished_at=T0 + steps * 10, verdict=Verdict.FAILED, reason="bench",
        steps=tuple(StepResult(f"step {i}", "wait", StepStatus.PASSED if i % 7 else StepStatus.FAILED,
                               f"message {i} Authorization: Bearer x{i}", T0 + i * 10, T0 + i * 10 + 9,
                               tuple(Evidence("log", f"line {j}", {"n": j, "token": "t"}) for j in range(5)))
                    for i in range(steps)),
        rollback=RollbackResult("on-failure", True, tuple(UndoOutcome(f"undo {i}", True) for i in range(50)),
                                True),
        fault=FaultSummary(79, "GPU fell off the bus", "node", "reschedule", "node-0", T0 + 10, T0 + 900, 3),
        timeline=tuple(TimelineEvent(T0 + i * steps * 10 / events, kinds[i % len(kinds)], f"e{i}",
                                     f"node-{i % nodes}", f"pod-{i}") for i in range(events)),
    )


def timed(fn: Callable[[], object], repeat: int = 5) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    result = big_result()
    base = timed(lambda: json.dumps(result.to_json()))
    print(f"result: {len(result.steps)} steps, {len(result.timeline)} timeline events")
    print(f"{'baseline json.dumps(to_json())':34} {base * 1000:8.1f} ms   1.0x")
    with tempfile.TemporaryDirectory() as tmp:
        cases: list[tuple[str, Callable[[], object]]] = [
            ("redact pass", lambda: redacted(result)),
            ("junit.xml", lambda: junit.render(result)),
            ("summary.md", lambda: markdown.render(result)),
            ("report.html", lambda: html.render(result)),
            ("terminal (plain text)", lambda: terminal.render_text(result)),
            ("write_reports (all four files)", lambda: write_reports(result, Path(tmp))),
        ]
        for name, fn in cases:
            t = timed(fn)
            print(f"{name:34} {t * 1000:8.1f} ms {t / base:6.1f}x")


if __name__ == "__main__":
    main()
