"""Watches through the official client: streams, resumption after a drop, 410 Gone, bookmarks."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, watch
from kubernetes.client.rest import ApiException

from runner.sim.cluster import SimCluster
from tests.integration.sim.conftest import api_client, pod


def test_watch_sees_added_modified_deleted(core: client.CoreV1Api) -> None:
    core.create_namespaced_pod("default", pod("before"))
    start = core.list_namespaced_pod("default").metadata.resource_version
    seen: list[tuple[str, str]] = []
    w = watch.Watch()

    def changes() -> None:
        core.create_namespaced_pod("default", pod("p", {"a": "1"}))
        core.patch_namespaced_pod("p", "default", {"metadata": {"labels": {"a": "2"}}})
        core.delete_namespaced_pod("p", "default")

    threading.Thread(target=changes).start()
    for ev in w.stream(core.list_namespaced_pod, "default", resource_version=start, timeout_seconds=10):
        seen.append((ev["type"], ev["object"].metadata.name))
        if ev["type"] == "DELETED":
            w.stop()
    assert seen == [("ADDED", "p"), ("MODIFIED", "p"), ("DELETED", "p")]


def test_watch_without_version_lists_existing_first(core: client.CoreV1Api) -> None:
    core.create_namespaced_pod("default", pod("a"))
    core.create_namespaced_pod("kube-system", pod("b"))
    w = watch.Watch()
    names = []
    for ev in w.stream(core.list_pod_for_all_namespaces, timeout_seconds=5):
        names.append((ev["type"], ev["object"].metadata.name))
        if len(names) == 2:
            w.stop()
    assert names == [("ADDED", "a"), ("ADDED", "b")]


def test_client_resumes_after_dropped_stream(sim: SimCluster, core: client.CoreV1Api) -> None:
    start = core.list_namespaced_pod("default").metadata.resource_version
    for i in range(5):
        core.create_namespaced_pod("default", pod(f"p{i}"))
    sim.faults.update({"watch_drop_after_events": 2})  # every stream ends after two events
    w = watch.Watch()
    names: list[str] = []
    # No timeout_seconds: the client reconnects by itself from the last resourceVersion it saw.
    for ev in w.stream(core.list_namespaced_pod, "default", resource_version=start):
        names.append(ev["object"].metadata.name)
        if len(names) == 5:
            w.stop()
    assert names == ["p0", "p1", "p2", "p3", "p4"]  # nothing lost, nothing repeated
    assert sim.faults.watches_dropped >= 2


def test_expired_version_is_410(tmp_path: Path) -> None:
    with SimCluster(tmp_path / "sim", history=10) as small:
        c = api_client(small, tmp_path / "kc")
        core = client.CoreV1Api(c)
        first = core.create_namespaced_config_map("default", {"metadata": {"name": "cm0"}})
        for i in range(1, 20):
            core.create_namespaced_config_map("default", {"metadata": {"name": f"cm{i}"}})
        w = watch.Watch()
        with pytest.raises(ApiException) as gone:
            for _ in w.stream(core.list_namespaced_config_map, "default",
                              resource_version=first.metadata.resource_version, timeout_seconds=5):
                pass
        assert gone.value.status == 410
        assert "Expired" in str(gone.value.reason)
        c.close()


def test_bookmarks(tmp_path: Path) -> None:
    with SimCluster(tmp_path / "sim") as cluster:
        cluster.store.bookmark_interval = 0.2
        c = api_client(cluster, tmp_path / "kc")
        core = client.CoreV1Api(c)
        rv = core.list_namespaced_pod("default").metadata.resource_version
        w = watch.Watch()
        events: list[dict[str, Any]] = []
        for ev in w.stream(core.list_namespaced_pod, "default", resource_version=rv,
                           allow_watch_bookmarks=True, timeout_seconds=10, deserialize=False):
            events.append(ev)
            w.stop()
        assert events[0]["type"] == "BOOKMARK"
        assert events[0]["object"]["metadata"]["resourceVersion"] == rv
        c.close()


def test_store_watch_and_listeners_in_process(sim: SimCluster, core: client.CoreV1Api) -> None:
    from runner.sim.resources import PODS

    got: list[tuple[str, str]] = []
    def listener(type_: str, gvr: object, obj: dict[str, Any]) -> None:
        if gvr == PODS:
            got.append((type_, obj["metadata"]["name"]))

    sim.store.add_listener(listener)
    sw = sim.store.watch(PODS, "default", label_selector="app=x")
    core.create_namespaced_pod("default", pod("ignored"))
    core.create_namespaced_pod("default", pod("wanted", {"app": "x"}))
    ev = sw.next_event(timeout=5)
    assert ev is not None
    assert (ev[0], ev[1]["metadata"]["name"]) == ("ADDED", "wanted")
    assert sw.next_event(timeout=0.05) is None
    sw.stop()
    assert got == [("ADDED", "ignored"), ("ADDED", "wanted")]
