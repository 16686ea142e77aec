"""The FakeCluster behaves like an API server where tests rely on it (it is a test subject too)."""

from __future__ import annotations

import threading

import pytest

from runner.cluster.protocol import ObjectRef
from runner.errors import Conflict, Gone, Invalid, NotFound, Unavailable
from tests.fakes.clock import FakeClock
from tests.fakes.cluster import FakeCluster, FileBackedFakeCluster, apply_json_patch, apply_merge_patch

DEP = ObjectRef("apps/v1", "Deployment", "ns", "w")


def seeded(**kwargs: object) -> FakeCluster:
    c = FakeCluster(**kwargs)  # type: ignore[arg-type]
    c.add_node("n1")
    c.add_node("n2")
    c.add_deployment("w", "ns", replicas=2, nodes=["n1", "n2"])
    return c


def test_versions_and_conflicts() -> None:
    c = seeded()
    obj = c.get(DEP)
    rv = int(obj["metadata"]["resourceVersion"])
    patched = c.json_patch(DEP, [{"op": "replace", "path": "/spec/replicas", "value": 3}])
    assert int(patched["metadata"]["resourceVersion"]) > rv
    assert patched["metadata"]["generation"] == 2
    with pytest.raises(Conflict):  # stale version in the patch
        c.merge_patch(DEP, {"metadata": {"resourceVersion": str(rv)}, "spec": {"replicas": 1}})
    with pytest.raises(Conflict):  # failed test op; nothing applied
        c.json_patch(DEP, [{"op": "replace", "path": "/spec/replicas", "value": 9},
                           {"op": "test", "path": "/spec/replicas", "value": 2}])
    assert c.get(DEP)["spec"]["replicas"] == 3
    with pytest.raises(Conflict):
        c.create({"apiVersion": "apps/v1", "kind": "Deployment",
                  "metadata": {"name": "w", "namespace": "ns"}})
    with pytest.raises(NotFound):
        c.get(ObjectRef("v1", "Pod", "ns", "nope"))
    with pytest.raises(Invalid):
        c.json_patch(DEP, [{"op": "remove", "path": "/spec/nothing"}])
    c.delete(DEP)
    with pytest.raises(NotFound):
        c.delete(DEP)


def test_json_patch_ops() -> None:
    doc = {"a": {"b": [1, 2]}, "c": "x"}
    out = apply_json_patch(doc, [
        {"op": "add", "path": "/a/b/-", "value": 3},
        {"op": "add", "path": "/a/b/0", "value": 0},
        {"op": "move", "from": "/c", "path": "/d"},
        {"op": "copy", "from": "/a/b", "path": "/e"},
        {"op": "replace", "path": "/a/b/1", "value": 10},
        {"op": "remove", "path": "/e/0"},
        {"op": "test", "path": "/d", "value": "x"},
        {"op": "add", "path": "/k~1l", "value": True},
    ])
    assert out == {"a": {"b": [0, 10, 2, 3]}, "d": "x", "e": [1, 2, 3], "k/l": True}
    assert doc == {"a": {"b": [1, 2]}, "c": "x"}


def test_merge_patch() -> None:
    assert apply_merge_patch({"a": {"b": 1, "c": 2}, "d": [1]}, {"a": {"b": None, "e": 3}, "d": [2]}) == {
        "a": {"c": 2, "e": 3}, "d": [2]}


def test_selectors() -> None:
    c = FakeCluster()
    c.add_pod("a", "ns", node="n1", labels={"app": "w", "tier": "gpu"})
    c.add_pod("b", "ns", node="n2", labels={"app": "w"}, phase="Pending", ready=False)
    c.add_pod("c", "other", node="n1", labels={"app": "x"})

    def names(**kw: str) -> list[str]:
        return [o["metadata"]["name"] for o in c.list("v1", "Pod", kw.pop("ns", None), **kw)[0]]

    assert names(label_selector="app=w") == ["a", "b"]
    assert names(label_selector="app in (w, x),tier") == ["a"]
    assert names(label_selector="app notin (w),!tier") == ["c"]
    assert names(label_selector="app!=w") == ["c"]
    assert names(field_selector="spec.nodeName=n1") == ["a", "c"]
    assert names(field_selector="status.phase!=Running", ns="ns") == ["b"]
    assert names(field_selector="metadata.name==c") == ["c"]


def test_watch_history_and_gone() -> None:
    c = FakeCluster(history_limit=3)
    c.add_node("n1")
    _, rv = c.list("v1", "Pod", "ns")
    c.add_pod("a", "ns")
    events = list(c.watch("v1", "Pod", "ns", resource_version=rv, timeout_seconds=0.01))
    assert [(e.type, e.object["metadata"]["name"]) for e in events] == [("ADDED", "a")]
    for i in range(5):
        c.set_pod_phase("ns", "a", "Running", restarts=i + 1)
    with pytest.raises(Gone):
        list(c.watch("v1", "Pod", "ns", resource_version=rv, timeout_seconds=0.01))


def test_watch_blocks_until_change_from_another_thread() -> None:
    c = FakeCluster()
    c.add_pod("a", "ns")
    _, rv = c.list("v1", "Pod", "ns")
    started = threading.Event()

    def later() -> None:
        started.wait(5)
        c.set_pod_phase("ns", "a", "Failed")

    t = threading.Thread(target=later)
    t.start()
    stream = c.watch("v1", "Pod", "ns", resource_version=rv, timeout_seconds=10)
    started.set()
    event = next(stream)
    t.join()
    assert event.type == "MODIFIED"
    assert event.object["status"]["phase"] == "Failed"


def test_watch_with_fake_clock_advances_to_timers() -> None:
    clock = FakeClock()
    c = FakeCluster(clock=clock)
    c.add_pod("a", "ns")
    _, rv = c.list("v1", "Pod", "ns")
    t0 = clock.monotonic()
    clock.call_later(30, lambda: c.set_pod_phase("ns", "a", "Failed"))
    events = list(c.watch("v1", "Pod", "ns", resource_version=rv, timeout_seconds=60))
    assert [e.object["status"]["phase"] for e in events] == ["Failed"]
    assert clock.monotonic() == t0 + 60


def test_fail_next_logs_events_and_dump() -> None:
    c = seeded()
    before = c.dump()
    c.fail_next("json_patch", Unavailable("down"), kind="Deployment")
    with pytest.raises(Unavailable):
        c.json_patch(DEP, [{"op": "replace", "path": "/spec/replicas", "value": 5}])
    c.json_patch(DEP, [{"op": "replace", "path": "/spec/replicas", "value": 5}])
    assert c.dump() != before
    c.json_patch(DEP, [{"op": "replace", "path": "/spec/replicas", "value": 2}])
    assert c.dump() == before  # reverted: equal, although resourceVersion and generation moved on
    c.add_log("ns", "w-0", "[XID 79 SIM] boom\n")
    assert "XID 79" in c.pod_logs("ns", "w-0")
    assert c.pod_logs("ns", "w-1") == ""
    c.emit_event(DEP, "ChaosPatched", "patched")
    assert c.events[0].reason == "ChaosPatched"


def test_scale_and_status_subresources() -> None:
    c = seeded()
    c.merge_patch(DEP, {"spec": {"replicas": 4}}, subresource="scale")
    c.merge_patch(DEP, {"status": {"readyReplicas": 1}, "spec": {"replicas": 9}}, subresource="status")
    obj = c.get(DEP)
    assert obj["spec"]["replicas"] == 4
    assert obj["status"]["readyReplicas"] == 1


def test_file_backed_shares_state(tmp_path: object) -> None:
    from pathlib import Path
    path = Path(str(tmp_path)) / "cluster.json"
    a = FileBackedFakeCluster(path)
    a.add_node("n1")
    b = FileBackedFakeCluster(path)
    b.merge_patch(ObjectRef("v1", "Node", None, "n1"), {"spec": {"unschedulable": True}})
    assert a.get(ObjectRef("v1", "Node", None, "n1"))["spec"]["unschedulable"] is True
    assert a.dump() == b.dump()
