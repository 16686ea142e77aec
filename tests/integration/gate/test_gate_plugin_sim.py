"""The chaos pytest plugin arming real faults on the embedded cluster, run by `pytester`.

The inner pytest reaches the embedded cluster the way a user reaches theirs (`--chaos-cluster kube`
with a kubeconfig and context), so the plugin's own cluster selection is exercised too. After each
inner session the outer test proves the rollback: pod template as before, nothing of ours left, no
journal for `chaos recover` to find, and every run directory's journal ended clean.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.gate.gate_support import REPO, plugin_args
from tests.integration.gate.sim_support import (
    FAILING,
    MISSING,
    PASSING,
    PASSING_SIM,
    SKIP_REASON,
    Sim,
    wait_until,
)

pytestmark = [pytest.mark.skipif(bool(MISSING), reason=SKIP_REASON), pytest.mark.slow]


@pytest.fixture(autouse=True)
def _importable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHONPATH", str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))


def _args(sim: Sim, reports: Path) -> list[str]:
    return [*plugin_args(), "-p", "no:cacheprovider", "--chaos-cluster", "kube",
            "--chaos-kubeconfig", str(sim.kubeconfig), "--chaos-context", sim.context,
            "--chaos-report-dir", str(reports)]


def _journals_ended_clean(reports: Path, expected: int) -> None:
    journals = sorted(reports.glob("*/journal.jsonl"))
    assert len(journals) == expected, journals
    for path in journals:
        last = json.loads(path.read_text().splitlines()[-1])
        assert last["type"] == "run-end", path
        assert last["clean"] is True, path


FAULT_TESTS = """
    import pytest

    # XID 94 is process-scoped: no remediation cordons the node, so after each rollback the workload
    # settles Ready again (the fixture waits for it) and the next test's preflight finds it healthy
    pytestmark = pytest.mark.chaos_fault(namespace="inference", workload="vllm-worker", xid=94,
                                         settle_timeout="60s")

    def _preload(cluster):
        from runner.cluster.protocol import ObjectRef

        dep = cluster.get(ObjectRef("apps/v1", "Deployment", "inference", "vllm-worker"))
        return [e for c in dep["spec"]["template"]["spec"]["containers"] for e in c.get("env") or []
                if e["name"] == "LD_PRELOAD"]

    def test_passes_while_armed(gpu_fault, chaos_cluster):
        assert gpu_fault.armed
        assert gpu_fault.node.startswith("gpu-node-")
        assert _preload(chaos_cluster)

    def test_fails_while_armed(gpu_fault, chaos_cluster):
        assert gpu_fault.armed
        assert _preload(chaos_cluster)
        raise AssertionError("the service did not recover")
"""


def test_gpu_fault_rolls_back_after_passing_and_failing_tests(pytester: pytest.Pytester, sim: Sim,
                                                              tmp_path: Path) -> None:
    pytester.makepyfile(test_fault=FAULT_TESTS)
    result = pytester.runpytest_subprocess(*_args(sim, tmp_path / "reports"))
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*AssertionError: the service did not recover*"])
    sim.assert_clean()
    _journals_ended_clean(tmp_path / "reports", 2)


INTERRUPTED_TEST = """
    import time
    from pathlib import Path

    import pytest

    @pytest.mark.chaos_fault(namespace="inference", workload="vllm-worker")
    def test_interrupted(gpu_fault):
        assert gpu_fault.armed
        Path("armed").write_text(gpu_fault.node)
        deadline = time.monotonic() + 120  # the outer test sends SIGINT long before this
        while time.monotonic() < deadline:
            time.sleep(0.05)
"""


def test_gpu_fault_rolls_back_on_ctrl_c(pytester: pytest.Pytester, sim: Sim, tmp_path: Path) -> None:
    pytester.makepyfile(test_interrupt=INTERRUPTED_TEST)
    proc = subprocess.Popen(
        [sys.executable, "-m", "pytest", *_args(sim, tmp_path / "reports")], cwd=pytester.path,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        # a real Ctrl-C: SIGINT with its default disposition (a parent shell may have ignored it)
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        wait_until("the inner test to arm the fault", lambda: (pytester.path / "armed").exists()
                   or proc.poll() is not None, timeout=120)
        assert proc.poll() is None, proc.communicate()[0]
        assert sim.injected()
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=180)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == pytest.ExitCode.INTERRUPTED, out
    assert "KeyboardInterrupt" in out
    sim.assert_clean()
    _journals_ended_clean(tmp_path / "reports", 1)


def test_chaos_scenario_marker(pytester: pytest.Pytester, sim: Sim, tmp_path: Path) -> None:
    (pytester.path / "passing.yaml").write_text(PASSING)
    (pytester.path / "failing.yaml").write_text(FAILING)
    pytester.makepyfile(test_scenarios="""
        import pytest

        @pytest.mark.chaos_scenario("passing.yaml")
        def test_passing(chaos_result):
            assert chaos_result.verdict.value == "passed"
            assert [s.status.value for s in chaos_result.steps] == ["passed"] * 3

        @pytest.mark.chaos_scenario("failing.yaml")
        def test_failing():
            raise AssertionError("the body of a failed scenario's test must not run")
    """)
    result = pytester.runpytest_subprocess(*_args(sim, tmp_path / "reports"))
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["chaos scenario failed (exit 1): step five-ready failed:*",
                                 "run directory: *test_failing*"])
    assert "must not run" not in result.stdout.str().split("short test summary")[0]
    sim.assert_clean()
    reports = sorted(p.parent.name for p in (tmp_path / "reports").glob("*/report.json"))
    assert len(reports) == 2
    assert all("test_scenarios.py" in name for name in reports)


def test_plugin_starts_the_embedded_cluster(pytester: pytest.Pytester, tmp_path: Path) -> None:
    """The default path: `--chaos-cluster sim`. The fixtures' session cluster is seeded from
    `--chaos-sim-from`; a marked scenario gets an embedded cluster of its own."""
    shutil.copytree(REPO / "scenarios" / "manifests", pytester.path / "manifests")
    (pytester.path / "seeded.yaml").write_text(PASSING_SIM)
    pytester.makepyfile(test_on_sim="""
        import pytest

        @pytest.mark.chaos_fault(namespace="inference", workload="vllm-worker", xid=94)
        def test_fault(gpu_fault, chaos_cluster):
            assert gpu_fault.armed
            assert chaos_cluster.description.startswith("embedded cluster")

        @pytest.mark.chaos_scenario("seeded.yaml")
        def test_scenario(chaos_result):
            assert chaos_result.cluster.startswith("embedded cluster")
    """)
    result = pytester.runpytest_subprocess(*plugin_args(), "-p", "no:cacheprovider", "--chaos-cluster",
                                           "sim", "--chaos-sim-from", "seeded.yaml",
                                           "--chaos-report-dir", str(tmp_path / "reports"))
    result.assert_outcomes(passed=2)
    _journals_ended_clean(tmp_path / "reports", 2)
