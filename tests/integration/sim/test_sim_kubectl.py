"""kubectl against `chaos sim up` run as a real subprocess, through the kubeconfig it writes."""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import cli_env

KUBECTL = shutil.which("kubectl")
pytestmark = pytest.mark.skipif(KUBECTL is None,
                                reason="kubectl is not installed (Debian: kubernetes-client)")


def read_until(proc: subprocess.Popen[bytes], needle: str, timeout: float, what: str) -> str:
    """Read a child's stdout (raw fd, no Python buffering hiding data from select) until `needle`."""
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    out = b""
    deadline = time.monotonic() + timeout
    while needle.encode() not in out:
        assert time.monotonic() < deadline, f"{what}: {out.decode(errors='replace')!r}"
        ready, _, _ = select.select([fd], [], [], 0.5)
        if ready:
            chunk = os.read(fd, 65536)
            assert chunk or proc.poll() is None, f"{what} (process ended): {out.decode(errors='replace')!r}"
            out += chunk
    return out.decode()


class SimProcess:
    def __init__(self, proc: subprocess.Popen[bytes], kubeconfig: Path, home: Path, output: str) -> None:
        self.root = home / "root"
        self.proc = proc
        self.kubeconfig = kubeconfig
        self.home = home
        self.output = output

    def kubectl(self, *args: str, check: bool = True,
                timeout: float = 30) -> subprocess.CompletedProcess[str]:
        env = {"PATH": os.environ.get("PATH", ""), "HOME": str(self.home), "KUBECONFIG": str(self.kubeconfig)}
        res = subprocess.run([str(KUBECTL), *args], env=env, capture_output=True, text=True, timeout=timeout,
                             check=False)
        if check:
            assert res.returncode == 0, f"kubectl {' '.join(args)}: {res.stderr}"
        return res


def start_sim(tmp_path: Path, *extra: str) -> SimProcess:
    kubeconfig = tmp_path / "sim.kubeconfig"
    # --api-only: this file plays the kubelet itself (it writes the container logs).
    args = ["sim", "up", "--api-only", "--nodes", "3", "--gpus-per-node", "4",
            "--kubeconfig", str(kubeconfig), "--root", str(tmp_path / "root"), *extra]
    proc = subprocess.Popen([sys.executable, "-m", "runner", *args], cwd=tmp_path,
                            env=cli_env({"HOME": str(tmp_path)}),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    output = read_until(proc, "Ctrl-C to stop", 30, "chaos sim up did not come up")
    return SimProcess(proc, kubeconfig, tmp_path, output)


def stop_sim(sim: SimProcess) -> None:
    if sim.proc.poll() is None:
        sim.proc.send_signal(signal.SIGTERM)
        sim.proc.wait(timeout=20)


@pytest.fixture
def sim_up(tmp_path: Path) -> Iterator[SimProcess]:
    sim = start_sim(tmp_path)
    try:
        yield sim
    finally:
        stop_sim(sim)


def test_sim_up_prints_url_and_writes_kubeconfig(sim_up: SimProcess) -> None:
    assert "http://127.0.0.1:" in sim_up.output
    assert f"export KUBECONFIG={sim_up.kubeconfig}" in sim_up.output
    contexts = sim_up.kubectl("config", "get-contexts", "-o", "name").stdout.split()
    assert contexts == ["chaos-sim"]


def test_kubectl_workflow(sim_up: SimProcess, tmp_path: Path) -> None:
    nodes = sim_up.kubectl("get", "nodes").stdout
    assert [line.split()[:2] for line in nodes.splitlines()[1:]] == [
        ["gpu-node-1", "Ready"], ["gpu-node-2", "Ready"], ["gpu-node-3", "Ready"]]

    manifest = tmp_path / "app.yaml"
    manifest.write_text("""\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: default}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: worker, image: vllm}]
---
apiVersion: v1
kind: Pod
metadata: {name: solo, namespace: default, labels: {app: solo}}
spec:
  nodeName: gpu-node-2
  containers: [{name: main, image: busybox}]
""")
    applied = sim_up.kubectl("apply", "-f", str(manifest)).stdout
    assert "deployment.apps/web created" in applied
    assert "pod/solo created" in applied
    assert "unchanged" in sim_up.kubectl("apply", "-f", str(manifest)).stdout
    manifest.write_text(manifest.read_text().replace("replicas: 2", "replicas: 5"))
    assert "deployment.apps/web configured" in sim_up.kubectl("apply", "-f", str(manifest)).stdout

    wide = sim_up.kubectl("get", "pods", "-A", "-o", "wide").stdout.splitlines()
    assert wide[0].split()[:3] == ["NAMESPACE", "NAME", "READY"]
    assert "NODE" in wide[0]
    assert wide[1].split()[:2] == ["default", "solo"]
    assert "gpu-node-2" in wide[1]

    sim_up.kubectl("patch", "deployment", "web", "--type=json",
                   "-p", '[{"op":"replace","path":"/spec/replicas","value":3}]')
    sim_up.kubectl("patch", "deployment", "web", "--type=merge",
                   "-p", '{"metadata":{"labels":{"chaos":"on"}}}')
    sim_up.kubectl("patch", "deployment", "web", "--type=strategic", "-p",
                   '{"spec":{"template":{"spec":{"containers":'
                   '[{"name":"worker","env":[{"name":"X","value":"1"}]}]}}}}')
    d = json.loads(sim_up.kubectl("get", "deployment", "web", "-o", "json").stdout)
    assert d["spec"]["replicas"] == 3
    assert d["metadata"]["labels"]["chaos"] == "on"
    assert d["spec"]["template"]["spec"]["containers"] == [
        {"name": "worker", "image": "vllm", "env": [{"name": "X", "value": "1"}]}]
    failed = sim_up.kubectl("patch", "deployment", "web", "--type=json",
                            "-p", '[{"op":"test","path":"/spec/replicas","value":9}]', check=False)
    assert failed.returncode != 0
    assert "invalid" in failed.stderr
    assert sim_up.kubectl("delete", "deployment", "web").stdout.strip() == 'deployment.apps "web" deleted'
    assert "web" not in sim_up.kubectl("get", "deployments").stdout

    # drain sends its DELETE bodies as protobuf DeleteOptions; the pod on the node must go.
    sim_up.kubectl("drain", "gpu-node-2", "--force", "--ignore-daemonsets", "--grace-period=1")
    assert "solo" not in sim_up.kubectl("get", "pods").stdout
    assert "SchedulingDisabled" in sim_up.kubectl("get", "node", "gpu-node-2").stdout


def test_kubectl_watch_and_logs(sim_up: SimProcess, tmp_path: Path) -> None:
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(sim_up.home), "KUBECONFIG": str(sim_up.kubeconfig)}
    watcher = subprocess.Popen([str(KUBECTL), "get", "pods", "-w", "--output-watch-events"], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        pod = tmp_path / "pod.yaml"
        pod.write_text("apiVersion: v1\nkind: Pod\nmetadata: {name: watched}\n"
                       "spec: {containers: [{name: main, image: busybox}]}\n")
        # Whether the pod lands in kubectl's initial list or in its watch, it shows as ADDED.
        sim_up.kubectl("apply", "-f", str(pod))
        seen = read_until(watcher, "watched", 20, "kubectl get -w saw nothing")
        assert "ADDED" in seen
        sim_up.kubectl("label", "pod", "watched", "chaos=on")
        assert "MODIFIED" in read_until(watcher, "MODIFIED", 20, "kubectl get -w missed the change")
    finally:
        watcher.terminate()
        watcher.wait(timeout=10)

    res = sim_up.kubectl("logs", "watched", check=False)
    assert res.returncode != 0
    assert "waiting to start" in res.stderr
    # `kubectl logs` serves what the kubelet writes; this test plays the kubelet.
    logdir = sim_up.root / "logs" / "default" / "watched" / "main"
    logdir.mkdir(parents=True)
    (logdir / "0.log").write_text("first run\ncudaErrorNoDevice\n")
    (logdir / "1.log").write_text("second run\nready\n")
    assert sim_up.kubectl("logs", "watched").stdout == "second run\nready\n"
    assert sim_up.kubectl("logs", "watched", "--tail=1").stdout == "ready\n"
    assert sim_up.kubectl("logs", "watched", "-p", "-c", "main").stdout == "first run\ncudaErrorNoDevice\n"


def test_sim_up_stops_cleanly_on_sigterm(sim_up: SimProcess) -> None:
    sim_up.proc.send_signal(signal.SIGTERM)
    assert sim_up.proc.wait(timeout=20) == 0


def test_rbac_tokens_from_a_role_file(tmp_path: Path) -> None:
    # kubectl never sends a bearer token over plain HTTP, so the tokens are checked with the official
    # client, which does (as our adapter will); this proves the CLI wiring of --token/--rules.
    from kubernetes import client, config
    from kubernetes.client.rest import ApiException

    (tmp_path / "role.yaml").write_text(
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: viewer}\n"
        "rules:\n- apiGroups: ['']\n  resources: [nodes, pods]\n  verbs: [get, list, watch]\n")
    sim = start_sim(tmp_path, "--token", "admin", "--rules", str(tmp_path / "role.yaml"),
                    "--restricted-token", "viewer")
    try:
        admin = client.CoreV1Api(config.new_client_from_config(str(sim.kubeconfig)))
        viewer_config = tmp_path / "viewer.kubeconfig"
        viewer_config.write_text(sim.kubeconfig.read_text().replace("token: admin", "token: viewer"))
        viewer = client.CoreV1Api(config.new_client_from_config(str(viewer_config)))
        assert len(viewer.list_node().items) == 3
        with pytest.raises(ApiException) as denied:
            viewer.delete_node("gpu-node-1")
        assert denied.value.status == 403
        assert 'User "token-2" cannot delete resource "nodes"' in json.loads(denied.value.body)["message"]
        admin.delete_node("gpu-node-1")
        assert len(viewer.list_node().items) == 2
    finally:
        stop_sim(sim)
