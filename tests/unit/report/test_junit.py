"""junit.xml: parses with a standard JUnit reader (junitparser) and with xml.etree, one testcase per
step with the right outcome element, suite properties carrying the verdict."""

from __future__ import annotations

import dataclasses
import xml.etree.ElementTree as ET
from pathlib import Path

import junitparser

import tests.unit.report.report_samples as report_samples
from runner.engine.result import RunResult, StepStatus
from runner.report import junit, write_reports

OUTCOME = {StepStatus.FAILED: junitparser.Failure, StepStatus.ERROR: junitparser.Error,
           StepStatus.INTERRUPTED: junitparser.Error, StepStatus.SKIPPED: junitparser.Skipped}


def test_junitparser_reads_one_suite_with_a_case_per_step(
        written: tuple[RunResult, Path, list[Path]]) -> None:
    result, run_dir, _ = written
    xml = junitparser.JUnitXml.fromfile(str(run_dir / "junit.xml"))
    suites = list(xml)
    assert len(suites) == 1
    suite = suites[0]
    assert suite.name == result.scenario_name
    cases = list(suite)
    assert [c.name for c in cases] == [s.name for s in result.steps]
    assert all(c.classname == result.scenario_name for c in cases)
    for case, step in zip(cases, result.steps, strict=True):
        assert abs(case.time - step.duration) < 0.001
        kinds = [type(r) for r in case.result]
        expected = OUTCOME.get(step.status)
        assert kinds == ([expected] if expected else []), (step.name, kinds)
        assert case.system_out is not None
        assert f"step kind: {step.kind}" in case.system_out
        for ev in step.evidence:
            assert ev.summary in case.system_out
    assert suite.tests == len(result.steps)
    assert suite.failures == sum(s.status is StepStatus.FAILED for s in result.steps)
    assert suite.errors == sum(s.status in (StepStatus.ERROR, StepStatus.INTERRUPTED) for s in result.steps)
    assert suite.skipped == sum(s.status is StepStatus.SKIPPED for s in result.steps)
    props = {p.name: p.value for p in suite.properties()}
    assert props["verdict"] == result.verdict.value
    assert props["run_id"] == result.run_id
    assert props["cluster"] == result.cluster
    assert props["xid"] == str(result.fault.xid)


def test_etree_sees_failure_message_and_evidence(tmp_path: Path) -> None:
    result = report_samples.failed()
    write_reports(result, tmp_path)
    root = ET.parse(tmp_path / "junit.xml").getroot()
    assert root.tag == "testsuites"
    (suite,) = root.findall("testsuite")
    failed = [c for c in suite.findall("testcase") if c.find("failure") is not None]
    assert [c.get("name") for c in failed] == ["assert reschedule"]
    failure = failed[0].find("failure")
    assert failure is not None
    assert "0/2 pods Ready" in (failure.get("message") or "")
    assert "Insufficient nvidia.com/gpu" in (failure.text or "")
    skipped = [c.get("name") for c in suite.findall("testcase") if c.find("skipped") is not None]
    assert skipped == ["cleanup"]


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
