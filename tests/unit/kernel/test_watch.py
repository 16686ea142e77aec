"""kernel.watch.wait_for: list then watch, success/failure conditions, deadlines on the injected
clock, Gone."""

from __future__ import annotations

import pytest

from runner.cluster.protocol import KubeObject
from runner.errors import DeadlineExceeded, Gone
from runner.kernel.watch import Watched, wait_for
from runner.workload.views import pod_is_ready
from tests.fakes.clock import FakeClock
from tests.fakes.cluster import FakeCluster


def all_ready(pods: list[KubeObject]) -> bool | str:
    return bool(pods) and all(pod_is_ready(p) for p in pods) and f"{len(pods)} pods Ready"


def setup() -> tuple[FakeCluster, FakeClock]:
    clock = FakeClock()
    cluster = FakeCluster(clock=clock)
    cluster.add_pod("a", "ns", labels={"app": "w"}, phase="Pending", ready=False)
    cluster.add_pod("b", "ns", labels={"app": "w"})
    return cluster, clock


def test_success_comes_from_a_watched_change() -> None:
    cluster, clock = setup()
    clock.call_later(30, lambda: cluster.set_pod_phase("ns", "a", "Running"))
    progress: list[int] = []
    t0 = clock.monotonic()
    result = wait_for(cluster, Watched.pods("ns", "app=w"), all_ready,
                      deadline=t0 + 300, clock=clock, on_progress=lambda objs: progress.append(len(objs)))
    assert result.ok
    assert result.message == "2 pods Ready"
    assert clock.monotonic() - t0 == pytest.approx(30)
    assert result.events_seen == 1
    # progress at the start, at each watch chunk (a heartbeat; also where Ctrl-C is honoured) and
    # at the change
    assert len(progress) > 2
    assert set(progress) == {2}
    assert clock.slept == []  # it watched; it never slept
    assert [c[0] for c in cluster.calls].count("list") == 1


def test_failure_condition_wins() -> None:
    cluster, clock = setup()
    clock.call_later(5, lambda: cluster.set_pod_phase("ns", "b", "Failed"))
    result = wait_for(cluster, Watched.pods("ns", "app=w"), all_ready,
                      failure=lambda pods: any(p["status"]["phase"] == "Failed" for p in pods) and "b failed",
                      deadline=clock.monotonic() + 300, clock=clock)
    assert not result.ok
    assert result.message == "b failed"


def test_deadline_on_the_injected_clock() -> None:
    cluster, clock = setup()
    t0 = clock.monotonic()
    with pytest.raises(DeadlineExceeded):
        wait_for(cluster, Watched.pods("ns", "app=w"), all_ready, deadline=t0 + 200, clock=clock)
    assert clock.monotonic() - t0 == pytest.approx(200)


def test_gone_relists_and_goes_on() -> None:
    cluster, clock = setup()
    cluster.fail_next("watch", Gone("too old", 410))
    clock.call_later(10, lambda: cluster.set_pod_phase("ns", "a", "Running"))
    result = wait_for(cluster, Watched.pods("ns", "app=w"), all_ready,
                      deadline=clock.monotonic() + 60, clock=clock)
    assert result.ok
    assert [c[0] for c in cluster.calls].count("list") == 2


def test_deleted_objects_leave_the_set() -> None:
    cluster, clock = setup()
    from runner.cluster.protocol import ObjectRef

    clock.call_later(3, lambda: cluster.delete(ObjectRef("v1", "Pod", "ns", "a")))
    result = wait_for(cluster, Watched.pods("ns", "app=w"), all_ready,
                      deadline=clock.monotonic() + 60, clock=clock)
    assert result.ok
    assert [p["metadata"]["name"] for p in result.objects] == ["b"]


def test_an_api_server_that_stops_answering_ends_the_wait_at_its_deadline() -> None:
    """The adapter's CallTimeout (a call that could not finish before its deadline) is the wait
    running out of time, not a cluster error of some other kind."""
    from runner.cluster.deadline import until

    cluster, clock = setup()
    t0 = clock.monotonic()
    clock.call_later(5, lambda: setattr(cluster, "frozen", True))
    with cluster.deadline(until(t0 + 60, clock.monotonic), "step s"), \
            pytest.raises(DeadlineExceeded, match=r"timed out waiting for the pods: .*step s"):
        wait_for(cluster, Watched.pods("ns", "app=w"), lambda _: False, deadline=t0 + 60,
                 clock=clock, what="the pods")
    assert clock.monotonic() - t0 == pytest.approx(60)
