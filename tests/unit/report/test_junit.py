"""junit.xml: valid against the Jenkins JUnit XSD, parses with a standard JUnit reader (junitparser)
and with xml.etree, one testcase per step with the right outcome element and a `verdict` test case
that fails unless the run passed, suite properties carrying the verdict."""

from __future__ import annotations

import dataclasses
import xml.etree.ElementTree as ET
from pathlib import Path

import junitparser
import pytest

import tests.unit.report.report_samples as report_samples
from runner.engine.result import RunResult, StepStatus, Verdict
from runner.report import junit, write_reports
from tests.unit.report.junit_check import assert_reads_right, schema_errors

OUTCOME = {StepStatus.FAILED: junitparser.Failure, StepStatus.ERROR: junitparser.Error,
           StepStatus.INTERRUPTED: junitparser.Error, StepStatus.SKIPPED: junitparser.Skipped}


VERDICT_OUTCOME = {Verdict.PASSED: None, Verdict.FAILED: junitparser.Failure,
                   Verdict.INCONCLUSIVE: junitparser.Failure, Verdict.INTERRUPTED: junitparser.Failure,
                   Verdict.ROLLBACK_INCOMPLETE: junitparser.Error}


def test_junitparser_reads_one_suite_with_a_case_per_step_and_the_verdict(
        written: tuple[RunResult, Path, list[Path]], junit_xsd_path: Path) -> None:
    result, run_dir, _ = written
    xml = assert_reads_right(run_dir / "junit.xml", junit_xsd_path)
    suites = list(xml)
    assert len(suites) == 1
    suite = suites[0]
    assert suite.name == result.scenario_name
    cases = list(suite)
    assert [c.name for c in cases] == [*(s.name for s in result.steps), "verdict"]
    assert all(c.classname == result.scenario_name for c in cases)
    for case, step in zip(cases, result.steps, strict=False):
        assert abs(case.time - step.duration) < 0.001
        kinds = [type(r) for r in case.result]
        expected = OUTCOME.get(step.status)
        assert kinds == ([expected] if expected else []), (step.name, kinds)
        assert case.system_out is not None
        assert f"step kind: {step.kind}" in case.system_out
        if step.line:
            assert f"scenario: {result.scenario_path}:{step.line}" in case.system_out
        for ev in step.evidence:
            assert ev.summary in case.system_out
    verdict = cases[-1]
    expected_verdict = VERDICT_OUTCOME[result.verdict]
    assert [type(r) for r in verdict.result] == ([expected_verdict] if expected_verdict else [])
    if expected_verdict:
        (outcome,) = verdict.result
        assert outcome.message == f"{result.verdict.value} (exit {result.exit_code}): {result.reason}"
    failing_verdict = expected_verdict is junitparser.Failure
    assert suite.tests == len(result.steps) + 1
    assert suite.failures == sum(s.status is StepStatus.FAILED for s in result.steps) + failing_verdict
    assert suite.errors == (sum(s.status in (StepStatus.ERROR, StepStatus.INTERRUPTED) for s in result.steps)
                            + (expected_verdict is junitparser.Error))
    assert suite.skipped == sum(s.status is StepStatus.SKIPPED for s in result.steps)
    props = {p.name: p.value for p in suite.properties()}
    assert props["verdict"] == result.verdict.value
    assert props["exit_code"] == str(result.exit_code)
    assert props["run_id"] == result.run_id
    assert props["cluster"] == result.cluster
    assert props["xid"] == str(result.fault.xid)
    # CI says "failed" exactly when the run did not pass
    assert (suite.failures + suite.errors > 0) == (result.verdict is not Verdict.PASSED)


def test_nothing_reached_is_a_failing_file_not_all_skipped(junit_xsd_path: Path, tmp_path: Path) -> None:
    """Preflight refused (a cluster that cannot be reached): every step skipped, the verdict fails."""
    result = report_samples.inconclusive()
    write_reports(result, tmp_path)
    xml = assert_reads_right(tmp_path / "junit.xml", junit_xsd_path)
    assert (xml.tests, xml.failures, xml.errors) == (len(result.steps) + 1, 1, 0)
    (suite,) = list(xml)
    assert suite.skipped == len(result.steps)
    verdict = next(c for c in suite if c.name == "verdict")
    (failure,) = verdict.result
    assert isinstance(failure, junitparser.Failure)
    assert failure.type == "Inconclusive"
    assert "preflight refused" in (failure.message or "")


def test_rollback_incomplete_is_an_error_naming_what_is_left(tmp_path: Path) -> None:
    result = report_samples.rollback_incomplete()
    write_reports(result, tmp_path)
    root = ET.parse(tmp_path / "junit.xml").getroot()
    verdict = root.find("testsuite/testcase[@name='verdict']")
    assert verdict is not None
    assert verdict.find("failure") is None
    error = verdict.find("error")
    assert error is not None
    assert error.get("type") == "RollbackIncomplete"
    for leftover in result.rollback.leftovers:
        assert f"LEFTOVER {leftover}" in (error.text or "")
    assert f"chaos recover {result.run_dir}" in (error.text or "")


def test_the_xsd_check_can_fail(junit_xsd_path: Path, tmp_path: Path) -> None:
    """What today's renderer wrote before (file/line on test cases, skipped on testsuites) is caught."""
    bad = tmp_path / "old.xml"
    bad.write_text('<?xml version="1.0"?><testsuites skipped="1"><testsuite name="s" tests="1" failures="0" '
                   'errors="0"><testcase name="c" file="x.yaml" line="3"/></testsuite></testsuites>')
    errors = schema_errors(bad, junit_xsd_path)
    for attribute in ("'skipped'", "'file'", "'line'"):
        assert f"attribute {attribute}" in errors, errors
    with pytest.raises(AssertionError, match="not valid JUnit"):
        assert_reads_right(bad, junit_xsd_path)


def test_etree_sees_failure_message_and_evidence(tmp_path: Path) -> None:
    result = report_samples.failed()
    write_reports(result, tmp_path)
    root = ET.parse(tmp_path / "junit.xml").getroot()
    assert root.tag == "testsuites"
    (suite,) = root.findall("testsuite")
    failed = [c for c in suite.findall("testcase") if c.find("failure") is not None]
    assert [c.get("name") for c in failed] == ["assert reschedule", "verdict"]
    failure = failed[0].find("failure")
    assert failure is not None
    assert "0/2 pods Ready" in (failure.get("message") or "")
    assert "Insufficient nvidia.com/gpu" in (failure.text or "")
    assert "at scenarios/xid79-fell-off-bus.yaml:18" in (failure.text or "")
    skipped = [c.get("name") for c in suite.findall("testcase") if c.find("skipped") is not None]
    assert skipped == ["cleanup"]
    verdict = suite.find("testcase[@name='verdict']/failure")
    assert verdict is not None
    assert verdict.get("type") == "Failed"


def test_hostile_text_still_makes_valid_xml(tmp_path: Path) -> None:
    base = report_samples.failed()
    nasty = 'exit 1 \x1b[31mred\x1b[0m \x00\x07 <tag attr="q"> & ]]> \ufffe'
    steps = (dataclasses.replace(base.steps[3], name="a<b>&\"c\"", message=nasty),)
    result = dataclasses.replace(base, steps=steps, reason=nasty)
    text = junit.render(result)
    root = ET.fromstring(text.encode())
    case = root.find("testsuite/testcase")
    assert case is not None
    assert case.get("name") == 'a<b>&"c"'
    failure = case.find("failure")
    assert failure is not None
    assert failure.get("message") == 'exit 1 red <tag attr="q"> & ]]>'
    junitparser.JUnitXml.fromstring(text)


def test_an_unfetchable_xsd_fails_with_a_message(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No XSD, no pass: the check fails (never skips) and says what it tried."""
    from tests.unit.report import junit_check

    monkeypatch.setattr(junit_check, "_cached", None)
    monkeypatch.setattr("sys.executable", "/bin/false")
    with pytest.raises(pytest.fail.Exception, match=r"cannot fetch the JUnit XSD: .*pip download"):
        junit_check.junit_xsd(tmp_path)
