"""The `assert` step: pod, node and log expectations that must hold now, or come to hold `within`.

Each expectation reports what it saw; the step is FAILED (a result, not an error) with the parts
that did not hold. With `within` it re-checks on every pod change (watch-driven, logs at least every
few seconds) until all hold or the time is up. It changes nothing.
"""

from __future__ import annotations

import re
from typing import ClassVar

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
from runner.scenario.model import (
    AssertStep,
    LogExpectation,
    NodeExpectation,
    PodExpectation,
    Scenario,
    StepKind,
)
from runner.shimwire import xid_lines
from runner.steps.common import live_target_pods, node_ref, pod_summaries
from runner.steps.wait import note_injection
from runner.workload.views import PodView, node_view, pod_view


def check_pods(exp: PodExpectation, pods: list[PodView], state: RunState) -> list[str]:
    node = state.resolve_node(exp.node) if exp.node else ""
    chosen = [p for p in pods if not p.deleting and (not node or p.node == node)]
    where = f" on {node}" if node else ""
    ready = sum(1 for p in chosen if p.ready)
    most = max((p.restarts for p in chosen), default=0)
    bad = []
    if exp.ready is not None and ready != exp.ready:
        bad.append(f"{ready} Ready pod(s){where}, expected {exp.ready}")
    if exp.min_ready is not None and ready < exp.min_ready:
        bad.append(f"{ready} Ready pod(s){where}, expected at least {exp.min_ready}")
    if exp.min_restarts is not None and most < exp.min_restarts:
        bad.append(f"most restarts{where} {most}, expected at least {exp.min_restarts}")
    if exp.max_restarts is not None and most > exp.max_restarts:
        bad.append(f"a pod{where} restarted {most} time(s), expected at most {exp.max_restarts}")
    if exp.phase:
        off = sorted(f"{p.name}={p.phase}" for p in chosen if p.phase != exp.phase)
        if off or not chosen:
            bad.append(f"pods{where} not {exp.phase}: {', '.join(off) or 'none selected'}")
    return bad


def check_node(exp: NodeExpectation, ctx: StepContext) -> list[str]:
    name = ctx.state.resolve_node(exp.node)
    try:
        view = node_view(ctx.cluster.get(node_ref(name)))
    except NotFound:
        return [f"node {name} does not exist"]
    bad = []
    if exp.cordoned is not None and view.unschedulable != exp.cordoned:
        bad.append(f"node {name} is {'' if view.unschedulable else 'not '}cordoned")
    if exp.condition and view.conditions.get(exp.condition) != exp.status:
        bad.append(f"node {name} {exp.condition}={view.conditions.get(exp.condition, 'absent')}, "
                   f"expected {exp.status}")
    return bad


def count_log_matches(exp: LogExpectation, pods: list[PodView], ctx: StepContext) -> tuple[int, list[str]]:
    pattern = re.compile(exp.pattern)
    count, lines = 0, list[str]()
    for p in pods:
        for previous in (False, True):
            if previous and not p.restarts:
                continue
            try:
                text = ctx.cluster.pod_logs(p.namespace, p.name, previous=previous)
            except ClusterError:
                continue
            for line in text.splitlines():
                if pattern.search(line):
                    count += 1
                    if len(lines) < 10:
                        lines.append(f"{p.name}: {line[:300]}")
    return count, lines


class AssertImpl:
    kind: ClassVar[StepKind] = StepKind.ASSERT

    def plan(self, step: AssertStep, scenario: Scenario, state: RunState) -> list[PlannedChange]:
        return []

    def run(self, step: AssertStep, ctx: StepContext) -> StepOutcome:
        seen: dict[str, object] = {}

        def evaluate() -> list[str]:
            pods = [pod_view(p) for p in live_target_pods(ctx)]
            seen["pods"] = pod_summaries(pods)
            bad: list[str] = []
            if step.pods is not None:
                bad += check_pods(step.pods, pods, ctx.state)
            if step.node is not None:
                bad += check_node(step.node, ctx)
            if step.logs is not None:
                count, lines = count_log_matches(step.logs, pods, ctx)
                seen["log_lines"] = lines
                if count < step.logs.min_count:
                    bad.append(f"{count} log line(s) match {step.logs.pattern!r}, expected at least "
                               f"{step.logs.min_count}")
            return bad

        failed = evaluate()
        if failed and step.within is not None:
            try:
                wait_for(ctx.cluster, Watched.pods(ctx.scenario.target.namespace, ctx.state.selector),
                         lambda _pods: not evaluate(), deadline=deadline_within(ctx, step.within.seconds),
                         clock=ctx.clock, gate=ctx.gate, what="the assertion")
                failed = []
            except DeadlineExceeded:
                failed = evaluate()
        lines = seen.get("log_lines")
        if isinstance(lines, list) and lines and not failed:
            xid = [line for line in lines if xid_lines(line)]
            if xid:
                note_injection(ctx, xid[0], count=len(xid))
        evidence = (Evidence("condition", "; ".join(failed) or "all expectations held", dict(seen)),)
        if failed:
            when = f" within {step.within}" if step.within is not None else ""
            return StepOutcome(StepStatus.FAILED, f"did not hold{when}: " + "; ".join(failed), evidence)
        return StepOutcome(StepStatus.PASSED, "all expectations held", evidence)
