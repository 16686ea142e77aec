"""Pod Security admission as a real API server enforces it: namespace labels choose the levels, pods
that break `enforce` are refused with the real message, `warn` answers a Warning header kubectl
prints, workloads are admitted with a warning and their controllers record FailedCreate."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import urllib3
from kubernetes import client
from kubernetes.client.rest import ApiException

from runner.sim.cluster import SimCluster
from runner.sim.controllers import DeploymentController, ReplicaSetController, StatefulSetController
from tests.integration.sim.conftest import api_client, wait_for
from tests.integration.sim.test_sim_leases import kubectl

PSA = "pod-security.kubernetes.io/"
RESTRICTED_SC = {"allowPrivilegeEscalation": False, "runAsNonRoot": True,
                 "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"}}


@pytest.fixture
def controllers(sim: SimCluster) -> SimCluster:
    for c in (DeploymentController(sim.store), ReplicaSetController(sim.store),
              StatefulSetController(sim.store)):
        sim.add_component(c)
    return sim


def namespace(core: client.CoreV1Api, name: str, **labels: str) -> None:
    core.create_namespace({"metadata": {"name": name, "labels": {PSA + k.replace("_", "-"): v
                                                                   for k, v in labels.items()}}})


def pod(name: str, container: dict[str, Any] | None = None, **spec: Any) -> dict[str, Any]:
    c = {"name": "c", "image": "busybox", **(container or {})}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"containers": [c], **spec}}


def message(exc: ApiException) -> str:
    body = json.loads(exc.body)
    assert body["kind"] == "Status"
    return str(body["message"])


def test_restricted_enforce_refuses_with_the_real_message(core: client.CoreV1Api) -> None:
    namespace(core, "locked", enforce="restricted")
    bad = pod("p", {"securityContext": {"privileged": True},
                    "volumeMounts": [{"name": "x", "mountPath": "/x"}]},
              volumes=[{"name": "x", "hostPath": {"path": "/tmp"}}])
    with pytest.raises(ApiException) as refused:
        core.create_namespaced_pod("locked", bad)
    assert refused.value.status == 403
    body = json.loads(refused.value.body)
    assert body["reason"] == "Forbidden"
    assert body["details"] == {"name": "p", "kind": "pods"}
    assert body["message"] == (
        'pods "p" is forbidden: violates PodSecurity "restricted:latest": '
        'privileged (container "c" must not set securityContext.privileged=true), '
        'allowPrivilegeEscalation != false (container "c" must set '
        'securityContext.allowPrivilegeEscalation=false), '
        'unrestricted capabilities (container "c" must set securityContext.capabilities.drop=["ALL"]), '
        'restricted volume types (volume "x" uses restricted volume type "hostPath"), '
        'runAsNonRoot != true (pod or container "c" must set securityContext.runAsNonRoot=true), '
        'seccompProfile (pod or container "c" must set securityContext.seccompProfile.type to '
        '"RuntimeDefault" or "Localhost")')
    with pytest.raises(ApiException) as dry:  # a dry run is admitted (or not) the same way
        core.create_namespaced_pod("locked", bad, dry_run="All")
    assert dry.value.status == 403
    ok = pod("ok", {"securityContext": dict(RESTRICTED_SC)},
             volumes=[{"name": "cfg", "configMap": {"name": "c"}}, {"name": "tmp", "emptyDir": {}}])
    assert core.create_namespaced_pod("locked", ok).metadata.name == "ok"
    # pod-level settings cover the containers; NET_BIND_SERVICE may be added
    pod_level = pod("pod-level", {"securityContext": {"allowPrivilegeEscalation": False, "capabilities": {
        "drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}}},
        securityContext={"runAsNonRoot": True, "seccompProfile": {"type": "Localhost",
                                                                  "localhostProfile": "p.json"}})
    core.create_namespaced_pod("locked", pod_level)
    assert core.create_namespaced_pod("default", bad).metadata.name == "p"  # unlabelled: privileged


def test_baseline_checks(core: client.CoreV1Api) -> None:
    namespace(core, "base", enforce="baseline")
    bad = pod("b", {"ports": [{"containerPort": 80, "hostPort": 8080}],
                    "securityContext": {"capabilities": {"add": ["SYS_ADMIN", "CHOWN", "NET_RAW"]},
                                        "procMount": "Unmasked", "seccompProfile": {"type": "Unconfined"},
                                        "seLinuxOptions": {"type": "spc_t"},
                                        "appArmorProfile": {"type": "Unconfined"}}},
              hostNetwork=True, hostPID=True,
              securityContext={"sysctls": [{"name": "kernel.msgmax", "value": "1"},
                                           {"name": "net.ipv4.tcp_syncookies", "value": "1"}],
                               "windowsOptions": {"hostProcess": True}},
              volumes=[{"name": "h", "hostPath": {"path": "/"}},
                       {"name": "n", "nfs": {"server": "s", "path": "/"}}])
    with pytest.raises(ApiException) as refused:
        core.create_namespaced_pod("base", bad)
    assert message(refused.value) == (
        'pods "b" is forbidden: violates PodSecurity "baseline:latest": '
        'forbidden AppArmor profile (container "c" must not set AppArmor profile type to "Unconfined"), '
        'non-default capabilities (container "c" must not include "NET_RAW", "SYS_ADMIN" in '
        "securityContext.capabilities.add), "
        "host namespaces (hostNetwork=true, hostPID=true), "
        'hostPath volumes (volume "h"), '
        'hostPort (container "c" uses hostPort 8080), '
        'procMount (container "c" must not set securityContext.procMount to "Unmasked"), '
        'seLinuxOptions (container "c" set forbidden securityContext.seLinuxOptions: type "spc_t"), '
        'seccompProfile (container "c" must not set securityContext.seccompProfile.type to "Unconfined"), '
        "forbidden sysctls (kernel.msgmax), "
        "hostProcess (pod must not set securityContext.windowsOptions.hostProcess=true)")
    # baseline allows root, the default capabilities and no securityContext at all
    core.create_namespaced_pod("base", pod("root", {"securityContext": {"runAsUser": 0, "capabilities": {
        "add": ["CHOWN", "NET_BIND_SERVICE"]}}}))


def test_versions_and_invalid_labels(core: client.CoreV1Api) -> None:
    namespace(core, "old", enforce="restricted", enforce_version="v1.21")
    with pytest.raises(ApiException) as refused:
        core.create_namespaced_pod("old", pod("p", {"securityContext": {"allowPrivilegeEscalation": False,
                                                                        "runAsNonRoot": True}}))
    # v1.21 had no capabilities check yet; seccomp came in v1.19
    assert message(refused.value) == (
        'pods "p" is forbidden: violates PodSecurity "restricted:v1.21": seccompProfile '
        '(pod or container "c" must set securityContext.seccompProfile.type to '
        '"RuntimeDefault" or "Localhost")')
    with pytest.raises(ApiException) as invalid:
        namespace(core, "bad", enforce="strict")
    assert invalid.value.status == 422
    assert message(invalid.value) == (
        'namespaces "bad" is invalid: metadata.labels[pod-security.kubernetes.io/enforce]: Invalid value: '
        '"strict": must be one of privileged, baseline, restricted')
    with pytest.raises(ApiException) as bad_version:
        core.patch_namespace("default", {"metadata": {"labels": {PSA + "warn-version": "1.30"}}})
    assert bad_version.value.status == 422
    assert "must be \"latest\" or \"v1.x\"" in message(bad_version.value)


def test_warn_level_answers_a_warning_header(sim: SimCluster, core: client.CoreV1Api, tmp_path: Path) -> None:
    namespace(core, "soft", enforce="baseline", warn="restricted")
    http = urllib3.PoolManager()
    r = http.request("POST", f"{sim.url}/api/v1/namespaces/soft/pods", body=json.dumps(pod("w")),
                     headers={"Content-Type": "application/json"})
    assert r.status == 201
    assert r.headers["Warning"] == (
        '299 - "would violate PodSecurity \\"restricted:latest\\": allowPrivilegeEscalation != false '
        '(container \\"c\\" must set securityContext.allowPrivilegeEscalation=false), '
        'unrestricted capabilities (container \\"c\\" must set '
        'securityContext.capabilities.drop=[\\"ALL\\"]), runAsNonRoot != true '
        '(pod or container \\"c\\" must set securityContext.runAsNonRoot=true), '
        'seccompProfile (pod or container \\"c\\" must set securityContext.seccompProfile.type to '
        '\\"RuntimeDefault\\" or \\"Localhost\\")"')
    manifest = tmp_path / "pod.json"
    manifest.write_text(json.dumps({**pod("k"), "metadata": {"name": "k", "namespace": "soft"}}))
    res = kubectl(sim, tmp_path, "apply", "-f", str(manifest))
    assert "pod/k created" in res.stdout
    assert ('Warning: would violate PodSecurity "restricted:latest": '
            "allowPrivilegeEscalation != false") in res.stderr
    manifest.write_text(json.dumps({**pod("k2", {"securityContext": {"privileged": True}}),
                                    "metadata": {"name": "k2", "namespace": "soft"}}))
    res = kubectl(sim, tmp_path, "apply", "-f", str(manifest), check=False)
    assert res.returncode != 0
    assert 'Error from server (Forbidden): error when creating "' in res.stderr
    assert ('pods "k2" is forbidden: violates PodSecurity "baseline:latest": privileged '
            '(container "c" must not set securityContext.privileged=true)') in res.stderr


def test_relabelling_a_namespace_warns_about_existing_pods(sim: SimCluster, core: client.CoreV1Api) -> None:
    core.create_namespace({"metadata": {"name": "apps"}})
    for name in ("a", "b"):
        core.create_namespaced_pod("apps", pod(name, {"securityContext": {"privileged": True}}))
    r = urllib3.PoolManager().request(
        "PATCH", f"{sim.url}/api/v1/namespaces/apps", body=json.dumps({"metadata": {"labels": {
            PSA + "enforce": "baseline"}}}), headers={"Content-Type": "application/merge-patch+json"})
    assert r.status == 200
    assert r.headers.getlist("Warning") == [
        '299 - "existing pods in namespace \\"apps\\" violate the new PodSecurity enforce level '
        '\\"baseline:latest\\""', '299 - "a (and 1 other pods): privileged"']
    assert len(core.list_namespaced_pod("apps").items) == 2  # never evicted


def test_controllers_record_failed_create(controllers: SimCluster, tmp_path: Path) -> None:
    api = api_client(controllers, tmp_path / "kc")
    core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
    namespace(core, "locked", enforce="restricted")
    labels = {"app": "web"}
    template = {"metadata": {"labels": labels}, "spec": {"containers": [{"name": "web", "image": "nginx"}]}}
    dep = {"metadata": {"name": "web"}, "spec": {"replicas": 1, "selector": {"matchLabels": labels},
                                                 "template": template}}
    r = urllib3.PoolManager().request("POST", f"{controllers.url}/apis/apps/v1/namespaces/locked/deployments",
                                      body=json.dumps(dep), headers={"Content-Type": "application/json"})
    assert r.status == 201  # admission checks pods: the Deployment itself is admitted, with a warning
    assert r.headers["Warning"].startswith('299 - "would violate PodSecurity \\"restricted:latest\\": '
                                           "allowPrivilegeEscalation != false")

    def failed_create() -> list[Any]:
        return [e for e in core.list_namespaced_event("locked").items if e.reason == "FailedCreate"]

    events = wait_for(failed_create, what="a FailedCreate event")
    rs_event = events[0]
    assert rs_event.type == "Warning"
    assert rs_event.involved_object.kind == "ReplicaSet"
    assert rs_event.source.component == "replicaset-controller"
    assert rs_event.message.startswith('Error creating: pods "web-')
    assert ' is forbidden: violates PodSecurity "restricted:latest": allowPrivilegeEscalation != false ' \
           '(container "web" must set securityContext.allowPrivilegeEscalation=false)' in rs_event.message
    assert core.list_namespaced_pod("locked").items == []

    def replica_failure() -> Any:
        conds = apps.read_namespaced_deployment("web", "locked").status.conditions or []
        return next((c for c in conds if c.type == "ReplicaFailure"), None)

    cond = wait_for(replica_failure, what="the Deployment's ReplicaFailure condition")
    assert (cond.status, cond.reason) == ("True", "FailedCreate")
    assert "violates PodSecurity" in cond.message
    # Fixing the template lets the controller create the pod, and the failure condition goes.
    fixed = {"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "nginx",
                                                            "securityContext": RESTRICTED_SC}]}}}}
    apps.patch_namespaced_deployment("web", "locked", fixed)
    fresh = wait_for(lambda: core.list_namespaced_pod("locked").items, what="the compliant pod")[0]
    # play the kubelet: once the new pod is Ready the old ReplicaSet is scaled to 0 and stops failing
    core.patch_namespaced_pod_status(fresh.metadata.name, "locked", {"status": {
        "phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}})
    wait_for(lambda: replica_failure() is None, what="ReplicaFailure to clear")

    sts = {"metadata": {"name": "db"}, "spec": {"replicas": 1, "serviceName": "db",
                                                "selector": {"matchLabels": {"app": "db"}},
                                                "template": {"metadata": {"labels": {"app": "db"}},
                                                             "spec": {"containers": [{"name": "db",
                                                                                      "image": "pg"}]}}}}
    apps.create_namespaced_stateful_set("locked", sts)
    sts_event = wait_for(lambda: [e for e in failed_create() if e.involved_object.kind == "StatefulSet"],
                         what="the StatefulSet's FailedCreate")[0]
    assert sts_event.message.startswith('create Pod db-0 in StatefulSet db failed error: pods "db-0" is '
                                        'forbidden: violates PodSecurity "restricted:latest": ')
    api.close()
