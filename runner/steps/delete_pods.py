"""The `delete-pods` step: delete target pods (optionally only on one node, at most `count`).

A stand-in for a node drainer or an operator's eviction. Deleted pods are recreated by their
controller, so nothing is journaled (there is nothing to undo); an Event goes on the workload and
each deletion is a timeline point. It never deletes pods that are not the scenario's target pods.
"""

from __future__ import annotations

from typing import ClassVar

from runner.cluster.protocol import ObjectRef
from runner.errors import NotFound
from runner.kernel.step import Evidence, PlannedChange, RunState, StepContext, StepOutcome, StepStatus
from runner.scenario.model import DeletePodsStep, Scenario, StepKind
from runner.steps.common import emit, live_target_pods, pod_summaries
from runner.workload.kinds import workload_ref
from runner.workload.views import pod_view


def _node(step: DeletePodsStep, state: RunState) -> str:
    return state.resolve_node(step.node) if step.node else ""


class DeletePodsImpl:
    kind: ClassVar[StepKind] = StepKind.DELETE_PODS

    def plan(self, step: DeletePodsStep, scenario: Scenario, state: RunState) -> list[PlannedChange]:
        where = f" on node {_node(step, state)}" if step.node else ""
        many = f"at most {step.count}" if step.count else "all"
        return [PlannedChange(str(workload_ref(scenario.target)), "delete pods",
                              f"{many} target pods{where} (grace {step.grace_period}s)")]

    def run(self, step: DeletePodsStep, ctx: StepContext) -> StepOutcome:
        node = _node(step, ctx.state)
        pods = [p for p in live_target_pods(ctx)
                if not node or pod_view(p).node == node]
        chosen = pods[: step.count] if step.count else pods
        deleted = []
        for pod in chosen:
            view = pod_view(pod)
            try:
                ctx.cluster.delete(ObjectRef("v1", "Pod", view.namespace, view.name),
                                   grace_period_seconds=step.grace_period)
            except NotFound:
                continue
            deleted.append(view)
            ctx.timeline("pod-deleted", node=view.node, pod=view.name)
        if deleted:
            emit(ctx, workload_ref(ctx.scenario.target), "ChaosPodsDeleted",
                 f"deleted {len(deleted)} pod(s): {', '.join(v.name for v in deleted)}")
        ctx.progress(f"deleted {len(deleted)} pod(s)", pods=pod_summaries(deleted))
        return StepOutcome(StepStatus.PASSED, f"deleted {len(deleted)} pod(s)"
                           + (f" on {node}" if node else ""),
                           (Evidence("placement", f"deleted {len(deleted)} pod(s)",
                                     {"pods": pod_summaries(deleted)}),),
                           tuple(f"deleted pod {v.name}" for v in deleted))
