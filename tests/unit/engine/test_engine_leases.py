"""One run per target: the Leases a run takes on its workload and nodes (runner/engine/leases.py)
held, taken over, refused, lost and released, on the fake cluster and the fake clock."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from runner.cluster.protocol import ObjectRef
from runner.engine.events import RunListener
from runner.engine.journal import mirror_name
from runner.engine.leases import (
    LEASE_API,
    LEASE_SECONDS,
    STARTED_ANNOTATION,
    micro_time,
    node_lease,
    workload_lease,
)
from runner.engine.result import RunResult, Verdict
from runner.kernel.clock import FakeClock
from runner.kernel.step import StepStatus
from tests.fakes.cluster import STATE_NAMESPACE, FakeCluster
from tests.unit.engine.stepkit import NS, Kit, make_scenario, seed

WORKLOAD_LEASE = workload_lease(NS, "Deployment", "w")


def lease_ref(name: str) -> ObjectRef:
    return ObjectRef(LEASE_API, "Lease", STATE_NAMESPACE, name)


def leases(cluster: FakeCluster) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in cluster.objects("Lease", STATE_NAMESPACE)}


def someone_elses(cluster: FakeCluster, clock: FakeClock, name: str, holder: str = "other-run") -> None:
    """A Lease held by another run (on host `ci-7`), renewed just now."""
    now = micro_time(clock.time())
    cluster.create({"apiVersion": LEASE_API, "kind": "Lease",
                    "metadata": {"name": name, "namespace": STATE_NAMESPACE,
                                 "annotations": {"chaos.dev/host": "ci-7", STARTED_ANNOTATION: now}},
                    "spec": {"holderIdentity": holder, "leaseDurationSeconds": LEASE_SECONDS,
                             "acquireTime": now, "renewTime": now}})


def renewing(cluster: FakeCluster, clock: FakeClock, name: str) -> None:
    """The other run is alive: it renews its Lease every 10 s."""
    def renew() -> None:
        cluster.merge_patch(lease_ref(name), {"spec": {"renewTime": micro_time(clock.time())}})
    clock.every(10.0, renew)


def test_a_run_holds_both_leases_while_it_runs_and_releases_them(
        run: Callable[..., RunResult], cluster: FakeCluster) -> None:
    seen: dict[str, dict[str, Any]] = {}

    class Spy(RunListener):
        def step_finished(self, result: object) -> None:
            seen.update(leases(cluster))

    result = run(make_scenario(), listener=Spy())
    assert result.verdict is Verdict.PASSED, result.reason
    assert set(seen) == {WORKLOAD_LEASE, node_lease("n1")}
    spec = seen[WORKLOAD_LEASE]["spec"]
    assert spec["holderIdentity"] == result.run_id
    assert spec["leaseDurationSeconds"] == LEASE_SECONDS
    assert seen[WORKLOAD_LEASE]["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "chaos"
    assert leases(cluster) == {}  # released at the end of a clean run


def test_a_live_holder_refuses_the_second_run_naming_it(
        run: Callable[..., RunResult], cluster: FakeCluster, clock: FakeClock) -> None:
    someone_elses(cluster, clock, WORKLOAD_LEASE)
    renewing(cluster, clock, WORKLOAD_LEASE)
    before = cluster.dump()
    result = run(make_scenario())
    assert result.verdict is Verdict.INCONCLUSIVE
    assert result.exit_code == 3
    assert "held by run other-run on host ci-7 since " in result.reason
    assert "nothing was changed" in result.reason
    assert all(s.status is StepStatus.SKIPPED for s in result.steps)
    def ours(dump: dict[str, Any]) -> dict[str, Any]:  # the other run's Lease moves as it renews
        return {k: v for k, v in dump.items() if "/Lease/" not in k}
    assert ours(cluster.dump()) == ours(before)
    assert leases(cluster)[WORKLOAD_LEASE]["spec"]["holderIdentity"] == "other-run"


def test_an_expired_lease_of_a_clean_run_is_taken_over(
        run: Callable[..., RunResult], cluster: FakeCluster, clock: FakeClock) -> None:
    someone_elses(cluster, clock, WORKLOAD_LEASE)  # never renewed again: its run is gone
    started = clock.monotonic()
    result = run(make_scenario())
    assert result.verdict is Verdict.PASSED, result.reason
    assert clock.monotonic() - started >= LEASE_SECONDS  # judged by time elapsed here, not by clocks
    assert leases(cluster) == {}


def test_an_expired_lease_whose_run_left_changes_is_not_taken_over(
        run: Callable[..., RunResult], cluster: FakeCluster, clock: FakeClock, kit: Kit,
        tmp_path: Path) -> None:
    kit.modes["5-assert"] = "fail"

    class Break(RunListener):  # the first run's rollback cannot undo the patch
        def rollback_started(self, pending: list[str]) -> None:
            from runner.errors import Unavailable
            cluster.fail_next("json_patch", Unavailable("down"), kind="Deployment")

    first = run(make_scenario(), listener=Break())
    assert first.verdict is Verdict.ROLLBACK_INCOMPLETE
    assert leases(cluster)[WORKLOAD_LEASE]["spec"]["holderIdentity"] == first.run_id  # kept
    kit.modes.clear()
    second = _second_run(run, tmp_path)
    assert second.verdict is Verdict.INCONCLUSIVE
    assert second.exit_code == 3
    assert f"chaos recover --run {first.run_id}" in second.reason
    assert mirror_name(first.run_id) in {o["metadata"]["name"] for o in
                                         cluster.objects("ConfigMap", STATE_NAMESPACE)}


def _second_run(run: Callable[..., RunResult], tmp_path: Path) -> RunResult:
    from runner.settings import RunOptions
    return run(make_scenario(), options=RunOptions(run_dir=tmp_path / "second"))


def test_a_run_that_loses_its_lease_stops_and_is_inconclusive(
        run: Callable[..., RunResult], cluster: FakeCluster, clock: FakeClock) -> None:
    before = cluster.dump()

    class Steal(RunListener):  # after step 2, another run takes the workload's Lease over
        def step_finished(self, result: object) -> None:
            if getattr(result, "name") == "2-wait":  # noqa: B009
                cluster.merge_patch(lease_ref(WORKLOAD_LEASE), {"spec": {"holderIdentity": "thief"}})
                clock.advance(LEASE_SECONDS / 3 + 1)  # this run's next renewal finds it gone

    result = run(make_scenario(), listener=Steal())
    assert result.verdict is Verdict.INCONCLUSIVE
    assert result.exit_code == 3
    assert "lost Lease" in result.reason
    assert WORKLOAD_LEASE in result.reason
    step3 = next(s for s in result.steps if s.name == "3-cordon")
    assert step3.status is StepStatus.ERROR
    assert "stopped before this step" in step3.message
    assert result.rollback.complete
    dump = cluster.dump()
    assert {k: v for k, v in dump.items() if "Lease" not in k} == before  # its own changes undone
    assert leases(cluster)[WORKLOAD_LEASE]["spec"]["holderIdentity"] == "thief"  # theirs, left alone


def test_renewal_moves_renew_time_on_the_run_clock(
        run: Callable[..., RunResult], cluster: FakeCluster, clock: FakeClock, kit: Kit) -> None:
    times: list[str] = []

    class Spy(RunListener):
        def step_finished(self, result: object) -> None:
            if getattr(result, "name") == "2-wait":  # noqa: B009
                times.append(leases(cluster)[WORKLOAD_LEASE]["spec"]["renewTime"])
                clock.advance(LEASE_SECONDS)
                times.append(leases(cluster)[WORKLOAD_LEASE]["spec"]["renewTime"])

    assert run(make_scenario(), listener=Spy()).verdict is Verdict.PASSED
    assert times[0] != times[1]


@pytest.mark.parametrize(("unix", "text"), [(1_700_000_000.0, "2023-11-14T22:13:20.000000Z"),
                                            (1_700_000_000.5, "2023-11-14T22:13:20.500000Z"),
                                            (1_700_000_000.000001, "2023-11-14T22:13:20.000001Z")])
def test_micro_time_always_has_six_digits(unix: float, text: str) -> None:
    assert micro_time(unix) == text
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", micro_time(unix))


def test_lease_names_are_valid_and_distinct() -> None:
    long = workload_lease("a" * 63, "Deployment", "b" * 253)
    assert len(long) <= 63
    assert re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", long)
    assert workload_lease("ns", "Deployment", "w") != workload_lease("ns", "StatefulSet", "w")
    assert node_lease("gpu-node-1") != node_lease("gpu-node-2")


def test_a_target_mid_change_by_another_run_is_refused_naming_that_run(
        run: Callable[..., RunResult], clock: FakeClock, kit: Kit, tmp_path: Path) -> None:
    """The other run's rollout is half done, so the health check fails before this run would ask
    for the Lease: the refusal names the holder (the real reason), with the health finding."""
    cluster = seed(FakeCluster(clock=clock), ready=False)
    someone_elses(cluster, clock, WORKLOAD_LEASE)
    result = run(make_scenario(), cluster=cluster)
    assert result.exit_code == 3
    assert "is held by run other-run on host ci-7 since " in result.reason
    assert "one run per target" in result.reason
    assert "not healthy" in result.reason
    assert kit.ran == []


def test_an_unhealthy_target_nobody_holds_is_refused_as_unhealthy(
        run: Callable[..., RunResult], clock: FakeClock, kit: Kit) -> None:
    result = run(make_scenario(), cluster=seed(FakeCluster(clock=clock), ready=False))
    assert result.exit_code == 3
    assert "not healthy" in result.reason
    assert "held by" not in result.reason
