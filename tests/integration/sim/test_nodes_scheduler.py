"""The scheduler's filters and scoring against the Store directly: affinity, taints, GPUs, cordon."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from runner.sim.nodes import NodeGroup, add_nodes
from runner.sim.resources import CORE_EVENTS, NODES, PODS
from runner.sim.scheduling import Scheduler, choose
from runner.sim.store import Store
from tests.integration.sim.nodes_support import wait_for


def pod(name: str, gpus: int = 0, **spec: Any) -> dict[str, Any]:
    container: dict[str, Any] = {"name": "main", "image": "busybox"}
    if gpus:
        container["resources"] = {"limits": {"nvidia.com/gpu": str(gpus)}}
    return {"metadata": {"name": name, "namespace": "default"}, "spec": {"containers": [container], **spec}}


@pytest.fixture
def store(tmp_path: Any) -> Store:
    s = Store()
    add_nodes(s, tmp_path, [NodeGroup(count=2, gpus=2, product="NVIDIA-A100"),
                            NodeGroup(count=1, gpus=8, product="NVIDIA-H100-80GB-HBM3")])
    return s


@pytest.fixture
def scheduler(store: Store) -> Iterator[Scheduler]:
    s = Scheduler(store)
    s.start()
    yield s
    s.stop()


def nodes(store: Store) -> list[dict[str, Any]]:
    return store.list(NODES)[0]


def bound(store: Store, name: str) -> str:
    return str(wait_for(f"{name} bound", lambda: store.get(PODS, "default", name)["spec"].get("nodeName"),
                        timeout=10))


def unschedulable(store: Store, name: str) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        p = store.get(PODS, "default", name)
        for c in p["status"].get("conditions") or []:
            if c["type"] == "PodScheduled" and c["status"] == "False":
                return dict(c)
        return None
    return wait_for(f"{name} unschedulable", check, timeout=10)


def test_node_selector_and_required_affinity(store: Store) -> None:
    ns = nodes(store)
    by_product, _ = choose(pod("a", nodeSelector={"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3"}), ns, {})
    assert by_product is not None
    assert by_product["metadata"]["name"] == "gpu-node-3"
    not_in = pod("b", affinity={"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchExpressions": [
            {"key": "nvidia.com/gpu.product", "operator": "NotIn", "values": ["NVIDIA-A100"]}]}]}}})
    node, _ = choose(not_in, ns, {})
    assert node is not None
    assert node["metadata"]["name"] == "gpu-node-3"
    fields = pod("c", affinity={"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchFields": [
            {"key": "metadata.name", "operator": "In", "values": ["gpu-node-2"]}]}]}}})
    node, _ = choose(fields, ns, {})
    assert node is not None
    assert node["metadata"]["name"] == "gpu-node-2"
    missing = pod("d", affinity={"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchExpressions": [{"key": "rack", "operator": "Exists"}]}]}}})
    node, message = choose(missing, ns, {})
    assert node is None
    assert message == "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector."
    absent = pod("e", affinity={"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchExpressions": [{"key": "rack", "operator": "DoesNotExist"}]}]}}})
    assert choose(absent, ns, {})[0] is not None


def test_preferred_affinity_wins_over_spreading(store: Store) -> None:
    preferring = pod("a", affinity={"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": 10, "preference": {"matchExpressions": [
            {"key": "kubernetes.io/hostname", "operator": "In", "values": ["gpu-node-2"]}]}}]}})
    node, _ = choose(preferring, nodes(store), {"gpu-node-2": 1})
    assert node is not None
    assert node["metadata"]["name"] == "gpu-node-2"
    node, _ = choose(pod("b"), nodes(store), {"gpu-node-1": 1})
    assert node is not None
    assert node["metadata"]["name"] == "gpu-node-2"  # fewest GPUs in use


def test_taints_need_tolerations(store: Store) -> None:
    for n in ("gpu-node-1", "gpu-node-2", "gpu-node-3"):
        store.patch(NODES, None, n, "application/merge-patch+json",
                    {"spec": {"taints": [{"key": "nvidia.com/gpu", "value": "present",
                                          "effect": "NoSchedule"}]}})
    node, message = choose(pod("a"), nodes(store), {})
    assert node is None
    assert "3 node(s) had untolerated taint {nvidia.com/gpu: present}" in message
    equal = pod("b", tolerations=[{"key": "nvidia.com/gpu", "operator": "Equal", "value": "present",
                                   "effect": "NoSchedule"}])
    assert choose(equal, nodes(store), {})[0] is not None
    exists = pod("c", tolerations=[{"key": "nvidia.com/gpu", "operator": "Exists"}])
    assert choose(exists, nodes(store), {})[0] is not None
    wrong = pod("d", tolerations=[{"key": "nvidia.com/gpu", "value": "absent", "effect": "NoSchedule"}])
    assert choose(wrong, nodes(store), {})[0] is None


def test_gpu_capacity_counts_bound_pods(store: Store, scheduler: Scheduler) -> None:
    store.create(PODS, pod("big", gpus=8))
    assert bound(store, "big") == "gpu-node-3"
    store.create(PODS, pod("a", gpus=2))
    store.create(PODS, pod("b", gpus=2))
    assert {bound(store, "a"), bound(store, "b")} == {"gpu-node-1", "gpu-node-2"}
    store.create(PODS, pod("c", gpus=1))
    cond = unschedulable(store, "c")
    assert cond["reason"] == "Unschedulable"
    assert cond["message"] == "0/3 nodes are available: 3 Insufficient nvidia.com/gpu."
    events = wait_for("the FailedScheduling event", lambda: store.list(
        CORE_EVENTS, "default", field_selector="involvedObject.name=c")[0])
    assert [e["reason"] for e in events] == ["FailedScheduling"]
    assert store.get(PODS, "default", "c")["status"]["phase"] == "Pending"
    # A terminated pod no longer holds its GPUs.
    done = store.get(PODS, "default", "a")
    done["status"]["phase"] = "Succeeded"
    store.update(PODS, done, subresource="status")
    assert bound(store, "c") == store.get(PODS, "default", "a")["spec"]["nodeName"]


def test_cordoned_nodes_take_no_pods(store: Store, scheduler: Scheduler) -> None:
    for n in ("gpu-node-1", "gpu-node-2"):
        store.patch(NODES, None, n, "application/merge-patch+json", {"spec": {"unschedulable": True}})
    store.create(PODS, pod("a"))
    assert bound(store, "a") == "gpu-node-3"
    store.patch(NODES, None, "gpu-node-3", "application/merge-patch+json", {"spec": {"unschedulable": True}})
    store.create(PODS, pod("b"))
    assert unschedulable(store, "b")["message"] == "0/3 nodes are available: 3 node(s) were unschedulable."
    store.patch(NODES, None, "gpu-node-2", "application/merge-patch+json", {"spec": {"unschedulable": None}})
    assert bound(store, "b") == "gpu-node-2"
    tolerant = pod("c", tolerations=[{"key": "node.kubernetes.io/unschedulable", "operator": "Exists",
                                      "effect": "NoSchedule"}],
                   nodeSelector={"kubernetes.io/hostname": "gpu-node-1"})
    store.create(PODS, tolerant)
    assert bound(store, "c") == "gpu-node-1"
