"""Deployments of the CUDA worker on GPU nodes: Ready, replaced when deleted, moved off a cordoned node."""

from __future__ import annotations

import json
import urllib.request

from kubernetes import client

from tests.integration.sim.nodes_support import deployment, ready_pods, wait_for


def test_deployment_comes_up_ready_and_serves(kube_api: client.ApiClient) -> None:
    apps, core = client.AppsV1Api(kube_api), client.CoreV1Api(kube_api)
    apps.create_namespaced_deployment("default", deployment("worker", 2))
    pods = wait_for("2 ready pods", lambda: (lambda r: r if len(r) == 2 else None)(
        ready_pods(core, "default", "app=worker")))
    dep = wait_for("deployment available", lambda: (
        lambda d: d if d.status.available_replicas == 2 else None)(
        apps.read_namespaced_deployment("worker", "default")))
    assert dep.status.ready_replicas == 2
    assert dep.status.updated_replicas == 2
    assert dep.status.observed_generation == dep.metadata.generation
    assert {c.type: c.status for c in dep.status.conditions}["Available"] == "True"
    # Each replica has its own GPU: with 2 GPUs per node the scheduler spreads them.
    assert len({p.spec.node_name for p in pods}) == 2
    for p in pods:
        assert p.metadata.labels["pod-template-hash"]
        assert p.status.phase == "Running"
        assert p.status.pod_ip == "127.0.0.1"
        port = json.loads(p.metadata.annotations["chaos.dev/sim-ports"])["8000"]
        with urllib.request.urlopen(urllib.request.Request(
                f"http://127.0.0.1:{port}/v1/completions", data=b"{}"), timeout=5) as resp:
            assert json.loads(resp.read())["object"] == "text_completion"
        log = core.read_namespaced_pod_log(p.metadata.name, "default")
        assert "cuda-worker: started" in log


def test_deleted_pod_is_replaced(kube_api: client.ApiClient) -> None:
    apps, core = client.AppsV1Api(kube_api), client.CoreV1Api(kube_api)
    apps.create_namespaced_deployment("default", deployment("worker", 2))
    first = wait_for("2 ready pods", lambda: (lambda r: r if len(r) == 2 else None)(
        ready_pods(core, "default", "app=worker")))
    victim = first[0].metadata.name
    core.delete_namespaced_pod(victim, "default")
    again = wait_for("2 ready pods after a delete", lambda: (lambda r: r if len(r) == 2 and victim not in
                     {p.metadata.name for p in r} else None)(ready_pods(core, "default", "app=worker")))
    assert victim not in {p.metadata.name for p in again}


def test_cordoned_node_pods_move(kube_api: client.ApiClient) -> None:
    apps, core = client.AppsV1Api(kube_api), client.CoreV1Api(kube_api)
    apps.create_namespaced_deployment("default", deployment("worker", 2))
    pods = wait_for("2 ready pods", lambda: (lambda r: r if len(r) == 2 else None)(
        ready_pods(core, "default", "app=worker")))
    node = pods[0].spec.node_name
    core.patch_node(node, {"spec": {"unschedulable": True}})
    for p in core.list_namespaced_pod("default", field_selector=f"spec.nodeName={node}").items:
        core.delete_namespaced_pod(p.metadata.name, "default")
    moved = wait_for("2 ready pods off the cordoned node", lambda: (
        lambda r: r if len(r) == 2 and all(p.spec.node_name != node for p in r) else None)(
        ready_pods(core, "default", "app=worker")))
    assert all(p.spec.node_name != node for p in moved)
