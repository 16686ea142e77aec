"""assert-reschedule (pass and each failing part) and cleanup (everything back, verified)."""

from __future__ import annotations

from runner.cluster.protocol import ObjectRef
from runner.kernel.step import StepStatus
from runner.scenario.model import (
    AssertRescheduleStep,
    CleanupStep,
    CordonStep,
    Duration,
    PatchStep,
    ShimSource,
    StepKind,
    ToggleStep,
)
from runner.steps.assert_reschedule import AssertRescheduleImpl
from runner.steps.cleanup import CleanupImpl
from runner.steps.cordon import CordonImpl
from runner.steps.patch import PatchImpl
from runner.steps.toggle import ToggleImpl
from tests.fakes.cluster import FakeCluster

from .conftest import NS, NodeDisks, StandInShim, make_scenario

XID = "[XID 79 SIM] cudaLaunchKernel -> cudaErrorNoDevice (100)"


def reschedule(within: float = 600, **kw: object) -> AssertRescheduleStep:
    return AssertRescheduleStep(StepKind.ASSERT_RESCHEDULE, "4-assert", within=Duration.of(within),
                                **kw)  # type: ignore[arg-type]


def fault_story(cluster: FakeCluster, clock, *, cordon: bool = True, move: bool = True) -> None:
    """XID 79 on n1: the pod there crashes (10 s), the node is cordoned (20 s), the pod is
    replaced on n3 (30 s), the replacement is Ready (45 s)."""
    def crash() -> None:
        cluster.add_log(NS, "w-0", f"serving\n{XID}\n", previous=True)
        cluster.set_pod_phase(NS, "w-0", "Running", ready=False, restarts=1)
        cluster.update(ObjectRef("v1", "Pod", NS, "w-0"), lambda p: p["status"]["containerStatuses"][0]
                       .update(lastState={"terminated": {"exitCode": 1, "reason": "Error"}}))

    clock.call_later(10, crash)
    if cordon:
        clock.call_later(20, lambda: cluster.merge_patch(ObjectRef("v1", "Node", None, "n1"),
                                                         {"spec": {"unschedulable": True}}))
    if move:
        def replace() -> None:
            cluster.delete(ObjectRef("v1", "Pod", NS, "w-0"))
            cluster.add_pod("w-2", NS, node="n3", labels={"app": "w"}, phase="Pending", ready=False)
        clock.call_later(30, replace)
        clock.call_later(45, lambda: cluster.set_pod_phase(NS, "w-2", "Running", ready=True))


def test_passes_with_evidence_and_timings(make_ctx, cluster: FakeCluster, clock) -> None:
    ctx = make_ctx()
    armed = clock.time()
    ctx.state.armed_nodes["n1"] = armed
    ctx.state.placements_before.update({"w-0": "n1", "w-1": "n2"})
    fault_story(cluster, clock)
    outcome = AssertRescheduleImpl().run(reschedule(), ctx)
    assert outcome.status is StepStatus.PASSED, outcome.message
    assert outcome.message == "2 replica(s) Ready off n1, n1 cordoned"
    placement, logs, timing = outcome.evidence
    assert placement.data["before"] == {"w-0": "n1", "w-1": "n2"}
    assert placement.data["after"] == {"w-1": "n2", "w-2": "n3"}
    assert placement.data["restarts"]["w-0"] == 1
    assert logs.data["lines"] == [{"pod": "w-0", "log": "previous", "line": XID}]
    assert timing.data["armed_to_first_crash_s"] == 10
    # the cordon is noticed at the next pod change (pods are what the step watches)
    assert 20 <= timing.data["armed_to_cordon_s"] <= 30
    assert timing.data["armed_to_ready_elsewhere_s"] == 45
    assert ctx.state.injections_seen == 1
    assert {"pod-crash", "node-cordoned", "pod-ready", "rescheduled"} <= set(ctx.points())


def test_fails_when_pods_stay_on_the_node(make_ctx, cluster: FakeCluster, clock) -> None:
    ctx = make_ctx()
    fault_story(cluster, clock, move=False)
    outcome = AssertRescheduleImpl().run(reschedule(within=120), ctx)
    assert outcome.status is StepStatus.FAILED
    assert outcome.message == ("not rescheduled within 2m: pods still on n1: w-0; "
                               "1/2 replicas Ready on other nodes")
    assert ctx.state.injections_seen == 1  # the crash was still seen: the failure is meaningful


def test_fails_naming_the_missing_cordon(make_ctx, cluster: FakeCluster, clock) -> None:
    fault_story(cluster, clock, cordon=False)
    outcome = AssertRescheduleImpl().run(reschedule(within=120), make_ctx())
    assert outcome.status is StepStatus.FAILED
    assert outcome.message == "not rescheduled within 2m: node n1 is not cordoned"
    fault_story_ok = AssertRescheduleImpl().run(reschedule(within=1, expect_cordon=False), make_ctx())
    assert fault_story_ok.status is StepStatus.PASSED


def test_cleanup_puts_everything_back(make_ctx, cluster: FakeCluster, disks: NodeDisks, clock) -> None:
    original = cluster.dump()
    steps = (PatchStep(StepKind.PATCH, "1-patch", source=ShimSource.COMPILE),
             CordonStep(StepKind.CORDON, "2-cordon", node="n2"),
             ToggleStep(StepKind.TOGGLE, "3-toggle"), CleanupStep(StepKind.CLEANUP, "4-cleanup"))
    ctx = make_ctx(make_scenario(steps, expiry=60))
    PatchImpl(StandInShim()).run(steps[0], ctx)
    CordonImpl().run(steps[1], ctx)
    ToggleImpl().run(steps[2], ctx)
    # remediation cordons the faulty node on its own: not ours, so cleanup leaves it
    cluster.merge_patch(ObjectRef("v1", "Node", None, "n1"), {"spec": {"unschedulable": True}})
    assert (disks.read("n1", "/var/lib/cuda-fault/cuda_fault_enabled") or "").startswith("1")
    outcome = CleanupImpl().run(steps[3], ctx)
    assert outcome.status is StepStatus.PASSED, outcome.message
    assert ctx.state.renewers == {}
    assert disks.read("n1", "/var/lib/cuda-fault/cuda_fault_enabled") == "0\n"
    after = cluster.dump()
    assert after.pop("v1/Node//n1")["spec"] == {"unschedulable": True}
    original.pop("v1/Node//n1")
    assert after == original
    undone = outcome.evidence[0].data["undone"]
    assert undone[0].startswith("delete Pod ns/chaos-renew") or "disarm" in " ".join(undone)
    assert any(u.startswith("revert Deployment ns/w /spec/template/") for u in undone)
    assert "uncordon node n2" in undone


def test_cleanup_fails_when_something_cannot_be_undone(make_ctx, cluster: FakeCluster) -> None:
    ctx = make_ctx()
    PatchImpl(StandInShim()).run(PatchStep(StepKind.PATCH, "1", source=ShimSource.HOST_PATH,
                                           host_path="/x"), ctx)
    from runner.errors import Forbidden

    cluster.fail_next("json_patch", Forbidden("no", 403, "Forbidden"), kind="Deployment", times=99)
    try:
        outcome = CleanupImpl().run(CleanupStep(StepKind.CLEANUP, "2"), ctx)
    except Forbidden:
        outcome = None
    # our double applies undos directly (the engine catches per-action errors); either way the
    # template is still changed and says so
    assert outcome is None or outcome.status is StepStatus.FAILED
    left = ctx.journal[0].verify(cluster)
    assert left
    assert all(item.startswith("Deployment ns/w /spec/template/") for item in left)
    assert all(item.endswith(" is still as the run left it") for item in left)
