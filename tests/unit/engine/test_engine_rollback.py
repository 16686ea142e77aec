"""Failures, deadlines, policies and the journal mirror: the cluster always ends as it was."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import pytest

from runner.cluster.protocol import ObjectRef
from runner.engine.events import RunListener
from runner.engine.executor import run_with_signals
from runner.engine.journal import mirror_name, read_journal
from runner.engine.leases import ENGINE_UNDO_KINDS
from runner.engine.recover import recover
from runner.engine.result import RunResult, UndoOutcome, Verdict
from runner.errors import Unavailable
from runner.kernel.step import StepStatus
from runner.kernel.undo import CORE_UNDO_KINDS, UndoKinds
from runner.scenario.model import (
    CordonStep,
    Duration,
    RollbackPolicy,
    StepKind,
)
from runner.settings import RunOptions
from tests.fakes.clock import FakeClock
from tests.fakes.cluster import STATE_NAMESPACE, FakeCluster
from tests.unit.engine.stepkit import NS, Kit, default_steps, make_scenario

DEP = ObjectRef("apps/v1", "Deployment", NS, "w")
STEP_NAMES = [s.name for s in default_steps()]

KINDS = UndoKinds(CORE_UNDO_KINDS).including(*ENGINE_UNDO_KINDS)  # what the test runs journal


def mirrors(cluster: FakeCluster) -> list[str]:
    """The journals' cluster copies: in the state namespace, never in the target's."""
    in_target = [o for o in cluster.objects("ConfigMap", NS)
                 if o["metadata"]["name"].startswith("chaos-journal-")]
    assert not in_target
    return [o["metadata"]["name"] for o in cluster.objects("ConfigMap", STATE_NAMESPACE)]


@pytest.mark.parametrize("mode", ["fail", "error", "raise"])
@pytest.mark.parametrize("step", STEP_NAMES)
def test_failure_at_every_step_leaves_cluster_as_it_was(
        step: str, mode: str, run: Callable[..., RunResult], cluster: FakeCluster, kit: Kit) -> None:
    before = cluster.dump()
    kit.modes[step] = mode
    result = run(make_scenario())
    assert result.verdict is Verdict.FAILED, result.reason
    assert result.exit_code == 1
    assert step in result.reason
    statuses = {s.name: s.status for s in result.steps}
    assert statuses[step] is (StepStatus.FAILED if mode == "fail" else StepStatus.ERROR)
    after = STEP_NAMES[STEP_NAMES.index(step) + 1:]
    assert all(statuses[name] is StepStatus.SKIPPED for name in after)
    assert result.rollback.complete
    assert cluster.dump() == before


@pytest.mark.parametrize("op", ["json_patch", "merge_patch", "create"])
def test_cluster_error_inside_a_step_rolls_back(op: str, run: Callable[..., RunResult],
                                                cluster: FakeCluster) -> None:
    before = cluster.dump()
    kind = {"json_patch": "Deployment", "merge_patch": "Node", "create": "Pod"}[op]
    cluster.fail_next(op, Unavailable("the API server went away"), kind=kind)
    result = run(make_scenario())
    assert result.verdict is Verdict.FAILED
    assert "went away" in result.reason
    assert cluster.dump() == before


def test_step_deadline_is_enforced_and_rolled_back(run: Callable[..., RunResult], kit: Kit,
                                                   cluster: FakeCluster, clock: FakeClock) -> None:
    before = cluster.dump()
    steps = default_steps()
    steps[2] = CordonStep(StepKind.CORDON, "3-cordon", timeout=Duration.of(5))
    kit.modes["3-cordon"] = "block"
    t0 = clock.monotonic()
    result = run(make_scenario(steps))
    assert result.verdict is Verdict.FAILED
    assert "deadline" in result.reason
    assert clock.monotonic() - t0 == pytest.approx(5)
    assert cluster.dump() == before


def test_scenario_deadline_caps_the_step_deadline(run: Callable[..., RunResult], kit: Kit,
                                                  cluster: FakeCluster, clock: FakeClock) -> None:
    before = cluster.dump()
    kit.modes["4-toggle"] = "block"
    t0 = clock.monotonic()
    result = run(make_scenario(timeout=42))
    assert result.verdict is Verdict.FAILED
    assert clock.monotonic() - t0 == pytest.approx(42)
    assert {s.name: s.status for s in result.steps}["5-assert"] is StepStatus.SKIPPED
    assert cluster.dump() == before


def test_policy_never_keeps_the_broken_state(run: Callable[..., RunResult], kit: Kit,
                                             cluster: FakeCluster, tmp_path: Path) -> None:
    before = cluster.dump()
    kit.modes["5-assert"] = "fail"
    result = run(make_scenario(rollback=RollbackPolicy.NEVER))
    assert result.verdict is Verdict.FAILED  # what the steps earned, not 5
    assert "rollback skipped by policy; run chaos recover" in result.reason
    assert not result.rollback.ran
    assert len(result.rollback.leftovers) == 3
    assert cluster.dump() != before
    assert mirrors(cluster) == [mirror_name(result.run_id)]  # dirty: the cluster copy stays
    recovered = recover(cluster, KINDS, run_dir=tmp_path / "run")
    assert recovered.exit_code == 0
    assert cluster.dump() == before


def test_policy_always_undoes_everything_again(run: Callable[..., RunResult],
                                               cluster: FakeCluster) -> None:
    before = cluster.dump()
    result = run(make_scenario(rollback=RollbackPolicy.ALWAYS))
    assert result.verdict is Verdict.PASSED
    assert result.rollback.ran
    assert len(result.rollback.undone) == 3
    assert result.rollback.verified
    assert cluster.dump() == before


def test_on_failure_passing_run_without_cleanup_ends_clean(run: Callable[..., RunResult],
                                                           cluster: FakeCluster) -> None:
    before = cluster.dump()
    result = run(make_scenario(default_steps(cleanup=False)))
    assert result.verdict is Verdict.PASSED
    assert result.rollback.ran
    assert [u.ok for u in result.rollback.undone] == [True, True, True]
    assert cluster.dump() == before


def test_on_failure_passing_run_with_cleanup_needs_no_rollback(run: Callable[..., RunResult],
                                                               cluster: FakeCluster) -> None:
    result = run(make_scenario())
    assert result.verdict is Verdict.PASSED
    assert not result.rollback.ran
    assert result.rollback.verified


def test_mirror_present_during_the_run_and_deleted_after(run: Callable[..., RunResult],
                                                         cluster: FakeCluster) -> None:
    seen: dict[str, str] = {}

    class Spy(RunListener):
        def step_finished(self, result: object) -> None:
            for cm in cluster.objects("ConfigMap", STATE_NAMESPACE):
                seen[getattr(result, "name")] = cm["data"]["journal.jsonl"]  # noqa: B009

    result = run(make_scenario(), listener=Spy())
    assert result.verdict is Verdict.PASSED
    assert '"type":"undo"' in seen["1-patch"]
    step_undos = [ln for ln in seen["3-cordon"].splitlines()
                  if '"type":"undo"' in ln and '"step":"<lease>"' not in ln]
    assert len(step_undos) == 2  # the patch and the cordon; the run's Leases are journaled apart
    assert mirrors(cluster) == []
    labels = cluster.events  # nothing else left behind either
    assert labels == []


def test_mirror_write_failure_before_a_lease_takes_nothing(run: Callable[..., RunResult],
                                                           cluster: FakeCluster) -> None:
    before = cluster.dump()
    cluster.fail_next("merge_patch", Unavailable("etcd is slow"), kind="ConfigMap")
    result = run(make_scenario())  # the first mirror write after preflight: the workload's Lease
    assert result.verdict is Verdict.INCONCLUSIVE
    assert result.exit_code == 3
    assert "nothing was changed" in result.reason
    assert not [w for w in cluster.writes() if w[1].startswith("Lease ")]
    assert cluster.dump() == before


def test_mirror_write_failure_stops_the_change(run: Callable[..., RunResult],
                                               cluster: FakeCluster) -> None:
    before = cluster.dump()

    class Break(RunListener):  # once the Leases are held, the patch step's journal entry fails
        def preflight_done(self, ok: bool, message: str, data: dict[str, Any]) -> None:
            cluster.fail_next("merge_patch", Unavailable("etcd is slow"), kind="ConfigMap")

    result = run(make_scenario(), listener=Break())
    assert result.verdict is Verdict.FAILED
    assert "could not be journaled" in result.steps[0].message
    assert ("json_patch", "Deployment ns/w") not in cluster.writes()  # the change never happened
    assert cluster.dump() == before


def test_mirror_creation_failure_changes_nothing(run: Callable[..., RunResult],
                                                 cluster: FakeCluster) -> None:
    cluster.fail_next("create", Unavailable("quota"), kind="ConfigMap")
    result = run(make_scenario())
    assert result.verdict is Verdict.INCONCLUSIVE
    assert result.exit_code == 3
    assert "nothing was changed" in result.reason
    assert cluster.writes() == [("create", f"ConfigMap {STATE_NAMESPACE}/" + mirror_name(result.run_id))]


def test_undo_that_fails_is_rollback_incomplete_then_recover(
        run: Callable[..., RunResult], kit: Kit, cluster: FakeCluster, tmp_path: Path) -> None:
    before = cluster.dump()
    kit.modes["5-assert"] = "fail"

    class Break(RunListener):
        def rollback_started(self, pending: list[str]) -> None:
            cluster.fail_next("json_patch", Unavailable("down"), kind="Deployment")

    result = run(make_scenario(), listener=Break())
    assert result.verdict is Verdict.ROLLBACK_INCOMPLETE
    assert result.exit_code == 5
    assert "chaos recover" in result.reason
    assert mirrors(cluster) == [mirror_name(result.run_id)]
    pending = read_journal(tmp_path / "run" / "journal.jsonl", KINDS).pending()
    assert [p.step for p in pending if p.step != "<lease>"] == ["1-patch"]
    assert len(pending) == 3  # and the Leases on the workload and its node, kept until recovered
    first = recover(cluster, KINDS, run_dir=tmp_path / "run")
    assert first.exit_code == 0
    assert first.changed
    assert cluster.dump() == before
    # the leftover check looks in the target namespace for what the run changed there: the Leases
    # live in the state namespace (released and verified by their own undo), so it never lists
    # Leases in the target's (deploy/rbac.yaml grants no Lease right there)
    assert ("list", f"Lease {NS}") not in cluster.calls
    writes = len(cluster.writes())
    second = recover(cluster, KINDS, run_dir=tmp_path / "run")
    assert not second.changed
    assert "nothing changed" in second.lines()[0]
    assert len(cluster.writes()) == writes


def test_second_ctrl_c_during_rollback_does_not_abort_it(
        cluster: FakeCluster, clock: FakeClock, kit: Kit, tmp_path: Path) -> None:
    before = cluster.dump()
    notices: list[str] = []
    undone: list[UndoOutcome] = []
    kit.modes["4-toggle"] = "block"

    class SignalSender(RunListener):
        def step_started(self, step: object, index: int, total: int, deadline_s: float) -> None:
            if getattr(step, "name", "") == "4-toggle":
                clock.call_later(10, lambda: os.kill(os.getpid(), signal.SIGINT))

        def rollback_started(self, pending: list[str]) -> None:
            os.kill(os.getpid(), signal.SIGINT)  # the impatient second Ctrl-C
            os.kill(os.getpid(), signal.SIGTERM)

        def undo_done(self, outcome: UndoOutcome) -> None:
            undone.append(outcome)

        def rollback_signal(self, left: list[str], hint: str) -> None:
            notices.append(hint)

    echoed: list[str] = []
    result = run_with_signals(make_scenario(), cluster, RunOptions(run_dir=tmp_path / "run"),
                              steps=kit.registry(), clock=clock, listener=SignalSender(),
                              echo=echoed.append)
    assert result.verdict is Verdict.INTERRUPTED, result.reason
    assert result.exit_code == 4
    assert "4-toggle" in result.reason
    assert len(undone) == 3
    assert all(u.ok for u in undone)
    assert len(notices) == 2
    assert "chaos recover" in notices[0]
    assert any("still to undo" in line for line in echoed)
    assert cluster.dump() == before
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handlers restored


def test_unjournaled_labelled_leftover_is_rollback_incomplete(
        run: Callable[..., RunResult], kit: Kit, cluster: FakeCluster) -> None:
    from runner.kernel.labels import run_labels

    class Sneaky(RunListener):
        def run_started(self, scenario: object, run_id: str, run_dir: str, c: str) -> None:
            cluster.create({"apiVersion": "v1", "kind": "ConfigMap",
                            "metadata": {"name": "stray", "namespace": NS,
                                         "labels": run_labels(run_id)}})

    result = run(make_scenario(default_steps(cleanup=False)), listener=Sneaky())
    assert result.verdict is Verdict.ROLLBACK_INCOMPLETE
    assert any("stray" in item for item in result.rollback.leftovers)


def test_engine_error_still_rolls_back(run: Callable[..., RunResult], kit: Kit,
                                       cluster: FakeCluster) -> None:
    before = cluster.dump()
    registry = kit.registry()
    cordon = cast(Any, registry[StepKind.CORDON])

    class Broken:
        kind = StepKind.CORDON

        def plan(self, *args: object) -> list[object]:
            return []

        def run(self, step: object, ctx: object) -> None:
            cordon.change(step, ctx)  # makes its change, then returns garbage

    result = run(make_scenario(), steps=registry.replacing(cast(Any, Broken())))
    assert result.verdict is Verdict.FAILED
    assert "internal error" in result.reason
    assert result.rollback.complete
    assert cluster.dump() == before
