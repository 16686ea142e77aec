"""The EndpointSlice and Endpoints controllers of the embedded cluster, as kube-controller-manager
keeps them for every Service with a selector.

For each such Service: the non-terminal pods of its namespace that match the selector and have an IP
become endpoints (`conditions.ready/serving/terminating`, `targetRef`, `nodeName`; ready means the
pod's Ready condition, or always with `publishNotReadyAddresses`), grouped by the ports their
targetPorts resolve to (a named targetPort is looked up in the pod's containerPorts, and a pod that
lacks it gets no slice for that port). The slices are named `<service>-<suffix>`, labelled
`kubernetes.io/service-name` and `endpointslice.kubernetes.io/managed-by`, and owned by the Service
(so they go with it). The legacy `v1/Endpoints` object of the same name carries the same pods as
`addresses`/`notReadyAddresses` subsets. Everything is rewritten only when it changes, as pods turn
Ready, unready, crash, terminate or go. Services without a selector are left to their owner.
It must not run pods or touch anything but EndpointSlices and Endpoints.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from runner.errors import ClusterError, Conflict, NotFound
from runner.sim.loop import Loop
from runner.sim.podstatus import get_condition
from runner.sim.resources import ENDPOINTS, ENDPOINTSLICES, PODS, SERVICES
from runner.sim.selectors import LabelSelector
from runner.sim.store import Obj, clone

log = logging.getLogger(__name__)

SERVICE_NAME = "kubernetes.io/service-name"
MANAGED_BY = "endpointslice.kubernetes.io/managed-by"
CONTROLLER = "endpointslice-controller.k8s.io"
SKIP_MIRROR = "endpointslice.kubernetes.io/skip-mirror"

PortKey = tuple[tuple[str, int, str], ...]  # (name, port, protocol) per service port


def pod_ready(pod: Obj) -> bool:
    cond = get_condition(pod.get("status") or {}, "Ready")
    return bool(cond and cond.get("status") == "True")


def _pod_ip(pod: Obj) -> str:
    status = pod.get("status") or {}
    ips = [str(i.get("ip")) for i in status.get("podIPs") or [] if i.get("ip")]
    return str(status.get("podIP") or (ips[0] if ips else ""))


def in_endpoints(pod: Obj) -> bool:
    """ShouldPodBeInEndpoints: not terminal, and it has an IP (terminating pods stay, marked so)."""
    return (pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed") and bool(_pod_ip(pod))


def find_port(pod: Obj, target: Any) -> int | None:
    """A Service port's targetPort for one pod: a number as is, a name through the containerPorts."""
    if isinstance(target, int):
        return target
    if isinstance(target, str) and target.isdigit():
        return int(target)
    for c in (pod.get("spec") or {}).get("containers") or []:
        for port in c.get("ports") or []:
            if port.get("name") == target:
                return int(port["containerPort"])
    return None


def _owner(svc: Obj) -> Obj:
    return {"apiVersion": "v1", "kind": "Service", "name": svc["metadata"]["name"],
            "uid": svc["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}


def _endpoint(pod: Obj, svc: Obj) -> Obj:
    meta = pod["metadata"]
    serving = pod_ready(pod)
    terminating = bool(meta.get("deletionTimestamp"))
    ready = bool((svc.get("spec") or {}).get("publishNotReadyAddresses")) or (serving and not terminating)
    ep: Obj = {"addresses": [_pod_ip(pod)],
               "conditions": {"ready": ready, "serving": serving, "terminating": terminating},
               "targetRef": {"kind": "Pod", "namespace": meta["namespace"], "name": meta["name"],
                             "uid": meta["uid"]}}
    node = (pod.get("spec") or {}).get("nodeName")
    if node:
        ep["nodeName"] = node
    return ep


def desired(svc: Obj, pods: list[Obj]) -> dict[PortKey, list[tuple[Obj, Obj]]]:
    """port set -> [(pod, endpoint)] for one Service."""
    spec = svc.get("spec") or {}
    selector = LabelSelector.parse(",".join(f"{k}={v}" for k, v in (spec.get("selector") or {}).items()))
    groups: dict[PortKey, list[tuple[Obj, Obj]]] = {}
    for pod in sorted(pods, key=lambda p: str(p["metadata"]["name"])):
        meta = pod["metadata"]
        if meta.get("namespace") != svc["metadata"]["namespace"] or not in_endpoints(pod):
            continue
        if not selector.matches(meta.get("labels")):
            continue
        key: list[tuple[str, int, str]] = []
        for port in spec.get("ports") or []:
            number = find_port(pod, port.get("targetPort", port.get("port")))
            if number is not None:
                key.append((str(port.get("name") or ""), number, str(port.get("protocol") or "TCP")))
        groups.setdefault(tuple(key), []).append((pod, _endpoint(pod, svc)))
    return groups


class EndpointsController(Loop):
    """EndpointSlices (and legacy Endpoints) for every Service with a selector."""

    name = "endpointslice-controller"
    watches = (SERVICES, PODS, ENDPOINTSLICES, ENDPOINTS)

    def reconcile(self) -> None:
        services, _ = self.store.list(SERVICES)
        pods, _ = self.store.list(PODS)
        slices, _ = self.store.list(ENDPOINTSLICES, label_selector=f"{MANAGED_BY}={CONTROLLER}")
        mirrors, _ = self.store.list(ENDPOINTS, label_selector=f"{SKIP_MIRROR}=true")
        wanted: set[tuple[str, str]] = set()
        for svc in services:
            spec = svc.get("spec") or {}
            if not spec.get("selector") or spec.get("type") == "ExternalName":
                continue
            meta = svc["metadata"]
            wanted.add((meta["namespace"], meta["name"]))
            mine = [s for s in slices if s["metadata"]["namespace"] == meta["namespace"]
                    and (s["metadata"].get("labels") or {}).get(SERVICE_NAME) == meta["name"]]
            try:
                groups = desired(svc, pods)
                self._sync_slices(svc, groups, mine)
                self._sync_endpoints(svc, groups)
            except ClusterError:
                log.debug("endpoints of %s/%s deferred", meta["namespace"], meta["name"], exc_info=True)
                self.kick()
        for ep in mirrors:  # the Service went (its slices went with it, by owner reference)
            key = (ep["metadata"]["namespace"], ep["metadata"]["name"])
            if key not in wanted:
                with contextlib.suppress(NotFound):
                    self.store.delete(ENDPOINTS, *key)

    def _sync_slices(self, svc: Obj, groups: dict[PortKey, list[tuple[Obj, Obj]]], mine: list[Obj]) -> None:
        meta = svc["metadata"]
        labels = {**(meta.get("labels") or {}), SERVICE_NAME: meta["name"], MANAGED_BY: CONTROLLER}
        bodies: list[Obj] = []
        for key, members in (groups or {(): []}).items():
            body: Obj = {"addressType": "IPv4", "endpoints": [ep for _, ep in members],
                         "ports": [{"name": n, "port": p, "protocol": proto} for n, p, proto in key] or None}
            bodies.append(body)
        if not bodies:
            bodies = [{"addressType": "IPv4", "endpoints": [], "ports": None}]
        existing = sorted(mine, key=lambda s: str(s["metadata"]["name"]))
        for i, body in enumerate(bodies):
            if i < len(existing):
                current = existing[i]
                if all(current.get(k) == body[k] for k in ("addressType", "endpoints", "ports")) \
                        and (current["metadata"].get("labels") or {}) == labels:
                    continue
                new = clone(current)
                new.update(body)
                new["metadata"]["labels"] = labels
                with contextlib.suppress(Conflict, NotFound):  # changed meanwhile: the next pass sees it
                    self.store.update(ENDPOINTSLICES, new)
            else:
                self.store.create(ENDPOINTSLICES, {
                    "metadata": {"generateName": f"{meta['name']}-", "namespace": meta["namespace"],
                                 "labels": labels, "ownerReferences": [_owner(svc)]}, **body})
        for extra in existing[len(bodies):]:
            with contextlib.suppress(NotFound):
                self.store.delete(ENDPOINTSLICES, meta["namespace"], extra["metadata"]["name"])

    def _sync_endpoints(self, svc: Obj, groups: dict[PortKey, list[tuple[Obj, Obj]]]) -> None:
        meta = svc["metadata"]
        subsets = []
        for key, members in groups.items():
            ready: list[Obj] = []
            not_ready: list[Obj] = []
            for _, ep in members:
                if ep["conditions"]["terminating"]:
                    continue  # the legacy Endpoints leave terminating pods out
                address: Obj = {"ip": ep["addresses"][0], "targetRef": dict(ep["targetRef"])}
                if ep.get("nodeName"):
                    address["nodeName"] = ep["nodeName"]
                (ready if ep["conditions"]["ready"] else not_ready).append(address)
            if not ready and not not_ready:
                continue
            subset: Obj = {"ports": [{"name": n, "port": p, "protocol": proto} for n, p, proto in key]}
            if ready:
                subset["addresses"] = ready
            if not_ready:
                subset["notReadyAddresses"] = not_ready
            subsets.append(subset)
        labels = {**(meta.get("labels") or {}), SKIP_MIRROR: "true"}
        body: Obj = {"metadata": {"name": meta["name"], "namespace": meta["namespace"], "labels": labels}}
        if subsets:
            body["subsets"] = subsets
        try:
            current = self.store.get(ENDPOINTS, meta["namespace"], meta["name"])
        except NotFound:
            self.store.create(ENDPOINTS, body)
            return
        same_labels = (current["metadata"].get("labels") or {}) == labels
        if current.get("subsets") == body.get("subsets") and same_labels:
            return
        new = clone(current)
        new["metadata"]["labels"] = labels
        new.pop("subsets", None)
        if subsets:
            new["subsets"] = subsets
        with contextlib.suppress(Conflict, NotFound):
            self.store.update(ENDPOINTS, new)
