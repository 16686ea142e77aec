"""The environment the kubelet builds for a container: the downward API, `$(VAR)` expansion in later
env values and in command/args, ConfigMap references and what a missing one does (real kubelet:
the container waits in CreateContainerConfigError until it exists)."""

from __future__ import annotations

from kubernetes import client

from runner.sim.cluster import SimCluster
from runner.sim.kubelet import expand, quantity, resource_value
from tests.integration.sim.nodes_support import wait_for


def test_expansion_follows_kubernetes() -> None:
    env = {"A": "1", "B": "two"}
    assert expand("$(A)-$(B)", env) == "1-two"
    assert expand("$(MISSING) $$(A) $$ $A $(A", env) == "$(MISSING) $(A) $ $A $(A"
    assert expand("cost: 5$", env) == "cost: 5$"
    assert quantity("500m") * 2 == 1
    assert resource_value({"resources": {"limits": {"memory": "2Gi"}}},
                          {"resource": "limits.memory", "divisor": "1Mi"}) == "2048"
    assert resource_value({"resources": {"requests": {"cpu": "250m"}}}, {"resource": "requests.cpu"}) == "1"
    assert resource_value({}, {"resource": "limits.cpu"}) == "64"  # unset: the node's allocatable


def test_downward_api_expansion_and_configmap_refs(gpu_sim: SimCluster, kube_api: client.ApiClient) -> None:
    core = client.CoreV1Api(kube_api)
    env = [
        {"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
        {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        {"name": "NS", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
        {"name": "IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
        {"name": "TEAM", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['team']"}}},
        {"name": "MEM_MI", "valueFrom": {"resourceFieldRef": {"resource": "limits.memory",
                                                               "divisor": "1Mi"}}},
        {"name": "MODEL", "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "model"}}},
        {"name": "OPT", "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "nope",
                                                          "optional": True}}},
        {"name": "WHERE", "value": "$(POD)@$(NODE)/$(NS) ip=$(IP) $$(POD) $(LATER)"},
        {"name": "LATER", "value": "late"},
    ]
    meta = {"name": "envy", "labels": {"team": "infra"}}
    core.create_namespaced_pod("default", {"metadata": meta, "spec": {
        "restartPolicy": "Never",
        "containers": [{"name": "main", "image": "busybox", "env": env, "envFrom": [
            {"configMapRef": {"name": "settings"}, "prefix": "CFG_"}],
            "resources": {"limits": {"memory": "512Mi"}},
            "command": ["sh", "-c"],
            "args": ['echo "$WHERE|$TEAM|$MEM_MI|$MODEL|${OPT-unset}|$CFG_model|$(MODEL)|$$TEAM"']}]}})

    def waiting() -> str | None:
        st = core.read_namespaced_pod("envy", "default").status.container_statuses
        w = st[0].state.waiting if st else None
        return w.message if w is not None and w.reason == "CreateContainerConfigError" else None

    assert wait_for("CreateContainerConfigError", waiting, timeout=10) == 'configmap "settings" not found'
    core.create_namespaced_config_map("default", {"metadata": {"name": "settings"},
                                                  "data": {"model": "llama"}})
    pod = wait_for("the pod to finish", lambda: (lambda p: p if p.status.phase == "Succeeded" else None)(
        core.read_namespaced_pod("envy", "default")), timeout=30)
    node = pod.spec.node_name
    out = core.read_namespaced_pod_log("envy", "default").strip()
    assert out == f"envy@{node}/default ip=127.0.0.1 $(POD) $(LATER)|infra|512|llama|unset|llama|llama|infra"
