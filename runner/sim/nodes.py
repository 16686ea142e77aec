"""The embedded cluster's GPU nodes: Node objects plus a directory per node on the local disk.

`<root>/nodes/<node>/` is the node's filesystem for hostPath volumes: it outlives pods (as a real
node's disk does), so a toggle file written there reaches every pod on that node that mounts it.

Each node has N GPUs with a real identity: index, UUID (`GPU-` + a UUID derived from the node name
and index, so the same topology always has the same UUIDs) and PCI bus id (`00000000:18:00.0`,
the slots of an 8-GPU HGX board). A node shows them as a real GPU node does: capacity and
allocatable `nvidia.com/gpu` (the device plugin), the GPU Feature Discovery labels
(`nvidia.com/gpu.count`, `.product`, `.memory` in MiB, `.family`, `.compute.major/minor`,
`nvidia.com/gpu.present`), plus the annotation `chaos.dev/gpus`: a JSON list of
{index, uuid, pci_bus_id}, for the runner (a real cluster's runner would ask the node's DCGM or
nvidia-smi). This module creates and describes nodes; it must not schedule or run anything.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from runner.errors import Conflict, NotFound
from runner.sim.cluster import node_object
from runner.sim.resources import NODES
from runner.sim.store import Obj, Store

GPU = "nvidia.com/gpu"
PRODUCT_LABEL = "nvidia.com/gpu.product"
COUNT_LABEL = "nvidia.com/gpu.count"
MEMORY_LABEL = "nvidia.com/gpu.memory"
HOSTNAME_LABEL = "kubernetes.io/hostname"
GPUS_ANNOTATION = "chaos.dev/gpus"
DEFAULT_PRODUCT = "NVIDIA-H100-80GB-HBM3"
NAME_PREFIX = "gpu-node-"
_UUID_NAMESPACE = uuid.UUID("5f0c3a52-6b1e-4d0e-9c67-8a1f2b3c4d5e")  # chaos-sim GPUs
# The PCI buses of the 8 GPUs of an HGX H100 board, in index order; more GPUs continue after them.
_HGX_BUSES = (0x18, 0x2A, 0x3A, 0x5D, 0x9A, 0xAB, 0xBA, 0xDB)


@dataclass(frozen=True)
class Product:
    memory_mib: int
    family: str
    compute: tuple[int, int]


# What GPU Feature Discovery reports for the products a scenario is likely to name.
PRODUCTS = {
    "NVIDIA-H100-80GB-HBM3": Product(81559, "hopper", (9, 0)),
    "NVIDIA-H100-PCIe": Product(81559, "hopper", (9, 0)),
    "NVIDIA-H200": Product(143771, "hopper", (9, 0)),
    "NVIDIA-B200": Product(183359, "blackwell", (10, 0)),
    "NVIDIA-A100-SXM4-80GB": Product(81920, "ampere", (8, 0)),
    "NVIDIA-A100-SXM4-40GB": Product(40960, "ampere", (8, 0)),
    "NVIDIA-L4": Product(23034, "ada-lovelace", (8, 9)),
    "NVIDIA-L40S": Product(46068, "ada-lovelace", (8, 9)),
}


def product_info(product: str) -> Product:
    """The product's memory, family and compute capability (a guess from its name when unknown)."""
    known = PRODUCTS.get(product)
    if known is not None:
        return known
    m = re.search(r"(\d+)GB", product)
    memory = int(m.group(1)) * 1024 if m else 81920
    families = ((("B200", "B100", "GB200"), "blackwell", (10, 0)),
                (("H100", "H200", "H800", "H20", "GH200"), "hopper", (9, 0)),
                (("L4", "L40"), "ada-lovelace", (8, 9)),
                (("A100", "A800", "A30", "A10"), "ampere", (8, 0)))
    for marks, family, cc in families:
        if any(mark in product for mark in marks):
            return Product(memory, family, cc)
    return Product(memory, "hopper", (9, 0))


@dataclass(frozen=True)
class GpuDevice:
    """One GPU of a node, as nvidia-smi and the device plugin name it."""

    index: int
    uuid: str  # GPU-xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx
    pci_bus_id: str  # 00000000:18:00.0

    def as_dict(self) -> dict[str, object]:
        return {"index": self.index, "uuid": self.uuid, "pci_bus_id": self.pci_bus_id}


def gpu_uuid(node: str, index: int) -> str:
    return f"GPU-{uuid.uuid5(_UUID_NAMESPACE, f'{node}/{index}')}"


def pci_bus_id(index: int) -> str:
    bus = _HGX_BUSES[index] if index < len(_HGX_BUSES) else 0xE0 + index - len(_HGX_BUSES)
    return f"00000000:{bus % 256:02X}:00.0"


def node_gpus(node: str, count: int) -> list[GpuDevice]:
    return [GpuDevice(i, gpu_uuid(node, i), pci_bus_id(i)) for i in range(count)]


def gpus_of(node: Obj) -> list[GpuDevice]:
    """The node's GPUs: its `chaos.dev/gpus` annotation, else derived from its GPU capacity."""
    raw = (node["metadata"].get("annotations") or {}).get(GPUS_ANNOTATION)
    if raw:
        try:
            return [GpuDevice(int(g["index"]), str(g["uuid"]), str(g["pci_bus_id"])) for g in json.loads(raw)]
        except (ValueError, KeyError, TypeError):
            pass
    capacity = ((node.get("status") or {}).get("capacity") or {}).get(GPU, "0")
    try:
        count = int(capacity)
    except (TypeError, ValueError):
        count = 0
    return node_gpus(node["metadata"]["name"], count)


def gpu_identity(node: str, count: int, product: str) -> tuple[dict[str, str], dict[str, str]]:
    """(labels, annotations) a node with `count` GPUs of `product` shows (GFD and ours)."""
    info = product_info(product)
    labels = {PRODUCT_LABEL: product, COUNT_LABEL: str(count), MEMORY_LABEL: str(info.memory_mib),
              "nvidia.com/gpu.family": info.family, "nvidia.com/gpu.compute.major": str(info.compute[0]),
              "nvidia.com/gpu.compute.minor": str(info.compute[1]),
              "nvidia.com/gpu.present": "true" if count else "false",
              "nvidia.com/gpu.machine": "chaos-sim", "nvidia.com/cuda.driver-version.major": "550",
              "nvidia.com/cuda.runtime-version.major": "12", "nvidia.com/cuda.runtime-version.minor": "4"}
    annotations = {GPUS_ANNOTATION: json.dumps([g.as_dict() for g in node_gpus(node, count)])}
    return labels, annotations


def publish_gpus(store: Store, node: str) -> None:
    """Give a node that lacks them the GPU identity its capacity implies (what the device plugin and
    GPU Feature Discovery publish on a real node), for nodes created without add_nodes."""
    try:
        obj = store.get(NODES, None, node)
    except NotFound:
        return
    if GPUS_ANNOTATION in (obj["metadata"].get("annotations") or {}):
        return
    count = len(gpus_of(obj))
    labels = obj["metadata"].get("labels") or {}
    wanted, annotations = gpu_identity(node, count, str(labels.get(PRODUCT_LABEL) or DEFAULT_PRODUCT))
    missing = {k: v for k, v in wanted.items() if k not in labels}
    store.patch(NODES, None, node, "application/merge-patch+json",
                {"metadata": {"labels": missing, "annotations": annotations}})


@dataclass(frozen=True)
class NodeGroup:
    """`count` identical nodes with `gpus` GPUs of `product` each."""

    count: int = 3
    gpus: int = 8
    product: str = DEFAULT_PRODUCT
    labels: Mapping[str, str] = field(default_factory=dict)  # e.g. a pool the workload prefers


def node_dir(root: Path, node: str) -> Path:
    return Path(root) / "nodes" / node


# Where the kubelet tells node agents which devices each container holds: a JSON file standing in
# for the kubelet's PodResources API (the socket of that name, which DCGM exporter and NVSentinel
# ask), with the API's shape: {"pod_resources": [{name, namespace, uid, containers: [{name,
# devices: [{resource_name, device_ids}]}]}]}.
POD_RESOURCES = Path("var/lib/kubelet/pod-resources/pods.json")


def write_pod_resources(node_root: Path, pods: list[dict[str, object]]) -> None:
    path = node_root / POD_RESOURCES
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"pod_resources": pods}, indent=1))
    tmp.replace(path)  # readers see the old list or the new one


def read_pod_resources(node_root: Path) -> dict[tuple[str, str], list[str]]:
    """(pod uid, container) -> the GPU UUIDs it holds, from the node's pod-resources file."""
    try:
        data = json.loads((node_root / POD_RESOURCES).read_text())
    except (OSError, ValueError):
        return {}
    out: dict[tuple[str, str], list[str]] = {}
    for pod in data.get("pod_resources") or []:
        for c in pod.get("containers") or []:
            ids = [str(i) for d in c.get("devices") or [] if d.get("resource_name") == GPU
                   for i in d.get("device_ids") or []]
            out[(str(pod.get("uid")), str(c.get("name")))] = ids
    return out


def add_nodes(store: Store, root: Path, groups: Iterable[NodeGroup]) -> list[str]:
    """Create the nodes of each group (names continue after existing `gpu-node-N`) and their dirs."""
    existing, _ = store.list(NODES)
    taken = {n["metadata"]["name"] for n in existing}
    index = 1
    names: list[str] = []
    for group in groups:
        for _ in range(group.count):
            while f"{NAME_PREFIX}{index}" in taken:
                index += 1
            name = f"{NAME_PREFIX}{index}"
            obj = node_object(name, group.gpus, index)
            labels, annotations = gpu_identity(name, group.gpus, group.product)
            obj["metadata"]["labels"].update(labels)
            obj["metadata"]["labels"].update(group.labels)
            obj["metadata"].setdefault("annotations", {}).update(annotations)
            try:
                store.create(NODES, obj)
            except Conflict:
                continue
            taken.add(name)
            node_dir(root, name).mkdir(parents=True, exist_ok=True)
            names.append(name)
    return names


def gpu_capacity(node: Obj) -> int:
    status = node.get("status") or {}
    value = (status.get("allocatable") or status.get("capacity") or {}).get(GPU, "0")
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def is_ready(node: Obj) -> bool:
    for cond in (node.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            return bool(cond.get("status") == "True")
    return False
