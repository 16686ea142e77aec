"""The `chaos` pytest plugin: GPU faults as fixtures, scenarios as tests.

Why it exists: teams already have pytest suites around their inference services; this lets a test
hold a simulated XID armed against a workload while it checks recovery, or run a scenario file as
one test, with rollback guaranteed when the test passes, fails or is interrupted (Ctrl-C).

- fixture `gpu_fault`: installs the shim into a workload and arms the fault for the test's
  duration (`runner.api.FaultInjector`); the target comes from `@pytest.mark.chaos_fault(...)`
  or indirect parametrization. Teardown always rolls back.
- marker `@pytest.mark.chaos_scenario("scenarios/xid79.yaml")`: runs the scenario (`runner.api.run`)
  in the test's call phase; the test fails with the verdict's reason unless it passed. The
  `chaos_result` fixture gives the test the RunResult to assert more.
- fixture `chaos_cluster` (session): the cluster the fixtures use, from `--chaos-cluster`,
  `--chaos-context`, `--chaos-kubeconfig` (or, for sim, an embedded cluster seeded from
  `--chaos-sim-from SCENARIO`). Override it in a conftest.py to bring your own.

Registered as the `pytest11` entry point `chaos`, so it loads in every pytest session of an
environment where chaos is installed: at import it needs nothing beyond pytest, and the engine,
the kubernetes client and the embedded cluster are imported only when a test uses a fixture or
marker of ours. It must not change anything about tests that use neither.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from runner.api import FaultInjector
    from runner.cluster.protocol import Cluster
    from runner.engine.result import RunResult

_RESULT = pytest.StashKey["RunResult | BaseException"]()
_FAULT_KEYS = frozenset({"namespace", "workload", "kind", "xid", "node", "pin", "fault_expiry",
                         "timeout", "yes", "arm", "allow_namespaces", "settle", "settle_timeout"})


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("chaos", "GPU chaos (simulated XID faults)")
    group.addoption("--chaos-cluster", choices=("sim", "kube"), default="sim",
                    help="where chaos fixtures and scenarios run: sim (embedded, default) or kube.")
    group.addoption("--chaos-context", default=None,
                    help="kubeconfig context for --chaos-cluster kube (default: the current one).")
    group.addoption("--chaos-kubeconfig", default=None,
                    help="kubeconfig file for --chaos-cluster kube (default: KUBECONFIG or ~/.kube/config).")
    group.addoption("--chaos-sim-from", default=None, metavar="SCENARIO",
                    help="seed the session's embedded cluster (chaos_cluster with sim) from this "
                         "scenario's settings.sim: nodes and manifests.")
    group.addoption("--chaos-report-dir", default="reports", metavar="DIR",
                    help="parent of the run directories (journal, reports) chaos tests write; "
                         "default: reports/.")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "chaos_scenario(path): run this chaos scenario file as the test; it fails "
        "with the verdict's reason unless the verdict is passed.")
    config.addinivalue_line(
        "markers", "chaos_fault(namespace, workload, kind='Deployment', xid=79, node=None, "
        "arm=True, settle=True, ...): the target of the gpu_fault fixture (other keys: "
        "runner.api.FaultInjector's).")


# --- helpers (imports of the library happen here, on first use) --------------------------------


def _run_dir(config: pytest.Config, nodeid: str) -> Path:
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "-", nodeid).strip("-")[-120:]
    return Path(str(config.getoption("chaos_report_dir"))) / safe


def _scenario_path(item: pytest.Item, raw: str | Path) -> Path:
    """A marker's path: absolute, else next to the test file, else under the rootdir."""
    path = Path(raw)
    if path.is_absolute():
        return path
    beside = Path(str(item.path)).parent / path
    return beside if beside.exists() else Path(str(item.config.rootpath)) / path


def _run_marked(item: pytest.Item) -> RunResult:
    """Run the item's chaos_scenario once (cached on the item); raises what the run raised."""
    stored = item.stash.get(_RESULT, None)
    if stored is None:
        marker = item.get_closest_marker("chaos_scenario")
        assert marker is not None
        if len(marker.args) != 1:
            raise pytest.UsageError(f"{item.nodeid}: chaos_scenario takes one scenario path")
        from runner import api

        config = item.config
        try:
            stored = api.run(_scenario_path(item, marker.args[0]),
                             cluster=str(config.getoption("chaos_cluster")),
                             context=config.getoption("chaos_context"),
                             kubeconfig=config.getoption("chaos_kubeconfig"),
                             report_dir=_run_dir(config, item.nodeid),
                             yes=bool(marker.kwargs.get("yes", False)))
        except Exception as exc:  # noqa: BLE001 - kept and raised in the call phase (a failure)
            stored = exc
        item.stash[_RESULT] = stored
    if isinstance(stored, BaseException):
        raise stored
    return stored


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_call(item: pytest.Item) -> None:
    if item.get_closest_marker("chaos_scenario") is None:
        return
    from runner.engine.result import Verdict
    from runner.errors import ChaosError

    try:
        result = _run_marked(item)
    except ChaosError as exc:
        problem = str(exc)
    else:
        problem = ""
    if problem:  # failed outside the except block: the report shows one message, not a chain
        marker = item.get_closest_marker("chaos_scenario")
        given = marker.args[0] if marker is not None and marker.args else "?"
        pytest.fail(f"chaos scenario {given} could not run: {problem}", pytrace=False)
    if result.verdict is Verdict.INTERRUPTED:
        raise KeyboardInterrupt(result.reason)  # the user's Ctrl-C: rolled back, now stop pytest
    if result.verdict is not Verdict.PASSED:
        pytest.fail(f"chaos scenario {result.verdict.value} (exit {result.exit_code}): {result.reason}"
                    f"\nrun directory: {result.run_dir}", pytrace=False)


# --- fixtures --------------------------------------------------------------------------------


@pytest.fixture
def chaos_result(request: pytest.FixtureRequest) -> RunResult | None:
    """The RunResult of this test's `chaos_scenario` (None when the test has no such marker).
    Requesting it runs the scenario at setup; the call phase still fails unless it passed."""
    if request.node.get_closest_marker("chaos_scenario") is None:
        return None
    try:
        return _run_marked(request.node)
    except Exception:  # noqa: BLE001 - reported as the test's failure in the call phase
        return None


@pytest.fixture(scope="session")
def chaos_cluster(pytestconfig: pytest.Config) -> Iterator[Cluster]:
    """The cluster chaos fixtures work on, for the whole session (override it to bring your own).

    kube: the kubeconfig's cluster. sim: an embedded cluster started for the session, seeded with
    the nodes and manifests of `--chaos-sim-from SCENARIO` (three 1-GPU nodes and no workloads
    without it), stopped at the end of the session."""
    from runner.api import load_scenario, open_cluster

    seed_from = pytestconfig.getoption("chaos_sim_from")
    scenario = load_scenario(Path(str(pytestconfig.rootpath)) / str(seed_from)) if seed_from else None
    with open_cluster(str(pytestconfig.getoption("chaos_cluster")),
                      pytestconfig.getoption("chaos_context"), pytestconfig.getoption("chaos_kubeconfig"),
                      scenario) as cluster:
        yield cluster


def _fault_spec(request: pytest.FixtureRequest) -> dict[str, Any]:
    marker = request.node.get_closest_marker("chaos_fault")
    spec: dict[str, Any] = dict(marker.kwargs) if marker is not None else {}
    if marker is not None and marker.args:
        spec.update(zip(("namespace", "workload"), marker.args, strict=False))
    param = getattr(request, "param", None)
    if isinstance(param, dict):
        spec.update(param)
    unknown = set(spec) - _FAULT_KEYS
    if unknown:
        raise pytest.UsageError(f"chaos_fault: unknown argument(s) {', '.join(sorted(unknown))}; "
                                f"allowed: {', '.join(sorted(_FAULT_KEYS))}")
    missing = [k for k in ("namespace", "workload") if not spec.get(k)]
    if missing:
        raise pytest.UsageError(
            f"gpu_fault needs {' and '.join(missing)}: mark the test with "
            "@pytest.mark.chaos_fault(namespace=..., workload=...) or parametrize it indirectly")
    return spec


@pytest.fixture
def gpu_fault(request: pytest.FixtureRequest) -> Iterator[FaultInjector]:
    """A simulated GPU fault (XID) armed on one node of a workload for the test's duration.

    The shim is loaded into the workload's pods (they restart and must become Ready), then armed on
    the target node (`arm=False` in the marker leaves it disarmed: call `.arm()` yourself). Teardown
    rolls everything back whether the test passed, failed or was interrupted, then waits (up to
    `settle_timeout`, default 2m; `settle=False` skips it) for the workload to be Ready again; a
    rollback that cannot complete is an error naming what is left and the `chaos recover` command."""
    from runner.api import FaultInjector

    spec = _fault_spec(request)  # a misused marker is reported before any cluster is opened
    chaos_cluster: Cluster = request.getfixturevalue("chaos_cluster")
    arm = bool(spec.pop("arm", True))
    spec.setdefault("settle", True)  # the next test's preflight wants the workload healthy again
    node = spec.pop("node", None)
    injector = FaultInjector(chaos_cluster, spec.pop("namespace"), spec.pop("workload"),
                             run_dir=_run_dir(request.config, request.node.nodeid), **spec)
    with injector:
        injector.install(node=node, passthrough=True)
        if arm:
            injector.arm()
        yield injector
        if getattr(request.session, "exitstatus", None) == pytest.ExitCode.INTERRUPTED:
            injector.settle = False  # Ctrl-C: roll back and let the user go, do not wait for Ready
