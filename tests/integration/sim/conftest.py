"""Fixtures for the embedded API server: a running SimCluster and official clients pointed at it."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, config

from runner.sim import dynamo
from runner.sim.cluster import SimCluster


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[SimCluster]:
    with SimCluster(tmp_path / "sim") as cluster:
        cluster.add_nodes(2, 8)
        yield cluster


def api_client(cluster: SimCluster, path: Path, token: str | None = None) -> client.ApiClient:
    cluster.write_kubeconfig(path, token=token)
    return config.new_client_from_config(str(path))


@pytest.fixture
def kube(sim: SimCluster, tmp_path: Path) -> Iterator[client.ApiClient]:
    c = api_client(sim, tmp_path / "kubeconfig")
    yield c
    c.close()


@pytest.fixture
def core(kube: client.ApiClient) -> client.CoreV1Api:
    return client.CoreV1Api(kube)


@pytest.fixture
def apps(kube: client.ApiClient) -> client.AppsV1Api:
    return client.AppsV1Api(kube)


@pytest.fixture
def custom(kube: client.ApiClient) -> client.CustomObjectsApi:
    return client.CustomObjectsApi(kube)


def pod(name: str, labels: dict[str, str] | None = None, containers: tuple[str, ...] = ("main",),
        owner: dict[str, Any] | None = None, node: str = "") -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "labels": labels or {}}
    if owner:
        meta["ownerReferences"] = [{"apiVersion": owner["apiVersion"], "kind": owner["kind"],
                                    "name": owner["metadata"]["name"], "uid": owner["metadata"]["uid"]}]
    spec: dict[str, Any] = {"containers": [{"name": c, "image": "busybox"} for c in containers]}
    if node:
        spec["nodeName"] = node
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}


def deployment(name: str, replicas: int = 1) -> dict[str, Any]:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "labels": labels},
        "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                 "template": {"metadata": {"labels": labels},
                              "spec": {"containers": [{"name": "worker", "image": "vllm:1",
                                                       "env": [{"name": "A", "value": "1"}]}]}}},
    }


DGD_CRD: dict[str, Any] = dynamo.CRD  # the one the embedded operator installs


def dgd(name: str) -> dict[str, Any]:
    return {"apiVersion": "nvidia.com/v1alpha1", "kind": "DynamoGraphDeployment",
            "metadata": {"name": name},
            "spec": {"services": {"Frontend": {"replicas": 1},
                                  "VllmWorker": {"replicas": 2, "envs": [{"name": "A", "value": "1"}]}}}}


def wait_for(condition: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> Any:
    """Poll `condition` until it returns something truthy, failing after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


# Node-side fixtures (part 2): the GPU cluster with kubelets, and the autouse process-leak check.
from tests.integration.sim.nodes_support import gpu_sim, image_build_dir, kube_api, no_leaks  # noqa: E402, F401
