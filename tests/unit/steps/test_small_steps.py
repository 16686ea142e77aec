"""cordon/uncordon, delete-pods, probe (real HTTP), assert, pause, node-xid, and the registry."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator

import pytest

from runner.cluster.protocol import ObjectRef
from runner.errors import DeadlineExceeded, StepError
from runner.kernel.step import RunState, StepStatus
from runner.kernel.undo import SetUnschedulable
from runner.scenario.model import (
    AssertStep,
    CordonStep,
    DeletePodsStep,
    Duration,
    LogExpectation,
    NodeExpectation,
    NodeXidStep,
    PauseStep,
    PodExpectation,
    ProbeStep,
    StepKind,
    UncordonStep,
)
from runner.steps.assertion import AssertImpl
from runner.steps.cordon import CordonImpl, UncordonImpl
from runner.steps.delete_pods import DeletePodsImpl
from runner.steps.node_xid import NodeXidImpl
from runner.steps.pause import PauseImpl
from runner.steps.probe import ProbeImpl, p95, pod_url
from runner.steps.registry import REGISTRY
from tests.fakes.cluster import FakeCluster

from .conftest import NS, NodeDisks, make_scenario

N1 = ObjectRef("v1", "Node", None, "n1")


def test_registry_has_every_kind_once() -> None:
    assert set(REGISTRY) == set(StepKind)
    assert all(impl.kind is kind for kind, impl in REGISTRY.items())


def test_cordon_then_uncordon_journal_previous_values(make_ctx, cluster: FakeCluster) -> None:
    ctx = make_ctx()
    out = CordonImpl().run(CordonStep(StepKind.CORDON, "c"), ctx)
    assert out.status is StepStatus.PASSED
    assert cluster.get(N1)["spec"]["unschedulable"] is True
    assert ctx.journal == [SetUnschedulable("n1", False)]
    out = CordonImpl().run(CordonStep(StepKind.CORDON, "c2"), ctx)
    assert out.message == "node n1 already cordoned"
    assert len(ctx.journal) == 1
    UncordonImpl().run(UncordonStep(StepKind.UNCORDON, "u"), ctx)
    assert "unschedulable" not in cluster.get(N1)["spec"]
    assert ctx.journal[1] == SetUnschedulable("n1", True)
    assert ctx.points() == ["node-cordoned", "node-uncordoned"]
    assert [e.reason for e in cluster.events] == ["ChaosCordon", "ChaosUncordon"]
    plan = CordonImpl().plan(CordonStep(StepKind.CORDON, "c"), make_scenario(), RunState(target_node="n1"))
    assert plan[0].target == "node n1"
    assert plan[0].action == "cordon"


def test_delete_pods_on_a_node_at_most_count(make_ctx, cluster: FakeCluster) -> None:
    cluster.add_pod("w-9", NS, node="n1", labels={"app": "w"})
    cluster.add_pod("other", NS, node="n1", labels={"app": "other"})
    ctx = make_ctx()
    out = DeletePodsImpl().run(DeletePodsStep(StepKind.DELETE_PODS, "d", node="target", count=1), ctx)
    assert out.changes == ("deleted pod w-0",)
    names = sorted(p["metadata"]["name"] for p in cluster.objects("Pod", NS))
    assert names == ["other", "w-1", "w-9"]
    out = DeletePodsImpl().run(DeletePodsStep(StepKind.DELETE_PODS, "d2"), ctx)
    assert out.changes == ("deleted pod w-1", "deleted pod w-9")
    assert ctx.journal == []  # controllers recreate pods: nothing to undo


@pytest.fixture
def server() -> Iterator[tuple[int, list[str]]]:
    seen: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.path)
            code = 500 if self.path == "/fail" else 200
            self.send_response(code)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: object) -> None:
            return

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv.server_address[1], seen
    srv.shutdown()
    srv.server_close()


def probe(url: str, **kw: object) -> ProbeStep:
    return ProbeStep(StepKind.PROBE, "p", url=url, duration=Duration.of(5), interval=Duration.of(1),
                     **kw)  # type: ignore[arg-type]


def test_probe_passes_against_a_real_server(make_ctx, server, clock) -> None:
    port, seen = server
    out = ProbeImpl().run(probe(f"http://127.0.0.1:{port}/health"), make_ctx())
    assert out.status is StepStatus.PASSED
    assert out.evidence[0].data["requests"] == 5 == len(seen)
    assert clock.slept  # paced through the injected clock


def test_probe_fails_on_errors_and_says_why(make_ctx, server) -> None:
    port, _ = server
    out = ProbeImpl().run(probe(f"http://127.0.0.1:{port}/fail"), make_ctx())
    assert out.status is StepStatus.FAILED
    assert out.message == "success rate 0.0% < 99.0% (HTTP 500)"


def test_probe_each_pod_through_the_sim_port_map(make_ctx, cluster: FakeCluster, server) -> None:
    port, seen = server
    for name in ("w-0", "w-1"):
        cluster.update(ObjectRef("v1", "Pod", NS, name), lambda p: p["metadata"].update(
            annotations={"chaos.dev/sim-ports": json.dumps({"8000": port})}))
    out = ProbeImpl().run(probe("http://{pod}:8000/v1/models"), make_ctx())
    assert out.status is StepStatus.PASSED
    assert set(seen) == {"/v1/models"}


def test_pod_url_and_p95() -> None:
    from runner.workload.views import pod_view

    pod = pod_view({"metadata": {"name": "a"}, "status": {"podIP": "10.0.0.5", "phase": "Running"}})
    assert pod_url("http://{pod}:8000/x", pod) == "http://10.0.0.5:8000/x"
    assert pod_url("http://{pod}/x", pod) == "http://10.0.0.5/x"
    assert p95([float(i) for i in range(1, 101)]) == 95.0
    with pytest.raises(StepError, match="no IP"):
        pod_url("http://{pod}/x", pod_view({"metadata": {"name": "b"}}))


def test_assert_now_and_within(make_ctx, cluster: FakeCluster, clock) -> None:
    step = AssertStep(StepKind.ASSERT, "a", pods=PodExpectation(min_ready=2, max_restarts=0),
                      node=NodeExpectation(cordoned=False))
    assert AssertImpl().run(step, make_ctx()).status is StepStatus.PASSED
    failing = AssertStep(StepKind.ASSERT, "b", pods=PodExpectation(node="target", min_restarts=1),
                         node=NodeExpectation(cordoned=True),
                         logs=LogExpectation(pattern=r"\[XID 79 SIM\]"))
    out = AssertImpl().run(failing, make_ctx())
    assert out.status is StepStatus.FAILED
    assert out.message == ("did not hold: most restarts on n1 0, expected at least 1; node n1 is not "
                           "cordoned; 0 log line(s) match '\\\\[XID 79 SIM\\\\]', expected at least 1")

    def crash() -> None:
        cluster.add_log(NS, "w-0", "[XID 79 SIM] cudaMalloc failed\n", previous=True)
        cluster.set_pod_phase(NS, "w-0", "Running", ready=False, restarts=1)
        cluster.merge_patch(N1, {"spec": {"unschedulable": True}})

    clock.call_later(30, crash)
    within = AssertStep(StepKind.ASSERT, "c", pods=failing.pods, node=failing.node, logs=failing.logs,
                        within=Duration.of(60))
    ctx = make_ctx()
    out = AssertImpl().run(within, ctx)
    assert out.status is StepStatus.PASSED
    assert ctx.state.injections_seen == 1


def test_pause_sleeps_in_slices_and_respects_the_deadline(make_ctx, clock) -> None:
    out = PauseImpl().run(PauseStep(StepKind.PAUSE, "p", duration=Duration.of(3.5)), make_ctx())
    assert out.status is StepStatus.PASSED
    assert clock.slept == [1.0, 1.0, 1.0, 0.5]
    with pytest.raises(DeadlineExceeded):
        PauseImpl().run(PauseStep(StepKind.PAUSE, "p", duration=Duration.of(30)), make_ctx(budget=5))


def test_node_xid_refused_unless_allowed_then_written(make_ctx, cluster: FakeCluster,
                                                      disks: NodeDisks) -> None:
    step = NodeXidStep(StepKind.NODE_XID, "x")
    with pytest.raises(StepError, match="privileged"):
        NodeXidImpl().run(step, make_ctx())
    assert cluster.writes() == []
    ctx = make_ctx()
    ctx.state.allow_privileged = True
    out = NodeXidImpl().run(step, ctx)
    assert out.status is StepStatus.PASSED
    assert disks.read("n1", "/dev/kmsg") == ("NVRM: Xid (PCI:0000:3b:00): 79, pid=0, name=chaos, "
                                             f"{out.evidence[0].data['line'].split(', ', 3)[3]}\n")
    assert [a.kind for a in ctx.journal] == ["delete-object"]
    pod = next(p for p in cluster.calls if p[0] == "create")
    assert "kmsg" in pod[1]
