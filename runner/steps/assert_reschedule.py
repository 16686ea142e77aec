"""The `assert-reschedule` step: prove the workload left the faulty node and recovered elsewhere.

It holds when, within `within`: no live target pod is on the faulty node (the pods that ran there
are gone from it), the desired replicas are Running and Ready on other nodes, and, with
`expect_cordon`, the node is cordoned. Watch-driven. While waiting it reads the previous logs of
pods that crashed on the node for `[XID n SIM]` lines (injection evidence) and notes when it saw
the first crash, the cordon and the recovery. A part that did not hold in time makes the outcome
FAILED with a message naming that part; it changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from runner.cluster.protocol import KubeObject
from runner.errors import ClusterError, DeadlineExceeded, NotFound
from runner.kernel.step import (
    Evidence,
    PlannedChange,
    RunState,
    StepContext,
    StepOutcome,
    StepStatus,
    deadline_within,
)
from runner.kernel.watch import Watched, wait_for
from runner.scenario.model import AssertRescheduleStep, Scenario, StepKind
from runner.shimwire import XID_LINE, xid_lines
from runner.steps.common import by_node, mark_crashes, node_ref, pod_summaries
from runner.steps.wait import find_in_status, note_injection
from runner.workload.kinds import desired_replicas, workload_ref
from runner.workload.views import node_view, pod_view


@dataclass
class _Seen:
    first_crash: float | None = None
    cordoned: float | None = None
    recovered: float | None = None
    logs_read: set[str] = field(default_factory=set)
    xid_lines: list[dict[str, str]] = field(default_factory=list)
    restarts: dict[str, int] = field(default_factory=dict)
    ready_marked: set[str] = field(default_factory=set)  # replacements already on the timeline


class AssertRescheduleImpl:
    kind: ClassVar[StepKind] = StepKind.ASSERT_RESCHEDULE

    def plan(self, step: AssertRescheduleStep, scenario: Scenario, state: RunState) -> list[PlannedChange]:
        return []

    def run(self, step: AssertRescheduleStep, ctx: StepContext) -> StepOutcome:
        target = ctx.scenario.target
        node = ctx.state.resolve_node(step.node)
        ref = workload_ref(target)
        want = desired_replicas(target.workload.kind, ctx.cluster.get(ref), target.workload.services)
        selector = ctx.state.selector
        seen = _Seen()
        until = deadline_within(ctx, step.within.seconds)

        def cordoned() -> bool:
            if seen.cordoned is None:
                try:
                    if node_view(ctx.cluster.get(node_ref(node))).unschedulable:
                        seen.cordoned = ctx.clock.time()
                        ctx.timeline("node-cordoned", "seen by assert-reschedule", node=node)
                except NotFound:
                    pass
            return seen.cordoned is not None

        def note_pods(pods: list[KubeObject]) -> None:
            """Crashes, XID lines and replacements, from listed pods and from every watch event
            (replayed from the arming on, so a pod drained before this step began still counts)."""
            mark_crashes(ctx, pods)
            for p in pods:
                v = pod_view(p)
                seen.restarts[v.name] = max(seen.restarts.get(v.name, 0), v.restarts)
                if v.node == node and v.crashed and v.name not in seen.logs_read:
                    seen.logs_read.add(v.name)
                    if seen.first_crash is None:
                        seen.first_crash = ctx.clock.time()
                    self._read_xid_lines(ctx, v.namespace, v.name, node, seen, p)
                if (v.ready and v.node and v.node != node and v.name not in seen.ready_marked
                        and v.name not in ctx.state.placements_before):
                    seen.ready_marked.add(v.name)  # a replacement came up: a point on the timeline
                    ctx.timeline("pod-ready", "replacement Ready", node=v.node, pod=v.name)

        def observe(pods: list[KubeObject]) -> None:
            note_pods(pods)
            if step.expect_cordon:
                cordoned()
            ctx.progress(f"waiting for pods to leave {node}", pods=pod_summaries(pods),
                         by_node=by_node(pods))

        def parts(pods: list[KubeObject]) -> list[str]:
            live = [pod_view(p) for p in pods if not pod_view(p).deleting]
            missing = []
            on_node = sorted(v.name for v in live if v.node == node)
            if on_node:
                missing.append(f"pods still on {node}: {', '.join(on_node)}")
            ready_elsewhere = sum(1 for v in live if v.ready and v.node and v.node != node)
            if ready_elsewhere < want:
                pending = sorted({v.unschedulable_reason for v in live if v.unschedulable_reason})
                why = f" (Pending: {'; '.join(pending)})" if pending else ""
                missing.append(f"{ready_elsewhere}/{want} replicas Ready on other nodes{why}")
            if step.expect_cordon and not cordoned():
                missing.append(f"node {node} is not cordoned")
            return missing

        objects: list[KubeObject] = []
        try:
            result = wait_for(ctx.cluster, Watched.pods(target.namespace, selector),
                              lambda pods: not parts(pods), deadline=until, clock=ctx.clock,
                              gate=ctx.gate, on_progress=observe, on_event=lambda pod: note_pods([pod]),
                              since=ctx.state.armed_version,
                              what=f"pods of {ref} rescheduled off {node}")
            objects = result.objects
            if step.expect_cordon and not cordoned():  # the cordon may come after the pods moved
                wait_for(ctx.cluster, Watched.named("v1", "Node", None, node),
                         lambda nodes: bool(nodes) and node_view(nodes[0]).unschedulable,
                         deadline=until, clock=ctx.clock, gate=ctx.gate, what=f"node {node} cordoned")
                cordoned()
            failed: list[str] = []
        except DeadlineExceeded:
            objects = self._pods(ctx, target.namespace, selector)
            observe(objects)
            failed = parts(objects) or ["the state changed back before it could be confirmed"]
        seen.recovered = None if failed else ctx.clock.time()
        if not failed:
            ctx.timeline("rescheduled", f"{want} replica(s) Ready off {node}")
        evidence = self._evidence(ctx, node, objects, seen)
        if failed:
            return StepOutcome(StepStatus.FAILED, f"not rescheduled within {step.within}: "
                               + "; ".join(failed), evidence)
        return StepOutcome(StepStatus.PASSED, f"{want} replica(s) Ready off {node}"
                           + (f", {node} cordoned" if step.expect_cordon else ""), evidence)

    @staticmethod
    def _pods(ctx: StepContext, namespace: str, selector: str) -> list[KubeObject]:
        pods, _ = ctx.cluster.list("v1", "Pod", namespace, label_selector=selector)
        return pods

    def _read_xid_lines(self, ctx: StepContext, namespace: str, pod: str, node: str, seen: _Seen,
                        obj: KubeObject) -> None:
        """The XID lines of a crashed pod: its logs while it exists, else what its termination
        message kept (a drained pod's last state, seen in its DELETED event)."""
        found = False
        for previous in (True, False):
            try:
                text = ctx.cluster.pod_logs(namespace, pod, previous=previous)
            except ClusterError:
                continue
            found = self._note_lines(ctx, xid_lines(text), pod, node, seen,
                                     "previous" if previous else "current") or found
        if not found:
            hit = find_in_status(obj, XID_LINE)
            if hit is not None:
                self._note_lines(ctx, [hit[1]], pod, node, seen, "termination message")

    @staticmethod
    def _note_lines(ctx: StepContext, lines: list[str], pod: str, node: str, seen: _Seen,
                    where: str) -> bool:
        for line in lines[:5]:
            seen.xid_lines.append({"pod": pod, "log": where, "line": line})
        if lines:
            note_injection(ctx, lines[0], pod=pod, node=node, count=len(lines))
        return bool(lines)

    def _evidence(self, ctx: StepContext, node: str, pods: list[KubeObject],
                  seen: _Seen) -> tuple[Evidence, ...]:
        after = {pod_view(p).name: pod_view(p).node for p in pods if not pod_view(p).deleting}
        armed = ctx.state.armed_nodes.get(node)

        def since(t: float | None) -> float | None:
            return None if t is None or armed is None else round(t - armed, 3)

        timings = {"fault_armed": armed, "first_crash": seen.first_crash, "node_cordoned": seen.cordoned,
                   "ready_elsewhere": seen.recovered, "armed_to_first_crash_s": since(seen.first_crash),
                   "armed_to_cordon_s": since(seen.cordoned),
                   "armed_to_ready_elsewhere_s": since(seen.recovered)}
        # the pods that ran on the node when it was armed: those that crashed (the fault hit their
        # GPU) and those that left without crashing (drained: with one GPU of eight faulty, most)
        was_there = sorted(p for p, n in ctx.state.placements_before.items() if n == node)
        crashed = [p for p in was_there if ctx.state.crashes_marked.get(p, 0) > 0]
        drained = [p for p in was_there if p not in crashed and after.get(p) != node]
        return (
            Evidence("placement", f"before: {len(ctx.state.placements_before)} pod(s); after: "
                     f"{len(after)} pod(s), {sum(1 for n in after.values() if n == node)} on {node}; of "
                     f"{len(was_there)} on {node}, {len(crashed)} crashed and {len(drained)} drained",
                     {"before": dict(ctx.state.placements_before), "after": after,
                      "pods": pod_summaries(pods), "restarts": dict(seen.restarts),
                      "crashed": crashed, "drained": drained}),
            Evidence("log", f"{len(seen.xid_lines)} XID line(s) from crashed pods",
                     {"lines": seen.xid_lines}),
            Evidence("timing", "fault armed → first crash → node cordoned → Ready elsewhere", timings),
        )
