"""The wait step on a FakeCluster whose changes come from timers on the FakeClock (no sleeping)."""

from __future__ import annotations

from typing import Any

import pytest

from runner.cluster.protocol import ObjectRef
from runner.errors import DeadlineExceeded
from runner.kernel.step import StepStatus
from runner.scenario.model import StepKind, WaitFor, WaitStep, frozen_map
from runner.steps.wait import WaitImpl, rollout_complete
from tests.fakes.cluster import FakeCluster

from .conftest import NS

DEPLOY = ObjectRef("apps/v1", "Deployment", NS, "w")


def wait(for_: WaitFor, **kw: object) -> WaitStep:
    return WaitStep(StepKind.WAIT, "2-wait", for_=for_, **kw)  # type: ignore[arg-type]


def start_rollout(cluster: FakeCluster) -> None:
    """A template change: generation moves on, the controller has not caught up, one new pod is
    starting and the old ones are still Ready."""
    cluster.json_patch(DEPLOY, [{"op": "add", "path": "/spec/template/metadata/annotations",
                                 "value": {"x": "1"}}])
    cluster.add_pod("w-new", NS, node="n3", labels={"app": "w"}, phase="Pending", ready=False)


def finish_rollout(cluster: FakeCluster) -> None:
    cluster.delete(ObjectRef("v1", "Pod", NS, "w-0"))
    cluster.set_pod_phase(NS, "w-new", "Running", ready=True)
    gen = cluster.get(DEPLOY)["metadata"]["generation"]
    cluster.update(DEPLOY, lambda o: o["status"].update(observedGeneration=gen, updatedReplicas=2,
                                                        replicas=2, readyReplicas=2))


def test_pods_ready_waits_for_the_rollout_not_the_old_pods(make_ctx, cluster: FakeCluster, clock) -> None:
    start_rollout(cluster)
    clock.call_later(40, lambda: finish_rollout(cluster))
    ctx = make_ctx()
    started = clock.monotonic()
    outcome = WaitImpl().run(wait(WaitFor.PODS_READY), ctx)
    assert outcome.status is StepStatus.PASSED
    assert clock.monotonic() - started >= 40  # it did not pass on the old Ready pods
    assert outcome.message == "2/2 pods Ready"
    assert ctx.progress_calls
    assert "pods" in ctx.progress_calls[-1][1]


def test_pods_ready_times_out(make_ctx, cluster: FakeCluster) -> None:
    start_rollout(cluster)
    with pytest.raises(DeadlineExceeded, match="rollout"):
        WaitImpl().run(wait(WaitFor.PODS_READY), make_ctx(budget=30))


def test_rollout_complete_rules() -> None:
    obj = {"metadata": {"generation": 2}, "spec": {"replicas": 2},
           "status": {"observedGeneration": 1, "updatedReplicas": 2, "replicas": 2, "readyReplicas": 2}}
    from runner.scenario.model import WorkloadKind

    assert rollout_complete(obj, WorkloadKind.DEPLOYMENT) == ""
    obj["status"]["observedGeneration"] = 2
    assert rollout_complete(obj, WorkloadKind.DEPLOYMENT)
    obj["status"]["replicas"] = 3  # an old pod still around
    assert rollout_complete(obj, WorkloadKind.DEPLOYMENT) == ""
    assert rollout_complete({"metadata": {}, "status": {"state": "successful"}}, WorkloadKind.DYNAMO)


def test_node_condition(make_ctx, cluster: FakeCluster, clock) -> None:
    clock.call_later(5, lambda: cluster.set_node_condition("n1", "GpuXidError", "True"))
    outcome = WaitImpl().run(wait(WaitFor.NODE_CONDITION, condition="GpuXidError"), make_ctx())
    assert outcome.message == "node n1 has GpuXidError=True"
    assert outcome.evidence[0].data["conditions"]["GpuXidError"] == "True"


def test_pod_restarts_marks_every_crash_once(make_ctx, cluster: FakeCluster, clock) -> None:
    clock.call_later(5, lambda: cluster.set_pod_phase(NS, "w-0", "Running", ready=False, restarts=2))
    ctx = make_ctx()
    outcome = WaitImpl().run(wait(WaitFor.POD_RESTARTS, min_restarts=2), ctx)
    assert outcome.message == "pod w-0 on n1 restarted 2 time(s)"
    crashes = [p for p in ctx.timeline_points if p[0] == "pod-crash"]
    assert crashes == [("pod-crash", "crash 1", "n1", "w-0"), ("pod-crash", "crash 2", "n1", "w-0")]
    cluster.set_pod_phase(NS, "w-0", "Running", ready=False, restarts=3)
    WaitImpl().run(wait(WaitFor.POD_RESTARTS, min_restarts=3), ctx)  # a later step sees one more
    assert [p[1] for p in ctx.timeline_points if p[0] == "pod-crash"] == ["crash 1", "crash 2", "crash 3"]


def test_log_line_counts_an_xid_injection(make_ctx, cluster: FakeCluster, clock) -> None:
    line = "[XID 79 SIM] cudaMalloc -> cudaErrorNoDevice (100)"

    def crash() -> None:
        cluster.set_pod_phase(NS, "w-0", "Running", ready=False, restarts=1)
        cluster.add_log(NS, "w-0", f"loading\n{line}\n", previous=True)

    clock.call_later(7, crash)
    ctx = make_ctx()
    outcome = WaitImpl().run(wait(WaitFor.LOG_LINE, pattern=r"\[XID \d+ SIM\]"), ctx)
    assert outcome.evidence[0].data == {"pod": "w-0", "log": "previous", "line": line}
    assert ctx.state.injections_seen == 1
    assert ctx.points().count("first-injection") == 1


def test_log_line_times_out(make_ctx) -> None:
    with pytest.raises(DeadlineExceeded):
        WaitImpl().run(wait(WaitFor.LOG_LINE, pattern="never"), make_ctx(budget=10))


def test_pods_and_nodes_where(make_ctx, cluster: FakeCluster, clock) -> None:
    clock.call_later(3, lambda: cluster.merge_patch(ObjectRef("v1", "Node", None, "n1"),
                                                    {"spec": {"unschedulable": True}}))
    outcome = WaitImpl().run(wait(WaitFor.NODES, where=frozen_map(
        {"metadata.name": "target", "spec.unschedulable": "true"})), make_ctx())
    assert outcome.message.startswith("1 node(s) match")
    outcome = WaitImpl().run(wait(WaitFor.PODS, count=1, where=frozen_map(
        {"spec.nodeName": "target", "status.phase": "Running"})), make_ctx())
    assert outcome.status is StepStatus.PASSED
    with pytest.raises(DeadlineExceeded):
        WaitImpl().run(wait(WaitFor.PODS, count=3, where=frozen_map({"status.phase": "Running"})),
                       make_ctx(budget=5))


def test_log_line_of_a_pod_being_drained_is_seen(make_ctx, cluster: FakeCluster, clock) -> None:
    """A drained pod's log is there until it is gone: the wait reads it (a slow API makes that
    window most of the time there is), not only the logs of pods that are not terminating."""
    line = "[XID 79 SIM] cudaMalloc -> cudaErrorNoDevice (100)"

    def drain() -> None:
        cluster.add_log(NS, "w-0", f"{line}\n")
        cluster.update(ObjectRef("v1", "Pod", NS, "w-0"),
                       lambda p: p["metadata"].update(deletionTimestamp="2026-01-01T00:00:00Z"))

    clock.call_later(3, drain)
    ctx = make_ctx()
    outcome = WaitImpl().run(wait(WaitFor.LOG_LINE, pattern=r"\[XID \d+ SIM\]"), ctx)
    assert outcome.evidence[0].data == {"pod": "w-0", "log": "current", "line": line}
    assert ctx.state.injections_seen == 1


def test_log_line_reads_logs_at_a_bounded_rate_however_many_events(make_ctx, cluster: FakeCluster,
                                                                   clock) -> None:
    """Every log read is an API round trip: reading after each event of a burst would leave the
    wait ever further behind a slow API server. Many events, few reads; the line is still found."""
    line = "[XID 79 SIM] cudaMalloc -> cudaErrorNoDevice (100)"

    def touch(pod: dict[str, Any]) -> None:
        notes = pod["metadata"].setdefault("annotations", {})
        notes["n"] = str(int(notes.get("n", "0")) + 1)

    def burst() -> None:
        for _ in range(50):
            cluster.update(ObjectRef("v1", "Pod", NS, "w-1"), touch)

    clock.call_later(1, burst)
    clock.call_later(4, lambda: cluster.add_log(NS, "w-1", f"{line}\n"))
    ctx = make_ctx()
    WaitImpl().run(wait(WaitFor.LOG_LINE, pattern=r"\[XID \d+ SIM\]"), ctx)
    reads = [c for c in cluster.calls if c[0] == "pod_logs"]
    assert len(reads) <= 2 * 8  # two pods, a read every second or two over the ~5 s it took
    assert ctx.state.injections_seen == 1
