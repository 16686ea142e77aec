"""The `toggle` step: arm or disarm the shim on one node by writing its hostPath toggle file.

How: a helper pod pinned to the node (`runner/steps/helperpod.py`) writes the file atomically
(`printf ... > f.tmp && mv f.tmp f`), so it works while the workload crash-loops; `method: exec`
writes it from inside a running target pod instead, where the adapter supports exec. Before arming
it journals `DisarmNode` (defined here, registered as an undo kind) and a DeleteObject for the
helper pod. The armed file carries `expires=<unix>` (the dead-man switch); a background renewer
re-writes it every `fault_expiry/3` until stopped: its stop function is in `state.background`, which
the engine (and the cleanup step) call before any rollback, so a renewal never re-arms a disarmed
node. It records placements before the fault, `armed_nodes`, `disarmed_at` and timeline points.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from typing import Any, ClassVar

from runner.cluster.objects import pod_view
from runner.cluster.protocol import Cluster, ObjectRef
from runner.engine.clock import SystemClock
from runner.engine.targets import target_pods
from runner.errors import ChaosError, NotFound, StepError
from runner.scenario.model import (
    AUTO_NODE,
    TARGET_NODE,
    Scenario,
    StepBase,
    StepKind,
    ToggleMethod,
    ToggleStep,
)
from runner.steps.base import (
    Clock,
    Evidence,
    JsonValue,
    PlannedChange,
    RunState,
    StepContext,
    StepOutcome,
    StepStatus,
)
from runner.steps.common import (
    TOGGLE_FILE,
    default_toggle_dir,
    emit,
    node_ref,
    pod_summaries,
    record,
    safe_name,
)
from runner.steps.helperpod import DEFAULT_HELPER_IMAGE, HostMount, helper_manifest, run_helper
from runner.steps.undo import DeleteObject, register_undo

MOUNT = "/host-fault"
HELPER_TIMEOUT_S = 120.0

# Renewers running in this process, by (run id, node). DisarmNode stops the node's renewer before it
# writes `0`, so a rollback that runs before the engine stopped background work still cannot be
# overwritten by a late renewal (belt and braces; the engine calls state.stop_background() first).
_RENEWERS: dict[tuple[str, str], Renewer] = {}
_RENEWERS_LOCK = threading.Lock()


def stop_renewer(run_id: str, node: str) -> None:
    with _RENEWERS_LOCK:
        renewer = _RENEWERS.pop((run_id, node), None)
    if renewer is not None:
        renewer.stop()


def toggle_content(armed: bool, xid: int | None = None, expires: int | None = None) -> str:
    """The toggle file: first character 1/0, then `key=value` lines (DESIGN.md §5)."""
    lines = ["1" if armed else "0"]
    if armed and xid is not None:
        lines.append(f"xid={xid}")
    if armed and expires is not None:
        lines.append(f"expires={expires}")
    return "\n".join(lines) + "\n"


def write_command(content: str, directory: str = MOUNT) -> str:
    """A shell command writing `content` to the toggle file atomically (same directory rename)."""
    escaped = content.replace("\\", "\\\\").replace("%", "%%").replace("\n", "\\n").replace("'", "")
    f = f"{directory}/{TOGGLE_FILE}"
    return f"printf '{escaped}' > {f}.tmp && mv {f}.tmp {f} && cat {f}"


def _suffix(node: str) -> str:
    return hashlib.sha256(node.encode()).hexdigest()[:6]


def write_toggle(cluster: Cluster, clock: Clock, *, node: str, namespace: str, run_id: str,
                 toggle_dir: str, content: str, image: str, role: str, deadline: float) -> str:
    """Run a helper pod that writes `content` into the node's toggle file; returns its log."""
    name = safe_name("chaos", role, run_id, _suffix(node))
    manifest = helper_manifest(name, namespace, node, run_id, role, write_command(content),
                               image=image, mounts=(HostMount(toggle_dir, MOUNT),))
    return run_helper(cluster, clock, manifest, deadline=deadline).log


def _follow_auto_target(step: ToggleStep, ctx: StepContext) -> None:
    """With `target.node: auto`, the target is "a node running a target pod". The patch step's
    rollout may have moved every pod off the node preflight chose (a preferred pin cannot place a
    surge pod on a node whose GPUs are still held by the old pod), so before arming, re-choose the
    node with the most Ready target pods. An explicitly named node is never changed."""
    if ctx.scenario.target.node != AUTO_NODE or step.node not in (TARGET_NODE, ""):
        return
    views = [pod_view(p) for p in target_pods(ctx.cluster, ctx.scenario.target)]
    ready: dict[str, int] = {}
    for view in views:
        if view.node and view.ready and not view.deleting:
            ready[view.node] = ready.get(view.node, 0) + 1
    if not ready or ready.get(ctx.state.target_node, 0) > 0:
        return
    chosen = max(sorted(ready), key=lambda n: ready[n])
    ctx.progress(f"target node {ctx.state.target_node} runs no target pod after the rollout; "
                 f"arming {chosen} instead (target.node: auto)")
    ctx.state.target_node = chosen


@register_undo
@dataclass(frozen=True)
class DisarmNode:
    """Write `0` into a node's toggle file through a helper pod.

    Verification decision: reading the file back needs another pod, so `apply` trusts the helper
    pod's success (it runs `cat` of the file and `apply` raises unless the pod Succeeded and its log
    starts with `0`); `verify` reports only a helper pod of ours still present. If the node cannot
    run pods any more, the armed file's `expires=` makes the fault lapse by itself (dead-man).
    """

    kind: ClassVar[str] = "disarm-node"
    node: str
    namespace: str
    toggle_dir: str
    run_id: str
    image: str = DEFAULT_HELPER_IMAGE

    def describe(self) -> str:
        return f"disarm the fault on node {self.node} ({self.toggle_dir}/{TOGGLE_FILE})"

    def to_json(self) -> dict[str, JsonValue]:
        return {"kind": self.kind, "node": self.node, "namespace": self.namespace,
                "toggle_dir": self.toggle_dir, "run_id": self.run_id, "image": self.image}

    def _name(self) -> str:
        return safe_name("chaos", "disarm", self.run_id, _suffix(self.node))

    def apply(self, cluster: Cluster) -> None:
        stop_renewer(self.run_id, self.node)
        try:
            cluster.get(node_ref(self.node))
        except NotFound:
            return  # the node is gone, and its file with it
        clock = SystemClock()
        log = write_toggle(cluster, clock, node=self.node, namespace=self.namespace,
                           run_id=self.run_id, toggle_dir=self.toggle_dir,
                           content=toggle_content(False), image=self.image, role="disarm",
                           deadline=clock.monotonic() + HELPER_TIMEOUT_S)
        if not log.lstrip().startswith("0"):
            raise ChaosError(f"disarming node {self.node}: the file reads {log.strip()[:40]!r}")

    def verify(self, cluster: Cluster) -> list[str]:
        try:
            cluster.get(ObjectRef("v1", "Pod", self.namespace, self._name()))
        except NotFound:
            return []
        return [f"helper pod {self.namespace}/{self._name()} still exists"]


class Renewer:
    """Re-writes an armed toggle file's expiry every `interval` seconds until stopped."""

    def __init__(self, write: Any, interval: float) -> None:
        self._write = write
        self._interval = interval
        self._stop = threading.Event()
        self._lock = threading.Lock()  # held while writing, so stop() waits out a write in flight
        self.renewals = 0
        self.errors: list[str] = []
        self._thread = threading.Thread(target=self._loop, name="chaos-toggle-renewer", daemon=True)

    def start(self) -> Renewer:
        self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            with self._lock:
                if self._stop.is_set():
                    return
                try:
                    self._write()
                    self.renewals += 1
                except ChaosError as exc:  # a missed renewal is survivable: the expiry is 3x away
                    self.errors.append(str(exc))

    def stop(self) -> None:
        """Idempotent; returns once no renewal is in flight or can start."""
        self._stop.set()
        with self._lock:
            pass
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout=HELPER_TIMEOUT_S)


class ToggleImpl:
    kind: ClassVar[StepKind] = StepKind.TOGGLE

    def __init__(self, image: str = DEFAULT_HELPER_IMAGE) -> None:
        self.image = image

    def plan(self, step: StepBase, scenario: Scenario, state: RunState) -> list[PlannedChange]:
        assert isinstance(step, ToggleStep)
        node = state.resolve_node(step.node)
        xid = step.xid if step.xid is not None else scenario.fault.xid
        content = toggle_content(step.enabled, xid, 0 if step.enabled else None).replace(
            "expires=0", "expires=<now + fault_expiry, renewed>")
        how = "helper pod" if step.method is ToggleMethod.HELPER_POD else "exec in a target pod"
        return [PlannedChange(f"node {node}", f"write toggle file ({how})",
                              {"path": f"{default_toggle_dir(scenario)}/{TOGGLE_FILE}",
                               "content": content})]

    def run(self, step: StepBase, ctx: StepContext) -> StepOutcome:
        assert isinstance(step, ToggleStep)
        if step.enabled:
            _follow_auto_target(step, ctx)
        node = ctx.state.resolve_node(step.node)
        if not node:
            raise StepError("toggle: no node (the target node was not resolved)")
        scenario = ctx.scenario
        namespace = scenario.target.namespace
        toggle_dir = default_toggle_dir(scenario)
        xid = step.xid if step.xid is not None else scenario.fault.xid
        expiry = scenario.settings.fault_expiry.seconds
        evidence: list[Evidence] = []

        def write(content: str, role: str, clock: Clock) -> str:
            if step.method is ToggleMethod.EXEC:
                return self._exec_write(ctx, node, content)
            name = safe_name("chaos", role, ctx.run_id, _suffix(node))
            record(ctx, DeleteObject(ObjectRef("v1", "Pod", namespace, name)))
            return write_toggle(ctx.cluster, clock, node=node, namespace=namespace, run_id=ctx.run_id,
                                toggle_dir=toggle_dir, content=content, image=self.image, role=role,
                                deadline=clock.monotonic() + min(ctx.remaining(), HELPER_TIMEOUT_S))

        if not step.enabled:
            stop = ctx.state.background.pop(f"renew:{node}", None)
            if stop is not None:
                stop()
            log = write(toggle_content(False), "disarm", ctx.clock)
            ctx.state.disarmed_at = ctx.clock.time()
            ctx.timeline("fault-disarmed", node=node)
            emit(ctx, node_ref(node), "ChaosFaultDisarmed", "CUDA fault injection disarmed")
            return StepOutcome(StepStatus.PASSED, f"disarmed node {node}",
                               (Evidence("note", f"toggle file on {node}: {log.strip()[:80]}"),),
                               (f"disarmed {node}",))

        pods = target_pods(ctx.cluster, scenario.target)
        placements = {pod_view(p).name: pod_view(p).node for p in pods}
        ctx.state.placements_before.update(placements)
        evidence.append(Evidence("placement", f"{len(pods)} target pod(s) before arming",
                                 {"pods": pod_summaries(pods), "placements": placements}))
        record(ctx, DisarmNode(node, namespace, toggle_dir, ctx.run_id, self.image))
        log = write(toggle_content(True, xid, int(ctx.clock.time() + expiry)), "toggle", ctx.clock)
        ctx.state.armed_nodes[node] = ctx.clock.time()
        ctx.timeline("fault-armed", f"XID {xid}", node=node)
        emit(ctx, node_ref(node), "ChaosFaultArmed", f"CUDA fault injection armed (XID {xid})",
             warning=True)
        ctx.progress(f"armed node {node}", pods=pod_summaries(pods))
        evidence.append(Evidence("note", f"toggle file on {node}: {log.strip()[:80]}",
                                 {"node": node, "file": log}))
        if step.method is ToggleMethod.HELPER_POD and expiry > 0:
            clock = SystemClock()  # renewals run on their own thread, in real time

            def renew() -> None:
                write_toggle(ctx.cluster, clock, node=node, namespace=namespace, run_id=ctx.run_id,
                             toggle_dir=toggle_dir,
                             content=toggle_content(True, xid, int(ctx.clock.time() + expiry)),
                             image=self.image, role="renew",
                             deadline=clock.monotonic() + min(expiry / 3, HELPER_TIMEOUT_S))

            renew_pod = safe_name("chaos", "renew", ctx.run_id, _suffix(node))
            record(ctx, DeleteObject(ObjectRef("v1", "Pod", namespace, renew_pod)))  # journal once
            old = ctx.state.background.pop(f"renew:{node}", None)
            if old is not None:
                old()
            stop_renewer(ctx.run_id, node)
            renewer = Renewer(renew, expiry / 3).start()
            with _RENEWERS_LOCK:
                _RENEWERS[(ctx.run_id, node)] = renewer
            ctx.state.background[f"renew:{node}"] = renewer.stop
        return StepOutcome(StepStatus.PASSED, f"armed node {node} (XID {xid})", tuple(evidence),
                           (f"armed {node}",))

    def _exec_write(self, ctx: StepContext, node: str, content: str) -> str:
        exec_in_pod = getattr(ctx.cluster, "exec_in_pod", None)
        if exec_in_pod is None:
            raise StepError("toggle method exec: this cluster adapter cannot exec into pods; "
                            "use method helper-pod")
        for pod in target_pods(ctx.cluster, ctx.scenario.target):
            view = pod_view(pod)
            if view.node == node and view.ready:
                return str(exec_in_pod(view.namespace, view.name, ["sh", "-c", write_command(content)]))
        raise StepError(f"toggle method exec: no Ready target pod on node {node} to exec into")
