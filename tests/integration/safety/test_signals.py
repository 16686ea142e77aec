"""SIGINT and SIGTERM delivered to `chaos run scenarios/xid79.yaml --cluster sim` mid-step, through
the real CLI: exit 4, verdict `interrupted`, rollback complete and verified, every change undone.

The moment is read from the run's plain output, never guessed with a sleep. Representative
steps (a run costs seconds; the engine's every-step coverage is tests/integration/engine): the
`wait` right after the patch (shim ConfigMap + patched template to undo) and `assert-reschedule`
while the fault is armed (helper pods and an armed node to undo as well). The embedded cluster
lives inside the run's process, so the evidence is the run's own report and output; that the
cluster really ends as it began is proven against a separate cluster process in
test_sigkill_recover.py.
"""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from runner.scenario.validate import load_scenario
from tests.conftest import REPO
from tests.integration.safety.support import LiveCli, no_traceback, report

SCENARIO = REPO / "scenarios" / "xid79.yaml"
STEPS = load_scenario(SCENARIO).steps


def during(kind: str) -> tuple[str, str]:
    """(the line that says the first step of `kind` started, its name), read off the scenario."""
    index, step = next((i, s) for i, s in enumerate(STEPS) if s.kind.value == kind)
    return f"step {index + 1}/{len(STEPS)} started", step.name


DURING_WAIT = during("wait")
DURING_RESCHEDULE = during("assert-reschedule")
CLEANUP = next(s.name for s in STEPS if s.kind.value == "cleanup")
ALWAYS_UNDONE = ["revert Deployment inference/vllm-worker /spec/template/",
                 "delete ConfigMap inference/chaos-shim-"]
ARMED_UNDONE = ["disarm the fault on node ", "delete Pod inference/chaos-toggle-"]


def start(run_dir: Path) -> LiveCli:
    return LiveCli(["run", str(SCENARIO), "--cluster", "sim", "--report-dir", str(run_dir)])


def assert_interrupted_and_rolled_back(run: LiveCli, rc: int, run_dir: Path, sig: str, step: str,
                                       armed: bool) -> dict:
    no_traceback(run.text)
    assert rc == 4, run.text[-3000:]
    data = report(run_dir)
    assert data["verdict"] == "interrupted"
    assert data["reason"] == f"interrupted ({sig} received) during step {step}"
    statuses = {s["name"]: s["status"] for s in data["steps"]}
    assert statuses[step] == "interrupted"
    assert statuses[CLEANUP] == "skipped"  # it was the rollback, not the cleanup step, that undid
    rollback = data["rollback"]
    assert rollback["ran"]
    assert rollback["verified"]
    assert rollback["leftovers"] == []
    assert rollback["undone"]
    assert all(u["ok"] for u in rollback["undone"]), rollback["undone"]
    undone = [u["description"] for u in rollback["undone"]]
    expected = ALWAYS_UNDONE + (ARMED_UNDONE if armed else [])
    for prefix in expected:
        assert any(d.startswith(prefix) for d in undone), (prefix, undone)
    if not armed:
        assert not any(d.startswith("disarm") for d in undone)  # interrupted before the toggle
    assert "rollback finished" in run.text
    assert "Rollback (policy on-failure): complete, after-check verified" in run.text
    return data


@pytest.mark.parametrize(("sig", "where"), [
    (signal.SIGINT, DURING_WAIT),
    (signal.SIGTERM, DURING_WAIT),
    (signal.SIGINT, DURING_RESCHEDULE),
    (signal.SIGTERM, DURING_RESCHEDULE),
], ids=["sigint-wait", "sigterm-wait", "sigint-assert-reschedule", "sigterm-assert-reschedule"])
def test_a_signal_mid_step_rolls_everything_back_and_exits_4(
        tmp_path: Path, sig: signal.Signals, where: tuple[str, str]) -> None:
    line, step = where
    run = start(tmp_path / "run")
    run.signal_on(line, sig)
    rc = run.finish(180)
    armed = where is DURING_RESCHEDULE
    data = assert_interrupted_and_rolled_back(run, rc, tmp_path / "run", sig.name, step, armed)
    if armed:
        assert data["fault"]["injections_seen"] >= 1  # the fault really was live when it hit


def test_a_second_sigint_during_rollback_does_not_abort_it(tmp_path: Path) -> None:
    run = start(tmp_path / "run")
    run.signal_on(DURING_RESCHEDULE[0], signal.SIGINT)
    # the impatient second Ctrl-C, sent the moment the rollback announces itself
    run.signal_on(r"rollback started: \d+ change", signal.SIGINT)
    rc = run.finish(180)
    assert_interrupted_and_rolled_back(run, rc, tmp_path / "run", "SIGINT", DURING_RESCHEDULE[1],
                                       armed=True)
    notice = run.wait_line(r"SIGINT received during rollback: it goes on")
    assert f"If it cannot finish, run: chaos recover {tmp_path / 'run'}" in notice
    # said once, from the main thread (a notice printed inside the handler used to repeat lines)
    assert run.text.count("received during rollback") == 1
    assert run.text.count("rollback started:") == 1
    assert "still to undo: " in run.text


def test_a_late_sigint_after_the_run_keeps_its_verdict(tmp_path: Path) -> None:
    # the run is over (reports written, handlers of the run restored): the exit code stays the
    # verdict's, it used to become 130
    run = start(tmp_path / "run")
    run.signal_on(r"^Run directory: ", signal.SIGINT)
    rc = run.finish(180)
    no_traceback(run.text)
    assert rc == 0, run.text[-3000:]
    assert report(tmp_path / "run")["verdict"] == "passed"
    assert "the run is over; finishing the report and shutting down" in run.text
