"""The Python API: what the `chaos` CLI can do, as functions and one small object.

Why it exists: tests, notebooks and other tools want to validate, run and recover scenarios, and to
hold a GPU fault armed around their own code, without shelling out to the CLI. Everything here is a
thin layer over the same library the CLI calls: the scenario loader, the engine (executor, journal,
rollback, recover), the step table and the cluster adapters. It must not re-implement any of them:
`FaultInjector` builds a Scenario in code and drives the engine's own Executor one step at a time
(same journal, mirror, preflight, signals and deadlines as `chaos run`), so `chaos recover` can
finish its rollback like any run's.

Heavy modules (the engine, the kubernetes client, the embedded cluster) are imported inside the
functions that need them; importing `runner.api` costs no more than the scenario loader.
Nothing here prints or reads `os.environ`.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal

from runner.errors import ChaosError, RollbackError
from runner.scenario.model import Scenario
from runner.scenario.validate import FileResult, ScenarioInvalid, expand_paths, validate_file, validate_text
from runner.scenario.validate import load_scenario as _load_scenario

if TYPE_CHECKING:
    from runner.cluster.protocol import Cluster
    from runner.engine.events import RunListener
    from runner.engine.executor import Executor, PlanItem
    from runner.engine.recover import RecoverResult
    from runner.engine.result import RunResult, StepResult

ClusterName = Literal["sim", "kube"]
log = logging.getLogger("chaos.api")

__all__ = ["FaultInjector", "FaultInjectorError", "Validation", "load_scenario", "open_cluster", "plan",
           "recover", "run", "validate"]


# --- scenarios ---------------------------------------------------------------------------------


def load_scenario(path: str | Path) -> Scenario:
    """Load and check one scenario file; raises `ScenarioInvalid` (a ScenarioError) listing every
    error, each with its line and column."""
    return _load_scenario(path)


@dataclass(frozen=True)
class Validation:
    """What `validate()` found: one `FileResult` per scenario file."""

    files: tuple[FileResult, ...]
    strict: bool = False

    @property
    def passed(self) -> bool:
        """True when every file is valid (with `strict`, warnings count as failures too)."""
        return bool(self.files) and all(f.passed(self.strict) for f in self.files)

    @property
    def exit_code(self) -> int:
        """What `chaos validate` would exit with: 0 valid, 2 not."""
        return 0 if self.passed else 2

    def __bool__(self) -> bool:
        return self.passed


def validate(*paths: str | Path, strict: bool = False) -> Validation:
    """Validate scenario files or directories (searched recursively, skipping `manifests/`), like
    `chaos validate`; default `scenarios/`. Never raises for a bad file: problems are in the result."""
    given = paths or (Path("scenarios"),)
    return Validation(tuple(validate_file(p) for p in expand_paths(given)), strict)


def _scenario(scenario_or_path: Scenario | str | Path) -> Scenario:
    if isinstance(scenario_or_path, Scenario):
        return scenario_or_path
    return _load_scenario(scenario_or_path)


def plan(scenario_or_path: Scenario | str | Path) -> list[PlanItem]:
    """Every change a run would make, step by step, touching nothing (like `chaos plan`)."""
    from runner.engine.executor import plan_scenario
    from runner.steps.registry import REGISTRY

    return plan_scenario(_scenario(scenario_or_path), REGISTRY)


# --- clusters ----------------------------------------------------------------------------------


@contextlib.contextmanager
def open_cluster(cluster: Cluster | ClusterName | str = "sim", context: str | None = None,
                 kubeconfig: str | None = None, scenario: Scenario | None = None) -> Iterator[Cluster]:
    """A connected Cluster for the duration of the block.

    "kube": the kubeconfig's cluster (`context`, `kubeconfig`; else in-cluster config). "sim": an
    embedded cluster started for the block, seeded with `scenario`'s `settings.sim` (nodes and
    manifests, relative to the scenario file; three 1-GPU nodes and no workloads without one),
    returned once its workloads are Ready, stopped afterwards. A `Cluster` object is passed through
    and left open. Like the CLI, this is one of the two places that start the embedded cluster."""
    if not isinstance(cluster, str):
        yield cluster
        return
    from runner.cluster.connect import connect_kube, connect_url

    if cluster == "kube":
        yield connect_kube(context, kubeconfig)
        return
    if cluster != "sim":
        raise ChaosError(f"cluster must be 'sim', 'kube' or a Cluster, not {cluster!r}")
    from runner.scenario.model import SimSettings
    from runner.sim.seed import running

    settings = scenario.settings.sim if scenario is not None else SimSettings()
    base = Path(scenario.path).resolve().parent if scenario is not None and scenario.path else Path.cwd()
    with running(settings, base) as sim:
        yield connect_url(sim.url, name="embedded cluster")


# --- runs ----------------------------------------------------------------------------------------


def run(scenario_or_path: Scenario | str | Path, cluster: Cluster | ClusterName | str = "sim",
        context: str | None = None, report_dir: str | Path | None = None, yes: bool = False, *,
        kubeconfig: str | None = None, listener: RunListener | None = None,
        write_reports: bool = True, allow_privileged: bool = False) -> RunResult:
    """Run a scenario like `chaos run`: preflight, steps, rollback, verdict.

    `cluster` is "sim" (an embedded cluster started for this run from the scenario's
    `settings.sim`, stopped afterwards), "kube" (the kubeconfig's current or given `context`), or
    a connected `Cluster` (left open); see `open_cluster`. `report_dir` is the run directory (default
    `reports/<time>-<name>/`); report.json, junit.xml, summary.md and report.html are written there
    unless `write_reports` is False. SIGINT/SIGTERM during the run (on the main thread) end it with
    a rollback and the verdict `interrupted`. `yes` allows taking the last healthy replica;
    `allow_privileged` allows privileged steps (node-xid), as the CLI flags do. The verdict is in
    the result (`result.verdict`, `result.exit_code`); a scenario that cannot run at all raises
    ChaosError.
    """
    from runner import __version__
    from runner.engine.executor import run_with_signals
    from runner.settings import Flags, resolve
    from runner.steps.registry import REGISTRY

    scenario = _scenario(scenario_or_path)
    # the API's layers: defaults < scenario < these arguments (no CHAOS_* environment here)
    resolved = resolve(scenario, env={}, flags=Flags(
        cluster=cluster if cluster in ("sim", "kube") else None, context=context,
        kubeconfig=kubeconfig, report_dir=Path(report_dir) if report_dir is not None else None,
        yes=yes, allow_privileged=allow_privileged), tool_version=__version__)
    writer: Callable[[RunResult, Path], object] | None = None
    if write_reports:
        from runner.report import write_reports as write_all

        writer = write_all
    with open_cluster(cluster, context, kubeconfig, scenario) as connected:
        return run_with_signals(resolved.apply(scenario), connected, resolved.options,
                                steps=REGISTRY, listener=listener, report_writer=writer)


def recover(run_dir: str | Path | None = None, run_id: str | None = None, all: bool = False,
            *, cluster: Cluster | ClusterName | str = "kube", context: str | None = None,
            kubeconfig: str | None = None, namespace: str | None = None) -> RecoverResult:
    """Undo what a dead or interrupted run left changed, like `chaos recover` (safe to repeat).

    Name the run by its directory (`run_dir`, holding journal.jsonl), by `run_id` (from the
    journal's copy in the cluster), or pass `all=True` for every run found in the cluster.
    `result.exit_code` is 0 when everything is undone, 5 when something is still changed."""
    from runner.engine.recover import recover as engine_recover
    from runner.steps.registry import REGISTRY

    if run_dir is None and not run_id and not all:
        raise ChaosError("say which run to recover: run_dir, run_id, or all=True")
    with open_cluster(cluster, context, kubeconfig) as connected:
        return engine_recover(connected, REGISTRY.undo_kinds,
                              run_dir=Path(run_dir) if run_dir is not None else None,
                              run_id=run_id, all_runs=all, namespace=namespace)


# --- the fault injector ------------------------------------------------------------------------


class FaultInjectorError(ChaosError):
    """A FaultInjector step did not do its job (the message says which and why)."""


# An injector holds a fault for as long as its user's code runs; each step has `timeout`, and the
# whole injector (its scenario) at most this long.
INJECTOR_LIFETIME = "24h"


class FaultInjector:
    """Hold a simulated GPU fault (an XID) on one workload, with guaranteed rollback.

    The shape of the seed's "Method 3": load the CUDA fault-injection shim into the workload's pods
    (disarmed), arm it on the target node, disarm it, remove it. Each of those is a real step kind
    (`patch`, `wait`, `toggle`) run through the engine's journal, so every change is recorded with
    its undo before it is made, mirrored to the cluster, and undone by `uninstall()` (or by
    `chaos recover RUN_DIR` if this process dies). Use it as a context manager: leaving the block
    always rolls back, on success, on an exception and on KeyboardInterrupt::

        with FaultInjector(cluster, "inference", "vllm-worker", xid=79) as fault:
            fault.install()   # shim loaded, pods Ready, nothing fails yet
            fault.arm()       # CUDA calls on the target node now fail as XID 79
            ...               # prove your recovery
        # rolled back: workload spec restored, toggle files disarmed, helper pods gone

    `cluster` is a connected `runner.cluster.protocol.Cluster` (for example the one `run()` uses),
    or "kube" to open the kubeconfig's cluster (`context`) for the injector's lifetime.
    """

    def __init__(self, cluster: Cluster | Literal["kube"], namespace: str, workload: str,
                 kind: str = "Deployment", xid: int = 79, *, context: str | None = None,
                 kubeconfig: str | None = None, run_dir: str | Path | None = None,
                 pin: str = "preferred", fault_expiry: str = "2m", timeout: str = "10m",
                 yes: bool = False, allow_namespaces: Sequence[str] = (), settle: bool = False,
                 settle_timeout: str = "2m") -> None:
        """Describe the fault; nothing touches the cluster until `install()`.

        `pin` (hard, preferred, none) keeps the workload's pods on the target node while the shim
        is loaded; `fault_expiry` is the dead-man switch (an armed fault lapses unless renewed);
        `timeout` bounds each step; `yes` allows taking the last healthy replica;
        `allow_namespaces` lifts the guardrail on system namespaces for those named;
        `settle` makes `uninstall()` wait (up to `settle_timeout`) until the restored workload's
        pods are Ready again, so a following injector or test finds it healthy.
        """
        self.namespace = namespace
        self.workload = workload
        self.kind = kind
        self.xid = xid
        self.pin = pin
        self.fault_expiry = fault_expiry
        self.timeout = timeout
        self.yes = yes
        self.allow_namespaces = tuple(allow_namespaces)
        self.settle = settle
        self.settle_timeout = settle_timeout
        self._cluster_arg = cluster
        self._context = context
        self._kubeconfig = kubeconfig
        self._run_dir = Path(run_dir) if run_dir is not None else None
        self._exit = contextlib.ExitStack()
        self._run: Executor | None = None
        self._armed = False
        self.leftovers: tuple[str, ...] = ()  # what the last uninstall() could not undo

    # --- state --------------------------------------------------------------------------------

    @property
    def installed(self) -> bool:
        """True between `install()` and `uninstall()`."""
        return self._run is not None

    @property
    def armed(self) -> bool:
        """True between `arm()` and `disarm()`/`uninstall()`."""
        return self._armed

    @property
    def node(self) -> str:
        """The node the fault is injected on (resolved by `install()`)."""
        return self._run.state.target_node if self._run else ""

    @property
    def run_id(self) -> str:
        return self._run.run_id if self._run else ""

    @property
    def run_dir(self) -> Path | None:
        """Where the journal is (`chaos recover RUN_DIR` finishes a rollback from it)."""
        return self._run.run_dir if self._run else self._run_dir

    @property
    def injections_seen(self) -> int:
        """`[XID n SIM]` lines the steps saw in pod logs (proof the fault fired)."""
        return self._run.state.injections_seen if self._run else 0

    # --- actions ------------------------------------------------------------------------------

    def scenario(self, node: str | None = None, passthrough: bool = True) -> Scenario:
        """The Scenario this injector runs, built in code and checked like a file (the steps it
        names are the ones `install`, `arm` and `disarm` run)."""
        from runner.scenario.model import Duration

        # a step may not outlast the scenario: the settle wait is capped at the step timeout
        settle = min((self.settle_timeout, self.timeout), key=lambda d: Duration.parse(d).seconds)
        guardrails: dict[str, Any] = {"allow-last-replica": self.yes}
        if self.allow_namespaces:
            guardrails["allow-namespaces"] = list(self.allow_namespaces)
        doc = {
            "apiVersion": "chaos/v1", "kind": "Scenario",
            "metadata": {"name": _dns_name(f"inject-xid{self.xid}-{self.workload}"),
                         "description": "built by runner.api.FaultInjector"},
            "target": {"namespace": self.namespace,
                       "workload": {"kind": self.kind, "name": self.workload},
                       "node": node or "auto"},
            "fault": {"xid": self.xid},
            "settings": {"timeout": INJECTOR_LIFETIME, "fault-expiry": self.fault_expiry,
                         "guardrails": guardrails},
            "steps": [
                {"patch": {"name": "install", "passthrough": passthrough, "pin": self.pin,
                           "timeout": self.timeout}},
                {"wait": {"name": "ready", "for": "pods-ready", "timeout": self.timeout}},
                {"toggle": {"name": "arm", "enabled": True, "timeout": self.timeout}},
                {"toggle": {"name": "disarm", "enabled": False, "timeout": self.timeout}},
                {"cleanup": {"name": "uninstall", "timeout": self.timeout}},
                {"wait": {"name": "settle", "for": "pods-ready", "timeout": settle}},
            ],
        }
        import yaml

        result = validate_text(yaml.safe_dump(doc, sort_keys=False), "<FaultInjector>")
        errors = [p for p in result.problems if p.severity.value == "error"]
        if errors or result.scenario is None:
            raise ScenarioInvalid(errors or list(result.problems))
        return result.scenario

    def install(self, node: str | None = None, passthrough: bool = True) -> FaultInjector:
        """Load the shim into the workload's pods (restarting them) and wait until they are Ready.

        `node`: the node to inject on (default: chosen like `node: auto`, a node running the
        workload). `passthrough` True loads the shim disarmed (arm it with `arm()`); False starts
        the pods with the fault already armed. Preflight guardrails apply (system namespaces, blast
        radius, last replica). On failure everything done so far is rolled back and
        FaultInjectorError (or PreflightError) is raised."""
        from runner import __version__
        from runner.engine.executor import Executor
        from runner.settings import RunOptions
        from runner.steps.registry import REGISTRY

        if self._run is not None:
            raise FaultInjectorError("already installed; uninstall() first")
        scenario = self.scenario(node, passthrough)
        try:
            cluster = self._exit.enter_context(
                open_cluster(self._cluster_arg, self._context, self._kubeconfig))
            run = Executor(scenario, cluster, RunOptions(scenario_path=scenario.path,
                                                         run_dir=self._run_dir, yes=self.yes,
                                                         tool_version=__version__),
                           steps=REGISTRY)
            run.open()  # preflight: a refusal changed nothing (the journal says so)
            self._run = run
            self._step("install")
            self._step("ready")
        except BaseException:
            self._rollback_quietly()
            raise
        self._armed = not passthrough
        return self

    def arm(self) -> FaultInjector:
        """Arm the fault on the target node: CUDA calls there now fail as the XID says."""
        try:
            self._step("arm")
        except BaseException:
            self._rollback_quietly()
            raise
        self._armed = True
        return self

    def disarm(self) -> FaultInjector:
        """Disarm the fault (the shim stays loaded; processes that already faulted stay faulted,
        as real hardware does)."""
        try:
            self._step("disarm")
        except BaseException:
            self._rollback_quietly()
            raise
        self._armed = False
        return self

    def uninstall(self, settle: bool | None = None) -> None:
        """Roll back everything: disarm, restore the workload, delete what was created, verify;
        then, with `settle` (default: the constructor's), wait until the workload's pods are Ready
        again so that the next injector's preflight finds it healthy.

        Safe to call twice and before `install()`. Raises RollbackError naming what is still
        changed if anything could not be undone (then run `chaos recover RUN_DIR`), and
        FaultInjectorError if the restored workload is not Ready within `settle_timeout` (after a
        node-scoped XID, remediation may keep the faulty node cordoned: that is not ours to undo).
        A Ctrl-C during the rollback does not stop it; it is raised once the rollback is done."""
        from runner.engine.result import Verdict

        run = self._run
        if run is None:
            self._exit.close()
            return
        signals_before = len(run.gate.received)
        try:
            with run.gate.installed(), run.gate.holding():
                try:
                    report = run.undo_now()
                finally:
                    self._run = None
                    self._armed = False
            self.leftovers = report.left
            if report.left:
                run.close(Verdict.ROLLBACK_INCOMPLETE, f"{len(report.left)} change(s) not undone")
                raise RollbackError(f"rollback incomplete ({len(report.left)} left): "
                                    f"{'; '.join(report.left)}; run: chaos recover {run.run_dir}")
            if len(run.gate.received) > signals_before:
                run.close(Verdict.INTERRUPTED, "rolled back; interrupted")
                raise KeyboardInterrupt  # the Ctrl-C we held back during the rollback
            try:
                if self.settle if settle is None else settle:
                    self._check(run, "settle")  # a wait records nothing to undo
            finally:
                run.close(Verdict.PASSED, "rolled back")
        finally:
            self._exit.close()

    def _step(self, name: str) -> StepResult:
        run = self._run
        if run is None:
            raise FaultInjectorError("not installed; call install() first")
        return self._check(run, name)

    @staticmethod
    def _check(run: Executor, name: str) -> StepResult:
        """Run one step with the run's signal gate in place; FaultInjectorError unless it passed,
        KeyboardInterrupt when a Ctrl-C stopped it (at a safe point: no half-written journal)."""
        from runner.kernel.step import StepStatus

        with run.gate.installed():
            result = run.step(name)
        if result.status is StepStatus.INTERRUPTED:
            raise KeyboardInterrupt(result.message)
        if result.status is not StepStatus.PASSED:
            raise FaultInjectorError(f"{name} {result.status.value}: {result.message}")
        return result

    def _rollback_quietly(self) -> None:
        """Roll back after a failure without hiding the failure (a rollback problem is kept in
        `leftovers` and the journal)."""
        with contextlib.suppress(RollbackError, ChaosError, KeyboardInterrupt):
            self.uninstall()

    # --- context manager ----------------------------------------------------------------------

    def __enter__(self) -> FaultInjector:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc is None:
            self.uninstall()
            return
        try:
            self.uninstall()
        except (RollbackError, KeyboardInterrupt) as problem:
            # the exception that ended the block wins; what rollback left is in self.leftovers
            log.warning("after %s: %s", exc_type.__name__ if exc_type else "an error", problem or
                        "a signal arrived during rollback")


def _dns_name(text: str) -> str:
    """A scenario name (lower-case DNS label) from free text."""
    import re

    name = re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")
    return name[:63].rstrip("-") or "inject"
