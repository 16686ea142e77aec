"""The fault map: with `settings.toggle-via: configmap`, the nodes' fault state as one ConfigMap.

Why it exists: the hostPath toggle file needs a hostPath volume in the workload and a helper pod
per write, which a namespace under Pod Security `restricted` (or `baseline`) refuses and which
needs RBAC to create pods. The fault map needs neither: ConfigMap `chaos-faults-<run id>` in the
target namespace holds one key per node (the node's name; its value is what the toggle file would
hold, `expires=` included), mounted into the targeted containers as a directory (never `subPath`:
such a mount never sees updates). Each container learns its node from the downward API
(`CHAOS_NODE_NAME` = `spec.nodeName`, defined before `CUDA_FAULT_TOGGLE_FILE=/…/$(CHAOS_NODE_NAME)`:
Kubernetes expands `$(VAR)` only for variables defined earlier), so a pod restarted on an armed
node stays faulty and one rescheduled elsewhere finds no key there and runs healthy. The volume is
`optional`: a missing ConfigMap or key leaves the shim as its environment says (disarmed).

Arming, renewing and disarming are merge patches of one key (`DisarmNodeKey`, journaled before
the arming, writes the disarmed content back and undoes only a map that is still this run's). The
map itself is created by the patch step (journaled DeleteObject) and deleted with the run's other
objects. A ConfigMap update reaches a pod only at the kubelet's next pod sync after its cache
expires (about a minute, `settings.configmap-delay` at most), which the fault expiry allows for.
This module builds and writes the map; it decides nothing about when to arm.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any, ClassVar

from runner.cluster.protocol import Cluster, KubeObject, ObjectRef
from runner.errors import Conflict, NotFound, StepError
from runner.kernel.clock import Clock
from runner.kernel.labels import FAULT_MAP_ROLE, ROLE_LABEL, RUN_ID_LABEL, run_labels
from runner.kernel.step import JsonValue, PlannedChange, StepContext
from runner.kernel.undo import DeleteObject
from runner.scenario.model import PatchStep, Scenario, ToggleVia
from runner.shimwire import TOGGLE_FILE_NAME, parse_toggle, render_toggle

FAULTS_MOUNT = "/cuda-fault-state"  # the fault map's directory, in every targeted container
HOST_TOGGLE_MOUNT = "/host-fault"  # the node's toggle directory (toggle-via hostPath)
TOGGLE_VOLUME = "chaos-toggle"
NODE_ENV = "CHAOS_NODE_NAME"
ROLE = FAULT_MAP_ROLE


def faultmap_name(run_id: str) -> str:
    return f"chaos-faults-{run_id}"


def faultmap_ref(namespace: str, run_id: str) -> ObjectRef:
    return ObjectRef("v1", "ConfigMap", namespace, faultmap_name(run_id))


def via_configmap(scenario: Scenario) -> bool:
    return scenario.settings.toggle_via is ToggleVia.CONFIGMAP


@dataclass(frozen=True)
class ToggleParts:
    """What a pod template gains so its containers' shim finds the node's fault state."""

    volume: dict[str, Any]
    mount: dict[str, Any]
    env: tuple[dict[str, Any], ...]  # before the shim's own variables (they refer to these)
    toggle_file: str  # CUDA_FAULT_TOGGLE_FILE


def toggle_parts(step: PatchStep, scenario: Scenario, run_id: str) -> ToggleParts:
    """The toggle volume, its mount and the variables the toggle file's path needs, for the
    scenario's `settings.toggle-via`."""
    if not via_configmap(scenario):
        return ToggleParts({"name": TOGGLE_VOLUME,
                            "hostPath": {"path": step.toggle_dir, "type": "DirectoryOrCreate"}},
                           {"name": TOGGLE_VOLUME, "mountPath": HOST_TOGGLE_MOUNT},
                           (), f"{HOST_TOGGLE_MOUNT}/{TOGGLE_FILE_NAME}")
    return ToggleParts(
        {"name": TOGGLE_VOLUME, "configMap": {"name": faultmap_name(run_id), "optional": True}},
        {"name": TOGGLE_VOLUME, "mountPath": FAULTS_MOUNT, "readOnly": True},
        ({"name": NODE_ENV, "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},),
        f"{FAULTS_MOUNT}/$({NODE_ENV})")


def manifest(namespace: str, run_id: str) -> KubeObject:
    """The fault map as the patch step creates it: no key yet (every node disarmed)."""
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": faultmap_name(run_id), "namespace": namespace,
                         "labels": {**run_labels(run_id), ROLE_LABEL: ROLE}},
            "data": {}}


def planned(scenario: Scenario) -> list[PlannedChange]:
    """The patch step's extra change with toggle-via configmap (nothing otherwise)."""
    if not via_configmap(scenario):
        return []
    ref = faultmap_ref(scenario.target.namespace, "<run-id>")
    return [PlannedChange(f"ConfigMap {ref.namespace}/{ref.name}", "create",
                          {"data": {}, "labels": {**run_labels("<run-id>"), ROLE_LABEL: ROLE},
                           "note": "one key per node, written by the toggle step"})]


def ensure(ctx: StepContext) -> list[str]:
    """Create this run's fault map if it is not there (journaled first); what changed, for the
    step's changes list. Nothing with toggle-via hostPath."""
    if not via_configmap(ctx.scenario) or ctx.state.install_id:
        return []  # an installed workload's map is the install's (made by `chaos install`)
    ref = faultmap_ref(ctx.scenario.target.namespace, ctx.run_id)
    with contextlib.suppress(NotFound):
        if ours(ctx.cluster.get(ref), ctx.run_id):
            return []
    seq = ctx.record_undo(DeleteObject(ref))
    try:
        made = ctx.cluster.create(manifest(str(ref.namespace), ctx.run_id))
    except Conflict:  # created meanwhile (an earlier try of ours, or someone else's)
        made = ctx.cluster.get(ref)
        if not ours(made, ctx.run_id):
            raise StepError(f"{ref} exists and is not this run's; refusing to use it") from None
    ctx.record_applied(seq, DeleteObject(ref, str(made.get("metadata", {}).get("uid", ""))))
    return [f"created {ref} (the nodes' fault state)"]


def owner(ctx: StepContext) -> str:
    """Whose fault map the pods read: the install's on an installed workload, else the run's."""
    return ctx.state.install_id or ctx.run_id


def ours(obj: KubeObject, run_id: str) -> bool:
    return (obj.get("metadata", {}).get("labels") or {}).get(RUN_ID_LABEL) == run_id


def write_key(cluster: Cluster, ref: ObjectRef, node: str, content: str) -> str:
    """Set the node's key (a merge patch: other nodes' keys are left alone); returns the content
    as stored. NotFound when the map is gone."""
    stored = cluster.merge_patch(ref, {"data": {node: content}})
    return str((stored.get("data") or {}).get(node, ""))


@dataclass(frozen=True)
class DisarmNodeKey:
    """Write the disarmed state into a node's key of the run's fault map.

    Idempotent and conditional: a map that is gone (deleted by rollback, or never made) has nothing
    left to disarm; a key that is absent or already disarmed needs nothing; a map of the same name
    that is not this run's (another run-id label) is not touched. The disarmed content is written
    rather than the key deleted, so a shim armed from its environment (`passthrough: false`) is
    disarmed too. Verified by reading the key back (no pod needed).
    """

    kind: ClassVar[str] = "disarm-node-key"
    marks: ClassVar[str] = "fault-disarmed"  # rollback disarming the node is on the timeline
    node: str
    namespace: str
    name: str
    run_id: str

    @property
    def ref(self) -> ObjectRef:
        return ObjectRef("v1", "ConfigMap", self.namespace, self.name)

    def describe(self) -> str:
        return (f"disarm the fault on node {self.node} (ConfigMap {self.namespace}/{self.name}, "
                f"key {self.node})")

    def to_json(self) -> dict[str, JsonValue]:
        return {"kind": self.kind, "node": self.node, "namespace": self.namespace, "name": self.name,
                "run_id": self.run_id}

    def _armed(self, obj: KubeObject) -> bool:
        content = (obj.get("data") or {}).get(self.node)
        return content is not None and parse_toggle(str(content)).armed is not False

    def _still_armed(self, cluster: Cluster) -> bool:
        """Our map exists and arms the node (what both undoing and verifying ask)."""
        try:
            obj = cluster.get(self.ref)
        except NotFound:
            return False
        return ours(obj, self.run_id) and self._armed(obj)

    def apply(self, cluster: Cluster, clock: Clock) -> bool:
        if not self._still_armed(cluster):
            return False
        try:
            write_key(cluster, self.ref, self.node, render_toggle(False))
        except NotFound:
            return False  # deleted since the read: nothing left to disarm
        return True

    def verify(self, cluster: Cluster) -> list[str]:
        if self._still_armed(cluster):
            return [f"node {self.node} is still armed in ConfigMap {self.namespace}/{self.name}"]
        return []
