"""`chaos install` / `chaos uninstall`: leave the shim, disarmed, in a workload between runs.

Why it exists: "install once, toggle many". Delivering the shim restarts every pod of the workload
(its template changes); on a staging workload that costs a rollout per run. An install is the
scenario's own `patch` step (disarmed, no pin: it outlives any run's node) plus a `wait` for the
pods, run by the one executor under a run id of its own, `install-<hash of the workload>`, with
`keep`: every change is journaled as a run's is, the workload and node Leases are taken while it
works and released when it is done, and the journal's cluster copy (ConfigMap
`chaos-journal-install-…` in the state namespace, labelled `chaos.dev/role: install` and annotated
with what it delivered) stays: it IS the install's record. A run on the installed workload finds
the install in the template (runner/steps/installed.py), delivers nothing and restarts nothing.
`recover --all` leaves installs alone (runner/engine/recover.py); uninstall replays the install's
journal (undo only what is still ours, verified, as a rollback) under the workload's Lease, then
deletes the record. This module imports no step kind: the step table comes from the entry point.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from dataclasses import dataclass

from runner.cluster.protocol import Cluster
from runner.engine.events import RunListener
from runner.engine.executor import Executor, ReportWriter
from runner.engine.journal import mirror_ref
from runner.engine.leases import Leases, ReleaseLease, workload_lease
from runner.engine.recover import RecoveredRun, RecoverResult, cluster_journals, recover
from runner.engine.result import RunResult, Verdict
from runner.errors import InputError, NotFound
from runner.kernel.clock import Clock, SystemClock
from runner.kernel.labels import INSTALL_PREFIX, install_id
from runner.kernel.step import StepTable
from runner.kernel.undo import UndoKinds
from runner.scenario.model import (
    PatchStep,
    PinMode,
    RollbackPolicy,
    Scenario,
    StepKind,
    WaitFor,
    WaitStep,
)
from runner.settings import RunOptions
from runner.workload.kinds import workload_ref

ANNOTATION = "chaos.dev/install"  # on the record: JSON of what the install delivered


def id_of(scenario: Scenario) -> str:
    ref = workload_ref(scenario.target)
    return install_id(scenario.target.namespace, ref.kind, ref.name)


def install_scenario(scenario: Scenario) -> Scenario:
    """The scenario `chaos install` runs: its patch step, disarmed and unpinned, then a wait until
    the pods are Ready (the scenario's own, or a default one); no probe, toggle or cleanup."""
    patches = [s for s in scenario.steps if isinstance(s, PatchStep)]
    if not patches:
        raise InputError(f"scenario {scenario.metadata.name} has no patch step: there is no shim "
                         "delivery to install")
    patch = dataclasses.replace(patches[0], passthrough=True, pin=PinMode.NONE)
    after = scenario.steps[scenario.steps.index(patches[0]) + 1:]
    wait = next((s for s in after if isinstance(s, WaitStep) and s.for_ is WaitFor.PODS_READY),
                WaitStep(kind=StepKind.WAIT, name="installed-ready", for_=WaitFor.PODS_READY))
    settings = dataclasses.replace(scenario.settings, rollback=RollbackPolicy.ON_FAILURE)
    return dataclasses.replace(scenario, steps=(patch, wait), settings=settings)


def described(scenario: Scenario) -> dict[str, str]:
    """What an install delivered (the record's annotation; `chaos status` shows it)."""
    patch = install_scenario(scenario).steps[0]
    assert isinstance(patch, PatchStep)
    return {"workload": str(workload_ref(scenario.target)), "source": patch.source.canonical.value,
            "passthrough": "true", "toggle-via": scenario.settings.toggle_via.value,
            "containers": ",".join(scenario.target.containers) or "all",
            "scenario": scenario.metadata.name}


@dataclass(frozen=True)
class InstallOutcome:
    install_id: str
    already: bool  # installed before this command: nothing was changed
    result: RunResult | None = None

    @property
    def exit_code(self) -> int:
        return 0 if self.already or self.result is None else self.result.exit_code


def install(scenario: Scenario, cluster: Cluster, options: RunOptions, *, steps: StepTable,
            listener: RunListener | None = None, report_writer: ReportWriter | None = None,
            clock: Clock | None = None) -> InstallOutcome:
    """Deliver the scenario's shim into its workload, disarmed, and leave it there."""
    iid = id_of(scenario)
    state = scenario.settings.state_namespace
    if cluster_journals(cluster, run_id=iid, namespace=state):
        return InstallOutcome(iid, True)
    run = Executor(install_scenario(scenario), cluster, options, steps=steps, listener=listener,
                   report_writer=report_writer, clock=clock, run_id=iid, keep=True)
    result = run.run()
    if result.verdict is Verdict.PASSED:
        note = dict(described(scenario), since=str(int(result.started_at)))
        cluster.merge_patch(mirror_ref(iid, state),
                            {"metadata": {"annotations": {ANNOTATION: json.dumps(note, sort_keys=True)}}})
    return InstallOutcome(iid, False, result)


def installed_ids(cluster: Cluster, state_namespace: str) -> list[str]:
    return [rid for rid, _ns, _text in cluster_journals(cluster, namespace=state_namespace)
            if rid.startswith(INSTALL_PREFIX)]


def uninstall(cluster: Cluster, kinds: UndoKinds, *, scenario: Scenario | None = None,
              all_installs: bool = False, state_namespace: str = "chaos-system",
              clock: Clock | None = None,
              say: Callable[[str], None] | None = None) -> RecoverResult:
    """Take the install(s) out: the install journal replayed (undo only what is still ours, then
    verified), under the workload's Lease, then the record deleted. Nothing installed: nothing
    changed (an empty result, exit 0)."""
    clock = clock or SystemClock()
    if scenario is not None:
        state_namespace = scenario.settings.state_namespace
        ids = [id_of(scenario)] if cluster_journals(cluster, run_id=id_of(scenario),
                                                    namespace=state_namespace) else []
    elif all_installs:
        ids = installed_ids(cluster, state_namespace)
    else:
        raise InputError("say which install to remove: a SCENARIO, or --all")
    runs: list[RecoveredRun] = []
    for iid in ids:
        lease = _hold_workload(cluster, clock, state_namespace, iid)
        try:
            if say is not None:
                say(f"uninstalling {iid}")
            runs.extend(recover(cluster, kinds, run_id=iid, namespace=state_namespace, clock=clock).runs)
        finally:
            if lease is not None:
                lease.stop()
                for ref in lease.held:
                    ReleaseLease(ref, lease.run_id).apply(cluster, clock)
    return RecoverResult(tuple(runs))


def _hold_workload(cluster: Cluster, clock: Clock, state_namespace: str, iid: str) -> Leases | None:
    """The workload's Lease while the install is taken out (TargetHeld while a run holds it:
    uninstalling under a run would pull the shim out of its fault), held as `uninstall-<hash>` (the
    install's own journaled Leases are verified released). Not journaled: an uninstall that dies
    leaves a Lease that lapses on its own."""
    try:
        text = cluster.get(mirror_ref(iid, state_namespace)).get("data", {})
    except NotFound:
        return None
    workload = ""
    for line in str(next(iter(text.values()), "")).splitlines():
        entry = json.loads(line) if line.strip().startswith("{") else {}
        if entry.get("type") == "run-start":
            workload = str(entry.get("workload", ""))
            break
    kind, _, rest = workload.partition(" ")
    namespace, _, name = rest.partition("/")
    if not (kind and namespace and name):
        return None
    holder = "un" + iid
    leases = Leases(cluster, clock, state_namespace, holder, journal=lambda _a: 0,
                    applied=lambda _s, _a: None, left_changed=lambda _h: False)
    leases.acquire([(workload_lease(namespace, kind, name), workload)])
    leases.keep()
    return leases
