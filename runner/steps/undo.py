"""Undo actions: the recorded ways back from every change a step makes.

Each class is serialisable to one journal entry and idempotent, so `chaos recover` can replay a dead
run's journal in a fresh process, twice, safely. Add a new kind by writing a class and listing it in
UNDO_TYPES; the journal and recover code need no change.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from runner.cluster.protocol import Cluster, ObjectRef
from runner.errors import ChaosError, Conflict, NotFound
from runner.steps.base import JsonValue, UndoAction

MISSING = "__chaos_missing__"  # marks "the path did not exist before": undo removes it


def resolve_pointer(obj: Any, pointer: str) -> Any:
    """The value at an RFC 6901 pointer, or MISSING."""
    current = obj
    for raw in pointer.split("/")[1:] if pointer else []:
        token = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(current, dict) and token in current:
            current = current[token]
        elif isinstance(current, list) and token.isdigit() and int(token) < len(current):
            current = current[int(token)]
        else:
            return MISSING
    return current


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

    def apply(self, cluster: Cluster) -> None:
        for _ in range(5):  # re-read and retry on conflicts with other writers
            try:
                current = resolve_pointer(cluster.get(self.ref), self.pointer)
            except NotFound:
                return  # the object is gone: nothing of ours can remain in it
            if _same(current, self.original):
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
            current = resolve_pointer(cluster.get(self.ref), self.pointer)
        except NotFound:
            return []
        if _same(current, self.original):
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

    def apply(self, cluster: Cluster) -> None:
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

    def apply(self, cluster: Cluster) -> None:
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


def _same(a: JsonValue, b: JsonValue) -> bool:
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


UNDO_TYPES: dict[str, Any] = {cls.kind: cls for cls in (RestoreJson, DeleteObject, SetUnschedulable)}


def register_undo(cls: Any) -> Any:
    """Class decorator for undo kinds defined elsewhere (e.g. disarming a node's toggle file)."""
    UNDO_TYPES[cls.kind] = cls
    return cls


def undo_from_json(data: Mapping[str, JsonValue]) -> UndoAction:
    """Rebuild an undo action from its journal form; ValueError for an unknown kind."""
    kind = data.get("kind")
    cls = UNDO_TYPES.get(str(kind))
    if cls is None:
        raise ValueError(f"unknown undo action kind {kind!r} in journal")
    fields = {k: v for k, v in data.items() if k != "kind"}
    if "ref" in fields:
        fields["ref"] = ObjectRef.from_json(fields["ref"])
    action: UndoAction = cls(**fields)
    return action
