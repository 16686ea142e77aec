"""Install once against per-run delivery (by hand): `PYTHONPATH=. python bench/install_once.py [--runs N]`.

Starts the embedded cluster (`chaos sim up --from scenarios/xid79.yaml`) as its own process, then
times `chaos run scenarios/xid79.yaml` to its verdict N times with per-run delivery (each run
patches the template and waits for the rollout), then `chaos install` once and N runs on the
installed workload (no rollout: the patch step reports "already installed"), then `chaos
uninstall`. Between runs it does what an operator does after XID 79 (uncordons the node the
remediation quarantined) and waits until the workload has settled, outside the timings. Prints the
seconds of each run and the ratio of the medians in one run of this script. Asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SCENARIO = REPO / "scenarios" / "xid79.yaml"
NS, DEPLOYMENT = "inference", "vllm-worker"


def chaos(*args: str, kubeconfig: Path) -> tuple[int, float, str]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "NO_COLOR": "1"}
    start = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "runner", *args, "--kubeconfig", str(kubeconfig)],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=600, check=False)
    return done.returncode, time.monotonic() - start, done.stdout + done.stderr


def settle(kubeconfig: Path) -> None:
    """Uncordon what the remediation quarantined, then wait until every replica is Ready."""
    from kubernetes import client, config

    api = config.new_client_from_config(config_file=str(kubeconfig))
    core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        for node in core.list_node().items:
            if node.spec.unschedulable:
                core.patch_node(node.metadata.name, {"spec": {"unschedulable": None}})
        dep = apps.read_namespaced_deployment(DEPLOYMENT, NS)
        pods = core.list_namespaced_pod(NS, label_selector="app=vllm-worker").items
        want = dep.spec.replicas or 0
        if ((dep.status.ready_replicas or 0) == want == (dep.status.updated_replicas or 0)
                and len(pods) == want and all(p.metadata.deletion_timestamp is None for p in pods)
                and not any(n.spec.unschedulable for n in core.list_node().items)):
            return
        time.sleep(0.2)  # polling a bounded condition, outside the timings
    raise SystemExit("the workload did not settle within 120s")


def timed_runs(label: str, runs: int, kubeconfig: Path, tmp: Path) -> list[float]:
    out = []
    for i in range(runs):
        rc, seconds, text = chaos("run", str(SCENARIO), "--cluster", "kube", "--report-dir",
                                  str(tmp / f"{label}-{i}"), kubeconfig=kubeconfig)
        if rc != 0:
            raise SystemExit(f"{label} run {i + 1} ended {rc}:\n{text[-3000:]}")
        out.append(seconds)
        print(f"  {label} run {i + 1}: {seconds:.2f} s to the verdict", flush=True)
        settle(kubeconfig)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        kubeconfig = tmp / "kubeconfig"
        env = {**os.environ, "PYTHONPATH": str(REPO), "NO_COLOR": "1"}
        sim = subprocess.Popen([sys.executable, "-m", "runner", "sim", "up", "--from", str(SCENARIO),
                                "--kubeconfig", str(kubeconfig), "--root", str(tmp / "sim")],
                               cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            assert sim.stdout is not None
            for line in sim.stdout:
                if "Ctrl-C to stop" in line:
                    break
            settle(kubeconfig)
            print(f"xid79 on the embedded cluster, {args.runs} run(s) each way")
            per_run = timed_runs("per-run delivery", args.runs, kubeconfig, tmp)
            rc, install_s, text = chaos("install", str(SCENARIO), "--cluster", "kube", "--report-dir",
                                        str(tmp / "install"), kubeconfig=kubeconfig)
            if rc != 0:
                raise SystemExit(f"install ended {rc}:\n{text[-3000:]}")
            print(f"  chaos install: {install_s:.2f} s (once)")
            settle(kubeconfig)
            installed = timed_runs("install-once", args.runs, kubeconfig, tmp)
            rc, uninstall_s, text = chaos("uninstall", str(SCENARIO), "--cluster", "kube",
                                          kubeconfig=kubeconfig)
            print(f"  chaos uninstall: {uninstall_s:.2f} s (exit {rc})")
        finally:
            sim.terminate()
            sim.wait(30)
    a, b = statistics.median(per_run), statistics.median(installed)
    print(f"median time to verdict: per-run delivery {a:.2f} s, install-once {b:.2f} s; "
          f"ratio {a / b:.2f}x (install-once is {100 * (1 - b / a):.0f}% faster per run)")


if __name__ == "__main__":
    main()
