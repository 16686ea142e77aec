"""`chaos run` against a cluster it cannot reach, through the real CLI: the run directory's
junit.xml is a failing file (the verdict test case), valid against the Jenkins JUnit XSD."""

from __future__ import annotations

import json
from pathlib import Path

import junitparser
import pytest

from runner.engine.result import Verdict
from tests.unit.report.junit_check import assert_reads_right

DEAD_KUBECONFIG = """\
apiVersion: v1
kind: Config
clusters:
- name: dead
  cluster: {server: "https://127.0.0.1:1", insecure-skip-tls-verify: true}
users:
- name: nobody
  user: {token: not-a-secret}
contexts:
- name: dead
  context: {cluster: dead, user: nobody}
current-context: dead
"""


@pytest.mark.slow
def test_unreachable_cluster_gives_a_failing_junit_file(chaos, tmp_path: Path, junit_xsd_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(DEAD_KUBECONFIG)
    run_dir = tmp_path / "run"
    proc = chaos(["run", "--cluster", "kube", "--kubeconfig", str(kubeconfig), "--context", "dead",
                  "--report-dir", str(run_dir), "scenarios/xid79.yaml"], timeout=180)
    report = json.loads((run_dir / "report.json").read_text())
    assert proc.returncode == report["exit_code"] == Verdict(report["verdict"]).exit_code, \
        proc.stdout[-2000:] + proc.stderr[-2000:]
    assert proc.returncode == 3  # inconclusive: nothing proven, nothing changed (nothing was journaled)
    xml = assert_reads_right(run_dir / "junit.xml", junit_xsd_path)
    (suite,) = list(xml)
    assert suite.skipped == len(report["steps"])
    assert xml.failures + xml.errors == 1
    verdict = next(c for c in suite if c.name == "verdict")
    (outcome,) = verdict.result
    assert isinstance(outcome, junitparser.Failure)
    assert outcome.message == f"{report['verdict']} (exit {proc.returncode}): {report['reason']}"
