"""The patch step against the FakeCluster: plan, write-ahead undo, the patch itself, conflicts,
restore, Dynamo services."""

from __future__ import annotations

import base64

import pytest

from runner import jsonpointer, shimdist
from runner.cluster.protocol import ObjectRef
from runner.errors import Conflict, StepError
from runner.kernel.step import RunState, StepStatus
from runner.kernel.undo import DeleteObject, RevertPaths
from runner.scenario.model import Fault, FaultMode, PatchStep, PinMode, ShimSource, StepKind, WorkloadKind
from runner.steps.patch import MAX_CONFIGMAP_BYTES, PLACEHOLDER, ModuleShim, PatchImpl
from tests.fakes.cluster import FakeCluster

from .conftest import NS, RUN_ID, StandInShim, make_scenario

DEPLOY = ObjectRef("apps/v1", "Deployment", NS, "w")


def step(**kw: object) -> PatchStep:
    """A patch step; pinned hard unless told otherwise, so the affinity it writes is checkable."""
    kw.setdefault("pin", PinMode.HARD)
    return PatchStep(StepKind.PATCH, "1-patch", **kw)  # type: ignore[arg-type]


def env_of(container: dict) -> dict[str, str]:
    return {e["name"]: e["value"] for e in container.get("env", [])}


def test_plan_is_the_exact_patch_with_placeholders_for_live_values() -> None:
    impl = PatchImpl(StandInShim())
    changes = impl.plan(step(source=ShimSource.COMPILE), make_scenario(), RunState(target_node="n1"))
    assert [c.action for c in changes] == ["create", "json-patch", "restart pods"]
    ops = changes[1].detail
    assert ops[0] == {"op": "test", "path": "/metadata/resourceVersion", "value": PLACEHOLDER}
    assert ops[1] == {"op": "add", "path": "/spec/template/metadata/labels/chaos.dev~1run-id",
                      "value": "<run-id>"}
    tests = [o for o in ops if o["op"] == "test"]
    assert tests
    assert all(o["value"] == PLACEHOLDER for o in tests)
    paths = [o["path"] for o in ops]
    assert "/spec/template/spec/volumes/-" in paths
    assert "/spec/template/spec/containers/<index of <each container>>/env/-" in paths
    affinity = next(o for o in ops if o["path"].endswith("/affinity/nodeAffinity"))
    term = affinity["value"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"][0]
    assert term["matchExpressions"][0] == {"key": "kubernetes.io/hostname", "operator": "In",
                                           "values": ["n1"]}
    init = next(o for o in ops if o["path"].endswith("/initContainers/-"))
    assert "gcc -shared" in init["value"]["command"][2]


def test_run_records_undo_before_each_change_and_delivers_the_shim(make_ctx, cluster: FakeCluster) -> None:
    before = cluster.get(DEPLOY)
    ctx = make_ctx()
    outcome = PatchImpl(StandInShim()).run(step(source=ShimSource.COMPILE), ctx)
    assert outcome.status is StepStatus.PASSED
    # journal order: the ConfigMap's delete, then the template's paths (each checked unchanged)
    assert [type(a) for a in ctx.journal] == [DeleteObject, RevertPaths]
    delete, revert = ctx.journal
    assert isinstance(delete, DeleteObject)
    assert isinstance(revert, RevertPaths)
    created = cluster.get(ObjectRef("v1", "ConfigMap", NS, f"chaos-shim-{RUN_ID}"))
    assert delete.uid == created["metadata"]["uid"]
    # exactly the paths the patch changes, each with its value before and as stored after
    assert [p.pointer for p in revert.paths] == [
        "/spec/template/metadata/labels/chaos.dev~1run-id", "/spec/template/spec/volumes",
        "/spec/template/spec/initContainers", "/spec/template/spec/containers/0/env",
        "/spec/template/spec/containers/0/volumeMounts",
        "/spec/template/spec/containers/0/terminationMessagePolicy", "/spec/template/spec/affinity"]
    after = cluster.get(DEPLOY)
    for path in revert.paths:
        assert path.before == jsonpointer.get(before, path.pointer)
        assert path.after == jsonpointer.get(after, path.pointer)
    cm = cluster.get(ObjectRef("v1", "ConfigMap", NS, f"chaos-shim-{RUN_ID}"))
    assert cm["metadata"]["labels"] == {"app.kubernetes.io/managed-by": "chaos", "chaos.dev/run-id": RUN_ID}
    assert set(cm["data"]) == {"cuda_intercept.c", "shim.h"}
    tmpl = cluster.get(DEPLOY)["spec"]["template"]
    assert tmpl["metadata"]["labels"]["chaos.dev/run-id"] == RUN_ID
    spec = tmpl["spec"]
    env = env_of(spec["containers"][0])
    assert env == {"LD_PRELOAD": "/cuda-fault/cuda_intercept.so", "CUDA_XID_TYPE": "79",
                   "CUDA_FAULT_INJECTION_ENABLED": "0",
                   "CUDA_FAULT_TOGGLE_FILE": "/host-fault/cuda_fault_enabled"}
    volumes = {v["name"]: v for v in spec["volumes"]}
    assert volumes["chaos-toggle"]["hostPath"]["path"] == "/var/lib/cuda-fault"
    assert volumes["chaos-shim-src"]["configMap"]["name"] == f"chaos-shim-{RUN_ID}"
    assert "emptyDir" in volumes["chaos-shim"]
    init = spec["initContainers"][0]
    assert init["image"] == "gcc:13"
    assert init["command"][2] == "gcc -shared -fPIC -o /cuda-fault/cuda_intercept.so " \
                                 "/cuda-fault-src/cuda_intercept.c"
    mounts = {m["mountPath"] for m in spec["containers"][0]["volumeMounts"]}
    assert mounts == {"/host-fault", "/cuda-fault"}
    assert spec["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert [e.reason for e in cluster.events] == ["ChaosShimInjected"]
    assert "shim-patched" in ctx.points()
    patches = next(e for e in outcome.evidence if e.kind == "object").data["patches"]
    assert len(patches) == 1
    assert patches[0][0] == {"op": "test", "path": "/metadata/resourceVersion",
                             "value": before["metadata"]["resourceVersion"]}


def test_undo_restores_the_original_exactly_and_is_idempotent(make_ctx, cluster: FakeCluster) -> None:
    original = cluster.dump()
    ctx = make_ctx()
    PatchImpl(StandInShim()).run(step(), ctx)
    assert cluster.dump() != original
    assert ctx.undo_recorded().left == ()
    assert cluster.dump() == original
    writes = len(cluster.writes())
    for action in ctx.journal:  # replaying changes nothing
        action.apply(cluster, ctx.clock)
        assert action.verify(cluster) == []
    assert len(cluster.writes()) == writes  # nothing of ours is left, so replaying writes nothing


def test_conflict_rereads_and_retries_without_recording_twice(make_ctx, cluster: FakeCluster) -> None:
    cluster.fail_next("json_patch", Conflict("stale", 409, "Conflict"), kind="Deployment", times=2)
    ctx = make_ctx()
    outcome = PatchImpl(StandInShim()).run(step(source=ShimSource.HOST_PATH, host_path="/opt/shim",
                                                pin=PinMode.PREFERRED), ctx)
    assert outcome.status is StepStatus.PASSED
    assert [type(a) for a in ctx.journal] == [RevertPaths]  # hostPath source: no ConfigMap
    assert [c for c in cluster.calls if c[0] == "json_patch"].__len__() == 3
    spec = cluster.get(DEPLOY)["spec"]["template"]["spec"]
    assert "initContainers" not in spec
    assert {v["name"]: v for v in spec["volumes"]}["chaos-shim"]["hostPath"]["path"] == "/opt/shim"
    pref = spec["affinity"]["nodeAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
    assert pref[0]["weight"] == 100


def test_a_concurrent_writer_is_detected_by_the_test_op(make_ctx, cluster: FakeCluster) -> None:
    """Someone adds a volume between our read and our patch: the `test` op fails, we re-read."""
    impl = PatchImpl(StandInShim())
    ctx = make_ctx()
    real_patch = cluster.json_patch
    patches: list[object] = []

    def racing_patch(ref, ops, **kw):
        patches.append(ops)
        if ref.kind == "Deployment" and len(patches) == 1:  # they write just before our patch lands
            cluster.update(ref, lambda o: o["spec"]["template"]["spec"].setdefault("volumes", []).append(
                {"name": "theirs", "emptyDir": {}}))
        return real_patch(ref, ops, **kw)

    cluster.json_patch = racing_patch  # type: ignore[method-assign,assignment]
    impl.run(step(source=ShimSource.HOST_PATH, host_path="/x"), ctx)
    cluster.json_patch = real_patch  # type: ignore[method-assign]
    assert len(patches) == 2  # the first failed its `test` op (Conflict); the second was rebuilt
    assert [a.kind for a in ctx.journal] == ["revert-paths"]  # one undo, refined by each try
    names = [v["name"] for v in cluster.get(DEPLOY)["spec"]["template"]["spec"]["volumes"]]
    assert names == ["theirs", "chaos-toggle", "chaos-shim"]


def test_immediate_mode_arms_from_start_and_options_reach_the_env(make_ctx, cluster: FakeCluster) -> None:
    fault = Fault(xid=48, mode=FaultMode.IMMEDIATE, probability=0.5, after_calls=3, log_limit=2)
    ctx = make_ctx(make_scenario(fault=fault))
    PatchImpl(StandInShim()).run(step(pin=PinMode.NONE), ctx)
    spec = cluster.get(DEPLOY)["spec"]["template"]["spec"]
    env = env_of(spec["containers"][0])
    assert env["CUDA_FAULT_INJECTION_ENABLED"] == "1"
    assert env["CUDA_XID_TYPE"] == "48"
    assert env["CUDA_FAULT_PROBABILITY"] == "0.500000"  # six decimals: the shim parses no exponent
    assert env["CUDA_FAULT_AFTER_CALLS"] == "3"
    assert env["CUDA_FAULT_LOG_LIMIT"] == "2"
    assert "affinity" not in spec
    assert "fault-armed" in ctx.points()
    assert "n1" in ctx.state.armed_nodes


def test_existing_env_is_replaced_by_name_and_restored(make_ctx, cluster: FakeCluster) -> None:
    cluster.update(DEPLOY, lambda o: o["spec"]["template"]["spec"]["containers"][0].update(
        env=[{"name": "LD_PRELOAD", "value": "/other.so"}, {"name": "KEEP", "value": "1"}]))
    original = cluster.dump()
    ctx = make_ctx()
    PatchImpl(StandInShim()).run(step(source=ShimSource.HOST_PATH, host_path="/x"), ctx)
    env = cluster.get(DEPLOY)["spec"]["template"]["spec"]["containers"][0]["env"]
    assert [e["name"] for e in env][:2] == ["LD_PRELOAD", "KEEP"]
    assert env[0]["value"] == "/cuda-fault/cuda_intercept.so"
    ctx.undo_recorded()
    assert cluster.dump() == original


def test_unchanged_template_with_restart_deletes_the_pods(make_ctx, cluster: FakeCluster) -> None:
    impl = PatchImpl(StandInShim())
    s = step(source=ShimSource.HOST_PATH, host_path="/x")
    impl.run(s, make_ctx())
    pods_before = sorted(p["metadata"]["name"] for p in cluster.objects("Pod", NS))
    ctx = make_ctx()
    outcome = impl.run(s, ctx)  # the same patch again: the template does not change
    assert [c for c in outcome.changes if c.startswith("deleted pod")] == [
        f"deleted pod {n} (template unchanged; restart to load the shim)" for n in pods_before]
    assert cluster.objects("Pod", NS) == []


def test_selected_containers_only(make_ctx, cluster: FakeCluster) -> None:
    cluster.update(DEPLOY, lambda o: o["spec"]["template"]["spec"]["containers"].append(
        {"name": "sidecar", "image": "proxy:1"}))
    ctx = make_ctx(make_scenario(containers=("sidecar",)))
    PatchImpl(StandInShim()).run(step(source=ShimSource.HOST_PATH, host_path="/x"), ctx)
    main, sidecar = cluster.get(DEPLOY)["spec"]["template"]["spec"]["containers"]
    assert "env" not in main
    assert env_of(sidecar)["LD_PRELOAD"]


def dgd(cluster: FakeCluster) -> ObjectRef:
    cluster.put({"apiVersion": "nvidia.com/v1alpha1", "kind": "DynamoGraphDeployment",
                 "metadata": {"name": "graph", "namespace": NS},
                 "spec": {"services": {
                     "Frontend": {"replicas": 1, "extraPodSpec": {"mainContainer": {"image": "fe"}}},
                     "VllmWorker": {"replicas": 2, "extraPodSpec": {
                         "mainContainer": {"image": "vllm", "env": [{"name": "A", "value": "1"}]}}}}}})
    return ObjectRef("nvidia.com/v1alpha1", "DynamoGraphDeployment", NS, "graph")


def test_dynamo_service_main_container_is_patched(make_ctx, cluster: FakeCluster) -> None:
    ref = dgd(cluster)
    original = cluster.dump()
    scenario = make_scenario(kind=WorkloadKind.DYNAMO, name="graph", services=("VllmWorker",))
    ctx = make_ctx(scenario)
    PatchImpl(StandInShim()).run(step(source=ShimSource.IMAGE, image="shim:1"), ctx)
    services = cluster.get(ref)["spec"]["services"]
    assert "env" not in services["Frontend"]["extraPodSpec"]["mainContainer"]
    worker = services["VllmWorker"]
    assert env_of(worker["extraPodSpec"]["mainContainer"])["A"] == "1"
    assert env_of(worker["extraPodSpec"]["mainContainer"])["LD_PRELOAD"]
    assert worker["extraPodSpec"]["initContainers"][0]["image"] == "shim:1"
    assert worker["extraPodMetadata"]["labels"] == {"chaos.dev/run-id": RUN_ID}
    (revert,) = ctx.journal
    assert isinstance(revert, RevertPaths)
    assert {p.pointer.split("/")[3] for p in revert.paths} == {"VllmWorker"}  # the one service
    ctx.undo_recorded()
    assert cluster.dump() == original


# --- source: prebuilt (the default) ----------------------------------------------------------------

PRELOAD = "/cuda-fault/$PLATFORM/cuda_intercept.so"


def test_prebuilt_is_the_default_a_configmap_of_libraries_and_no_init_container(
        make_ctx, cluster: FakeCluster) -> None:
    original = cluster.dump()
    shim = StandInShim()
    ctx = make_ctx()
    outcome = PatchImpl(shim).run(step(), ctx)
    assert outcome.status is StepStatus.PASSED
    assert [type(a) for a in ctx.journal] == [DeleteObject, RevertPaths]  # the ConfigMap first
    cm = cluster.get(ObjectRef("v1", "ConfigMap", NS, f"chaos-shim-{RUN_ID}"))
    assert "data" not in cm
    assert {k: base64.b64decode(v) for k, v in cm["binaryData"].items()} == shim.libraries
    assert cm["metadata"]["labels"] == {"app.kubernetes.io/managed-by": "chaos", "chaos.dev/run-id": RUN_ID}
    spec = cluster.get(DEPLOY)["spec"]["template"]["spec"]
    assert "initContainers" not in spec
    volume = {v["name"]: v for v in spec["volumes"]}["chaos-shim"]
    assert volume["configMap"] == {
        "name": f"chaos-shim-{RUN_ID}", "defaultMode": 0o444,
        "items": [{"key": "x86_64", "path": "x86_64/cuda_intercept.so"},
                  {"key": "x86_64", "path": "haswell/cuda_intercept.so"},
                  {"key": "x86_64", "path": "xeon_phi/cuda_intercept.so"},
                  {"key": "aarch64", "path": "aarch64/cuda_intercept.so"}]}
    container = spec["containers"][0]
    assert env_of(container)["LD_PRELOAD"] == PRELOAD  # the loader picks the node's architecture
    assert {"name": "chaos-shim", "mountPath": "/cuda-fault", "readOnly": True} in container["volumeMounts"]
    note = next(e for e in outcome.evidence if e.kind == "note")
    assert set(note.data["libraries"]) == {"x86_64", "aarch64"}
    assert any(c.startswith(f"created ConfigMap {NS}/chaos-shim-{RUN_ID} (x86_64, aarch64 libraries")
               for c in outcome.changes)
    ctx.undo_recorded()
    assert cluster.dump() == original  # the ConfigMap is gone, the template as it was


def test_prebuilt_over_one_configmap_is_refused_before_any_change(make_ctx, cluster: FakeCluster) -> None:
    half = MAX_CONFIGMAP_BYTES // 2
    big = StandInShim({"x86_64": b"x" * (half + 1), "aarch64": b"a" * half})
    writes = len(cluster.writes())
    ctx = make_ctx()
    with pytest.raises(StepError, match="more than the 1048576 a ConfigMap can hold"):
        PatchImpl(big).run(step(), ctx)
    assert ctx.journal == []
    assert len(cluster.writes()) == writes


def test_prebuilt_missing_an_architecture_is_refused(make_ctx) -> None:
    with pytest.raises(StepError, match="no prebuilt shim for aarch64"):
        PatchImpl(StandInShim({"x86_64": b"\x7fELF"})).run(step(), make_ctx())


def test_plan_of_prebuilt_shows_the_configmap_and_no_init_container_or_image() -> None:
    changes = PatchImpl(StandInShim()).plan(step(), make_scenario(), RunState(target_node="n1"))
    assert [c.action for c in changes] == ["create", "json-patch", "restart pods"]
    assert changes[0].target == f"ConfigMap {NS}/chaos-shim-<run-id>"
    assert set(changes[0].detail["binaryData"]) == {"x86_64", "aarch64"}
    ops = changes[1].detail
    assert not [o for o in ops if "initContainers" in o["path"]]
    assert "image" not in str(ops)
    env = [o["value"] for o in ops if o["path"].endswith("/env/-")]
    assert {"name": "LD_PRELOAD", "value": PRELOAD} in env


def test_configmap_is_the_old_name_of_compile(make_ctx, cluster: FakeCluster) -> None:
    PatchImpl(StandInShim()).run(step(source=ShimSource.CONFIGMAP), make_ctx())
    cm = cluster.get(ObjectRef("v1", "ConfigMap", NS, f"chaos-shim-{RUN_ID}"))
    assert set(cm["data"]) == {"cuda_intercept.c", "shim.h"}
    spec = cluster.get(DEPLOY)["spec"]["template"]["spec"]
    assert spec["initContainers"][0]["image"] == "gcc:13"
    assert env_of(spec["containers"][0])["LD_PRELOAD"] == "/cuda-fault/cuda_intercept.so"


def test_the_production_provider_hands_out_the_shipped_libraries() -> None:
    libraries = ModuleShim().prebuilt_libraries()
    assert libraries == shimdist.libraries()
    assert sum(map(len, libraries.values())) <= MAX_CONFIGMAP_BYTES
