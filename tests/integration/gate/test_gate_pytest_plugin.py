"""The chaos pytest plugin, run by pytest's own `pytester` in a separate pytest process.

These tests need no cluster: they check that the plugin loads, stays out of the way of sessions that
do not use it (no heavy imports), explains misuse, and turns a scenario that cannot run into a
failed test. The tests that arm faults on the embedded cluster are in test_gate_plugin_sim.py.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.integration.gate.gate_support import REPO, plugin_args

GOOD = REPO / "scenarios" / "xid79.yaml"


@pytest.fixture(autouse=True)
def _importable(monkeypatch: pytest.MonkeyPatch) -> None:
    """The inner pytest process imports `runner` from this checkout."""
    monkeypatch.setenv("PYTHONPATH", str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))


def test_unused_plugin_stays_light(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_plain="""
        import sys

        def test_plain(request):
            assert request.config.pluginmanager.has_plugin("runner.pytest_plugin") or \\
                request.config.pluginmanager.has_plugin("chaos")
            heavy = [m for m in ("runner.api", "runner.engine.executor", "runner.scenario.validate",
                                 "kubernetes", "runner.sim", "runner.steps", "yaml", "jsonschema")
                     if m in sys.modules]
            assert heavy == []
    """)
    result = pytester.runpytest_subprocess(*plugin_args(), "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_options_and_markers_are_registered(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess(*plugin_args(), "--help")
    out = result.stdout.str()
    for option in ("--chaos-cluster={sim,kube}", "--chaos-context", "--chaos-kubeconfig",
                   "--chaos-sim-from", "--chaos-report-dir"):
        assert option in out
    markers = pytester.runpytest_subprocess(*plugin_args(), "--markers").stdout.str()
    assert "@pytest.mark.chaos_scenario(path)" in markers
    assert "@pytest.mark.chaos_fault(namespace, workload" in markers
    # --strict-markers: the markers are declared, so using them is no error
    pytester.makepyfile(test_marked="""
        import pytest

        @pytest.mark.chaos_fault(namespace="a", workload="b")
        def test_x():
            pass
    """)
    pytester.runpytest_subprocess(*plugin_args(), "--strict-markers").assert_outcomes(passed=1)


def test_bad_cluster_option_is_refused(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_plain="def test_x():\n    pass\n")
    result = pytester.runpytest_subprocess(*plugin_args(), "--chaos-cluster", "eks")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "invalid choice: 'eks'" in result.stderr.str()


def test_gpu_fault_without_target_explains(pytester: pytest.Pytester) -> None:
    pytester.makeconftest("""
        import pytest

        @pytest.fixture(scope="session")
        def chaos_cluster():  # never reached: the target is checked first
            raise AssertionError("no cluster wanted")
    """)
    pytester.makepyfile(test_fault="""
        def test_x(gpu_fault):
            pass
    """)
    result = pytester.runpytest_subprocess(*plugin_args())
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*gpu_fault needs namespace and workload*chaos_fault*"])


def test_chaos_fault_rejects_unknown_arguments(pytester: pytest.Pytester) -> None:
    pytester.makeconftest("""
        import pytest

        @pytest.fixture(scope="session")
        def chaos_cluster():
            return object()
    """)
    pytester.makepyfile(test_fault="""
        import pytest

        @pytest.mark.chaos_fault(namespace="a", workload="b", xyd=79)
        def test_x(gpu_fault):
            pass
    """)
    result = pytester.runpytest_subprocess(*plugin_args())
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*chaos_fault: unknown argument(s) xyd*"])


def test_invalid_scenario_fails_the_test(pytester: pytest.Pytester, tmp_path: Path) -> None:
    bad = pytester.path / "bad.yaml"
    bad.write_text(GOOD.read_text().replace("pin: preferred", "pin: soft"))
    pytester.makepyfile(test_scenario="""
        import pytest

        @pytest.mark.chaos_scenario("bad.yaml")
        def test_bad():
            raise AssertionError("the body must not run when the scenario cannot")

        @pytest.mark.chaos_scenario("bad.yaml")
        def test_bad_with_result(chaos_result):
            raise AssertionError("the body must not run when the scenario cannot")

        def test_unmarked(chaos_result):
            assert chaos_result is None
    """)
    result = pytester.runpytest_subprocess(*plugin_args(), "--chaos-report-dir", str(tmp_path))
    result.assert_outcomes(failed=2, passed=1)  # failures of the call phase, not setup errors
    out = result.stdout.str()
    line = next(i for i, text in enumerate(Path(bad).read_text().splitlines(), 1) if "pin: soft" in text)
    assert [x for x in out.splitlines() if x.startswith("chaos scenario ")] == [
        f"chaos scenario bad.yaml could not run: {bad}:{line}:37  CH013  steps[0].patch.pin  text ('soft') "
        "is not allowed; use one of: 'hard', 'preferred', 'none'"] * 2
    assert "During handling" not in out
    assert "CH013" in out or "'soft' is not allowed" in out
    assert "the body must not run" not in out


def test_missing_scenario_file_fails_the_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_scenario="""
        import pytest

        @pytest.mark.chaos_scenario("nowhere.yaml")
        def test_missing():
            pass
    """)
    result = pytester.runpytest_subprocess(*plugin_args())
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["chaos scenario nowhere.yaml could not run: */nowhere.yaml  CH001  "
                                 "cannot read the file*"])


def test_entry_point_is_declared() -> None:
    import tomllib

    data = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert data["project"]["entry-points"]["pytest11"] == {"chaos": "runner.pytest_plugin"}
