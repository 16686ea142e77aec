"""The embedded cluster's GPU nodes: Node objects plus a directory per node on the local disk.

`<root>/nodes/<node>/` is the node's filesystem for hostPath volumes: it outlives pods (as a real
node's disk does), so a toggle file written there reaches every pod on that node that mounts it.
This module creates and describes nodes; it must not schedule or run anything.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from runner.errors import Conflict
from runner.sim.cluster import node_object
from runner.sim.resources import NODES
from runner.sim.store import Obj, Store

GPU = "nvidia.com/gpu"
PRODUCT_LABEL = "nvidia.com/gpu.product"
HOSTNAME_LABEL = "kubernetes.io/hostname"
DEFAULT_PRODUCT = "NVIDIA-H100-80GB-HBM3"
NAME_PREFIX = "gpu-node-"


@dataclass(frozen=True)
class NodeGroup:
    """`count` identical nodes with `gpus` GPUs of `product` each."""

    count: int = 3
    gpus: int = 8
    product: str = DEFAULT_PRODUCT


def node_dir(root: Path, node: str) -> Path:
    return Path(root) / "nodes" / node


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
            obj["metadata"]["labels"][PRODUCT_LABEL] = group.product
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
