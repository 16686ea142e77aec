"""Server-side printing: `meta.k8s.io/v1 Table` answers, which `kubectl get` asks for.

Columns follow kubectl's familiar ones for pods, nodes and workloads (wide columns have priority 1);
any other kind gets NAME and AGE. It must not know about HTTP or storage.
"""

from __future__ import annotations

import calendar
import time
from collections.abc import Callable
from typing import Any

from runner.sim.resources import (
    CONFIGMAPS,
    DEPLOYMENTS,
    ENDPOINTS,
    ENDPOINTSLICES,
    GVR,
    LEASES,
    NAMESPACES,
    NODES,
    PDBS,
    PODS,
    REPLICASETS,
    SECRETS,
    SERVICEACCOUNTS,
    SERVICES,
    STATEFULSETS,
)

Obj = dict[str, Any]
Column = tuple[str, int, Callable[[Obj], Any]]  # (name, priority, cell)


def age(obj: Obj) -> str:
    ts = obj.get("metadata", {}).get("creationTimestamp")
    if not ts:
        return "<unknown>"
    try:
        created = calendar.timegm(time.strptime(ts, "%Y-%m-%dT%H:%M:%SZ"))
    except ValueError:
        return "<unknown>"
    secs = max(0, int(time.time() - created))
    if secs < 120:
        return f"{secs}s"
    if secs < 7200:
        return f"{secs // 60}m"
    if secs < 172800:
        return f"{secs // 3600}h"
    return f"{secs // 86400}d"


def _pod_ready(pod: Obj) -> str:
    statuses = pod.get("status", {}).get("containerStatuses") or []
    total = len(pod.get("spec", {}).get("containers") or [])
    return f"{sum(1 for s in statuses if s.get('ready'))}/{total}"


def _pod_status(pod: Obj) -> str:
    if pod.get("metadata", {}).get("deletionTimestamp"):
        return "Terminating"
    status = pod.get("status", {})
    for s in status.get("containerStatuses") or []:
        state = s.get("state") or {}
        if "waiting" in state and state["waiting"].get("reason"):
            return str(state["waiting"]["reason"])
        if "terminated" in state and state["terminated"].get("reason") and status.get("phase") != "Succeeded":
            return str(state["terminated"]["reason"])
    return str(status.get("reason") or status.get("phase") or "Unknown")


def _restarts(pod: Obj) -> int:
    return sum(int(s.get("restartCount", 0)) for s in pod.get("status", {}).get("containerStatuses") or [])


def _node_status(node: Obj) -> str:
    conditions = node.get("status", {}).get("conditions") or []
    ready = next((c for c in conditions if c.get("type") == "Ready"), None)
    out = "Ready" if ready and ready.get("status") == "True" else "NotReady"
    if node.get("spec", {}).get("unschedulable"):
        out += ",SchedulingDisabled"
    return out


def _node_ip(node: Obj, kind: str) -> str:
    for a in node.get("status", {}).get("addresses") or []:
        if a.get("type") == kind:
            return str(a.get("address", ""))
    return "<none>"


def _roles(node: Obj) -> str:
    prefix = "node-role.kubernetes.io/"
    roles = [k[len(prefix):] for k in (node.get("metadata", {}).get("labels") or {}) if k.startswith(prefix)]
    return ",".join(roles) or "<none>"


def _name(o: Obj) -> str:
    return str(o.get("metadata", {}).get("name", ""))


def _int(o: Obj, *path: str) -> int:
    cur: Any = o
    for p in path:
        cur = cur.get(p, {}) if isinstance(cur, dict) else {}
    return cur if isinstance(cur, int) else 0


def _svc_external(svc: Obj) -> str:
    spec = svc.get("spec") or {}
    if spec.get("type") == "ExternalName":
        return str(spec.get("externalName", ""))
    ingress = [str(i.get("ip") or i.get("hostname") or "") for i in
               ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []]
    external = [*ingress, *(spec.get("externalIPs") or [])]
    if external:
        return ",".join(external)
    return "<pending>" if spec.get("type") == "LoadBalancer" else "<none>"


def _svc_ports(svc: Obj) -> str:
    out = []
    for p in (svc.get("spec") or {}).get("ports") or []:
        node = f":{p['nodePort']}" if p.get("nodePort") else ""
        out.append(f"{p.get('port')}{node}/{p.get('protocol', 'TCP')}")
    return ",".join(out) or "<none>"


def _more(items: list[str], unset: str) -> str:
    if not items:
        return unset
    shown = ",".join(items[:3])
    return f"{shown} + {len(items) - 3} more..." if len(items) > 3 else shown


def _slice_ports(s: Obj) -> str:
    return _more([str(p.get("port")) for p in s.get("ports") or [] if p.get("port") is not None], "<unset>")


def _slice_endpoints(s: Obj) -> str:
    return _more([a for ep in s.get("endpoints") or [] for a in ep.get("addresses") or []], "<unset>")


def _endpoints(ep: Obj) -> str:
    pairs = []
    for subset in ep.get("subsets") or []:
        for address in subset.get("addresses") or []:
            for port in subset.get("ports") or [{}]:
                ip = str(address.get("ip"))
                pairs.append(f"{ip}:{port['port']}" if port.get("port") else ip)
    return _more(pairs, "<none>")


COLUMNS: dict[GVR, list[Column]] = {
    PODS: [
        ("Name", 0, _name), ("Ready", 0, _pod_ready), ("Status", 0, _pod_status),
        ("Restarts", 0, _restarts), ("Age", 0, age),
        ("IP", 1, lambda p: p.get("status", {}).get("podIP") or "<none>"),
        ("Node", 1, lambda p: p.get("spec", {}).get("nodeName") or "<none>"),
        ("Nominated Node", 1, lambda p: p.get("status", {}).get("nominatedNodeName") or "<none>"),
        ("Readiness Gates", 1, lambda p: "<none>"),
    ],
    NODES: [
        ("Name", 0, _name), ("Status", 0, _node_status), ("Roles", 0, _roles), ("Age", 0, age),
        ("Version", 0, lambda n: n.get("status", {}).get("nodeInfo", {}).get("kubeletVersion", "")),
        ("Internal-IP", 1, lambda n: _node_ip(n, "InternalIP")),
        ("External-IP", 1, lambda n: _node_ip(n, "ExternalIP")),
        ("OS-Image", 1, lambda n: n.get("status", {}).get("nodeInfo", {}).get("osImage", "")),
        ("Kernel-Version", 1, lambda n: n.get("status", {}).get("nodeInfo", {}).get("kernelVersion", "")),
        ("Container-Runtime", 1,
         lambda n: n.get("status", {}).get("nodeInfo", {}).get("containerRuntimeVersion", "")),
    ],
    DEPLOYMENTS: [
        ("Name", 0, _name),
        ("Ready", 0, lambda d: f"{_int(d, 'status', 'readyReplicas')}/{_int(d, 'spec', 'replicas')}"),
        ("Up-to-date", 0, lambda d: _int(d, "status", "updatedReplicas")),
        ("Available", 0, lambda d: _int(d, "status", "availableReplicas")),
        ("Age", 0, age),
    ],
    REPLICASETS: [
        ("Name", 0, _name), ("Desired", 0, lambda r: _int(r, "spec", "replicas")),
        ("Current", 0, lambda r: _int(r, "status", "replicas")),
        ("Ready", 0, lambda r: _int(r, "status", "readyReplicas")), ("Age", 0, age),
    ],
    STATEFULSETS: [
        ("Name", 0, _name),
        ("Ready", 0, lambda s: f"{_int(s, 'status', 'readyReplicas')}/{_int(s, 'spec', 'replicas')}"),
        ("Age", 0, age),
    ],
    SERVICES: [
        ("Name", 0, _name), ("Type", 0, lambda s: (s.get("spec") or {}).get("type", "ClusterIP")),
        ("Cluster-IP", 0, lambda s: (s.get("spec") or {}).get("clusterIP") or "<none>"),
        ("External-IP", 0, _svc_external), ("Port(s)", 0, _svc_ports), ("Age", 0, age),
        ("Selector", 1, lambda s: ",".join(f"{k}={v}" for k, v in (
            (s.get("spec") or {}).get("selector") or {}).items()) or "<none>"),
    ],
    ENDPOINTSLICES: [
        ("Name", 0, _name), ("AddressType", 0, lambda s: s.get("addressType", "")),
        ("Ports", 0, _slice_ports), ("Endpoints", 0, _slice_endpoints), ("Age", 0, age),
    ],
    ENDPOINTS: [("Name", 0, _name), ("Endpoints", 0, _endpoints), ("Age", 0, age)],
    NAMESPACES: [("Name", 0, _name), ("Status", 0, lambda n: (n.get("status") or {}).get("phase", "")),
                 ("Age", 0, age)],
    CONFIGMAPS: [("Name", 0, _name),
                 ("Data", 0, lambda c: len(c.get("data") or {}) + len(c.get("binaryData") or {})),
                 ("Age", 0, age)],
    SECRETS: [("Name", 0, _name), ("Type", 0, lambda x: x.get("type", "")),
              ("Data", 0, lambda x: len(x.get("data") or {})), ("Age", 0, age)],
    SERVICEACCOUNTS: [("Name", 0, _name), ("Secrets", 0, lambda x: len(x.get("secrets") or [])),
                      ("Age", 0, age)],
    PDBS: [
        ("Name", 0, _name),
        ("Min Available", 0, lambda p: str((p.get("spec") or {}).get("minAvailable", "N/A"))),
        ("Max Unavailable", 0, lambda p: str((p.get("spec") or {}).get("maxUnavailable", "N/A"))),
        ("Allowed Disruptions", 0, lambda p: _int(p, "status", "disruptionsAllowed")), ("Age", 0, age),
    ],
    LEASES: [
        ("Name", 0, _name),
        ("Holder", 0, lambda lease: (lease.get("spec") or {}).get("holderIdentity") or ""),
        ("Age", 0, age),
    ],
}
_INTEGER_COLUMNS = frozenset({"Restarts", "Data", "Secrets", "Allowed Disruptions"})
DEFAULT_COLUMNS: list[Column] = [("Name", 0, _name), ("Age", 0, age)]


def _row_object(obj: Obj, include: str) -> Obj | None:
    if include == "None":
        return None
    if include == "Object":
        return obj
    return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
            "metadata": obj.get("metadata", {})}


def table(gvr: GVR, objs: list[Obj], resource_version: str, include: str = "Metadata",
          with_columns: bool = True) -> Obj:
    cols = COLUMNS.get(gvr, DEFAULT_COLUMNS)
    defs = [{"name": n, "type": "integer" if n in _INTEGER_COLUMNS else "string",
             "format": "name" if n == "Name" else "", "description": "", "priority": p}
            for n, p, _ in cols] if with_columns else []
    rows = []
    for o in objs:
        row: Obj = {"cells": [cell(o) for _, _, cell in cols]}
        ro = _row_object(o, include)
        if ro is not None:
            row["object"] = ro
        rows.append(row)
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1",
            "metadata": {"resourceVersion": resource_version},
            "columnDefinitions": defs, "rows": rows}
