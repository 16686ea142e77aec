"""`settings.toggle-via: configmap`: the patch step mounts the run's fault map (a ConfigMap, one key
per node) instead of a hostPath, and the toggle step arms, renews and disarms by patching the
node's key: no pod is created, every write is journaled first and undone."""

from __future__ import annotations

from runner.cluster.protocol import ObjectRef
from runner.kernel.step import RunState, StepStatus
from runner.kernel.undo import DeleteObject, RevertPaths
from runner.scenario.model import Duration, PatchStep, PinMode, Scenario, StepKind, ToggleStep, ToggleVia
from runner.shimwire import parse_toggle
from runner.steps.faultmap import DisarmNodeKey, faultmap_name
from runner.steps.patch import PatchImpl
from runner.steps.registry import UNDO_KINDS
from runner.steps.toggle import ToggleImpl
from tests.fakes.cluster import FakeCluster

from .conftest import NS, RUN_ID, StandInShim, make_scenario, pod_names

DEPLOY = ObjectRef("apps/v1", "Deployment", NS, "w")
MAP = ObjectRef("v1", "ConfigMap", NS, faultmap_name(RUN_ID))


def patch_step() -> PatchStep:
    return PatchStep(StepKind.PATCH, "1-patch", pin=PinMode.PREFERRED)


def toggle(enabled: bool = True) -> ToggleStep:
    return ToggleStep(StepKind.TOGGLE, "3-toggle", enabled=enabled)


def configmap_scenario(expiry: float | None = None) -> Scenario:
    return make_scenario((patch_step(), toggle()), expiry=expiry, toggle_via=ToggleVia.CONFIGMAP)


def test_the_mode_defaults_leave_room_for_the_kubelets_propagation_delay() -> None:
    hostpath = make_scenario(expiry=None).settings
    assert (hostpath.expiry.seconds, hostpath.renew_every, hostpath.propagation_delay) == (120, 40, 0)
    cm = configmap_scenario().settings
    assert cm.expiry == Duration(600.0)
    assert cm.renew_every == 60
    assert cm.renew_every + cm.propagation_delay <= 0.75 * cm.expiry.seconds


def test_the_template_mounts_the_map_as_a_directory_and_finds_its_nodes_key(make_ctx,
                                                                            cluster: FakeCluster) -> None:
    ctx = make_ctx(configmap_scenario())
    outcome = PatchImpl(StandInShim()).run(patch_step(), ctx)
    assert outcome.status is StepStatus.PASSED
    # the map is journaled (DeleteObject) before it is created, then the template
    assert [type(a) for a in ctx.journal] == [DeleteObject, DeleteObject, RevertPaths]
    assert ctx.journal[1].ref == MAP
    assert ctx.journal[1].uid
    made = cluster.get(MAP)
    assert made["data"] == {}
    assert made["metadata"]["labels"]["chaos.dev/role"] == "fault-map"
    spec = cluster.get(DEPLOY)["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in spec["volumes"]}
    assert volumes["chaos-toggle"] == {"name": "chaos-toggle",
                                       "configMap": {"name": MAP.name, "optional": True}}
    assert not any("hostPath" in v for v in spec["volumes"])
    container = spec["containers"][0]
    mount = next(m for m in container["volumeMounts"] if m["name"] == "chaos-toggle")
    assert mount == {"name": "chaos-toggle", "mountPath": "/cuda-fault-state", "readOnly": True}
    assert "subPath" not in mount  # a subPath mount never sees an update
    names = [e["name"] for e in container["env"]]
    # $(CHAOS_NODE_NAME) expands only when the variable is defined before the one using it
    assert names.index("CHAOS_NODE_NAME") < names.index("CUDA_FAULT_TOGGLE_FILE")
    env = {e["name"]: e for e in container["env"]}
    assert env["CHAOS_NODE_NAME"]["valueFrom"] == {"fieldRef": {"fieldPath": "spec.nodeName"}}
    assert env["CUDA_FAULT_TOGGLE_FILE"]["value"] == "/cuda-fault-state/$(CHAOS_NODE_NAME)"
    # rollback: template back, map gone
    ctx.undo_recorded()
    assert "chaos-toggle" not in str(cluster.get(DEPLOY)["spec"]["template"])
    assert [c["metadata"]["name"] for c in cluster.objects("ConfigMap", NS)] == []


def test_arming_renewing_and_disarming_are_patches_of_the_nodes_key(make_ctx, cluster: FakeCluster,
                                                                     clock) -> None:
    ctx = make_ctx(configmap_scenario(expiry=300))
    PatchImpl(StandInShim()).run(patch_step(), ctx)
    pods_before = pod_names(cluster)
    outcome = ToggleImpl().run(toggle(), ctx)
    assert outcome.status is StepStatus.PASSED
    assert ctx.journal[-1] == DisarmNodeKey("n1", NS, MAP.name, RUN_ID)  # journaled before the write
    state = parse_toggle(cluster.get(MAP)["data"]["n1"])
    assert (state.armed, state.xid, state.expires) == (True, 79, int(clock.time()) + 300)
    assert set(cluster.get(MAP)["data"]) == {"n1"}  # the other nodes have no key: healthy
    assert pod_names(cluster) == pods_before  # no helper pod, ever
    assert "fault-armed" in ctx.points()
    # the renewer patches the key on the run's clock, every minute at most
    clock.advance(60)
    assert parse_toggle(cluster.get(MAP)["data"]["n1"]).expires == int(clock.time()) + 300
    assert ctx.state.renewers["n1"].runs == 1
    # disarm stops the renewer and writes the disarmed state
    ToggleImpl().run(toggle(enabled=False), ctx)
    assert cluster.get(MAP)["data"]["n1"] == "0\n"
    assert "n1" not in ctx.state.renewers
    clock.advance(120)
    assert cluster.get(MAP)["data"]["n1"] == "0\n"
    assert pod_names(cluster) == pods_before


def test_the_undo_disarms_once_only_what_is_still_this_runs(make_ctx, cluster: FakeCluster, clock) -> None:
    ctx = make_ctx(configmap_scenario())
    PatchImpl(StandInShim()).run(patch_step(), ctx)
    ToggleImpl().run(toggle(), ctx)
    ctx.state.stop_background()
    undo = ctx.journal[-1]
    assert undo.verify(cluster) == [f"node n1 is still armed in ConfigMap {NS}/{MAP.name}"]
    decoded = UNDO_KINDS.decode(undo.to_json())  # what `chaos recover` replays
    assert decoded == undo
    assert decoded.apply(cluster, clock) is True
    assert cluster.get(MAP)["data"]["n1"] == "0\n"
    assert decoded.apply(cluster, clock) is False  # idempotent
    assert decoded.verify(cluster) == []
    # a map of the same name that is another run's is never touched
    cluster.update(MAP, lambda cm: cm["metadata"]["labels"].update({"chaos.dev/run-id": "other"}))
    cluster.update(MAP, lambda cm: cm["data"].update({"n1": "1\nxid=79\n"}))
    assert decoded.apply(cluster, clock) is False
    assert cluster.get(MAP)["data"]["n1"] == "1\nxid=79\n"
    assert decoded.verify(cluster) == []
    # the map gone: nothing left to disarm
    cluster.delete(MAP)
    assert decoded.apply(cluster, clock) is False
    assert decoded.verify(cluster) == []


def test_toggle_makes_the_map_when_no_patch_step_did(make_ctx, cluster: FakeCluster) -> None:
    ctx = make_ctx(configmap_scenario(expiry=0))
    ToggleImpl().run(toggle(), ctx)
    assert [a.kind for a in ctx.journal] == ["delete-object", "disarm-node-key"]
    assert cluster.get(MAP)["data"]["n1"].startswith("1\n")


def test_plans_say_what_each_mode_writes() -> None:
    scenario = configmap_scenario()
    state = RunState(target_node="n1")
    patch_plan = PatchImpl(StandInShim()).plan(patch_step(), scenario, state)
    assert [c.target for c in patch_plan if c.action == "create"] == [
        f"ConfigMap {NS}/chaos-shim-<run-id>", f"ConfigMap {NS}/chaos-faults-<run-id>"]
    (arming,) = ToggleImpl().plan(toggle(), scenario, state)
    assert arming.target == f"ConfigMap {NS}/chaos-faults-<run-id>"
    assert "merge-patch key n1" in arming.action
    assert "renewed every 1m" in arming.action
    expires = "expires=<the API server's now + fault_expiry, renewed>"
    assert arming.detail == {"data": {"n1": f"1\nxid=79\n{expires}\n"}}
