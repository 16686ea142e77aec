"""Which kinds the embedded API server knows: the registry of resources keyed by GVR.

It exists so that the store, the HTTP layer and the patch code agree on one description of each
resource (kind, scope, subresources, strategic-merge keys). Custom resources join the registry when
their CustomResourceDefinition is created and leave it when the CRD is deleted. It must not hold
objects or know about HTTP.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, NamedTuple


class GVR(NamedTuple):
    """A resource as the API names it: group ("" for core), version, plural."""

    group: str
    version: str
    plural: str

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def __str__(self) -> str:
        return f"{self.plural}.{self.group}" if self.group else self.plural


@dataclass(frozen=True)
class ResourceInfo:
    """What the server must know about one resource."""

    gvr: GVR
    kind: str
    namespaced: bool
    subresources: frozenset[str] = frozenset()
    short_names: tuple[str, ...] = ()
    # True for built-in kinds: strategic merge patch is allowed (415 for custom resources).
    builtin: bool = True
    singular: str = ""
    list_kind: str = ""
    categories: tuple[str, ...] = ()

    @property
    def has_status(self) -> bool:
        return "status" in self.subresources

    @property
    def kind_list(self) -> str:
        return self.list_kind or f"{self.kind}List"

    @property
    def singular_name(self) -> str:
        return self.singular or self.kind.lower()


# Strategic merge keys of list fields, by field name. Real Kubernetes attaches these to struct
# fields; every list below carries the same key wherever it appears in the built-in kinds we serve,
# so a name-keyed table is enough.
STRATEGIC_MERGE_KEYS: dict[str, str] = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "env": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "volumeDevices": "devicePath",
    "ports": "containerPort",
    "tolerations": "key",
    "imagePullSecrets": "name",
    "conditions": "type",
    "ownerReferences": "uid",
    "hostAliases": "ip",
    "topologySpreadConstraints": "topologyKey",
}
# Lists of scalars that strategic merge treats as sets (merged, de-duplicated).
STRATEGIC_SET_LISTS: frozenset[str] = frozenset({"finalizers"})

CORE = ""
APPS = "apps"
APIEXT = "apiextensions.k8s.io"
EVENTS = "events.k8s.io"
COORDINATION = "coordination.k8s.io"
DISCOVERY = "discovery.k8s.io"
POLICY = "policy"

NAMESPACES = GVR(CORE, "v1", "namespaces")
NODES = GVR(CORE, "v1", "nodes")
PODS = GVR(CORE, "v1", "pods")
CONFIGMAPS = GVR(CORE, "v1", "configmaps")
CORE_EVENTS = GVR(CORE, "v1", "events")
EVENTS_V1 = GVR(EVENTS, "v1", "events")
DEPLOYMENTS = GVR(APPS, "v1", "deployments")
REPLICASETS = GVR(APPS, "v1", "replicasets")
STATEFULSETS = GVR(APPS, "v1", "statefulsets")
CRDS = GVR(APIEXT, "v1", "customresourcedefinitions")
LEASES = GVR(COORDINATION, "v1", "leases")
SERVICES = GVR(CORE, "v1", "services")
ENDPOINTS = GVR(CORE, "v1", "endpoints")
ENDPOINTSLICES = GVR(DISCOVERY, "v1", "endpointslices")
SECRETS = GVR(CORE, "v1", "secrets")
SERVICEACCOUNTS = GVR(CORE, "v1", "serviceaccounts")
PDBS = GVR(POLICY, "v1", "poddisruptionbudgets")

_WORKLOAD_SUBS = frozenset({"status", "scale"})
_BUILTINS: tuple[ResourceInfo, ...] = (
    ResourceInfo(NAMESPACES, "Namespace", False, frozenset({"status", "finalize"}), ("ns",)),
    ResourceInfo(NODES, "Node", False, frozenset({"status"}), ("no",)),
    ResourceInfo(PODS, "Pod", True, frozenset({"status", "log", "binding", "proxy", "eviction"}), ("po",),
                 categories=("all",)),
    ResourceInfo(CONFIGMAPS, "ConfigMap", True, frozenset(), ("cm",)),
    ResourceInfo(CORE_EVENTS, "Event", True, frozenset(), ("ev",)),
    ResourceInfo(EVENTS_V1, "Event", True, frozenset(), ("ev",)),
    ResourceInfo(DEPLOYMENTS, "Deployment", True, _WORKLOAD_SUBS, ("deploy",), categories=("all",)),
    ResourceInfo(REPLICASETS, "ReplicaSet", True, _WORKLOAD_SUBS, ("rs",), categories=("all",)),
    ResourceInfo(STATEFULSETS, "StatefulSet", True, _WORKLOAD_SUBS, ("sts",), categories=("all",)),
    ResourceInfo(CRDS, "CustomResourceDefinition", False, frozenset({"status"}), ("crd", "crds")),
    ResourceInfo(LEASES, "Lease", True),
    ResourceInfo(SERVICES, "Service", True, frozenset({"status", "proxy"}), ("svc",), categories=("all",)),
    ResourceInfo(ENDPOINTS, "Endpoints", True, frozenset(), ("ep",), singular="endpoints",
                 list_kind="EndpointsList"),
    ResourceInfo(ENDPOINTSLICES, "EndpointSlice", True),
    ResourceInfo(SECRETS, "Secret", True),
    ResourceInfo(SERVICEACCOUNTS, "ServiceAccount", True, frozenset(), ("sa",)),
    ResourceInfo(PDBS, "PodDisruptionBudget", True, frozenset({"status"}), ("pdb",)),
)

# Kinds whose generation follows spec changes only (others: any change outside metadata/status).
WORKLOADS: frozenset[GVR] = frozenset({DEPLOYMENTS, REPLICASETS, STATEFULSETS})


def crd_resources(crd: dict[str, Any]) -> list[ResourceInfo]:
    """The resources a CustomResourceDefinition object declares (one per served version)."""
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    group = str(spec.get("group", ""))
    plural = str(names.get("plural", ""))
    kind = str(names.get("kind", ""))
    namespaced = spec.get("scope", "Namespaced") == "Namespaced"
    out: list[ResourceInfo] = []
    for version in spec.get("versions") or []:
        if not version.get("served", True):
            continue
        subs = set((version.get("subresources") or {}).keys())
        out.append(ResourceInfo(
            GVR(group, str(version.get("name", "")), plural), kind, namespaced,
            frozenset(subs), tuple(names.get("shortNames") or ()), builtin=False,
            singular=str(names.get("singular", "")), list_kind=str(names.get("listKind", "")),
            categories=tuple(names.get("categories") or ()),
        ))
    return out


@dataclass
class Registry:
    """The resources the server currently serves; thread-safe (CRDs come and go at run time)."""

    _by_gvr: dict[GVR, ResourceInfo] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def with_builtins(cls) -> Registry:
        reg = cls()
        for info in _BUILTINS:
            reg._by_gvr[info.gvr] = info
        return reg

    def get(self, gvr: GVR) -> ResourceInfo | None:
        with self._lock:
            return self._by_gvr.get(gvr)

    def all(self) -> list[ResourceInfo]:
        with self._lock:
            return list(self._by_gvr.values())

    def register_crd(self, crd: dict[str, Any]) -> None:
        with self._lock:
            for info in crd_resources(crd):
                self._by_gvr[info.gvr] = info

    def unregister_crd(self, crd: dict[str, Any]) -> None:
        with self._lock:
            for info in crd_resources(crd):
                current = self._by_gvr.get(info.gvr)
                if current is not None and not current.builtin:
                    del self._by_gvr[info.gvr]

    def groups(self) -> dict[str, list[str]]:
        """group -> served versions (core excluded), in registration order."""
        out: dict[str, list[str]] = {}
        with self._lock:
            for gvr in self._by_gvr:
                if gvr.group and gvr.version not in out.setdefault(gvr.group, []):
                    out[gvr.group].append(gvr.version)
        return out
