"""The toggle step: helper pods really write the node's toggle file (shell run on a node dir)."""

from __future__ import annotations

import threading
import time

import pytest

from runner.cluster.protocol import ObjectRef
from runner.errors import StepError
from runner.scenario.model import StepKind, ToggleMethod, ToggleStep
from runner.steps.base import StepStatus
from runner.steps.toggle import DisarmNode, Renewer, ToggleImpl, toggle_content, write_command
from runner.steps.undo import DeleteObject
from tests.fakes.cluster import FakeCluster

from .conftest import NS, RUN_ID, NodeDisks, make_scenario

FILE = "/var/lib/cuda-fault/cuda_fault_enabled"


def arm(**kw: object) -> ToggleStep:
    return ToggleStep(StepKind.TOGGLE, "3-toggle", **kw)  # type: ignore[arg-type]


def test_content_and_command_are_atomic_writes(tmp_path) -> None:
    assert toggle_content(True, 79, 1234) == "1\nxid=79\nexpires=1234\n"
    assert toggle_content(False, 79, 1234) == "0\n"
    cmd = write_command("1\nxid=79\n", str(tmp_path))
    assert ".tmp && mv " in cmd


def test_arm_writes_the_file_on_the_node_and_journals_disarm_first(make_ctx, cluster: FakeCluster,
                                                                   disks: NodeDisks, clock) -> None:
    ctx = make_ctx(make_scenario(expiry=0))  # expiry 0: no renewer in this test
    outcome = ToggleImpl().run(arm(), ctx)
    assert outcome.status is StepStatus.PASSED
    content = disks.read("n1", FILE)
    assert content == f"1\nxid=79\nexpires={int(clock.time())}\n"
    assert [a.kind for a in ctx.journal] == ["disarm-node", "delete-object"]
    assert disks.ran == [("n1", f"chaos-toggle-{RUN_ID}-{ctx.journal[1].ref.name.rsplit('-', 1)[1]}")]
    assert [p for p in cluster.objects("Pod", NS) if "toggle" in p["metadata"]["name"]] == []
    assert ctx.state.armed_nodes == {"n1": clock.time()}
    assert ctx.state.placements_before == {"w-0": "n1", "w-1": "n2"}
    assert "fault-armed" in ctx.points()
    assert [e.reason for e in cluster.events] == ["ChaosFaultArmed"]
    # the recorded undo disarms, and doing it twice is harmless
    for _ in range(2):
        ctx.journal[0].apply(cluster)
        assert disks.read("n1", FILE) == "0\n"
        assert ctx.journal[0].verify(cluster) == []


def test_disarm_step_stops_the_renewer_and_writes_zero(make_ctx, disks: NodeDisks, clock) -> None:
    ctx = make_ctx(make_scenario(expiry=0.3))
    ToggleImpl().run(arm(), ctx)
    assert "renew:n1" in ctx.state.background
    renewals_seen = threading.Event()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not renewals_seen.is_set():  # a renewal really happens
        renewals_seen.wait(0.05)
        if sum(1 for node, name in disks.ran if "renew" in name) >= 1:
            renewals_seen.set()
    assert renewals_seen.is_set()
    ToggleImpl().run(arm(enabled=False), ctx)
    assert ctx.state.background == {}
    ran = len(disks.ran)
    assert disks.read("n1", FILE) == "0\n"
    assert ctx.state.disarmed_at == clock.time()
    assert "fault-disarmed" in ctx.points()
    # stopped for good: the renewer thread is gone, so nothing re-arms the node afterwards
    assert not [t for t in threading.enumerate() if t.name == "chaos-toggle-renewer"]
    assert len(disks.ran) == ran
    assert disks.read("n1", FILE) == "0\n"


def test_renewer_counts_errors_and_stop_is_idempotent() -> None:
    from runner.errors import ChaosError

    calls = []
    done = threading.Event()

    def write() -> None:
        calls.append(1)
        if len(calls) >= 2:
            done.set()
        raise ChaosError("node unreachable")

    r = Renewer(write, 0.01).start()
    assert done.wait(10)
    r.stop()
    r.stop()
    assert r.errors
    assert r.renewals == 0


def test_a_failed_helper_pod_is_a_step_error_and_is_deleted(make_ctx, cluster: FakeCluster,
                                                            disks: NodeDisks) -> None:
    disks.fail_nodes.add("n1")
    ctx = make_ctx(make_scenario(expiry=0))
    with pytest.raises(StepError, match="failed on node n1"):
        ToggleImpl().run(arm(), ctx)
    assert [p for p in cluster.objects("Pod", NS) if "toggle" in p["metadata"]["name"]] == []
    assert ctx.state.armed_nodes == {}


def test_helper_pod_never_finishing_times_out(make_ctx, cluster: FakeCluster, clock) -> None:
    # no NodeDisks reactor here: nothing runs the helper pod
    ctx = make_ctx(make_scenario(expiry=0), budget=30)
    cluster._reactors.clear()
    with pytest.raises(StepError, match="timed out"):
        ToggleImpl().run(arm(), ctx)
    assert [p for p in cluster.objects("Pod", NS) if "toggle" in p["metadata"]["name"]] == []


def test_exec_method_without_exec_support_is_a_clear_error(make_ctx) -> None:
    ctx = make_ctx(make_scenario(expiry=0))
    with pytest.raises(StepError, match="cannot exec"):
        ToggleImpl().run(arm(method=ToggleMethod.EXEC), ctx)


def test_disarm_undo_on_a_missing_node_is_done(cluster: FakeCluster) -> None:
    action = DisarmNode("gone", NS, "/var/lib/cuda-fault", RUN_ID)
    action.apply(cluster)
    assert action.verify(cluster) == []
    from runner.steps.undo import undo_from_json

    assert undo_from_json(action.to_json()) == action


def test_plan_shows_the_file_content() -> None:
    from runner.steps.base import RunState

    changes = ToggleImpl().plan(arm(xid=48), make_scenario(), RunState(target_node="n1"))
    assert changes[0].target == "node n1"
    content = "1\nxid=48\nexpires=<now + fault_expiry, renewed>\n"
    assert changes[0].detail == {"path": FILE, "content": content}
    assert DeleteObject(ObjectRef("v1", "Pod", NS, "x")).kind == "delete-object"


def test_the_disarm_undo_stops_a_running_renewer_first(make_ctx, disks: NodeDisks) -> None:
    """Even if nobody stopped background work, rolling back cannot be undone by a late renewal."""
    ctx = make_ctx(make_scenario(expiry=0.3))
    ToggleImpl().run(arm(), ctx)
    assert [t for t in threading.enumerate() if t.name == "chaos-toggle-renewer"]
    disarm = ctx.journal[0]
    disarm.apply(ctx.cluster)
    assert not [t for t in threading.enumerate() if t.name == "chaos-toggle-renewer"]
    assert disks.read("n1", FILE) == "0\n"
    ctx.state.stop_background()  # still safe to call afterwards
