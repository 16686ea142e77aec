"""`chaos validate -o junit` and `--junit-file` through the real CLI: one test case per problem
(plus one passing case per file without problems), at most one <failure> per test case, valid
against the Jenkins JUnit XSD, and counted by junitparser as the file's attributes say."""

from __future__ import annotations

import shutil
from pathlib import Path

import junitparser
import pytest

from tests.conftest import REPO
from tests.unit.report.junit_check import assert_reads_right


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the bundled scenarios: xid79 (valid), xid48 (valid), and broken copies of xid79."""
    root = tmp_path / "project"
    shutil.copytree(REPO / "scenarios", root / "scenarios")
    text = (root / "scenarios" / "xid79.yaml").read_text()
    for needle in ("pin: preferred", "  xid: 79\n", "  - cleanup: {}\n"):
        assert needle in text
    (root / "two-errors.yaml").write_text(
        text.replace("pin: preferred", "pin: soft").replace("  xid: 79\n", "  xid: 13\n")
        .replace("manifests/", "scenarios/manifests/"))
    (root / "one-warning.yaml").write_text(
        text.replace("  - cleanup: {}\n", "").replace("manifests/", "scenarios/manifests/"))
    return root


def _cases(xml: junitparser.JUnitXml) -> dict[str, list[type]]:
    return {case.name: [type(r) for r in case.result] for suite in xml for case in suite}


def test_valid_files_are_one_passing_case_each(chaos, project: Path, junit_xsd_path: Path) -> None:
    proc = chaos(["validate", "-o", "junit", "scenarios/xid79.yaml", "scenarios/xid48.yaml"], cwd=project)
    assert proc.returncode == 0, proc.stderr
    out = project / "out.xml"
    out.write_text(proc.stdout)
    xml = assert_reads_right(out, junit_xsd_path)
    assert _cases(xml) == {"scenarios/xid79.yaml": [], "scenarios/xid48.yaml": []}
    assert (xml.tests, xml.failures, xml.errors) == (2, 0, 0)


def test_one_case_per_problem_with_one_failure_each(chaos, project: Path, junit_xsd_path: Path) -> None:
    target = project / "reports" / "validate-junit.xml"
    proc = chaos(["validate", "-o", "github", "--junit-file", str(target), "scenarios/xid79.yaml",
                  "two-errors.yaml"], cwd=project)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    xml = assert_reads_right(target, junit_xsd_path)
    cases = _cases(xml)
    assert cases.pop("scenarios/xid79.yaml") == []
    assert len(cases) == 2, cases
    assert all(outcomes == [junitparser.Failure] for outcomes in cases.values()), cases
    codes = sorted(name.split(" ")[1] for name in cases)
    assert codes == ["CH013", "CH020"]
    assert all(name.startswith("two-errors.yaml:") for name in cases)  # file:line:col first
    (suite,) = list(xml)
    pin = next(c for c in suite if " CH013 " in c.name)
    (failure,) = pin.result
    assert failure.type == "CH013"
    assert failure.message.startswith("CH013 steps[0].patch.pin: ")
    assert (xml.tests, xml.failures) == (3, 2)
    # the annotations on stdout and the JUnit file tell the same story: one failure per annotation
    assert sum(line.startswith("::error ") for line in proc.stdout.splitlines()) == xml.failures


@pytest.mark.parametrize("strict", [False, True])
def test_warnings_fail_only_with_strict(chaos, project: Path, junit_xsd_path: Path, strict: bool) -> None:
    args = ["validate", "-o", "junit", *(["--strict"] if strict else []), "one-warning.yaml"]
    proc = chaos(args, cwd=project)
    assert proc.returncode == (2 if strict else 0), proc.stderr
    out = project / "out.xml"
    out.write_text(proc.stdout)
    xml = assert_reads_right(out, junit_xsd_path)
    cases = _cases(xml)
    assert len(cases) == 1
    (name,) = cases
    assert " CH024" in name
    assert cases[name] == ([junitparser.Failure] if strict else [])
    assert (xml.tests, xml.failures) == (1, 1 if strict else 0)
    if not strict:
        (case,) = next(iter(xml))
        assert "fails with --strict" in (case.system_out or "")
