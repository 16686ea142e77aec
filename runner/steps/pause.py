"""The `pause` step: let time pass (observe the system under fault) without changing anything.

It sleeps through the injected clock in slices of at most a second, so a signal or the deadline
is noticed promptly; running out of step time raises DeadlineExceeded.
"""

from __future__ import annotations

from typing import ClassVar

from runner.errors import DeadlineExceeded
from runner.kernel.step import PlannedChange, RunState, StepContext, StepOutcome, StepStatus, remaining
from runner.scenario.model import PauseStep, Scenario, StepKind

SLICE_S = 1.0


class PauseImpl:
    kind: ClassVar[StepKind] = StepKind.PAUSE

    def plan(self, step: PauseStep, scenario: Scenario, state: RunState) -> list[PlannedChange]:
        return []

    def run(self, step: PauseStep, ctx: StepContext) -> StepOutcome:
        end = ctx.clock.monotonic() + step.duration.seconds
        while (left := end - ctx.clock.monotonic()) > 0:
            if remaining(ctx) <= 0:
                raise DeadlineExceeded(f"pause of {step.duration} outlasted the step's time")
            ctx.clock.sleep(min(SLICE_S, left, remaining(ctx)))
            ctx.progress(f"paused {step.duration.seconds - max(0.0, end - ctx.clock.monotonic()):.0f}s "
                         f"of {step.duration}")
        return StepOutcome(StepStatus.PASSED, f"paused {step.duration}")
