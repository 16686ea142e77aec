"""kube.py against the embedded API server over real HTTP: every Cluster method, error translation,
retries on injected 500/429, watch resume after dropped streams, 410, RBAC with deploy/rbac.yaml."""

from __future__ import annotations

import contextlib
import email.utils
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from runner.cluster.deadline import until
from runner.cluster.kube import KubeCluster
from runner.cluster.protocol import ObjectRef
from runner.errors import CallTimeout, Conflict, Forbidden, Gone, Invalid, NotFound, Unavailable
from runner.sim.cluster import SimCluster
from runner.sim.rbac import load_policy

REPO = Path(__file__).resolve().parents[3]
NS = "default"


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[SimCluster]:
    with SimCluster(tmp_path / "sim") as cluster:
        cluster.add_nodes(2, 8)
        yield cluster


@pytest.fixture
def kube(sim: SimCluster) -> Iterator[KubeCluster]:
    sleeps: list[float] = []
    k = KubeCluster.from_url(sim.url, name="embedded cluster", backoff_s=0.001, max_backoff_s=0.01,
                             sleep=sleeps.append)
    k.sleeps = sleeps  # type: ignore[attr-defined]
    yield k
    k.close()


def pod(name: str, labels: dict[str, str] | None = None, node: str = "") -> dict:
    spec: dict = {"containers": [{"name": "main", "image": "busybox"}]}
    if node:
        spec["nodeName"] = node
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": NS,
                                                            "labels": labels or {}}, "spec": spec}


def deployment(name: str) -> dict:
    labels = {"app": name}
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": NS, "labels": labels},
            "spec": {"replicas": 2, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [{"name": "main", "image": "app:1"}]}}}}


def test_description_and_crud(kube: KubeCluster, sim: SimCluster) -> None:
    assert kube.description == f"embedded cluster at {sim.url}"
    created = kube.create(deployment("w"))
    ref = ObjectRef.of(created)
    assert kube.get(ref)["spec"]["replicas"] == 2
    items, rv = kube.list("apps/v1", "Deployment", NS, label_selector="app=w")
    assert [i["metadata"]["name"] for i in items] == ["w"]
    assert rv
    assert items[0]["kind"] == "Deployment"
    patched = kube.json_patch(ref, [{"op": "test", "path": "/spec/replicas", "value": 2},
                                    {"op": "replace", "path": "/spec/replicas", "value": 3}])
    assert patched["spec"]["replicas"] == 3
    merged = kube.merge_patch(ref, {"metadata": {"labels": {"extra": "1"}}})
    assert merged["metadata"]["labels"]["extra"] == "1"
    nodes, _ = kube.list("v1", "Node")
    node = ObjectRef("v1", "Node", None, nodes[0]["metadata"]["name"])
    assert kube.merge_patch(node, {"spec": {"unschedulable": True}})["spec"]["unschedulable"] is True
    kube.delete(ref, grace_period_seconds=0)
    with pytest.raises(NotFound):
        kube.get(ref)


def test_error_translation(kube: KubeCluster) -> None:
    ref = ObjectRef.of(kube.create(deployment("w")))
    with pytest.raises(Conflict) as exists:
        kube.create(deployment("w"))
    assert exists.value.status == 409
    assert isinstance(exists.value.__cause__, Exception)
    with pytest.raises(Conflict):  # a failed `test` op is a stale read: Conflict, not Invalid
        kube.json_patch(ref, [{"op": "test", "path": "/spec/replicas", "value": 9}])
    with pytest.raises(Invalid):
        kube.json_patch(ref, [{"op": "remove", "path": "/spec/nope/x"}])
    with pytest.raises(NotFound):
        kube.delete(ObjectRef("v1", "Pod", NS, "ghost"))
    with pytest.raises(NotFound):
        kube.list("example.com/v1", "Widget", NS)


def test_dynamo_crd_is_found_by_discovery(kube: KubeCluster, sim: SimCluster) -> None:
    kube.create({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
                 "metadata": {"name": "dynamographdeployments.nvidia.com"},
                 "spec": {"group": "nvidia.com", "scope": "Namespaced",
                          "names": {"plural": "dynamographdeployments", "kind": "DynamoGraphDeployment",
                                    "singular": "dynamographdeployment",
                                    "listKind": "DynamoGraphDeploymentList"},
                          "versions": [{"name": "v1alpha1", "served": True, "storage": True,
                                        "schema": {"openAPIV3Schema": {
                                            "type": "object",
                                            "x-kubernetes-preserve-unknown-fields": True}}}]}})
    dgd = {"apiVersion": "nvidia.com/v1alpha1", "kind": "DynamoGraphDeployment",
           "metadata": {"name": "g", "namespace": NS},
           "spec": {"services": {"Worker": {"replicas": 1, "extraPodSpec": {"mainContainer": {}}}}}}
    try:
        created = kube.create(dgd)
    except NotFound:  # the CRD's API may need a moment to be served
        pytest.fail("the CRD's resource was not discovered")
    ref = ObjectRef.of(created)
    out = kube.json_patch(ref, [{"op": "add", "path": "/spec/services/Worker/extraPodSpec/mainContainer/env",
                                 "value": [{"name": "A", "value": "1"}]}])
    assert out["spec"]["services"]["Worker"]["extraPodSpec"]["mainContainer"]["env"][0]["name"] == "A"


def test_logs_and_events(kube: KubeCluster, sim: SimCluster) -> None:
    kube.create(pod("w"))
    assert kube.pod_logs(NS, "w") == ""  # no log yet: '' rather than an error
    sim.logs.path(NS, "w", "main", 0).write_text("[XID 79 SIM] boom\n")
    sim.logs.path(NS, "w", "main", 1).write_text("two\nthree\n")
    assert kube.pod_logs(NS, "w") == "two\nthree\n"
    assert kube.pod_logs(NS, "w", previous=True) == "[XID 79 SIM] boom\n"
    assert kube.pod_logs(NS, "w", tail_lines=1) == "three\n"
    with pytest.raises(NotFound):
        kube.pod_logs(NS, "ghost")
    regarding = ObjectRef("v1", "Pod", NS, "w")
    kube.emit_event(regarding, "ChaosTest", "hello", event_type="Warning")
    events, _ = kube.list("events.k8s.io/v1", "Event", NS)
    assert [(e["reason"], e["note"], e["type"], e["regarding"]["name"]) for e in events] == [
        ("ChaosTest", "hello", "Warning", "w")]
    sim.faults.update({"error_rate": 1.0, "error_code": 500, "path_regex": "/events"})
    kube.emit_event(regarding, "Lost", "never raises")  # best effort


def test_retries_injected_500_and_429_with_retry_after(kube: KubeCluster, sim: SimCluster) -> None:
    kube.create(pod("a"))
    sim.faults.update({"fail_next": 2, "error_code": 500, "verbs": ["list"]})
    items, _ = kube.list("v1", "Pod", NS)
    assert [i["metadata"]["name"] for i in items] == ["a"]
    assert sim.faults.injected == 2
    assert kube.retries_done == 2
    sim.faults.update({"fail_next": 1, "error_code": 429, "retry_after": 3, "verbs": ["get"]})
    kube.get(ObjectRef("v1", "Pod", NS, "a"))
    assert kube.sleeps[-1] == 3.0  # type: ignore[attr-defined]  # Retry-After honoured
    sim.faults.update({"error_rate": 1.0, "error_code": 500, "verbs": ["get"], "fail_next": 0})
    with pytest.raises(Unavailable) as gave_up:
        kube.get(ObjectRef("v1", "Pod", NS, "a"))
    assert gave_up.value.status == 500
    assert "after 6 tries" in str(gave_up.value)
    sim.faults.update({"error_rate": 0.0})


def test_conflicts_are_never_retried(kube: KubeCluster, sim: SimCluster) -> None:
    ref = ObjectRef.of(kube.create(deployment("w")))
    before = kube.retries_done
    stale = {"metadata": {"resourceVersion": "1"}, "spec": {"replicas": 5}}
    with pytest.raises(Conflict):
        kube.merge_patch(ref, stale)
    assert kube.retries_done == before


def test_unreachable_server_is_unavailable_after_bounded_retries(tmp_path: Path) -> None:
    with SimCluster(tmp_path / "gone") as cluster:
        url = cluster.url
    sleeps: list[float] = []
    k = KubeCluster.from_url(url, backoff_s=0.001, max_backoff_s=0.002, max_retries=2, sleep=sleeps.append)
    with pytest.raises(Unavailable, match="cannot reach"):
        k.list("v1", "Pod", NS)
    assert len(sleeps) == 2


def test_watch_sees_changes_and_resumes_after_dropped_streams(kube: KubeCluster, sim: SimCluster) -> None:
    _, rv = kube.list("v1", "Pod", NS)
    sim.faults.update({"watch_drop_after_events": 1})
    names = [f"p{i}" for i in range(4)]

    def make() -> None:
        for n in names:
            kube.create(pod(n, {"app": "x"}))

    seen: list[str] = []
    writer = threading.Thread(target=make)
    writer.start()
    for event in kube.watch("v1", "Pod", NS, label_selector="app=x", resource_version=rv,
                            timeout_seconds=20):
        if event.type == "ADDED":
            seen.append(event.object["metadata"]["name"])
        if len(seen) == len(names):
            break
    writer.join()
    assert seen == names  # in order, none lost, none repeated, across several dropped streams
    assert sim.faults.watches_dropped >= 3


def test_watch_ends_at_its_timeout(kube: KubeCluster) -> None:
    _, rv = kube.list("v1", "Pod", NS)
    assert list(kube.watch("v1", "Pod", NS, resource_version=rv, timeout_seconds=1)) == []


def test_calls_end_by_their_deadline_when_the_server_stops_answering(kube: KubeCluster,
                                                                     sim: SimCluster) -> None:
    """A frozen server (connections accepted, nothing answered) holds a call only until its
    deadline: a plain call, a watch and a log read each end then with CallTimeout (or, for the
    watch, end), and a call made once the deadline is spent is not sent. Margins are generous:
    the point is that they end, not how fast."""
    created = kube.create(pod("held"))
    sim.faults.update({"freeze": True})
    try:
        for call in (lambda: kube.get(ObjectRef.of(created)),
                     lambda: kube.pod_logs(NS, "held")):
            started = time.monotonic()
            with kube.deadline(until(started + 1.0, time.monotonic), "step s"), \
                    pytest.raises(CallTimeout, match="before the deadline of step s"):
                call()
            assert time.monotonic() - started < 10
        started = time.monotonic()
        with kube.deadline(until(started + 1.0, time.monotonic), "step s"), \
                contextlib.suppress(CallTimeout):  # a watch may also just end: nothing happened
            assert list(kube.watch("v1", "Pod", NS, timeout_seconds=30)) == []
        assert time.monotonic() - started < 10
        with kube.deadline(lambda: 0.0, "the rollback"), pytest.raises(CallTimeout, match="not sent"):
            kube.get(ObjectRef.of(created))
        started = time.monotonic()
        kube.emit_event(ObjectRef.of(created), "Test", "an Event never holds a step")  # swallowed
        assert time.monotonic() - started < 15
    finally:
        sim.faults.clear()
    assert kube.get(ObjectRef.of(created))["metadata"]["name"] == "held"


def test_server_time_is_the_api_servers_date(kube: KubeCluster, sim: SimCluster) -> None:
    """The embedded API server sends a correct Date header; the adapter reads the server's clock
    from it (to the second: the header's resolution)."""
    import urllib3

    answer = urllib3.PoolManager().request("GET", f"{sim.url}/version", timeout=5)
    date = answer.headers.get("Date")
    assert date
    assert abs(email.utils.parsedate_to_datetime(date).timestamp() - time.time()) < 3
    now = kube.server_time()
    assert now is not None
    assert abs(now - time.time()) < 3


def test_watch_too_old_version_is_gone(tmp_path: Path) -> None:
    with SimCluster(tmp_path / "sim", history=5) as cluster:
        k = KubeCluster.from_url(cluster.url)
        _, rv = k.list("v1", "Pod", NS)
        for i in range(20):
            k.create(pod(f"p{i}"))
        with pytest.raises(Gone):
            list(k.watch("v1", "Pod", NS, resource_version=rv, timeout_seconds=5))


def in_namespace(obj: dict, namespace: str) -> dict:
    return {**obj, "metadata": {**obj["metadata"], "namespace": namespace}}


def test_rbac_manifest_is_enough_for_a_run_and_no_more(tmp_path: Path) -> None:
    """The adapter under deploy/rbac.yaml as the embedded cluster binds it: what a run does in the
    target namespace (inference) and the state namespace works; the same elsewhere, or a node
    patch, is Forbidden; `can_i` (a SelfSubjectAccessReview) says so before trying."""
    rbac, cordon = REPO / "deploy" / "rbac.yaml", REPO / "deploy" / "rbac-cordon.yaml"
    tokens = {"admin": None, "runner": load_policy([rbac]), "cordoner": load_policy([rbac, cordon])}
    with SimCluster(tmp_path / "sim", tokens=tokens) as cluster:
        cluster.add_nodes(1, 1)
        admin = KubeCluster.from_url(cluster.url, "admin")
        runner = KubeCluster.from_url(cluster.url, "runner")
        assert "runner" not in runner.description
        assert "admin" not in admin.description
        target = "inference"
        admin.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": target}})
        ref = ObjectRef.of(admin.create(in_namespace(deployment("w"), target)))
        runner.get(ref)
        runner.json_patch(ref, [{"op": "add", "path": "/spec/template/metadata/labels/x", "value": "1"}])
        runner.create(in_namespace(pod("helper"), target))
        runner.list("v1", "Pod", target)
        runner.delete(ObjectRef("v1", "Pod", target, "helper"))
        for namespace in (target, "chaos-system"):  # the shim's ConfigMap; the journal's copy
            cm = runner.create({"apiVersion": "v1", "kind": "ConfigMap",
                                "metadata": {"name": "c", "namespace": namespace}, "data": {}})
            runner.merge_patch(ObjectRef.of(cm), {"data": {"k": "v"}})
            runner.delete(ObjectRef.of(cm))
        runner.get(ObjectRef("v1", "Namespace", None, "chaos-system"))
        node = runner.list("v1", "Node")[0][0]["metadata"]["name"]
        node_ref = ObjectRef("v1", "Node", None, node)
        assert runner.can_i("create", "pods", namespace=target)
        assert runner.can_i("create", "leases", group="coordination.k8s.io", namespace="chaos-system")
        assert not runner.can_i("create", "leases", group="coordination.k8s.io", namespace=target)
        assert not runner.can_i("create", "pods", namespace="kube-system")
        assert not runner.can_i("patch", "nodes")
        assert not runner.can_i("get", "pods", namespace=target, subresource="exec")
        with pytest.raises(Forbidden):
            runner.create(in_namespace(pod("escape"), "kube-system"))  # pods only in target namespaces
        with pytest.raises(Forbidden):
            runner.merge_patch(node_ref, {"spec": {"unschedulable": True}})  # needs rbac-cordon.yaml
        with pytest.raises(Forbidden):
            runner.delete(ref)  # workloads are patched, never deleted
        with pytest.raises(Forbidden):
            runner.delete(node_ref)  # nodes are cordoned at most, never deleted
        cordoner = KubeCluster.from_url(cluster.url, "cordoner")
        assert cordoner.can_i("patch", "nodes")
        cordoner.merge_patch(node_ref, {"spec": {"unschedulable": True}})
        cordoner.merge_patch(node_ref, {"spec": {"unschedulable": None}})
        with pytest.raises(Forbidden):
            cordoner.delete(node_ref)
        assert admin.can_i("delete", "nodes")  # an unrestricted token may do anything


def test_kubeconfig_like_kubectl(sim: SimCluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = sim.write_kubeconfig(tmp_path / "kc", context="sim-ctx", token="s3cret-token")
    explicit = KubeCluster(kubeconfig=str(path), context="sim-ctx")
    assert explicit.description == f"context sim-ctx ({sim.url})"
    assert explicit.list("v1", "Node")[0]
    monkeypatch.setenv("KUBECONFIG", str(path))
    from_env = KubeCluster()
    assert "s3cret" not in from_env.description
    assert from_env.description.startswith("context sim-ctx")
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "missing"))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    from runner.errors import KubeconfigError

    with pytest.raises(KubeconfigError, match="no kubeconfig") as missing:  # invalid input: exit 2
        KubeCluster()
    assert missing.value.exit_code == 2
