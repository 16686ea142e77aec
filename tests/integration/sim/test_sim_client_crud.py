"""The official kubernetes client against the embedded API server: CRUD, errors, selectors, GC."""

from __future__ import annotations

import json

import pytest
import urllib3
from kubernetes import client
from kubernetes.client.rest import ApiException

from runner.sim.cluster import SimCluster
from tests.integration.sim.conftest import deployment, pod


def status_of(exc: ApiException) -> dict[str, object]:
    body = json.loads(exc.body)
    assert body["kind"] == "Status"
    assert body["apiVersion"] == "v1"
    assert body["status"] == "Failure"
    assert body["code"] == exc.status
    return dict(body)


def test_discovery_and_static_nodes(kube: client.ApiClient, core: client.CoreV1Api) -> None:
    assert client.VersionApi(kube).get_code().major == "1"
    groups = {g.name for g in client.ApisApi(kube).get_api_versions().groups}
    assert {"apps", "apiextensions.k8s.io", "events.k8s.io"} <= groups
    names = {r.name for r in core.get_api_resources().resources}
    assert {"pods", "pods/log", "pods/status", "nodes", "namespaces", "configmaps", "events"} <= names
    nodes = core.list_node().items
    assert [n.metadata.name for n in nodes] == ["gpu-node-1", "gpu-node-2"]
    n = nodes[0]
    assert n.status.allocatable["nvidia.com/gpu"] == "8"
    assert n.metadata.labels["nvidia.com/gpu.product"] == "NVIDIA-H100-80GB-HBM3"
    assert n.metadata.labels["kubernetes.io/hostname"] == "gpu-node-1"
    assert any(c.type == "Ready" and c.status == "True" for c in n.status.conditions)
    namespaces = {ns.metadata.name for ns in core.list_namespace().items}
    assert namespaces >= {"default", "kube-system", "kube-public"}


def test_create_get_update_conflict(core: client.CoreV1Api) -> None:
    created = core.create_namespaced_config_map("default", {"metadata": {"name": "cm"}, "data": {"k": "1"}})
    assert created.metadata.uid
    assert created.metadata.creation_timestamp is not None
    rv1 = int(created.metadata.resource_version)

    with pytest.raises(ApiException) as exists:
        core.create_namespaced_config_map("default", {"metadata": {"name": "cm"}})
    assert exists.value.status == 409
    assert status_of(exists.value)["reason"] == "AlreadyExists"

    created.data = {"k": "2"}
    updated = core.replace_namespaced_config_map("cm", "default", created)
    assert int(updated.metadata.resource_version) > rv1
    assert updated.metadata.uid == created.metadata.uid

    created.data = {"k": "3"}  # still carries the old resourceVersion
    with pytest.raises(ApiException) as stale:
        core.replace_namespaced_config_map("cm", "default", created)
    assert stale.value.status == 409
    assert status_of(stale.value)["reason"] == "Conflict"
    assert core.read_namespaced_config_map("cm", "default").data == {"k": "2"}

    with pytest.raises(ApiException) as missing:
        core.read_namespaced_config_map("nope", "default")
    body = status_of(missing.value)
    assert missing.value.status == 404
    assert body["reason"] == "NotFound"
    assert body["message"] == 'configmaps "nope" not found'
    assert body["details"] == {"kind": "configmaps", "group": "", "name": "nope"}


def test_namespace_must_exist_and_invalid_names(core: client.CoreV1Api) -> None:
    with pytest.raises(ApiException) as no_ns:
        core.create_namespaced_pod("ghost", pod("p"))
    assert no_ns.value.status == 404
    with pytest.raises(ApiException) as bad_name:
        core.create_namespaced_pod("default", pod("Bad_Name"))
    assert bad_name.value.status == 422
    assert status_of(bad_name.value)["reason"] == "Invalid"
    with pytest.raises(ApiException) as mismatch:
        core.create_namespaced_pod("default", {**pod("p"), "metadata": {"name": "p", "namespace": "other"}})
    assert mismatch.value.status == 400
    assert status_of(mismatch.value)["reason"] == "BadRequest"
    core.create_namespace({"metadata": {"name": "team"}})
    core.create_namespaced_pod("team", pod("p"))
    core.delete_namespace("team")
    assert core.list_namespaced_pod("team").items == []


def test_status_subresource_and_generation(apps: client.AppsV1Api) -> None:
    d = apps.create_namespaced_deployment("default", deployment("web", 2))
    assert d.metadata.generation == 1
    d.status = client.V1DeploymentStatus(ready_replicas=2, replicas=2)
    d.spec.replicas = 3
    after = apps.replace_namespaced_deployment("web", "default", d)
    assert after.metadata.generation == 2
    assert after.status.ready_replicas is None  # a main update ignores status

    after.status = client.V1DeploymentStatus(ready_replicas=3, replicas=3)
    after.spec.replicas = 9
    st = apps.replace_namespaced_deployment_status("web", "default", after)
    assert st.status.ready_replicas == 3
    assert st.spec.replicas == 3  # a status update ignores spec
    assert st.metadata.generation == 2

    patched = apps.patch_namespaced_deployment_status("web", "default", {"status": {"readyReplicas": 1}})
    assert patched.status.ready_replicas == 1
    meta_only = apps.patch_namespaced_deployment("web", "default", {"metadata": {"labels": {"x": "y"}}})
    assert meta_only.metadata.generation == 2


def test_label_and_field_selectors(core: client.CoreV1Api) -> None:
    core.create_namespaced_pod("default", pod("a", {"app": "web", "tier": "front"}, node="gpu-node-1"))
    core.create_namespaced_pod("default", pod("b", {"app": "web", "tier": "back"}, node="gpu-node-2"))
    core.create_namespaced_pod("default", pod("c", {"app": "db"}))
    core.create_namespaced_pod("kube-system", pod("d", {"app": "web"}))

    def names(**kw: str) -> list[str]:
        return [p.metadata.name for p in core.list_pod_for_all_namespaces(**kw).items]

    assert names(label_selector="app=web") == ["a", "b", "d"]
    assert names(label_selector="app==web,tier!=front") == ["b", "d"]
    assert names(label_selector="tier in (front,back)") == ["a", "b"]
    assert names(label_selector="app notin (web)") == ["c"]
    assert names(label_selector="tier") == ["a", "b"]
    assert names(label_selector="!tier") == ["c", "d"]
    assert names(field_selector="spec.nodeName=gpu-node-2") == ["b"]
    assert names(field_selector="spec.nodeName=") == ["c", "d"]
    assert names(field_selector="metadata.namespace!=default") == ["d"]
    assert names(field_selector="status.phase==Pending,metadata.name=c") == ["c"]
    with pytest.raises(ApiException) as bad:
        core.list_pod_for_all_namespaces(field_selector="spec.bogus=1")
    assert bad.value.status == 400


@pytest.mark.parametrize(("policy", "left"), [("Background", []), ("Foreground", []),
                                              ("Orphan", ["p1", "p2"])])
def test_cascading_delete(apps: client.AppsV1Api, core: client.CoreV1Api, kube: client.ApiClient,
                          policy: str, left: list[str]) -> None:
    d = kube.sanitize_for_serialization(apps.create_namespaced_deployment("default", deployment("web")))
    rs = {"apiVersion": "apps/v1", "kind": "ReplicaSet",
          "metadata": {"name": "web-1", "labels": {"app": "web"},
                       "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "web",
                                            "uid": d["metadata"]["uid"]}]},
          "spec": deployment("web")["spec"]}
    rs_obj = kube.sanitize_for_serialization(apps.create_namespaced_replica_set("default", rs))
    core.create_namespaced_pod("default", pod("p1", {"app": "web"}, owner=rs_obj))
    core.create_namespaced_pod("default", pod("p2", {"app": "web"}, owner=rs_obj))
    core.create_namespaced_pod("default", pod("other"))

    apps.delete_namespaced_deployment("web", "default", propagation_policy=policy)
    remaining = sorted(p.metadata.name for p in core.list_namespaced_pod("default").items)
    assert remaining == sorted([*left, "other"])
    rs_left = [r.metadata.name for r in apps.list_namespaced_replica_set("default").items]
    assert rs_left == (["web-1"] if policy == "Orphan" else [])
    if policy == "Orphan":
        assert apps.read_namespaced_replica_set("web-1", "default").metadata.owner_references is None


def test_delete_collection_and_grace(core: client.CoreV1Api) -> None:
    for i in range(3):
        core.create_namespaced_pod("default", pod(f"p{i}", {"batch": "x" if i < 2 else "y"}))
    core.delete_collection_namespaced_pod("default", label_selector="batch=x")
    assert [p.metadata.name for p in core.list_namespaced_pod("default").items] == ["p2"]
    core.delete_namespaced_pod("p2", "default", grace_period_seconds=30)
    assert core.list_namespaced_pod("default").items == []
    with pytest.raises(ApiException) as gone:
        core.delete_namespaced_pod("p2", "default")
    assert gone.value.status == 404


def test_binding_sets_node(core: client.CoreV1Api) -> None:
    core.create_namespaced_pod("default", pod("p"))
    body = {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "p"},
            "target": {"apiVersion": "v1", "kind": "Node", "name": "gpu-node-2"}}
    resp = core.create_namespaced_pod_binding("p", "default", body, _preload_content=False)
    assert resp.status == 201
    assert core.read_namespaced_pod("p", "default").spec.node_name == "gpu-node-2"
    with pytest.raises(ApiException) as again:
        core.create_namespaced_pod_binding("p", "default", body, _preload_content=False)
    assert again.value.status == 409


def test_events_in_both_groups(kube: client.ApiClient, core: client.CoreV1Api) -> None:
    core.create_namespaced_event("default", {
        "metadata": {"name": "e1"}, "involvedObject": {"kind": "Pod", "name": "p", "namespace": "default"},
        "reason": "ChaosInjected", "message": "xid 79", "type": "Warning"})
    ev = client.EventsV1Api(kube)
    ev.create_namespaced_event("default", {"metadata": {"name": "e2"}, "reason": "ChaosInjected",
                                           "action": "Inject", "type": "Normal",
                                           "eventTime": "2025-01-01T00:00:00.000000Z",
                                           "reportingController": "chaos", "reportingInstance": "x"})
    core_events = core.list_namespaced_event("default", field_selector="reason=ChaosInjected").items
    assert [e.reason for e in core_events] == ["ChaosInjected"]
    assert [e.metadata.name for e in ev.list_namespaced_event("default").items] == ["e2"]


def test_method_not_allowed_and_unknown_paths(sim: SimCluster) -> None:
    http = urllib3.PoolManager()
    put = http.request("PUT", f"{sim.url}/api/v1/namespaces/default/pods", body=b"{}",
                       headers={"Content-Type": "application/json"})
    assert put.status == 405
    assert json.loads(put.data)["reason"] == "MethodNotAllowed"
    missing = http.request("GET", f"{sim.url}/apis/nvidia.com/v1alpha1/namespaces/default/"
                                  "dynamographdeployments")
    assert missing.status == 404
    assert json.loads(missing.data)["kind"] == "Status"
    ssa = http.request("PATCH", f"{sim.url}/apis/apps/v1/namespaces/default/deployments/x", body=b"{}",
                       headers={"Content-Type": "application/apply-patch+yaml"})
    assert ssa.status == 415


def test_node_status_and_cordon(core: client.CoreV1Api) -> None:
    node = core.read_node("gpu-node-1")
    conditions = [{"type": "Ready", "status": "False", "reason": "XID79",
                   "lastHeartbeatTime": node.status.conditions[0].last_heartbeat_time.isoformat(),
                   "lastTransitionTime": node.status.conditions[0].last_transition_time.isoformat()}]
    after = core.patch_node_status("gpu-node-1", {"status": {"conditions": conditions}})
    assert [(c.type, c.status) for c in after.status.conditions] == [("Ready", "False")]
    ignored = core.patch_node("gpu-node-1", {"spec": {"unschedulable": True},
                                             "status": {"allocatable": {"nvidia.com/gpu": "0"}}})
    assert ignored.spec.unschedulable is True
    assert ignored.status.allocatable["nvidia.com/gpu"] == "8"  # status changes only through nodes/status
    names = [n.metadata.name for n in core.list_node(field_selector="spec.unschedulable=true").items]
    assert names == ["gpu-node-1"]
