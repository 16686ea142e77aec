"""Undo actions: the recorded ways back from every change a step makes, and the table of their kinds.

Each action is serialisable to one journal entry and idempotent, so `chaos recover` can replay a
dead run's journal in a fresh process, twice, safely. The actions every step kind may use live
here; a step kind with an action of its own (the toggle step's DisarmNode) defines it beside the
step and lists it in the step table's `UndoKinds`, which the journal decodes with. There is no
module-level registry: the table is a value handed to whoever reads journals.
"""

from __future__ import annotations

import difflib
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

__all__ = ["MISSING", "UNKNOWN", "DeleteObject", "PathState", "RestoreJson", "RevertPaths",
           "SetUnschedulable", "UndoAction", "UndoConflict", "UndoKinds"]

UNKNOWN = "__chaos_unknown__"  # "not journaled yet": the change may or may not have landed


class UndoConflict(ChaosError):
    """What the run changed was changed again by someone else since: it is not overwritten."""


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

    def apply(self, cluster: Cluster, clock: Clock) -> bool:
        """Undo; False when nothing of the run's was left to undo (already undone, or changed by
        someone else since: then it raises UndoConflict instead). Succeeds when already undone."""
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

    def including(self, *classes: type[Any]) -> UndoKinds:
        """These kinds and `classes` (the engine adds its own: releasing a run's Leases)."""
        missing = [c for c in classes if str(c.kind) not in self._classes]
        return UndoKinds([*self._classes.values(), *missing])

    def decode(self, data: Mapping[str, JsonValue]) -> UndoAction:
        """Rebuild an undo action from its journal form; ValueError for an unknown kind or shape."""
        kind = data.get("kind")
        cls = self._classes.get(str(kind))
        if cls is None:
            raise ValueError(f"unknown undo action kind {kind!r} in journal")
        fields = {k: v for k, v in data.items() if k != "kind"}
        try:
            if hasattr(cls, "from_json"):
                decoded: UndoAction = cls.from_json(fields)
                return decoded
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

    def apply(self, cluster: Cluster, clock: Clock) -> bool:
        for _ in range(5):  # re-read and retry on conflicts with other writers
            try:
                current = jsonpointer.get(cluster.get(self.ref), self.pointer)
            except NotFound:
                return False  # the object is gone: nothing of ours can remain in it
            if same(current, self.original):
                return False
            if self.original == MISSING:
                ops = [{"op": "remove", "path": self.pointer}]
            elif current == MISSING:
                ops = [{"op": "add", "path": self.pointer, "value": self.original}]
            else:
                ops = [{"op": "test", "path": self.pointer, "value": current},
                       {"op": "replace", "path": self.pointer, "value": self.original}]
            try:
                cluster.json_patch(self.ref, ops)
                return True
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
class PathState:
    """One path of an object a run changed: its value before the change and, once journaled, as
    the API server stored the change (defaults included)."""

    pointer: str
    before: JsonValue  # MISSING: the path did not exist
    after: JsonValue = UNKNOWN

    def to_json(self) -> dict[str, JsonValue]:
        out = {"pointer": self.pointer, "before": self.before}
        if self.after != UNKNOWN:
            out["after"] = self.after
        return out


@dataclass(frozen=True)
class RevertPaths:
    """Undo a run's change to some paths of an object, and only while it is still the run's.

    For each path: the value as before the run -> nothing to do (already undone, or never done);
    as the run left it -> put back what was there before; anything else -> someone changed it
    since: it is left alone and reported (UndoConflict), with the difference and the command that
    finishes by hand. So replaying a journal twice, from any copy, changes nothing the second time,
    and a change someone made after a rollback survives a later replay."""

    kind: ClassVar[str] = "revert-paths"
    ref: ObjectRef
    paths: tuple[PathState, ...]

    def describe(self) -> str:
        return f"revert {self.ref} {', '.join(p.pointer for p in self.paths)}"

    def to_json(self) -> dict[str, JsonValue]:
        return {"kind": self.kind, "ref": self.ref.to_json(), "paths": [p.to_json() for p in self.paths]}

    @classmethod
    def from_json(cls, data: Mapping[str, JsonValue]) -> RevertPaths:
        paths = tuple(PathState(str(p["pointer"]), p["before"], p.get("after", UNKNOWN))
                      for p in data["paths"])
        return cls(ObjectRef.from_json(data["ref"]), paths)

    def applied(self, stored: Mapping[str, JsonValue]) -> RevertPaths:
        """The same undo with each path's value as the API server stored the change."""
        return RevertPaths(self.ref, tuple(PathState(p.pointer, p.before, jsonpointer.get(stored, p.pointer))
                                           for p in self.paths))

    def _states(self, obj: Any) -> tuple[list[tuple[PathState, Any]], list[tuple[PathState, Any]]]:
        """(paths still ours, with their current value), (paths someone changed since)."""
        ours, theirs = [], []
        for path in self.paths:
            current = jsonpointer.get(obj, path.pointer)
            if same(current, path.before):
                continue
            if path.after == UNKNOWN or same(current, path.after):
                ours.append((path, current))
            else:
                theirs.append((path, current))
        return ours, theirs

    def apply(self, cluster: Cluster, clock: Clock) -> bool:
        for _ in range(5):  # re-read and retry on conflicts with other writers
            try:
                obj = cluster.get(self.ref)
            except NotFound:
                return False  # the object is gone: nothing of ours can remain in it
            ours, theirs = self._states(obj)
            ops: list[dict[str, JsonValue]] = []
            for path, current in ours:
                ops.append({"op": "test", "path": path.pointer, "value": current})
                if path.before == MISSING:
                    ops.append({"op": "remove", "path": path.pointer})
                else:
                    ops.append({"op": "replace", "path": path.pointer, "value": path.before})
            if ops:
                try:
                    cluster.json_patch(self.ref, ops)
                except Conflict:
                    continue
            if theirs:
                raise UndoConflict(self._conflict(theirs))
            return bool(ops)
        raise ChaosError(f"could not {self.describe()}: it kept changing under us")

    def verify(self, cluster: Cluster) -> list[str]:
        try:
            obj = cluster.get(self.ref)
        except NotFound:
            return []
        ours, theirs = self._states(obj)
        left = [f"{self.ref} {p.pointer} is still as the run left it" for p, _ in ours]
        return left + ([self._conflict(theirs)] if theirs else [])

    def _conflict(self, theirs: list[tuple[PathState, Any]]) -> str:
        lines = [f"{self.ref}: changed by someone else since the run changed it, so not overwritten:"]
        fix = []
        for path, current in theirs:
            lines.append(f"  {path.pointer}: " + diff(path.after, current))
            fix.append({"op": "remove", "path": path.pointer} if path.before == MISSING else
                       {"op": "replace", "path": path.pointer, "value": path.before})
        namespace = f" -n {self.ref.namespace}" if self.ref.namespace else ""
        lines.append(f"  to put back what was there before the run: kubectl patch "
                     f"{self.ref.kind.lower()} {self.ref.name}{namespace} --type=json -p "
                     f"'{json.dumps(fix, separators=(',', ':'))}'")
        return "\n".join(lines)


def diff(ours: JsonValue, theirs: JsonValue, limit: int = 12) -> str:
    """A few lines of unified diff: what the run left there (-) against what is there now (+)."""
    if ours == UNKNOWN:
        return "now " + json.dumps(theirs, sort_keys=True)[:300]
    a = json.dumps(ours, indent=1, sort_keys=True).splitlines()
    b = json.dumps(theirs, indent=1, sort_keys=True).splitlines()
    changed = [ln for ln in difflib.unified_diff(a, b, "ours", "theirs", lineterm="", n=0)
               if not ln.startswith(("---", "+++", "@@"))]
    more = f" (+{len(changed) - limit} more)" if len(changed) > limit else ""
    return " | ".join(ln.strip() for ln in changed[:limit]) + more


@dataclass(frozen=True)
class DeleteObject:
    """Delete an object the run created (ConfigMap, helper pod, journal mirror), and only that one:
    once the run has journaled its uid, an object of the same name that someone created since is
    not ours and is left alone."""

    kind: ClassVar[str] = "delete-object"
    ref: ObjectRef
    uid: str = ""  # "" until the creation is journaled (or for objects made and deleted in a step)

    def describe(self) -> str:
        return f"delete {self.ref}"

    def to_json(self) -> dict[str, JsonValue]:
        out: dict[str, JsonValue] = {"kind": self.kind, "ref": self.ref.to_json()}
        if self.uid:
            out["uid"] = self.uid
        return out

    def _ours(self, obj: Mapping[str, Any]) -> bool:
        return not self.uid or obj.get("metadata", {}).get("uid") == self.uid

    def apply(self, cluster: Cluster, clock: Clock) -> bool:
        try:
            if self.uid and not self._ours(cluster.get(self.ref)):
                return False  # someone else's object of the same name
            cluster.delete(self.ref, grace_period_seconds=0)
        except NotFound:
            return False
        return True

    def verify(self, cluster: Cluster) -> list[str]:
        try:
            obj = cluster.get(self.ref)
        except NotFound:
            return []
        if obj.get("metadata", {}).get("deletionTimestamp") or not self._ours(obj):
            return []  # terminating, or not ours
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

    def apply(self, cluster: Cluster, clock: Clock) -> bool:
        try:
            node = cluster.get(self._ref())
            if bool(node.get("spec", {}).get("unschedulable", False)) == self.value:
                return False
            cluster.merge_patch(self._ref(), {"spec": {"unschedulable": self.value or None}})
        except NotFound:
            return False
        return True

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


# RestoreJson stays readable for format-1 journals; new runs journal RevertPaths.
CORE_UNDO_KINDS: tuple[type[Any], ...] = (RevertPaths, RestoreJson, DeleteObject, SetUnschedulable)
