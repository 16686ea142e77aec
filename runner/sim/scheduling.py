"""The embedded cluster's scheduler: binds pending pods to nodes, as kube-scheduler's filters do.

Filters: node Ready, `spec.unschedulable` (cordon; tolerable through the
`node.kubernetes.io/unschedulable` taint, as in Kubernetes), nodeSelector, required node affinity
(matchExpressions In/NotIn/Exists/DoesNotExist/Gt/Lt on labels, matchFields on metadata.name),
NoSchedule/NoExecute taints against tolerations, and `nvidia.com/gpu` requests against allocatable
counting every bound pod that has not terminated. Score: preferred node affinity weights, then the
fewest GPUs in use (spreading), then the name. A pod that fits nowhere stays Pending with
`PodScheduled=False/Unschedulable` and a `FailedScheduling` event, as on a real cluster.
Not simulated: NoExecute eviction, pod (anti-)affinity, topology spread, CPU/memory fit, preemption.
The predicates are pure functions (unit-testable); it must not run pods.
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any

from runner.errors import ClusterError, NotFound
from runner.sim import events
from runner.sim.loop import Loop
from runner.sim.nodes import GPU, gpu_capacity, is_ready
from runner.sim.podstatus import set_condition
from runner.sim.resources import NODES, PODS
from runner.sim.store import Obj, Store

log = logging.getLogger(__name__)

COMPONENT = "default-scheduler"
UNSCHEDULABLE_TAINT = {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}


def _qty(value: Any) -> int:
    try:
        return int(str(value))
    except ValueError:
        return 0


def container_gpus(c: Obj) -> int:
    """GPUs one container asks for (extended resources: the limit, or the request)."""
    res = c.get("resources") or {}
    return max(_qty((res.get("limits") or {}).get(GPU, 0)), _qty((res.get("requests") or {}).get(GPU, 0)))


def gpu_request(pod: Obj) -> int:
    """GPUs a pod needs: the larger of its containers' sum and its largest init container."""
    spec = pod.get("spec") or {}
    main = sum(container_gpus(c) for c in spec.get("containers") or [])
    init = max((container_gpus(c) for c in spec.get("initContainers") or []), default=0)
    return max(main, init)


def holds_resources(pod: Obj) -> bool:
    """A bound pod holds its node's resources until it has terminated."""
    return bool((pod.get("spec") or {}).get("nodeName")) and \
        (pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed")


def _expr_matches(expr: Obj, values_of: dict[str, str]) -> bool:
    key = str(expr.get("key", ""))
    op = expr.get("operator")
    values = [str(v) for v in expr.get("values") or []]
    present = key in values_of
    value = values_of.get(key)
    if op == "In":
        return present and value in values
    if op == "NotIn":
        return not present or value not in values
    if op == "Exists":
        return present
    if op == "DoesNotExist":
        return not present
    if op in ("Gt", "Lt") and present and values:
        try:
            have, want = int(str(value)), int(values[0])
        except ValueError:
            return False
        return have > want if op == "Gt" else have < want
    return False


def term_matches(term: Obj, node: Obj) -> bool:
    """One NodeSelectorTerm: all its matchExpressions (labels) and matchFields (metadata.name)."""
    labels = node["metadata"].get("labels") or {}
    fields = {"metadata.name": node["metadata"]["name"]}
    exprs = term.get("matchExpressions") or []
    field_exprs = term.get("matchFields") or []
    if not exprs and not field_exprs:
        return False  # an empty term matches nothing, as in Kubernetes
    return all(_expr_matches(e, labels) for e in exprs) and all(_expr_matches(e, fields) for e in field_exprs)


def _node_affinity(pod: Obj) -> Obj:
    return ((pod.get("spec") or {}).get("affinity") or {}).get("nodeAffinity") or {}


def selector_matches(pod: Obj, node: Obj) -> bool:
    """nodeSelector and required node affinity (terms ORed)."""
    labels = node["metadata"].get("labels") or {}
    for key, value in ((pod.get("spec") or {}).get("nodeSelector") or {}).items():
        if labels.get(key) != value:
            return False
    required = _node_affinity(pod).get("requiredDuringSchedulingIgnoredDuringExecution")
    if required:
        return any(term_matches(t, node) for t in required.get("nodeSelectorTerms") or [])
    return True


def preferred_score(pod: Obj, node: Obj) -> int:
    return sum(int(p.get("weight", 0)) for p in
               _node_affinity(pod).get("preferredDuringSchedulingIgnoredDuringExecution") or []
               if term_matches(p.get("preference") or {}, node))


def tolerates(tolerations: list[Obj], taint: Obj) -> bool:
    for tol in tolerations:
        if tol.get("effect") and tol.get("effect") != taint.get("effect"):
            continue
        op = tol.get("operator") or "Equal"
        if op == "Exists":
            if not tol.get("key") or tol.get("key") == taint.get("key"):
                return True
        elif tol.get("key") == taint.get("key") and (tol.get("value") or "") == (taint.get("value") or ""):
            return True
    return False


def untolerated_taint(pod: Obj, node: Obj) -> Obj | None:
    tolerations = (pod.get("spec") or {}).get("tolerations") or []
    for taint in (node.get("spec") or {}).get("taints") or []:
        if taint.get("effect") in ("NoSchedule", "NoExecute") and not tolerates(tolerations, taint):
            return dict(taint)
    return None


def misfit(pod: Obj, node: Obj, gpus_used: int) -> str | None:
    """Why `pod` cannot go on `node` (the phrase kube-scheduler uses), or None when it fits."""
    tolerations = (pod.get("spec") or {}).get("tolerations") or []
    if not is_ready(node):
        return "node(s) were not ready"
    if (node.get("spec") or {}).get("unschedulable") and not tolerates(tolerations, UNSCHEDULABLE_TAINT):
        return "node(s) were unschedulable"
    if not selector_matches(pod, node):
        return "node(s) didn't match Pod's node affinity/selector"
    taint = untolerated_taint(pod, node)
    if taint is not None:
        return f"node(s) had untolerated taint {{{taint.get('key')}: {taint.get('value', '')}}}"
    want = gpu_request(pod)
    if want and gpus_used + want > gpu_capacity(node):
        return f"Insufficient {GPU}"
    return None


def choose(pod: Obj, nodes: list[Obj], used: dict[str, int]) -> tuple[Obj | None, str]:
    """The best node for `pod`, or None and the FailedScheduling message."""
    reasons: Counter[str] = Counter()
    fits: list[Obj] = []
    for node in nodes:
        why = misfit(pod, node, used.get(node["metadata"]["name"], 0))
        if why is None:
            fits.append(node)
        else:
            reasons[why] += 1
    if fits:
        best = min(fits, key=lambda n: (-preferred_score(pod, n), used.get(n["metadata"]["name"], 0),
                                        n["metadata"]["name"]))
        return best, ""
    detail = ", ".join(f"{n} {r}" for r, n in sorted(reasons.items()))
    return None, f"0/{len(nodes)} nodes are available: {detail}." if detail else "0/0 nodes are available."


class Scheduler(Loop):
    name = "scheduler"
    watches = (PODS, NODES)

    def __init__(self, store: Store) -> None:
        super().__init__(store)

    def reconcile(self) -> None:
        nodes, _ = self.store.list(NODES)
        pods, _ = self.store.list(PODS)
        used: dict[str, int] = {}
        for p in pods:
            if holds_resources(p):
                node = p["spec"]["nodeName"]
                used[node] = used.get(node, 0) + gpu_request(p)
        pending = [p for p in pods if not (p.get("spec") or {}).get("nodeName")
                   and (p.get("spec") or {}).get("schedulerName", COMPONENT) == COMPONENT
                   and (p.get("status") or {}).get("phase", "Pending") == "Pending"]
        pending.sort(key=lambda p: (p["metadata"].get("creationTimestamp", ""), p["metadata"]["name"]))
        for pod in pending:
            node, message = choose(pod, nodes, used)
            try:
                if node is None:
                    self._unschedulable(pod, message)
                else:
                    name = node["metadata"]["name"]
                    self._bind(pod, name)
                    used[name] = used.get(name, 0) + gpu_request(pod)
            except NotFound:
                continue  # deleted meanwhile
            except ClusterError:
                log.debug("scheduling %s deferred", pod["metadata"]["name"], exc_info=True)
                self.kick()

    def _bind(self, pod: Obj, node: str) -> None:
        meta = pod["metadata"]
        self.store.patch(PODS, meta["namespace"], meta["name"], "application/merge-patch+json",
                         {"metadata": {"uid": meta["uid"]}, "spec": {"nodeName": node}})
        self._set_scheduled(pod, "True", "", "")
        events.emit(self.store, pod, "Scheduled",
                    f"Successfully assigned {meta['namespace']}/{meta['name']} to {node}", COMPONENT)

    def _unschedulable(self, pod: Obj, message: str) -> None:
        if self._set_scheduled(pod, "False", "Unschedulable", message):
            events.emit(self.store, pod, "FailedScheduling", message, COMPONENT, type_="Warning")

    def _set_scheduled(self, pod: Obj, status: str, reason: str, message: str) -> bool:
        """Write the PodScheduled condition; True when it changed."""
        meta = pod["metadata"]
        for _ in range(5):
            current = self.store.get(PODS, meta["namespace"], meta["name"])
            if current["metadata"]["uid"] != meta["uid"]:
                return False
            st = current.setdefault("status", {})
            if not set_condition(st, "PodScheduled", status, reason, message):
                return False
            try:
                self.store.update(PODS, current, subresource="status")
                return True
            except ClusterError as exc:
                if exc.status != 409:
                    raise
        return False
