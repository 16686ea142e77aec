"""Workload facts have one answer each: desired replicas, readiness, selectors, apiVersions."""

from __future__ import annotations

from typing import Any

import pytest

from runner.engine.preflight import preflight
from runner.errors import PreflightError
from runner.kernel.clock import FakeClock
from runner.scenario.model import (
    Fault,
    Guardrails,
    Metadata,
    Scenario,
    Settings,
    Target,
    WorkloadKind,
    WorkloadRef,
)
from runner.workload.kinds import (
    DYNAMO_COMPONENT_LABEL,
    DYNAMO_GRAPH_LABEL,
    SHAPES,
    desired_replicas,
    selector_of,
    workload_ref,
)
from runner.workload.views import node_accepts_pods, node_is_ready, node_view, pod_is_ready, pod_view
from tests.fakes.cluster import FakeCluster

NS = "dynamo"


def graph(worker_replicas: int) -> dict[str, Any]:
    return {"apiVersion": "nvidia.com/v1alpha1", "kind": "DynamoGraphDeployment",
            "metadata": {"name": "g", "namespace": NS},
            "spec": {"services": {
                "Frontend": {"replicas": 1, "extraPodSpec": {"mainContainer": {"image": "f"}}},
                "VllmWorker": {"replicas": worker_replicas,
                               "extraPodSpec": {"mainContainer": {"image": "w"}}}}}}


def scenario(services: tuple[str, ...] = ("VllmWorker",), allow_last: bool = True) -> Scenario:
    return Scenario(Metadata("dgd"), Target(NS, WorkloadRef(WorkloadKind.DYNAMO, "g", services)),
                    Fault(), Settings(guardrails=Guardrails(allow_last_replica=allow_last)), ())


def dgd_cluster(worker_replicas: int, worker_pods: int) -> FakeCluster:
    cluster = FakeCluster(clock=FakeClock())
    for node in ("n1", "n2"):
        cluster.add_node(node)
    cluster.add_namespace(NS)
    cluster.put(graph(worker_replicas))
    labels = {DYNAMO_GRAPH_LABEL: "g"}
    cluster.add_pod("g-frontend-0", NS, node="n1", labels={**labels, DYNAMO_COMPONENT_LABEL: "Frontend"})
    for i in range(worker_pods):
        cluster.add_pod(f"g-worker-{i}", NS, node=f"n{i % 2 + 1}",
                        labels={**labels, DYNAMO_COMPONENT_LABEL: "VllmWorker"})
    return cluster


def test_dynamo_desired_replicas_are_the_services_counts_not_the_pods_that_exist() -> None:
    """Two workers wanted, one exists: the graph is not healthy, so preflight refuses (it used to
    count the pods, call 1/1 healthy, and let the fault take the only worker)."""
    cluster = dgd_cluster(worker_replicas=2, worker_pods=1)
    with pytest.raises(PreflightError, match=r"not healthy before the fault: 1/2 pods Ready"):
        preflight(cluster, scenario())
    report = preflight(dgd_cluster(worker_replicas=2, worker_pods=2), scenario())
    assert (report.desired, report.ready) == (2, 2)


def test_desired_replicas_is_one_rule_for_every_kind() -> None:
    assert desired_replicas(WorkloadKind.DYNAMO, graph(3), ("VllmWorker",)) == 3
    assert desired_replicas(WorkloadKind.DYNAMO, graph(3)) == 4  # every service when none named
    deployment = {"spec": {"replicas": 5, "template": {"spec": {"containers": []}}}}
    assert desired_replicas(WorkloadKind.DEPLOYMENT, deployment) == 5
    assert desired_replicas(WorkloadKind.STATEFULSET, {"spec": {"template": {}}}) == 1  # API default


def test_a_named_service_the_graph_lacks_is_a_preflight_refusal() -> None:
    with pytest.raises(PreflightError, match="has no service Decode"):
        preflight(dgd_cluster(1, 1), scenario(services=("Decode",)))


def test_one_api_version_table() -> None:
    target = scenario().target
    assert workload_ref(target).api_version == SHAPES[WorkloadKind.DYNAMO].api_version
    assert SHAPES[WorkloadKind.DYNAMO].api_version == "nvidia.com/v1alpha1"
    assert selector_of(graph(1), target) == (f"{DYNAMO_GRAPH_LABEL}=g,"
                                             f"{DYNAMO_COMPONENT_LABEL} in (VllmWorker)")


def test_readiness_is_named_for_what_it_means() -> None:
    cluster = FakeCluster(clock=FakeClock())
    cluster.add_node("ready")
    cluster.add_node("cordoned", unschedulable=True)
    cluster.add_node("down", ready=False)
    nodes = {n["metadata"]["name"]: n for n in cluster.objects("Node")}
    assert [node_is_ready(nodes[n]) for n in ("ready", "cordoned", "down")] == [True, True, False]
    assert [node_accepts_pods(nodes[n]) for n in ("ready", "cordoned", "down")] == [True, False, False]
    assert node_view(nodes["cordoned"]).ready is True  # the view says Ready, like kubectl
    cluster.add_namespace("ns")
    pod = cluster.add_pod("p", "ns", node="ready")
    assert pod_is_ready(pod) is pod_view(pod).ready is True
    pod["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    assert pod_is_ready(pod) is False  # a terminating pod serves nothing
