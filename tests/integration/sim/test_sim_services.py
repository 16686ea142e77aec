"""Services and the EndpointSlice/Endpoints controllers as a real API server and controller manager
keep them; this file plays the kubelet (it writes pod IPs and Ready conditions itself)."""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from runner.sim.cluster import SimCluster
from tests.integration.sim.conftest import wait_for
from tests.integration.sim.test_sim_leases import kubectl


@pytest.fixture
def discovery(kube: client.ApiClient) -> client.DiscoveryV1Api:
    return client.DiscoveryV1Api(kube)


def svc(name: str, selector: dict[str, str] | None = None, **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"ports": [{"name": "http", "port": 80, "targetPort": "http"}], **spec}
    if selector is not None:
        body["selector"] = selector
    return {"metadata": {"name": name, "labels": {"team": "inference"}}, "spec": body}


def worker(name: str, labels: dict[str, str], node: str = "gpu-node-1") -> dict[str, Any]:
    return {"metadata": {"name": name, "labels": labels},
            "spec": {"nodeName": node, "containers": [{"name": "main", "image": "vllm",
                                                       "ports": [{"name": "http", "containerPort": 8000}]}]}}


def set_status(core: client.CoreV1Api, name: str, ready: bool | None, ip: str = "127.0.0.1",
               phase: str = "Running") -> None:
    status: dict[str, Any] = {"phase": phase}
    if ip:
        status.update(podIP=ip, podIPs=[{"ip": ip}])
    if ready is not None:
        status["conditions"] = [{"type": "Ready", "status": "True" if ready else "False"}]
    core.patch_namespaced_pod_status(name, "default", {"status": status})


def slice_of(discovery: client.DiscoveryV1Api, service: str) -> Any:
    items = discovery.list_namespaced_endpoint_slice(
        "default", label_selector=f"kubernetes.io/service-name={service}").items
    return items[0] if len(items) == 1 else None


def endpoints(discovery: client.DiscoveryV1Api, service: str) -> dict[str, tuple[bool, bool, bool]]:
    s = slice_of(discovery, service)
    if s is None:
        return {}
    return {ep.target_ref.name: (ep.conditions.ready, ep.conditions.serving, ep.conditions.terminating)
            for ep in s.endpoints or []}


def test_service_defaults_allocation_and_validation(core: client.CoreV1Api) -> None:
    created = core.create_namespaced_service("default", svc("web", {"app": "web"}))
    spec = created.spec
    assert spec.type == "ClusterIP"
    assert ipaddress.ip_address(spec.cluster_ip) in ipaddress.ip_network("10.96.0.0/16")
    assert spec.cluster_ips == [spec.cluster_ip]
    assert (spec.session_affinity, spec.ip_families, spec.ip_family_policy) == (
        "None", ["IPv4"], "SingleStack")
    assert (spec.ports[0].protocol, spec.ports[0].target_port) == ("TCP", "http")
    other = core.create_namespaced_service("default", {"metadata": {"name": "plain"},
                                                       "spec": {"ports": [{"port": 9000}]}})
    assert other.spec.ports[0].target_port == 9000
    assert other.spec.cluster_ip != spec.cluster_ip
    # a replace that leaves the allocated IP out keeps it (as kubectl replace does); changing it is refused
    replaced = core.replace_namespaced_service("web", "default", {
        "metadata": {"name": "web", "resourceVersion": created.metadata.resource_version},
        "spec": {"selector": {"app": "web"}, "ports": [{"name": "http", "port": 80, "targetPort": "http"}]}})
    assert replaced.spec.cluster_ip == spec.cluster_ip
    with pytest.raises(ApiException) as moved:
        core.patch_namespaced_service("web", "default", {"spec": {"clusterIP": "10.96.9.9",
                                                                  "clusterIPs": ["10.96.9.9"]}})
    assert moved.value.status == 422
    assert "may not change once set" in json.loads(moved.value.body)["message"]
    with pytest.raises(ApiException) as taken:
        core.create_namespaced_service("default", {"metadata": {"name": "dup"}, "spec": {
            "clusterIP": spec.cluster_ip, "ports": [{"port": 1}]}})
    assert "provided IP is already allocated" in json.loads(taken.value.body)["message"]
    with pytest.raises(ApiException) as unnamed:
        core.create_namespaced_service("default", {"metadata": {"name": "two"}, "spec": {
            "ports": [{"port": 1}, {"port": 2}]}})
    assert json.loads(unnamed.value.body)["message"] == (
        'Service "two" is invalid: spec.ports[0].name: Required value, spec.ports[1].name: Required value')
    with pytest.raises(ApiException) as no_ports:
        core.create_namespaced_service("default", {"metadata": {"name": "none"}, "spec": {}})
    assert json.loads(no_ports.value.body)["message"] == (
        'Service "none" is invalid: spec.ports: Required value')
    headless = core.create_namespaced_service("default", {"metadata": {"name": "h"}, "spec": {
        "clusterIP": "None", "selector": {"app": "web"}}})
    assert headless.spec.cluster_ip == "None"
    node_port = core.create_namespaced_service("default", svc("np", {"app": "web"}, type="NodePort"))
    assert 30000 <= node_port.spec.ports[0].node_port <= 32767
    assert node_port.spec.external_traffic_policy == "Cluster"


def test_endpointslices_follow_pod_readiness(core: client.CoreV1Api,
                                             discovery: client.DiscoveryV1Api) -> None:
    labels = {"app": "web"}
    for name in ("a", "b", "no-ip", "done"):
        core.create_namespaced_pod("default", worker(name, labels))
    core.create_namespaced_pod("default", worker("other", {"app": "other"}))
    set_status(core, "a", True)
    set_status(core, "b", False)
    set_status(core, "done", True, phase="Failed")
    set_status(core, "other", True)
    service = core.create_namespaced_service("default", svc("web", labels))
    wait_for(lambda: endpoints(discovery, "web") == {"a": (True, True, False), "b": (False, False, False)},
             what="the slice with a (ready) and b (not ready)")
    s = slice_of(discovery, "web")
    assert s.address_type == "IPv4"
    assert s.metadata.name.startswith("web-")
    assert s.metadata.labels == {"team": "inference", "kubernetes.io/service-name": "web",
                                 "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io"}
    owner = s.metadata.owner_references[0]
    assert (owner.kind, owner.name, owner.uid, owner.controller) == (
        "Service", "web", service.metadata.uid, True)
    assert [(p.name, p.port, p.protocol) for p in s.ports] == [("http", 8000, "TCP")]  # named targetPort
    a = next(ep for ep in s.endpoints if ep.target_ref.name == "a")
    assert (a.addresses, a.node_name, a.target_ref.kind) == (["127.0.0.1"], "gpu-node-1", "Pod")
    assert a.target_ref.uid == core.read_namespaced_pod("a", "default").metadata.uid

    legacy = core.read_namespaced_endpoints("web", "default")
    assert [x.target_ref.name for x in legacy.subsets[0].addresses] == ["a"]
    assert [x.target_ref.name for x in legacy.subsets[0].not_ready_addresses] == ["b"]
    assert [(p.name, p.port) for p in legacy.subsets[0].ports] == [("http", 8000)]

    set_status(core, "b", True)  # b turns Ready
    wait_for(lambda: endpoints(discovery, "web").get("b") == (True, True, False), what="b ready")
    set_status(core, "a", False)  # a crashed: not ready, still an endpoint
    wait_for(lambda: endpoints(discovery, "web").get("a") == (False, False, False), what="a unready")
    set_status(core, "a", False, phase="Failed")  # a terminal pod leaves the slice
    wait_for(lambda: set(endpoints(discovery, "web")) == {"b"}, what="a gone")
    core.delete_namespaced_pod("b", "default")
    wait_for(lambda: endpoints(discovery, "web") == {} and slice_of(discovery, "web") is not None,
             what="an empty slice")
    assert core.read_namespaced_endpoints("web", "default").subsets is None
    core.delete_namespaced_service("web", "default")
    wait_for(lambda: slice_of(discovery, "web") is None, what="the slice to go with its Service")
    wait_for(lambda: not core.list_namespaced_endpoints("default").items, what="the Endpoints to go")


def test_publish_not_ready_and_selectorless(core: client.CoreV1Api,
                                            discovery: client.DiscoveryV1Api) -> None:
    core.create_namespaced_pod("default", worker("p", {"app": "db"}))
    set_status(core, "p", False)
    core.create_namespaced_service("default", svc("db", {"app": "db"}, publishNotReadyAddresses=True))
    wait_for(lambda: endpoints(discovery, "db") == {"p": (True, False, False)}, what="published unready pod")
    core.create_namespaced_service("default", svc("manual"))  # no selector: nobody manages its endpoints
    mine = discovery.create_namespaced_endpoint_slice("default", {
        "metadata": {"name": "manual-1", "labels": {"kubernetes.io/service-name": "manual"}},
        "addressType": "IPv4", "endpoints": [{"addresses": ["127.0.0.1"], "conditions": {"ready": True}}],
        "ports": [{"name": "http", "port": 1234}]})
    with pytest.raises(ApiException) as bad:
        discovery.create_namespaced_endpoint_slice("default", {
            "metadata": {"name": "x"}, "addressType": "IPv4", "endpoints": [{"addresses": []}]})
    assert bad.value.status == 422
    assert discovery.read_namespaced_endpoint_slice("manual-1", "default").metadata.resource_version == \
        mine.metadata.resource_version


def test_kubectl_get_services_and_slices(sim: SimCluster, core: client.CoreV1Api, tmp_path: Path) -> None:
    core.create_namespaced_pod("default", worker("a", {"app": "web"}))
    set_status(core, "a", True)
    created = core.create_namespaced_service("default", svc("web", {"app": "web"}))
    discovery = client.DiscoveryV1Api(core.api_client)
    wait_for(lambda: endpoints(discovery, "web"), what="the slice")
    rows = kubectl(sim, tmp_path, "get", "svc").stdout.splitlines()
    assert rows[0].split() == ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"]
    assert rows[1].split()[:5] == ["web", "ClusterIP", created.spec.cluster_ip, "<none>", "80/TCP"]
    slices = kubectl(sim, tmp_path, "get", "endpointslices").stdout.splitlines()
    assert slices[0].split() == ["NAME", "ADDRESSTYPE", "PORTS", "ENDPOINTS", "AGE"]
    assert slices[1].split()[1:4] == ["IPv4", "8000", "127.0.0.1"]
    eps = kubectl(sim, tmp_path, "get", "endpoints", "web").stdout.splitlines()
    assert eps[1].split()[:2] == ["web", "127.0.0.1:8000"]
    names = kubectl(sim, tmp_path, "api-resources", "-o", "name").stdout.split()
    assert {"services", "endpoints", "endpointslices.discovery.k8s.io",
            "leases.coordination.k8s.io"} <= set(names)
