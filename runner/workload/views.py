"""Small typed, frozen views over the pods and nodes the API server returns, and what "ready" means.

Why it exists: steps read the same few facts about pods and nodes (node, phase, readiness, restart
counts, last exit code, conditions, GPUs) and must not each dig through nested dicts their own way.
Readiness is defined here and only here: a pod is ready when Running, Ready and not terminating
(`PodView.ready`, `pod_is_ready`); a node is ready when its Ready condition is True
(`NodeView.ready`, `node_is_ready`) and accepts new pods when it is also not cordoned
(`node_accepts_pods`). Pure functions only: no I/O, no cluster access.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

GPU_RESOURCE = "nvidia.com/gpu"


def _frozen(items: Mapping[str, Any] | None) -> Mapping[str, str]:
    return MappingProxyType({str(k): str(v) for k, v in (items or {}).items()})


@dataclass(frozen=True)
class ContainerView:
    name: str
    ready: bool
    restarts: int
    state: str  # running | waiting | terminated | "" (unknown)
    reason: str  # the current state's reason (CrashLoopBackOff, Error, ...)
    last_exit_code: int | None  # of the last terminated run (what crashed it)
    last_reason: str


@dataclass(frozen=True)
class PodView:
    name: str
    namespace: str
    node: str
    phase: str
    ready: bool
    restarts: int  # the sum over its containers
    containers: tuple[ContainerView, ...] = ()
    labels: Mapping[str, str] = field(default_factory=lambda: _frozen(None))
    annotations: Mapping[str, str] = field(default_factory=lambda: _frozen(None))
    owner_kind: str = ""
    owner_name: str = ""
    deleting: bool = False
    ip: str = ""
    unschedulable_reason: str = ""  # PodScheduled=False message ("0/3 nodes are available: ...")

    def summary(self) -> dict[str, Any]:
        """The shape progress events and evidence use: {name, node, phase, ready, restarts}."""
        return {"name": self.name, "node": self.node, "phase": self.phase, "ready": self.ready,
                "restarts": self.restarts}

    @property
    def crashed(self) -> bool:
        """Has any container exited with an error at least once (restarted or terminated)?"""
        return any(c.restarts > 0 or (c.last_exit_code not in (None, 0)) for c in self.containers)


@dataclass(frozen=True)
class NodeView:
    name: str
    unschedulable: bool
    ready: bool
    conditions: Mapping[str, str]  # type -> status
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    gpus: int


def condition(obj: Mapping[str, Any], kind: str) -> str:
    """A status condition's status ('True'/'False'/'Unknown'), '' when absent."""
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond.get("type") == kind:
            return str(cond.get("status", ""))
    return ""


def pod_is_ready(pod: Mapping[str, Any]) -> bool:
    """Running, Ready and not terminating."""
    return pod_view(pod).ready


def node_is_ready(node: Mapping[str, Any]) -> bool:
    """The node's Ready condition is True (it may still be cordoned)."""
    return condition(node, "Ready") == "True"


def node_accepts_pods(node: Mapping[str, Any]) -> bool:
    """Ready and schedulable (not cordoned): new pods can land there."""
    return node_is_ready(node) and not (node.get("spec") or {}).get("unschedulable")


def node_of(pod: Mapping[str, Any]) -> str:
    """The node a pod is bound to ('' while unscheduled)."""
    return str((pod.get("spec") or {}).get("nodeName") or "")


def _container(status: Mapping[str, Any]) -> ContainerView:
    state = status.get("state") or {}
    current = next(iter(state), "")
    last = (status.get("lastState") or {}).get("terminated") or {}
    if current == "terminated" and not last:
        last = state.get("terminated") or {}
    code = last.get("exitCode")
    return ContainerView(
        name=str(status.get("name", "")), ready=bool(status.get("ready", False)),
        restarts=int(status.get("restartCount", 0) or 0), state=str(current),
        reason=str((state.get(current) or {}).get("reason", "")) if current else "",
        last_exit_code=None if code is None else int(code), last_reason=str(last.get("reason", "")))


def pod_view(obj: Mapping[str, Any]) -> PodView:
    meta = obj.get("metadata") or {}
    status = obj.get("status") or {}
    owners = meta.get("ownerReferences") or []
    owner = next((o for o in owners if o.get("controller")), owners[0] if owners else {})
    containers = tuple(_container(c) for c in status.get("containerStatuses") or [])
    phase = str(status.get("phase", ""))
    deleting = bool(meta.get("deletionTimestamp"))
    return PodView(
        name=str(meta.get("name", "")), namespace=str(meta.get("namespace") or ""),
        node=node_of(obj), phase=phase,
        ready=phase == "Running" and condition(obj, "Ready") == "True" and not deleting,
        restarts=sum(c.restarts for c in containers), containers=containers,
        labels=_frozen(meta.get("labels")), annotations=_frozen(meta.get("annotations")),
        owner_kind=str(owner.get("kind", "")), owner_name=str(owner.get("name", "")),
        deleting=deleting, ip=str(status.get("podIP") or ""),
        unschedulable_reason=_unschedulable(status))


def _unschedulable(status: Mapping[str, Any]) -> str:
    for cond in status.get("conditions") or []:
        if cond.get("type") == "PodScheduled" and cond.get("status") == "False":
            return str(cond.get("message") or cond.get("reason") or "unschedulable")
    return ""


def node_view(obj: Mapping[str, Any]) -> NodeView:
    meta = obj.get("metadata") or {}
    status = obj.get("status") or {}
    conditions = {str(c.get("type")): str(c.get("status", "")) for c in status.get("conditions") or []}
    gpus = (status.get("allocatable") or {}).get(GPU_RESOURCE) or (status.get("capacity") or {}).get(
        GPU_RESOURCE) or 0
    try:
        count = int(str(gpus))
    except ValueError:
        count = 0
    return NodeView(
        name=str(meta.get("name", "")), unschedulable=bool((obj.get("spec") or {}).get("unschedulable")),
        ready=node_is_ready(obj), conditions=MappingProxyType(conditions),
        labels=_frozen(meta.get("labels")), annotations=_frozen(meta.get("annotations")), gpus=count)


GPUS_ANNOTATION = "chaos.dev/gpus"  # [{index, uuid, pci_bus_id}]: how the embedded cluster lists GPUs


@dataclass(frozen=True)
class GpuView:
    index: int  # as nvidia-smi numbers the node's GPUs
    uuid: str
    pci_bus_id: str  # 00000000:3B:00.0


def node_gpus(node: Mapping[str, Any]) -> list[GpuView]:
    """The node's GPUs where it lists them (the embedded cluster's `chaos.dev/gpus`); [] when it
    does not (a real node: GPU Feature Discovery publishes counts, not identities)."""
    raw = ((node.get("metadata") or {}).get("annotations") or {}).get(GPUS_ANNOTATION)
    try:
        items = json.loads(raw) if raw else []
        return [GpuView(int(g["index"]), str(g["uuid"]), str(g["pci_bus_id"])) for g in items]
    except (ValueError, TypeError, KeyError):
        return []


def field_value(obj: Mapping[str, Any], dotted: str) -> str | None:
    """The value at a dotted path (`spec.nodeName`, `metadata.labels.app`, `status.phase`) as text,
    None when absent. Booleans read as `true`/`false` (YAML's spelling). Label keys with dots are
    matched greedily: `metadata.labels.chaos.dev/run-id` finds the key `chaos.dev/run-id`."""
    current: Any = obj
    parts = dotted.split(".")
    i = 0
    while i < len(parts):
        if not isinstance(current, Mapping):
            return None
        # the longest key made of the remaining parts that exists (label keys contain dots)
        for j in range(len(parts), i, -1):
            key = ".".join(parts[i:j])
            if key in current:
                current = current[key]
                i = j
                break
        else:
            return None
    if isinstance(current, bool):
        return "true" if current else "false"
    if current is None or isinstance(current, (Mapping, list)):
        return None
    return str(current)


def matches_where(obj: Mapping[str, Any], where: Mapping[str, str]) -> bool:
    """Does every dotted field equal its value? Missing booleans count as `false`."""
    for path, want in where.items():
        got = field_value(obj, path)
        wanted = str(want)
        if wanted.lower() in ("true", "false"):
            if (got or "false").lower() != wanted.lower():
                return False
        elif got != wanted:
            return False
    return True
