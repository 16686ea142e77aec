"""Benchmark of the embedded API server (run by hand): `PYTHONPATH=. python bench/sim_api.py`.

200 GPU nodes and 5,000 pods through the official kubernetes client over HTTP: time to create
them, to list all pods, and the latency of watch events for pods created while a watch of all pods
runs. The baseline, measured in the same run, is the same work done on the Store in process, so the
ratio shows what HTTP, JSON and the client cost. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from kubernetes import client, config, watch

from runner.sim.cluster import SimCluster
from runner.sim.resources import PODS
from runner.sim.store import Store


def pod(i: int, nodes: int) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": f"worker-{i}", "labels": {"app": "vllm", "shard": str(i % 16)}},
            "spec": {"nodeName": f"gpu-node-{i % nodes + 1}",
                     "containers": [{"name": "main", "image": "vllm:latest",
                                     "resources": {"limits": {"nvidia.com/gpu": "1"}}}]}}


def baseline(n_pods: int, n_nodes: int) -> tuple[float, float]:
    store = Store()
    t0 = time.perf_counter()
    for i in range(n_pods):
        store.create(PODS, pod(i, n_nodes), "default")
    t1 = time.perf_counter()
    items, _ = store.list(PODS)
    t2 = time.perf_counter()
    assert len(items) == n_pods
    return t1 - t0, t2 - t1


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--nodes", type=int, default=200)
    ap.add_argument("--pods", type=int, default=5000)
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp, SimCluster(Path(tmp) / "sim") as sim:
        t0 = time.perf_counter()
        sim.add_nodes(args.nodes, 8)
        t_nodes = time.perf_counter() - t0
        sim.write_kubeconfig(Path(tmp) / "kc")
        api = config.new_client_from_config(str(Path(tmp) / "kc"))
        core = client.CoreV1Api(api)
        rv = core.list_namespaced_pod("default").metadata.resource_version

        arrivals: dict[str, float] = {}
        ready = threading.Event()
        w = watch.Watch()

        def watcher() -> None:
            wcore = client.CoreV1Api(config.new_client_from_config(str(Path(tmp) / "kc")))
            ready.set()
            for ev in w.stream(wcore.list_pod_for_all_namespaces, resource_version=rv, deserialize=False):
                arrivals[ev["object"]["metadata"]["name"]] = time.perf_counter()
                if len(arrivals) == args.pods:
                    w.stop()

        th = threading.Thread(target=watcher, daemon=True)
        th.start()
        ready.wait()
        sent: dict[str, float] = {}
        t0 = time.perf_counter()
        for i in range(args.pods):
            sent[f"worker-{i}"] = time.perf_counter()
            core.create_namespaced_pod("default", pod(i, args.nodes))
        t_create = time.perf_counter() - t0
        th.join(timeout=120)

        t0 = time.perf_counter()
        items = core.list_pod_for_all_namespaces().items
        t_list = time.perf_counter() - t0
        t0 = time.perf_counter()
        raw = core.list_pod_for_all_namespaces(_preload_content=False)
        raw.data  # noqa: B018 - read the body
        t_list_raw = time.perf_counter() - t0
        assert len(items) == args.pods

        lags = sorted(arrivals[n] - sent[n] for n in sent if n in arrivals)
        first = min(arrivals.values()) - sent["worker-0"] if arrivals else float("nan")

    b_create, b_list = baseline(args.pods, args.nodes)
    n = args.pods
    print(f"nodes created in process: {args.nodes} in {t_nodes * 1000:.1f} ms")
    print(f"create {n} pods over HTTP: {t_create:.2f} s ({n / t_create:.0f}/s); "
          f"in-process store baseline {b_create:.2f} s; ratio {t_create / b_create:.1f}x")
    print(f"list {n} pods, official client (deserialised): {t_list:.2f} s; raw JSON: {t_list_raw:.2f} s; "
          f"store baseline {b_list * 1000:.1f} ms; ratio (raw) {t_list_raw / b_list:.1f}x")
    print(f"watch: first event {first * 1000:.1f} ms after the first create started; "
          f"events received {len(arrivals)}/{n}")
    if lags:
        print(f"watch lag create->event: p50 {statistics.median(lags) * 1000:.1f} ms, "
              f"p99 {lags[int(len(lags) * 0.99) - 1] * 1000:.1f} ms, max {lags[-1] * 1000:.1f} ms")


if __name__ == "__main__":
    main()
