"""`junit.xml`: the run as one JUnit test suite, so CI systems show each step as a test.

One <testsuite> (the scenario) inside <testsuites>; one <testcase> per step. Failed steps carry
<failure>, errored or interrupted ones <error>, steps not reached <skipped>; evidence goes to
<system-out>. Suite properties carry verdict, run id, cluster and XID. Built with ElementTree so
escaping is the library's job. This module must not decide verdicts; it only reports them.
"""

from __future__ import annotations

import datetime as _dt
import xml.etree.ElementTree as ET
from pathlib import Path

from runner.engine.result import RunResult, StepStatus
from runner.report.text import clean, evidence_lines, one_line

FILENAME = "junit.xml"


def render(result: RunResult) -> str:
    status = [s.status for s in result.steps]
    failures = status.count(StepStatus.FAILED)
    errors = status.count(StepStatus.ERROR) + status.count(StepStatus.INTERRUPTED)
    skipped = status.count(StepStatus.SKIPPED)
    total_time = max(0.0, result.finished_at - result.started_at)
    suites = ET.Element("testsuites", {
        "name": "chaos", "tests": str(len(status)), "failures": str(failures), "errors": str(errors),
        "skipped": str(skipped), "time": f"{total_time:.3f}",
    })
    suite = ET.SubElement(suites, "testsuite", {
        "name": clean(result.scenario_name), "tests": str(len(status)), "failures": str(failures),
        "errors": str(errors), "skipped": str(skipped), "time": f"{total_time:.3f}",
        "timestamp": _dt.datetime.fromtimestamp(result.started_at, tz=_dt.timezone.utc)
        .strftime("%Y-%m-%dT%H:%M:%S"),
        "hostname": clean(result.cluster) or "unknown",
    })
    props = ET.SubElement(suite, "properties")
    for name, value in (("verdict", result.verdict.value), ("reason", result.reason),
                        ("exit_code", str(result.exit_code)), ("run_id", result.run_id),
                        ("cluster", result.cluster), ("scenario_path", result.scenario_path),
                        ("xid", str(result.fault.xid)), ("xid_title", result.fault.title),
                        ("fault_node", result.fault.node),
                        ("injections_seen", str(result.fault.injections_seen)),
                        ("rollback_complete", str(result.rollback.complete).lower()),
                        ("tool_version", result.tool_version)):
        ET.SubElement(props, "property", {"name": name, "value": clean(value)})

    for step in result.steps:
        case = ET.SubElement(suite, "testcase", {
            "classname": clean(result.scenario_name), "name": clean(step.name),
            "time": f"{step.duration:.3f}",
        })
        if step.line:
            case.set("file", clean(result.scenario_path))
            case.set("line", str(step.line))
        message = one_line(step.message or step.status.value, 500)
        if step.status is StepStatus.FAILED:
            ET.SubElement(case, "failure", {"message": message, "type": "AssertionFailed"}).text = \
                "\n".join(evidence_lines(step))
        elif step.status in (StepStatus.ERROR, StepStatus.INTERRUPTED):
            kind = "Interrupted" if step.status is StepStatus.INTERRUPTED else "StepError"
            ET.SubElement(case, "error", {"message": message, "type": kind}).text = \
                "\n".join(evidence_lines(step))
        elif step.status is StepStatus.SKIPPED:
            ET.SubElement(case, "skipped", {"message": one_line(step.message or "not reached", 500)})
        out = [f"step kind: {step.kind}", *evidence_lines(step)]
        ET.SubElement(case, "system-out").text = "\n".join(out)

    rb = result.rollback
    rollback_lines = [f"rollback policy={rb.policy} ran={rb.ran} verified={rb.verified} "
                      f"complete={rb.complete}"]
    rollback_lines += [f"{'ok  ' if u.ok else 'FAIL'} {clean(u.description)} {clean(u.message)}".rstrip()
                       for u in rb.undone]
    rollback_lines += [f"LEFTOVER {clean(x)}" for x in rb.leftovers]
    ET.SubElement(suite, "system-out").text = "\n".join(
        [f"verdict: {result.verdict.value} — {clean(result.reason)}", *rollback_lines])
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"


def write(result: RunResult, run_dir: Path) -> Path:
    path = run_dir / FILENAME
    path.write_text(render(result), encoding="utf-8")
    return path
