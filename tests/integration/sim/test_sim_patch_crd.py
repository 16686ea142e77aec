"""Patch types on a Deployment and on a DynamoGraphDeployment custom resource, and CRD lifecycle."""

from __future__ import annotations

import json
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from tests.integration.sim.conftest import DGD_CRD, deployment, dgd

G, V, P = "nvidia.com", "v1alpha1", "dynamographdeployments"


def patch_deploy(apps: client.AppsV1Api, body: Any, ctype: str) -> Any:
    return apps.patch_namespaced_deployment("web", "default", body, _content_type=ctype)


def test_json_patch_on_deployment(apps: client.AppsV1Api) -> None:
    apps.create_namespaced_deployment("default", deployment("web", 2))
    out = patch_deploy(apps, [
        {"op": "test", "path": "/spec/replicas", "value": 2},
        {"op": "replace", "path": "/spec/replicas", "value": 4},
        {"op": "add", "path": "/spec/template/spec/containers/0/env/-", "value": {"name": "B", "value": "2"}},
        {"op": "add", "path": "/metadata/labels/chaos~1run", "value": "r1"},
    ], "application/json-patch+json")
    assert out.spec.replicas == 4
    assert [e.name for e in out.spec.template.spec.containers[0].env] == ["A", "B"]
    assert out.metadata.labels["chaos/run"] == "r1"
    assert out.metadata.generation == 2

    with pytest.raises(ApiException) as failed:
        patch_deploy(apps, [{"op": "test", "path": "/spec/replicas", "value": 99},
                            {"op": "replace", "path": "/spec/replicas", "value": 1}],
                     "application/json-patch+json")
    body = json.loads(failed.value.body)
    assert failed.value.status == 422
    assert body["reason"] == "Invalid"
    assert apps.read_namespaced_deployment("web", "default").spec.replicas == 4  # nothing applied

    with pytest.raises(ApiException) as missing:
        patch_deploy(apps, [{"op": "remove", "path": "/spec/nope"}], "application/json-patch+json")
    assert missing.value.status == 422


def test_merge_and_strategic_patch_on_deployment(apps: client.AppsV1Api) -> None:
    apps.create_namespaced_deployment("default", deployment("web"))
    containers = [{"name": "x", "image": "y"}]
    merged = patch_deploy(apps, {"metadata": {"annotations": {"a": "1"}},
                                 "spec": {"template": {"spec": {"containers": containers}}}},
                          "application/merge-patch+json")
    assert [c.name for c in merged.spec.template.spec.containers] == ["x"]  # merge patch replaces lists

    apps.replace_namespaced_deployment("web", "default", deployment("web"))
    sp = patch_deploy(apps, {"spec": {"template": {"spec": {
        "containers": [{"name": "worker", "env": [{"name": "CUDA_XID_TYPE", "value": "79"}],
                        "volumeMounts": [{"name": "fault", "mountPath": "/host-fault"}]},
                       {"name": "sidecar", "image": "shim"}],
        "volumes": [{"name": "fault", "hostPath": {"path": "/host-fault"}}],
        "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists"}],
    }}}}, "application/strategic-merge-patch+json")
    merged = {c.name: c for c in sp.spec.template.spec.containers}
    assert set(merged) == {"worker", "sidecar"}
    assert merged["worker"].image == "vllm:1"  # merged by name, not replaced
    assert [e.name for e in merged["worker"].env] == ["A", "CUDA_XID_TYPE"]
    assert sp.spec.template.spec.volumes[0].host_path.path == "/host-fault"

    undo = patch_deploy(apps, {"spec": {"template": {"spec": {
        "containers": [{"name": "sidecar", "$patch": "delete"},
                       {"name": "worker", "env": [{"name": "CUDA_XID_TYPE", "$patch": "delete"}]}],
        "volumes": [{"$patch": "replace"}],
    }}}}, "application/strategic-merge-patch+json")
    assert [c.name for c in undo.spec.template.spec.containers] == ["worker"]
    assert [e.name for e in undo.spec.template.spec.containers[0].env] == ["A"]
    assert undo.spec.template.spec.volumes is None or undo.spec.template.spec.volumes == []


def test_crd_registers_custom_resource(kube: client.ApiClient, custom: client.CustomObjectsApi) -> None:
    ext = client.ApiextensionsV1Api(kube)
    ext.create_custom_resource_definition(DGD_CRD)
    groups = {g.name: g for g in client.ApisApi(kube).get_api_versions().groups}
    assert groups["nvidia.com"].preferred_version.version == "v1alpha1"
    obj = custom.create_namespaced_custom_object(G, V, "default", P, dgd("graph"))
    assert obj["metadata"]["generation"] == 1
    listed = custom.list_namespaced_custom_object(G, V, "default", P)
    assert listed["kind"] == "DynamoGraphDeploymentList"
    assert [o["metadata"]["name"] for o in listed["items"]] == ["graph"]

    jp = custom.patch_namespaced_custom_object(G, V, "default", P, "graph", [
        {"op": "replace", "path": "/spec/services/VllmWorker/replicas", "value": 3}],
        _content_type="application/json-patch+json")
    assert jp["spec"]["services"]["VllmWorker"]["replicas"] == 3
    assert jp["metadata"]["generation"] == 2
    mp = custom.patch_namespaced_custom_object(G, V, "default", P, "graph",
                                               {"spec": {"services": {"Frontend": None}}},
                                               _content_type="application/merge-patch+json")
    assert list(mp["spec"]["services"]) == ["VllmWorker"]
    assert mp["metadata"]["generation"] == 3
    with pytest.raises(ApiException) as smp:
        custom.patch_namespaced_custom_object(G, V, "default", P, "graph", {"spec": {}},
                                              _content_type="application/strategic-merge-patch+json")
    assert smp.value.status == 415
    assert json.loads(smp.value.body)["reason"] == "UnsupportedMediaType"

    st = custom.patch_namespaced_custom_object_status(G, V, "default", P, "graph",
                                                      {"status": {"state": "successful"}},
                                                      _content_type="application/merge-patch+json")
    assert st["status"] == {"state": "successful"}
    assert st["metadata"]["generation"] == 3  # status changes leave generation alone

    ext.delete_custom_resource_definition("dynamographdeployments.nvidia.com")
    with pytest.raises(ApiException) as gone:
        custom.list_namespaced_custom_object(G, V, "default", P)
    assert gone.value.status == 404


def test_server_side_dry_run_changes_nothing(apps: client.AppsV1Api) -> None:
    before = apps.create_namespaced_deployment("default", deployment("web", 2))
    preview = apps.patch_namespaced_deployment("web", "default", {"spec": {"replicas": 5}}, dry_run="All")
    assert preview.spec.replicas == 5
    apps.delete_namespaced_deployment("web", "default", dry_run="All")
    after = apps.read_namespaced_deployment("web", "default")
    assert after.spec.replicas == 2
    assert after.metadata.resource_version == before.metadata.resource_version
    created = apps.create_namespaced_deployment("default", deployment("ghost"), dry_run="All")
    assert created.metadata.name == "ghost"
    assert [d.metadata.name for d in apps.list_namespaced_deployment("default").items] == ["web"]


def test_scale_subresource(apps: client.AppsV1Api) -> None:
    apps.create_namespaced_deployment("default", deployment("web", 2))
    scale = apps.read_namespaced_deployment_scale("web", "default")
    assert (scale.spec.replicas, scale.status.selector) == (2, "app=web")
    scale.spec.replicas = 4
    assert apps.replace_namespaced_deployment_scale("web", "default", scale).spec.replicas == 4
    patched = apps.patch_namespaced_deployment_scale("web", "default", {"spec": {"replicas": 1}})
    assert patched.spec.replicas == 1
    assert apps.read_namespaced_deployment("web", "default").spec.replicas == 1
    with pytest.raises(ApiException) as negative:
        apps.patch_namespaced_deployment_scale("web", "default", {"spec": {"replicas": -1}})
    assert negative.value.status == 422
