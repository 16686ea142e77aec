"""The Rich terminal rendering and the live view (plain lines and the Live panel)."""

from __future__ import annotations

import io
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import tests.unit.report.report_samples as report_samples
from runner.engine.result import RunResult
from runner.report import terminal
from runner.report.live import LiveView

PODS: list[dict[str, Any]] = [
    {"name": "vllm-worker-a", "node": "gpu-node-1", "phase": "Running", "ready": False, "restarts": 2},
    {"name": "vllm-worker-b", "node": "gpu-node-1", "phase": "Running", "ready": False, "restarts": 1},
    {"name": "vllm-worker-c", "node": "gpu-node-2", "phase": "Pending", "ready": False, "restarts": 0},
    {"name": "vllm-worker-d", "node": "gpu-node-2", "phase": "Running", "ready": True, "restarts": 0},
]


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_plain_rendering_has_every_part(written: tuple[RunResult, Path, list[Path]]) -> None:
    result, _, paths = written
    out = terminal.render_text(result, [str(p) for p in paths])
    assert result.verdict.value.upper() in out
    assert f"exit {result.exit_code}" in out
    for step in result.steps:
        assert step.name in out
        assert step.status.value in out
    assert "Key timings" in out
    assert "Ready on another node" in out
    assert ("Rollback (policy" in out) or ("Rollback did not run" in out)
    assert (f"Run directory: {result.run_dir}" in out) == bool(result.run_dir)
    assert all(str(p) in out for p in paths)
    assert "\x1b[" not in out


def test_plain_when_no_color_or_not_a_tty(monkeypatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert terminal.is_plain(io.StringIO())
    assert not terminal.is_plain(_Tty())
    monkeypatch.setenv("NO_COLOR", "1")
    assert terminal.is_plain(_Tty())


def test_colour_on_a_tty(monkeypatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    stream = _Tty()
    terminal.render(report_samples.failed(), stream=stream)
    assert "\x1b[" in stream.getvalue()
    assert "FAILED" in stream.getvalue()


def _scenario(name: str) -> SimpleNamespace:
    return SimpleNamespace(metadata=SimpleNamespace(name=name),
                           settings=SimpleNamespace(timeout=SimpleNamespace(seconds=900)))


def _drive(view: LiveView, result: RunResult) -> None:
    step = SimpleNamespace(name="assert reschedule")
    view.run_started(_scenario(result.scenario_name), result.run_id, "/tmp/run", "embedded cluster")
    view.preflight_done(True, "target node gpu-node-1", {})
    view.step_started(step, 3, 6, 600.0)
    view.step_progress(step, "waiting for pods to be Ready elsewhere", {"pods": PODS})
    view.step_finished(result.steps[3])
    view.rollback_started(["restore Deployment"])
    for undo in result.rollback.undone:
        view.undo_done(undo)
    view.rollback_finished(result.rollback)
    view.run_finished(result)


def test_live_view_plain_lines() -> None:
    result = report_samples.failed()
    buf = io.StringIO()
    view = LiveView(buf, plain=True)
    _drive(view, result)
    lines = buf.getvalue().splitlines()
    assert any("run started: xid79-fell-off-bus" in line and result.run_id in line for line in lines)
    assert any("step 4/6 started: assert reschedule" in line for line in lines)
    assert any("on embedded cluster" in line for line in lines)
    progress = next(line for line in lines if "waiting for pods" in line)
    assert "gpu-node-1: 2 Running (0 ready)" in progress
    assert "gpu-node-2: 1 Pending 1 Running (1 ready)" in progress
    assert any("step failed: assert reschedule" in line for line in lines)
    assert sum("undo ok" in line for line in lines) == len(result.rollback.undone)
    assert "run finished: failed" in lines[-1]
    assert "\x1b[" not in buf.getvalue()


def test_live_view_panel_on_a_tty(monkeypatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    result = report_samples.failed()
    stream = _Tty()
    now = [1000.0]
    view = LiveView(stream, clock=lambda: now[0])
    assert not view.plain
    step = SimpleNamespace(name="assert reschedule")
    view.run_started(_scenario(result.scenario_name), result.run_id, "/tmp/run", "sim")
    view.step_started(step, 3, 6, 600.0)
    now[0] += 75
    view.step_progress(step, "waiting", {"pods": PODS})
    with view.console.capture() as cap:
        view.console.print(view._renderable())
    shown = cap.get()
    assert "assert reschedule" in shown
    assert "elapsed 1m15s" in shown
    assert "deadline in 13m45s" in shown
    for pod in PODS:
        assert pod["name"] in shown
    view.run_finished(result)
    assert view._live is None


def test_a_broken_view_never_raises() -> None:
    view = LiveView(io.StringIO(), plain=True)
    view.step_progress(None, "x", {"pods": "not a list"})
    view.step_progress(None, "x", {"pods": [None, 3, {"node": None}]})
    view.step_finished(object())
    view.undo_done(None)
    view.run_finished(None)
    view.run_started(object(), "", "", "")
    view.rollback_finished(None)
