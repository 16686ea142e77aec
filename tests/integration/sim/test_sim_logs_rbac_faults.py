"""pods/log (plain, tail, previous, follow), RBAC-lite (401/403) and injected server faults."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
import urllib3
from kubernetes import client
from kubernetes.client.rest import ApiException

from runner.sim.cluster import SimCluster
from runner.sim.rbac import load_policy, load_rules
from tests.integration.sim.conftest import api_client, pod, wait_for


def test_logs_plain_tail_previous(sim: SimCluster, core: client.CoreV1Api) -> None:
    core.create_namespaced_pod("default", pod("w"))
    with pytest.raises(ApiException) as waiting:
        core.read_namespaced_pod_log("w", "default")
    assert waiting.value.status == 400
    sim.logs.path("default", "w", "main", 0).write_text("boot\ncrash: cudaErrorNoDevice\n")
    sim.logs.path("default", "w", "main", 1).write_text("one\ntwo\nthree\n")
    assert core.read_namespaced_pod_log("w", "default") == "one\ntwo\nthree\n"
    assert core.read_namespaced_pod_log("w", "default", tail_lines=2) == "two\nthree\n"
    assert core.read_namespaced_pod_log("w", "default", previous=True) == "boot\ncrash: cudaErrorNoDevice\n"
    assert core.read_namespaced_pod_log("w", "default", container="main", tail_lines=0) == ""
    with pytest.raises(ApiException) as bad:
        core.read_namespaced_pod_log("w", "default", container="nope")
    assert bad.value.status == 400
    with pytest.raises(ApiException) as missing:
        core.read_namespaced_pod_log("ghost", "default")
    assert missing.value.status == 404


def test_logs_need_container_when_several(sim: SimCluster, core: client.CoreV1Api) -> None:
    core.create_namespaced_pod("default", pod("two", containers=("a", "b")))
    sim.logs.path("default", "two", "b", 0).write_text("from b\n")
    with pytest.raises(ApiException) as several:
        core.read_namespaced_pod_log("two", "default")
    assert several.value.status == 400
    assert "a container name must be specified" in json.loads(several.value.body)["message"]
    assert core.read_namespaced_pod_log("two", "default", container="b") == "from b\n"


def test_logs_default_to_the_only_container_beside_init_containers(
        sim: SimCluster, core: client.CoreV1Api) -> None:
    body = pod("i")
    body["spec"]["initContainers"] = [{"name": "compile", "image": "gcc:13"}]
    core.create_namespaced_pod("default", body)
    sim.logs.path("default", "i", "main", 0).write_text("[XID 79 SIM] cudaMalloc\n")
    sim.logs.path("default", "i", "compile", 0).write_text("gcc ok\n")
    assert core.read_namespaced_pod_log("i", "default") == "[XID 79 SIM] cudaMalloc\n"
    assert core.read_namespaced_pod_log("i", "default", container="compile") == "gcc ok\n"


def test_logs_follow_until_pod_deleted(sim: SimCluster, core: client.CoreV1Api) -> None:
    core.create_namespaced_pod("default", pod("f"))
    path = sim.logs.path("default", "f", "main", 0)
    path.write_text("first\n")
    resp = core.read_namespaced_pod_log("f", "default", follow=True, _preload_content=False)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.extend(resp.stream(64, decode_content=False)))
    reader.start()
    wait_for(lambda: b"".join(got) == b"first\n", what="the existing log")
    with path.open("a") as fh:
        fh.write("second\n")
    wait_for(lambda: b"".join(got) == b"first\nsecond\n", what="the appended line")
    core.delete_namespaced_pod("f", "default")
    reader.join(timeout=10)
    assert not reader.is_alive()  # the stream ended when the pod went away
    assert b"".join(got) == b"first\nsecond\n"


RULES = """\
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: chaos-runner}
rules:
- apiGroups: [""]
  resources: ["pods", "pods/log"]
  verbs: ["get", "list", "watch"]
- apiGroups: ["apps"]
  resources: ["deployments"]
  verbs: ["get", "patch"]
"""


def test_rbac_tokens(tmp_path: Path) -> None:
    (tmp_path / "role.yaml").write_text(RULES)
    tokens = {"admin-token": None, "runner-token": load_rules(tmp_path / "role.yaml")}
    with SimCluster(tmp_path / "sim", tokens=tokens) as cluster:
        admin = client.CoreV1Api(api_client(cluster, tmp_path / "a", "admin-token"))
        runner = client.CoreV1Api(api_client(cluster, tmp_path / "r", "runner-token"))
        nobody = client.CoreV1Api(api_client(cluster, tmp_path / "n", "wrong"))
        admin.create_namespaced_pod("default", pod("p"))
        assert [p.metadata.name for p in runner.list_namespaced_pod("default").items] == ["p"]
        with pytest.raises(ApiException) as forbidden:
            runner.delete_namespaced_pod("p", "default")
        body = json.loads(forbidden.value.body)
        assert forbidden.value.status == 403
        assert body["reason"] == "Forbidden"
        assert body["message"] == ('pods "p" is forbidden: User "token-2" cannot delete resource "pods" '
                                   'in API group "" in the namespace "default"')
        with pytest.raises(ApiException) as nodes:
            runner.list_node()
        assert "at the cluster scope" in json.loads(nodes.value.body)["message"]
        with pytest.raises(ApiException) as unauth:
            nobody.list_namespaced_pod("default")
        assert unauth.value.status == 401
        cluster.logs.path("default", "p", "main", 0).write_text("ok\n")
        assert runner.read_namespaced_pod_log("p", "default") == "ok\n"  # pods/log granted


BOUND = """\
apiVersion: v1
kind: ServiceAccount
metadata: {name: runner, namespace: ops}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: work}
rules:
- {apiGroups: [""], resources: [pods, namespaces], verbs: [get, list, create]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: work, namespace: team}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: work}
subjects: [{kind: ServiceAccount, name: runner, namespace: ops}]
"""


def review(api: client.AuthorizationV1Api, verb: str, resource: str, namespace: str | None = None) -> dict:
    body = client.V1SelfSubjectAccessReview(spec=client.V1SelfSubjectAccessReviewSpec(
        resource_attributes=client.V1ResourceAttributes(verb=verb, resource=resource, namespace=namespace)))
    answer: dict = api.api_client.sanitize_for_serialization(api.create_self_subject_access_review(body))
    return answer["status"]


def test_role_bindings_and_access_reviews(tmp_path: Path) -> None:
    """A RoleBinding to a ClusterRole grants in its namespace only (a Namespace object counts as in
    itself, as on a real server); the token is the ServiceAccount's user; a SelfSubjectAccessReview
    answers from the same rules, for any authenticated token."""
    (tmp_path / "bound.yaml").write_text(BOUND)
    tokens = {"admin-token": None, "sa-token": load_policy([tmp_path / "bound.yaml"])}
    with SimCluster(tmp_path / "sim", tokens=tokens) as cluster:
        admin = client.CoreV1Api(api_client(cluster, tmp_path / "a", "admin-token"))
        sa_client = api_client(cluster, tmp_path / "s", "sa-token")
        sa = client.CoreV1Api(sa_client)
        for name in ("team", "other"):
            admin.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
        sa.create_namespaced_pod("team", pod("p"))
        assert [p.metadata.name for p in sa.list_namespaced_pod("team").items] == ["p"]
        assert sa.read_namespace("team").metadata.name == "team"
        with pytest.raises(ApiException) as other:
            sa.create_namespaced_pod("other", pod("p"))
        assert json.loads(other.value.body)["message"] == (
            'pods is forbidden: User "system:serviceaccount:ops:runner" cannot create resource "pods" '
            'in API group "" in the namespace "other"')
        with pytest.raises(ApiException) as other_ns:
            sa.read_namespace("other")
        assert json.loads(other_ns.value.body)["message"] == (
            'namespaces "other" is forbidden: User "system:serviceaccount:ops:runner" cannot get '
            'resource "namespaces" in API group "" in the namespace "other"')
        with pytest.raises(ApiException) as everywhere:
            sa.list_pod_for_all_namespaces()
        assert "at the cluster scope" in json.loads(everywhere.value.body)["message"]

        auth = client.AuthorizationV1Api(sa_client)
        yes = review(auth, "create", "pods", "team")
        assert yes["allowed"] is True
        assert yes["reason"] == ('RBAC: allowed by RoleBinding "work/team" of ClusterRole "work" to '
                                 'ServiceAccount "runner/ops"')
        assert review(auth, "create", "pods", "other")["allowed"] is False
        assert review(auth, "patch", "nodes")["allowed"] is False
        assert review(client.AuthorizationV1Api(api_client(cluster, tmp_path / "a2", "admin-token")),
                      "patch", "nodes")["allowed"] is True
        raw = urllib3.PoolManager().request(
            "POST", f"{cluster.url}/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
            body=b'{"spec": {}}', headers={"Authorization": "Bearer sa-token",
                                           "Content-Type": "application/json"})
        assert raw.status == 400
        assert "exactly one of nonResourceAttributes or resourceAttributes" in json.loads(raw.data)["message"]
        nobody = urllib3.PoolManager().request(
            "POST", f"{cluster.url}/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", body=b"{}")
        assert nobody.status == 401


def test_injected_errors_and_retry_after(sim: SimCluster, core: client.CoreV1Api) -> None:
    sim.faults.update({"fail_next": 2, "error_code": 500, "verbs": ["list"]})
    core.read_namespace("default")  # a get is not affected
    for _ in range(2):
        with pytest.raises(ApiException) as err:
            core.list_namespaced_pod("default")
        assert err.value.status == 500
    core.list_namespaced_pod("default")  # the third answers again
    assert sim.faults.injected == 2

    sim.faults.update({"fail_next": 1, "error_code": 429, "retry_after": 7, "verbs": []})
    raw = urllib3.PoolManager().request("GET", f"{sim.url}/api/v1/nodes", retries=False)
    assert raw.status == 429
    assert raw.headers["Retry-After"] == "7"
    assert json.loads(raw.data)["reason"] == "TooManyRequests"
    # The official client (urllib3 underneath) honours Retry-After and retries a 429 by itself.
    sim.faults.update({"fail_next": 1, "retry_after": 0})
    assert core.list_node().items
    assert sim.faults.injected == 4

    sim.faults.update({"error_rate": 1.0, "error_code": 500, "path_regex": "/configmaps"})
    core.list_namespaced_pod("default")
    with pytest.raises(ApiException):
        core.list_namespaced_config_map("default")


def test_fault_admin_endpoint_and_latency(sim: SimCluster, core: client.CoreV1Api) -> None:
    http = urllib3.PoolManager()
    r = http.request("POST", f"{sim.url}/_chaos/faults", body=json.dumps({"latency_s": 1.0}),
                     headers={"Content-Type": "application/json"})
    assert r.status == 200
    assert json.loads(r.data)["latency_s"] == 1.0
    # The added latency is visible to a client whose read timeout is shorter than it.
    with pytest.raises(urllib3.exceptions.MaxRetryError, match="Read timed out"):
        core.list_node(_request_timeout=(5, 0.2))
    assert http.request("DELETE", f"{sim.url}/_chaos/faults").status == 200
    assert sim.faults.latency_s == 0.0
    assert core.list_node(_request_timeout=(5, 5)).items
    bad = http.request("POST", f"{sim.url}/_chaos/faults", body=b'{"bogus": 1}')
    assert bad.status == 400
