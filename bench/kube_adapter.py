"""How much the adapter costs over the official client's generated API, against the embedded server.

Prints per-call latency for GET pod and LIST pods through `KubeCluster` (raw REST + retries +
error translation) and through `kubernetes.client.CoreV1Api` (the baseline), measured in the same
run, and the ratio; then the cost of riding out injected 500s (each retried once).
Run: PYTHONPATH=. python bench/kube_adapter.py [N]
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from kubernetes import client, config

from runner.cluster.kube import KubeCluster
from runner.cluster.protocol import ObjectRef
from runner.errors import Unavailable
from runner.sim.cluster import SimCluster


def timed(n: int, fn) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - start) / n


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    with tempfile.TemporaryDirectory() as tmp, SimCluster(Path(tmp) / "sim") as sim:
        sim.add_nodes(3, 8)
        kube = KubeCluster.from_url(sim.url, backoff_s=0.0, max_backoff_s=0.0)
        core = client.CoreV1Api(config.new_client_from_config(str(sim.write_kubeconfig(Path(tmp) / "kc"))))
        for i in range(50):
            kube.create({"apiVersion": "v1", "kind": "Pod",
                         "metadata": {"name": f"p{i}", "namespace": "default", "labels": {"app": "b"}},
                         "spec": {"containers": [{"name": "main", "image": "x"}]}})
        ref = ObjectRef("v1", "Pod", "default", "p0")
        rows = [
            ("get pod", timed(n, lambda: kube.get(ref)),
             timed(n, lambda: core.read_namespaced_pod("p0", "default"))),
            ("list 50 pods", timed(n // 3, lambda: kube.list("v1", "Pod", "default", label_selector="app=b")),
             timed(n // 3, lambda: core.list_namespaced_pod("default", label_selector="app=b"))),
        ]
        print(f"{'call':<14}{'adapter ms':>12}{'client ms':>12}{'ratio':>8}")
        for name, ours, base in rows:
            print(f"{name:<14}{ours * 1000:>12.2f}{base * 1000:>12.2f}{ours / base:>8.2f}")
        clean = timed(n, lambda: kube.get(ref))
        sim.faults.update({"error_rate": 0.2, "error_code": 500, "verbs": ["get"], "seed": 1})
        failures = []

        def get() -> None:
            try:
                kube.get(ref)
            except Unavailable:
                failures.append(1)

        faulty = timed(n, get)
        sim.faults.update({"error_rate": 0.0})
        print(f"get pod with 20% injected 500s: {faulty * 1000:.2f} ms/call vs {clean * 1000:.2f} clean "
              f"(ratio {faulty / clean:.2f}), {kube.retries_done} retries, {len(failures)} failures")


if __name__ == "__main__":
    main()
