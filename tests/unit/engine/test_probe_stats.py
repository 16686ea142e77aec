"""What a probe's samples say, from synthetic samples: phases by send time, outages, nearest-rank
percentiles, time to recover, SLO evaluation (not evaluated without requests), the verdict the
SLOs give, and the series thinned without losing an outage."""

from __future__ import annotations

import pytest

from runner.engine.executor import _with_slos
from runner.engine.probe_result import PHASES, ProbeResult, SloCheck
from runner.engine.probe_stats import (
    Marks,
    evaluate,
    outages,
    slo_verdict,
    summarize,
    thin,
    time_to_recover,
)
from runner.engine.result import Verdict
from runner.kernel.probing import Sample, percentile
from runner.scenario.model import Duration, PhaseSlo, Probe, ProbePhase, ProbeSlo

MARKS = Marks(armed_at=10.0, recovered_at=20.0, rollback_at=30.0)


def samples(pattern: str, start: float = 0.0, every: float = 1.0, latency: float = 0.01) -> list[Sample]:
    """'.' a success, 'x' a failure, one per `every` seconds from `start`."""
    return [Sample(start + i * every, c == ".", 200 if c == "." else 503, latency * (i + 1),
                   "" if c == "." else "HTTP 503: no endpoints available for service \"w\"")
            for i, c in enumerate(pattern)]


def probe(**slo: PhaseSlo) -> Probe:
    return Probe("p", url="http://x", interval=Duration.of(1), slo=ProbeSlo(**slo))


def test_phases_by_send_time() -> None:
    assert [MARKS.phase_of(t).value for t in (0, 9.99, 10, 19.9, 20, 29.9, 30, 99)] == [
        "setup", "setup", "fault", "fault", "recovered", "recovered", "rollback", "rollback"]
    never_armed = Marks(rollback_at=5.0)
    assert never_armed.phase_of(4).value == "setup"
    assert never_armed.phase_of(6).value == "rollback"
    windows = MARKS.windows(0.0, 40.0)
    assert windows == {"setup": (0.0, 10.0), "fault": (10.0, 20.0), "recovered": (20.0, 30.0),
                       "rollback": (30.0, 40.0)}
    failed_in_fault = Marks(armed_at=10.0, rollback_at=15.0).windows(0.0, 20.0)
    assert failed_in_fault["recovered"] == (None, None)  # the run never got there
    assert failed_in_fault["fault"] == (10.0, 15.0)


def test_outages_run_from_the_first_failure_to_the_next_success() -> None:
    found = outages(samples("..xxx..x.xx"), stopped_at=12.0)
    assert [(o.start, o.end, o.ended) for o in found] == [(2, 5, True), (7, 8, True), (9, 12.0, False)]
    assert outages(samples("...."), 4.0) == []


def test_percentiles_are_nearest_rank() -> None:
    values = [float(i) for i in range(1, 101)]
    assert (percentile(values, 50), percentile(values, 95), percentile(values, 99)) == (50.0, 95.0, 99.0)
    assert percentile([3.0], 99) == 3.0
    assert percentile([], 50) is None


def test_time_to_recover_needs_three_successes_in_a_row() -> None:
    # armed at 10; fails at 12..14; one success at 15, fails at 16, back for good from 17
    found = samples("." * 12 + "xxx.x" + "." * 5)
    assert time_to_recover(found, 10.0) == 17 - 12
    assert time_to_recover(samples("xx" + "." * 20), 10.0) is None  # nothing failed after arming
    assert time_to_recover(samples("." * 12 + "x" * 8), 10.0) is None  # never came back
    assert time_to_recover(found, None) is None


def test_summary_per_phase() -> None:
    # setup 0..9 ok, fault 10..19 with an outage 12..15, recovered 20..29 ok, rollback 30..34 ok
    found = samples("." * 12 + "xxxx" + "." * 19)
    result = summarize(probe(), "http://x", found, MARKS, 0.0, 35.0, missed=2)
    assert list(result.phases) == list(PHASES)
    setup, fault, recovered, rollback = (result.phases[p] for p in PHASES)
    assert (setup.requests, setup.succeeded, setup.success_rate) == (10, 10, 1.0)
    assert (fault.requests, fault.succeeded, fault.success_rate) == (10, 6, 0.6)
    assert fault.longest_outage_s == 4.0
    assert (fault.first_failure_at, fault.recovered_at) == (12.0, 16.0)
    assert fault.errors == {"HTTP 503: no endpoints available for service \"w\"": 4}
    assert (recovered.requests, recovered.longest_outage_s, recovered.first_failure_at) == (10, 0.0, None)
    assert rollback.requests == 5
    assert (rollback.started_at, rollback.ended_at) == (30.0, 35.0)
    assert setup.p50_ms == 50.0
    assert setup.p99_ms == 100.0
    assert result.time_to_recover_s == 4.0
    assert (result.requests, result.missed, result.interval_s) == (35, 2, 1.0)
    assert result.series[12] == (12.0, 0, 130.0)


def test_an_outage_belongs_to_the_phase_it_began_in() -> None:
    # the outage begins in fault (at 18) and ends in recovered (at 23)
    result = summarize(probe(), "t", samples("." * 18 + "xxxxx" + "." * 7), MARKS, 0.0, 30.0)
    assert result.phases["fault"].longest_outage_s == 5.0
    assert result.phases["recovered"].longest_outage_s == 0.0
    assert result.phases["recovered"].success_rate == pytest.approx(7 / 10)  # 20, 21, 22 failed


def test_a_phase_without_requests_and_its_slo() -> None:
    slo = {"rollback": PhaseSlo(min_success_rate=0.9, max_outage=Duration.of(5),
                                max_p95_latency=Duration.of(1))}
    result = summarize(probe(**slo), "t", samples("." * 25), MARKS, 0.0, 25.0)
    rollback = result.phases["rollback"]
    assert (rollback.requests, rollback.success_rate, rollback.p95_ms) == (0, None, None)
    assert [(c.check, c.observed, c.passed) for c in result.slo] == [
        ("min-success-rate", None, None), ("max-outage", None, None), ("max-p95-latency", None, None)]
    assert "not evaluated" in result.slo[0].describe()
    assert slo_verdict([result]) is None


def test_every_slo_check() -> None:
    slo = ProbeSlo(setup=PhaseSlo(min_success_rate=1.0),
                   fault=PhaseSlo(min_success_rate=0.5, max_outage=Duration.parse("3s")),
                   recovered=PhaseSlo(max_p50_latency=Duration.parse("150ms"),
                                      max_p95_latency=Duration.parse("1s"),
                                      max_p99_latency=Duration.parse("200ms")))
    result = summarize(probe(), "t", samples("." * 12 + "xxxx" + "." * 19), MARKS, 0.0, 35.0)
    checks = evaluate(slo, dict(result.phases))
    assert [(c.phase, c.check, c.threshold, c.observed, c.passed, c.unit) for c in checks] == [
        ("setup", "min-success-rate", 1.0, 1.0, True, ""),
        ("fault", "min-success-rate", 0.5, 0.6, True, ""),
        ("fault", "max-outage", 3.0, 4.0, False, "s"),
        ("recovered", "max-p50-latency", 150.0, 250.0, False, "ms"),
        ("recovered", "max-p95-latency", 1000.0, 300.0, True, "ms"),
        ("recovered", "max-p99-latency", 200.0, 300.0, False, "ms"),
    ]
    assert checks[2].describe() == "fault max-outage: observed 4s, threshold 3s"


def result_with(*checks: SloCheck) -> ProbeResult:
    return ProbeResult("p", "t", 1.0, 1, {}, None, checks)


MISSED_FAULT = SloCheck("fault", "max-outage", 3.0, 4.2, False, "s")
MISSED_SETUP = SloCheck("setup", "min-success-rate", 1.0, 0.9, False)
HELD = SloCheck("recovered", "min-success-rate", 1.0, 1.0, True)


def test_the_verdict_the_slos_give() -> None:
    assert slo_verdict([result_with(HELD)]) is None
    verdict, reason = slo_verdict([result_with(HELD, MISSED_FAULT)]) or (None, "")
    assert verdict is Verdict.FAILED
    assert reason == "SLO missed: probe p: fault max-outage: observed 4.2s, threshold 3s"
    verdict, reason = slo_verdict([result_with(MISSED_FAULT), result_with(MISSED_SETUP)]) or (None, "")
    assert verdict is Verdict.INCONCLUSIVE  # unhealthy before the fault: nothing is proven
    assert "not healthy before the fault" in reason
    assert "setup min-success-rate" in reason


@pytest.mark.parametrize(("before", "checks", "after"), [
    (Verdict.PASSED, (HELD,), Verdict.PASSED),
    (Verdict.PASSED, (MISSED_FAULT,), Verdict.FAILED),
    (Verdict.PASSED, (MISSED_SETUP,), Verdict.INCONCLUSIVE),
    (Verdict.FAILED, (MISSED_FAULT,), Verdict.FAILED),  # a failed step stays the reason
    (Verdict.FAILED, (MISSED_SETUP,), Verdict.INCONCLUSIVE),  # 3 > 1: unhealthy before, proves nothing
    (Verdict.INTERRUPTED, (MISSED_SETUP,), Verdict.INTERRUPTED),  # 4 > 3
    (Verdict.INCONCLUSIVE, (MISSED_FAULT,), Verdict.INCONCLUSIVE),
])
def test_slos_combine_with_the_steps_verdict(before: Verdict, checks: tuple[SloCheck, ...],
                                              after: Verdict) -> None:
    verdict, reason = _with_slos(before, "the steps' reason", (result_with(*checks),))
    assert verdict is after
    if all(c.passed for c in checks) or before is Verdict.INTERRUPTED:
        assert reason == "the steps' reason"  # an interrupted run's phases were cut short
    elif before is Verdict.PASSED:
        assert "the steps' reason" not in reason
    elif before is Verdict.FAILED and after is Verdict.INCONCLUSIVE:
        assert reason.startswith("the service was not healthy before the fault")
        assert reason.endswith("; the steps' reason")
    else:
        assert reason.startswith("the steps' reason; ")


def test_thinning_keeps_every_outage() -> None:
    many = samples("." * 5000 + "x" + "." * 4999, every=0.1)
    series = thin(many, limit=1000)
    assert len(series) <= 1000
    assert any(ok == 0 for _, ok, _ in series)
    assert len(thin(samples("..x."), limit=1000)) == 4


def test_phase_names_are_the_scenario_enum() -> None:
    assert [p.value for p in ProbePhase] == list(PHASES)
