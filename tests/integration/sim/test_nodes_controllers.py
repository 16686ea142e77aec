"""Rollouts, StatefulSet ordinals, garbage collection and the DynamoGraphDeployment controller."""

from __future__ import annotations

from typing import Any

from kubernetes import client

from runner.sim.cluster import SimCluster
from runner.sim.controllers import HASH_LABEL
from runner.sim.dynamo import COMPONENT_LABEL, DGD_LABEL
from runner.sim.resources import DEPLOYMENTS, PODS, REPLICASETS
from tests.integration.sim.nodes_support import deployment, ready_pods, wait_for, worker_container


def sleeper() -> dict[str, Any]:
    return {"containers": [{"name": "main", "image": "busybox", "command": ["sleep", "1000"]}],
            "terminationGracePeriodSeconds": 1}


def test_rolling_update_respects_surge_and_unavailability(gpu_sim: SimCluster) -> None:
    store = gpu_sim.store
    dep = deployment("web", 4, pod_spec=sleeper())
    dep["metadata"]["namespace"] = "default"
    dep["spec"]["strategy"] = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}
    store.create(DEPLOYMENTS, dep)
    wait_for("4 available", lambda: (store.get(DEPLOYMENTS, "default", "web").get("status") or {})
             .get("availableReplicas") == 4, timeout=20)
    seen_max = 0
    seen_min_available = 4

    def observe(type_: str, gvr: Any, obj: dict[str, Any]) -> None:
        nonlocal seen_max, seen_min_available
        if gvr == REPLICASETS:
            rsets, _ = store.list(REPLICASETS, "default")
            seen_max = max(seen_max, sum(int(r["spec"]["replicas"]) for r in rsets))
            available = sum(int((r.get("status") or {}).get("availableReplicas", 0)) for r in rsets)
            seen_min_available = min(seen_min_available, available)

    store.add_listener(observe)
    try:
        store.patch(DEPLOYMENTS, "default", "web", "application/merge-patch+json",
                    {"spec": {"template": {"metadata": {"annotations": {"rev": "2"}}}}})

        def rolled() -> dict[str, Any] | None:
            d = store.get(DEPLOYMENTS, "default", "web")
            st = d.get("status") or {}
            done = st.get("observedGeneration") == d["metadata"]["generation"] and \
                st.get("updatedReplicas") == 4 and st.get("availableReplicas") == 4 and \
                st.get("replicas") == 4
            return d if done else None

        d = wait_for("the rollout to finish", rolled, timeout=40)
    finally:
        store.remove_listener(observe)
    assert seen_max == 5  # replicas + maxSurge, never more
    assert seen_min_available >= 4  # maxUnavailable 0: never fewer than 4 available
    conds = {c["type"]: c for c in d["status"]["conditions"]}
    assert conds["Available"]["status"] == "True"
    assert conds["Progressing"]["reason"] == "NewReplicaSetAvailable"
    rsets, _ = store.list(REPLICASETS, "default")
    assert sorted(int(r["spec"]["replicas"]) for r in rsets) == [0, 4]
    new = next(r for r in rsets if r["spec"]["replicas"] == 4)
    pods, _ = store.list(PODS, "default", label_selector="app=web")
    assert {p["metadata"]["labels"][HASH_LABEL] for p in pods} == {new["metadata"]["labels"][HASH_LABEL]}
    # Owner references: deleting the Deployment collects its ReplicaSets and pods.
    store.delete(DEPLOYMENTS, "default", "web")
    assert store.list(REPLICASETS, "default")[0] == []
    wait_for("pods collected", lambda: not store.list(PODS, "default")[0] or None)


def test_statefulset_creates_ordinals_in_order(kube_api: client.ApiClient) -> None:
    apps, core = client.AppsV1Api(kube_api), client.CoreV1Api(kube_api)
    spec = {"containers": [worker_container()]}
    apps.create_namespaced_stateful_set("default", {
        "metadata": {"name": "db"},
        "spec": {"replicas": 2, "serviceName": "db", "selector": {"matchLabels": {"app": "db"}},
                 "template": {"metadata": {"labels": {"app": "db"}}, "spec": spec}}})
    created_order: list[str] = []

    def both_ready() -> list[Any] | None:
        for p in core.list_namespaced_pod("default", label_selector="app=db").items:
            if p.metadata.name not in created_order:
                created_order.append(p.metadata.name)
        r = ready_pods(core, "default", "app=db")
        return r if len(r) == 2 else None

    pods = wait_for("db-0 and db-1 ready", both_ready, timeout=30)
    assert sorted(p.metadata.name for p in pods) == ["db-0", "db-1"]
    assert created_order == ["db-0", "db-1"]
    sts = wait_for("status", lambda: (lambda s: s if s.status.ready_replicas == 2 else None)(
        apps.read_namespaced_stateful_set("db", "default")))
    assert sts.status.replicas == 2
    apps.patch_namespaced_stateful_set("db", "default", {"spec": {"replicas": 1}})
    wait_for("db-1 removed", lambda: [p.metadata.name for p in core.list_namespaced_pod(
        "default", label_selector="app=db").items] == ["db-0"] or None)


def dgd(replicas: int, image: str = "chaos/cuda-worker:v1") -> dict[str, Any]:
    main = worker_container()
    main.pop("name")
    main.pop("resources")
    main["image"] = image
    return {"apiVersion": "nvidia.com/v1alpha1", "kind": "DynamoGraphDeployment",
            "metadata": {"name": "llm"},
            "spec": {"services": {"VllmDecodeWorker": {
                "componentType": "worker", "replicas": replicas, "resources": {"limits": {"gpu": "1"}},
                "extraPodSpec": {"terminationGracePeriodSeconds": 1, "mainContainer": main}}}}}


def test_dynamo_graph_deployment_becomes_deployments(kube_api: client.ApiClient) -> None:
    custom = client.CustomObjectsApi(kube_api)
    apps, core = client.AppsV1Api(kube_api), client.CoreV1Api(kube_api)
    group, version, plural = "nvidia.com", "v1alpha1", "dynamographdeployments"
    custom.create_namespaced_custom_object(group, version, "default", plural, dgd(2))
    dep = wait_for("the Deployment",
                   lambda: next(iter(apps.list_namespaced_deployment("default").items), None))
    assert dep.metadata.name == "llm-vllmdecodeworker"
    assert dep.metadata.owner_references[0].kind == "DynamoGraphDeployment"
    assert dep.spec.selector.match_labels == {DGD_LABEL: "llm", COMPONENT_LABEL: "VllmDecodeWorker"}
    container = dep.spec.template.spec.containers[0]
    assert container.name == "main"
    assert container.resources.limits == {"nvidia.com/gpu": "1"}
    assert dep.spec.template.spec.termination_grace_period_seconds == 1

    def state() -> str:
        obj = custom.get_namespaced_custom_object(group, version, "default", plural, "llm")
        return str((obj.get("status") or {}).get("state", ""))

    wait_for("state successful", lambda: state() == "successful" or None, timeout=30)
    assert len(ready_pods(core, "default", f"{DGD_LABEL}=llm")) == 2
    # Patching the DGD rolls the workers.
    custom.patch_namespaced_custom_object(group, version, "default", plural, "llm", {
        "spec": {"services": {"VllmDecodeWorker": {"replicas": 1, "extraPodSpec": {
            "mainContainer": {"env": [{"name": "GENERATION", "value": "2"}]}}}}}})
    wait_for("one rolled worker", lambda: (lambda pods: (len(pods) == 1 and any(
        e.name == "GENERATION" for e in pods[0].spec.containers[0].env or [])) or None)(
        core.list_namespaced_pod("default", label_selector=f"{DGD_LABEL}=llm").items), timeout=30)
    wait_for("state successful again", lambda: state() == "successful" or None, timeout=30)
    custom.delete_namespaced_custom_object(group, version, "default", plural, "llm")
    wait_for("everything collected", lambda: (not core.list_namespaced_pod("default").items
             and not apps.list_namespaced_deployment("default").items) or None, timeout=20)
