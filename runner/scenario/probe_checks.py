"""Semantic checks of probes (the top-level `probes:` and the `probe` step's request keys).

What the schema cannot say: a probe names exactly one target (`service` or `url`), its names are
unique, its path is absolute, an Authorization header does not go through the service proxy, its
durations are positive and fit the scenario's timeout, a `recovered` SLO has a pause before cleanup
to carry requests, and an SLO does not sit on a phase the scenario never reaches. Every problem is
placed at the key it is about. Reads only the scenario; never touches a cluster.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from runner.scenario import model as m
from runner.scenario.build import dotted, yaml_key
from runner.scenario.loader import Document, PathKey
from runner.scenario.phases import arming_step, pause_before_cleanup
from runner.scenario.problems import Problem

Check = Callable[[m.Scenario, Document], Iterator[Problem]]
_SLO_DURATIONS = ("max_outage", "max_p50_latency", "max_p95_latency", "max_p99_latency")


def _at(doc: Document, code: str, message: str, path: PathKey, *, key: bool = False) -> Problem:
    where = doc.position(path, key=key)
    return Problem.make(code, message, file=doc.file, line=where.line, column=where.column,
                        field=dotted(path))


def _requests(scenario: m.Scenario) -> Iterator[tuple[PathKey, str, m.Probe | m.ProbeStep]]:
    """(path, what, request) for every probe and probe step."""
    for i, probe in enumerate(scenario.probes):
        yield ("probes", i), f"probe {probe.name!r}", probe
    for i, step in enumerate(scenario.steps):
        if isinstance(step, m.ProbeStep):
            yield ("steps", i, step.kind.value), f"probe step {step.name!r}", step


def check_targets(scenario: m.Scenario, doc: Document) -> Iterator[Problem]:
    for path, what, req in _requests(scenario):
        if req.url and req.service is not None:
            yield _at(doc, "CH044", f"{what} gives both `service` and `url`; a probe goes one way",
                      (*path, "url"), key=True)
        elif isinstance(req, m.Probe) and not req.url and req.service is None:
            yield _at(doc, "CH031", f"{what} has no `service` or `url`", path)
        auth = next((k for k in req.headers if k.lower() == "authorization"), None)
        if req.service is not None and auth is not None:
            yield _at(doc, "CH049", f"{what} sends an {auth} header through the API server's service "
                      "proxy, which does not pass it on (the run's own credentials go there)",
                      (*path, "headers", auth), key=True)
        if req.path and not req.path.startswith("/"):
            yield _at(doc, "CH046", f"{what}: path {req.path!r} must start with '/'", (*path, "path"))


def check_probe_names(scenario: m.Scenario, doc: Document) -> Iterator[Problem]:
    seen: dict[str, int] = {}
    for i, probe in enumerate(scenario.probes):
        if probe.name in seen:
            yield _at(doc, "CH045", f"probe name {probe.name!r} is already used by probe "
                      f"{seen[probe.name] + 1}", ("probes", i, "name"))
        else:
            seen[probe.name] = i


def _probe_durations(probe: m.Probe, path: PathKey) -> Iterator[tuple[PathKey, m.Duration]]:
    yield (*path, "interval"), probe.interval
    yield (*path, "request-timeout"), probe.request_timeout
    for phase in m.ProbePhase:
        slo = probe.slo.of(phase)
        for name in _SLO_DURATIONS:
            value = getattr(slo, name, None) if slo is not None else None
            if isinstance(value, m.Duration):
                yield (*path, "slo", phase.value, yaml_key(name)), value


def check_probe_durations(scenario: m.Scenario, doc: Document) -> Iterator[Problem]:
    limit = scenario.settings.timeout
    for i, probe in enumerate(scenario.probes):
        for path, value in _probe_durations(probe, ("probes", i)):
            if path not in doc.values:
                continue  # a default
            if value.seconds <= 0:
                yield _at(doc, "CH025", f"{dotted(path)} is zero", path)
            elif value.seconds > limit.seconds:
                yield _at(doc, "CH026", f"{dotted(path)} ({value}) is longer than settings.timeout "
                          f"({limit})", path)


def check_phases(scenario: m.Scenario, doc: Document) -> Iterator[Problem]:
    armed = arming_step(scenario) is not None
    for i, probe in enumerate(scenario.probes):
        for phase in (m.ProbePhase.FAULT, m.ProbePhase.RECOVERED):
            if probe.slo.of(phase) is not None and not armed:
                yield _at(doc, "CH048", f"probe {probe.name!r} sets a {phase.value} SLO, but no step "
                          "arms the fault, so that phase never starts",
                          ("probes", i, "slo", phase.value), key=True)
        if probe.slo.recovered is not None and armed and not pause_before_cleanup(scenario):
            yield _at(doc, "CH047", f"probe {probe.name!r} sets a recovered SLO, but nothing separates "
                      "the last assertion from cleanup, so the recovered phase carries no requests",
                      ("probes", i, "slo", "recovered"), key=True)


PROBE_CHECKS: tuple[Check, ...] = (check_targets, check_probe_names, check_probe_durations,
                                   check_phases)
