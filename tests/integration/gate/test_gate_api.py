"""The Python API (runner.api) against the embedded cluster: runs, the FaultInjector and recover.

Every test ends by proving the cluster is as it was (sim_support.Sim.assert_clean): the pod template
unchanged, nothing labelled as ours left, and no journal left for `chaos recover` to find.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import runner
from runner import api
from tests.integration.gate.gate_support import REPO
from tests.integration.gate.sim_support import (
    FAILING,
    MISSING,
    NAMESPACE,
    PASSING,
    PASSING_SIM,
    SCENARIO,
    SKIP_REASON,
    WORKLOAD,
    Sim,
)

needs_cluster = pytest.mark.skipif(bool(MISSING), reason=SKIP_REASON)

def test_import_runner_stays_light() -> None:
    code = ("import sys, runner; assert 'runner.api' not in sys.modules; "
            "f = runner.FaultInjector; assert 'runner.api' in sys.modules; "
            "assert 'kubernetes' not in sys.modules and 'runner.engine.executor' not in sys.modules; "
            "print(sorted(set(runner.__all__) - set(dir(runner))))")
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                          check=False, env={"PYTHONPATH": str(REPO)})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_validate_and_load(tmp_path: Path) -> None:
    assert runner.load_scenario(SCENARIO).metadata.name == "xid79-gpu-fell-off-the-bus"
    good = api.validate(REPO / "scenarios")
    assert good.passed
    assert good.exit_code == 0
    assert len(good.files) == len(list((REPO / "scenarios").glob("*.yaml")))
    bad = tmp_path / "bad.yaml"
    bad.write_text(SCENARIO.read_text().replace("pin: preferred", "pin: soft"))
    found = api.validate(bad)
    assert not found
    assert found.exit_code == 2
    assert [p.code for p in found.files[0].problems] == ["CH013"]
    line = next(i for i, text in enumerate(bad.read_text().splitlines(), 1) if "pin: soft" in text)
    with pytest.raises(runner.errors.ScenarioError,
                       match=rf"bad.yaml:{line}:37  CH013 .*'soft'.* not allowed"):
        api.load_scenario(bad)
    shutil.copytree(REPO / "scenarios", tmp_path / "scenarios")  # manifests sit next to scenarios
    no_cleanup = tmp_path / "scenarios" / "warn.yaml"
    no_cleanup.write_text(SCENARIO.read_text().replace("  - cleanup: {}\n", ""))
    assert api.validate(no_cleanup).passed
    assert not api.validate(no_cleanup, strict=True).passed


def test_injector_scenario_is_built_in_code() -> None:
    injector = api.FaultInjector("kube", NAMESPACE, WORKLOAD, xid=48, pin="hard")
    scenario = injector.scenario(node="gpu-node-2")
    assert [s.name for s in scenario.steps] == ["install", "ready", "arm", "disarm", "uninstall",
                                                   "settle"]
    assert scenario.fault.xid == 48
    assert scenario.target.node == "gpu-node-2"
    assert not injector.installed
    assert injector.node == ""
    with pytest.raises(api.FaultInjectorError, match="not installed"):
        injector.arm()
    with pytest.raises(runner.errors.ScenarioError, match="XID"):
        api.FaultInjector("kube", NAMESPACE, WORKLOAD, xid=12).scenario()


@needs_cluster
def test_injector_context_manager_rolls_back(sim: Sim, tmp_path: Path) -> None:
    with api.FaultInjector(sim.cluster, NAMESPACE, WORKLOAD, run_dir=tmp_path / "run") as fault:
        fault.install()
        assert fault.installed
        assert not fault.armed
        assert fault.node.startswith("gpu-node-")
        assert sim.injected()
        fault.arm()
        assert fault.armed
        assert sim.ours()  # the dead-man renewer and the journal copy exist while armed
        fault.disarm()
        assert not fault.armed
    assert not fault.installed
    sim.assert_clean()
    journal = [json.loads(line) for line in (tmp_path / "run" / "journal.jsonl").read_text().splitlines()]
    assert journal[-1]["type"] == "run-end"
    assert journal[-1]["clean"] is True


@needs_cluster
def test_injector_rolls_back_when_the_block_raises(sim: Sim, tmp_path: Path) -> None:
    def armed_then_fails() -> None:
        with api.FaultInjector(sim.cluster, NAMESPACE, WORKLOAD, run_dir=tmp_path / "run") as fault:
            fault.install()
            fault.arm()
            raise RuntimeError("the test failed")

    with pytest.raises(RuntimeError, match="the test failed"):
        armed_then_fails()
    sim.assert_clean()


@needs_cluster
def test_injector_left_behind_is_recovered_from_its_journal(sim: Sim, tmp_path: Path) -> None:
    """A process that dies with the fault armed: `recover(run_dir)` finishes the rollback."""
    fault = api.FaultInjector(sim.cluster, NAMESPACE, WORKLOAD, run_dir=tmp_path / "run")
    fault.install()
    fault.arm()
    assert fault._run is not None
    fault._run.state.stop_background()  # what dying does to the renewer thread
    fault._run = None  # abandoned: no uninstall
    assert sim.injected()
    result = api.recover(run_dir=tmp_path / "run", cluster=sim.cluster)
    assert result.exit_code == 0, result.lines()
    assert result.runs[0].undone
    sim.assert_clean()


@needs_cluster
def test_run_passing_scenario_writes_reports(sim: Sim, tmp_path: Path) -> None:
    path = tmp_path / "shim-loads.yaml"
    path.write_text(PASSING)
    result = api.run(path, cluster=sim.cluster, report_dir=tmp_path / "run")
    assert result.verdict.value == "passed", result.reason
    assert result.exit_code == 0
    assert {p.name for p in (tmp_path / "run").iterdir()} >= {"report.json", "junit.xml", "summary.md",
                                                               "journal.jsonl"}
    assert json.loads((tmp_path / "run" / "report.json").read_text())["verdict"] == "passed"
    sim.assert_clean()


@needs_cluster
def test_run_failing_scenario_rolls_back(sim: Sim, tmp_path: Path) -> None:
    scenario = runner.scenario.validate.validate_text(FAILING, str(tmp_path / "x.yaml")).scenario
    assert scenario is not None
    result = api.run(scenario, cluster=sim.cluster, report_dir=tmp_path / "run", write_reports=False)
    assert result.verdict.value == "failed"
    assert "five-ready" in result.reason
    assert result.rollback.complete
    assert not (tmp_path / "run" / "report.json").exists()
    sim.assert_clean()


@needs_cluster
def test_run_starts_its_own_embedded_cluster(tmp_path: Path) -> None:
    """cluster="sim": the API starts the embedded cluster from the scenario's settings.sim."""
    shutil.copytree(REPO / "scenarios" / "manifests", tmp_path / "manifests")
    path = tmp_path / "shim-loads.yaml"
    path.write_text(PASSING_SIM)
    result = api.run(path, cluster="sim", report_dir=tmp_path / "run")
    assert result.verdict.value == "passed", result.reason
    assert result.cluster.startswith("embedded cluster")
    assert result.rollback.verified
