"""The `cordon` and `uncordon` steps: stand-ins for node remediation (e.g. NVSentinel).

Each journals `SetUnschedulable` with the node's previous value before changing it, emits an Event
on the node and adds a timeline point. Cordon remembers the node in `state.cordoned_by_us`, so
cleanup uncordons only nodes this run cordoned. They never evict pods.
"""

from __future__ import annotations

from typing import ClassVar

from runner.cluster.objects import node_view
from runner.scenario.model import CordonStep, Scenario, StepBase, StepKind, UncordonStep
from runner.steps.base import Evidence, PlannedChange, RunState, StepContext, StepOutcome, StepStatus
from runner.steps.common import emit, node_ref, record
from runner.steps.undo import SetUnschedulable


def _set(step: StepBase, ctx: StepContext, value: bool) -> StepOutcome:
    node = ctx.state.resolve_node(getattr(step, "node", ""))
    ref = node_ref(node)
    before = node_view(ctx.cluster.get(ref)).unschedulable
    verb = "cordon" if value else "uncordon"
    if before == value:
        return StepOutcome(StepStatus.PASSED, f"node {node} already {verb}ed",
                           (Evidence("condition", f"{node} unschedulable={before}", {"node": node}),))
    record(ctx, SetUnschedulable(node, before))
    ctx.cluster.merge_patch(ref, {"spec": {"unschedulable": True if value else None}})
    if value:
        ctx.state.cordoned_by_us.add(node)
    else:
        ctx.state.cordoned_by_us.discard(node)
    ctx.timeline(f"node-{verb}ed", node=node)
    emit(ctx, ref, "ChaosCordon" if value else "ChaosUncordon", f"node {verb}ed by a chaos step")
    return StepOutcome(StepStatus.PASSED, f"{verb}ed node {node}",
                       (Evidence("condition", f"{node} unschedulable {before} → {value}",
                                 {"node": node, "before": before, "after": value}),),
                       (f"{verb}ed {node}",))


class CordonImpl:
    kind: ClassVar[StepKind] = StepKind.CORDON

    def plan(self, step: StepBase, scenario: Scenario, state: RunState) -> list[PlannedChange]:
        assert isinstance(step, CordonStep)
        return [PlannedChange(f"node {state.resolve_node(step.node)}", "cordon",
                              {"spec": {"unschedulable": True}})]

    def run(self, step: StepBase, ctx: StepContext) -> StepOutcome:
        return _set(step, ctx, True)


class UncordonImpl:
    kind: ClassVar[StepKind] = StepKind.UNCORDON

    def plan(self, step: StepBase, scenario: Scenario, state: RunState) -> list[PlannedChange]:
        assert isinstance(step, UncordonStep)
        return [PlannedChange(f"node {state.resolve_node(step.node)}", "uncordon",
                              {"spec": {"unschedulable": None}})]

    def run(self, step: StepBase, ctx: StepContext) -> StepOutcome:
        return _set(step, ctx, False)
