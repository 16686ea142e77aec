"""Workload controllers of the embedded cluster: Deployment -> ReplicaSet -> Pod, and StatefulSet.

Deployment: one ReplicaSet per pod template, named `<deployment>-<hash>` with the hash in the
`pod-template-hash` label (selector and pod labels); RollingUpdate follows kube-controller-manager's
arithmetic (scale the new ReplicaSet up within replicas+maxSurge, scale old ones down keeping
replicas-maxUnavailable available, unhealthy old pods first; percentages round surge up and
unavailability down; both zero means maxUnavailable=1); Recreate scales old ones to zero first.
Status: replicas, updatedReplicas, readyReplicas, availableReplicas, unavailableReplicas,
observedGeneration and the Available/Progressing conditions. minReadySeconds, paused, rollback and
progress deadlines are not simulated (available means ready).
ReplicaSet: keeps `replicas` non-terminated pods it controls (owner reference, controller=true),
deleting the least useful first (unbound, then not ready, then newest).
StatefulSet: pods `<name>-0..N-1` created in order, each once the previous is Ready
(OrderedReady) or all at once (Parallel), removed from the highest ordinal; a template change
deletes outdated pods one at a time from the highest ordinal when all are ready.
Owner references make the store's garbage collector remove children with their owner.
They must not run or schedule pods.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
from typing import Any

from runner.errors import ClusterError, Conflict, Forbidden, NotFound
from runner.sim import events
from runner.sim.loop import Loop
from runner.sim.podstatus import get_condition, remove_condition, set_condition
from runner.sim.resources import DEPLOYMENTS, GVR, PODS, REPLICASETS, STATEFULSETS
from runner.sim.selectors import LabelSelector
from runner.sim.store import Obj, Store, clone, selector_string

log = logging.getLogger(__name__)

HASH_LABEL = "pod-template-hash"
REVISION = "deployment.kubernetes.io/revision"
STS_HASH = "controller-revision-hash"
STS_POD_NAME = "statefulset.kubernetes.io/pod-name"


def template_hash(template: Obj) -> str:
    digest = hashlib.sha256(json.dumps(template, sort_keys=True).encode()).hexdigest()
    return digest[:10]


def owner_ref(owner: Obj) -> Obj:
    return {"apiVersion": owner["apiVersion"], "kind": owner["kind"], "name": owner["metadata"]["name"],
            "uid": owner["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}


def owned_by(obj: Obj, owner: Obj) -> bool:
    return any(r.get("uid") == owner["metadata"]["uid"] and r.get("controller")
               for r in obj["metadata"].get("ownerReferences") or [])


def is_active(pod: Obj) -> bool:
    return (pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed")


def is_ready(pod: Obj) -> bool:
    cond = get_condition(pod.get("status") or {}, "Ready")
    return bool(cond and cond.get("status") == "True")


def resolve(value: Any, total: int, round_up: bool) -> int:
    """An IntOrString like 25% or 1 against `total`."""
    if isinstance(value, str) and value.endswith("%"):
        frac = total * int(value[:-1]) / 100
        return math.ceil(frac) if round_up else math.floor(frac)
    return int(value)


def _write_status(store: Store, gvr: GVR, obj: Obj, status: Obj) -> None:
    if obj.get("status") == status:
        return
    current = clone(obj)
    current["status"] = status
    # Changed or gone meanwhile: the next pass sees the new object.
    with contextlib.suppress(Conflict, NotFound):
        store.update(gvr, current, subresource="status")


def _children(store: Store, gvr: GVR, owner: Obj) -> list[Obj]:
    items, _ = store.list(gvr, owner["metadata"]["namespace"])
    return [o for o in items if owned_by(o, owner)]


def _conds(prev: Obj, *updates: tuple[str, str, str, str]) -> list[Obj]:
    holder = {"conditions": list(prev.get("conditions") or [])}
    for type_, value, reason, message in updates:
        set_condition(holder, type_, value, reason, message, lastUpdateTime=_keep_time(holder, type_))
    return list(holder["conditions"])


def _keep_time(holder: Obj, type_: str) -> str:
    cond = get_condition(holder, type_)
    from runner.sim.store import now_rfc3339
    return str(cond.get("lastUpdateTime")) if cond and cond.get("lastUpdateTime") else now_rfc3339()


class ReplicaSetController(Loop):
    name = "replicaset-controller"
    watches = (REPLICASETS, PODS)

    def reconcile(self) -> None:
        rsets, _ = self.store.list(REPLICASETS)
        pods, _ = self.store.list(PODS)
        for rs in rsets:
            try:
                self._sync(rs, [p for p in pods if owned_by(p, rs)])
            except ClusterError:
                log.debug("replicaset %s deferred", rs["metadata"]["name"], exc_info=True)
                self.kick()

    def _sync(self, rs: Obj, pods: list[Obj]) -> None:
        meta = rs["metadata"]
        spec = rs.get("spec") or {}
        want = int(spec.get("replicas", 1))
        active = [p for p in pods if is_active(p)]
        failure = ""  # why a pod could not be created (admission), as kube-controller-manager reports it
        if len(active) < want:
            template = clone(spec.get("template") or {})
            tmeta = template.setdefault("metadata", {})
            for _ in range(want - len(active)):
                pod = {"metadata": {"generateName": f"{meta['name']}-", "namespace": meta["namespace"],
                                    "labels": dict(tmeta.get("labels") or {}),
                                    "annotations": dict(tmeta.get("annotations") or {}),
                                    "ownerReferences": [owner_ref(rs)]},
                       "spec": clone(template.get("spec") or {})}
                try:
                    created = self.store.create(PODS, pod)
                except Forbidden as exc:  # e.g. Pod Security: retried on the next resync, not at once
                    failure = str(exc)
                    events.emit(self.store, rs, "FailedCreate", f"Error creating: {failure}",
                                "replicaset-controller", type_="Warning")
                    break
                events.emit(self.store, rs, "SuccessfulCreate", f"Created pod: {created['metadata']['name']}",
                            "replicaset-controller")
                active.append(created)
        elif len(active) > want:
            def usefulness(p: Obj) -> tuple[int, int, str]:
                bound = 1 if (p.get("spec") or {}).get("nodeName") else 0
                return (bound, 1 if is_ready(p) else 0, p["metadata"].get("creationTimestamp", ""))
            victims = sorted(active, key=usefulness)[: len(active) - want]
            for p in victims:
                with contextlib.suppress(NotFound):
                    self.store.delete(PODS, meta["namespace"], p["metadata"]["name"])
                events.emit(self.store, rs, "SuccessfulDelete", f"Deleted pod: {p['metadata']['name']}",
                            "replicaset-controller")
                active.remove(p)
        ready = sum(1 for p in active if is_ready(p))
        selector = LabelSelector.parse(selector_string(spec.get("selector") or {}))
        status: Obj = {"replicas": len(active),
                       "fullyLabeledReplicas": sum(1 for p in active
                                                   if selector.matches(p["metadata"].get("labels"))),
                       "readyReplicas": ready, "availableReplicas": ready,
                       "observedGeneration": meta.get("generation", 1)}
        holder = {"conditions": list((rs.get("status") or {}).get("conditions") or [])}
        if failure:
            set_condition(holder, "ReplicaFailure", "True", "FailedCreate", failure)
            holder["conditions"] = [{k: v for k, v in c.items() if k != "lastProbeTime"}
                                    for c in holder["conditions"]]
        else:
            remove_condition(holder, "ReplicaFailure")
        if holder["conditions"]:
            status["conditions"] = holder["conditions"]
        _write_status(self.store, REPLICASETS, rs, status)


class DeploymentController(Loop):
    name = "deployment-controller"
    watches = (DEPLOYMENTS, REPLICASETS)

    def reconcile(self) -> None:
        deps, _ = self.store.list(DEPLOYMENTS)
        for d in deps:
            try:
                self._sync(d)
            except ClusterError:
                log.debug("deployment %s deferred", d["metadata"]["name"], exc_info=True)
                self.kick()

    def _sync(self, d: Obj) -> None:
        meta = d["metadata"]
        spec = d.get("spec") or {}
        want = int(spec.get("replicas", 1))
        template = spec.get("template") or {}
        h = template_hash(template)
        rsets = _children(self.store, REPLICASETS, d)
        new = next((r for r in rsets if (r["metadata"].get("labels") or {}).get(HASH_LABEL) == h), None)
        olds = [r for r in rsets if r is not new]
        olds.sort(key=lambda r: r["metadata"].get("creationTimestamp", ""))
        revision = 1 + max((int((r["metadata"].get("annotations") or {}).get(REVISION, "0")) for r in rsets),
                           default=0)
        strategy = spec.get("strategy") or {}
        recreate = strategy.get("type") == "Recreate"
        if new is None:
            initial = 0 if olds and any(int((r.get("spec") or {}).get("replicas", 0)) for r in olds) else want
            if recreate and olds:
                initial = 0
            new = self._create_rs(d, h, initial, revision)
        elif int((new["metadata"].get("annotations") or {}).get(REVISION, "0")) < revision - 1:
            ann = {REVISION: str(revision)}
            new = self.store.patch(REPLICASETS, meta["namespace"], new["metadata"]["name"],
                                   "application/merge-patch+json", {"metadata": {"annotations": ann}})
        if recreate:
            self._recreate(d, new, olds, want)
        else:
            self._rolling(d, new, olds, want)
        self._status(d, new, olds, want)

    def _create_rs(self, d: Obj, h: str, replicas: int, revision: int) -> Obj:
        meta = d["metadata"]
        spec = d.get("spec") or {}
        template = clone(spec.get("template") or {})
        tmeta = template.setdefault("metadata", {})
        tmeta["labels"] = {**(tmeta.get("labels") or {}), HASH_LABEL: h}
        selector = clone(spec.get("selector") or {})
        selector["matchLabels"] = {**(selector.get("matchLabels") or {}), HASH_LABEL: h}
        rs = {"metadata": {"name": f"{meta['name']}-{h}", "namespace": meta["namespace"],
                           "labels": dict(tmeta["labels"]), "annotations": {REVISION: str(revision)},
                           "ownerReferences": [owner_ref(d)]},
              "spec": {"replicas": replicas, "selector": selector, "template": template}}
        try:
            created = self.store.create(REPLICASETS, rs)
        except Conflict:
            return self.store.get(REPLICASETS, meta["namespace"], rs["metadata"]["name"])
        events.emit(self.store, d, "ScalingReplicaSet",
                    f"Scaled up replica set {rs['metadata']['name']} to {replicas}", "deployment-controller")
        return created

    def _scale(self, d: Obj, rs: Obj, replicas: int) -> None:
        current = int((rs.get("spec") or {}).get("replicas", 0))
        if current == replicas:
            return
        rs_meta = rs["metadata"]
        self.store.patch(REPLICASETS, rs_meta["namespace"], rs_meta["name"], "application/merge-patch+json",
                         {"spec": {"replicas": replicas}})
        rs.setdefault("spec", {})["replicas"] = replicas
        verb = "up" if replicas > current else "down"
        events.emit(self.store, d, "ScalingReplicaSet",
                    f"Scaled {verb} replica set {rs_meta['name']} from {current} to {replicas}",
                    "deployment-controller")

    @staticmethod
    def _replicas(rs: Obj) -> int:
        return int((rs.get("spec") or {}).get("replicas", 0))

    @staticmethod
    def _available(rs: Obj) -> int:
        return int((rs.get("status") or {}).get("availableReplicas", 0))

    def _recreate(self, d: Obj, new: Obj, olds: list[Obj], want: int) -> None:
        for rs in olds:
            self._scale(d, rs, 0)
        if all(int((rs.get("status") or {}).get("replicas", 0)) == 0 for rs in olds):
            self._scale(d, new, want)

    def _limits(self, d: Obj, want: int) -> tuple[int, int]:
        ru = ((d.get("spec") or {}).get("strategy") or {}).get("rollingUpdate") or {}
        surge = resolve(ru.get("maxSurge", "25%"), want, True)
        unavailable = resolve(ru.get("maxUnavailable", "25%"), want, False)
        if surge == 0 and unavailable == 0:
            unavailable = 1
        return surge, unavailable

    def _rolling(self, d: Obj, new: Obj, olds: list[Obj], want: int) -> None:
        surge, max_unavailable = self._limits(d, want)
        all_rs = [new, *olds]
        # Scale the new ReplicaSet up (or down to the target).
        if self._replicas(new) > want:
            self._scale(d, new, want)
        elif self._replicas(new) < want:
            total = sum(self._replicas(r) for r in all_rs)
            room = want + surge - total
            if not olds or not any(self._replicas(r) for r in olds):
                room = want - self._replicas(new)
            if room > 0:
                self._scale(d, new, self._replicas(new) + min(room, want - self._replicas(new)))
        # Scale old ReplicaSets down, keeping want - maxUnavailable available.
        if not any(self._replicas(r) for r in olds):
            return
        min_available = want - max_unavailable
        new_unavailable = self._replicas(new) - self._available(new)
        all_pods = sum(self._replicas(r) for r in all_rs)
        budget = all_pods - min_available - new_unavailable
        if budget <= 0:
            return
        for rs in olds:  # unhealthy old pods first: removing them costs no availability
            if budget <= 0:
                break
            unhealthy = self._replicas(rs) - self._available(rs)
            cut = min(budget, max(unhealthy, 0))
            if cut > 0:
                self._scale(d, rs, self._replicas(rs) - cut)
                budget -= cut
        available = sum(self._available(r) for r in all_rs)
        budget = min(budget, available - min_available - new_unavailable)
        for rs in olds:
            if budget <= 0:
                break
            cut = min(budget, self._replicas(rs))
            if cut > 0:
                self._scale(d, rs, self._replicas(rs) - cut)
                budget -= cut

    def _status(self, d: Obj, new: Obj, olds: list[Obj], want: int) -> None:
        all_rs = [new, *olds]
        st = [r.get("status") or {} for r in all_rs]
        replicas = sum(int(s.get("replicas", 0)) for s in st)
        ready = sum(int(s.get("readyReplicas", 0)) for s in st)
        available = sum(int(s.get("availableReplicas", 0)) for s in st)
        updated = int((new.get("status") or {}).get("replicas", 0))
        _, max_unavailable = self._limits(d, want)
        prev = d.get("status") or {}
        is_available = available >= want - max_unavailable
        complete = updated == want and replicas == want and available == want
        name = new["metadata"]["name"]
        conditions = _conds(
            prev,
            ("Available", "True" if is_available else "False",
             "MinimumReplicasAvailable" if is_available else "MinimumReplicasUnavailable",
             "Deployment has minimum availability." if is_available
             else "Deployment does not have minimum availability."),
            ("Progressing", "True", "NewReplicaSetAvailable" if complete else "ReplicaSetUpdated",
             f'ReplicaSet "{name}" has successfully progressed.' if complete
             else f'ReplicaSet "{name}" is progressing.'),
        )
        # A ReplicaSet that cannot create its pods shows on the Deployment (GetReplicaFailures).
        failed = next((c for r in all_rs for c in (r.get("status") or {}).get("conditions") or []
                       if c.get("type") == "ReplicaFailure" and c.get("status") == "True"), None)
        holder = {"conditions": conditions}
        if failed is not None:
            _keep = _keep_time(holder, "ReplicaFailure")
            set_condition(holder, "ReplicaFailure", "True", str(failed.get("reason", "")),
                          str(failed.get("message", "")), lastUpdateTime=_keep)
        else:
            remove_condition(holder, "ReplicaFailure")
        conditions = [{k: v for k, v in c.items() if k != "lastProbeTime"} for c in holder["conditions"]]
        status = {"observedGeneration": d["metadata"].get("generation", 1), "replicas": replicas,
                  "updatedReplicas": updated, "readyReplicas": ready, "availableReplicas": available,
                  "unavailableReplicas": max(want - available, 0), "conditions": conditions}
        if not ready:
            status.pop("readyReplicas")
        _write_status(self.store, DEPLOYMENTS, d, status)


class StatefulSetController(Loop):
    name = "statefulset-controller"
    watches = (STATEFULSETS, PODS)

    def reconcile(self) -> None:
        sets, _ = self.store.list(STATEFULSETS)
        pods, _ = self.store.list(PODS)
        for sts in sets:
            try:
                self._sync(sts, [p for p in pods if owned_by(p, sts)])
            except ClusterError:
                log.debug("statefulset %s deferred", sts["metadata"]["name"], exc_info=True)
                self.kick()

    def _sync(self, sts: Obj, pods: list[Obj]) -> None:
        meta = sts["metadata"]
        spec = sts.get("spec") or {}
        want = int(spec.get("replicas", 1))
        template = spec.get("template") or {}
        h = template_hash(template)
        ordered = (spec.get("podManagementPolicy") or "OrderedReady") == "OrderedReady"
        by_name = {p["metadata"]["name"]: p for p in pods}
        # Create missing ordinals in order.
        for i in range(want):
            name = f"{meta['name']}-{i}"
            pod = by_name.get(name)
            if pod is None:
                tmeta = template.get("metadata") or {}
                labels = {**(tmeta.get("labels") or {}), STS_HASH: f"{meta['name']}-{h}", STS_POD_NAME: name}
                body = {"metadata": {"name": name, "namespace": meta["namespace"], "labels": labels,
                                     "annotations": dict(tmeta.get("annotations") or {}),
                                     "ownerReferences": [owner_ref(sts)]},
                        "spec": {**clone(template.get("spec") or {}), "hostname": name}}
                try:
                    created = self.store.create(PODS, body)
                except Conflict:
                    break  # the old pod of that name is still going away
                except Forbidden as exc:  # e.g. Pod Security; retried on the next resync
                    events.emit(self.store, sts, "FailedCreate",
                                f"create Pod {name} in StatefulSet {meta['name']} failed error: {exc}",
                                "statefulset-controller", type_="Warning")
                    break
                by_name[name] = created
                events.emit(self.store, sts, "SuccessfulCreate",
                            f"create Pod {name} in StatefulSet {meta['name']} successful",
                            "statefulset-controller")
                if ordered:
                    break
            elif ordered and not (is_ready(pod) and is_active(pod)):
                break
            elif not is_active(pod):  # a failed pod is replaced, as the real controller does
                self.store.delete(PODS, meta["namespace"], name)
                break
        # Remove ordinals beyond the target, highest first.
        extra = sorted((p for n, p in by_name.items() if self._ordinal(meta["name"], n) >= want),
                       key=lambda p: -self._ordinal(meta["name"], p["metadata"]["name"]))
        for p in extra[:1] if ordered else extra:
            self.store.delete(PODS, meta["namespace"], p["metadata"]["name"])
            by_name.pop(p["metadata"]["name"], None)
        # Roll outdated pods, highest ordinal first, one at a time once all are ready.
        current = [by_name[n] for n in sorted(by_name, key=lambda n: self._ordinal(meta["name"], n))
                   if 0 <= self._ordinal(meta["name"], n) < want]
        revision = f"{meta['name']}-{h}"
        outdated = [p for p in current if (p["metadata"].get("labels") or {}).get(STS_HASH) != revision]
        if outdated and len(current) == want and all(is_ready(p) for p in current):
            victim = outdated[-1]
            self.store.delete(PODS, meta["namespace"], victim["metadata"]["name"])
        ready = sum(1 for p in current if is_ready(p))
        status = {"observedGeneration": meta.get("generation", 1), "replicas": len(current),
                  "readyReplicas": ready, "availableReplicas": ready,
                  "currentReplicas": len(current) - len(outdated),
                  "updatedReplicas": len(current) - len(outdated),
                  "currentRevision": revision, "updateRevision": revision}
        _write_status(self.store, STATEFULSETS, sts, status)

    @staticmethod
    def _ordinal(base: str, name: str) -> int:
        suffix = name[len(base) + 1:]
        return int(suffix) if name.startswith(base + "-") and suffix.isdigit() else -1
