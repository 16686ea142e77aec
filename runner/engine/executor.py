"""The executor: preflight, then each step in order under its deadline, then rollback and verdict.

Why it exists: one place decides the order of a run and what each ending means (DESIGN.md §1, §6),
whoever drives it: `chaos run` runs a whole scenario (`run()`), the Python API's FaultInjector and
the pytest plugin drive the same executor one step at a time (`open()`, `step()`, `rollback()`,
`close()`), so journal, mirror, preflight, signals and deadlines are the same code for both.

Steps come from the `StepTable` the entry point hands over (the engine imports no step kind);
every change a step makes is journaled first through `StepContext.record_undo`. Deadlines are
absolute points on the clock: a step's is its own timeout or what is left of the scenario's,
whichever comes sooner; waits raise DeadlineExceeded, and a step that returns after its deadline is
an error all the same. The interrupt gate turns SIGINT/SIGTERM into `Interrupted` at a safe point;
rollback then runs to its end whatever further signals arrive.

Every cluster call has a deadline (runner/cluster/deadline.py): preflight's is the scenario's, a
step's calls end by the step's, and the teardown (stopping background work, every undo, the
after-check, releasing the Leases) shares its own budget, `settings.rollback-timeout`, which
starts when the steps end. Each undo gets what is left of it; once it is spent the rest are not
attempted and are listed as left. So a run ends within `timeout` + `rollback-timeout` however slow
or frozen the API server is, and one that could not finish says what is left (exit 5).

Rollback policy (settings.rollback):
- on-failure (default): a failed, errored, timed-out or interrupted run undoes every recorded
  change not yet undone. A passing run also ends by undoing whatever the scenario's cleanup step
  did not already undo, so a scenario without a cleanup step never leaves the cluster dirty.
- always: as on-failure, and at the end every recorded change is undone again (undo actions are
  idempotent) and verified, even those the cleanup step already undid.
- never: nothing is undone; the verdict is the one the steps earned and the reason says
  "rollback skipped by policy; run chaos recover RUN_DIR". The journal mirror is kept.

This module must not import the kubernetes client, Rich, Typer or a step kind, and never reads
os.environ: everything comes in through RunOptions and the scenario's (effective) settings.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import secrets
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runner.cluster.deadline import until
from runner.cluster.protocol import Cluster
from runner.engine.events import RunListener, SafeListener
from runner.engine.journal import (
    JOURNAL_FILE,
    Journal,
    JournalContents,
    JournalError,
    Mirror,
    PendingUndo,
    parse_journal,
    read_journal,
)
from runner.engine.leases import (
    ENGINE_UNDO_KINDS,
    Leases,
    TargetHeld,
    held_by_another,
    node_lease,
    workload_lease,
)
from runner.engine.preflight import PreflightReport, preflight
from runner.engine.probe_result import ProbeResult
from runner.engine.probe_stats import slo_verdict
from runner.engine.probes import PhaseClock, ProbeRunner
from runner.engine.recover import cluster_journals
from runner.engine.result import (
    FaultSummary,
    RollbackResult,
    RunResult,
    StepResult,
    TimelineEvent,
    UndoOutcome,
    Verdict,
)
from runner.engine.rollback import leftovers, undo_pending
from runner.errors import (
    ChaosError,
    ClusterError,
    DeadlineExceeded,
    InputError,
    Interrupted,
    PreflightError,
)
from runner.kernel.admission import PodSecurityNeed, scenario_needs
from runner.kernel.clock import Clock, SystemClock
from runner.kernel.signals import InterruptGate
from runner.kernel.step import (
    JsonValue,
    PlannedChange,
    RunState,
    StepOutcome,
    StepStatus,
    StepTable,
    UndoReport,
)
from runner.kernel.undo import UndoAction, UndoKinds
from runner.scenario.model import RollbackPolicy, Scenario, StepBase, StepKind
from runner.scenario.phases import arming_step, recovery_step
from runner.settings import RunOptions
from runner.workload.kinds import workload_ref

log = logging.getLogger("chaos.engine")
LEASE_STEP = "<lease>"  # the journal's step name for Lease entries (no step of a scenario has it)

ReportWriter = Callable[[RunResult, Path], object]


def _changes(items: list[PendingUndo]) -> list[PendingUndo]:
    """The run's changes, without its Leases (which outlive every step and the rollback)."""
    return [p for p in items if p.step != LEASE_STEP]


def _left_changed(cluster: Cluster, run_id: str, namespace: str, kinds: UndoKinds) -> bool:
    """Did run `run_id` leave undone changes (its journal's cluster copy holds pending undos)?"""
    for _rid, _ns, text in cluster_journals(cluster, run_id=run_id, namespace=namespace):
        try:
            contents: JournalContents = parse_journal(text, kinds, "journal copy")
            if _changes(contents.pending()):
                return True
        except ChaosError:
            return True  # an unreadable journal may hold anything: treat it as dirty
    return False


def new_run_id(clock: Clock) -> str:
    """Short and unique: `<yyyymmdd-hhmmss>-<6 hex>` (UTC)."""
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime(clock.time())) + "-" + secrets.token_hex(3)


def default_run_dir(root: Path, run_id: str) -> Path:
    """`<root>/<run id>`: the name the journal, the cluster copy and the labels use too, unique
    even for two scenarios of one name started in the same second."""
    return root / run_id


def arms_fault(scenario: Scenario) -> int | None:
    """Index of the step that arms the fault (a toggle that enables it, or a patch when the
    shim loads armed), or None when the scenario never arms one."""
    return arming_step(scenario)


@dataclass(frozen=True)
class PlanItem:
    step: StepBase
    changes: tuple[PlannedChange, ...]


def plan_scenario(scenario: Scenario, steps: StepTable, *, state: RunState | None = None) -> list[PlanItem]:
    """Every change the run would make, in order (each step's plan()); touches nothing."""
    state = state or RunState(target_node=f"<{scenario.target.node}: chosen at preflight>"
                              if scenario.target.node == "auto" else scenario.target.node)
    return [PlanItem(step, tuple(steps.impl_for(step).plan(step, scenario, state)))
            for step in scenario.steps]


def pod_security_needs(scenario: Scenario, steps: StepTable) -> list[PodSecurityNeed]:
    """What each step's pods would need of the target namespace's Pod Security level."""
    return scenario_needs(scenario, ((step, steps.impl_for(step)) for step in scenario.steps))


def step_preflight(scenario: Scenario, steps: StepTable, cluster: Cluster,
                   report: PreflightReport) -> PreflightReport:
    """Each step kind's own read-only preflight check (`preflight_check(step, scenario, cluster)`,
    where an implementation has one: the patch step's refusal of what an install cannot serve):
    a PreflightError refuses the run; what they return are notes added to the report's warnings."""
    notes: list[str] = []
    for step in scenario.steps:
        check = getattr(steps.impl_for(step), "preflight_check", None)
        if check is not None:
            notes.extend(check(step, scenario, cluster))
    if not notes:
        return report
    return dataclasses.replace(report, warnings=(*report.warnings, *notes))


@dataclass(frozen=True)
class DryRun:
    """What `chaos run --dry-run` shows: preflight's findings (or refusal) and the plan."""

    preflight: PreflightReport | None
    refused: str
    plan: list[PlanItem]

    @property
    def exit_code(self) -> int:
        return 3 if self.refused else 0


def dry_run(scenario: Scenario, cluster: Cluster, options: RunOptions, steps: StepTable) -> DryRun:
    """Preflight (read-only) plus the plan, with the real target node; its calls end by the
    scenario's timeout, as a run's preflight does."""
    clock = SystemClock()
    deadline = clock.monotonic() + scenario.settings.timeout.seconds
    try:
        with cluster.deadline(until(deadline, clock.monotonic), "the scenario's timeout"):
            report = preflight(cluster, scenario, yes=options.yes,
                               needs=pod_security_needs(scenario, steps))
            report = step_preflight(scenario, steps, cluster, report)
    except (PreflightError, ClusterError) as exc:
        return DryRun(None, str(exc), plan_scenario(scenario, steps))
    state = RunState(target_node=report.target_node, selector=report.selector,
                     placements_before=dict(report.placements))
    return DryRun(report, "", plan_scenario(scenario, steps, state=state))


class _Context:
    """The StepContext one step gets."""

    def __init__(self, run: Executor, step: StepBase, deadline: float) -> None:
        self._run = run
        self._step = step
        self.deadline = deadline
        self.cluster = run.cluster
        self.scenario = run.scenario
        self.run_id = run.run_id
        self.clock = run.clock
        self.gate = run.gate
        self.state = run.state

    def record_undo(self, action: UndoAction) -> int:
        return self._run.record_undo(action, self._step.name)

    def record_applied(self, recorded: int, action: UndoAction) -> None:
        self._run.record_applied(recorded, action)

    def progress(self, message: str, **data: JsonValue) -> None:
        self._run.listener.step_progress(self._step, message, dict(data))

    def timeline(self, kind: str, message: str = "", *, node: str = "", pod: str = "") -> None:
        self._run.mark(kind, message, node=node, pod=pod, step=self._step.name)

    def undo_recorded(self) -> UndoReport:
        return self._run.undo_now()

    def hold_node(self, node: str) -> None:
        self._run.hold([(node_lease(node), f"node {node}")])


class Executor:
    """One run of one scenario against one cluster: `run()` once, or `open()`, `step()` for each
    step wanted, then `close()` (always: it rolls back whatever is left)."""

    def __init__(self, scenario: Scenario, cluster: Cluster, options: RunOptions | None = None, *,
                 steps: StepTable, listener: RunListener | None = None, clock: Clock | None = None,
                 report_writer: ReportWriter | None = None, gate: InterruptGate | None = None,
                 run_id: str | None = None, echo: Callable[[str], None] | None = None,
                 keep: bool = False) -> None:
        self.scenario = scenario
        # keep: an install (`chaos install`): a run that passes keeps its changes (and its journal's
        # cluster copy, the install's record) and releases its Leases; one that does not is undone
        self.keep = keep
        self.cluster = cluster
        self.options = options or RunOptions(scenario_path=scenario.path)
        self.steps = steps
        self.undo_kinds = steps.undo_kinds.including(*ENGINE_UNDO_KINDS)
        self.gate = gate or InterruptGate()
        self.clock: Clock = clock or SystemClock(self.gate)
        self.listener = SafeListener(listener)
        self.report_writer = report_writer
        self._echo = echo
        self._rollback_signals: list[str] = []  # noted by the signal handler, told after each undo
        self.run_id = run_id or new_run_id(self.clock)
        self.run_dir = self.options.run_dir or default_run_dir(self.options.reports_root, self.run_id)
        self.state = RunState(allow_privileged=self.options.allow_privileged)
        self.timeline: list[TimelineEvent] = []
        self.results: list[StepResult] = []
        self.journal: Journal | None = None
        self._journal_failed = ""
        self._leases: Leases | None = None
        self._started_at = 0.0
        self._scenario_deadline = math.inf
        self._rollback_deadline: float | None = None  # set when the teardown starts
        # the background probes: from before the first step until the rollback is finished
        self.phases = PhaseClock()
        self.probes = ProbeRunner(scenario.probes, cluster, scenario.target.namespace, self.clock,
                                  self.run_dir, self.phases)
        self._arming_step = arming_step(scenario)
        self._recovery_step = recovery_step(scenario)

    # --- used by step contexts ------------------------------------------------------------------

    def record_undo(self, action: UndoAction, step: str) -> int:
        journal = self._journal()
        with self.gate.critical():
            try:
                return journal.record_undo(action, step)
            except JournalError as exc:
                self._journal_failed = str(exc)
                raise

    def record_applied(self, seq: int, action: UndoAction) -> None:
        journal = self._journal()
        with self.gate.critical():
            try:
                journal.record_applied(seq, action)
            except JournalError as exc:  # the first undo still stands: less precise, still safe
                log.warning("could not journal how %s landed: %s", action.describe(), exc)

    def mark(self, kind: str, message: str = "", *, node: str = "", pod: str = "",
             step: str = "") -> None:
        at = self.clock.time()
        self.timeline.append(TimelineEvent(at, kind, message, node, pod, step))
        if kind == "fault-armed":
            self.phases.armed(at)  # (when no step was seen arming: the API's step-at-a-time use)

    def undo_now(self) -> UndoReport:
        """Stop background work, undo every recorded change not yet undone (reverse order, each
        journaled) and say what is still changed (the cleanup step and the API's rollback). The
        run's Leases stay: they are released once the run is over."""
        self._stop_background()
        contents = self._journal().contents()
        deadline = self.clock.monotonic() + self.scenario.settings.rollback_timeout.seconds
        with self.cluster.deadline(until(deadline, self.clock.monotonic), "the rollback"):
            outcomes = undo_pending(self.cluster, self.clock, self.journal,
                                    _changes(contents.pending()), self.listener.undo_done,
                                    deadline=deadline, budget=self._budget_name())
            failed = [f"{o.description}: {o.message}" for o in outcomes if not o.ok]
            left = failed + leftovers(self.cluster, _changes(contents.recorded()), self.run_id,
                                      self.scenario.target.namespace)
        return UndoReport(tuple(o.description for o in outcomes if o.ok), tuple(left))

    def _budget_name(self) -> str:
        return f"settings.rollback-timeout ({self.scenario.settings.rollback_timeout})"

    def _scenario_scope(self) -> AbstractContextManager[None]:
        """Preflight's calls (and anything else outside a step) end by the scenario's deadline."""
        return self.cluster.deadline(until(self._scenario_deadline, self.clock.monotonic),
                                     f"the scenario's timeout ({self.scenario.settings.timeout})")

    def hold(self, wanted: list[tuple[str, str]]) -> None:
        """Take Leases (journaled first) before the changes they guard; TargetHeld if held."""
        if self._leases is None:
            state = self.scenario.settings.state_namespace
            self._leases = Leases(self.cluster, self.clock, state, self.run_id,
                                  journal=lambda action: self.record_undo(action, LEASE_STEP),
                                  applied=self.record_applied,
                                  left_changed=lambda holder: _left_changed(self.cluster, holder, state,
                                                                            self.undo_kinds))
        wanted = [(name, what) for name, what in wanted
                  if self._leases.ref(name) not in self._leases.held]
        self._leases.acquire(wanted)
        self._leases.keep()

    def _release_leases(self) -> None:
        """Release the run's Leases (the last thing a clean run does), journaling each."""
        if self._leases is None:
            return
        self._leases.stop()
        contents = self._journal().contents()
        undo_pending(self.cluster, self.clock, self.journal,
                     [p for p in contents.pending() if p.step == LEASE_STEP])

    def _journal(self) -> Journal:
        if self.journal is None:
            raise ChaosError("the run is not open")
        return self.journal

    # --- a whole run ----------------------------------------------------------------------------

    def run(self) -> RunResult:
        """Preflight, every step, rollback, verdict, reports."""
        self._start()
        verdict: Verdict | None = None
        reason = ""
        interrupted = ""
        try:
            with self._scenario_scope():
                verdict, reason = self._preflight_and_mirror()
            if verdict is None:
                self.probes.start()
                interrupted = self._all_steps()
        except Interrupted as exc:
            interrupted = str(exc)
        except JournalError:
            self.probes.stop()
            raise  # the run-start entry could not be written: nothing was changed
        except Exception as exc:  # an engine bug must still end in rollback
            log.exception("the run failed unexpectedly")
            verdict, reason = Verdict.FAILED, f"internal error: {type(exc).__name__}: {exc}"
        finally:
            self._enter_teardown()
        if interrupted and verdict is None:
            during = [r.name for r in self.results if r.status is StepStatus.INTERRUPTED]
            where = f" during step {during[0]}" if during else ""
            verdict, reason = Verdict.INTERRUPTED, f"interrupted ({interrupted}){where}"
        self._fill_skipped()
        return self._finish(verdict, reason)

    def _all_steps(self) -> str:
        """Run the steps in order; returns the interruption, if one stopped them."""
        for step in self.scenario.steps:
            self.gate.checkpoint()  # a signal that arrived between steps stops here
            result = self._run_one(step)
            if result.status is StepStatus.INTERRUPTED:
                return result.message or "interrupted"
            if result.status in (StepStatus.FAILED, StepStatus.ERROR):
                break
        self.gate.checkpoint()  # a signal during the last step's bookkeeping still counts
        return ""

    # --- one step at a time (the Python API) ----------------------------------------------------

    def open(self) -> PreflightReport:
        """Start the journal, run preflight, mirror the journal and take the target's Leases: a
        PreflightError (TargetHeld when another run holds it) or a ClusterError here means
        nothing was changed."""
        self._start()
        try:
            with self._scenario_scope():
                report = self._preflight()
                self._mirror()
                self.hold(self._wanted_leases(report))
        except BaseException:
            self._finish(Verdict.INCONCLUSIVE, "preflight refused")
            raise
        self.probes.start()
        return report

    def step(self, name: str) -> StepResult:
        """Run the scenario's step `name` now, under its deadline and the scenario's."""
        step = next((s for s in self.scenario.steps if s.name == name), None)
        if step is None:
            raise ChaosError(f"the scenario has no step {name!r}")
        return self._run_one(step)

    def close(self, verdict: Verdict | None = None, reason: str = "") -> RunResult:
        """Stop background work, roll back by the scenario's policy, end the journal, write the
        reports. `verdict` None: decided from the steps that ran."""
        self._enter_teardown()
        return self._finish(verdict, reason)

    # --- internals ------------------------------------------------------------------------------

    def _start(self) -> None:
        self._prepare_run_dir()
        mirror = Mirror(self.cluster, self.run_id, self.scenario.settings.state_namespace)
        self.journal = Journal(self.run_dir / JOURNAL_FILE, self.run_id, self.clock,
                               self.undo_kinds, mirror)
        self._started_at = self.clock.time()
        self._scenario_deadline = self.clock.monotonic() + self.scenario.settings.timeout.seconds
        self.listener.run_started(self.scenario, self.run_id, str(self.run_dir), self.cluster.description)
        self.journal.run_start(scenario_path=self.options.scenario_path or self.scenario.path,
                               scenario=self.scenario.metadata.name,
                               namespace=self.scenario.target.namespace,
                               workload=str(workload_ref(self.scenario.target)),
                               state_namespace=self.scenario.settings.state_namespace,
                               cluster=self.cluster.description, run_dir=str(self.run_dir),
                               tool_version=self.options.tool_version)

    def _stop_background(self) -> None:
        # background work (the toggle's dead-man renewer) stops before anything is undone, so a
        # late renewal cannot re-arm a node that rollback disarmed
        try:
            self.state.stop_background()
        except Exception as exc:  # noqa: BLE001 - a broken renewer must not stop the rollback
            log.warning("stopping background work failed: %s", exc)

    def _enter_teardown(self) -> None:
        if self._rollback_deadline is None:  # the teardown's own budget starts as the steps end
            self._rollback_deadline = (self.clock.monotonic()
                                       + self.scenario.settings.rollback_timeout.seconds)
        self._stop_background()  # (not the probes: they measure the rollback too)
        self.phases.rollback(self.clock.time())
        # from here on a signal is only noted: rollback must finish
        self.gate.on_rollback_signal = self._signal_during_rollback
        self.gate.rolling_back = True

    def _signal_during_rollback(self, name: str) -> None:
        # Called from the signal handler: only note it. Printing here could re-enter a write the
        # main thread is in the middle of (the buffered stream then repeats or drops output, seen
        # as a line printed many times); the notice is given in the main thread after each undo.
        self._rollback_signals.append(name)

    def _rollback_notices(self) -> None:
        """Say, from the main thread, that a signal during rollback was noted and how to finish."""
        while self._rollback_signals:
            name = self._rollback_signals.pop(0)
            left = ([p.action.describe() for p in self.journal.contents().pending()]
                    if self.journal else [])
            hint = (f"{name} received during rollback: it goes on. If it cannot finish, run: "
                    f"chaos recover {self.run_dir}")
            self.listener.rollback_signal(left, hint)
            if self._echo is not None:
                try:
                    self._echo(hint)
                    for item in left:
                        self._echo(f"  still to undo: {item}")
                except Exception as exc:  # noqa: BLE001 - printing must not break the rollback
                    log.warning("could not print the rollback notice: %s", exc)

    def _undo_done(self, outcome: UndoOutcome) -> None:
        self.listener.undo_done(outcome)
        self._rollback_notices()

    def _prepare_run_dir(self) -> None:
        path = self.run_dir / JOURNAL_FILE
        try:
            if path.exists():
                old = read_journal(path, self.undo_kinds)
                if old.pending():
                    raise PreflightError(f"{self.run_dir} holds the journal of run {old.run_id}, which "
                                         f"left changes not undone; run: chaos recover {self.run_dir}")
                kept = self.run_dir / f"journal.{old.run_id or 'old'}.jsonl"
                path.rename(kept)
                os.chmod(kept, 0o600)
            self.run_dir.parent.mkdir(parents=True, exist_ok=True)
            try:
                self.run_dir.mkdir(mode=0o700)  # the journal holds the workload's env values
            except FileExistsError:
                if not self.run_dir.is_dir():
                    raise
            else:
                os.chmod(self.run_dir, 0o700)  # mkdir's mode went through the umask
            probe = self.run_dir / f".chaos-write-test-{self.run_id}"
            probe.write_text("")  # a read-only directory must fail here, not at the first change
            probe.unlink()
        except OSError as exc:
            raise InputError(f"cannot use {self.run_dir} as the run directory: "
                             f"{exc.strerror or exc}; pick another with --report-dir") from None

    def _preflight(self) -> PreflightReport:
        try:
            report = preflight(self.cluster, self.scenario, yes=self.options.yes,
                               needs=pod_security_needs(self.scenario, self.steps))
            report = step_preflight(self.scenario, self.steps, self.cluster, report)
        except PreflightError as exc:
            # a workload another run is changing (its rollout half done) fails the health checks
            # before this run could ask for its Lease: name the holder, which is the real reason
            target = self.scenario.target
            ref = workload_ref(target)
            holder = held_by_another(self.cluster, self.scenario.settings.state_namespace,
                                     workload_lease(target.namespace, ref.kind, ref.name), self.run_id)
            if holder is None:
                raise
            raise TargetHeld(f"{ref} is held by {holder.says()}: one run per target. Wait for that "
                             f"run to end; nothing was changed ({exc})") from None
        self.state.target_node = report.target_node
        self.state.selector = report.selector
        self.state.placements_before = dict(report.placements)
        return report

    def _mirror(self) -> None:
        mirror = self._journal().mirror
        if mirror is not None:
            with self.gate.critical():
                mirror.write(self._journal().text)

    def _preflight_and_mirror(self) -> tuple[Verdict | None, str]:
        try:
            report = self._preflight()
        except (PreflightError, ClusterError) as exc:
            self.listener.preflight_done(False, str(exc), {})
            return Verdict.INCONCLUSIVE, f"preflight refused: {exc}"
        try:
            self._mirror()
        except ClusterError as exc:
            mirror = self._journal().mirror
            self.listener.preflight_done(False, str(exc), {})
            return Verdict.INCONCLUSIVE, (f"the journal could not be mirrored to "
                                          f"{mirror.ref if mirror else 'the cluster'} ({exc}); "
                                          "nothing was changed")
        try:
            self.hold(self._wanted_leases(report))
        except (PreflightError, ClusterError) as exc:
            self.listener.preflight_done(False, str(exc), {})
            return Verdict.INCONCLUSIVE, f"preflight refused: {exc}"
        except JournalError as exc:  # a Lease is journaled before it is taken: none was
            self.listener.preflight_done(False, str(exc), {})
            return Verdict.INCONCLUSIVE, (f"the target's Lease could not be journaled ({exc}); "
                                          "nothing was changed")
        self.listener.preflight_done(True, "; ".join((f"target node {report.target_node}",
                                                      *(f"warning: {w}" for w in report.warnings))),
                                     report.to_data())
        return None, ""

    def _wanted_leases(self, report: PreflightReport) -> list[tuple[str, str]]:
        """The workload, and every node the run may touch (a node's toggle file is shared by every
        namespace, so two runs on one node would fight over it)."""
        target = self.scenario.target
        ref = workload_ref(target)
        return [(workload_lease(target.namespace, ref.kind, ref.name), str(ref)),
                *((node_lease(node), f"node {node}") for node in report.nodes_affected)]

    def _run_one(self, step: StepBase) -> StepResult:
        index = self.scenario.steps.index(step)
        now = self.clock.monotonic()
        left = self._scenario_deadline - now
        own = step.timeout.seconds if step.timeout is not None else math.inf
        budget = max(0.0, min(own, left))
        self.listener.step_started(step, index, len(self.scenario.steps), budget)
        self.mark("step-start", step.kind.value, step=step.name)
        started = self.clock.time()
        if index == self._arming_step:
            self.phases.armed(started)  # the probes' fault phase: the fault may bite from here on
        if step.kind is StepKind.CLEANUP:
            self.phases.rollback(started)  # the probes' rollback phase begins
        lost = self._lost_leases()
        if lost:
            outcome = StepOutcome(StepStatus.ERROR, f"stopped before this step: {lost}")
        elif left <= 0:
            outcome = StepOutcome(StepStatus.ERROR, f"the scenario's timeout "
                                  f"({self.scenario.settings.timeout}) ran out before this step")
        else:
            outcome = self._outcome(step, now + budget)
        result = StepResult(step.name, step.kind.value, outcome.status, outcome.message, started,
                            self.clock.time(), tuple(outcome.evidence), tuple(outcome.changes),
                            step.line)
        self.results.append(result)
        if index == self._recovery_step and outcome.status is StepStatus.PASSED:
            self.phases.recovered(result.finished_at)  # the probes' recovered phase begins
        self.mark("step-end", outcome.status.value, step=step.name)
        self.listener.step_finished(result)
        return result

    def _outcome(self, step: StepBase, deadline: float) -> StepOutcome:
        ctx = _Context(self, step, deadline)
        try:
            with self.cluster.deadline(until(deadline, self.clock.monotonic), f"step {step.name}"):
                outcome = self.steps.impl_for(step).run(step, ctx)
        except Interrupted as exc:
            return StepOutcome(StepStatus.INTERRUPTED, str(exc))
        except DeadlineExceeded as exc:
            outcome = StepOutcome(StepStatus.ERROR, f"deadline exceeded: {exc}")
        except ChaosError as exc:
            outcome = StepOutcome(StepStatus.ERROR, str(exc))
        except Exception as exc:  # a bug in a step must still end in rollback, not a traceback
            log.exception("step %s raised", step.name)
            outcome = StepOutcome(StepStatus.ERROR, f"unexpected {type(exc).__name__}: {exc}")
        if self.gate.received and not self.gate.rolling_back:  # the step swallowed the Interrupted
            return StepOutcome(StepStatus.INTERRUPTED, f"{self.gate.received[0]} received",
                               outcome.evidence, outcome.changes)
        if self._journal_failed:
            return StepOutcome(StepStatus.ERROR, f"stopped before a change that could not be "
                               f"journaled: {self._journal_failed}", outcome.evidence,
                               outcome.changes)
        if outcome.status is StepStatus.PASSED and self.clock.monotonic() > deadline:
            return StepOutcome(StepStatus.ERROR, "the step ran past its deadline", outcome.evidence,
                               outcome.changes)
        return outcome

    def _fill_skipped(self) -> None:
        done = {r.name for r in self.results}
        for step in self.scenario.steps:
            if step.name not in done:
                self.results.append(StepResult(step.name, step.kind.value, StepStatus.SKIPPED,
                                               "not reached", line=step.line))
                self.listener.step_finished(self.results[-1])

    def _lost_leases(self) -> str:
        if self._leases is None or not self._leases.lost:
            return ""
        return (f"this run lost {', '.join(self._leases.lost)} to another run (its renewals did not "
                "reach the API server for the Lease's whole duration), so the target is no longer "
                "its alone")

    def _verdict(self) -> tuple[Verdict, str]:
        arming = arms_fault(self.scenario)
        names = [s.name for s in self.scenario.steps]
        lost = self._lost_leases()
        if lost:  # someone else's run shares the target now: nothing this run saw proves anything
            return Verdict.INCONCLUSIVE, lost
        for result in self.results:
            if result.status is StepStatus.ERROR:
                return Verdict.FAILED, f"step {result.name} errored: {result.message}"
            if result.status is StepStatus.FAILED:
                armed_before = arming is not None and names.index(result.name) > arming
                if armed_before and self.state.injections_seen == 0:
                    return Verdict.INCONCLUSIVE, (f"step {result.name} failed ({result.message}), "
                                                  "but the fault never fired (no injection "
                                                  "evidence), so it proves nothing")
                return Verdict.FAILED, f"step {result.name} failed: {result.message}"
        if arming is not None and self.state.injections_seen == 0:
            return Verdict.INCONCLUSIVE, ("the fault never armed: no injection evidence after "
                                          f"step {names[arming]}")
        return Verdict.PASSED, f"all {len(self.results)} steps passed"

    def _finish(self, verdict: Verdict | None, reason: str) -> RunResult:
        if self._rollback_deadline is None:  # open() refused: nothing ran, the budget starts now
            self._rollback_deadline = (self.clock.monotonic()
                                       + self.scenario.settings.rollback_timeout.seconds)
        with self.cluster.deadline(until(self._rollback_deadline, self.clock.monotonic),
                                   "the rollback"):
            return self._finish_within(verdict, reason)

    def _rollback_spent(self) -> bool:
        return (self._rollback_deadline is not None
                and self.clock.monotonic() >= self._rollback_deadline)

    def _finish_within(self, verdict: Verdict | None, reason: str) -> RunResult:
        journal = self._journal()
        if verdict is None:
            verdict, reason = self._verdict()
        kept = self.keep and verdict is Verdict.PASSED
        rollback = (RollbackResult(RollbackPolicy.NEVER.value, False, verified=True) if kept
                    else self._rollback(verdict))
        probes = self._stop_probes()
        verdict, reason = _with_slos(verdict, reason, probes)
        policy = self.scenario.settings.rollback
        clean = rollback.complete and (policy is not RollbackPolicy.NEVER or not rollback.leftovers)
        if kept:
            reason += "; installed: the changes stay until chaos uninstall"
        elif policy is RollbackPolicy.NEVER and rollback.leftovers:
            reason += f"; rollback skipped by policy; run chaos recover {self.run_dir}"
        elif policy is RollbackPolicy.NEVER:
            reason += "; rollback skipped by policy (nothing was left to undo)"
        elif not rollback.complete:
            spent = (f"; its budget, {self._budget_name()}, ran out"
                     if self._rollback_spent() else "")
            reason = (f"rollback incomplete ({len(rollback.leftovers)} left{spent}; run chaos "
                      f"recover {self.run_dir}); {reason}")
            verdict = Verdict.ROLLBACK_INCOMPLETE
        if clean:
            self._release_leases()  # only a clean run frees its target for the next one
        elif self._leases is not None:
            # the leases lapse; a run left dirty keeps others off until recovered. Not waiting for a
            # renewal in flight: against a frozen API it would hold the run past its budget
            self._leases.stop(wait=False)
        try:
            journal.run_end(verdict.value, reason, clean)
        except JournalError as exc:
            log.warning("could not write the run-end entry: %s", exc)
        if clean and not kept and journal.mirror is not None and journal.mirror.exists:
            try:
                journal.mirror.delete()
            except ClusterError as exc:
                log.warning("could not delete the journal mirror %s: %s", journal.mirror.ref, exc)
        result = RunResult(
            run_id=self.run_id, scenario_name=self.scenario.metadata.name,
            scenario_path=self.options.scenario_path or self.scenario.path,
            cluster=self.cluster.description, started_at=self._started_at,
            finished_at=self.clock.time(), verdict=verdict, reason=reason, steps=tuple(self.results),
            rollback=rollback, fault=self._fault_summary(), timeline=tuple(self.timeline),
            run_dir=str(self.run_dir), tool_version=self.options.tool_version, probes=probes)
        if self.report_writer is not None:
            try:
                self.report_writer(result, self.run_dir)
            except Exception as exc:  # noqa: BLE001 - reports are best effort; the verdict stands
                log.warning("writing reports failed: %s", exc)
        self.listener.run_finished(result)
        return result

    def _stop_probes(self) -> tuple[ProbeResult, ...]:
        try:
            self.probes.stop()
            return self.probes.results()
        except Exception as exc:  # noqa: BLE001 - a probe bug must not cost the run its verdict
            log.warning("the probes' results are lost: %s", exc)
            return ()

    def _rollback(self, verdict: Verdict) -> RollbackResult:
        journal = self._journal()
        policy = self.scenario.settings.rollback
        contents = journal.contents()
        pending = _changes(contents.pending())
        recorded = _changes(contents.recorded())  # the run's Leases are released after, if clean
        namespace = self.scenario.target.namespace
        if policy is RollbackPolicy.NEVER:
            return RollbackResult(policy.value, False,
                                  leftovers=tuple(p.action.describe() for p in reversed(pending)))
        if not recorded:
            # write-ahead: a run that journaled nothing changed nothing, so there is nothing to
            # verify either (and an unreachable cluster must not turn "nothing changed" into 5)
            return RollbackResult(policy.value, False, verified=True)
        to_undo: list[PendingUndo] = pending
        if policy is RollbackPolicy.ALWAYS:
            to_undo = recorded
        if not to_undo:
            left = (leftovers(self.cluster, recorded, self.run_id, namespace)
                    if not self._rollback_spent() else
                    [f"not verified: the rollback's budget, {self._budget_name()}, ran out"])
            return RollbackResult(policy.value, False, verified=not left, leftovers=tuple(left))
        self.listener.rollback_started([p.action.describe() for p in reversed(to_undo)])
        self._rollback_notices()
        self.mark("rollback-start", f"{len(to_undo)} change(s) to undo ({verdict.value})")
        outcomes: list[UndoOutcome] = undo_pending(self.cluster, self.clock, journal, to_undo,
                                                   self._undo_done, deadline=self._rollback_deadline,
                                                   budget=self._budget_name())
        self._mark_undone(to_undo, outcomes)
        failed = [f"{o.description}: {o.message}" for o in outcomes if not o.ok]
        if self._rollback_spent():  # asking the cluster now could only time out
            left = [*failed, f"not verified: the rollback's budget, {self._budget_name()}, ran out "
                    "before the after-check"]
        else:
            left = failed + leftovers(self.cluster, recorded, self.run_id, namespace)
        result = RollbackResult(policy.value, True, tuple(outcomes), not left, tuple(left))
        self.mark("rollback-end", "complete" if result.complete else "incomplete")
        self._rollback_notices()
        self.listener.rollback_finished(result)
        return result

    def _mark_undone(self, undone: list[PendingUndo], outcomes: list[UndoOutcome]) -> None:
        """Timeline points for undos that are news (a node disarmed by rollback)."""
        applied = sorted(undone, key=lambda p: p.seq, reverse=True)  # undo_pending's order
        for item, outcome in zip(applied, outcomes, strict=False):
            kind = str(getattr(item.action, "marks", "") or "")
            if not (kind and outcome.ok):
                continue
            node = str(getattr(item.action, "node", "") or "")
            self.mark(kind, "by rollback", node=node)
            if kind == "fault-disarmed" and self.state.armed_nodes and self.state.disarmed_at is None:
                self.state.disarmed_at = self.clock.time()

    def _fault_summary(self) -> FaultSummary:
        fault = self.scenario.fault
        entry = fault.entry
        armed = min(self.state.armed_nodes.values()) if self.state.armed_nodes else None
        return FaultSummary(
            xid=fault.xid, title=entry.title if entry else f"XID {fault.xid}",
            scope=entry.scope.value if entry else "", expected_outcome=entry.outcome.value if entry else "",
            node=self.state.target_node, armed_at=armed, disarmed_at=self.state.disarmed_at,
            injections_seen=self.state.injections_seen)


def _with_slos(verdict: Verdict, reason: str, probes: tuple[ProbeResult, ...]) -> tuple[Verdict, str]:
    """The verdict with the probes' SLOs (DESIGN.md §6, 5 > 4 > 3 > 1): a run the steps passed fails
    on a missed fault, recovered or rollback SLO; a missed setup SLO makes a passed or failed run
    inconclusive (the service was unhealthy before the fault: what followed proves nothing); an
    interruption or a lost lease stands. A failed step stays the first reason; the misses follow.
    An interrupted run's reason stays the interruption: its phases were cut short, so their misses
    say nothing (the probe's table still shows them)."""
    found = slo_verdict(probes)
    if found is None or verdict is Verdict.INTERRUPTED:
        return verdict, reason
    slo, why = found
    if verdict is Verdict.PASSED:
        return slo, why
    if verdict is Verdict.FAILED and slo is Verdict.INCONCLUSIVE:
        return slo, f"{why}; {reason}"
    return verdict, f"{reason}; {why}"


def run_scenario(scenario: Scenario, cluster: Cluster, options: RunOptions | None = None, *,
                 steps: StepTable, **kwargs: Any) -> RunResult:
    """Run without installing signal handlers (tests, embedding)."""
    return Executor(scenario, cluster, options, steps=steps, **kwargs).run()


def run_with_signals(scenario: Scenario, cluster: Cluster, options: RunOptions | None = None, *,
                     steps: StepTable, **kwargs: Any) -> RunResult:
    """Run with SIGINT and SIGTERM turned into a rollback (exit 4 when it completes). A further
    signal during rollback is remembered and reported (listener.rollback_signal and `echo`), never
    raised. Handlers are installed only on the main thread and restored afterwards."""
    gate = InterruptGate()
    executor = Executor(scenario, cluster, options, steps=steps, gate=gate, **kwargs)
    with gate.installed():
        return executor.run()


__all__ = ["DryRun", "Executor", "PlanItem", "arms_fault", "dry_run", "new_run_id", "plan_scenario",
           "run_scenario", "run_with_signals"]
