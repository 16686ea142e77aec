"""The `cordon` and `uncordon` steps: stand-ins for node remediation (e.g. NVSentinel).

Each journals `SetUnschedulable` with the node's previous value before changing it, emits an Event
on the node and adds a timeline point, so cleanup uncordons only nodes this run cordoned. They
never evict pods.
"""

from __future__ import annotations

from typing import ClassVar

from runner.kernel.step import Evidence, PlannedChange, RunState, StepContext, StepOutcome, StepStatus
from runner.kernel.undo import SetUnschedulable
from runner.scenario.model import CordonStep, Scenario, StepKind, UncordonStep
from runner.steps.common import emit, node_ref
from runner.workload.views import node_view


def _set(step: CordonStep | UncordonStep, ctx: StepContext, value: bool) -> StepOutcome:
    node = ctx.state.resolve_node(step.node)
    ref = node_ref(node)
    before = node_view(ctx.cluster.get(ref)).unschedulable
    verb = "cordon" if value else "uncordon"
    if before == value:
        return StepOutcome(StepStatus.PASSED, f"node {node} already {verb}ed",
                           (Evidence("condition", f"{node} unschedulable={before}", {"node": node}),))
    ctx.record_undo(SetUnschedulable(node, before))
    ctx.cluster.merge_patch(ref, {"spec": {"unschedulable": True if value else None}})
    ctx.timeline(f"node-{verb}ed", node=node)
    emit(ctx, ref, "ChaosCordon" if value else "ChaosUncordon", f"node {verb}ed by a chaos step")
    return StepOutcome(StepStatus.PASSED, f"{verb}ed node {node}",
                       (Evidence("condition", f"{node} unschedulable {before} → {value}",
                                 {"node": node, "before": before, "after": value}),),
                       (f"{verb}ed {node}",))


class CordonImpl:
    kind: ClassVar[StepKind] = StepKind.CORDON

    def plan(self, step: CordonStep, scenario: Scenario, state: RunState) -> list[PlannedChange]:
        return [PlannedChange(f"node {state.resolve_node(step.node)}", "cordon",
                              {"spec": {"unschedulable": True}})]

    def run(self, step: CordonStep, ctx: StepContext) -> StepOutcome:
        return _set(step, ctx, True)


class UncordonImpl:
    kind: ClassVar[StepKind] = StepKind.UNCORDON

    def plan(self, step: UncordonStep, scenario: Scenario, state: RunState) -> list[PlannedChange]:
        return [PlannedChange(f"node {state.resolve_node(step.node)}", "uncordon",
                              {"spec": {"unschedulable": None}})]

    def run(self, step: UncordonStep, ctx: StepContext) -> StepOutcome:
        return _set(step, ctx, False)
