"""Semantic checks: what a schema cannot say about a scenario, found offline.

Each check is a small function over the built model that yields `Problem`s with a stable code
from `problems.CODES` (step order, XID scope vs. expected recovery, durations vs. the timeout,
guardrails visible without a cluster, ...). They run only on schema-valid scenarios, read nothing
but the scenario (and whether its manifest files exist), and never touch a cluster.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator
from pathlib import Path

from runner import xid as xids
from runner.scenario import model as m
from runner.scenario.build import dotted
from runner.scenario.loader import Document, PathKey
from runner.scenario.probe_checks import PROBE_CHECKS
from runner.scenario.problems import Problem

Check = Callable[[m.Scenario, Document], Iterator[Problem]]


def _problem(doc: Document, code: str, message: str, path: PathKey, *, key: bool = False,
             hint: str | None = None) -> Problem:
    where = doc.position(path, key=key)
    return Problem.make(code, message, file=doc.file, line=where.line, column=where.column,
                        field=dotted(path), hint=hint)


def _step_path(scenario: m.Scenario, index: int, *rest: str) -> PathKey:
    return ("steps", index, scenario.steps[index].kind.value, *rest)


def _field_given(doc: Document, path: PathKey) -> bool:
    return path in doc.values


def unknown_xid_message(number: int) -> str:
    """The one message for an XID we do not simulate (also used for schema enum errors)."""
    listing = ", ".join(f"{x.number} ({x.title})" for x in xids.CATALOGUE.values())
    return f"XID {number} is not simulated; supported: {listing}"


def check_xids(scenario: m.Scenario, doc: Document) -> Iterator[Problem]:
    # the schema enum normally catches these first; this covers models built in code
    if xids.lookup(scenario.fault.xid) is None:
        yield _problem(doc, "CH020", unknown_xid_message(scenario.fault.xid), ("fault", "xid"))
    for i, step in enumerate(scenario.steps):
        number = getattr(step, "xid", None)
        if number is not None and xids.lookup(number) is None:
            yield _problem(doc, "CH020", unknown_xid_message(number), _step_path(scenario, i, "xid"))


def check_order(scenario: m.Scenario, doc: Document) -> Iterator[Problem]:
    patched = False
    armed = scenario.fault.mode is m.FaultMode.IMMEDIATE
    for i, step in enumerate(scenario.steps):
        if isinstance(step, m.PatchStep):
            patched = True
            armed = armed or not step.passthrough
        elif isinstance(step, m.ToggleStep):
            if not patched:
                yield _problem(doc, "CH021", f"step {step.name!r} toggles the fault before any patch step "
                               "has loaded the shim", ("steps", i))
            armed = armed or step.enabled
        elif not armed and _waits_on_fault(step):
            yield _problem(doc, "CH039", f"step {step.name!r} waits for the fault's effect, but nothing "
                           "has armed the fault yet", ("steps", i))


def _waits_on_fault(step: m.StepBase) -> bool:
    if isinstance(step, m.AssertRescheduleStep):
        return True
    return isinstance(step, m.WaitStep) and step.for_ in (m.WaitFor.LOG_LINE, m.WaitFor.POD_RESTARTS)


def check_scope(scenario: m.Scenario, doc: Document) -> Iterator[Problem]:
    entry = xids.lookup(scenario.fault.xid)
    if entry is None or entry.scope is not xids.Scope.PROCESS:
        return
    evidence = False
    for i, step in enumerate(scenario.steps):
        if isinstance(step, m.AssertRescheduleStep):
            yield _problem(doc, "CH022", f"XID {entry.number} ({entry.title}) only kills the faulted "
                           "process; pods restart in place rather than reschedule", ("steps", i))
        if isinstance(step, m.WaitStep) and step.for_ is m.WaitFor.POD_RESTARTS:
            evidence = True
        if isinstance(step, m.AssertStep) and step.pods is not None and step.pods.min_restarts:
            evidence = True
    if not evidence:
        yield _problem(doc, "CH023", f"XID {entry.number} recovers by restarting in place, but no step "
                       "checks for restarts", ("steps",))


def check_cleanup(scenario: m.Scenario, doc: Document) -> Iterator[Problem]:
    if not any(isinstance(s, m.CleanupStep) for s in scenario.steps):
        yield _problem(doc, "CH024", "no cleanup step: the workload keeps the shim after a passing run",
                       ("steps",), key=True)


def _durations(scenario: m.Scenario) -> Iterator[tuple[PathKey, m.Duration]]:
    for i, step in enumerate(scenario.steps):
        for name in ("timeout", "within", "duration", "interval", "max_p95_latency", "request_timeout"):
            value = getattr(step, name, None)
            if isinstance(value, m.Duration):
                yield _step_path(scenario, i, name.replace("_", "-")), value


def check_durations(scenario: m.Scenario, doc: Document) -> Iterator[Problem]:
    limit = scenario.settings.timeout
    top: list[tuple[PathKey, m.Duration]] = [(("settings", "timeout"), limit),
                                             (("settings", "fault-expiry"), scenario.settings.expiry)]
    # the rollback's budget comes after the steps' deadline, so it may be longer; zero it may not be
    # (no undo would ever be attempted)
    own_budget = ("settings", "rollback-timeout")
    top.append((own_budget, scenario.settings.rollback_timeout))
    for path, value in [*top, *_durations(scenario)]:
        if not _field_given(doc, path):
            continue  # defaults are fine by construction
        if value.seconds <= 0:
            yield _problem(doc, "CH025", f"{dotted(path)} is zero", path)
        elif path not in (("settings", "timeout"), own_budget) and value.seconds > limit.seconds:
            yield _problem(doc, "CH026", f"{dotted(path)} ({value}) is longer than settings.timeout "
                           f"({limit})", path)


def expiry_too_short(settings: m.Settings) -> str:
    """Why the dead-man expiry cannot hold an armed fault ("" when it can): a renewal is written
    every `renew_every` and reaches the pods up to `propagation_delay` later (with toggle-via
    configmap, the kubelet's sync period plus its cache TTL), and both must fit well inside the
    expiry, or a healthy run's fault lapses between renewals. `chaos validate` and preflight both
    ask this (preflight with the effective settings, CHAOS_FAULT_EXPIRY included)."""
    expiry = settings.expiry.seconds
    renew, delay = settings.renew_every, settings.propagation_delay
    if renew + delay <= m.EXPIRY_HEADROOM * expiry:
        return ""
    least = m.format_seconds(_least_expiry(settings)) if delay else ""
    given = f"{settings.expiry}" if settings.fault_expiry is not None else f"{settings.expiry} (the default)"
    return (f"settings.fault-expiry {given} is too short for toggle-via "
            f"{settings.toggle_via.value}: a renewal every {m.format_seconds(renew)} plus "
            f"{m.format_seconds(delay)} for it to reach the pods (settings.configmap-delay) must stay "
            f"under {round(m.EXPIRY_HEADROOM * 100)}% of it" + (f"; use at least {least}" if least else ""))


def _least_expiry(settings: m.Settings) -> float:
    """The shortest expiry the rule accepts with this mode and delay (whole seconds)."""
    delay, share = settings.propagation_delay, m.EXPIRY_HEADROOM
    capped = (m.CONFIGMAP_RENEW_S + delay) / share  # renewing every minute
    least = capped if capped / 3 >= m.CONFIGMAP_RENEW_S else delay / (share - 1 / 3)
    return float(math.ceil(least))


def check_expiry(scenario: m.Scenario, doc: Document) -> Iterator[Problem]:
    problem = expiry_too_short(scenario.settings)
    if problem:
        path: PathKey = ("settings", "fault-expiry")
        if not _field_given(doc, path):
            path = ("settings", "configmap-delay") if _field_given(
                doc, ("settings", "configmap-delay")) else ("settings",)
        yield _problem(doc, "CH041", problem, path)
    if scenario.settings.toggle_via is m.ToggleVia.CONFIGMAP:
        for i, step in enumerate(scenario.steps):
            if isinstance(step, m.ToggleStep) and step.method is m.ToggleMethod.EXEC:
                yield _problem(doc, "CH042", f"step {step.name!r} uses method exec, which writes a "
                               "node's toggle file; with settings.toggle-via: configmap the fault state "
                               "is a ConfigMap key, which the toggle step patches itself",
                               _step_path(scenario, i, "method"))


def check_names(scenario: m.Scenario, doc: Document) -> Iterator[Problem]:
    seen: dict[str, int] = {}
    for i, step in enumerate(scenario.steps):
        if step.name in seen:
            yield _problem(doc, "CH027", f"step name {step.name!r} is already used by step "
                           f"{seen[step.name] + 1}", _step_path(scenario, i, "name"))
        else:
            seen[step.name] = i


def check_workload(scenario: m.Scenario, doc: Document) -> Iterator[Problem]:
    workload = scenario.target.workload
    if workload.services and workload.kind is not m.WorkloadKind.DYNAMO:
        yield _problem(doc, "CH028", f"`services` selects DynamoGraphDeployment services; a "
                       f"{workload.kind.value} has none", ("target", "workload", "services"), key=True)


def check_guardrails(scenario: m.Scenario, doc: Document) -> Iterator[Problem]:
    rails = scenario.settings.guardrails
    namespace = scenario.target.namespace
    if rails.allow_namespaces and namespace not in rails.allow_namespaces:
        yield _problem(doc, "CH029", f"namespace {namespace!r} is not in settings.guardrails."
                       f"allow-namespaces ({', '.join(rails.allow_namespaces)})", ("target", "namespace"))
    elif namespace in rails.deny_namespaces and namespace not in rails.allow_namespaces:
        yield _problem(doc, "CH029", f"namespace {namespace!r} is a protected system namespace",
                       ("target", "namespace"))
    if not rails.allow_node_xid:
        for i, step in enumerate(scenario.steps):
            if isinstance(step, m.NodeXidStep):
                yield _problem(doc, "CH030", f"step {step.name!r} writes XID lines into a node's kernel "
                               "log, which needs an explicit opt-in", ("steps", i))


def check_steps(scenario: m.Scenario, doc: Document) -> Iterator[Problem]:
    for i, step in enumerate(scenario.steps):
        path = _step_path(scenario, i)
        if isinstance(step, m.ProbeStep) and not step.url and step.service is None:
            yield _problem(doc, "CH031", f"probe step {step.name!r} has no url or service", path)
        elif isinstance(step, m.PatchStep):
            yield from _check_patch(step, path, doc)
        elif isinstance(step, m.WaitStep):
            yield from _check_wait(step, path, doc)
        elif isinstance(step, m.AssertStep):
            if step.pods is None and step.node is None and step.logs is None:
                yield _problem(doc, "CH035", f"assert step {step.name!r} gives none of pods, node, logs",
                               path)
            if step.logs is not None:
                yield from _check_regex(step.logs.pattern, (*path, "logs", "pattern"), doc, required=True)


def _check_patch(step: m.PatchStep, path: PathKey, doc: Document) -> Iterator[Problem]:
    if step.source is m.ShimSource.CONFIGMAP:
        yield _problem(doc, "CH043", "source `configmap` is the old name of `compile`", (*path, "source"))
    if step.source is m.ShimSource.IMAGE and not step.image:
        yield _problem(doc, "CH032", "source is image but no `image` is given", path)
    if step.source is m.ShimSource.HOST_PATH and not step.host_path:
        yield _problem(doc, "CH032", "source is hostPath but no `host-path` is given", path)


def _check_wait(step: m.WaitStep, path: PathKey, doc: Document) -> Iterator[Problem]:
    if step.for_ is m.WaitFor.LOG_LINE:
        yield from _check_regex(step.pattern, (*path, "pattern"), doc, required=True)
    elif step.for_ is m.WaitFor.NODE_CONDITION and not step.condition:
        yield _problem(doc, "CH034", "wait for node-condition needs `condition` (e.g. Ready)", path)
    elif step.for_ in (m.WaitFor.PODS, m.WaitFor.NODES) and not step.where:
        yield _problem(doc, "CH034", f"wait for {step.for_.value} needs `where`", path)


def _check_regex(pattern: str, path: PathKey, doc: Document, *, required: bool) -> Iterator[Problem]:
    if not pattern:
        if required:
            yield _problem(doc, "CH034", f"{dotted(path)} is missing: give a regular expression",
                           path[:-1])
        return
    try:
        re.compile(pattern)
    except re.error as exc:
        yield _problem(doc, "CH033", f"pattern {pattern!r} is not a regular expression: {exc}", path)


def check_pin(scenario: m.Scenario, doc: Document) -> Iterator[Problem]:
    hard = [i for i, s in enumerate(scenario.steps) if isinstance(s, m.PatchStep) and s.pin is m.PinMode.HARD]
    if hard and any(isinstance(s, m.AssertRescheduleStep) for s in scenario.steps):
        yield _problem(doc, "CH037", "pin: hard keeps the pods on the faulty node, so assert-reschedule "
                       "cannot pass", _step_path(scenario, hard[0]))


def check_fault(scenario: m.Scenario, doc: Document) -> Iterator[Problem]:
    if scenario.fault.probability == 0:
        yield _problem(doc, "CH038", "fault.probability is 0: no call will ever fail",
                       ("fault", "probability"))


def check_gpus(scenario: m.Scenario, doc: Document) -> Iterator[Problem]:
    """An index no embedded node has would hit nothing there (a real cluster may have more)."""
    if scenario.settings.cluster is m.ClusterChoice.KUBE:
        return
    most = max((n.gpus for n in scenario.settings.sim.nodes), default=0)
    for i, gpu in enumerate(scenario.fault.gpus):
        if isinstance(gpu, int) and gpu >= most:
            yield _problem(doc, "CH040", f"fault.gpus names GPU {gpu}, but the embedded cluster's "
                           f"nodes have {most} GPU(s) (indexes 0..{most - 1})", ("fault", "gpus", i))


def check_manifests(scenario: m.Scenario, doc: Document) -> Iterator[Problem]:
    if not scenario.path:
        return
    base = Path(scenario.path).parent
    for i, name in enumerate(scenario.settings.sim.manifests):
        if not (base / name).is_file():
            yield _problem(doc, "CH036", f"manifest {name!r} not found next to the scenario",
                           ("settings", "sim", "manifests", i))


CHECKS: tuple[Check, ...] = (check_xids, check_order, check_scope, check_cleanup, check_durations,
                             check_names, check_workload, check_guardrails, check_steps, check_pin,
                             check_fault, check_gpus, check_manifests, check_expiry, *PROBE_CHECKS)


def run_checks(scenario: m.Scenario, doc: Document) -> list[Problem]:
    """Every semantic problem of a schema-valid scenario, in file order."""
    found = [p for check in CHECKS for p in check(scenario, doc)]
    return sorted(found, key=lambda p: (p.line, p.column))
