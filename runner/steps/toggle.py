"""The `toggle` step: arm or disarm the shim on one node by writing its fault state.

With `settings.toggle-via: configmap` the node's state is its key in the run's fault map
(runner/steps/faultmap.py): arming, renewing and disarming are merge patches of that key, journaled
first as `DisarmNodeKey`; no pod is created and the pods see a write after the kubelet's ConfigMap
propagation delay. With `hostPath` (the default, the fastest) it writes the node's toggle file:

How: a helper pod pinned to the node (`runner/steps/helperpod.py`) writes the file atomically
(temporary file, then rename), so it works while the workload crash-loops; the content reaches the
pod as an environment value, never through shell quoting. `method: exec` writes it from inside a
running target pod instead, where the adapter supports exec. Before arming it journals `DisarmNode`
(defined here, listed in the step table's undo kinds) and a DeleteObject for the helper pod. The
armed file carries `expires=<unix>` (the dead-man switch), which the shim checks against the
node's clock: so it is computed from the API server's clock (`Cluster.server_time()`, its Date
header plus the time elapsed here since), never the runner's, and a runner whose clock is off can
neither make a fault outlive it nor lapse at once (the runner's clock only when the server sends
no Date). A renewer on the run's clock re-writes it every `settings.renew_every` (a third of the
expiry; with a ConfigMap at most a minute), each renewal bounded by a deadline of its own. It is
kept in `state.renewers`, which the engine stops before any rollback (waiting out a renewal in
flight), so a renewal never re-arms a disarmed node. It records placements before the fault,
`armed_nodes`, `disarmed_at` and timeline points.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from runner.cluster.deadline import until
from runner.cluster.protocol import Cluster, ObjectRef
from runner.errors import ChaosError, NotFound, StepError
from runner.kernel.admission import PodSecurityNeed
from runner.kernel.clock import Clock
from runner.kernel.step import (
    Evidence,
    JsonValue,
    PlannedChange,
    RunState,
    StepContext,
    StepOutcome,
    StepStatus,
    deadline_within,
)
from runner.kernel.undo import DeleteObject
from runner.scenario.model import (
    AUTO_NODE,
    TARGET_NODE,
    Scenario,
    StepKind,
    ToggleMethod,
    ToggleStep,
    format_seconds,
)
from runner.shimwire import TOGGLE_FILE_NAME, render_toggle
from runner.steps import admission, faultmap, installed
from runner.steps.common import (
    default_toggle_dir,
    emit,
    live_target_pods,
    node_ref,
    pod_summaries,
    pods_before_arming,
    safe_name,
)
from runner.steps.helperpod import DEFAULT_HELPER_IMAGE, HostMount, helper_manifest, run_helper
from runner.workload.targets import ready_pods_by_node
from runner.workload.views import node_gpus, pod_view

MOUNT = "/host-fault"
HELPER_TIMEOUT_S = 120.0
CONTENT_ENV = "CHAOS_TOGGLE_CONTENT"  # the file's content, handed to the helper pod as a value


def write_command(directory: str = MOUNT) -> str:
    """A shell command writing `$CHAOS_TOGGLE_CONTENT` to the toggle file atomically (a rename
    within one directory), then printing the file. The content is never part of the command."""
    f = f"{directory}/{TOGGLE_FILE_NAME}"
    return f'printf "%s" "${CONTENT_ENV}" > {f}.tmp && mv {f}.tmp {f} && cat {f}'


def server_now(cluster: Cluster, clock: Clock) -> tuple[float, str]:
    """Unix time now on the API server's clock (what the nodes' clocks follow), and which clock it
    is: "api-server", or "runner" when the server tells none."""
    server = cluster.server_time()
    return (server, "api-server") if server is not None else (clock.time(), "runner")


def expiry_at(cluster: Cluster, clock: Clock, expiry: float) -> tuple[int, str]:
    """The dead-man `expires=` for a fault armed now, and the clock it is on."""
    now, which = server_now(cluster, clock)
    return int(now + expiry), which


def renew_deadline_s(expiry: float, rollback_timeout: float) -> float:
    """How long one renewal may take: a third of the expiry (the next one is due then), and never
    more than half the rollback's budget (the rollback waits out a renewal in flight)."""
    return min(expiry / 3, HELPER_TIMEOUT_S, rollback_timeout / 2)


def _suffix(node: str) -> str:
    return hashlib.sha256(node.encode()).hexdigest()[:6]


def helper_name(role: str, run_id: str, node: str) -> str:
    return safe_name("chaos", role, run_id, _suffix(node))


def write_node_toggle(cluster: Cluster, clock: Clock, *, node: str, namespace: str, run_id: str,
                      toggle_dir: str, content: str, image: str, role: str, deadline: float) -> str:
    """Run a helper pod that writes `content` into the node's toggle file; returns its log."""
    manifest = helper_manifest(helper_name(role, run_id, node), namespace, node, run_id, role,
                               write_command(), image=image, mounts=(HostMount(toggle_dir, MOUNT),),
                               env={CONTENT_ENV: content})
    return run_helper(cluster, clock, manifest, deadline=deadline).log


def gpu_uuids(node: Mapping[str, Any], gpus: Sequence[int | str]) -> tuple[str, ...]:
    """`fault.gpus` as the shim can match them in any container: node indexes become the UUIDs the
    node lists (a container sees its GPUs by UUID, so it cannot tell which node index is its own).
    A node that lists no GPUs (a real one) keeps the indexes; the shim then treats a process it
    cannot place as hit, which fails more, never less."""
    by_index = {g.index: g.uuid for g in node_gpus(node)}
    return tuple(by_index.get(g, str(g)) if isinstance(g, int) else str(g) for g in gpus)


def _follow_auto_target(step: ToggleStep, ctx: StepContext) -> None:
    """With `target.node: auto`, the target is "a node running a target pod". The patch step's
    rollout may have moved every pod off the node preflight chose (a preferred pin cannot place a
    surge pod on a node whose GPUs are still held by the old pod), so before arming, re-choose the
    node with the most Ready target pods. An explicitly named node is never changed."""
    if ctx.scenario.target.node != AUTO_NODE or step.node not in (TARGET_NODE, ""):
        return
    ready = ready_pods_by_node(live_target_pods(ctx))
    if not ready or ready.get(ctx.state.target_node, 0) > 0:
        return
    chosen = max(sorted(ready), key=lambda n: ready[n])
    ctx.hold_node(chosen)  # preflight leased the node it chose; this one needs its Lease too
    ctx.progress(f"target node {ctx.state.target_node} runs no target pod after the rollout; "
                 f"arming {chosen} instead (target.node: auto)")
    ctx.state.target_node = chosen


@dataclass(frozen=True)
class DisarmNode:
    """Write `0` into a node's toggle file through a helper pod.

    Verification decision: reading the file back needs another pod, so `apply` trusts the helper
    pod's success (it runs `cat` of the file and `apply` raises unless the pod Succeeded and its log
    starts with `0`); `verify` reports only a helper pod of ours still present. If the node cannot
    run pods any more, the armed file's `expires=` makes the fault lapse by itself (dead-man).
    """

    kind: ClassVar[str] = "disarm-node"
    marks: ClassVar[str] = "fault-disarmed"  # rollback disarming the node is on the timeline
    node: str
    namespace: str
    toggle_dir: str
    run_id: str
    image: str = DEFAULT_HELPER_IMAGE

    def describe(self) -> str:
        return f"disarm the fault on node {self.node} ({self.toggle_dir}/{TOGGLE_FILE_NAME})"

    def to_json(self) -> dict[str, JsonValue]:
        return {"kind": self.kind, "node": self.node, "namespace": self.namespace,
                "toggle_dir": self.toggle_dir, "run_id": self.run_id, "image": self.image}

    def apply(self, cluster: Cluster, clock: Clock) -> bool:
        try:
            cluster.get(node_ref(self.node))
        except NotFound:
            return False  # the node is gone, and its file with it
        log = write_node_toggle(cluster, clock, node=self.node, namespace=self.namespace,
                                run_id=self.run_id, toggle_dir=self.toggle_dir,
                                content=render_toggle(False), image=self.image, role="disarm",
                                deadline=clock.monotonic() + HELPER_TIMEOUT_S)
        if not log.lstrip().startswith("0"):
            raise ChaosError(f"disarming node {self.node}: the file reads {log.strip()[:40]!r}")
        return True  # the file cannot be read without a pod: writing 0 is always safe

    def verify(self, cluster: Cluster) -> list[str]:
        name = helper_name("disarm", self.run_id, self.node)
        try:
            cluster.get(ObjectRef("v1", "Pod", self.namespace, name))
        except NotFound:
            return []
        return [f"helper pod {self.namespace}/{name} still exists"]


class ToggleImpl:
    kind: ClassVar[StepKind] = StepKind.TOGGLE

    def __init__(self, image: str = DEFAULT_HELPER_IMAGE) -> None:
        self.image = image

    def plan(self, step: ToggleStep, scenario: Scenario, state: RunState) -> list[PlannedChange]:
        node = state.resolve_node(step.node)
        xid = step.xid if step.xid is not None else scenario.fault.xid
        content = (render_toggle(True, xid, 0, gpus=scenario.fault.gpus).replace(
            "expires=0", "expires=<the API server's now + fault_expiry, renewed>")
            if step.enabled else render_toggle(False))
        if faultmap.via_configmap(scenario):
            ref = faultmap.faultmap_ref(scenario.target.namespace, "<run-id>")
            renew = (f", renewed every {format_seconds(scenario.settings.renew_every)}"
                     if step.enabled else "")
            return [PlannedChange(f"ConfigMap {ref.namespace}/{ref.name}",
                                  f"merge-patch key {node} (reaches the pods within "
                                  f"{scenario.settings.configmap_delay}{renew})",
                                  {"data": {node: content}})]
        how = "helper pod" if step.method is ToggleMethod.HELPER_POD else "exec in a target pod"
        return [PlannedChange(f"node {node}", f"write toggle file ({how})",
                              {"path": f"{default_toggle_dir(scenario)}/{TOGGLE_FILE_NAME}",
                               "content": content})]

    def run(self, step: ToggleStep, ctx: StepContext) -> StepOutcome:
        if step.enabled:
            _follow_auto_target(step, ctx)
        node = ctx.state.resolve_node(step.node)
        if not node:
            raise StepError("toggle: no node (the target node was not resolved)")
        return self._arm(step, ctx, node) if step.enabled else self._disarm(step, ctx, node)

    def pod_security(self, step: ToggleStep, scenario: Scenario) -> list[PodSecurityNeed]:
        """The helper pods write a hostPath: only a privileged namespace admits them."""
        if faultmap.via_configmap(scenario) or step.method is not ToggleMethod.HELPER_POD:
            return []
        manifest = helper_manifest("toggle", scenario.target.namespace, "<node>", "<run-id>", "toggle",
                                   write_command(), image=self.image,
                                   mounts=(HostMount(default_toggle_dir(scenario), MOUNT),))
        return [admission.helper_pod_need(manifest, "the toggle step's helper pods",
                                          admission.USE_CONFIGMAP)]

    def _write(self, step: ToggleStep, ctx: StepContext, node: str, content: str, role: str) -> str:
        if faultmap.via_configmap(ctx.scenario):
            ref = faultmap.faultmap_ref(ctx.scenario.target.namespace, faultmap.owner(ctx))
            try:
                return faultmap.write_key(ctx.cluster, ref, node, content)
            except NotFound:
                if role != "toggle":
                    return content  # no map, no armed key: disarmed already
                raise StepError(f"toggle: {ref} is gone (deleted since the run created it)") from None
        if step.method is ToggleMethod.EXEC:
            return self._exec_write(ctx, node, content)
        namespace = ctx.scenario.target.namespace
        ctx.record_undo(DeleteObject(ObjectRef("v1", "Pod", namespace, helper_name(role, ctx.run_id, node))))
        return write_node_toggle(ctx.cluster, ctx.clock, node=node, namespace=namespace,
                                 run_id=ctx.run_id, toggle_dir=default_toggle_dir(ctx.scenario),
                                 content=content, image=self.image, role=role,
                                 deadline=deadline_within(ctx, HELPER_TIMEOUT_S))

    def _disarm(self, step: ToggleStep, ctx: StepContext, node: str) -> StepOutcome:
        ctx.state.stop_renewer(node)
        log = self._write(step, ctx, node, render_toggle(False), "disarm")
        ctx.state.disarmed_at = ctx.clock.time()
        ctx.timeline("fault-disarmed", node=node)
        emit(ctx, node_ref(node), "ChaosFaultDisarmed", "CUDA fault injection disarmed")
        return StepOutcome(StepStatus.PASSED, f"disarmed node {node}",
                           (Evidence("note", f"toggle file on {node}: {log.strip()[:80]}"),),
                           (f"disarmed {node}",))

    def _arm(self, step: ToggleStep, ctx: StepContext, node: str) -> StepOutcome:
        scenario = ctx.scenario
        namespace = scenario.target.namespace
        toggle_dir = default_toggle_dir(scenario)
        xid = step.xid if step.xid is not None else scenario.fault.xid
        expiry = scenario.settings.expiry.seconds
        pods = pods_before_arming(ctx)
        placements = {pod_view(p).name: pod_view(p).node for p in pods}
        ctx.state.placements_before = dict(placements)  # "before the fault" is now
        evidence = [Evidence("placement", f"{len(pods)} target pod(s) before arming",
                             {"pods": pod_summaries(pods), "placements": placements})]
        if faultmap.via_configmap(scenario):
            installed.current_install(ctx)  # an installed workload reads the install's map
            faultmap.ensure(ctx)  # the patch step made it; a run without one makes it here
            ref = faultmap.faultmap_ref(namespace, faultmap.owner(ctx))
            ctx.record_undo(faultmap.DisarmNodeKey(node, namespace, ref.name, faultmap.owner(ctx)))
        else:
            ctx.record_undo(DisarmNode(node, namespace, toggle_dir, ctx.run_id, self.image))
        gpus = gpu_uuids(ctx.cluster.get(node_ref(node)), scenario.fault.gpus)
        now, which = server_now(ctx.cluster, ctx.clock)
        expires = int(now + expiry)
        offset = now - ctx.clock.time()  # the server's clock less the runner's
        log = self._write(step, ctx, node, render_toggle(True, xid, expires, gpus=gpus), "toggle")
        ctx.state.armed_nodes[node] = ctx.clock.time()
        on = f" on GPU {', '.join(map(str, scenario.fault.gpus))}" if gpus else ""
        ctx.timeline("fault-armed", f"XID {xid}{on}", node=node)
        emit(ctx, node_ref(node), "ChaosFaultArmed", f"CUDA fault injection armed (XID {xid})",
             warning=True)
        ctx.progress(f"armed node {node}", pods=pod_summaries(pods))
        where = (f"fault map key {node}" if faultmap.via_configmap(scenario) else f"toggle file on {node}")
        evidence.append(Evidence("note", f"{where}: {log.strip()[:80]}",
                                 {"node": node, "file": log, "gpus": list(scenario.fault.gpus),
                                  "gpus_as_written": list(gpus), "expires": expires,
                                  "expires_clock": which,
                                  "server_clock_offset_s": round(offset, 1)}))
        if (step.method is ToggleMethod.HELPER_POD or faultmap.via_configmap(scenario)) and expiry > 0:
            self._start_renewer(ctx, node, xid, expiry, gpus)
        return StepOutcome(StepStatus.PASSED, f"armed node {node}{on} (XID {xid})", tuple(evidence),
                           (f"armed {node}{on}",))

    def _start_renewer(self, ctx: StepContext, node: str, xid: int, expiry: float,
                       gpus: tuple[str, ...]) -> None:
        """Re-write the expiry every `settings.renew_every` on the run's clock until the engine
        stops it."""
        namespace = ctx.scenario.target.namespace
        every = ctx.scenario.settings.renew_every
        if faultmap.via_configmap(ctx.scenario):  # a patch of the key DisarmNodeKey undoes
            ref = faultmap.faultmap_ref(namespace, faultmap.owner(ctx))
            cluster_, clock_ = ctx.cluster, ctx.clock

            key_budget = renew_deadline_s(expiry, ctx.scenario.settings.rollback_timeout.seconds)

            def renew_key() -> None:
                with cluster_.deadline(until(clock_.monotonic() + key_budget, clock_.monotonic),
                                       f"the renewal on {node}"):
                    faultmap.write_key(cluster_, ref, node,
                                       render_toggle(True, xid, expiry_at(cluster_, clock_, expiry)[0],
                                                     gpus=gpus))

            ctx.state.stop_renewer(node)
            ctx.state.renewers[node] = clock_.every(every, renew_key)
            return
        ctx.record_undo(DeleteObject(ObjectRef("v1", "Pod", namespace,
                                               helper_name("renew", ctx.run_id, node))))  # once
        cluster, clock, run_id = ctx.cluster, ctx.clock, ctx.run_id
        toggle_dir = default_toggle_dir(ctx.scenario)
        budget = renew_deadline_s(expiry, ctx.scenario.settings.rollback_timeout.seconds)

        def renew() -> None:
            deadline = clock.monotonic() + budget
            with cluster.deadline(until(deadline, clock.monotonic), f"the renewal on {node}"):
                write_node_toggle(cluster, clock, node=node, namespace=namespace, run_id=run_id,
                                  toggle_dir=toggle_dir,
                                  content=render_toggle(True, xid, expiry_at(cluster, clock, expiry)[0],
                                                        gpus=gpus),
                                  image=self.image, role="renew", deadline=deadline)

        ctx.state.stop_renewer(node)
        ctx.state.renewers[node] = clock.every(every, renew)

    def _exec_write(self, ctx: StepContext, node: str, content: str) -> str:
        exec_in_pod = getattr(ctx.cluster, "exec_in_pod", None)
        if exec_in_pod is None:
            raise StepError("toggle method exec: this cluster adapter cannot exec into pods; "
                            "use method helper-pod")
        for pod in live_target_pods(ctx):
            view = pod_view(pod)
            if view.node == node and view.ready:
                return str(exec_in_pod(view.namespace, view.name,
                                       ["env", f"{CONTENT_ENV}={content}", "sh", "-c", write_command()]))
        raise StepError(f"toggle method exec: no Ready target pod on node {node} to exec into")
