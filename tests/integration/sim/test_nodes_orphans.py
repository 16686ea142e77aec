"""No orphans: every process the embedded cluster starts dies with it, however it dies.

A SIGKILLed `chaos sim up` (the real CLI in a subprocess) cannot clean up after itself, so the
processes it started must end on their own: the CUDA workers, and what a container's shell left
behind (a background child, a double-forked grandchild, one that escaped into its own session).
The processes are found through /proc by the cluster's root directory, which every container has
in its environment (HOME is the pod's directory) and the worker in its path.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client, config

from runner.sim.cluster import SimCluster
from runner.sim.resources import PODS
from tests.conftest import REPO, cli_env
from tests.integration.sim.nodes_support import wait_for, worker_container

ESCAPES = ("sleep 1001 & (sleep 1002 &) ; setsid sleep 1003 & "
           "sh -c 'trap \"\" TERM HUP; sleep 1004' & wait")


def processes_under(root: Path) -> dict[int, str]:
    """pid -> command line of every live process whose environment or command line names `root`."""
    marker = str(root).encode()
    found: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            stat = (entry / "stat").read_text()
            if stat.rsplit(")", 1)[1].split()[0] == "Z":  # a zombie is dead, only not yet reaped
                continue
            cmdline = (entry / "cmdline").read_bytes()
            if marker in cmdline or marker in (entry / "environ").read_bytes():
                found[int(entry.name)] = cmdline.replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
    return found


def deployment(name: str, replicas: int, container: dict[str, Any]) -> dict[str, Any]:
    labels = {"app": name}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels}, "spec": {"containers": [container]}}}}


def test_sigkilled_sim_up_leaves_no_process_behind(tmp_path: Path) -> None:
    root = tmp_path / "simroot"
    shell = {"name": "main", "image": "busybox", "command": ["sh", "-c", ESCAPES]}
    (tmp_path / "workloads.yaml").write_text(yaml.safe_dump_all([
        deployment("worker", 2, worker_container()), deployment("escapes", 1, shell)]))
    (tmp_path / "scenario.yaml").write_text(yaml.safe_dump({
        "apiVersion": "chaos/v1", "kind": "Scenario", "metadata": {"name": "orphans"},
        "target": {"namespace": "default", "workload": {"kind": "Deployment", "name": "worker"}},
        "fault": {"xid": 79},
        "settings": {"sim": {"nodes": [{"count": 2, "gpus": 1}], "manifests": ["workloads.yaml"],
                             "time-scale": 0.05}},
        "steps": [{"patch": {"passthrough": True}}, {"cleanup": {}}]}))
    kubeconfig = tmp_path / "kc"
    proc = subprocess.Popen([sys.executable, "-m", "runner", "sim", "up", "--from",
                             str(tmp_path / "scenario.yaml"), "--kubeconfig", str(kubeconfig),
                             "--root", str(root)],
                            cwd=REPO, env=cli_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith("Ctrl-C"):
                break
        api = config.new_client_from_config(str(kubeconfig))
        core = client.CoreV1Api(api)

        def running() -> bool:
            pods = core.list_namespaced_pod("default").items
            return len(pods) == 3 and all(p.status.phase == "Running" for p in pods)

        wait_for("3 running pods", running, timeout=60)
        api.close()
        wait_for("the workers and every process the shell left", lambda: (
            lambda found: found if sum(c.split()[0].endswith("/cuda-worker") for c in found.values()) == 2
            and all(any(c.startswith(f"sleep {n}") for c in found.values()) for n in (1001, 1002, 1003, 1004))
            else None)(processes_under(root)), timeout=30)
        proc.kill()  # SIGKILL: nothing in the CLI gets to clean up
        proc.wait(timeout=10)
        deadline = time.monotonic() + 15
        left = processes_under(root)
        while left and time.monotonic() < deadline:
            time.sleep(0.1)
            left = processes_under(root)
        assert left == {}, "processes outlived the SIGKILLed cluster"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for pid in processes_under(root):  # a failing run must not leak into the next test
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)


def test_a_container_ends_with_its_program_even_what_left_its_session(gpu_sim: SimCluster) -> None:
    """As a container ends with its PID 1: a child that moved to a session of its own (beyond the
    reach of a signal to the container's process group) dies when the program exits."""
    script = "setsid sleep 1000 & echo $! > /d/pid; sleep 0.2; exit 3"
    gpu_sim.store.create(PODS, {"metadata": {"name": "leaver", "namespace": "default"}, "spec": {
        "restartPolicy": "Never", "volumes": [{"name": "d", "emptyDir": {}}],
        "containers": [{"name": "main", "image": "busybox", "command": ["sh", "-c", script],
                        "volumeMounts": [{"name": "d", "mountPath": "/d"}]}]}})
    uid = gpu_sim.store.get(PODS, "default", "leaver")["metadata"]["uid"]
    pid_file = gpu_sim.root / "pods" / f"default_leaver_{uid}" / "volumes" / "d" / "pid"
    pid = int(wait_for("the escaped child's pid",
                       lambda: pid_file.read_text().strip() if pid_file.is_file() else None))
    st = wait_for("the pod to fail", lambda: (lambda s: s if s.get("phase") == "Failed" else None)(
        gpu_sim.store.get(PODS, "default", "leaver").get("status") or {}), timeout=20)
    assert st["containerStatuses"][0]["state"]["terminated"]["exitCode"] == 3
    assert wait_for("the escaped child to die", lambda: not Path(f"/proc/{pid}").exists() or
                    Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z", timeout=10)
