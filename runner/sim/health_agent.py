"""The node health agent: a stand-in for NVIDIA NVSentinel in the embedded cluster.

It follows the container logs of every pod bound to a node (the files runner/sim/logs.py
describes) for the shim's `[XID <n> SIM]` lines. For a node-scoped XID (runner/xid.py: 79, 48,
95, 74) it does what NVSentinel's health monitor + fault-quarantine do to the node:
  - node condition `GpuXidError` = True, reason `Xid<n>`, message the log line;
  - cordon: `spec.unschedulable: true`, label `chaos.dev/gpu-health=unhealthy`, annotation
    `chaos.dev/xid=<n>`;
  - a Warning Event `GpuXidError` on the node.
For a process-scoped XID (94, 43) it only records a Warning Event on the pod: a restart in place
recovers. When someone else uncordons a node it had cordoned (an operator, a `chaos` uncordon step),
the agent takes that as "the GPU was reset": it sets the condition to False (reason `GpuReset`) and
removes its label and annotation. A short while after cordoning (`drain_delay_s`, 10 s scaled by
the cluster's time scale) it drains the node as NVSentinel's node-drainer does: controller-owned
pods are evicted (deleted) so their controllers recreate them elsewhere; bare pods are left alone.
Once no toggle file on the node's disk arms a fault any more (the run disarmed it, or its dead-man
expiry lapsed), the agent resets the node after `reset_delay_s` (30 s scaled): uncordons it and
clears the condition, as NVSentinel's remediation would after a GPU reset.

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

import logging
import re
import time
from pathlib import Path

from runner.errors import ClusterError, NotFound
from runner.shimwire import TOGGLE_FILE_NAME, XID_LINE, ToggleState, parse_toggle
from runner.sim import events
from runner.sim.logs import PodLogs
from runner.sim.loop import Loop
from runner.sim.podstatus import get_condition, set_condition
from runner.sim.resources import NODES, PODS
from runner.sim.store import Obj, Store
from runner.xid import CATALOGUE, Scope

log = logging.getLogger(__name__)

COMPONENT = "chaos-health-agent"
CONDITION = "GpuXidError"
HEALTH_LABEL = "chaos.dev/gpu-health"
XID_ANNOTATION = "chaos.dev/xid"
XID_LINE_BYTES = re.compile(XID_LINE.pattern.encode())  # container logs are read as bytes
MERGE = "application/merge-patch+json"


def _read_toggle(path: Path) -> ToggleState | None:
    try:
        return parse_toggle(path.read_text(errors="replace"))
    except OSError:
        return None


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
        self._drains: dict[str, tuple[float, int]] = {}  # node -> (drain at monotonic, xid)
        self._resets: dict[str, float] = {}  # node -> reset at monotonic, once its fault is gone

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
        pods, _ = self.store.list(PODS)
        for pod in pods:
            node_name = (pod.get("spec") or {}).get("nodeName")
            if not node_name or node_name not in nodes:
                continue
            for xid, line in self._new_lines(pod):
                try:
                    self._handle(xid, line, pod, node_name)
                except ClusterError:
                    log.debug("health agent: handling XID %s deferred", xid, exc_info=True)

    def _new_lines(self, pod: Obj) -> list[tuple[int, str]]:
        meta = pod["metadata"]
        spec = pod.get("spec") or {}
        found: list[tuple[int, str]] = []
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
                    found.append((int(m.group(1)), m.group(0).decode(errors="replace").strip()))
        return found

    def _handle(self, xid: int, line: str, pod: Obj, node_name: str) -> None:
        info = CATALOGUE.get(xid)
        if info is None or info.scope is not Scope.NODE:
            events.emit(self.store, pod, CONDITION, f"process-scoped XID {xid} on {node_name}: {line}",
                        COMPONENT, type_="Warning", host=node_name)
            return
        node = self.store.get(NODES, None, node_name)
        cond = get_condition(node.get("status") or {}, CONDITION)
        already = cond is not None and cond.get("status") == "True" and bool(
            (node.get("spec") or {}).get("unschedulable"))
        if already:
            return
        self.store.patch(NODES, None, node_name, MERGE, {
            "metadata": {"labels": {HEALTH_LABEL: "unhealthy"}, "annotations": {XID_ANNOTATION: str(xid)}},
            "spec": {"unschedulable": True},
        })
        self._set_condition(node_name, "True", f"Xid{xid}", line)
        node = self.store.get(NODES, None, node_name)
        events.emit(self.store, node, CONDITION, f"XID {xid} ({info.title}) on {node_name}: cordoned. {line}",
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
                "metadata": {"labels": {HEALTH_LABEL: None}, "annotations": {XID_ANNOTATION: None}}})
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
        if self.nodes_root is None or not ours or not self._fault_cleared(name):
            self._resets.pop(name, None)
            return
        due = self._resets.setdefault(name, now + self.reset_delay_s)
        if now < due or name in self._drains:
            return
        del self._resets[name]
        try:
            self.store.patch(NODES, None, name, MERGE, {
                "metadata": {"labels": {HEALTH_LABEL: None}, "annotations": {XID_ANNOTATION: None}},
                "spec": {"unschedulable": None}})
            self._set_condition(name, "False", "GpuReset", "fault cleared: GPU reset, node uncordoned")
            events.emit(self.store, node, "GpuReset", f"{name}: fault cleared, GPU reset, uncordoned",
                        COMPONENT, host=name)
        except NotFound:
            return

    def _fault_cleared(self, node_name: str) -> bool:
        """A toggle file is on the node's disk and none of them arms a fault now. No file at all
        is no evidence of a reset (the fault may be armed another way), so the node stays out."""
        assert self.nodes_root is not None
        states = [_read_toggle(p) for p in (self.nodes_root / node_name).rglob(TOGGLE_FILE_NAME)]
        now = time.time()
        return bool(states) and not any(s is not None and s.active(now) for s in states)

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
