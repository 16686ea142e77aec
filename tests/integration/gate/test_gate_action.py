"""The GitHub Action's script (scripts/gate.sh) run for real, with fake GitHub files, and the
wiring of action.yml and the example workflow checked by parsing them."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.integration.gate.gate_support import GATE_SCRIPT, REPO, GateRun
from tests.integration.gate.sim_support import FAILING_SIM, MISSING, PASSING_SIM, SKIP_REASON
from tests.unit.report.junit_check import assert_reads_right

BUNDLED = sorted(p.name for p in (REPO / "scenarios").glob("*.yaml"))


def _break_pin(project: Path, name: str = "xid79.yaml") -> tuple[str, int, int]:
    """Make `pin: preferred` invalid in one scenario; return its relative path, line and column."""
    path = project / "scenarios" / name
    lines = path.read_text().splitlines(keepends=True)
    for number, line in enumerate(lines, start=1):
        if "pin: preferred" in line:
            lines[number - 1] = line.replace("pin: preferred", "pin: soft")
            path.write_text("".join(lines))
            return f"scenarios/{name}", number, line.index("preferred") + 1
    raise AssertionError(f"no 'pin: preferred' in {name}")


def _junit_cases(path: Path) -> dict[str, ET.Element]:
    root = ET.parse(path).getroot()
    return {case.attrib["name"]: case for case in root.iter("testcase")}


def test_validate_good_scenarios(scenario_dir: Path, gate: Callable[..., GateRun],
                                 junit_xsd_path: Path) -> None:
    run = gate(scenario_dir, scenarios="scenarios", mode="validate", report_dir="out")
    assert run.proc.returncode == 0, run.proc.stderr
    assert run.outputs() == {"verdict": "passed", "exit-code": "0", "report-dir": "out"}
    assert "::error" not in run.proc.stdout
    reports = scenario_dir / "out"
    assert sorted(p.name for p in reports.iterdir()) == ["validate-junit.xml", "validate-summary.md",
                                                         "validate.json"]
    assert_reads_right(reports / "validate-junit.xml", junit_xsd_path)
    cases = _junit_cases(reports / "validate-junit.xml")
    assert sorted(cases) == [f"scenarios/{name}" for name in BUNDLED]  # one passing case per valid file
    assert not any(case.find("failure") is not None for case in cases.values())
    data = json.loads((reports / "validate.json").read_text())
    assert data["summary"]["valid"] is True
    assert data["summary"]["files"] == len(BUNDLED)
    summary = run.summary.read_text()
    assert "### chaos validate: passed" in summary
    for name in BUNDLED:
        assert f"| `scenarios/{name}` | ✅ valid | 0 | 0 |" in summary


def test_validate_bad_scenario_annotates_the_line(scenario_dir: Path, gate: Callable[..., GateRun],
                                                  junit_xsd_path: Path) -> None:
    bad, line, column = _break_pin(scenario_dir)
    (scenario_dir / "scenarios" / "broken.yml").write_text("apiVersion: chaos/v1\nkind: [unclosed\n")
    run = gate(scenario_dir, scenarios="scenarios", mode="validate")
    assert run.proc.returncode == 2
    assert run.outputs() == {"verdict": "invalid", "exit-code": "2", "report-dir": "chaos-reports"}
    annotations = [x for x in run.proc.stdout.splitlines() if x.startswith("::")]
    assert any(a.startswith(f"::error file={bad},line={line},col={column},title=CH013::steps[0].patch.pin")
               for a in annotations), annotations
    assert any(a.startswith("::error file=scenarios/broken.yml,line=") for a in annotations), annotations
    # only the two broken files are annotated
    assert {re.search(r"file=([^,]+)", a).group(1) for a in annotations} == {  # type: ignore[union-attr]
        bad, "scenarios/broken.yml"}

    junit_file = scenario_dir / "chaos-reports" / "validate-junit.xml"
    assert_reads_right(junit_file, junit_xsd_path)
    cases = _junit_cases(junit_file)
    failing = {name: case for name, case in cases.items() if case.find("failure") is not None}
    # one test case per problem, named file:line:col CODE field; one passing case per good file
    assert {name.split(":")[0] for name in failing} == {bad, "scenarios/broken.yml"}
    assert len(cases) == len(BUNDLED) - 1 + len(failing)
    assert all(len(case.findall("failure")) == 1 for case in failing.values())
    assert len(failing) == len(annotations)
    failure = failing[f"{bad}:{line}:{column} CH013 steps[0].patch.pin"].find("failure")
    assert failure is not None
    assert failure.attrib["type"] == "CH013"

    summary = run.summary.read_text()
    assert "### chaos validate: failed" in summary
    assert f"| `{bad}` | ❌ invalid | 1 | 0 |" in summary
    assert f"| `{bad}:{line}:{column}` | CH013 | error |" in summary


def test_strict_makes_warnings_fail(scenario_dir: Path, gate: Callable[..., GateRun]) -> None:
    path = scenario_dir / "scenarios" / "xid79.yaml"
    text = path.read_text()
    assert "  - cleanup: {}\n" in text
    path.write_text(text.replace("  - cleanup: {}\n", ""))  # CH024: no cleanup step (a warning)
    relaxed = gate(scenario_dir, scenarios="scenarios/xid79.yaml", strict="false")
    assert relaxed.proc.returncode == 0, relaxed.proc.stdout
    assert "::warning file=scenarios/xid79.yaml" in relaxed.proc.stdout
    strict = gate(scenario_dir, scenarios="scenarios/xid79.yaml", strict="true")
    assert strict.proc.returncode == 2
    assert strict.outputs()["verdict"] == "invalid"
    assert "❌ invalid | 0 | 1 |" in strict.summary.read_text()


def test_several_paths_and_extra_args(scenario_dir: Path, gate: Callable[..., GateRun]) -> None:
    run = gate(scenario_dir, scenarios="scenarios/xid79.yaml scenarios/xid48.yaml",
               extra_args="--strict")
    assert run.proc.returncode == 0, run.proc.stdout + run.proc.stderr
    data = json.loads((scenario_dir / "chaos-reports" / "validate.json").read_text())
    assert [f["path"] for f in data["files"]] == ["scenarios/xid79.yaml", "scenarios/xid48.yaml"]


def test_bad_inputs_are_refused(scenario_dir: Path, gate: Callable[..., GateRun]) -> None:
    for inputs in ({"mode": "deploy"}, {"cluster": "eks"}, {"strict": "yes"}):
        run = gate(scenario_dir, **inputs)
        assert run.proc.returncode == 2, inputs
        assert run.outputs()["verdict"] == "invalid"
        assert "must be" in run.proc.stderr
        assert not (scenario_dir / "chaos-reports").exists()


def test_missing_scenarios_fail(scenario_dir: Path, gate: Callable[..., GateRun]) -> None:
    run = gate(scenario_dir, scenarios="nowhere")
    assert run.proc.returncode == 2
    assert run.outputs()["exit-code"] == "2"


def test_run_mode_stops_on_invalid_scenarios(scenario_dir: Path, gate: Callable[..., GateRun]) -> None:
    bad, _, _ = _break_pin(scenario_dir)
    run = gate(scenario_dir, scenarios="scenarios", mode="run")
    assert run.proc.returncode == 2
    assert "validation failed: not running anything" in run.proc.stderr
    assert f"::error file={bad}" in run.proc.stdout
    assert sorted(p.name for p in (scenario_dir / "chaos-reports").iterdir()) == [
        "validate-junit.xml", "validate-summary.md", "validate.json"]


def test_runs_without_github_files(scenario_dir: Path, gate: Callable[..., GateRun]) -> None:
    """Outside GitHub (no GITHUB_OUTPUT/GITHUB_STEP_SUMMARY) the script still works and writes files."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
    env.update({"PYTHONPATH": str(REPO), "CHAOS_GATE_CHAOS": f"{sys.executable} -m runner",
                "CHAOS_GATE_PYTHON": sys.executable})
    proc = subprocess.run(["bash", str(GATE_SCRIPT)], cwd=scenario_dir, env=env, capture_output=True,
                          text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    assert (scenario_dir / "chaos-reports" / "validate-summary.md").is_file()


# --- action.yml and the example workflow -------------------------------------------------------


def _action() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((REPO / "action.yml").read_text())
    return data


def _expressions(node: Any) -> list[str]:
    """Every `${{ ... }}` expression anywhere under `node`."""
    if isinstance(node, dict):
        return [e for v in node.values() for e in _expressions(v)] + [
            e for k in node for e in _expressions(k)]
    if isinstance(node, list):
        return [e for v in node for e in _expressions(v)]
    if isinstance(node, str):
        return re.findall(r"\$\{\{\s*(.*?)\s*\}\}", node)
    return []


def test_action_inputs_are_declared_and_used() -> None:
    action = _action()
    assert action["runs"]["using"] == "composite"
    declared = set(action["inputs"])
    used = {m for e in _expressions(action["runs"]) for m in re.findall(r"inputs\.([\w-]+)", e)}
    assert used == declared, (f"declared but unused: {declared - used}; "
                              f"used but undeclared: {used - declared}")
    assert {"scenarios", "mode", "cluster", "strict", "report-dir", "python-version",
            "extra-args"} <= declared
    for name, spec in action["inputs"].items():
        assert spec.get("description"), name
        assert "default" in spec, name


def test_action_steps_are_wired() -> None:
    action = _action()
    steps = action["runs"]["steps"]
    for step in steps:
        if "run" in step:
            assert step.get("shell") == "bash", step
            # inputs reach shell code only through env, never interpolated into the script text
            assert "${{" not in step["run"], step["run"]
    install = next(s for s in steps if "pip install" in s.get("run", ""))
    assert install["env"]["ACTION_PATH"] == "${{ github.action_path }}"
    assert '"$ACTION_PATH"' in install["run"]
    gate_step = next(s for s in steps if s.get("id") == "gate")
    assert "scripts/gate.sh" in gate_step["run"]
    assert GATE_SCRIPT.is_file()
    script = GATE_SCRIPT.read_text()
    for var in gate_step["env"]:
        if var.startswith("CHAOS_GATE_"):
            assert f"{var}:-" in script or f"${{{var}}}" in script, f"{var} is not read by gate.sh"
    for var in set(re.findall(r"CHAOS_GATE_[A-Z_]+", script)) - {"CHAOS_GATE_CHAOS"}:
        assert var in gate_step["env"], f"gate.sh reads {var} but action.yml never sets it"
    # every output comes from the gate step, and the script writes each one
    for name, spec in action["outputs"].items():
        assert spec["value"] == f"${{{{ steps.gate.outputs.{name} }}}}"
        assert f"output_set {name} " in script
    upload = next(s for s in steps if str(s.get("uses", "")).startswith("actions/upload-artifact"))
    assert upload["uses"] == "actions/upload-artifact@v4"
    assert upload["if"] == "always()"
    assert upload["with"]["path"] == "${{ inputs.report-dir }}"
    assert any(str(s.get("uses", "")).startswith("actions/setup-python@") for s in steps)


def test_example_workflow() -> None:
    workflow = yaml.safe_load((REPO / "examples" / "github" / "chaos-gate.yml").read_text())
    on = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` key as true
    assert "pull_request" in on
    jobs = workflow["jobs"]
    validate = next(s for s in jobs["validate"]["steps"] if s.get("uses") == "./")
    assert validate["with"]["mode"] == "validate"
    run = next(s for s in jobs["run-sim"]["steps"] if s.get("uses") == "./")
    assert run["with"] == {**run["with"], "mode": "run", "cluster": "sim"}
    e2e = jobs["e2e-kind"]["steps"]
    kind = next(s for s in e2e if str(s.get("uses", "")).startswith("helm/kind-action@"))
    tests = next(s for s in e2e if "tests/e2e" in s.get("run", ""))
    assert tests["env"]["CHAOS_E2E_CONTEXT"] == f"kind-{kind['with']['cluster_name']}"
    # every `with:` key passed to our action is one it declares
    declared = set(_action()["inputs"])
    for job in jobs.values():
        for step in job["steps"]:
            if step.get("uses") == "./":
                assert set(step.get("with", {})) <= declared, step


# --- run mode on the embedded cluster ----------------------------------------------------------


@pytest.mark.skipif(bool(MISSING), reason=SKIP_REASON)
@pytest.mark.slow
def test_run_mode_on_the_embedded_cluster(tmp_path: Path, gate: Callable[..., GateRun],
                                          junit_xsd_path: Path) -> None:
    project = tmp_path / "project"
    shutil.copytree(REPO / "scenarios" / "manifests", project / "scenarios" / "manifests")
    (project / "scenarios" / "shim-loads.yaml").write_text(PASSING_SIM)
    (project / "scenarios" / "five-replicas.yaml").write_text(FAILING_SIM)
    (project / "scenarios" / "again").mkdir()  # the same file name in another directory
    (project / "scenarios" / "again" / "shim-loads.yaml").write_text(
        PASSING_SIM.replace("manifests/", "../manifests/"))
    run = gate(project, mode="run", cluster="sim", scenarios="scenarios", report_dir="out")
    assert run.proc.returncode == 1, run.proc.stdout + run.proc.stderr  # the worst: one failed
    assert run.outputs() == {"verdict": "failed", "exit-code": "1", "report-dir": "out"}
    out = project / "out"
    passed = json.loads((out / "scenarios__shim-loads" / "report.json").read_text())
    again = json.loads((out / "scenarios__again__shim-loads" / "report.json").read_text())
    assert again["run_id"] != passed["run_id"]  # one run directory each: nothing collides
    failed = json.loads((out / "scenarios__five-replicas" / "report.json").read_text())
    assert passed["verdict"] == "passed"
    assert failed["verdict"] == "failed"
    assert failed["rollback"]["verified"]
    line = next(n for n, text in enumerate(FAILING_SIM.splitlines(), 1) if "five-ready" in text)
    assert (f"::error file=scenarios/five-replicas.yaml,line={line},title=chaos run%3A five-ready failed::"
            in run.proc.stdout)
    assert "::error file=scenarios/shim-loads.yaml" not in run.proc.stdout
    summary = run.summary.read_text()
    assert "| `scenarios/shim-loads.yaml` | passed | 0 |" in summary
    assert "| `scenarios/five-replicas.yaml` | failed | 1 |" in summary
    assert (out / "scenarios__five-replicas" / "summary.md").read_text().strip() in summary
    cases = _junit_cases(out / "validate-junit.xml")
    assert sorted(cases) == ["scenarios/again/shim-loads.yaml", "scenarios/five-replicas.yaml",
                             "scenarios/shim-loads.yaml"]
    # each run's junit.xml reads right, and its verdict test case fails exactly when the run did
    for name, verdict in (("scenarios__shim-loads", "passed"), ("scenarios__five-replicas", "failed")):
        xml = assert_reads_right(out / name / "junit.xml", junit_xsd_path)
        verdict_case = _junit_cases(out / name / "junit.xml")["verdict"]
        assert (verdict_case.find("failure") is not None) == (verdict != "passed")
        assert (xml.failures > 0) == (verdict != "passed")


def test_validate_junit_file_option(chaos: Callable[..., subprocess.CompletedProcess[str]],
                                    tmp_path: Path) -> None:
    """`--junit-file` writes JUnit whatever -o prints; an unwritable path is a clear exit 2."""
    target = tmp_path / "nested" / "junit.xml"
    proc = chaos(["validate", "-o", "github", "--junit-file", str(target), "scenarios/xid79.yaml"])
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["1 file, 0 errors, 0 warnings"]  # annotations only: none
    assert list(_junit_cases(target)) == ["scenarios/xid79.yaml"]
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    bad = chaos(["validate", "--junit-file", str(blocker / "junit.xml"), "scenarios/xid79.yaml"])
    assert bad.returncode == 2
    assert bad.stderr.startswith(f"chaos validate: cannot write {blocker / 'junit.xml'}: ")
    assert "Traceback" not in bad.stderr
