"""Discovery documents of the embedded API server (`/version`, `/api`, `/apis`, resource lists).

Built from the live registry, so custom resources appear once their CRD exists. Only the legacy
(non-aggregated) documents are served; kubectl falls back to them when the answer is plain JSON.
It must not know about HTTP or objects.
"""

from __future__ import annotations

from typing import Any

from runner.sim.resources import Registry, ResourceInfo

VERSION_INFO: dict[str, str] = {
    "major": "1", "minor": "32", "gitVersion": "v1.32.0-chaos-sim", "gitCommit": "chaos-sim",
    "gitTreeState": "clean", "buildDate": "2025-01-01T00:00:00Z", "goVersion": "go1.23",
    "compiler": "gc", "platform": "linux/amd64",
}
ALL_VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
SUB_VERBS = {"status": ["get", "patch", "update"], "scale": ["get", "patch", "update"], "log": ["get"],
             "binding": ["create"],
             "finalize": ["update"],
             # connect subresources: the verb follows the HTTP method (GET get, POST create, ...)
             "proxy": ["create", "delete", "get", "patch", "update"],
             "eviction": ["create"]}


def api_versions(server_address: str) -> dict[str, Any]:
    return {"kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}]}


def _group_entry(group: str, versions: list[str]) -> dict[str, Any]:
    gvs = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
    return {"name": group, "versions": gvs, "preferredVersion": gvs[0]}


def api_groups(registry: Registry) -> dict[str, Any]:
    return {"kind": "APIGroupList", "apiVersion": "v1",
            "groups": [_group_entry(g, vs) for g, vs in registry.groups().items()]}


def api_group(registry: Registry, group: str) -> dict[str, Any] | None:
    versions = registry.groups().get(group)
    if not versions:
        return None
    return {"kind": "APIGroup", "apiVersion": "v1", **_group_entry(group, versions)}


def _entries(info: ResourceInfo) -> list[dict[str, Any]]:
    main: dict[str, Any] = {
        "name": info.gvr.plural, "singularName": info.singular_name, "namespaced": info.namespaced,
        "kind": info.kind, "verbs": ALL_VERBS,
    }
    if info.short_names:
        main["shortNames"] = list(info.short_names)
    if info.categories:
        main["categories"] = list(info.categories)
    out = [main]
    for sub in sorted(info.subresources):
        kind = {"binding": "Binding", "log": "Pod", "scale": "Scale", "eviction": "Eviction",
                "proxy": f"{info.kind}ProxyOptions"}.get(sub, info.kind)
        entry = {"name": f"{info.gvr.plural}/{sub}", "singularName": "", "namespaced": info.namespaced,
                 "kind": kind, "verbs": SUB_VERBS.get(sub, ["get"])}
        if sub == "scale":
            entry.update({"group": "autoscaling", "version": "v1"})
        elif sub == "eviction":
            entry.update({"group": "policy", "version": "v1"})
        out.append(entry)
    return out


def resource_list(registry: Registry, group: str, version: str) -> dict[str, Any] | None:
    infos = [i for i in registry.all() if i.gvr.group == group and i.gvr.version == version]
    if not infos:
        return None
    gv = f"{group}/{version}" if group else version
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv,
            "resources": [e for i in infos for e in _entries(i)]}
