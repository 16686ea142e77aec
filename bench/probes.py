"""Does a probe keep its interval under load, and what does the service proxy cost? (run by hand):
`PYTHONPATH=. python bench/probes.py [--seconds S] [--interval-ms MS] [--counts 1,10,50]`.

Starts the embedded cluster of scenarios/xid79.yaml in its own process (`chaos sim up --from`, so
the CPU measured here is the runner's alone), waits for its two CUDA workers, then runs 1, 10 and
50 background probes at 100 ms through the real engine code (`ProbeRunner` on the real clock, the
kubernetes-client adapter, the API server's service proxy) and prints, for each count: the
achieved interval between a probe's requests (mean and p95, and the share of the wanted one),
slots skipped, the runner's CPU (a share of one core), and the requests' success and latency.
Then the cost of a request through the embedded service proxy against one sent straight to the
worker's port, measured back to back in the same run, as ratios. Asserts nothing.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from runner.cluster.http import direct_request
from runner.cluster.kube import KubeCluster
from runner.engine.probes import PhaseClock, ProbeRunner
from runner.kernel.clock import SystemClock
from runner.kernel.probing import percentile
from runner.scenario.model import Duration, Probe, ServiceRef

REPO = Path(__file__).resolve().parent.parent
BODY = '{"model": "chaos-sim", "prompt": "hello", "max_tokens": 8}'
HEADERS = {"Content-Type": "application/json"}


def start_sim(tmp: Path) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen([sys.executable, "-m", "runner", "sim", "up", "--from",
                             str(REPO / "scenarios" / "xid79.yaml"), "--kubeconfig", str(tmp / "kc")],
                            cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert proc.stdout is not None
    for line in proc.stdout:
        found = re.search(r"API server: (http://\S+)", line)
        if found:
            return proc, found.group(1)
    raise SystemExit("the embedded cluster did not start")


def ready_workers(cluster: KubeCluster, want: int = 2, timeout: float = 60.0) -> list[dict]:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        pods, _ = cluster.list("v1", "Pod", "inference", label_selector="app=vllm-worker")
        ready = [p for p in pods if any(c.get("type") == "Ready" and c.get("status") == "True"
                                        for c in (p.get("status") or {}).get("conditions") or [])]
        if len(ready) >= want:
            return ready
        time.sleep(0.2)
    raise SystemExit("the workers did not become Ready")


def load(cluster: KubeCluster, count: int, interval_s: float, seconds: float) -> dict[str, float]:
    probes = [Probe(f"p{i}", service=ServiceRef("vllm-worker", 8000), path="/v1/completions",
                    method="POST", headers=HEADERS, body=BODY, interval=Duration.of(interval_s),
                    request_timeout=Duration.of(2.0)) for i in range(count)]
    runner = ProbeRunner(probes, cluster, "inference", SystemClock(), None, PhaseClock())
    cpu0, wall0 = time.process_time(), time.perf_counter()
    runner.start()
    time.sleep(seconds)
    runner.stop()
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    gaps = [b.at - a.at for found in runner.samples.values() for a, b in itertools.pairwise(found)]
    every = [s for found in runner.samples.values() for s in found]
    latencies = [s.latency_s for s in every if s.ok]
    return {"requests": len(every), "ok": sum(s.ok for s in every) / max(1, len(every)),
            "gap_mean": statistics.fmean(gaps) if gaps else 0.0, "gap_p95": percentile(gaps, 95) or 0.0,
            "missed": sum(r.missed for r in runner.results()), "cpu": cpu / wall,
            "lat_p50": percentile(latencies, 50) or 0.0, "lat_p95": percentile(latencies, 95) or 0.0}


def proxy_vs_direct(cluster: KubeCluster, pod: dict, rounds: int) -> dict[str, list[float]]:
    port = json.loads(pod["metadata"]["annotations"]["chaos.dev/sim-ports"])["8000"]
    url = f"http://127.0.0.1:{port}/v1/completions"
    times: dict[str, list[float]] = {"proxy": [], "direct": []}
    for _ in range(rounds):  # interleaved, so both see the same machine
        a = cluster.proxy_request("inference", "vllm-worker", 8000, "/v1/completions", method="POST",
                                  headers=HEADERS, body=BODY.encode(), timeout_s=2.0)
        b = direct_request("POST", url, headers=HEADERS, body=BODY.encode(), timeout_s=2.0)
        if a.status == 200 and b.status == 200:
            times["proxy"].append(a.latency_s)
            times["direct"].append(b.latency_s)
    return times


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=5.0, help="load per probe count")
    ap.add_argument("--interval-ms", type=float, default=100.0)
    ap.add_argument("--counts", default="1,10,50")
    ap.add_argument("--rounds", type=int, default=300, help="requests each way for proxy vs direct")
    args = ap.parse_args()
    interval = args.interval_ms / 1000
    with tempfile.TemporaryDirectory() as tmp:
        proc, url = start_sim(Path(tmp))
        try:
            cluster = KubeCluster.from_url(url, name="bench")
            pods = ready_workers(cluster)
            print(f"embedded cluster at {url} (its own process); 2 CUDA workers Ready; "
                  f"{os.cpu_count()} CPU(s) on this machine")
            print(f"\nprobes at {args.interval_ms:g} ms through the service proxy, {args.seconds:g} s each")
            print(f"{'probes':>6} {'requests':>8} {'ok':>6} {'interval mean':>13} {'p95':>8} "
                  f"{'achieved/wanted':>15} {'skipped':>7} {'runner CPU':>10} {'latency p50':>11} {'p95':>8}")
            for count in (int(c) for c in args.counts.split(",")):
                r = load(cluster, count, interval, args.seconds)
                print(f"{count:>6} {r['requests']:>8.0f} {r['ok']:>6.1%} {r['gap_mean'] * 1000:>11.1f}ms "
                      f"{r['gap_p95'] * 1000:>6.1f}ms {r['gap_mean'] / interval:>15.3f} {r['missed']:>7.0f} "
                      f"{r['cpu']:>10.1%} {r['lat_p50'] * 1000:>9.2f}ms {r['lat_p95'] * 1000:>6.2f}ms")
            times = proxy_vs_direct(cluster, pods[0], args.rounds)
            proxy, direct = times["proxy"], times["direct"]
            p50 = (statistics.median(proxy), statistics.median(direct))
            p95 = (percentile(proxy, 95) or 0.0, percentile(direct, 95) or 0.0)
            print(f"\none request, {len(proxy)} each way, interleaved: service proxy vs straight to the pod")
            print(f"  p50 {p50[0] * 1000:.2f} ms vs {p50[1] * 1000:.2f} ms  ratio {p50[0] / p50[1]:.2f}")
            print(f"  p95 {p95[0] * 1000:.2f} ms vs {p95[1] * 1000:.2f} ms  ratio {p95[0] / p95[1]:.2f}")
            print(f"  the proxy adds {(p50[0] - p50[1]) * 1000:.2f} ms at the median "
                  f"({(p50[0] - p50[1]) / interval:.1%} of a {args.interval_ms:g} ms interval)")
            cluster.close()
        finally:
            proc.terminate()
            proc.wait(timeout=30)


if __name__ == "__main__":
    main()
