"""Small helpers every step kind shares: deadlines, journaling with a note, pod progress, events.

Why it exists: so "record the undo", "tell the live view where the pods are" and "emit an Event"
read the same in every step module. It holds no step logic and changes nothing by itself except
through the functions a step calls on purpose.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable, Mapping
from typing import Any

from runner.cluster.objects import PodView, pod_view
from runner.cluster.protocol import KubeObject, ObjectRef
from runner.engine.journal import MANAGED_BY, MANAGED_BY_VALUE, RUN_ID_LABEL, run_labels
from runner.engine.targets import workload_ref
from runner.errors import ClusterError
from runner.scenario.model import PatchStep, Scenario
from runner.steps.base import StepContext, UndoAction

__all__ = ["MANAGED_BY", "MANAGED_BY_VALUE", "RUN_ID_LABEL", "XID_LINE", "by_node", "deadline",
           "default_toggle_dir", "emit", "node_ref", "pod_summaries", "record", "run_labels",
           "safe_name", "workload_ref"]

XID_LINE = re.compile(r"\[XID (\d+) SIM\][^\n]*")  # what the shim logs on each injected failure
DEFAULT_TOGGLE_DIR = "/var/lib/cuda-fault"
TOGGLE_FILE = "cuda_fault_enabled"


def deadline(ctx: StepContext, limit: float | None = None) -> float:
    """The step's deadline on `ctx.clock.monotonic()`, capped at `limit` seconds from now."""
    left = ctx.remaining() if limit is None else min(ctx.remaining(), limit)
    return ctx.clock.monotonic() + left


def record(ctx: StepContext, action: UndoAction) -> None:
    """Journal `action` before the change (the engine's write-ahead) and note it for cleanup."""
    ctx.record_undo(action)
    notes = ctx.state.notes.setdefault("recorded", [])
    if isinstance(notes, list):
        notes.append(action.describe())


def node_ref(name: str) -> ObjectRef:
    return ObjectRef("v1", "Node", None, name)


def pod_summaries(pods: Iterable[KubeObject | PodView]) -> list[dict[str, Any]]:
    views = [p if isinstance(p, PodView) else pod_view(p) for p in pods]
    return [v.summary() for v in sorted(views, key=lambda v: v.name)]


def by_node(pods: Iterable[KubeObject]) -> dict[str, dict[str, int]]:
    """Pods counted by node and phase (`Ready` counted apart), for the live view."""
    out: dict[str, dict[str, int]] = {}
    for p in pods:
        v = pod_view(p)
        slot = out.setdefault(v.node or "<unscheduled>", {})
        key = "Ready" if v.ready else (v.phase or "Unknown")
        slot[key] = slot.get(key, 0) + 1
    return out


def emit(ctx: StepContext, ref: ObjectRef, reason: str, message: str, *, warning: bool = False) -> None:
    """A Kubernetes Event on an object we touched (best effort: never breaks a step)."""
    with contextlib.suppress(ClusterError):
        ctx.cluster.emit_event(ref, reason, f"chaos run {ctx.run_id}: {message}",
                               event_type="Warning" if warning else "Normal")


def safe_name(*parts: str, limit: int = 63) -> str:
    """A DNS-1123 name from parts (lowercase, `-` for anything else, at most `limit` chars)."""
    raw = "-".join(p for p in parts if p).lower()
    name = re.sub(r"[^a-z0-9-]+", "-", raw).strip("-")
    if len(name) > limit:
        import hashlib

        digest = hashlib.sha256(raw.encode()).hexdigest()[:8]
        name = name[: limit - 9].rstrip("-") + "-" + digest
    return name


def default_toggle_dir(scenario: Scenario) -> str:
    """The node directory of the toggle file: the scenario's patch step's `toggle_dir`."""
    for step in scenario.steps:
        if isinstance(step, PatchStep):
            return step.toggle_dir
    return DEFAULT_TOGGLE_DIR


def xid_lines(text: str) -> list[str]:
    return [m.group(0) for m in XID_LINE.finditer(text)]


def labels_of(obj: Mapping[str, Any]) -> Mapping[str, str]:
    return obj.get("metadata", {}).get("labels") or {}
