"""A deleted pod's `lifecycle.preStop` sleep: the worker keeps serving for it (scaled) before its
SIGTERM, so a rolling update drops no request; and the service proxy still reaches a pod the
store deleted a moment ago while the Endpoints object lists it (its ports are remembered), as a
real API server dials a terminating pod's IP. With real kubelets and the real worker."""

from __future__ import annotations

import functools
import json
import time
from typing import Any

import urllib3
from kubernetes import client

from runner.sim.cluster import SimCluster
from runner.sim.kubelet import PORTS_ANNOTATION
from runner.sim.proxy import Resolver
from runner.sim.resources import ENDPOINTS, PODS, SERVICES
from runner.sim.store import Store
from tests.integration.sim.nodes_support import TIME_SCALE, wait_for

HTTP = urllib3.PoolManager(retries=False, timeout=urllib3.Timeout(connect=1, read=5))
PRESTOP_S = 20  # scaled: 1 s


def serving_pod(name: str, pre_stop: bool) -> dict[str, Any]:
    main: dict[str, Any] = {"name": "main", "image": "chaos/cuda-worker", "ports": [
        {"containerPort": 8000, "name": "http"}]}
    if pre_stop:
        main["lifecycle"] = {"preStop": {"sleep": {"seconds": PRESTOP_S}}}
    return {"metadata": {"name": name, "labels": {"app": "w"}},
            "spec": {"terminationGracePeriodSeconds": 60, "containers": [main]}}


def url_of(core: client.CoreV1Api, name: str) -> str:
    def port() -> int | None:
        annotations = core.read_namespaced_pod(name, "default").metadata.annotations or {}
        ports = json.loads(annotations.get(PORTS_ANNOTATION) or "{}")
        return ports.get("8000")

    return f"http://127.0.0.1:{wait_for(f'{name} ports', port)}/health"


def answers(url: str) -> bool:
    try:
        return HTTP.request("GET", url).status == 200
    except urllib3.exceptions.HTTPError:
        return False


def test_a_deleted_worker_serves_through_its_pre_stop_sleep(gpu_sim: SimCluster,
                                                            kube_api: client.ApiClient) -> None:
    core = client.CoreV1Api(kube_api)
    for name, pre_stop in (("slow-stop", True), ("quick-stop", False)):
        core.create_namespaced_pod("default", serving_pod(name, pre_stop))
    urls = {name: url_of(core, name) for name in ("slow-stop", "quick-stop")}
    for url in urls.values():
        wait_for(f"{url} answering", functools.partial(answers, url), timeout=30)
    deleted = time.monotonic()
    for name in urls:
        core.delete_namespaced_pod(name, "default")
    wait_for("the worker without preStop to stop", lambda: not answers(urls["quick-stop"]), timeout=5)
    assert time.monotonic() - deleted < PRESTOP_S * TIME_SCALE * 0.8
    assert answers(urls["slow-stop"])  # still serving: its preStop sleep is not over
    wait_for("the worker with preStop to stop", lambda: not answers(urls["slow-stop"]), timeout=10)
    assert time.monotonic() - deleted >= PRESTOP_S * TIME_SCALE * 0.9


def test_the_proxy_dials_a_just_deleted_pods_port() -> None:
    store = Store()
    resolver = Resolver(store)
    store.create(SERVICES, {"metadata": {"name": "w"}, "spec": {
        "selector": {"app": "w"}, "ports": [{"name": "http", "port": 80, "targetPort": "http"}]}}, "default")
    pod = store.create(PODS, {"metadata": {"name": "p", "labels": {"app": "w"},
                                           "annotations": {PORTS_ANNOTATION: json.dumps({"8000": 41234})}},
                              "spec": {"containers": [{"name": "main", "image": "w", "ports": [
                                  {"name": "http", "containerPort": 8000}]}]}}, "default")
    ref = {"kind": "Pod", "namespace": "default", "name": "p", "uid": pod["metadata"]["uid"]}
    store.create(ENDPOINTS, {"metadata": {"name": "w"}, "subsets": [
        {"addresses": [{"ip": "10.0.0.7", "targetRef": ref}],
         "ports": [{"name": "http", "port": 8000}]}]}, "default")
    assert (resolver.service("default", "w:80").host, resolver.service("default", "w:80").port) == (
        "127.0.0.1", 41234)
    store.delete(PODS, "default", "p")  # gone from the store; its Endpoints entry not yet
    target = resolver.service("default", "w:80")
    assert (target.host, target.port, target.address) == ("127.0.0.1", 41234, "10.0.0.7:8000")
