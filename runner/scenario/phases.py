"""Where a scenario's probe phases begin, read off its steps (pure; no clock, no cluster).

A background probe files each request under the phase it was sent in (DESIGN.md §1): `setup` until
the step that arms the fault begins, `fault` until the last step after arming and before cleanup
ends (a pause does not count: it is what separates the last assertion from cleanup), `recovered`
until cleanup or rollback starts, `rollback` to the end. The engine stamps the times as the run
reaches these steps; `chaos validate` uses the same answers to warn about a phase that can never
carry requests.
"""

from __future__ import annotations

from runner.scenario.model import CleanupStep, FaultMode, PatchStep, PauseStep, Scenario, ToggleStep


def arming_step(scenario: Scenario) -> int | None:
    """Index of the step that arms the fault (a toggle that enables it, or a patch when the
    shim loads armed), or None when the scenario never arms one."""
    for i, step in enumerate(scenario.steps):
        if isinstance(step, ToggleStep) and step.enabled:
            return i
        if isinstance(step, PatchStep) and (scenario.fault.mode is FaultMode.IMMEDIATE
                                            or not step.passthrough):
            return i
    return None


def cleanup_step(scenario: Scenario, after: int = 0) -> int | None:
    """Index of the first cleanup step at or after `after`, or None."""
    return next((i for i, s in enumerate(scenario.steps)
                 if i >= after and isinstance(s, CleanupStep)), None)


def recovery_step(scenario: Scenario) -> int | None:
    """Index of the step whose end starts the `recovered` phase: the last step after arming and
    before the first cleanup that is not a pause (the arming step itself when nothing follows it);
    None when nothing arms the fault."""
    arming = arming_step(scenario)
    if arming is None:
        return None
    end = cleanup_step(scenario, arming)
    end = len(scenario.steps) if end is None else end
    proving = [i for i in range(arming, end) if not isinstance(scenario.steps[i], PauseStep)]
    return proving[-1] if proving else arming


def pause_before_cleanup(scenario: Scenario) -> bool:
    """True when a pause follows the recovery step before cleanup (the recovered phase then has
    time to carry requests); False when nothing arms the fault."""
    last = recovery_step(scenario)
    if last is None:
        return False
    end = cleanup_step(scenario, last)
    end = len(scenario.steps) if end is None else end
    return any(isinstance(scenario.steps[i], PauseStep) for i in range(last + 1, end))
