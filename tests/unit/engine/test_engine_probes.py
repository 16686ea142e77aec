"""The executor runs a scenario's background probes from before the first step to the end of the
rollback, files their samples under the phases the steps mark, writes probes.jsonl as they come,
and lets the SLOs decide a run the steps passed (exit 1 for fault/recovered/rollback, 3 for setup).
All on the fake clock: the probes' timers fire as the steps' sleeps move fake time."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from runner.cluster.protocol import HttpAnswer
from runner.engine.result import RunResult, Verdict
from runner.errors import Forbidden
from runner.scenario.model import (
    AssertStep,
    CleanupStep,
    Duration,
    PatchStep,
    PauseStep,
    PhaseSlo,
    Probe,
    ProbeSlo,
    ServiceRef,
    StepKind,
    ToggleStep,
    WaitStep,
)
from runner.steps.pause import PauseImpl
from tests.fakes.clock import FakeClock
from tests.fakes.cluster import FakeCluster, ProxiedRequest
from tests.unit.engine.stepkit import Kit, make_scenario

OK = HttpAnswer(200, 0.004, b"{}")
DOWN = HttpAnswer(503, 0.001, b'{"kind":"Status","message":"no endpoints available for service \\"w\\""}')


def steps() -> list:
    """setup: 2s of pause; the toggle arms; fault: 3s of pause then the assert (whose end starts
    recovered); recovered: 2s of pause; then cleanup (rollback)."""
    return [PatchStep(StepKind.PATCH, "1-patch"), WaitStep(StepKind.WAIT, "2-wait"),
            PauseStep(StepKind.PAUSE, "before", duration=Duration.of(2)),
            ToggleStep(StepKind.TOGGLE, "4-toggle"),
            PauseStep(StepKind.PAUSE, "under-fault", duration=Duration.of(3)),
            AssertStep(StepKind.ASSERT, "6-assert"),
            PauseStep(StepKind.PAUSE, "after", duration=Duration.of(2)),
            CleanupStep(StepKind.CLEANUP, "8-cleanup")]


def probe(slo: ProbeSlo | None = None, **kw: object) -> Probe:
    return Probe("api", service=ServiceRef("w", 8000), path="/v1/completions", method="POST",
                 headers={"Authorization": "Bearer s3cr3t-token", "Content-Type": "application/json"},
                 body='{"prompt": "hello", "api_key": "sk-live-1234"}', interval=Duration.of(0.3),
                 slo=slo or ProbeSlo(), **kw)  # type: ignore[arg-type]


def down_between(clock: FakeClock, start: float, end: float) -> Callable[[ProxiedRequest], HttpAnswer]:
    """The service: down from `start` to `end` seconds (fake monotonic), else up."""
    t0 = clock.monotonic()

    def answer(request: ProxiedRequest) -> HttpAnswer:
        return DOWN if start <= clock.monotonic() - t0 < end else OK

    return answer


def go(run: Callable[..., RunResult], kit: Kit, *probes: Probe) -> RunResult:
    scenario = make_scenario(steps())
    scenario = type(scenario)(**{**scenario.__dict__, "probes": probes})
    return run(scenario, steps=kit.registry().replacing(PauseImpl()))


def test_probes_run_the_whole_run_and_split_by_phase(run, kit, cluster: FakeCluster, clock: FakeClock,
                                                      tmp_path: Path) -> None:
    cluster.serve(down_between(clock, 2.65, 3.45))  # down a while, soon after arming (at 2s)
    result = go(run, kit, probe())
    assert result.verdict is Verdict.PASSED, result.reason
    (found,) = result.probes
    assert found.target == "service ns/w:8000/v1/completions"
    phases = found.phases
    # a request every 0.3s: setup 0.3..1.8, fault 2.1..4.8 (fails 2.7, 3.0, 3.3), recovered 5.1..6.9
    assert [phases[p].requests for p in ("setup", "fault", "recovered", "rollback")] == [6, 10, 7, 0]
    assert phases["setup"].success_rate == 1.0
    assert phases["fault"].succeeded == 7
    assert phases["fault"].longest_outage_s == pytest.approx(0.9)
    assert phases["recovered"].success_rate == 1.0
    assert phases["rollback"].success_rate is None
    assert found.time_to_recover_s == pytest.approx(0.9)
    assert found.missed == 0
    request = cluster.proxied[0]
    assert (request.namespace, request.service, request.port, request.path, request.method) == (
        "ns", "w", 8000, "/v1/completions", "POST")
    assert request.headers["Authorization"] == "Bearer s3cr3t-token"  # sent, never written
    lines = [json.loads(line) for line in (tmp_path / "run" / "probes.jsonl").read_text().splitlines()]
    assert len(lines) == found.requests == 23
    assert [line["phase"] for line in lines] == ["setup"] * 6 + ["fault"] * 10 + ["recovered"] * 7
    assert {line["error"] for line in lines if not line["ok"]} == {
        'HTTP 503: no endpoints available for service "w"'}
    assert stat.S_IMODE(os.stat(tmp_path / "run" / "probes.jsonl").st_mode) == 0o600
    assert len(cluster.proxied) == 23  # nothing after the probes stopped


def test_an_slo_tighter_than_what_happened_fails_the_run(run, kit, cluster: FakeCluster,
                                                         clock: FakeClock) -> None:
    cluster.serve(down_between(clock, 2.65, 3.45))
    slo = ProbeSlo(fault=PhaseSlo(max_outage=Duration.parse("500ms")))
    result = go(run, kit, probe(slo))
    assert result.verdict is Verdict.FAILED
    assert result.exit_code == 1
    assert result.reason == "SLO missed: probe api: fault max-outage: observed 0.9s, threshold 0.5s"
    assert result.rollback.complete  # rollback as usual


def test_a_setup_slo_that_cannot_hold_is_inconclusive(run, kit, cluster: FakeCluster,
                                                      clock: FakeClock) -> None:
    cluster.serve(down_between(clock, 0.0, 1.2))  # unhealthy before the fault
    slo = ProbeSlo(setup=PhaseSlo(min_success_rate=1.0), fault=PhaseSlo(min_success_rate=1.0))
    result = go(run, kit, probe(slo))
    assert result.verdict is Verdict.INCONCLUSIVE
    assert result.exit_code == 3
    assert result.reason.startswith("the service was not healthy before the fault (probe api: setup "
                                    "min-success-rate: observed 0.5, threshold 1)")


def test_a_failed_step_stays_failed_and_says_the_slo_too(run, kit, cluster: FakeCluster,
                                                         clock: FakeClock) -> None:
    """(A missed setup SLO would make it inconclusive instead: 3 > 1, tests/unit/engine/
    test_probe_stats.py.)"""
    cluster.serve(lambda request: DOWN)
    kit.modes["6-assert"] = "fail"
    result = go(run, kit, probe(ProbeSlo(fault=PhaseSlo(min_success_rate=0.5))))
    assert result.verdict is Verdict.FAILED
    assert result.reason.startswith("step 6-assert failed: told to fail; SLO missed: probe api: fault")
    phases = result.probes[0].phases
    assert phases["recovered"].requests == 0
    assert phases["recovered"].started_at is None
    assert phases["rollback"].started_at is not None


def test_a_run_refused_at_preflight_sends_nothing(run, kit, cluster: FakeCluster) -> None:
    cluster.fail_next("get", Forbidden("no"), kind="Deployment", times=10)
    result = go(run, kit, probe())
    assert result.verdict is Verdict.INCONCLUSIVE
    assert result.probes == ()
    assert cluster.proxied == []


def test_report_redacts_the_probes_headers_and_body(run, kit, cluster: FakeCluster, tmp_path: Path) -> None:
    from runner.report import write_reports

    result = go(run, kit, probe())
    files = write_reports(result, tmp_path / "run")
    assert tmp_path / "run" / "probes.jsonl" in files
    for path in files:
        text = path.read_text()
        assert "s3cr3t-token" not in text, path.name
        assert "sk-live-1234" not in text, path.name
    data = json.loads((tmp_path / "run" / "report.json").read_text())
    assert data["probes"][0]["headers"] == {"Authorization": "[REDACTED]", "Content-Type": "[REDACTED]"}
    assert data["probes"][0]["body"] == "[REDACTED]"
