"""Deadlines on every cluster call, and the rollback's own budget, on a FakeClock.

Every call a run makes carries a deadline (the FakeCluster records what was left of it): preflight
the scenario's, a step's calls the step's, Lease renewals a short one, the teardown its budget. An
API server that answers nothing (FakeCluster.frozen) ends the run within timeout + rollback-timeout
with exit 5 and the list of what is left; once it answers again, recover cleans up.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from runner.engine.events import RunListener
from runner.engine.leases import ENGINE_UNDO_KINDS, RENEW_DEADLINE_S
from runner.engine.recover import recover
from runner.engine.result import RunResult, Verdict
from runner.kernel.step import StepStatus
from runner.kernel.undo import CORE_UNDO_KINDS, UndoKinds
from runner.scenario.model import CordonStep, Duration, StepKind
from tests.fakes.clock import FakeClock
from tests.fakes.cluster import FakeCluster
from tests.unit.engine.stepkit import Kit, default_steps, make_scenario

KINDS = UndoKinds(CORE_UNDO_KINDS).including(*ENGINE_UNDO_KINDS)


def test_no_call_of_a_run_goes_without_a_deadline(run: Callable[..., RunResult],
                                                  cluster: FakeCluster, clock: FakeClock) -> None:
    kit_steps = default_steps()
    result = run(make_scenario(kit_steps, timeout=300, rollback_timeout=Duration.of(60)))
    assert result.verdict is Verdict.PASSED, result.reason
    assert cluster.budgets
    unbounded = [op for op, left in cluster.budgets if left is None]
    assert unbounded == []
    assert all(left is not None and left <= 300 for _, left in cluster.budgets)


def test_a_steps_calls_end_by_the_steps_deadline_and_renewals_by_their_own(
        run: Callable[..., RunResult], cluster: FakeCluster, clock: FakeClock, kit: Kit) -> None:
    steps = [*default_steps()]
    steps[2] = CordonStep(StepKind.CORDON, "3-cordon", timeout=Duration.of(45))
    kit.modes["3-cordon"] = "block"  # waits (watches) until its own deadline
    seen: list[tuple[str, str, float | None]] = []

    class Spy(RunListener):
        def step_started(self, step: object, index: int, total: int, budget: float) -> None:
            seen.append(("start", getattr(step, "name", ""), None))

    result = run(make_scenario(steps, timeout=600), listener=Spy())
    assert result.verdict is Verdict.FAILED
    assert {s.name: s.status for s in result.steps}["3-cordon"] is StepStatus.ERROR
    watches = [left for (op, what), (_, left) in zip(cluster.calls, cluster.budgets, strict=True)
               if op == "watch" and what.startswith("Pod")]
    assert watches
    assert all(left is not None and left <= 45 for left in watches)
    renewals = [left for (op, what), (_, left) in zip(cluster.calls, cluster.budgets, strict=True)
                if op == "json_patch" and what.startswith("Lease")]
    assert renewals  # 45 s of blocking: the Leases were renewed meanwhile, each with a short deadline
    assert all(left is not None and left <= RENEW_DEADLINE_S for left in renewals)


def test_a_frozen_api_ends_the_run_within_timeout_plus_the_rollback_budget(
        run: Callable[..., RunResult], cluster: FakeCluster, clock: FakeClock, kit: Kit,
        tmp_path: Path) -> None:
    before = cluster.dump()
    kit.modes["4-toggle"] = "block"

    def freeze(news: str) -> None:
        if news == "changed 4-toggle":  # the fault is "armed": from now on nothing answers
            cluster.frozen = True

    kit.announce = freeze
    lines: list[str] = []

    class Listen(RunListener):
        def rollback_started(self, pending: list[str]) -> None:
            lines.extend(pending)

    started = clock.monotonic()
    result = run(make_scenario(timeout=100, rollback_timeout=Duration.of(20)), listener=Listen())
    took = clock.monotonic() - started
    assert took <= 100 + 20
    assert result.verdict is Verdict.ROLLBACK_INCOMPLETE, result.reason
    assert result.exit_code == 5
    assert "chaos recover" in result.reason
    assert "settings.rollback-timeout (20s)" in result.reason
    # every change the run made is named as left: the one in flight when the budget ran out, and
    # those not attempted after it
    left = "\n".join(result.rollback.leftovers)
    assert len(lines) == 3  # patch, cordon, toggle
    for what in lines:
        assert what in left
    assert "not attempted: settings.rollback-timeout (20s) ran out" in left
    assert "CallTimeout" in left
    # the API server answers again: recover finishes the job
    cluster.frozen = False
    done = recover(cluster, KINDS, run_dir=tmp_path / "run", clock=clock)
    assert done.exit_code == 0
    assert cluster.dump() == before


def test_a_slow_undo_leaves_the_next_ones_what_is_left(run: Callable[..., RunResult],
                                                      cluster: FakeCluster, clock: FakeClock,
                                                      kit: Kit) -> None:
    """The budget is shared: an API server that stops answering mid-rollback costs the undos
    after it their attempt, never the run its bound."""
    kit.modes["5-assert"] = "fail"

    class FreezeOnFirstUndo(RunListener):
        def undo_done(self, outcome: object) -> None:
            cluster.frozen = True

    started = clock.monotonic()
    result = run(make_scenario(timeout=100, rollback_timeout=Duration.of(30)),
                 listener=FreezeOnFirstUndo())
    assert result.exit_code == 5
    oks = [u.ok for u in result.rollback.undone]
    assert oks[0] is True
    assert not any(oks[1:])
    assert clock.monotonic() - started <= 100 + 30
