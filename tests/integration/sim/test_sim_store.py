"""The Store used in process (as part 2's controllers will): contract details others rely on."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from kubernetes import client

from runner.errors import Conflict, Gone, NotFound
from runner.sim.resources import CONFIGMAPS, GVR, PODS
from runner.sim.store import Store
from tests.integration.sim.conftest import pod


def test_versions_copies_and_noop_updates() -> None:
    store = Store()
    a = store.create(CONFIGMAPS, {"metadata": {"generateName": "cm-"}, "data": {"k": "v"}}, "default")
    assert a["metadata"]["name"].startswith("cm-")
    a["data"]["k"] = "mutated"  # a returned copy: the store is unaffected
    assert store.get(CONFIGMAPS, "default", a["metadata"]["name"])["data"] == {"k": "v"}
    fresh = store.get(CONFIGMAPS, "default", a["metadata"]["name"])
    same = store.update(CONFIGMAPS, fresh)
    assert same["metadata"]["resourceVersion"] == fresh["metadata"]["resourceVersion"]  # nothing changed
    fresh["data"] = {"k": "2"}
    fresh["metadata"].pop("resourceVersion")  # no version: an unconditional update
    b = store.update(CONFIGMAPS, fresh)
    assert int(b["metadata"]["resourceVersion"]) > int(same["metadata"]["resourceVersion"])
    assert store.resource_version == b["metadata"]["resourceVersion"]
    with pytest.raises(Conflict):
        store.update(CONFIGMAPS, {**b, "metadata": {**b["metadata"], "resourceVersion": "1"}})
    with pytest.raises(NotFound):
        store.get(GVR("nvidia.com", "v1alpha1", "dynamographdeployments"), "default", "x")


def test_listeners_run_in_commit_order_even_from_many_threads() -> None:
    store = Store()
    seen: list[int] = []
    store.add_listener(lambda t, gvr, obj: seen.append(int(obj["metadata"]["resourceVersion"])))

    def burst(k: int) -> None:
        for i in range(50):
            store.create(CONFIGMAPS, {"metadata": {"name": f"c{k}-{i}"}}, "default")

    threads = [threading.Thread(target=burst, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(seen) == 200
    assert seen == sorted(seen)


def test_watch_resume_and_gone() -> None:
    store = Store(history=5)
    first = store.create(CONFIGMAPS, {"metadata": {"name": "a"}}, "default")
    rv = first["metadata"]["resourceVersion"]
    store.create(CONFIGMAPS, {"metadata": {"name": "b"}}, "default")
    w = store.watch(CONFIGMAPS, "default", resource_version=rv)
    ev = w.next_event(1)
    assert ev is not None
    assert (ev[0], ev[1]["metadata"]["name"]) == ("ADDED", "b")
    w.stop()
    assert w.next_event(0) is None
    for i in range(10):
        store.create(CONFIGMAPS, {"metadata": {"name": f"x{i}"}}, "default")
    with pytest.raises(Gone) as gone:
        store.watch(CONFIGMAPS, "default", resource_version=rv)
    assert gone.value.status == 410


def test_status_rules_for_pods_and_statefulsets(apps: client.AppsV1Api) -> None:
    store = Store()
    p = store.create(PODS, pod("p"), "default")
    assert p["status"]["phase"] == "Pending"
    p["status"] = {"phase": "Running"}
    p["spec"]["nodeName"] = "gpu-node-1"
    main = store.update(PODS, p)
    assert main["status"]["phase"] == "Pending"  # a main update ignores status
    assert main["spec"]["nodeName"] == "gpu-node-1"
    st = store.update(PODS, {**main, "status": {"phase": "Running"}}, subresource="status")
    assert st["status"]["phase"] == "Running"

    sts: dict[str, Any] = {"metadata": {"name": "db"}, "spec": {
        "replicas": 2, "serviceName": "db", "selector": {"matchLabels": {"app": "db"}},
        "template": {"metadata": {"labels": {"app": "db"}},
                     "spec": {"containers": [{"name": "db", "image": "pg"}]}}}}
    created = apps.create_namespaced_stateful_set("default", sts)
    assert created.status.replicas == 0
    created.status = client.V1StatefulSetStatus(replicas=2, ready_replicas=2)
    out = apps.replace_namespaced_stateful_set_status("db", "default", created)
    assert out.status.ready_replicas == 2
    assert [s.metadata.name for s in apps.list_namespaced_stateful_set("default").items] == ["db"]


def test_selected_watch_sees_objects_enter_and_leave() -> None:
    store = Store()
    on_node = store.watch(PODS, None, field_selector="spec.nodeName=gpu-node-1")
    labelled = store.watch(PODS, "default", label_selector="role=worker")
    store.create(PODS, pod("p", {"role": "worker"}), "default")
    ev = labelled.next_event(1)
    assert ev is not None
    assert ev[0] == "ADDED"
    assert on_node.next_event(0.05) is None  # not bound yet
    store.patch(PODS, "default", "p", "application/merge-patch+json", {"spec": {"nodeName": "gpu-node-1"}})
    bound = on_node.next_event(1)
    assert bound is not None
    assert (bound[0], bound[1]["spec"]["nodeName"]) == ("ADDED", "gpu-node-1")  # entered the selection
    modified = labelled.next_event(1)
    assert modified is not None
    assert modified[0] == "MODIFIED"
    store.patch(PODS, "default", "p", "application/merge-patch+json", {"metadata": {"labels": {"role": "x"}}})
    left = labelled.next_event(1)
    assert left is not None
    assert (left[0], left[1]["metadata"]["labels"]) == ("DELETED", {"role": "x"})  # left the selection
