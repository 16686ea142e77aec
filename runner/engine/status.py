"""`chaos status`: what chaos has in a cluster right now (the first thing an on-call engineer runs).

Read-only. Four lists, each from the cluster alone (so it works from any machine):
- installs: the install records (journal copies `chaos-journal-install-…`, runner/engine/install.py)
  with what they delivered;
- Leases: every Lease labelled as ours in the state namespace, with its holder, host, start and how
  long ago it was last renewed (on the API server's clock);
- journals: every run's journal copy with changes not yet undone (a dead or running run);
- armed nodes: with `toggle-via: configmap`, every key of a fault map (ConfigMaps labelled
  `chaos.dev/role=fault-map`) that is armed, with its `expires=`; with hostPath the toggle file is
  on the node and cannot be read without a pod, so a node counts as armed while a live journal
  holds its disarm not yet done (the file's own `expires=` lapses it regardless).
It never changes anything, and never prints journal contents beyond their one-line descriptions.
"""

from __future__ import annotations

import calendar
import json
import time
from dataclasses import dataclass, field
from typing import Any

from runner.cluster.protocol import Cluster
from runner.engine.executor import LEASE_STEP
from runner.engine.install import ANNOTATION
from runner.engine.journal import MIRROR_PREFIX, mirror_ref, parse_journal
from runner.engine.leases import ENGINE_UNDO_KINDS, LEASE_API, holder_of
from runner.engine.recover import cluster_journals
from runner.errors import ChaosError, ClusterError
from runner.kernel.clock import Clock, SystemClock
from runner.kernel.labels import FAULT_MAP_ROLE, ROLE_LABEL, is_install, run_selector
from runner.kernel.undo import UndoKinds
from runner.shimwire import parse_toggle


def _unix(micro: str) -> float | None:
    try:
        return float(calendar.timegm(time.strptime(micro.split(".")[0].rstrip("Z"), "%Y-%m-%dT%H:%M:%S")))
    except (ValueError, AttributeError):
        return None


def _when(unix: float | None, now: float) -> str:
    if unix is None:
        return "?"
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(unix))
    return f"{stamp} ({max(0, int(now - unix))}s ago)"


@dataclass
class Status:
    now: float
    state_namespace: str
    installs: list[dict[str, Any]] = field(default_factory=list)
    leases: list[dict[str, Any]] = field(default_factory=list)
    journals: list[dict[str, Any]] = field(default_factory=list)
    armed: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.installs or self.leases or self.journals or self.armed)

    def to_json(self) -> dict[str, Any]:
        return {"state_namespace": self.state_namespace, "now": self.now, "installs": self.installs,
                "leases": self.leases, "journals": self.journals, "armed_nodes": self.armed,
                "notes": self.notes}

    def lines(self) -> list[str]:
        out = [f"installs ({len(self.installs)}):"]
        out += [f"  {i['id']}: {i['workload']} (source {i['source']}, toggle-via {i['toggle_via']}, "
                f"disarmed until a run arms it; since {_when(i['since'], self.now)})"
                + ("" if i["complete"] else " INCOMPLETE: the install did not finish; chaos uninstall")
                for i in self.installs] or ["  none"]
        out.append(f"runs holding a Lease ({len(self.leases)}):")
        out += [_lease_line(ls) for ls in self.leases] or ["  none"]
        out.append(f"journals with changes not undone ({len(self.journals)}):")
        for j in self.journals:
            out.append(f"  run {j['run_id']} ({j['scenario']}, {j['state']}): {len(j['pending'])} "
                       f"pending; chaos recover --run {j['run_id']}")
            out += [f"    {p}" for p in j["pending"]]
        if not self.journals:
            out.append("  none")
        out.append(f"armed nodes ({len(self.armed)}):")
        out += [self._armed_line(a) for a in self.armed] or ["  none"]
        out += [f"note: {n}" for n in self.notes]
        return out


    def _armed_line(self, armed: dict[str, Any]) -> str:
        expires = armed["expires"]
        if expires is None:
            when = "expiry in the node's toggle file (the dead-man switch)"
        elif expires <= self.now:
            when = f"expired {int(self.now - expires)}s ago (the shim treats it as disarmed)"
        else:
            when = (f"expires {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(expires))} "
                    f"(in {int(expires - self.now)}s)")
        return f"  {armed['node']}: armed by {armed['by']} via {armed['via']}; {when}"


def _lease_line(lease: dict[str, Any]) -> str:
    renewed = "?" if lease["renewed_s_ago"] is None else str(lease["renewed_s_ago"])
    return (f"  {lease['holder']} holds {lease['target'] or lease['name']} from host "
            f"{lease['host'] or '?'}, since {lease['since'] or '?'}, renewed {renewed}s ago "
            f"(lapses {lease['duration_s']}s after the last renewal)")


def status(cluster: Cluster, kinds: UndoKinds, *, state_namespace: str = "chaos-system",
           namespace: str | None = None, clock: Clock | None = None) -> Status:
    """What chaos has in the cluster now; `namespace` limits installs, journals and fault maps to
    one target namespace (Leases are all in the state namespace)."""
    clock = clock or SystemClock()
    kinds = kinds.including(*ENGINE_UNDO_KINDS)
    now = cluster.server_time() or clock.time()
    found = Status(now, state_namespace)
    for rid, ns, text in cluster_journals(cluster, namespace=state_namespace):
        try:
            contents = parse_journal(text, kinds, f"ConfigMap {ns}/{MIRROR_PREFIX}{rid}")
            pending = [p for p in contents.pending() if p.step != LEASE_STEP]
        except ChaosError as exc:
            found.journals.append({"run_id": rid, "scenario": "?", "state": "unreadable",
                                   "pending": [f"cannot read the journal: {exc}"]})
            continue
        if namespace and contents.namespace != namespace:
            continue
        start = contents.start
        if is_install(rid):
            found.installs.append(_install(cluster, rid, state_namespace, start, contents.ended))
            continue
        ended = contents.ended
        state = (f"ended {ended.get('verdict')}" if ended else "running or dead")
        if pending:
            found.journals.append({"run_id": rid, "scenario": str(start.get("scenario", "?")),
                                   "state": state, "workload": str(start.get("workload", "")),
                                   "pending": [p.action.describe() for p in reversed(pending)]})
        for item in pending:  # hostPath: armed while a live journal holds its disarm
            data = item.action.to_json()
            if getattr(item.action, "marks", "") == "fault-disarmed" and "toggle_dir" in data:
                found.armed.append({"node": str(data.get("node")), "by": f"run {rid}",
                                    "via": f"toggle file {data['toggle_dir']} (its disarm is pending "
                                           "in the run's journal)", "expires": None})
    _leases(cluster, found)
    _fault_maps(cluster, found, namespace)
    return found


def _install(cluster: Cluster, rid: str, state_namespace: str, start: dict[str, Any],
             ended: dict[str, Any] | None) -> dict[str, Any]:
    note: dict[str, Any] = {}
    try:
        meta = cluster.get(mirror_ref(rid, state_namespace)).get("metadata", {})
        note = json.loads(((meta.get("annotations") or {}).get(ANNOTATION)) or "{}")
    except (ClusterError, ValueError):
        note = {}
    since = note.get("since")
    return {"id": rid, "workload": str(note.get("workload") or start.get("workload", "?")),
            "source": str(note.get("source", "?")), "toggle_via": str(note.get("toggle-via", "?")),
            "containers": str(note.get("containers", "?")), "scenario": str(note.get("scenario", "?")),
            "since": float(since) if since else start.get("time"),
            "complete": bool(ended and ended.get("verdict") == "passed" and note)}


def _leases(cluster: Cluster, found: Status) -> None:
    try:
        leases, _ = cluster.list(LEASE_API, "Lease", found.state_namespace, label_selector=run_selector())
    except ClusterError as exc:
        found.notes.append(f"cannot list the Leases in {found.state_namespace}: {exc}")
        return
    for lease in leases:
        holder = holder_of(lease)
        spec = lease.get("spec") or {}
        renewed = _unix(str(spec.get("renewTime") or ""))
        meta = lease.get("metadata") or {}
        found.leases.append({"name": str(meta.get("name")), "holder": holder.run_id, "host": holder.host,
                             "since": holder.started,
                             "target": str((meta.get("annotations") or {}).get("chaos.dev/target", "")),
                             "renewed_s_ago": None if renewed is None else max(0, int(found.now - renewed)),
                             "duration_s": spec.get("leaseDurationSeconds")})


def _fault_maps(cluster: Cluster, found: Status, namespace: str | None) -> None:
    try:
        maps, _ = cluster.list("v1", "ConfigMap", namespace,
                               label_selector=f"{run_selector()},{ROLE_LABEL}={FAULT_MAP_ROLE}")
    except ClusterError as exc:
        found.notes.append(f"cannot list the fault maps (toggle-via configmap): {exc}")
        return
    for cm in maps:
        meta = cm.get("metadata", {})
        owner = str((meta.get("labels") or {}).get("chaos.dev/run-id", ""))
        for node, content in sorted((cm.get("data") or {}).items()):
            state = parse_toggle(str(content))
            if state.armed is not True:
                continue
            found.armed.append({"node": node, "by": f"{'install' if is_install(owner) else 'run'} {owner}",
                                "via": f"fault map ConfigMap {meta.get('namespace')}/{meta.get('name')}",
                                "expires": state.expires})
