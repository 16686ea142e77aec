"""Real GPU identity: nodes publish their GPUs as a GPU node does (capacity, GPU Feature Discovery
labels, a `chaos.dev/gpus` annotation with UUIDs and PCI bus ids), the kubelet gives each container
specific GPUs through NVIDIA_VISIBLE_DEVICES (never one GPU to two running containers; `void`
without a request), frees them when the pod ends, and the fake CUDA runtime in the worker reports
exactly those devices. Everything is read over HTTP with the official client, from real processes."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from kubernetes import client

from runner.scenario.model import SimNode, SimSettings
from runner.sim.cluster import SimCluster
from runner.sim.nodes import GPUS_ANNOTATION, gpu_uuid
from runner.sim.nodeside import NodeSideSettings, attach
from runner.sim.resources import NODES
from runner.sim.seed import seed
from tests.integration.sim.nodes_support import wait_for

UUID = re.compile(r"^GPU-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
DEVICE_LINE = re.compile(r"cuda-worker: device (\d+): (.+) (GPU-[0-9a-f-]+) ([0-9A-F]{8}:[0-9A-F]{2}:00\.0)")


def annotation(core: client.CoreV1Api, node: str) -> list[dict[str, Any]]:
    return list(json.loads(core.read_node(node).metadata.annotations[GPUS_ANNOTATION]))


def worker(name: str, gpus: int, env: list[dict[str, str]] | None = None, port: int = 8000) -> dict[str, Any]:
    return {"name": name, "image": "chaos/cuda-worker", "env": env or [], "ports": [{"containerPort": port}],
            "resources": {"limits": {"nvidia.com/gpu": str(gpus)}}}


def pod(name: str, node: str, *containers: dict[str, Any], policy: str = "Always") -> dict[str, Any]:
    return {"metadata": {"name": name}, "spec": {
        "restartPolicy": policy, "containers": list(containers),
        "nodeSelector": {"kubernetes.io/hostname": node}}}


def devices_in_log(core: client.CoreV1Api, name: str, container: str,
                   count: int) -> list[tuple[str, ...]]:
    def seen() -> list[tuple[str, ...]] | None:
        try:
            text = core.read_namespaced_pod_log(name, "default", container=container)
        except client.ApiException:
            return None
        found = [m.groups() for m in DEVICE_LINE.finditer(text)]
        return found if len(found) == count and "started" in text else None

    return wait_for(f"{name}/{container} to list {count} device(s)", seen, timeout=30)


def test_nodes_publish_their_gpus_as_a_gpu_node_does(gpu_sim: SimCluster,
                                                       kube_api: client.ApiClient) -> None:
    core = client.CoreV1Api(kube_api)
    node = core.read_node("gpu-node-1")
    assert node.status.capacity["nvidia.com/gpu"] == node.status.allocatable["nvidia.com/gpu"] == "2"
    labels = node.metadata.labels
    assert labels["nvidia.com/gpu.count"] == "2"
    assert labels["nvidia.com/gpu.product"] == "NVIDIA-H100-80GB-HBM3"
    assert labels["nvidia.com/gpu.memory"] == "81559"
    gpus = annotation(core, "gpu-node-1")
    assert [g["index"] for g in gpus] == [0, 1]
    assert [g["uuid"] for g in gpus] == [gpu_uuid("gpu-node-1", 0), gpu_uuid("gpu-node-1", 1)]
    assert all(UUID.match(g["uuid"]) for g in gpus)
    assert [g["pci_bus_id"] for g in gpus] == ["00000000:18:00.0", "00000000:2A:00.0"]
    every = [g["uuid"] for n in ("gpu-node-1", "gpu-node-2", "gpu-node-3") for g in annotation(core, n)]
    assert len(set(every)) == 6  # unique across the cluster


def test_each_container_gets_its_own_gpus_and_the_runtime_reports_them(
        gpu_sim: SimCluster, kube_api: client.ApiClient) -> None:
    core = client.CoreV1Api(kube_api)
    by_uuid = {g["uuid"]: g for g in annotation(core, "gpu-node-1")}
    shell = {"name": "cpu", "image": "busybox",
             "command": ["sh", "-c", "echo visible=$NVIDIA_VISIBLE_DEVICES; sleep 1000"]}
    two = pod("two", "gpu-node-1", worker("a", 1), worker("b", 1, port=8001), shell)
    core.create_namespaced_pod("default", two)
    a = devices_in_log(core, "two", "a", 1)[0]
    b = devices_in_log(core, "two", "b", 1)[0]
    assert a[2] != b[2]  # no GPU shared between running containers
    for dev in (a, b):
        assert dev[1] == "NVIDIA H100 80GB HBM3"
        assert by_uuid[dev[2]]["pci_bus_id"] == dev[3]  # the runtime's pciBusID is the node's
    wait_for("the CPU container's view", lambda: "visible=void" in core.read_namespaced_pod_log(
        "two", "default", container="cpu"), timeout=10)

    # Both GPUs of the node are taken: a pod bound there directly waits for them; one that asks for
    # more than the node has is rejected at admission, as a real kubelet rejects it.
    core.create_namespaced_pod("default", {"metadata": {"name": "greedy"}, "spec": {
        "nodeName": "gpu-node-1", "containers": [worker("main", 3)]}})
    rejected = wait_for("the admission failure", lambda: (
        lambda p: p if p.status.phase == "Failed" else None)(core.read_namespaced_pod("greedy", "default")),
        timeout=10)
    assert rejected.status.reason == "UnexpectedAdmissionError"
    core.create_namespaced_pod("default", {"metadata": {"name": "later"}, "spec": {
        "nodeName": "gpu-node-1", "containers": [worker("main", 2)]}})
    assert core.read_namespaced_pod("later", "default").status.phase in (None, "Pending")
    core.delete_namespaced_pod("two", "default")
    later = devices_in_log(core, "later", "main", 2)  # it runs once "two" has ended
    assert sorted(d[2] for d in later) == sorted(by_uuid)
    assert [d[3] for d in later] == ["00000000:18:00.0", "00000000:2A:00.0"]  # PCI order


def test_gpus_are_freed_when_the_pod_ends_and_cuda_visible_devices_narrows(
        gpu_sim: SimCluster, kube_api: client.ApiClient) -> None:
    core = client.CoreV1Api(kube_api)
    gpus = annotation(core, "gpu-node-2")
    done = {"name": "main", "image": "busybox", "command": ["sh", "-c", "echo $NVIDIA_VISIBLE_DEVICES"],
            "resources": {"limits": {"nvidia.com/gpu": "2"}}}
    core.create_namespaced_pod("default", pod("first", "gpu-node-2", done, policy="Never"))
    wait_for("the first pod to finish", lambda: core.read_namespaced_pod(
        "first", "default").status.phase == "Succeeded", timeout=20)
    assert core.read_namespaced_pod_log("first", "default").strip() == ",".join(g["uuid"] for g in gpus)
    # Its GPUs are free again: a 2-GPU pod runs there, and CUDA_VISIBLE_DEVICES narrows its view.
    core.create_namespaced_pod("default", pod("second", "gpu-node-2", worker(
        "main", 2, [{"name": "CUDA_VISIBLE_DEVICES", "value": "1"}])))
    (only,) = devices_in_log(core, "second", "main", 1)
    assert only[0] == "0"
    assert only[2] == gpus[1]["uuid"]
    assert only[3] == gpus[1]["pci_bus_id"]


def test_nodes_default_to_the_scenarios_gpus(tmp_path: Path, image_build_dir: Path) -> None:
    with SimCluster(tmp_path / "sim") as cluster:
        attach(cluster, NodeSideSettings(time_scale=0.05, build_dir=image_build_dir, health_agent=False))
        seed(cluster, SimSettings(nodes=(SimNode(count=1, gpus=4, product="NVIDIA-H200"),)), tmp_path)
        node = cluster.store.get(NODES, None, "gpu-node-1")
        assert node["status"]["allocatable"]["nvidia.com/gpu"] == "4"
        assert node["metadata"]["labels"]["nvidia.com/gpu.memory"] == "143771"
        assert len(json.loads(node["metadata"]["annotations"][GPUS_ANNOTATION])) == 4
        # A node created without our helpers (any Node object with GPU capacity) gets its identity
        # published by its kubelet, as the device plugin and GPU Feature Discovery would.
        cluster.add_nodes(1, 2)
        published = wait_for("the kubelet to publish the new node's GPUs", lambda: (
            lambda n: n if GPUS_ANNOTATION in (n["metadata"].get("annotations") or {}) else None)(
            cluster.store.get(NODES, None, "gpu-node-2")), timeout=10)
        assert [g["uuid"] for g in json.loads(published["metadata"]["annotations"][GPUS_ANNOTATION])] == \
            [gpu_uuid("gpu-node-2", 0), gpu_uuid("gpu-node-2", 1)]
