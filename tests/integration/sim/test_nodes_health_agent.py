"""The health agent (NVSentinel stand-in) reading real container logs: node-scoped XIDs cordon the
node, process-scoped ones only leave an Event, and an uncordon by someone else clears the condition."""

from __future__ import annotations

import time
from typing import Any

from runner.sim.cluster import SimCluster
from runner.sim.health_agent import CONDITION, HEALTH_LABEL, XID_ANNOTATION
from runner.sim.resources import CORE_EVENTS, NODES, PODS
from tests.integration.sim.nodes_support import wait_for


def xid_pod(name: str, node: str, xid: int) -> dict[str, Any]:
    line = f"[XID {xid} SIM] cudaMalloc -> error"
    return {"metadata": {"name": name, "namespace": "default"},
            "spec": {"restartPolicy": "Never", "nodeSelector": {"kubernetes.io/hostname": node},
                     "containers": [{"name": "main", "image": "busybox",
                                     "command": ["sh", "-c", f"echo '{line}' >&2; exit 1"]}]}}


def node_condition(sim: SimCluster, node: str) -> dict[str, Any] | None:
    for c in sim.store.get(NODES, None, node)["status"]["conditions"]:
        if c["type"] == CONDITION:
            return dict(c)
    return None


def test_process_scoped_xid_leaves_the_node_alone(gpu_sim: SimCluster) -> None:
    gpu_sim.store.create(PODS, xid_pod("p94", "gpu-node-2", 94))

    def event() -> list[dict[str, Any]] | None:
        items, _ = gpu_sim.store.list(CORE_EVENTS, "default", field_selector="involvedObject.name=p94")
        return [e for e in items if e["reason"] == CONDITION] or None

    ev = wait_for("an XID event on the pod", event, timeout=20)
    assert "process-scoped XID 94" in ev[0]["message"]
    node = gpu_sim.store.get(NODES, None, "gpu-node-2")
    assert not node["spec"].get("unschedulable")
    assert node_condition(gpu_sim, "gpu-node-2") is None


def test_node_scoped_xid_cordons_and_uncordon_clears(gpu_sim: SimCluster) -> None:
    gpu_sim.store.create(PODS, xid_pod("p48", "gpu-node-3", 48))
    cond = wait_for("the GpuXidError condition", lambda: node_condition(gpu_sim, "gpu-node-3"), timeout=20)
    assert cond["status"] == "True"
    assert cond["reason"] == "Xid48"
    assert "[XID 48 SIM]" in cond["message"]
    node = gpu_sim.store.get(NODES, None, "gpu-node-3")
    assert node["spec"]["unschedulable"] is True
    assert node["metadata"]["labels"][HEALTH_LABEL] == "unhealthy"
    assert node["metadata"]["annotations"][XID_ANNOTATION] == "48"
    on_node = "involvedObject.name=gpu-node-3"
    warning = wait_for("a Warning event on the node", lambda: [
        e for e in gpu_sim.store.list(CORE_EVENTS, "default", field_selector=on_node)[0]
        if e["reason"] == CONDITION and e["type"] == "Warning"])
    assert "cordoned" in warning[0]["message"]
    # Someone else (an operator, a chaos uncordon step) uncordons: the agent treats it as a GPU reset.
    gpu_sim.store.patch(NODES, None, "gpu-node-3", "application/merge-patch+json",
                        {"spec": {"unschedulable": None}})
    cleared = wait_for("the condition cleared", lambda: (
        lambda c: c if c and c["status"] == "False" else None)(node_condition(gpu_sim, "gpu-node-3")))
    assert cleared["reason"] == "GpuReset"
    node = gpu_sim.store.get(NODES, None, "gpu-node-3")
    assert HEALTH_LABEL not in node["metadata"].get("labels", {})
    assert XID_ANNOTATION not in (node["metadata"].get("annotations") or {})
    assert not node["spec"].get("unschedulable")


def test_node_is_reset_once_its_fault_is_cleared(gpu_sim: SimCluster) -> None:
    from runner.shim import write_toggle

    toggle = gpu_sim.root / "nodes" / "gpu-node-1" / "var" / "lib" / "cuda-fault" / "cuda_fault_enabled"
    toggle.parent.mkdir(parents=True, exist_ok=True)
    write_toggle(toggle, True, xid=79)
    gpu_sim.store.create(PODS, xid_pod("p79", "gpu-node-1", 79))
    wait_for("the node cordoned", lambda: (gpu_sim.store.get(NODES, None, "gpu-node-1") or {})["spec"].get(
        "unschedulable") or None, timeout=20)
    # while the fault is armed the node stays out (node-scoped: until the GPU is reset)
    assert (node_condition(gpu_sim, "gpu-node-1") or {}).get("status") == "True"
    write_toggle(toggle, False)
    cleared = wait_for("the reset", lambda: (
        lambda c: c if c and c["status"] == "False" else None)(node_condition(gpu_sim, "gpu-node-1")),
        timeout=30)
    assert cleared["reason"] == "GpuReset"
    node = gpu_sim.store.get(NODES, None, "gpu-node-1")
    assert not node["spec"].get("unschedulable")
    assert HEALTH_LABEL not in node["metadata"].get("labels", {})


def test_a_fault_map_key_keeps_the_node_out_until_disarmed_or_deleted(gpu_sim: SimCluster) -> None:
    """With toggle-via configmap the node's fault state is its key in a fault map (no file on the
    node's disk): armed, the node stays quarantined; disarmed, it is reset; and a map that had a
    key for it and is gone (rollback deleted it) counts as disarmed too."""
    from runner.shimwire import render_toggle
    from runner.sim.resources import CONFIGMAPS

    labels = {"app.kubernetes.io/managed-by": "chaos", "chaos.dev/run-id": "r1",
              "chaos.dev/role": "fault-map"}
    armed = render_toggle(True, 79, int(time.time()) + 600)
    gpu_sim.store.create(CONFIGMAPS, {"metadata": {"name": "chaos-faults-r1", "namespace": "default",
                                                   "labels": labels}, "data": {"gpu-node-2": armed}})
    for round_, clear in enumerate(("disarm", "delete")):
        pod = f"p79-{round_}"
        gpu_sim.store.create(PODS, xid_pod(pod, "gpu-node-2", 79))
        wait_for("the node cordoned", lambda: (node_condition(gpu_sim, "gpu-node-2") or {}).get(
            "status") == "True" or None, timeout=20)
        time.sleep(2.0)  # more than the (scaled) 1.5 s reset delay: an armed key holds the node out
        assert gpu_sim.store.get(NODES, None, "gpu-node-2")["spec"].get("unschedulable") is True
        if clear == "disarm":
            gpu_sim.store.patch(CONFIGMAPS, "default", "chaos-faults-r1", "application/merge-patch+json",
                                {"data": {"gpu-node-2": render_toggle(False)}})
        else:
            gpu_sim.store.delete(CONFIGMAPS, "default", "chaos-faults-r1")
        cleared = wait_for(f"the reset after {clear}", lambda: (
            lambda c: c if c and c["status"] == "False" else None)(node_condition(gpu_sim, "gpu-node-2")),
            timeout=30)
        assert cleared["reason"] == "GpuReset"
        assert not gpu_sim.store.get(NODES, None, "gpu-node-2")["spec"].get("unschedulable")
        gpu_sim.store.delete(PODS, "default", pod)
        if clear == "disarm":  # arm again for the second round
            gpu_sim.store.patch(CONFIGMAPS, "default", "chaos-faults-r1", "application/merge-patch+json",
                                {"data": {"gpu-node-2": armed}})
