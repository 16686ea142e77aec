"""`probes:` and the probe step's request keys through validation: the model they build, every
error and warning placed at its key (unknown keys and phases, durations, neither or both of
service/url, a relative path, duplicate names, a recovered SLO without a pause before cleanup,
an SLO on a phase that never comes), and the phases the steps mark."""

from __future__ import annotations

from pathlib import Path

import pytest

from runner.scenario import model as m
from runner.scenario.phases import arming_step, pause_before_cleanup, recovery_step
from runner.scenario.problems import Severity
from runner.scenario.validate import FileResult, load_scenario, validate_text
from tests.unit.scenario.test_semantic_checks import HEAD

REPO = Path(__file__).resolve().parents[3]
STEPS = """steps:
  - patch: {}
  - wait: {for: pods-ready}
  - toggle: {}
  - assert-reschedule: {}
  - pause: {duration: 5s}
  - cleanup: {}
"""
PROBE = """probes:
  - name: completions
    service: {name: vllm-worker, port: 8000}
    path: /v1/completions
    method: POST
    headers: {Content-Type: application/json, X-Request-Source: chaos}
    body: '{"model": "m", "prompt": "hello", "max_tokens": 8}'
    interval: 200ms
    request-timeout: 2s
    expect-status: 200
    stream: true
    slo:
      setup:     {min-success-rate: 1.0}
      fault:     {min-success-rate: 0.5, max-outage: 30s}
      recovered: {min-success-rate: 1.0, max-p95-latency: 1s}
      rollback:  {min-success-rate: 0.9, max-p50-latency: 100ms, max-p99-latency: 2s}
"""


def check(text: str) -> FileResult:
    return validate_text(HEAD + text, "t.yaml")


def found(result: FileResult) -> list[tuple[str, Severity, str, int]]:
    return [(p.code, p.severity, p.field, p.line) for p in result.problems]


def test_the_issues_example_builds_the_model() -> None:
    result = check(PROBE + STEPS)
    assert found(result) == []
    assert result.scenario is not None
    (probe,) = result.scenario.probes
    assert probe == m.Probe(
        name="completions", service=m.ServiceRef("vllm-worker", 8000), path="/v1/completions",
        method="POST", headers={"Content-Type": "application/json", "X-Request-Source": "chaos"},
        body='{"model": "m", "prompt": "hello", "max_tokens": 8}', stream=True,
        interval=m.Duration.parse("200ms"), request_timeout=m.Duration.parse("2s"),
        slo=m.ProbeSlo(setup=m.PhaseSlo(min_success_rate=1.0),
                       fault=m.PhaseSlo(min_success_rate=0.5, max_outage=m.Duration.parse("30s")),
                       recovered=m.PhaseSlo(min_success_rate=1.0, max_p95_latency=m.Duration.parse("1s")),
                       rollback=m.PhaseSlo(min_success_rate=0.9, max_p50_latency=m.Duration.parse("100ms"),
                                           max_p99_latency=m.Duration.parse("2s"))))
    assert probe.interval.seconds == 0.2


def test_the_probe_step_speaks_the_same_grammar() -> None:
    text = STEPS.replace("  - pause: {duration: 5s}\n",
                         "  - probe: {service: {name: vllm-worker, port: http}, path: /health, "
                         "duration: 5s, interval: 500ms, stream: false}\n")
    result = check(text)
    assert found(result) == []
    assert result.scenario is not None
    step = result.scenario.steps[4]
    assert isinstance(step, m.ProbeStep)
    assert (step.service, step.path, step.url) == (m.ServiceRef("vllm-worker", "http"), "/health", "")


@pytest.mark.parametrize(("change", "expected"), [
    (("    interval: 200ms\n", "    intervl: 200ms\n"), [("CH010", "probes[0].intervl", 14)]),
    (("      rollback: ", "      rolback: "), [("CH010", "probes[0].slo.rolback", 22)]),
    (("max-outage: 30s", "max-outage: 30 s"), [("CH014", "probes[0].slo.fault.max-outage", 20)]),
    (("min-success-rate: 0.5", "min-success-rate: 1.5"),
     [("CH013", "probes[0].slo.fault.min-success-rate", 20)]),
    (("    interval: 200ms\n", "    interval: 0s\n"), [("CH025", "probes[0].interval", 14)]),
    (("request-timeout: 2s", "request-timeout: 2h"), [("CH026", "probes[0].request-timeout", 15)]),
    (("  - name: completions\n", "  - name: Completions!\n"), [("CH013", "probes[0].name", 8)]),
    (("    path: /v1/completions\n", "    path: v1/completions\n"), [("CH046", "probes[0].path", 10)]),
    (("    service: {name: vllm-worker, port: 8000}\n", ""), [("CH031", "probes[0]", 8)]),
    (("    service: {name: vllm-worker, port: 8000}\n",
      "    service: {name: vllm-worker, port: 8000}\n    url: https://inference.example.com\n"),
     [("CH044", "probes[0].url", 10)]),
    (("    service: {name: vllm-worker, port: 8000}\n", "    service: {name: vllm-worker}\n"),
     [("CH011", "probes[0].service.port", 9)]),
])
def test_probe_errors_are_placed(change: tuple[str, str], expected: list[tuple[str, str, int]]) -> None:
    text = PROBE.replace(*change)
    assert text != PROBE
    result = check(text + STEPS)
    assert [(p.code, p.field, p.line) for p in result.problems] == expected
    assert result.problems[0].severity is Severity.ERROR


def test_an_authorization_header_does_not_go_through_the_service_proxy() -> None:
    text = PROBE.replace("X-Request-Source: chaos", "authorization: Bearer xyz")
    assert [(p.code, p.severity, p.field) for p in check(text + STEPS).problems] == [
        ("CH049", Severity.WARNING, "probes[0].headers.authorization")]
    direct = text.replace("    service: {name: vllm-worker, port: 8000}\n",
                          "    url: https://inference.example.com\n")
    assert found(check(direct + STEPS)) == []


def test_duplicate_probe_names() -> None:
    second = PROBE.replace("probes:\n", "")
    result = check(PROBE + second + STEPS)
    assert [(p.code, p.field) for p in result.problems] == [("CH045", "probes[1].name")]


def test_a_probe_step_with_neither_or_both() -> None:
    neither = STEPS.replace("  - pause: {duration: 5s}\n", "  - probe: {path: /health}\n")
    assert [(p.code, p.field) for p in check(neither).problems] == [("CH031", "steps[4].probe")]
    both = STEPS.replace("  - pause: {duration: 5s}\n", "  - probe: {url: 'http://x', service: "
                         "{name: a, port: 80}}\n")
    assert [(p.code, p.field) for p in check(both).problems] == [("CH044", "steps[4].probe.url")]


def test_a_recovered_slo_needs_a_pause_before_cleanup() -> None:
    no_pause = STEPS.replace("  - pause: {duration: 5s}\n", "")
    result = check(PROBE + no_pause)
    assert found(result) == [("CH047", Severity.WARNING, "probes[0].slo.recovered", 21)]
    assert result.passed()
    assert not result.passed(strict=True)
    without_recovered = PROBE.replace("      recovered: {min-success-rate: 1.0, max-p95-latency: 1s}\n", "")
    assert found(check(without_recovered + no_pause)) == []


def test_an_slo_on_a_phase_that_never_comes() -> None:
    unarmed = "steps:\n  - patch: {}\n  - wait: {for: pods-ready}\n  - cleanup: {}\n"
    result = check(PROBE + unarmed)
    assert [(p.code, p.field) for p in result.problems] == [
        ("CH048", "probes[0].slo.fault"), ("CH048", "probes[0].slo.recovered")]


def test_phase_boundaries_from_the_steps() -> None:
    result = check(PROBE + STEPS)
    assert result.scenario is not None
    scenario = result.scenario
    assert (arming_step(scenario), recovery_step(scenario)) == (2, 3)  # toggle, assert-reschedule
    assert pause_before_cleanup(scenario)
    only_toggle = check("steps:\n  - patch: {}\n  - toggle: {}\n  - cleanup: {}\n").scenario
    assert only_toggle is not None
    assert recovery_step(only_toggle) == 1


@pytest.mark.parametrize("name", sorted(p.name for p in (REPO / "scenarios").glob("*.yaml")))
def test_every_bundled_scenario_has_a_probe_with_room_for_recovered(name: str) -> None:
    scenario = load_scenario(REPO / "scenarios" / name)
    assert scenario.probes, name
    assert all(p.service is not None for p in scenario.probes)
    assert pause_before_cleanup(scenario), name
