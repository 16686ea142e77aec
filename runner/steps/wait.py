"""The `wait` step: block, watch-driven, until the cluster reaches a state (or the deadline passes).

Each `for:` value is one entry in `CONDITIONS` (no if/elif): what to watch and when it holds.
Progress shows the target pods by node and phase. A log-line match that is an `[XID n SIM]` line is
injection evidence (`state.injections_seen`). It changes nothing; running past the deadline raises
DeadlineExceeded (the engine makes that an error and rolls back).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, cast

from runner.cluster.protocol import KubeObject
from runner.errors import ClusterError, NotFound
from runner.kernel.step import Evidence, PlannedChange, RunState, StepContext, StepOutcome, StepStatus
from runner.kernel.watch import Watched, wait_for
from runner.scenario.model import Scenario, StepKind, WaitFor, WaitStep, WorkloadKind
from runner.shimwire import XID_LINE, xid_lines
from runner.steps.common import by_node, live_target_pods, mark_crashes, pod_summaries
from runner.workload.kinds import desired_replicas, workload_ref
from runner.workload.views import matches_where, node_view, pod_view


@dataclass(frozen=True)
class Found:
    """What a wait saw when it ended."""

    message: str
    evidence: tuple[Evidence, ...] = ()


def rollout_complete(obj: Mapping[str, Any], kind: WorkloadKind) -> str:
    """'' while the workload's rollout is in progress; a message once it is complete."""
    meta, spec, status = obj.get("metadata", {}), obj.get("spec", {}), obj.get("status") or {}
    observed = status.get("observedGeneration")
    if observed is not None and int(observed) < int(meta.get("generation", 1)):
        return ""
    if kind is WorkloadKind.DYNAMO:
        ready = any(c.get("type") == "Ready" and c.get("status") == "True"
                    for c in status.get("conditions") or [])
        return "graph ready" if status.get("state") == "successful" or ready else ""
    if observed is None:
        return ""
    want = 1 if spec.get("replicas") is None else int(spec["replicas"])
    updated = int(status.get("updatedReplicas", 0) or 0)
    total = int(status.get("replicas", 0) or 0)
    ready_n = int(status.get("readyReplicas", 0) or 0)
    if updated >= want and total == updated and ready_n >= want:
        return f"rollout complete ({ready_n}/{want} ready)"
    return ""


def _progress(ctx: StepContext, what: str) -> Callable[[list[KubeObject]], None]:
    def show(pods: list[KubeObject]) -> None:
        ctx.progress(what, pods=pod_summaries(pods), by_node=by_node(pods))
    return show


def _wait_rollout(step: WaitStep, ctx: StepContext) -> Found:
    target = ctx.scenario.target
    ref = workload_ref(target)
    kind = target.workload.kind
    result = wait_for(ctx.cluster, Watched.named(ref.api_version, ref.kind, ref.namespace, ref.name),
                      lambda objs: bool(objs) and rollout_complete(objs[0], kind),
                      deadline=ctx.deadline, clock=ctx.clock, gate=ctx.gate,
                      what=f"the rollout of {ref}")
    return Found(result.message)


def _wait_pods_ready(step: WaitStep, ctx: StepContext) -> Found:
    _wait_rollout(step, ctx)  # a template just changed: old Ready pods must not count
    target = ctx.scenario.target
    want = desired_replicas(target.workload.kind, ctx.cluster.get(workload_ref(target)),
                            target.workload.services)

    def ready(pods: list[KubeObject]) -> str:
        live = [pod_view(p) for p in pods if not pod_view(p).deleting]
        n = sum(1 for v in live if v.ready)
        return f"{n}/{want} pods Ready" if n >= want and n == len(live) else ""

    result = wait_for(ctx.cluster, Watched.pods(target.namespace, ctx.state.selector), ready,
                      deadline=ctx.deadline, clock=ctx.clock, gate=ctx.gate,
                      on_progress=_progress(ctx, f"waiting for {want} Ready pod(s)"),
                      what=f"{want} Ready pod(s) of {workload_ref(target)}")
    return Found(result.message, (Evidence("placement", result.message,
                                           {"pods": pod_summaries(result.objects)}),))


def _wait_node_condition(step: WaitStep, ctx: StepContext) -> Found:
    node = ctx.state.resolve_node(step.node)
    result = wait_for(ctx.cluster, Watched.named("v1", "Node", None, node),
                      lambda nodes: bool(nodes)
                      and node_view(nodes[0]).conditions.get(step.condition) == step.status,
                      deadline=ctx.deadline, clock=ctx.clock, gate=ctx.gate,
                      what=f"node {node} condition {step.condition}={step.status}")
    view = node_view(result.objects[0])
    return Found(f"node {node} has {step.condition}={step.status}",
                 (Evidence("condition", f"node {node}: {step.condition}={step.status}",
                           {"node": node, "conditions": dict(view.conditions),
                            "unschedulable": view.unschedulable}),))


def _wait_restarts(step: WaitStep, ctx: StepContext) -> Found:
    target = ctx.scenario.target

    def restarted(pods: list[KubeObject]) -> str:
        for v in sorted((pod_view(p) for p in pods), key=lambda v: -v.restarts):
            if v.restarts >= step.min_restarts:
                return f"pod {v.name} on {v.node} restarted {v.restarts} time(s)"
        return ""

    result = wait_for(ctx.cluster, Watched.pods(target.namespace, ctx.state.selector), restarted,
                      deadline=ctx.deadline, clock=ctx.clock, gate=ctx.gate,
                      on_progress=_progress(ctx, f"waiting for a restart (>= {step.min_restarts})"),
                      what=f"a target pod with {step.min_restarts}+ restart(s)")
    crashed_pod = next(p for p in result.objects if pod_view(p).restarts >= step.min_restarts)
    crashed = pod_view(crashed_pod)
    mark_crashes(ctx, result.objects)
    evidence = [Evidence("placement", result.message, {"pods": pod_summaries(result.objects)})]
    why = _crash_reason(ctx, crashed_pod)
    if why:
        note_injection(ctx, why, pod=crashed.name, node=crashed.node)
        evidence.append(Evidence("log", why.strip()[:500], {"pod": crashed.name, "line": why}))
    return Found(result.message + (f": {why.strip()[:200]}" if why else ""), tuple(evidence))


def _crash_reason(ctx: StepContext, pod: KubeObject) -> str:
    """The `[XID n SIM]` line that explains a restart: from the termination message, else from
    the previous container's log ('' when neither shows one)."""
    found = find_in_status(pod, XID_LINE)
    if found:
        return found[1]
    view = pod_view(pod)
    try:
        lines = xid_lines(ctx.cluster.pod_logs(view.namespace, view.name, previous=True))
    except ClusterError:
        return ""
    return lines[0] if lines else ""


def find_log_line(ctx: StepContext, pattern: re.Pattern[str],
                  pods: list[KubeObject] | None = None) -> tuple[str, str, bool] | None:
    """The first line matching `pattern` in the current or previous log of one of `pods` (default:
    the live target pods): (pod, line, previous) or None. A pod gone meanwhile is skipped."""
    for pod in live_target_pods(ctx) if pods is None else pods:
        view = pod_view(pod)
        for previous in (False, True):
            if previous and not view.restarts:
                continue
            try:
                text = ctx.cluster.pod_logs(view.namespace, view.name, previous=previous)
            except NotFound:
                continue
            match = pattern.search(text)
            if match:
                start = text.rfind("\n", 0, match.start()) + 1
                end = text.find("\n", match.end())
                return view.name, text[start: end if end >= 0 else len(text)], previous
    return None


def find_in_status(pod: KubeObject, pattern: re.Pattern[str]) -> tuple[str, str, bool] | None:
    """A line matching `pattern` in a container's termination message (pod, line, previous):
    with `terminationMessagePolicy: FallbackToLogsOnError` (the patch step sets it) a crashed
    container's log tail lives on in the pod status, even in the DELETED event of a drained pod."""
    status = pod.get("status") or {}
    for cs in (status.get("containerStatuses") or []) + (status.get("initContainerStatuses") or []):
        for key in ("lastState", "state"):
            message = ((cs.get(key) or {}).get("terminated") or {}).get("message") or ""
            match = pattern.search(message)
            if match:
                start = message.rfind("\n", 0, match.start()) + 1
                end = message.find("\n", match.end())
                name = str((pod.get("metadata") or {}).get("name", ""))
                return name, message[start: end if end >= 0 else len(message)], key == "lastState"
    return None


def note_injection(ctx: StepContext, line: str, pod: str = "", node: str = "", count: int = 1) -> None:
    """Count `[XID n SIM]` lines as injection evidence (first one stamps the time)."""
    if not xid_lines(line):
        return
    if ctx.state.injections_seen == 0:
        ctx.timeline("first-injection", line.strip()[:200], node=node, pod=pod)
    ctx.state.injections_seen += count


LOG_READS_EVERY_S = 1.0  # the log-line wait reads logs at most this often (a watch said the rest)


def _wait_log_line(step: WaitStep, ctx: StepContext) -> Found:
    """Watch the target pods (replayed from the arming) and read their logs. The logs read are
    those of the pods the watch holds, terminating ones included (a drained pod's log is there
    until it is gone, and a slow API makes that window most of what there is), and at most every
    LOG_READS_EVERY_S: with every read costing an API round trip, reading after each event of a
    burst would leave the wait ever further behind the cluster. A pod that is gone before its log
    was read still says it in its last status (the termination message, `on_event`)."""
    pattern = re.compile(step.pattern)
    target = ctx.scenario.target
    last_read = [-LOG_READS_EVERY_S - 1.0]

    def in_logs(pods: list[KubeObject]) -> tuple[str, str, bool] | None:
        now = ctx.clock.monotonic()
        if now - last_read[0] < LOG_READS_EVERY_S:
            return None  # read a moment ago; the wait re-checks within its wake interval
        last_read[0] = now
        return find_log_line(ctx, pattern, pods)

    result = wait_for(ctx.cluster, Watched.pods(target.namespace, ctx.state.selector), in_logs,
                      deadline=ctx.deadline, clock=ctx.clock, gate=ctx.gate,
                      what=f"a log line matching {step.pattern!r}",
                      on_event=lambda pod: find_in_status(pod, pattern),
                      since=ctx.state.armed_version)
    pod, line, previous = cast("tuple[str, str, bool]", result.value)
    note_injection(ctx, line, pod=pod)
    which = "previous" if previous else "current"
    return Found(f"pod {pod} logged: {line.strip()[:200]}",
                 (Evidence("log", line.strip()[:500], {"pod": pod, "log": which, "line": line}),))


def _where(step: WaitStep, state: RunState, node_key: str) -> dict[str, str]:
    """`where` with the value `target` on node-name fields meaning the fault's node."""
    return {k: (state.resolve_node(v) if k == node_key and v == "target" else v)
            for k, v in step.where.items()}


def _wait_pods(step: WaitStep, ctx: StepContext) -> Found:
    target = ctx.scenario.target
    where = _where(step, ctx.state, "spec.nodeName")

    def enough(pods: list[KubeObject]) -> str:
        n = sum(1 for p in pods if matches_where(p, where))
        return f"{n} pod(s) match {where}" if n >= step.count else ""

    result = wait_for(ctx.cluster, Watched.pods(target.namespace, ctx.state.selector), enough,
                      deadline=ctx.deadline, clock=ctx.clock, gate=ctx.gate,
                      on_progress=_progress(ctx, f"waiting for {step.count} pod(s) matching"),
                      what=f"{step.count} pod(s) matching {where}")
    return Found(result.message, (Evidence("placement", result.message,
                                           {"pods": pod_summaries(result.objects)}),))


def _wait_nodes(step: WaitStep, ctx: StepContext) -> Found:
    where = _where(step, ctx.state, "metadata.name")

    def enough(nodes: list[KubeObject]) -> str:
        n = sum(1 for o in nodes if matches_where(o, where))
        return f"{n} node(s) match {where}" if n >= step.count else ""

    result = wait_for(ctx.cluster, Watched("v1", "Node"), enough, deadline=ctx.deadline,
                      clock=ctx.clock, gate=ctx.gate, what=f"{step.count} node(s) matching {where}")
    return Found(result.message)


CONDITIONS: Mapping[WaitFor, Callable[[WaitStep, StepContext], Found]] = {
    WaitFor.PODS_READY: _wait_pods_ready,
    WaitFor.ROLLOUT_COMPLETE: _wait_rollout,
    WaitFor.NODE_CONDITION: _wait_node_condition,
    WaitFor.POD_RESTARTS: _wait_restarts,
    WaitFor.LOG_LINE: _wait_log_line,
    WaitFor.PODS: _wait_pods,
    WaitFor.NODES: _wait_nodes,
}


class WaitImpl:
    kind: ClassVar[StepKind] = StepKind.WAIT

    def plan(self, step: WaitStep, scenario: Scenario, state: RunState) -> list[PlannedChange]:
        return []  # waiting changes nothing

    def run(self, step: WaitStep, ctx: StepContext) -> StepOutcome:
        found = CONDITIONS[step.for_](step, ctx)
        return StepOutcome(StepStatus.PASSED, found.message, found.evidence)
