"""Typed views over API dicts and the workload template table."""

from __future__ import annotations

import pytest

from runner.errors import StepError
from runner.scenario.model import WorkloadKind
from runner.workload.kinds import desired_replicas, templates
from runner.workload.views import field_value, matches_where, node_view, pod_view

POD = {
    "metadata": {"name": "w-0", "namespace": "ns", "labels": {"app": "w", "chaos.dev/run-id": "r1"},
                 "ownerReferences": [{"kind": "ReplicaSet", "name": "w-abc", "controller": True}]},
    "spec": {"nodeName": "n1"},
    "status": {"phase": "Running", "podIP": "10.1.0.4",
               "conditions": [{"type": "Ready", "status": "False"}],
               "containerStatuses": [
                   {"name": "main", "ready": False, "restartCount": 3,
                    "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                    "lastState": {"terminated": {"exitCode": 1, "reason": "Error"}}},
                   {"name": "side", "ready": True, "restartCount": 1, "state": {"running": {}}}]},
}


def test_pod_view() -> None:
    v = pod_view(POD)
    assert (v.name, v.namespace, v.node, v.phase, v.ready, v.restarts) == ("w-0", "ns", "n1", "Running",
                                                                           False, 4)
    main = v.containers[0]
    assert (main.state, main.reason, main.last_exit_code, main.last_reason) == (
        "waiting", "CrashLoopBackOff", 1, "Error")
    assert (v.owner_kind, v.owner_name, v.deleting, v.ip, v.crashed) == ("ReplicaSet", "w-abc", False,
                                                                         "10.1.0.4", True)
    assert v.summary() == {"name": "w-0", "node": "n1", "phase": "Running", "ready": False, "restarts": 4}


def test_node_view() -> None:
    v = node_view({"metadata": {"name": "n1", "labels": {"a": "b"}}, "spec": {"unschedulable": True},
                   "status": {"allocatable": {"nvidia.com/gpu": "8"},
                              "conditions": [{"type": "Ready", "status": "True"},
                                             {"type": "GpuXidError", "status": "True"}]}})
    assert (v.name, v.unschedulable, v.ready, v.gpus) == ("n1", True, True, 8)
    assert dict(v.conditions) == {"Ready": "True", "GpuXidError": "True"}


def test_field_paths_and_where() -> None:
    assert field_value(POD, "metadata.labels.chaos.dev/run-id") == "r1"
    assert field_value(POD, "spec.nodeName") == "n1"
    assert field_value(POD, "spec.missing") is None
    assert matches_where(POD, {"status.phase": "Running", "spec.unschedulable": "false"})
    assert not matches_where(POD, {"status.phase": "Pending"})


DEPLOY = {"metadata": {"name": "w"}, "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "w"}},
                                               "template": {"spec": {"containers": [{"name": "a"},
                                                                                    {"name": "b"}]}}}}
DGD = {"metadata": {"name": "g"}, "spec": {"services": {
    "Frontend": {"extraPodSpec": {"mainContainer": {"image": "f"}}},
    "Worker/x": {"replicas": 2, "extraPodSpec": {"mainContainer": {"image": "w"}}}}}}


def test_deployment_and_statefulset_templates() -> None:
    for kind in (WorkloadKind.DEPLOYMENT, WorkloadKind.STATEFULSET):
        (loc,) = templates(kind, DEPLOY)
        assert loc.restore == "/spec/template"
        assert loc.pod_spec == "/spec/template/spec"
        assert loc.containers == ("/spec/template/spec/containers/0", "/spec/template/spec/containers/1")
        assert loc.container_names == ("a", "b")
        assert loc.selector == "app=w"
        assert desired_replicas(kind, DEPLOY) == 3


def test_dynamo_templates_one_per_service() -> None:
    locs = templates(WorkloadKind.DYNAMO, DGD)
    assert [loc.unit for loc in locs] == ["Frontend", "Worker/x"]
    worker = locs[1]
    assert worker.restore == "/spec/services/Worker~1x"
    assert worker.containers == ("/spec/services/Worker~1x/extraPodSpec/mainContainer",)
    assert worker.selector == ("nvidia.com/dynamo-graph-deployment-name=g,"
                               "nvidia.com/dynamo-component=Worker/x")
    assert desired_replicas(WorkloadKind.DYNAMO, DGD) == 3
    assert desired_replicas(WorkloadKind.DYNAMO, DGD, ["Worker/x"]) == 2
    with pytest.raises(StepError, match="no service Nope"):
        templates(WorkloadKind.DYNAMO, DGD, ["Nope"])
