"""coordination.k8s.io/v1 Leases through the official client and kubectl, as a real server keeps them:
AlreadyExists, optimistic concurrency, patches, selectors, watch, RBAC, MicroTime and the Date header."""

from __future__ import annotations

import datetime as dt
import email.utils
import json
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import urllib3
from kubernetes import client, watch
from kubernetes.client.rest import ApiException

from runner.sim.cluster import SimCluster
from runner.sim.rbac import PolicyRule
from tests.integration.sim.conftest import api_client

KUBECTL = shutil.which("kubectl")


def kubectl(cluster: SimCluster, tmp_path: Path, *args: str,
            check: bool = True) -> subprocess.CompletedProcess[str]:
    """The real kubectl against an in-process embedded cluster."""
    if KUBECTL is None:
        pytest.skip("kubectl is not installed")
    config = cluster.write_kubeconfig(tmp_path / "kubectl.kubeconfig")
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), "KUBECONFIG": str(config)}
    res = subprocess.run([KUBECTL, *args], env=env, capture_output=True, text=True, timeout=30, check=False)
    if check:
        assert res.returncode == 0, f"kubectl {' '.join(args)}: {res.stderr}"
    return res


def lease(name: str, holder: str = "run-1", labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": name, "labels": labels or {}},
            "spec": {"holderIdentity": holder, "leaseDurationSeconds": 15,
                     "acquireTime": "2025-01-01T00:00:00.100000Z",
                     "renewTime": "2025-01-01T00:00:01.500000Z"}}


@pytest.fixture
def coord(kube: client.ApiClient) -> client.CoordinationV1Api:
    return client.CoordinationV1Api(kube)


def body_of(exc: ApiException) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(exc.body)
    assert data["kind"] == "Status"
    assert data["code"] == exc.status
    return data


def test_lease_create_get_conflicts(coord: client.CoordinationV1Api) -> None:
    created = coord.create_namespaced_lease("default", lease("target-web"))
    assert created.spec.holder_identity == "run-1"
    assert created.spec.renew_time == dt.datetime(2025, 1, 1, 0, 0, 1, 500000, tzinfo=dt.timezone.utc)
    with pytest.raises(ApiException) as exists:
        coord.create_namespaced_lease("default", lease("target-web", "run-2"))
    assert exists.value.status == 409
    status = body_of(exists.value)
    assert status["reason"] == "AlreadyExists"
    assert status["message"] == 'leases.coordination.k8s.io "target-web" already exists'
    assert status["details"] == {"kind": "leases", "group": "coordination.k8s.io", "name": "target-web"}

    got = coord.read_namespaced_lease("target-web", "default")
    # The client sends datetimes with isoformat(), which drops a zero fraction: a real server's
    # RFC3339Micro parser refuses that (a renewer must never send a whole second).
    got.spec.renew_time = dt.datetime(2025, 1, 1, 0, 0, 9, tzinfo=dt.timezone.utc)
    with pytest.raises(ApiException) as zero_fraction:
        coord.replace_namespaced_lease("target-web", "default", got)
    assert zero_fraction.value.status == 400
    assert 'cannot parse "+00:00" as ".000000"' in body_of(zero_fraction.value)["message"]
    got.spec.renew_time = dt.datetime(2025, 1, 1, 0, 0, 9, 250000, tzinfo=dt.timezone.utc)
    renewed = coord.replace_namespaced_lease("target-web", "default", got)
    assert int(renewed.metadata.resource_version) > int(got.metadata.resource_version)
    got.spec.holder_identity = "run-2"  # a second runner still holding the old version
    with pytest.raises(ApiException) as stale:
        coord.replace_namespaced_lease("target-web", "default", got)
    assert stale.value.status == 409
    assert body_of(stale.value)["reason"] == "Conflict"
    assert body_of(stale.value)["message"].startswith(
        'Operation cannot be fulfilled on leases.coordination.k8s.io "target-web"')
    assert coord.read_namespaced_lease("target-web", "default").spec.holder_identity == "run-1"

    with pytest.raises(ApiException) as missing:
        coord.read_namespaced_lease("nope", "default")
    assert missing.value.status == 404
    assert body_of(missing.value)["message"] == 'leases.coordination.k8s.io "nope" not found'


def test_lease_patch_list_delete(coord: client.CoordinationV1Api) -> None:
    coord.create_namespaced_lease("default", lease("a", labels={"app.kubernetes.io/managed-by": "chaos"}))
    coord.create_namespaced_lease("default", lease("b", labels={"other": "x"}))
    merged = coord.patch_namespaced_lease("a", "default", {"spec": {"holderIdentity": "run-9"}},
                                          _content_type="application/merge-patch+json")
    assert merged.spec.holder_identity == "run-9"
    jsonp = coord.patch_namespaced_lease(
        "a", "default", [{"op": "test", "path": "/spec/holderIdentity", "value": "run-9"},
                         {"op": "add", "path": "/spec/leaseTransitions", "value": 1}],
        _content_type="application/json-patch+json")
    assert jsonp.spec.lease_transitions == 1
    # a patch carrying a stale resourceVersion conflicts like an update
    with pytest.raises(ApiException) as stale:
        coord.patch_namespaced_lease(
            "a", "default", {"metadata": {"resourceVersion": merged.metadata.resource_version},
                             "spec": {"holderIdentity": "late"}},
            _content_type="application/merge-patch+json")
    assert stale.value.status == 409
    mine = coord.list_namespaced_lease("default", label_selector="app.kubernetes.io/managed-by=chaos")
    assert [x.metadata.name for x in mine.items] == ["a"]
    assert {x.metadata.name for x in coord.list_lease_for_all_namespaces().items} == {"a", "b"}
    coord.delete_namespaced_lease("b", "default")
    with pytest.raises(ApiException) as gone:
        coord.delete_namespaced_lease("b", "default")
    assert gone.value.status == 404


def test_lease_validation_and_microtime(coord: client.CoordinationV1Api, sim: SimCluster) -> None:
    bad = lease("zero")
    bad["spec"]["leaseDurationSeconds"] = 0
    with pytest.raises(ApiException) as invalid:
        coord.create_namespaced_lease("default", bad)
    assert invalid.value.status == 422
    assert body_of(invalid.value)["message"] == (
        'Lease.coordination.k8s.io "zero" is invalid: '
        "spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0")
    # A real server parses MicroTime with Go's RFC3339Micro layout: six fractional digits, a zone.
    http = urllib3.PoolManager()
    url = f"{sim.url}/apis/coordination.k8s.io/v1/namespaces/default/leases"
    for stamp, detail in (("2025-01-01T00:00:00Z", 'cannot parse "Z" as ".000000"'),
                          ("2025-01-01T00:00:00.123456", 'cannot parse "" as "Z07:00"')):
        body = lease("t")
        body["spec"]["renewTime"] = stamp
        r = http.request("POST", url, body=json.dumps(body), headers={"Content-Type": "application/json"})
        assert r.status == 400, r.data
        assert detail in json.loads(r.data)["message"]
    body = lease("offset")
    body["spec"]["renewTime"] = "2025-01-01T02:00:00.000001+02:00"
    r = http.request("POST", url, body=json.dumps(body), headers={"Content-Type": "application/json"})
    assert r.status == 201
    assert json.loads(r.data)["spec"]["renewTime"] == "2025-01-01T00:00:00.000001Z"
    # the official client's own datetimes (isoformat with microseconds and an offset) are accepted
    body = lease("client")
    body["spec"]["renewTime"] = dt.datetime.now(dt.timezone.utc).replace(microsecond=123)
    assert coord.create_namespaced_lease("default", body).spec.renew_time.microsecond == 123


def test_lease_watch(coord: client.CoordinationV1Api) -> None:
    rv = coord.list_namespaced_lease("default").metadata.resource_version
    coord.create_namespaced_lease("default", lease("w"))
    coord.patch_namespaced_lease("w", "default", {"spec": {"holderIdentity": "run-2"}},
                                 _content_type="application/merge-patch+json")
    coord.delete_namespaced_lease("w", "default")
    seen = []
    w = watch.Watch()
    for ev in w.stream(coord.list_namespaced_lease, "default", resource_version=rv, timeout_seconds=5):
        seen.append((ev["type"], ev["object"].spec.holder_identity))
        if len(seen) == 3:
            w.stop()
    assert seen == [("ADDED", "run-1"), ("MODIFIED", "run-2"), ("DELETED", "run-2")]


def test_every_answer_carries_the_server_date(sim: SimCluster) -> None:
    http = urllib3.PoolManager()
    for method, path in (("GET", "/api/v1/namespaces"),
                         ("GET", "/apis/coordination.k8s.io/v1/namespaces/default/leases/x"),
                         ("GET", "/apis/coordination.k8s.io/v1"), ("GET", "/healthz"),
                         ("GET", "/apis/coordination.k8s.io/v1/leases?watch=1&timeoutSeconds=1")):
        before = time.time()
        r = http.request(method, f"{sim.url}{path}")
        parsed = email.utils.parsedate_to_datetime(r.headers["Date"])
        assert parsed.tzinfo is not None
        assert before - 1.5 <= parsed.timestamp() <= time.time() + 1, (path, r.headers["Date"])


def test_lease_rbac(tmp_path: Path) -> None:
    rules = [PolicyRule(frozenset({"coordination.k8s.io"}), frozenset({"leases"}),
                        frozenset({"get", "list", "watch", "create", "update"}))]
    with SimCluster(tmp_path / "sim", tokens={"admin": None, "runner": rules}) as cluster:
        runner = client.CoordinationV1Api(api_client(cluster, tmp_path / "r", "runner"))
        runner.create_namespaced_lease("default", lease("held"))
        got = runner.read_namespaced_lease("held", "default")
        got.spec.renew_time = dt.datetime.now(dt.timezone.utc).replace(microsecond=42)
        runner.replace_namespaced_lease("held", "default", got)
        with pytest.raises(ApiException) as denied:
            runner.delete_namespaced_lease("held", "default")
        assert denied.value.status == 403
        assert body_of(denied.value)["message"] == (
            'leases.coordination.k8s.io "held" is forbidden: User "token-2" cannot delete resource "leases" '
            'in API group "coordination.k8s.io" in the namespace "default"')
        with pytest.raises(ApiException) as pods:
            client.CoreV1Api(api_client(cluster, tmp_path / "r2", "runner")).list_namespaced_pod("default")
        assert pods.value.status == 403


def test_kubectl_sees_leases(sim: SimCluster, tmp_path: Path, coord: client.CoordinationV1Api) -> None:
    coord.create_namespaced_lease("default", lease("target-web", holder="run-7"))
    resources = kubectl(sim, tmp_path, "api-resources", "--api-group=coordination.k8s.io").stdout
    assert resources.splitlines()[1].split() == ["leases", "coordination.k8s.io/v1", "true", "Lease"]
    table = kubectl(sim, tmp_path, "get", "leases", "-A").stdout.splitlines()
    assert table[0].split() == ["NAMESPACE", "NAME", "HOLDER", "AGE"]
    assert table[1].split()[:3] == ["default", "target-web", "run-7"]
    manifest = tmp_path / "lease.yaml"
    manifest.write_text(json.dumps(lease("from-kubectl", holder="cli")))
    applied = kubectl(sim, tmp_path, "apply", "-f", str(manifest)).stdout
    assert "lease.coordination.k8s.io/from-kubectl created" in applied
    assert coord.read_namespaced_lease("from-kubectl", "default").spec.holder_identity == "cli"
    kubectl(sim, tmp_path, "delete", "lease", "from-kubectl")
    assert [x.metadata.name for x in coord.list_namespaced_lease("default").items] == ["target-web"]
