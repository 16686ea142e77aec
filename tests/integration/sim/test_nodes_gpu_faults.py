"""The health agent (NVSentinel stand-in) per GPU: an XID line is attributed to the GPU of the node
that faulted (the container's assigned GPUs, narrowed by the toggle file's `gpus=`, or the GPU the
line names), named by PCI bus id in the node condition and recorded in `chaos.dev/faulty-gpus`;
node-scoped XIDs cordon, process-scoped ones do not; the node is reset once no armed toggle
concerns its faulty GPUs. Real containers write the lines; the node is read over HTTP."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from kubernetes import client

from runner.shimwire import ToggleState, parse_toggle
from runner.sim.cluster import SimCluster
from runner.sim.health_agent import CONDITION, FAULTY_GPUS_ANNOTATION, toggle_gpus
from runner.sim.nodes import GPUS_ANNOTATION, node_dir, node_gpus
from tests.integration.sim.nodes_support import wait_for

TOGGLE = "var/lib/cuda-fault/cuda_fault_enabled"


def gpu_pod(name: str, node: str, gpus: int, line: str, bind: bool = False) -> dict[str, Any]:
    script = f"echo visible=$NVIDIA_VISIBLE_DEVICES; echo '{line}' >&2; sleep 0.2; exit 1"
    spec: dict[str, Any] = {"restartPolicy": "Never", "containers": [{
        "name": "main", "image": "busybox", "command": ["sh", "-c", script],
        "resources": {"limits": {"nvidia.com/gpu": str(gpus)}}}]}
    if bind:
        spec["nodeName"] = node  # past the scheduler, as to a cordoned node
    else:
        spec["nodeSelector"] = {"kubernetes.io/hostname": node}
    return {"metadata": {"name": name}, "spec": spec}


def visible(core: client.CoreV1Api, pod: str) -> list[str]:
    def logged() -> str | None:
        try:
            text = str(core.read_namespaced_pod_log(pod, "default"))
        except client.ApiException:  # not started yet
            return None
        return text if "visible=" in text else None

    text = wait_for(f"{pod}'s GPUs", logged, timeout=20)
    return text.split("visible=", 1)[1].split()[0].split(",")


def node_gpu_table(core: client.CoreV1Api, node: str) -> dict[str, dict[str, Any]]:
    return {g["uuid"]: g for g in json.loads(core.read_node(node).metadata.annotations[GPUS_ANNOTATION])}


def condition(core: client.CoreV1Api, node: str) -> Any:
    for c in core.read_node(node).status.conditions or []:
        if c.type == CONDITION:
            return c
    return None


def faulty(core: client.CoreV1Api, node: str) -> list[dict[str, Any]]:
    raw = (core.read_node(node).metadata.annotations or {}).get(FAULTY_GPUS_ANNOTATION)
    return list(json.loads(raw)) if raw else []


def arm(sim: SimCluster, node: str, text: str) -> Path:
    path = node_dir(sim.root, node) / TOGGLE
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    tmp.replace(path)
    return path


def test_toggle_gpus_is_read_tolerantly() -> None:
    gpus = node_gpus("n", 4)
    assert toggle_gpus(parse_toggle("1\nxid=79\n"), gpus) is None  # absent: every GPU
    assert toggle_gpus(parse_toggle("1\ngpus=\n"), gpus) is None
    assert toggle_gpus(parse_toggle("1\ngpus=all\n"), gpus) is None
    assert toggle_gpus(parse_toggle(f"1\ngpus= 2 ,{gpus[0].uuid.upper()}, junk,,9\n"), gpus) == {0, 2}
    assert toggle_gpus(parse_toggle("1\ngpus=00000000:3a:00.0\n"), gpus) == {2}
    assert toggle_gpus(parse_toggle("1\ngpus=junk\n"), gpus) == set()  # names none: concerns none
    assert toggle_gpus(ToggleState(armed=True, xid=79, gpus=("1", "3")), gpus) == {1, 3}


def test_node_scoped_xid_names_the_faulty_gpu_and_collects_more(gpu_sim: SimCluster,
                                                                kube_api: client.ApiClient) -> None:
    core = client.CoreV1Api(kube_api)
    table = node_gpu_table(core, "gpu-node-1")
    core.create_namespaced_pod("default", gpu_pod("first", "gpu-node-1", 1,
                                                  "[XID 79 SIM] cudaMalloc -> cudaErrorNoDevice (100)"))
    (uuid,) = visible(core, "first")
    gpu = table[uuid]
    cond = wait_for("the GpuXidError condition", lambda: condition(core, "gpu-node-1"), timeout=20)
    assert cond.status == "True"
    assert cond.reason == "Xid79"
    assert cond.message.startswith(f"XID 79 on GPU {gpu['pci_bus_id']} ({uuid}): ")
    assert "[XID 79 SIM] cudaMalloc" in cond.message
    assert core.read_node("gpu-node-1").spec.unschedulable is True
    assert faulty(core, "gpu-node-1") == [{**gpu, "xid": 79}]

    # A second GPU of the cordoned node faults too: it is added, the first stays recorded.
    line = "[XID 48 SIM] cudaMemcpy -> cudaErrorECCUncorrectable (214)"
    core.create_namespaced_pod("default", gpu_pod("second", "gpu-node-1", 1, line, bind=True))
    (other,) = visible(core, "second")
    assert other != uuid
    both = wait_for("the second faulty GPU", lambda: (lambda f: f if len(f) == 2 else None)(
        faulty(core, "gpu-node-1")), timeout=20)
    assert both[1] == {**table[other], "xid": 48}
    message = condition(core, "gpu-node-1").message
    assert f"XID 79 on GPU {gpu['pci_bus_id']}" in message
    assert f"XID 48 on GPU {table[other]['pci_bus_id']}" in message


def test_process_scoped_xid_names_the_gpu_and_does_not_cordon(gpu_sim: SimCluster,
                                                              kube_api: client.ApiClient) -> None:
    core = client.CoreV1Api(kube_api)
    table = node_gpu_table(core, "gpu-node-2")
    line = "[XID 43 SIM] cudaDeviceSynchronize -> cudaErrorLaunchTimeout (702)"
    core.create_namespaced_pod("default", gpu_pod("p43", "gpu-node-2", 1, line))
    (uuid,) = visible(core, "p43")

    def node_event() -> list[str] | None:
        items = core.list_namespaced_event("default", field_selector="involvedObject.name=gpu-node-2").items
        return [e.message for e in items if e.reason == CONDITION] or None

    (message,) = wait_for("an XID event on the node", node_event, timeout=20)
    assert f"process-scoped XID 43 on GPU {table[uuid]['pci_bus_id']} ({uuid})" in message
    assert not core.read_node("gpu-node-2").spec.unschedulable
    assert condition(core, "gpu-node-2") is None
    assert faulty(core, "gpu-node-2") == []


def test_toggle_gpus_narrows_the_fault_and_the_reset_follows_it(gpu_sim: SimCluster,
                                                                kube_api: client.ApiClient) -> None:
    core = client.CoreV1Api(kube_api)
    table = list(node_gpu_table(core, "gpu-node-3").values())
    arm(gpu_sim, "gpu-node-3", "1\nxid=79\ngpus=1\n")
    core.create_namespaced_pod("default", gpu_pod("both", "gpu-node-3", 2,
                                                  "[XID 79 SIM] cudaLaunchKernel -> cudaErrorNoDevice (100)"))
    assert sorted(visible(core, "both")) == sorted(g["uuid"] for g in table)
    recorded = wait_for("the faulty GPU", lambda: faulty(core, "gpu-node-3"), timeout=20)
    assert recorded == [{**table[1], "xid": 79}]  # only the GPU the toggle names
    assert condition(core, "gpu-node-3").message.startswith(f"XID 79 on GPU {table[1]['pci_bus_id']}")
    # The fault moves to the other GPU: GPU 1 is no longer faulted, so the node is reset.
    arm(gpu_sim, "gpu-node-3", "1\nxid=79\ngpus=0\n")
    cleared = wait_for("the reset", lambda: (lambda c: c if c is not None and c.status == "False" else None)(
        condition(core, "gpu-node-3")), timeout=20)
    assert cleared.reason == "GpuReset"
    assert not core.read_node("gpu-node-3").spec.unschedulable
    assert faulty(core, "gpu-node-3") == []


def test_a_line_naming_its_gpu_is_attributed_to_that_gpu(gpu_sim: SimCluster,
                                                         kube_api: client.ApiClient) -> None:
    core = client.CoreV1Api(kube_api)
    table = list(node_gpu_table(core, "gpu-node-2").values())
    line = f"[XID 95 SIM] cudaMalloc -> cudaErrorUnknown (999) on GPU {table[1]['pci_bus_id'].lower()}"
    core.create_namespaced_pod("default", gpu_pod("named", "gpu-node-2", 2, line))
    recorded = wait_for("the faulty GPU", lambda: faulty(core, "gpu-node-2"), timeout=20)
    assert recorded == [{**table[1], "xid": 95}]
