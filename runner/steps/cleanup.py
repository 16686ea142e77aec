"""The `cleanup` step: undo everything the run changed so far, then check nothing of ours is left.

It stops background work first (the toggle renewer, so nothing re-arms a disarmed node), then asks
the engine to apply every recorded undo action still pending (`ctx.undo_recorded()`: restore
templates, delete the ConfigMap and helper pods, disarm toggle files, uncordon nodes this run
cordoned, in reverse order), which also verifies each. Nodes cordoned by remediation are left as
they are. With `verify` it fails when anything is still changed. It makes no change of its own.
"""

from __future__ import annotations

from typing import ClassVar

from runner.kernel.step import Evidence, PlannedChange, RunState, StepContext, StepOutcome, StepStatus
from runner.scenario.model import CleanupStep, Scenario, StepKind


class CleanupImpl:
    kind: ClassVar[StepKind] = StepKind.CLEANUP

    def plan(self, step: CleanupStep, scenario: Scenario, state: RunState) -> list[PlannedChange]:
        return [PlannedChange("every change recorded so far", "undo",
                              "reverse order: restore templates, delete created objects, disarm "
                              "toggle files, uncordon nodes this run cordoned")]

    def run(self, step: CleanupStep, ctx: StepContext) -> StepOutcome:
        report = ctx.undo_recorded()  # stops the renewers first
        undone, left = list(report.undone), list(report.left)
        if ctx.state.armed_nodes and ctx.state.disarmed_at is None:
            ctx.state.disarmed_at = ctx.clock.time()
            for node in ctx.state.armed_nodes:
                ctx.timeline("fault-disarmed", "by cleanup", node=node)
        ctx.timeline("cleanup", f"{len(undone)} change(s) undone, {len(left)} left")
        evidence = [Evidence("note", f"undid {len(undone)} recorded change(s)",
                             {"undone": undone, "left": left})]
        if left and step.verify:
            return StepOutcome(StepStatus.FAILED, "still changed: " + "; ".join(left), tuple(evidence))
        return StepOutcome(StepStatus.PASSED,
                           "everything the run changed is back" if not left else
                           f"{len(left)} thing(s) still changed (verify off)", tuple(evidence),
                           tuple(f"undid: {d}" for d in undone))
