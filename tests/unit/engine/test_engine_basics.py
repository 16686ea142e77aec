"""The executor end to end with the test steps: passing run, journal, mirror, plan, listeners."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from runner.engine.events import RunListener
from runner.engine.executor import plan_scenario
from runner.engine.journal import read_journal
from runner.engine.leases import ENGINE_UNDO_KINDS
from runner.engine.result import RunResult, StepResult, Verdict
from runner.kernel.step import StepStatus
from runner.kernel.undo import CORE_UNDO_KINDS, UndoKinds
from tests.fakes.cluster import FakeCluster
from tests.unit.engine.stepkit import Kit, make_scenario

KINDS = UndoKinds(CORE_UNDO_KINDS).including(*ENGINE_UNDO_KINDS)  # what the test runs journal


def test_passing_run_leaves_cluster_as_it_was(run: Callable[..., RunResult], cluster: FakeCluster,
                                              tmp_path: Path) -> None:
    before = cluster.dump()
    result = run(make_scenario())
    assert result.verdict is Verdict.PASSED, result.reason
    assert result.exit_code == 0
    assert [s.status for s in result.steps] == [StepStatus.PASSED] * 6
    assert cluster.dump() == before
    journal = read_journal(tmp_path / "run" / "journal.jsonl", KINDS.including(*ENGINE_UNDO_KINDS))
    types = [e["type"] for e in journal.entries]
    assert types[0] == "run-start"
    assert types[-1] == "run-end"
    changes = [e for e in journal.entries if e["type"] == "undo" and e["step"] != "<lease>"]
    leases = [e for e in journal.entries if e["type"] == "undo" and e["step"] == "<lease>"]
    assert len(changes) == 3
    assert [e["action"]["kind"] for e in leases] == ["release-lease"] * 2  # the workload and node n1
    assert types.count("undone") == 5  # every change, then both Leases at the very end
    assert journal.pending() == []
    assert result.fault.injections_seen == 3
    assert result.fault.node == "n1"


def test_plan_touches_nothing(cluster: FakeCluster, kit: Kit) -> None:
    calls = len(cluster.calls)
    plan = plan_scenario(make_scenario(), steps=kit.registry())
    assert [len(p.changes) for p in plan] == [1, 0, 1, 1, 0, 0]
    assert plan[0].changes[0].action == "json-patch"
    assert len(cluster.calls) == calls


def test_broken_listener_never_breaks_a_run(run: Callable[..., RunResult]) -> None:
    seen: list[str] = []

    class Broken(RunListener):
        def step_started(self, *args: object) -> None:
            raise RuntimeError("renderer bug")

        def step_finished(self, result: StepResult) -> None:
            seen.append(result.name)
            raise ValueError("another bug")

    result = run(make_scenario(), listener=Broken())
    assert result.verdict is Verdict.PASSED
    assert len(seen) == 6
