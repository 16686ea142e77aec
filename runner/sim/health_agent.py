"""The node health agent: a stand-in for NVIDIA NVSentinel in the embedded cluster.

It follows the container logs of every pod bound to a node (the files runner/sim/logs.py
describes) for the shim's `[XID <n> SIM]` lines, and works out which GPU of the node faulted, as
NVSentinel reads it from the kernel's XID message: a GPU the line names (UUID or PCI bus id), else
the GPUs the kubelet assigned to that container (the node's pod-resources file, remembered after
the pod is gone), narrowed to the GPUs the node's armed toggle file concerns (`gpus=`: indexes or
UUIDs, absent or `all` = every GPU; read tolerantly); a line it cannot attribute concerns every
GPU the fault does. For a node-scoped XID (runner/xid.py: 79, 48, 95, 74) it does what
NVSentinel's health monitor + fault-quarantine do to the node:
  - node condition `GpuXidError` = True, reason `Xid<n>`, message naming the XID and the GPU like
    NVSentinel's (`XID 79 on GPU 00000000:3B:00.0 (GPU-...): <what it means>. <pod>: <line>`);
  - cordon: `spec.unschedulable: true`, label `chaos.dev/gpu-health=unhealthy`, annotations
    `chaos.dev/xid=<n>` and `chaos.dev/faulty-gpus` (JSON: [{index, uuid, pci_bus_id, xid}]; a later
    XID on another GPU of the cordoned node is added to it and to the condition message);
  - a Warning Event `GpuXidError` on the node.
For a process-scoped XID (94, 43) it does not cordon and sets no condition: it records Warning
Events on the pod and the node naming the GPU; a restart in place recovers.
When someone else uncordons a node it had cordoned (an operator, a `chaos` uncordon step), the
agent takes that as "the GPU was reset": it sets the condition to False (reason `GpuReset`) and
removes its label and annotations. A short while after cordoning (`drain_delay_s`, 10 s scaled by
the cluster's time scale) it drains the node as NVSentinel's node-drainer does: controller-owned
pods are evicted (deleted) so their controllers recreate them elsewhere; bare pods are left alone.
Once no toggle file on the node's disk arms a fault for its faulty GPUs any more (the run disarmed
it, its dead-man expiry lapsed, or it now names other GPUs), and no fault map does either (with
`toggle-via: configmap` the node's state is its key in a ConfigMap labelled
`chaos.dev/role=fault-map`; a map once seen for the node and now gone counts as disarmed), the
agent resets the node after
`reset_delay_s` (30 s scaled): uncordons it and clears the condition and its annotations, as
NVSentinel's remediation would after a GPU reset.

Reference names, for whoever maps this to a real cluster (approximations from NVSentinel's public
docs, not a contract): NVSentinel's health monitors set a node condition per check (the syslog
monitor's XID check; condition type in the SysLogsXIDError family), fault-quarantine cordons
and may taint/label the node (a `dgxc.nvidia.com/nvsentinel-state`-style label and a
`quarantineHealthEvent` annotation), and marks a manual uncordon with the annotation
`quarantinedNodeUncordonedManually` (documented in its runbooks), after which it does not re-cordon
for the same event. Our names are deliberately in our own `chaos.dev/` space.
It must not run processes or touch anything but nodes, the pods it drains, and events.
"""

from __future__ import annotations

import json
import logging
import re
import time
from pathlib import Path

from runner.errors import ClusterError, NotFound
from runner.kernel.labels import FAULT_MAP_ROLE, ROLE_LABEL
from runner.shimwire import TOGGLE_FILE_NAME, XID_LINE, ToggleState, parse_toggle
from runner.sim import events
from runner.sim.logs import PodLogs
from runner.sim.loop import Loop
from runner.sim.nodes import GpuDevice, gpus_of, read_pod_resources
from runner.sim.podstatus import get_condition, set_condition
from runner.sim.resources import CONFIGMAPS, NODES, PODS
from runner.sim.store import Obj, Store
from runner.xid import CATALOGUE, Scope

log = logging.getLogger(__name__)

COMPONENT = "chaos-health-agent"
CONDITION = "GpuXidError"
HEALTH_LABEL = "chaos.dev/gpu-health"
XID_ANNOTATION = "chaos.dev/xid"
FAULTY_GPUS_ANNOTATION = "chaos.dev/faulty-gpus"
_UUID_IN_LINE = re.compile(r"GPU-[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_PCI_IN_LINE = re.compile(r"\b(?:[0-9a-fA-F]{4,8}:)?[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7]\b")
XID_LINE_BYTES = re.compile(XID_LINE.pattern.encode())  # container logs are read as bytes
MERGE = "application/merge-patch+json"


def _read_toggle(path: Path) -> ToggleState | None:
    try:
        return parse_toggle(path.read_text(errors="replace"))
    except OSError:
        return None


def _normal_pci(text: str) -> str:
    """`3b:00.0`, `0000:3B:00.0`, `00000000:3b:00.0` -> `00000000:3B:00.0`."""
    parts = text.upper().split(":")
    domain = parts[0] if len(parts) == 3 else "0"
    return f"{int(domain, 16):08X}:{parts[-2]}:{parts[-1]}"


def toggle_gpus(state: ToggleState, gpus: list[GpuDevice]) -> set[int] | None:
    """The node's GPU indexes a toggle's fault concerns; None for all of them. Read as the shim
    reads `gpus=` (comma-separated indexes or UUIDs; absent, empty or `all`: every GPU); entries
    that name no GPU of the node are ignored, so a list of only those concerns none."""
    tokens = [t.strip() for t in state.gpus if t.strip()]
    if not tokens or "all" in tokens:
        return None
    by_uuid = {g.uuid.lower(): g.index for g in gpus}
    by_pci = {g.pci_bus_id: g.index for g in gpus}
    indexes = {g.index for g in gpus}
    out: set[int] = set()
    for token in tokens:
        if token.isdigit() and int(token) in indexes:
            out.add(int(token))
        elif token.lower() in by_uuid:
            out.add(by_uuid[token.lower()])
        elif _PCI_IN_LINE.fullmatch(token) and _normal_pci(token) in by_pci:
            out.add(by_pci[_normal_pci(token)])
    return out


def describe(gpus: list[GpuDevice]) -> str:
    """`00000000:3B:00.0 (GPU-...)`, comma-separated: how the condition message names GPUs."""
    return ", ".join(f"{g.pci_bus_id} ({g.uuid})" for g in gpus) or "unknown"


class HealthAgent(Loop):
    name = "health-agent"
    watches = (NODES,)
    resync_s = 0.1  # log files give no wake-up; this is how often they are read

    def __init__(self, store: Store, logs: PodLogs, drain_delay_s: float = 0.0,
                 nodes_root: Path | None = None, reset_delay_s: float = 0.0) -> None:
        super().__init__(store)
        self.logs = logs
        self.drain_delay_s = drain_delay_s
        self.nodes_root = nodes_root  # <cluster root>/nodes: each node's disk (None: never reset)
        self.reset_delay_s = reset_delay_s
        self._offsets: dict[Path, int] = {}
        self._assigned: dict[tuple[str, str], list[str]] = {}  # (pod uid, container) -> GPU UUIDs
        self._drains: dict[str, tuple[float, int]] = {}  # node -> (drain at monotonic, xid)
        self._resets: dict[str, float] = {}  # node -> reset at monotonic, once its fault is gone
        self._mapped: set[str] = set()  # nodes a fault map has had a key for

    def reconcile(self) -> None:
        now = time.monotonic()
        for due, (when, xid) in list(self._drains.items()):
            if now >= when:
                del self._drains[due]
                self._drain(due, xid)
        nodes = {n["metadata"]["name"]: n for n in self.store.list(NODES)[0]}
        for node in nodes.values():
            self._maybe_reset(node)
            self._maybe_remediate(node, now)
        if self.nodes_root is not None:
            for name in nodes:  # remembered: a line may be read after its pod is gone
                self._assigned.update(read_pod_resources(self.nodes_root / name))
        pods, _ = self.store.list(PODS)
        for pod in pods:
            node_name = (pod.get("spec") or {}).get("nodeName")
            if not node_name or node_name not in nodes:
                continue
            for xid, line, container in self._new_lines(pod):
                try:
                    gpus = self._faulted(nodes[node_name], pod, container, line)
                    self._handle(xid, line, pod, node_name, gpus)
                except ClusterError:
                    log.debug("health agent: handling XID %s deferred", xid, exc_info=True)

    def _new_lines(self, pod: Obj) -> list[tuple[int, str, str]]:
        meta = pod["metadata"]
        spec = pod.get("spec") or {}
        found: list[tuple[int, str, str]] = []
        for c in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]:
            name = str(c.get("name", ""))
            for run in self.logs.restarts(meta["namespace"], meta["name"], name):
                path = self.logs.root / "logs" / meta["namespace"] / meta["name"] / name / f"{run}.log"
                start = self._offsets.get(path, 0)
                try:
                    with path.open("rb") as fh:
                        fh.seek(start)
                        data = fh.read()
                except OSError:
                    continue
                complete = data.rfind(b"\n") + 1  # a partial last line is read next time
                self._offsets[path] = start + complete
                for m in XID_LINE_BYTES.finditer(data[:complete]):
                    found.append((int(m.group(1)), m.group(0).decode(errors="replace").strip(), name))
        return found

    def _faulted(self, node: Obj, pod: Obj, container: str, line: str) -> list[GpuDevice]:
        """Which of the node's GPUs an XID line of `container` is about (see the module's doc)."""
        gpus = gpus_of(node)
        named = {u.lower() for u in _UUID_IN_LINE.findall(line)}
        pcis = {_normal_pci(p) for p in _PCI_IN_LINE.findall(line)}
        hit = [g for g in gpus if g.uuid.lower() in named or g.pci_bus_id in pcis]
        if hit:
            return hit
        concerned = self._fault_scope(node["metadata"]["name"], gpus)
        assigned = set(self._assigned.get((str(pod["metadata"].get("uid")), container), []))
        mine = [g for g in gpus if g.uuid in assigned]
        narrowed = [g for g in mine if concerned is None or g.index in concerned]
        if narrowed:
            return narrowed
        if mine:
            return mine
        return [g for g in gpus if concerned is None or g.index in concerned]

    def _fault_scope(self, node_name: str, gpus: list[GpuDevice]) -> set[int] | None:
        """The GPU indexes the node's armed toggle files concern (None: all; empty: none armed)."""
        if self.nodes_root is None:
            return None
        now = time.time()
        out: set[int] = set()
        for state in self._toggle_states(node_name)[0]:
            if state is None or not state.active(now):
                continue
            concerned = toggle_gpus(state, gpus)
            if concerned is None:
                return None
            out |= concerned
        return out or None  # nothing armed that we can read: the fault came another way

    def _handle(self, xid: int, line: str, pod: Obj, node_name: str, gpus: list[GpuDevice]) -> None:
        info = CATALOGUE.get(xid)
        meta = pod["metadata"]
        where = f"pod {meta['namespace']}/{meta['name']}"
        if info is None or info.scope is not Scope.NODE:
            what = f"process-scoped XID {xid} on GPU {describe(gpus)} of {node_name}: {line}"
            events.emit(self.store, pod, CONDITION, what, COMPONENT, type_="Warning", host=node_name)
            node = self.store.get(NODES, None, node_name)
            events.emit(self.store, node, CONDITION, f"{what} ({where}; not cordoned)", COMPONENT,
                        type_="Warning", host=node_name)
            return
        node = self.store.get(NODES, None, node_name)
        cond = get_condition(node.get("status") or {}, CONDITION)
        annotations = node["metadata"].get("annotations") or {}
        try:
            recorded = [dict(g) for g in json.loads(annotations.get(FAULTY_GPUS_ANNOTATION) or "[]")]
        except (ValueError, TypeError):
            recorded = []
        known = {str(g.get("uuid")) for g in recorded}
        fresh = [g for g in gpus if g.uuid not in known]
        already = cond is not None and cond.get("status") == "True" and bool(
            (node.get("spec") or {}).get("unschedulable"))
        if already and not fresh:
            return
        faulty = recorded + [{**g.as_dict(), "xid": xid} for g in fresh]
        message = f"XID {xid} on GPU {describe(fresh)}: {info.title}. {where}: {line}"
        if already and cond is not None:
            message = f"{cond.get('message', '')}; {message}"
        self.store.patch(NODES, None, node_name, MERGE, {
            "metadata": {"labels": {HEALTH_LABEL: "unhealthy"},
                         "annotations": {XID_ANNOTATION: annotations.get(XID_ANNOTATION) or str(xid),
                                         FAULTY_GPUS_ANNOTATION: json.dumps(faulty)}},
            "spec": {"unschedulable": True},
        })
        self._set_condition(node_name, "True", str(cond.get("reason")) if already and cond else f"Xid{xid}",
                            message)
        node = self.store.get(NODES, None, node_name)
        events.emit(self.store, node, CONDITION,
                    f"XID {xid} ({info.title}) on GPU {describe(fresh)} of {node_name}: cordoned. {line}",
                    COMPONENT, type_="Warning", host=node_name)
        # like NVSentinel, drain a moment after quarantine (the crash is on record by then)
        self._drains.setdefault(node_name, (time.monotonic() + self.drain_delay_s, xid))

    def _drain(self, node_name: str, xid: int) -> None:
        """Evict the node's controller-owned pods, as NVSentinel's node-drainer does after
        quarantine: a crash-looping pod stays bound to its node forever otherwise, so only this
        lets the workload's controller recreate it on a healthy node. Bare pods (no owner) are left
        alone, as `kubectl drain` leaves them without --force."""
        pods, _ = self.store.list(PODS, field_selector=f"spec.nodeName={node_name}")
        for pod in pods:
            if not pod["metadata"].get("ownerReferences"):
                continue
            meta = pod["metadata"]
            try:
                self.store.delete(PODS, meta["namespace"], meta["name"])
            except NotFound:
                continue
            events.emit(self.store, pod, "Evicted",
                        f"drained from {node_name} after XID {xid} (node quarantined)",
                        COMPONENT, type_="Warning", host=node_name)

    def _maybe_reset(self, node: Obj) -> None:
        cond = get_condition(node.get("status") or {}, CONDITION)
        labels = node["metadata"].get("labels") or {}
        if cond is None or cond.get("status") != "True" or (node.get("spec") or {}).get("unschedulable"):
            return
        if labels.get(HEALTH_LABEL) != "unhealthy":
            return
        name = node["metadata"]["name"]
        try:
            self.store.patch(NODES, None, name, MERGE, {
                "metadata": {"labels": {HEALTH_LABEL: None},
                             "annotations": {XID_ANNOTATION: None, FAULTY_GPUS_ANNOTATION: None}}})
            self._set_condition(name, "False", "GpuReset", "node uncordoned: GPU considered reset")
            events.emit(self.store, node, "GpuReset", f"{name} was uncordoned: XID condition cleared",
                        COMPONENT, host=name)
        except NotFound:
            return

    def _maybe_remediate(self, node: Obj, now: float) -> None:
        """Stand in for NVSentinel's fault remediation (GPU reset, then uncordon): once the node's
        toggle file no longer arms a fault (disarmed, or lapsed by its expiry), reset
        the node after `reset_delay_s`: uncordon it and clear the condition. While the fault is
        armed the node stays out, as a node-scoped XID does until its GPU is reset."""
        name = node["metadata"]["name"]
        labels = node["metadata"].get("labels") or {}
        ours = labels.get(HEALTH_LABEL) == "unhealthy" and (node.get("spec") or {}).get("unschedulable")
        if self.nodes_root is None or not ours or not self._fault_cleared(node):
            self._resets.pop(name, None)
            return
        due = self._resets.setdefault(name, now + self.reset_delay_s)
        if now < due or name in self._drains:
            return
        del self._resets[name]
        try:
            self.store.patch(NODES, None, name, MERGE, {
                "metadata": {"labels": {HEALTH_LABEL: None},
                             "annotations": {XID_ANNOTATION: None, FAULTY_GPUS_ANNOTATION: None}},
                "spec": {"unschedulable": None}})
            self._set_condition(name, "False", "GpuReset", "fault cleared: GPU reset, node uncordoned")
            events.emit(self.store, node, "GpuReset", f"{name}: fault cleared, GPU reset, uncordoned",
                        COMPONENT, host=name)
        except NotFound:
            return

    def _toggle_states(self, node_name: str) -> tuple[list[ToggleState | None], bool]:
        """The node's fault states (its toggle files, its keys in fault maps), and whether there is
        any evidence of how its fault was armed (a file, or a fault map that had a key for it)."""
        assert self.nodes_root is not None
        states = [_read_toggle(p) for p in (self.nodes_root / node_name).rglob(TOGGLE_FILE_NAME)]
        maps, _ = self.store.list(CONFIGMAPS, label_selector=f"{ROLE_LABEL}={FAULT_MAP_ROLE}")
        for cm in maps:
            value = (cm.get("data") or {}).get(node_name)
            if value is not None:
                states.append(parse_toggle(str(value)))
                self._mapped.add(node_name)
        return states, bool(states) or node_name in self._mapped

    def _fault_cleared(self, node: Obj) -> bool:
        """A toggle file is on the node's disk (or a fault map had a key for it) and none of them
        arms a fault for the node's faulty GPUs now. No file at all is no evidence of a reset (the
        fault may be armed another way), so the node stays out."""
        assert self.nodes_root is not None
        name = node["metadata"]["name"]
        gpus = gpus_of(node)
        try:
            faulty = {int(g["index"]) for g in json.loads(
                (node["metadata"].get("annotations") or {}).get(FAULTY_GPUS_ANNOTATION) or "[]")}
        except (ValueError, TypeError, KeyError):
            faulty = set()
        states, evidence = self._toggle_states(name)
        now = time.time()

        def concerns(state: ToggleState) -> bool:
            scope = toggle_gpus(state, gpus)
            return scope is None or not faulty or bool(scope & faulty)

        return evidence and not any(s is not None and s.active(now) and concerns(s) for s in states)

    def _set_condition(self, node_name: str, value: str, reason: str, message: str) -> None:
        for _ in range(5):
            node = self.store.get(NODES, None, node_name)
            status = node.setdefault("status", {})
            if not set_condition(status, CONDITION, value, reason, message):
                return
            for c in status["conditions"]:
                if c.get("type") == CONDITION:
                    c.pop("lastProbeTime", None)
                    c["lastHeartbeatTime"] = c.get("lastTransitionTime")
            try:
                self.store.update(NODES, node, subresource="status")
                return
            except ClusterError as exc:
                if exc.status != 409:
                    raise
