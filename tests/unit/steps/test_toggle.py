"""The toggle step: helper pods really write the node's toggle file (shell run on a node dir)."""

from __future__ import annotations

import pytest

from runner.cluster.protocol import ObjectRef
from runner.errors import StepError
from runner.kernel.step import StepStatus
from runner.kernel.undo import DeleteObject
from runner.scenario.model import StepKind, ToggleMethod, ToggleStep
from runner.shimwire import render_toggle
from runner.steps.registry import UNDO_KINDS
from runner.steps.toggle import DisarmNode, ToggleImpl, write_command
from tests.fakes.cluster import FakeCluster

from .conftest import NS, RUN_ID, NodeDisks, make_scenario

FILE = "/var/lib/cuda-fault/cuda_fault_enabled"


def arm(**kw: object) -> ToggleStep:
    return ToggleStep(StepKind.TOGGLE, "3-toggle", **kw)  # type: ignore[arg-type]


def test_content_and_command_are_atomic_writes() -> None:
    assert render_toggle(True, 79, 1234) == "1\nxid=79\nexpires=1234\n"
    assert render_toggle(False) == "0\n"
    cmd = write_command()
    assert ".tmp && mv " in cmd
    assert "xid" not in cmd  # the content travels as a value, never inside the shell command


def test_the_helper_writes_any_content_byte_for_byte(make_ctx, cluster: FakeCluster,
                                                     disks: NodeDisks, clock) -> None:
    """The file reaches the node exactly as rendered: quotes, percent signs and backslashes
    included (the old printf quoting dropped every `'`)."""
    from runner.steps.toggle import write_node_toggle

    content = "1\nxid=79\nnote=it's 100% \\n fine\n"
    log = write_node_toggle(cluster, clock, node="n1", namespace=NS, run_id=RUN_ID,
                            toggle_dir="/var/lib/cuda-fault", content=content, image="busybox",
                            role="toggle", deadline=clock.monotonic() + 60)
    assert disks.read("n1", FILE) == content
    assert log == content


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
        ctx.journal[0].apply(cluster, clock)
        assert disks.read("n1", FILE) == "0\n"
        assert ctx.journal[0].verify(cluster) == []


def test_renewals_run_on_the_run_clock_and_disarm_stops_them(make_ctx, disks: NodeDisks,
                                                             clock) -> None:
    """The dead-man renewer runs on the injected clock: fake time passing renews the expiry, with
    no thread and no real sleep; disarming stops it for good."""
    ctx = make_ctx(make_scenario(expiry=30))  # renew every 10 s
    ToggleImpl().run(arm(), ctx)
    assert set(ctx.state.renewers) == {"n1"}
    armed_at = int(clock.time())
    clock.advance(10)
    renewals = [name for _, name in disks.ran if "renew" in name]
    assert len(renewals) == 1
    assert disks.read("n1", FILE) == f"1\nxid=79\nexpires={armed_at + 10 + 30}\n"
    clock.advance(20)
    assert len([name for _, name in disks.ran if "renew" in name]) == 3
    assert ctx.state.renewers["n1"].runs == 3
    ToggleImpl().run(arm(enabled=False), ctx)
    assert ctx.state.renewers == {}
    ran = len(disks.ran)
    assert disks.read("n1", FILE) == "0\n"
    assert ctx.state.disarmed_at == clock.time()
    assert "fault-disarmed" in ctx.points()
    clock.advance(300)  # stopped for good: nothing re-arms the node afterwards
    assert len(disks.ran) == ran
    assert disks.read("n1", FILE) == "0\n"
    assert clock.slept == []


def test_a_failed_renewal_is_counted_and_the_next_one_still_runs(make_ctx, disks: NodeDisks,
                                                                  clock) -> None:
    ctx = make_ctx(make_scenario(expiry=30))
    ToggleImpl().run(arm(), ctx)
    disks.fail_nodes.add("n1")
    clock.advance(10)
    renewer = ctx.state.renewers["n1"]
    assert renewer.runs == 0
    assert renewer.errors
    assert "failed on node n1" in renewer.errors[0]
    disks.fail_nodes.clear()
    clock.advance(10)
    assert renewer.runs == 1
    ctx.state.stop_background()
    ctx.state.stop_background()  # idempotent
    assert ctx.state.renewers == {}


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


def test_disarm_undo_on_a_missing_node_is_done(cluster: FakeCluster, clock) -> None:
    action = DisarmNode("gone", NS, "/var/lib/cuda-fault", RUN_ID)
    action.apply(cluster, clock)
    assert action.verify(cluster) == []
    assert UNDO_KINDS.decode(action.to_json()) == action


def test_plan_shows_the_file_content() -> None:
    from runner.kernel.step import RunState

    changes = ToggleImpl().plan(arm(xid=48), make_scenario(), RunState(target_node="n1"))
    assert changes[0].target == "node n1"
    content = "1\nxid=48\nexpires=<the API server's now + fault_expiry, renewed>\n"
    assert changes[0].detail == {"path": FILE, "content": content}
    assert DeleteObject(ObjectRef("v1", "Pod", NS, "x")).kind == "delete-object"


@pytest.mark.parametrize("runner_ahead_s", [3600.0, -3600.0], ids=["runner-ahead", "runner-behind"])
def test_expires_is_on_the_api_servers_clock_not_the_runners(make_ctx, cluster: FakeCluster,
                                                            disks: NodeDisks, clock,
                                                            runner_ahead_s: float) -> None:
    """The shim checks `expires=` against the node's clock, which follows the cluster's: a runner
    whose clock is an hour off must neither make the fault outlive it by an hour nor lapse at once.
    The renewals keep to the server's clock too."""
    cluster.server_clock_offset = -runner_ahead_s  # the server's clock less the runner's
    ctx = make_ctx(make_scenario(expiry=30))
    outcome = ToggleImpl().run(arm(), ctx)
    server_now = clock.time() - runner_ahead_s
    assert disks.read("n1", FILE) == f"1\nxid=79\nexpires={int(server_now + 30)}\n"
    note = outcome.evidence[-1].data
    assert note["expires"] == int(server_now + 30)
    assert note["expires_clock"] == "api-server"
    assert note["server_clock_offset_s"] == -runner_ahead_s
    clock.advance(10)  # the first renewal
    assert disks.read("n1", FILE) == f"1\nxid=79\nexpires={int(server_now + 10 + 30)}\n"
    ctx.state.stop_background()


def test_without_a_server_clock_the_runners_is_used_and_said(make_ctx, cluster: FakeCluster,
                                                             disks: NodeDisks, clock,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cluster, "server_time", lambda: None)
    ctx = make_ctx(make_scenario(expiry=0))
    outcome = ToggleImpl().run(arm(), ctx)
    assert disks.read("n1", FILE) == f"1\nxid=79\nexpires={int(clock.time())}\n"
    assert outcome.evidence[-1].data["expires_clock"] == "runner"


def test_a_renewal_is_bounded_by_a_deadline_of_its_own(make_ctx, cluster: FakeCluster,
                                                      disks: NodeDisks, clock) -> None:
    """A frozen API costs a missed renewal, never a renewer that holds the rollback waiting:
    every call of a renewal ends within a third of the expiry (and half the rollback budget)."""
    from runner.steps.toggle import renew_deadline_s

    assert renew_deadline_s(120, 120) == 40
    assert renew_deadline_s(600, 120) == 60
    assert renew_deadline_s(3600, 600) == 120
    ctx = make_ctx(make_scenario(expiry=30))
    ToggleImpl().run(arm(), ctx)
    cluster.frozen = True
    mark = len(cluster.budgets)
    started = clock.monotonic()
    clock.advance(10)  # the renewal fires and finds nobody answering
    renewer = ctx.state.renewers["n1"]
    assert renewer.runs == 0
    assert renewer.errors
    assert "CallTimeout" in renewer.errors[0] or "deadline" in renewer.errors[0]
    lefts = [left for _, left in cluster.budgets[mark:]]
    assert lefts
    assert all(left is not None and left <= 10 for left in lefts)
    assert clock.monotonic() - started <= 10 + 10
    cluster.frozen = False
    ctx.state.stop_background()
