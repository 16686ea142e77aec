"""`junit.xml`: the run as one JUnit test suite, so CI systems show each step and the verdict.

One <testsuite> (the scenario, `file` = the scenario path) inside <testsuites>; one <testcase> per
step, one per SLO check of the probes (`probe <name>: <phase> <check>`: <failure> when missed,
<skipped> when its phase had no request to judge), then a test case `verdict` that fails unless
the run passed: <failure> for failed,
inconclusive and interrupted (the reason is the message), <error> for rollback-incomplete (the
cluster is still changed). So a run that never reached the cluster is a failing file, not six
skipped steps. Failed steps carry <failure>, errored or interrupted ones <error>, steps not reached
<skipped>; never more than one of those per test case. Evidence and the step's place in the
scenario file go to <system-out> (the Jenkins JUnit XSD allows no `file`/`line` on a test case).
Suite properties carry verdict, exit code, run id, cluster and XID. Built with ElementTree so
escaping is the library's job. This module must not decide verdicts; it only reports them.
"""

from __future__ import annotations

import datetime as _dt
import xml.etree.ElementTree as ET
from pathlib import Path

from runner.engine.result import ProbeResult, RunResult, SloCheck, StepResult, StepStatus, Verdict
from runner.report import private
from runner.report.probes_view import headline
from runner.report.text import clean, evidence_lines, one_line

FILENAME = "junit.xml"
VERDICT_CASE = "verdict"  # the name of the test case that carries the run's verdict

# verdict -> (element, type) of the verdict test case's outcome; passed has none
_VERDICT_OUTCOME = {
    Verdict.FAILED: ("failure", "Failed"),
    Verdict.INCONCLUSIVE: ("failure", "Inconclusive"),
    Verdict.INTERRUPTED: ("failure", "Interrupted"),
    Verdict.ROLLBACK_INCOMPLETE: ("error", "RollbackIncomplete"),
}


def _seconds(value: float) -> str:
    return f"{max(0.0, value):.3f}"


def render(result: RunResult) -> str:
    status = [s.status for s in result.steps]
    outcome = _VERDICT_OUTCOME.get(result.verdict)
    checks = [(p, c) for p in result.probes for c in p.slo]
    tests = len(status) + len(checks) + 1
    failures = (status.count(StepStatus.FAILED) + sum(1 for _, c in checks if c.passed is False)
                + (outcome is not None and outcome[0] == "failure"))
    errors = (status.count(StepStatus.ERROR) + status.count(StepStatus.INTERRUPTED)
              + (outcome is not None and outcome[0] == "error"))
    skipped = status.count(StepStatus.SKIPPED) + sum(1 for _, c in checks if c.passed is None)
    total_time = _seconds(result.finished_at - result.started_at)
    suites = ET.Element("testsuites", {
        "name": "chaos", "tests": str(tests), "failures": str(failures), "errors": str(errors),
        "time": total_time,
    })
    suite = ET.SubElement(suites, "testsuite", {
        "name": clean(result.scenario_name), "tests": str(tests), "failures": str(failures),
        "errors": str(errors), "skipped": str(skipped), "time": total_time,
        "timestamp": _dt.datetime.fromtimestamp(result.started_at, tz=_dt.timezone.utc)
        .strftime("%Y-%m-%dT%H:%M:%S"),
        "hostname": clean(result.cluster) or "unknown",
    })
    if result.scenario_path:
        suite.set("file", clean(result.scenario_path))
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
        _step_case(suite, result, step)
    for probe, check in checks:
        _slo_case(suite, result, probe, check)
    _verdict_case(suite, result, outcome, total_time)

    ET.SubElement(suite, "system-out").text = "\n".join(_verdict_lines(result))
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"


def _where(result: RunResult, step: StepResult) -> str:
    """`scenarios/x.yaml:18` (or the path alone when the line is unknown); '' when neither is."""
    path = clean(result.scenario_path)
    if step.line:
        return f"{path or 'scenario'}:{step.line}"
    return path


def _step_case(suite: ET.Element, result: RunResult, step: StepResult) -> None:
    case = ET.SubElement(suite, "testcase", {
        "classname": clean(result.scenario_name), "name": clean(step.name),
        "time": _seconds(step.duration),
    })
    where = _where(result, step)
    located = [f"at {where}"] if step.line else []
    message = one_line(step.message or step.status.value, 500)
    if step.status is StepStatus.FAILED:
        ET.SubElement(case, "failure", {"message": message, "type": "AssertionFailed"}).text = \
            "\n".join([*located, *evidence_lines(step)])
    elif step.status in (StepStatus.ERROR, StepStatus.INTERRUPTED):
        kind = "Interrupted" if step.status is StepStatus.INTERRUPTED else "StepError"
        ET.SubElement(case, "error", {"message": message, "type": kind}).text = \
            "\n".join([*located, *evidence_lines(step)])
    elif step.status is StepStatus.SKIPPED:
        ET.SubElement(case, "skipped", {"message": one_line(step.message or "not reached", 500)})
    out = [f"step kind: {step.kind}"]
    if where:
        out.append(f"scenario: {where}")
    ET.SubElement(case, "system-out").text = "\n".join([*out, *evidence_lines(step)])


def slo_case_name(probe: ProbeResult, check: SloCheck) -> str:
    """`probe completions: fault max-outage`: the test case of one SLO check."""
    return f"probe {probe.name}: {check.phase} {check.check}"


def _slo_case(suite: ET.Element, result: RunResult, probe: ProbeResult, check: SloCheck) -> None:
    """One SLO check: a failure when missed (in setup: the run is inconclusive), skipped when the
    phase had no request to judge."""
    case = ET.SubElement(suite, "testcase", {
        "classname": f"{clean(result.scenario_name)}.probes", "name": clean(slo_case_name(probe, check)),
        "time": "0.000",
    })
    stats = probe.phases.get(check.phase)
    lines = [f"probe: {clean(headline(probe))}", clean(check.describe())]
    if stats is not None:
        lines.append(f"{check.phase}: {stats.requests} requests, {stats.succeeded} succeeded, longest "
                     f"outage {stats.longest_outage_s:.3f}s")
        lines += [f"  {n} x {clean(e)}" for e, n in stats.errors.items()]
    if check.passed is False:
        kind = "SloMissedBeforeFault" if check.phase == "setup" else "SloMissed"
        ET.SubElement(case, "failure", {"message": one_line(check.describe(), 500), "type": kind}).text = \
            "\n".join(lines)
    elif check.passed is None:
        ET.SubElement(case, "skipped", {"message": one_line(check.describe(), 500)})
    ET.SubElement(case, "system-out").text = "\n".join(lines)


def _verdict_case(suite: ET.Element, result: RunResult, outcome: tuple[str, str] | None,
                  total_time: str) -> None:
    case = ET.SubElement(suite, "testcase", {
        "classname": clean(result.scenario_name), "name": VERDICT_CASE, "time": total_time,
    })
    lines = _verdict_lines(result)
    if outcome is not None:
        element, kind = outcome
        message = f"{result.verdict.value} (exit {result.exit_code}): {result.reason}"
        ET.SubElement(case, element, {"message": one_line(message, 1000), "type": kind}).text = \
            "\n".join(lines)
    else:
        ET.SubElement(case, "system-out").text = "\n".join(lines)


def _verdict_lines(result: RunResult) -> list[str]:
    rb = result.rollback
    lines = [f"verdict: {result.verdict.value} (exit {result.exit_code}) — {clean(result.reason)}",
             f"rollback policy={rb.policy} ran={rb.ran} verified={rb.verified} complete={rb.complete}"]
    lines += [f"{'ok  ' if u.ok else 'FAIL'} {clean(u.description)} {clean(u.message)}".rstrip()
              for u in rb.undone]
    lines += [f"LEFTOVER {clean(x)}" for x in rb.leftovers]
    if rb.leftovers or result.verdict is Verdict.ROLLBACK_INCOMPLETE:
        lines.append(f"recover with: chaos recover {clean(result.run_dir) or '<run dir>'}")
    return lines


def write(result: RunResult, run_dir: Path) -> Path:
    path = run_dir / FILENAME
    return private.write_text(path, render(result))  # 0600: see runner.report.private
