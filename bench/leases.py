"""What one-run-per-target costs (run by hand): `PYTHONPATH=. python bench/leases.py [--rounds N]`.

Takes, renews and releases a run's Leases (the workload's and one node's, as xid79 does) on the
embedded cluster through the real kubernetes-client adapter, `--rounds` times, and prints the
milliseconds of each phase beside the total of a real `chaos run scenarios/xid79.yaml` measured in
the same session, so the share the leases take of a run is a ratio, not a guess. Asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from runner.cluster.connect import connect_url
from runner.engine.leases import RENEW_EVERY_S, Leases, ReleaseLease, node_lease, workload_lease
from runner.kernel.clock import SystemClock
from runner.sim.cluster import SimCluster

REPO = Path(__file__).resolve().parent.parent
STATE = "chaos-system"


def lease_rounds(url: str, rounds: int) -> dict[str, list[float]]:
    cluster, clock = connect_url(url, name="bench"), SystemClock()
    if not any(ns["metadata"]["name"] == STATE for ns in cluster.list("v1", "Namespace")[0]):
        cluster.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": STATE}})
    wanted = [(workload_lease("inference", "Deployment", "vllm-worker"), "Deployment inference/vllm-worker"),
              (node_lease("gpu-node-1"), "node gpu-node-1")]
    times: dict[str, list[float]] = {"take": [], "renew": [], "release": []}
    for i in range(rounds):
        run_id = f"bench-{i}"
        releases: list[ReleaseLease] = []

        def journal(release: ReleaseLease, kept: list[ReleaseLease] = releases) -> int:
            kept.append(release)  # the executor journals it; here it is only kept for the release
            return len(kept)

        leases = Leases(cluster, clock, STATE, run_id, journal=journal,
                        applied=lambda _seq, _r: None, left_changed=lambda _run: False)
        t0 = time.perf_counter()
        leases.acquire(wanted)
        t1 = time.perf_counter()
        leases.renew()
        t2 = time.perf_counter()
        for release in releases:
            release.apply(cluster, clock)
        t3 = time.perf_counter()
        times["take"].append(t1 - t0)
        times["renew"].append(t2 - t1)
        times["release"].append(t3 - t2)
    return times


def run_total(tmp: Path) -> float:
    """Seconds a real xid79 run on the embedded cluster takes, by its own report."""
    subprocess.run([sys.executable, "-m", "runner", "run", str(REPO / "scenarios" / "xid79.yaml"),
                    "--report-dir", str(tmp / "run")], check=True, capture_output=True, cwd=REPO)
    report = json.loads((tmp / "run" / "report.json").read_text())
    return float(report["finished_at"]) - float(report["started_at"])  # unix seconds


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=20)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp, SimCluster(Path(tmp) / "sim") as sim:
        times = lease_rounds(sim.url, args.rounds)
        total = run_total(Path(tmp))
    med = {k: statistics.median(v) * 1000 for k, v in times.items()}
    renewals = total / RENEW_EVERY_S
    per_run = med["take"] + med["release"] + renewals * med["renew"]
    print(f"leases per run: 2 (workload + node); {args.rounds} rounds, medians")
    for phase, ms in med.items():
        lo, hi = min(times[phase]) * 1000, max(times[phase]) * 1000
        print(f"  {phase:<8} {ms:8.2f} ms   (min {lo:.2f}, max {hi:.2f})")
    print(f"xid79 run on the embedded cluster: {total:.2f} s, {renewals:.1f} renewals of both leases")
    print(f"lease cost per run: {per_run:.1f} ms = {per_run / (total * 1000):.2%} of the run")


if __name__ == "__main__":
    main()
