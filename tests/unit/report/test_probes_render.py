"""The probes in every format: a table per probe in the terminal and in summary.md, a JUnit test
case per SLO check (a missed SLO is a failing test case, one not evaluated is skipped), the HTML
probe lane (runs of successes and failures, the latency line, the phase lines) and its Service
impact tables, report.json round trip and schema, header values and bodies redacted everywhere."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import jsonschema
import junitparser

import tests.unit.report.report_samples as report_samples
from runner.engine.probe_result import PhaseStats, ProbeResult, SloCheck
from runner.engine.result import RunResult, Verdict
from runner.report import html, junit, markdown, write_reports
from runner.report.terminal import render_text
from tests.unit.report.junit_check import assert_reads_right

T0 = report_samples.T0
SCHEMA = Path(__file__).resolve().parents[3] / "schema" / "report.schema.json"
SECRET_HEADER = "Bearer hunter2-probe-token"
SECRET_BODY = '{"prompt": "hello", "api_key": "sk-abcdefghijklmnopqrstuvwx"}'


def probe() -> ProbeResult:
    series = tuple((T0 + 1 + i * 0.2, 0 if 200 <= i < 232 else 1, 2.0 + (i % 7)) for i in range(400))
    phases = {
        "setup": PhaseStats(190, 190, 1.0, 2.3, 7.1, 9.0, 0.0, None, None, T0 + 1, T0 + 40),
        "fault": PhaseStats(100, 68, 0.68, 2.5, 8.8, 9.0, 6.4, T0 + 41, T0 + 47.4, T0 + 40, T0 + 60,
                            {"HTTP 503: no endpoints available for service \"vllm-worker\"": 31,
                             "HTTP 500: CUDA error: cudaErrorNoDevice (100) in cudaMalloc": 1}),
        "recovered": PhaseStats(110, 110, 1.0, 2.2, 6.5, 8.0, 0.0, None, None, T0 + 60, T0 + 82),
        "rollback": PhaseStats(0, 0, None, None, None, None, 0.0, None, None, T0 + 82, T0 + 82.2),
    }
    slo = (SloCheck("setup", "min-success-rate", 1.0, 1.0, True),
           SloCheck("fault", "max-outage", 5.0, 6.4, False, "s"),
           SloCheck("recovered", "max-p95-latency", 1000.0, 6.5, True, "ms"),
           SloCheck("rollback", "min-success-rate", 0.9, None, None))
    return ProbeResult("completions", "service inference/vllm-worker:8000/v1/completions", 0.2, 400,
                       phases, 6.6, slo, "POST", {"Authorization": SECRET_HEADER}, SECRET_BODY,
                       False, 0, series)


def result() -> RunResult:
    base = report_samples.passed()
    return dataclasses.replace(base, verdict=Verdict.FAILED, probes=(probe(),),
                               reason="SLO missed: probe completions: fault max-outage: observed 6.4s, "
                                      "threshold 5s")


def test_report_json_round_trips_and_fits_the_schema(tmp_path: Path) -> None:
    done = result()
    assert RunResult.from_json(done.to_json()) == done
    write_reports(done, tmp_path / "run")
    data = json.loads((tmp_path / "run" / "report.json").read_text())
    jsonschema.validate(data, json.loads(SCHEMA.read_text()))
    (p,) = data["probes"]
    assert set(p) >= {"name", "target", "interval_s", "requests", "phases", "time_to_recover_s", "slo"}
    assert set(p["phases"]) == {"setup", "fault", "recovered", "rollback"}
    assert set(p["phases"]["fault"]) >= {"requests", "succeeded", "success_rate", "p50_ms", "p95_ms",
                                         "p99_ms", "longest_outage_s", "first_failure_at", "recovered_at"}
    assert set(p["slo"][0]) >= {"phase", "check", "threshold", "observed", "passed"}
    assert p["phases"]["rollback"]["success_rate"] is None


def test_an_old_report_without_probes_still_loads(tmp_path: Path) -> None:
    from runner.report import load_result

    write_reports(report_samples.passed(), tmp_path / "run")
    path = tmp_path / "run" / "report.json"
    data = json.loads(path.read_text())
    del data["probes"]
    path.write_text(json.dumps(data))
    assert load_result(tmp_path / "run").probes == ()


def test_terminal_shows_a_table_per_probe_and_each_slo() -> None:
    text = render_text(result(), width=120)
    flat = " ".join(text.split())
    assert "Service impact — completions: service inference/vllm-worker:8000/v1/completions, POST every " \
           "200ms; 400 requests; back (3 in a row) 6.6s after the first failure; 1 SLO(s) MISSED" in flat
    rows = {line.split("|")[1].strip(): line for line in text.splitlines() if line.startswith("|")
            and line.split("|")[1].strip() in ("setup", "fault", "recovered", "rollback")}
    assert set(rows) == {"setup", "fault", "recovered", "rollback"}
    assert "68.0%" in rows["fault"]
    assert "6.4s" in rows["fault"]
    assert "+41.0s" in rows["fault"]
    assert "SLO MISSED  fault max-outage: observed 6.4s, threshold 5s" in text
    assert "SLO not evaluated  rollback min-success-rate: observed —, threshold 0.9" in text


def test_summary_md_has_the_phases_and_the_slos() -> None:
    text = markdown.render(result())
    assert "### Service impact" in text
    assert "| fault | 100 | 68.0% | 2.5ms | 8.8ms | 9.0ms | 6.4s | +41.0s | +47.4s |" in text
    assert "| ❌ MISSED | fault | max-outage | 5s | 6.4s |" in text
    assert "| ➖ not evaluated | rollback | min-success-rate | 0.9 | — |" in text


def test_junit_has_a_test_case_per_slo_and_a_missed_one_fails(tmp_path: Path, junit_xsd_path: Path) -> None:
    write_reports(result(), tmp_path / "run")
    xml = assert_reads_right(tmp_path / "run" / "junit.xml", junit_xsd_path)
    cases = {c.name: c for suite in xml for c in suite}
    slo_cases = [name for name in cases if name.startswith("probe ")]
    assert slo_cases == ["probe completions: setup min-success-rate", "probe completions: fault max-outage",
                         "probe completions: recovered max-p95-latency",
                         "probe completions: rollback min-success-rate"]
    missed = cases["probe completions: fault max-outage"]
    (outcome,) = missed.result
    assert isinstance(outcome, junitparser.Failure)
    assert outcome.message == "fault max-outage: observed 6.4s, threshold 5s"
    assert "31 x HTTP 503: no endpoints available" in (outcome.text or "")
    assert list(cases["probe completions: setup min-success-rate"].result) == []
    assert [type(r) for r in cases["probe completions: rollback min-success-rate"].result] == [
        junitparser.Skipped]
    assert junit.slo_case_name(probe(), probe().slo[1]) == "probe completions: fault max-outage"


def test_html_draws_the_probe_lane_under_the_steps_and_nodes() -> None:
    svg = html.timeline_svg(result())
    lane = svg[svg.index('<g class="probe-lane" data-probe="completions">'):]
    assert lane.count('class="fail"') == 1  # one run of 32 failures, one red bar
    assert lane.count('class="ok"') == 2  # successes before and after it
    assert "32 request(s) failed" in lane
    assert lane.count('class="latency"') == 2  # the line breaks where requests failed
    assert [p for p in ("fault", "recovered", "rollback") if f'data-phase="{p}"' in lane] == [
        "fault", "recovered", "rollback"]
    assert svg.index('class="probe-lane"') > svg.rindex('class="mk"')  # under the node lanes
    page = html.render(result())
    assert '<section id="service-impact"><h2>Service impact</h2>' in page
    assert "probe requests failed" in page  # the legend


def test_headers_and_bodies_are_redacted_everywhere(tmp_path: Path) -> None:
    files = write_reports(result(), tmp_path / "run")
    for path in files:
        text = path.read_text()
        assert "hunter2" not in text, path.name
        assert "sk-abcdefghijklmnop" not in text, path.name
    assert "hunter2" not in render_text(result())
    data = json.loads((tmp_path / "run" / "report.json").read_text())
    assert data["probes"][0]["headers"] == {"Authorization": "[REDACTED]"}
    assert data["probes"][0]["body"] == "[REDACTED]"


def test_probes_jsonl_is_redacted_when_reports_are_written(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    line = {"probe": "completions", "at": T0, "phase": "fault", "ok": False, "status": 500,
            "latency_ms": 3.0, "error": "HTTP 500: echo Authorization: Bearer abcdef123456 token=s3cr3t"}
    (run_dir / "probes.jsonl").write_text(json.dumps(line) + "\n" + '{"probe": "cut sho')
    files = write_reports(report_samples.passed(), run_dir)
    assert run_dir / "probes.jsonl" in files
    text = (run_dir / "probes.jsonl").read_text()
    assert "abcdef123456" not in text
    assert "s3cr3t" not in text
    first = json.loads(text.splitlines()[0])
    assert first["error"].startswith("HTTP 500: echo Authorization: [REDACTED]")
    assert (run_dir / "probes.jsonl").stat().st_mode & 0o777 == 0o600
