"""Undo actions: the recorded ways back from every change a step makes, and the table of their kinds.

Each action is serialisable to one journal entry and idempotent, so `chaos recover` can replay a
dead run's journal in a fresh process, twice, safely. The actions every step kind may use live
here; a step kind with an action of its own (the toggle step's DisarmNode) defines it beside the
step and lists it in the step table's `UndoKinds`, which the journal decodes with. There is no
module-level registry: the table is a value handed to whoever reads journals.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from runner import jsonpointer
from runner.cluster.protocol import Cluster, ObjectRef
from runner.errors import ChaosError, Conflict, NotFound
from runner.jsonpointer import MISSING

if TYPE_CHECKING:
    from runner.kernel.clock import Clock

JsonValue = Any

__all__ = ["MISSING", "DeleteObject", "RestoreJson", "SetUnschedulable", "UndoAction", "UndoKinds"]


class UndoAction(Protocol):
    """A recorded way back. Serialisable (the journal stores it), idempotent (replaying an
    already-undone action changes nothing), and self-contained (`chaos recover` replays it in a new
    process from the journal alone). An action whose undoing is itself news may name a timeline
    kind in a class attribute `marks` (DisarmNode: "fault-disarmed"); the engine adds that point
    when rollback applies it."""

    kind: ClassVar[str]

    def describe(self) -> str:
        """One line for humans: 'restore Deployment inference/vllm-worker /spec/template'."""
        ...

    def to_json(self) -> dict[str, JsonValue]:
        """The journal form; includes `"kind": self.kind`."""
        ...

    def apply(self, cluster: Cluster, clock: Clock) -> None:
        """Undo. Must succeed when already undone (NotFound on delete counts as done)."""
        ...

    def verify(self, cluster: Cluster) -> list[str]:
        """What is still not undone (empty when the change is fully reverted)."""
        ...


class UndoKinds:
    """The undo action classes a journal may hold, by their `kind`: how journals are decoded."""

    def __init__(self, classes: Iterable[type[Any]]) -> None:
        self._classes: dict[str, type[Any]] = {}
        for cls in classes:
            kind = str(cls.kind)
            if kind in self._classes:
                raise ValueError(f"two undo action classes of kind {kind!r}")
            self._classes[kind] = cls

    def kinds(self) -> tuple[str, ...]:
        return tuple(sorted(self._classes))

    def decode(self, data: Mapping[str, JsonValue]) -> UndoAction:
        """Rebuild an undo action from its journal form; ValueError for an unknown kind or shape."""
        kind = data.get("kind")
        cls = self._classes.get(str(kind))
        if cls is None:
            raise ValueError(f"unknown undo action kind {kind!r} in journal")
        fields = {k: v for k, v in data.items() if k != "kind"}
        try:
            if "ref" in fields:
                fields["ref"] = ObjectRef.from_json(fields["ref"])
            action: UndoAction = cls(**fields)
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"undo action {kind!r} in journal is malformed: {exc}") from None
        return action


@dataclass(frozen=True)
class RestoreJson:
    """Put the value at `pointer` of an object back to what it was (or remove it if it was absent)."""

    kind: ClassVar[str] = "restore-json"
    ref: ObjectRef
    pointer: str  # e.g. /spec/template
    original: JsonValue  # the value before the change, or MISSING

    def describe(self) -> str:
        return f"restore {self.ref} {self.pointer or '/'}"

    def to_json(self) -> dict[str, JsonValue]:
        return {"kind": self.kind, "ref": self.ref.to_json(), "pointer": self.pointer,
                "original": self.original}

    def apply(self, cluster: Cluster, clock: Clock) -> None:
        for _ in range(5):  # re-read and retry on conflicts with other writers
            try:
                current = jsonpointer.get(cluster.get(self.ref), self.pointer)
            except NotFound:
                return  # the object is gone: nothing of ours can remain in it
            if same(current, self.original):
                return
            if self.original == MISSING:
                ops = [{"op": "remove", "path": self.pointer}]
            elif current == MISSING:
                ops = [{"op": "add", "path": self.pointer, "value": self.original}]
            else:
                ops = [{"op": "test", "path": self.pointer, "value": current},
                       {"op": "replace", "path": self.pointer, "value": self.original}]
            try:
                cluster.json_patch(self.ref, ops)
                return
            except Conflict:
                continue
        raise ChaosError(f"could not {self.describe()}: it kept changing under us")

    def verify(self, cluster: Cluster) -> list[str]:
        try:
            current = jsonpointer.get(cluster.get(self.ref), self.pointer)
        except NotFound:
            return []
        if same(current, self.original):
            return []
        return [f"{self.ref} {self.pointer} differs from the original"]


@dataclass(frozen=True)
class DeleteObject:
    """Delete an object the run created (ConfigMap, helper pod, journal mirror)."""

    kind: ClassVar[str] = "delete-object"
    ref: ObjectRef

    def describe(self) -> str:
        return f"delete {self.ref}"

    def to_json(self) -> dict[str, JsonValue]:
        return {"kind": self.kind, "ref": self.ref.to_json()}

    def apply(self, cluster: Cluster, clock: Clock) -> None:
        try:
            cluster.delete(self.ref, grace_period_seconds=0)
        except NotFound:
            return

    def verify(self, cluster: Cluster) -> list[str]:
        try:
            obj = cluster.get(self.ref)
        except NotFound:
            return []
        if obj.get("metadata", {}).get("deletionTimestamp"):
            return []  # terminating: it is on its way out
        return [f"{self.ref} still exists"]


@dataclass(frozen=True)
class SetUnschedulable:
    """Return a node's `spec.unschedulable` to what it was (uncordon what we cordoned)."""

    kind: ClassVar[str] = "set-unschedulable"
    node: str
    value: bool  # the value to restore

    def describe(self) -> str:
        return f"{'cordon' if self.value else 'uncordon'} node {self.node}"

    def to_json(self) -> dict[str, JsonValue]:
        return {"kind": self.kind, "node": self.node, "value": self.value}

    def _ref(self) -> ObjectRef:
        return ObjectRef("v1", "Node", None, self.node)

    def apply(self, cluster: Cluster, clock: Clock) -> None:
        try:
            cluster.merge_patch(self._ref(), {"spec": {"unschedulable": self.value or None}})
        except NotFound:
            return

    def verify(self, cluster: Cluster) -> list[str]:
        try:
            node = cluster.get(self._ref())
        except NotFound:
            return []
        actual = bool(node.get("spec", {}).get("unschedulable", False))
        return [] if actual == self.value else [f"node {self.node} unschedulable={actual}, was {self.value}"]


def same(a: JsonValue, b: JsonValue) -> bool:
    """Equal as JSON (key order ignored)."""
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


CORE_UNDO_KINDS: tuple[type[Any], ...] = (RestoreJson, DeleteObject, SetUnschedulable)
