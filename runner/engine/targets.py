"""Which objects a scenario targets: its workload, that workload's pods, the fault's node.

One small set of functions shared by preflight and the step kinds, so "the target pods" means the
same thing everywhere. Read-only: nothing here changes the cluster.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from runner.cluster.protocol import Cluster, KubeObject, ObjectRef
from runner.errors import PreflightError
from runner.scenario.model import Target, WorkloadKind

DYNAMO_API_VERSION = "nvidia.com/v1alpha1"
# Labels the Dynamo operator puts on the pods of a DynamoGraphDeployment and its services.
DYNAMO_GRAPH_LABEL = "nvidia.com/dynamo-graph-deployment-name"
DYNAMO_COMPONENT_LABEL = "nvidia.com/dynamo-component"

_API_VERSIONS = {WorkloadKind.DEPLOYMENT: "apps/v1", WorkloadKind.STATEFULSET: "apps/v1",
                 WorkloadKind.DYNAMO: DYNAMO_API_VERSION}


def workload_ref(target: Target) -> ObjectRef:
    """The workload object a scenario targets."""
    kind = target.workload.kind
    return ObjectRef(_API_VERSIONS[kind], kind.value, target.namespace, target.workload.name)


def selector_of(workload: Mapping[str, Any], target: Target) -> str:
    """The label selector (string form) that picks the workload's pods."""
    if target.workload.kind is WorkloadKind.DYNAMO:
        terms = [f"{DYNAMO_GRAPH_LABEL}={target.workload.name}"]
        if target.workload.services:
            terms.append(f"{DYNAMO_COMPONENT_LABEL} in ({','.join(target.workload.services)})")
        return ",".join(terms)
    sel = workload.get("spec", {}).get("selector") or {}
    terms = [f"{k}={v}" for k, v in sorted((sel.get("matchLabels") or {}).items())]
    for expr in sel.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], expr.get("values") or []
        if op == "In":
            terms.append(f"{key} in ({','.join(values)})")
        elif op == "NotIn":
            terms.append(f"{key} notin ({','.join(values)})")
        elif op == "Exists":
            terms.append(key)
        elif op == "DoesNotExist":
            terms.append(f"!{key}")
    if not terms:
        raise PreflightError(f"{workload_ref(target)} has no pod selector")
    return ",".join(terms)


def desired_replicas(workload: Mapping[str, Any], target: Target, pods: list[KubeObject]) -> int:
    """How many pods the workload wants (Dynamo graphs: the pods that exist)."""
    if target.workload.kind is WorkloadKind.DYNAMO:
        return len(pods)
    replicas = workload.get("spec", {}).get("replicas")
    return 1 if replicas is None else int(replicas)


def target_selector(cluster: Cluster, target: Target) -> str:
    """Read the workload and return its pods' selector; PreflightError when it does not exist."""
    from runner.errors import NotFound

    try:
        workload = cluster.get(workload_ref(target))
    except NotFound:
        raise PreflightError(f"{workload_ref(target)} does not exist") from None
    return selector_of(workload, target)


def target_pods(cluster: Cluster, target: Target, selector: str | None = None) -> list[KubeObject]:
    """The workload's pods that are not terminating, sorted by name."""
    sel = selector if selector is not None else target_selector(cluster, target)
    pods, _ = cluster.list("v1", "Pod", target.namespace, label_selector=sel)
    return [p for p in pods if not p.get("metadata", {}).get("deletionTimestamp")]


def condition_status(obj: Mapping[str, Any], condition: str) -> str:
    """A status condition's status ('True', 'False', 'Unknown'), or '' when absent."""
    for cond in obj.get("status", {}).get("conditions") or []:
        if cond.get("type") == condition:
            return str(cond.get("status", ""))
    return ""


def pod_is_ready(pod: Mapping[str, Any]) -> bool:
    return (pod.get("status", {}).get("phase") == "Running"
            and condition_status(pod, "Ready") == "True"
            and not pod.get("metadata", {}).get("deletionTimestamp"))


def node_is_ready(node: Mapping[str, Any]) -> bool:
    """Ready and schedulable (not cordoned)."""
    return condition_status(node, "Ready") == "True" and not node.get("spec", {}).get("unschedulable")


def node_of(pod: Mapping[str, Any]) -> str:
    return str(pod.get("spec", {}).get("nodeName") or "")


def pick_target_node(cluster: Cluster, target: Target, pods: list[KubeObject]) -> str:
    """`target.node: auto` → the Ready node running the most Ready target pods (ties: by name);
    a named node → that node, which must exist and be Ready. PreflightError otherwise."""
    nodes = {n["metadata"]["name"]: n for n in cluster.list("v1", "Node")[0]}
    if target.node != "auto":
        node = nodes.get(target.node)
        if node is None:
            raise PreflightError(f"target node {target.node} does not exist")
        if not node_is_ready(node):
            raise PreflightError(f"target node {target.node} is not Ready and schedulable")
        return target.node
    counts: dict[str, int] = {}
    for pod in pods:
        name = node_of(pod)
        if pod_is_ready(pod) and name in nodes and node_is_ready(nodes[name]):
            counts[name] = counts.get(name, 0) + 1
    if not counts:
        raise PreflightError(f"no Ready node runs a Ready pod of {workload_ref(target)}")
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[0][0]
