"""Fixtures and helpers for the node-side tests (test_nodes_*.py); conftest.py re-exports the fixtures.

`no_leaks` is autouse: after every test, no process group a kubelet started may still be alive.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from kubernetes import client, config

from runner.sim import procs
from runner.sim.cluster import SimCluster
from runner.sim.nodes import NodeGroup, add_nodes
from runner.sim.nodeside import NodeSideSettings, attach

T = TypeVar("T")
TIME_SCALE = 0.05  # CrashLoopBackOff 0.5 s, 1 s, 2 s ...; grace periods 1.5 s


@pytest.fixture(scope="session")
def image_build_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One compile of the worker per test session."""
    return tmp_path_factory.mktemp("sim-images")


@pytest.fixture(autouse=True)
def no_leaks() -> Iterator[None]:
    yield
    deadline = time.monotonic() + 10
    while procs.alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert procs.alive() == [], "process groups started by the kubelet outlived the test"


def start_gpu_cluster(root: Path, build_dir: Path, nodes: int = 3, gpus: int = 2,
                      health_agent: bool = True) -> SimCluster:
    cluster = SimCluster(root)
    attach(cluster, NodeSideSettings(time_scale=TIME_SCALE, health_agent=health_agent,
                                     build_dir=build_dir))
    cluster.start()
    add_nodes(cluster.store, cluster.root, [NodeGroup(count=nodes, gpus=gpus)])
    return cluster


@pytest.fixture
def gpu_sim(tmp_path: Path, image_build_dir: Path, no_leaks: None) -> Iterator[SimCluster]:
    cluster = start_gpu_cluster(tmp_path / "sim", image_build_dir)
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def kube_api(gpu_sim: SimCluster, tmp_path: Path) -> Iterator[client.ApiClient]:
    gpu_sim.write_kubeconfig(tmp_path / "kubeconfig")
    api = config.new_client_from_config(str(tmp_path / "kubeconfig"))
    yield api
    api.close()


def wait_for(what: str, check: Callable[[], T | None], timeout: float = 30.0, every: float = 0.05) -> T:
    """Poll `check` until it returns something truthy; fail with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


def worker_container(port: int = 8000) -> dict[str, Any]:
    return {"name": "main", "image": "chaos/cuda-worker:latest",
            "ports": [{"containerPort": port, "name": "http"}],
            "resources": {"limits": {"nvidia.com/gpu": "1"}},
            "readinessProbe": {"httpGet": {"path": "/healthz", "port": "http"}, "periodSeconds": 2}}


def deployment(name: str, replicas: int, labels: dict[str, str] | None = None,
               pod_spec: dict[str, Any] | None = None) -> dict[str, Any]:
    labels = labels or {"app": name}
    spec = pod_spec or {"containers": [worker_container()]}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": dict(labels)},
                     "template": {"metadata": {"labels": dict(labels)}, "spec": spec}}}


def ready_pods(core: client.CoreV1Api, namespace: str, selector: str) -> list[Any]:
    pods = core.list_namespaced_pod(namespace, label_selector=selector).items
    return [p for p in pods if any(c.type == "Ready" and c.status == "True"
                                   for c in (p.status.conditions or []))]
