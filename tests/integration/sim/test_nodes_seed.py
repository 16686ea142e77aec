"""Seeding from a topology and manifests, and `chaos sim up --from` ending everything on Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import yaml
from kubernetes import client, config

from runner.errors import ChaosError
from runner.scenario.model import SimNode, SimSettings
from runner.sim.cluster import SimCluster
from runner.sim.dynamo import DGDS
from runner.sim.nodeside import NodeSideSettings, attach
from runner.sim.resources import CONFIGMAPS, NODES, PODS
from runner.sim.seed import load_manifests, running, seed, sim_settings_from_file
from tests.conftest import REPO, cli_env
from tests.integration.sim.nodes_support import wait_for

CRD_AND_CR = """
apiVersion: nvidia.com/v1alpha1
kind: DynamoGraphDeployment
metadata: {name: llm, namespace: dynamo}
spec:
  services:
    Frontend: {componentType: frontend, replicas: 1,
               extraPodSpec: {mainContainer: {image: busybox, command: [sleep, "1000"]}}}
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec:
  group: example.com
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget}
  versions: [{name: v1, served: true, storage: true}]
"""


def test_seed_creates_nodes_and_applies_manifests(tmp_path: Path, image_build_dir: Path,
                                                  no_leaks: None) -> None:
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "app.yaml").write_text(CRD_AND_CR)
    (tmp_path / "m" / "cm.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n"
                                            "data: {k: v1}\n")
    sim = SimSettings(nodes=(SimNode(count=2, gpus=4, product="NVIDIA-A100"), SimNode(count=1, gpus=8)),
                      manifests=("m/app.yaml", "m/cm.yaml"))
    docs = load_manifests([tmp_path / "m" / "app.yaml"])
    assert [d["kind"] for _, d in docs] == ["CustomResourceDefinition", "DynamoGraphDeployment"]
    with SimCluster(tmp_path / "sim") as cluster:
        attach(cluster, NodeSideSettings(time_scale=0.05, build_dir=image_build_dir))
        names = seed(cluster, sim, tmp_path)
        assert names == ["gpu-node-1", "gpu-node-2", "gpu-node-3"]
        products = [n["metadata"]["labels"]["nvidia.com/gpu.product"] for n in cluster.store.list(NODES)[0]]
        assert products == ["NVIDIA-A100", "NVIDIA-A100", "NVIDIA-H100-80GB-HBM3"]
        assert cluster.store.get(DGDS, "dynamo", "llm")["spec"]["services"]["Frontend"]["replicas"] == 1
        wait_for("the DGD to succeed", lambda: (cluster.store.get(DGDS, "dynamo", "llm").get("status") or {})
                 .get("state") == "successful", timeout=20)
        # Applying again updates in place.
        (tmp_path / "m" / "cm.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n"
                                                "data: {k: v2}\n")
        seed(cluster, SimSettings(nodes=(), manifests=("m/cm.yaml",)), tmp_path)
        assert cluster.store.get(CONFIGMAPS, "default", "c")["data"] == {"k": "v2"}
        (tmp_path / "bad.yaml").write_text("apiVersion: v9\nkind: Gizmo\nmetadata: {name: g}\n")
        with pytest.raises(ChaosError, match="no resource Gizmo"):
            seed(cluster, SimSettings(nodes=(), manifests=("bad.yaml",)), tmp_path)


def _processes_with(marker: str) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker.encode() in (entry / "cmdline").read_bytes():
                    out.append(int(entry.name))
            except OSError:
                continue
    return out


def test_sim_up_from_scenario_and_ctrl_c_ends_everything(tmp_path: Path) -> None:
    marker = f"chaos-marker-{uuid.uuid4().hex}"
    (tmp_path / "pods.yaml").write_text(yaml.safe_dump({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "sleepy"},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "sleepy"}}, "template": {
            "metadata": {"labels": {"app": "sleepy"}},
            "spec": {"containers": [{"name": "main", "image": "busybox",
                                     "command": ["sh", "-c", f"echo {marker}; sleep 1000 # {marker}"]}]}}}}))
    (tmp_path / "scenario.yaml").write_text(yaml.safe_dump({
        "apiVersion": "chaos/v1", "kind": "Scenario", "metadata": {"name": "t"},
        "target": {"namespace": "default", "workload": {"kind": "Deployment", "name": "sleepy"}},
        "fault": {"xid": 79},
        "settings": {"sim": {"nodes": [{"count": 2, "gpus": 1}], "manifests": ["pods.yaml"],
                             "time-scale": 0.05}},
        "steps": [{"patch": {"passthrough": True}}, {"cleanup": {}}]}))
    kubeconfig = tmp_path / "kc"
    proc = subprocess.Popen([sys.executable, "-m", "runner", "sim", "up",
                             "--from", str(tmp_path / "scenario.yaml"), "--kubeconfig", str(kubeconfig)],
                            cwd=REPO, env=cli_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert proc.stdout is not None
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("Ctrl-C"):
                break
        assert "nodes: gpu-node-1, gpu-node-2\n" in lines, lines
        api = config.new_client_from_config(str(kubeconfig))
        core = client.CoreV1Api(api)
        wait_for("2 running pods", lambda: len([p for p in core.list_namespaced_pod("default").items
                                                if p.status.phase == "Running"]) == 2 or None, timeout=30)
        api.close()
        assert len(_processes_with(marker)) >= 2
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=30)
        assert proc.returncode == 0, rest
        assert "chaos-sim stopped." in rest
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
    assert _processes_with(marker) == []


@pytest.mark.parametrize(("scenario", "namespace", "pods"), [("xid79.yaml", "inference", 2),
                                                             ("dynamo-xid79.yaml", "dynamo", 3)])
def test_the_shipped_scenarios_seed_a_ready_cluster(tmp_path: Path, image_build_dir: Path, scenario: str,
                                                     namespace: str, pods: int) -> None:
    path = REPO / "scenarios" / scenario
    sim = sim_settings_from_file(path)
    with running(sim, path.parent, tmp_path / "sim", image_build_dir) as cluster:
        def ready() -> list[str] | None:
            items, _ = cluster.store.list(PODS, namespace)
            names = [p["metadata"]["name"] for p in items if any(
                c["type"] == "Ready" and c["status"] == "True" for c in p["status"].get("conditions") or [])]
            return names if len(names) == pods == len(items) else None

        wait_for(f"{pods} ready pods in {namespace}", ready, timeout=30)
