"""The xid79 story end to end with the real shim, by hand through the official client over HTTP.

The shim is compiled inside the cluster from the same sources a real cluster gets (a ConfigMap of
`runner.shim.source_files()` and an init container `gcc:13` running `runner.shim.compile_command()`
into an emptyDir), preloaded into the CUDA worker, and armed through the toggle file on the pinned
node's hostPath. The workers crash-loop with `[XID 79 SIM]` in their logs, the health agent cordons
the node, the pin is removed (as an operator would for a pinned workload) and the workers come back
Ready elsewhere.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from runner.sim.cluster import SimCluster
from runner.sim.health_agent import CONDITION, HEALTH_LABEL
from runner.sim.nodes import node_dir
from tests.integration.sim.nodes_support import ready_pods, wait_for, worker_container

shim = pytest.importorskip("runner.shim",
                           reason="the shim (runner/shim.py + shim/src) has not landed on main yet")

NODE = "gpu-node-1"
HOST_FAULT = "/var/run/chaos-fault"


def shim_pod_spec(pin: str) -> dict[str, Any]:
    main = worker_container()
    main["env"] = [
        {"name": "LD_PRELOAD", "value": "/cuda-fault/cuda_intercept.so"},
        {"name": "CUDA_FAULT_TOGGLE_FILE", "value": "/host-fault/cuda_fault_enabled"},
        {"name": "CUDA_XID_TYPE", "value": "79"},
        {"name": "CUDA_FAULT_INJECTION_ENABLED", "value": "0"},
    ]
    mounts = [{"name": "cuda-fault", "mountPath": "/cuda-fault"},
              {"name": "host-fault", "mountPath": "/host-fault"}]
    main["volumeMounts"] = mounts
    return {
        "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [{"matchFields": [
                {"key": "metadata.name", "operator": "In", "values": [pin]}]}]}}},
        "volumes": [{"name": "cuda-fault-src", "configMap": {"name": "cuda-fault-src"}},
                    {"name": "cuda-fault", "emptyDir": {}},
                    {"name": "host-fault", "hostPath": {"path": HOST_FAULT, "type": "DirectoryOrCreate"}}],
        "initContainers": [{"name": "build-shim", "image": "gcc:13",
                            "command": ["sh", "-c", shim.compile_command("/cuda-fault-src",
                                                                         "/cuda-fault/cuda_intercept.so")],
                            "volumeMounts": [{"name": "cuda-fault-src", "mountPath": "/cuda-fault-src"},
                                             {"name": "cuda-fault", "mountPath": "/cuda-fault"}]}],
        "containers": [main],
    }


def test_xid79_story_with_the_real_shim(gpu_sim: SimCluster, kube_api: client.ApiClient) -> None:
    apps, core = client.AppsV1Api(kube_api), client.CoreV1Api(kube_api)
    core.create_namespaced_config_map("default", {"metadata": {"name": "cuda-fault-src"},
                                                  "data": shim.source_files()})
    labels = {"app": "worker"}
    apps.create_namespaced_deployment("default", {
        "metadata": {"name": "worker"},
        "spec": {"replicas": 2, "selector": {"matchLabels": labels},
                 "template": {"metadata": {"labels": labels}, "spec": shim_pod_spec(NODE)}}})
    pods = wait_for("2 ready shimmed workers on the pinned node", lambda: (
        lambda r: r if len(r) == 2 else None)(ready_pods(core, "default", "app=worker")), timeout=60)
    assert {p.spec.node_name for p in pods} == {NODE}

    toggle = node_dir(gpu_sim.root, NODE) / HOST_FAULT.lstrip("/") / "cuda_fault_enabled"
    shim.write_toggle(toggle, True, xid=79)

    def crashed() -> list[str] | None:
        logs = []
        for p in core.list_namespaced_pod("default", field_selector=f"spec.nodeName={NODE}").items:
            st = (p.status.container_statuses or [None])[0]
            if st is None or st.restart_count < 1:
                return None
            # In back-off the current log is the crashed run's; once restarted, it is the previous one.
            logs.append(core.read_namespaced_pod_log(p.metadata.name, "default", container="main",
                                                     previous=st.state.waiting is None))
        return logs if len(logs) == 2 else None

    logs = wait_for("both workers to crash", crashed, timeout=30)
    for text in logs:
        assert "[XID 79 SIM]" in text
        # whichever CUDA call of the worker's loop the fault meets first (cudaMalloc, cudaFree, ...)
        assert re.search(r"fatal: cuda\w+ failed: cudaErrorNoDevice \(100\)", text), text

    def cordoned() -> Any:
        node = core.read_node(NODE)
        conds = {c.type: c for c in node.status.conditions}
        return node if node.spec.unschedulable and CONDITION in conds and \
            conds[CONDITION].status == "True" else None

    node = wait_for("the health agent to cordon the node", cordoned, timeout=30)
    assert node.metadata.labels[HEALTH_LABEL] == "unhealthy"
    assert {c.type: c for c in node.status.conditions}[CONDITION].reason == "Xid79"
    crash_state = core.read_namespaced_pod(pods[0].metadata.name, "default").status.container_statuses[0]
    assert crash_state.last_state.terminated.exit_code == 1

    # As an operator would for a pinned workload: drop the pin; the rollout lands elsewhere.
    apps.patch_namespaced_deployment("worker", "default",
                                     [{"op": "remove", "path": "/spec/template/spec/affinity"}])

    def moved() -> list[Any] | None:
        every = core.list_namespaced_pod("default", label_selector="app=worker").items
        ready = ready_pods(core, "default", "app=worker")
        if len(ready) == 2 and len(every) == 2 and all(p.spec.node_name != NODE for p in every):
            return ready
        return None

    moved_pods = wait_for("2 ready workers off the faulty node", moved, timeout=60)
    assert all(p.spec.node_name != NODE for p in moved_pods)

    shim.write_toggle(toggle, False)
    apps.delete_namespaced_deployment("worker", "default")
    wait_for("no workers left", lambda: not core.list_namespaced_pod("default").items or None, timeout=30)
    assert toggle.is_file()
    assert Path(toggle).read_text().startswith("0")
