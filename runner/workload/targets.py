"""Which objects a scenario targets on a live cluster: its workload, that workload's pods, the
fault's node.

Why it exists: preflight and every step kind must mean the same thing by "the target pods" and
"a node running the workload". Read-only: nothing here changes the cluster.
"""

from __future__ import annotations

from runner.cluster.protocol import Cluster, KubeObject
from runner.errors import NotFound, PreflightError
from runner.scenario.model import AUTO_NODE, Target
from runner.workload.kinds import selector_of, workload_ref
from runner.workload.views import node_accepts_pods, node_of, pod_is_ready


def read_workload(cluster: Cluster, target: Target) -> KubeObject:
    """The targeted workload; PreflightError when it does not exist."""
    try:
        return cluster.get(workload_ref(target))
    except NotFound:
        raise PreflightError(f"{workload_ref(target)} does not exist") from None


def read_selector(cluster: Cluster, target: Target) -> str:
    """Read the workload and return its pods' selector (preflight does this once per run)."""
    return selector_of(read_workload(cluster, target), target)


def target_pods(cluster: Cluster, target: Target, selector: str) -> list[KubeObject]:
    """The workload's pods that are not terminating, sorted by name."""
    return target_pods_at(cluster, target, selector)[0]


def target_pods_at(cluster: Cluster, target: Target, selector: str) -> tuple[list[KubeObject], str]:
    """`target_pods` and the resourceVersion they were read at (a watch from it misses nothing
    that happened to them afterwards)."""
    pods, version = cluster.list("v1", "Pod", target.namespace, label_selector=selector)
    live = [p for p in pods if not p.get("metadata", {}).get("deletionTimestamp")]
    return sorted(live, key=lambda p: str(p.get("metadata", {}).get("name", ""))), version


def ready_pods_by_node(pods: list[KubeObject]) -> dict[str, int]:
    """How many Ready pods each node runs."""
    counts: dict[str, int] = {}
    for pod in pods:
        if pod_is_ready(pod) and node_of(pod):
            counts[node_of(pod)] = counts.get(node_of(pod), 0) + 1
    return counts


def pick_target_node(cluster: Cluster, target: Target, pods: list[KubeObject]) -> str:
    """`target.node: auto` -> the node accepting pods that runs the most Ready target pods (ties:
    by name); a named node -> that node, which must exist and accept pods. PreflightError otherwise."""
    nodes = {n["metadata"]["name"]: n for n in cluster.list("v1", "Node")[0]}
    if target.node != AUTO_NODE:
        node = nodes.get(target.node)
        if node is None:
            raise PreflightError(f"target node {target.node} does not exist")
        if not node_accepts_pods(node):
            raise PreflightError(f"target node {target.node} is not Ready and schedulable")
        return target.node
    counts = {name: n for name, n in ready_pods_by_node(pods).items()
              if name in nodes and node_accepts_pods(nodes[name])}
    if not counts:
        raise PreflightError(f"no Ready node runs a Ready pod of {workload_ref(target)}")
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[0][0]
