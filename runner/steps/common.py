"""Small helpers every step kind shares: pod progress, node references, events, names.

Why it exists: so "tell the live view where the pods are" and "emit an Event" read the same in
every step module. It holds no step logic and changes nothing by itself except through the
functions a step calls on purpose (an Event).
"""

from __future__ import annotations

import contextlib
import hashlib
import re
from collections.abc import Iterable
from typing import Any

from runner.cluster.protocol import KubeObject, ObjectRef
from runner.errors import ClusterError
from runner.kernel.step import StepContext
from runner.scenario.model import PatchStep, Scenario
from runner.workload.targets import target_pods, target_pods_at
from runner.workload.views import PodView, pod_view

DEFAULT_TOGGLE_DIR = "/var/lib/cuda-fault"


def node_ref(name: str) -> ObjectRef:
    return ObjectRef("v1", "Node", None, name)


def live_target_pods(ctx: StepContext) -> list[KubeObject]:
    """The target workload's pods now (not terminating), by the selector preflight resolved."""
    return target_pods(ctx.cluster, ctx.scenario.target, ctx.state.selector)


def mark_crashes(ctx: StepContext, pods: Iterable[KubeObject]) -> list[PodView]:
    """A `pod-crash` timeline point for every crash not marked yet (each restart counts, and a
    container that exited with an error without restarting counts once); returns the pods that
    crashed since the last call. Shared by every step that watches pods, so none is drawn twice."""
    crashed = []
    for pod in pods:
        view = pod_view(pod)
        crashes = max(view.restarts, 1 if view.crashed else 0)
        marked = ctx.state.crashes_marked.get(view.name, 0)
        if crashes <= marked:
            continue
        code = next((c.last_exit_code for c in view.containers if c.last_exit_code not in (None, 0)),
                    None)
        for n in range(marked + 1, crashes + 1):
            ctx.timeline("pod-crash", f"crash {n}" + (f", exit code {code}" if code is not None else ""),
                         node=view.node, pod=view.name)
        ctx.state.crashes_marked[view.name] = crashes
        crashed.append(view)
    return crashed


def pods_before_arming(ctx: StepContext) -> list[KubeObject]:
    """The target pods just before a step arms the fault; remembers the resourceVersion they were
    read at (`state.armed_version`), so later waits replay every event from then on."""
    pods, version = target_pods_at(ctx.cluster, ctx.scenario.target, ctx.state.selector)
    if not ctx.state.armed_version:
        ctx.state.armed_version = version
    return pods


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
        digest = hashlib.sha256(raw.encode()).hexdigest()[:8]
        name = name[: limit - 9].rstrip("-") + "-" + digest
    return name


def default_toggle_dir(scenario: Scenario) -> str:
    """The node directory of the toggle file: the scenario's patch step's `toggle_dir`."""
    for step in scenario.steps:
        if isinstance(step, PatchStep):
            return step.toggle_dir
    return DEFAULT_TOGGLE_DIR
