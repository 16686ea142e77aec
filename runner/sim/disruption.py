"""PodDisruptionBudgets and the pods/eviction subresource, as the disruption controller and the
eviction REST handler keep them (what `kubectl drain` relies on).

Status: expectedPods (the non-terminal pods the selector matches; upstream asks the owners' scale,
which is the same number once a workload is settled), currentHealthy (those Ready), desiredHealthy
(minAvailable, or expectedPods - maxUnavailable; percentages round up), disruptionsAllowed and the
DisruptionAllowed condition. An eviction deletes the pod unless a budget forbids it: 429 with
upstream's message and a DisruptionBudget cause; a pod that is not Ready may go when the budget is
met or its policy is AlwaysAllow; a pod that is terminal, or that no budget covers, always goes;
more than one budget is upstream's 500. It must not know about HTTP.
"""

from __future__ import annotations

import contextlib
import math
from typing import Any

from runner.errors import ClusterError, Conflict, NotFound
from runner.sim.loop import Loop
from runner.sim.podstatus import get_condition, set_condition
from runner.sim.resources import PDBS, PODS
from runner.sim.selectors import LabelSelector
from runner.sim.store import Obj, Store, clone, selector_string


def _ready(pod: Obj) -> bool:
    cond = get_condition(pod.get("status") or {}, "Ready")
    return bool(cond and cond.get("status") == "True")


def _terminal(pod: Obj) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


def _scaled(value: Any, total: int) -> int:
    if isinstance(value, str) and value.endswith("%"):
        return math.ceil(total * int(value[:-1]) / 100)
    return int(value)


def covers(pdb: Obj, pod: Obj) -> bool:
    selector = (pdb.get("spec") or {}).get("selector")
    if selector is None:
        return False
    return LabelSelector.parse(selector_string(selector)).matches((pod.get("metadata") or {}).get("labels"))


def status_of(pdb: Obj, pods: list[Obj]) -> Obj:
    spec = pdb.get("spec") or {}
    ns = pdb["metadata"]["namespace"]
    matching = [p for p in pods
                if p["metadata"].get("namespace") == ns and not _terminal(p) and covers(pdb, p)]
    expected = len(matching)
    healthy = sum(1 for p in matching if _ready(p))
    if spec.get("maxUnavailable") is not None:
        desired = max(0, expected - _scaled(spec["maxUnavailable"], expected))
    else:
        desired = _scaled(spec.get("minAvailable", 1), expected)
    allowed = max(0, healthy - desired)
    holder: Obj = {"conditions": list((pdb.get("status") or {}).get("conditions") or [])}
    set_condition(holder, "DisruptionAllowed", "True" if allowed else "False",
                  "SufficientPods" if allowed else "InsufficientPods")
    # metav1.Condition: reason and message are required (an empty message is still sent)
    conditions = [{"message": "", **{k: v for k, v in c.items() if k != "lastProbeTime"},
                   "observedGeneration": pdb["metadata"].get("generation", 1)} for c in holder["conditions"]]
    return {"observedGeneration": pdb["metadata"].get("generation", 1), "disruptionsAllowed": allowed,
            "currentHealthy": healthy, "desiredHealthy": desired, "expectedPods": expected,
            "conditions": conditions}


def evict(store: Store, namespace: str, name: str, eviction: Obj, dry_run: bool = False) -> None:
    """Evict one pod (ClusterError when a budget refuses)."""
    meta = eviction.get("metadata") or {}
    if meta.get("name") and meta["name"] != name:
        raise ClusterError("name in URL does not match name in Eviction object", status=400,
                           reason="BadRequest")
    pod = store.get(PODS, namespace, name)
    options = eviction.get("deleteOptions") or {}
    if not _terminal(pod):
        pdbs = [p for p in store.list(PDBS, namespace)[0] if covers(p, pod)]
        if len(pdbs) > 1:
            raise ClusterError("This pod has more than one PodDisruptionBudget, which the eviction "
                               "subresource does not support.", status=500, reason="InternalError")
        if pdbs:
            pdb = pdbs[0]
            status = status_of(pdb, store.list(PODS, namespace)[0])
            policy = (pdb.get("spec") or {}).get("unhealthyPodEvictionPolicy") or "IfHealthyBudget"
            unhealthy_ok = not _ready(pod) and (
                policy == "AlwaysAllow" or status["currentHealthy"] >= status["desiredHealthy"])
            if status["disruptionsAllowed"] <= 0 and not unhealthy_ok:
                err = ClusterError("Cannot evict pod as it would violate the pod's disruption budget.",
                                   status=429, reason="TooManyRequests")
                err.status_details = {"causes": [{  # type: ignore[attr-defined]
                    "reason": "DisruptionBudget",
                    "message": f"The disruption budget {pdb['metadata']['name']} needs "
                               f"{status['desiredHealthy']} healthy pods and has {status['currentHealthy']} "
                               "currently"}]}
                raise err
    grace = options.get("gracePeriodSeconds")
    store.delete(PODS, namespace, name, int(grace) if grace is not None else None,
                 options.get("propagationPolicy"), options.get("preconditions"), dry_run=dry_run)


class DisruptionController(Loop):
    """Keeps every PodDisruptionBudget's status."""

    name = "disruption-controller"
    watches = (PDBS, PODS)

    def reconcile(self) -> None:
        pdbs, _ = self.store.list(PDBS)
        if not pdbs:
            return
        pods, _ = self.store.list(PODS)
        for pdb in pdbs:
            status = status_of(pdb, pods)
            if pdb.get("status") == status:
                continue
            new = clone(pdb)
            new["status"] = status
            with contextlib.suppress(Conflict, NotFound):  # changed meanwhile: the next pass sees it
                self.store.update(PDBS, new, subresource="status")
