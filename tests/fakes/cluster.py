"""An in-memory fake of `runner.cluster.protocol.Cluster` that behaves like an API server.

Why it exists: engine and step tests need a cluster that answers the way a real one does (versions,
conflicts, selectors, patches, watches) without a process or a network. It holds objects as plain
JSON-shaped dicts, exactly what the real adapter returns. It does not run controllers: tests drive
state changes themselves (helpers below, timers on a FakeClock, or `on_change` reactors).

Behaviour (what a test may rely on):
- One global resourceVersion counter; every write bumps it and stamps the object. `list()` returns
  the counter as the list version. `metadata.uid`, `creationTimestamp` and `generation` (bumped
  when `spec` changes, for workload kinds only) are set by the fake.
- `create` -> Conflict when the name is taken (reason "AlreadyExists"); Invalid when no name or a
  resourceVersion is given. `get`/`delete`/patches -> NotFound when absent.
- `json_patch` (RFC 6902) and `merge_patch` (RFC 7386) and the selectors are the embedded API
  server's own (runner/sim/patching.py, runner/sim/selectors.py), so both behave alike. A failed
  `test` -> Conflict; a bad path -> Invalid. A patch (JSON or merge) that sets
  metadata.resourceVersion to a value other than the current one -> Conflict (stale write).
- `subresource="status"` applies only the patch's effect on `status`; `subresource="scale"` patches
  a Scale view (`spec.replicas`, `status.replicas`) of a Deployment/StatefulSet. Other
  subresources -> Invalid.
- `delete` removes at once (no graceful termination, no finalizers, no garbage collection).
- Label selectors: `a=b`, `a==b`, `a!=b`, `a in (x,y)`, `a notin (x,y)`, `a`, `!a`, comma = AND.
  Field selectors: metadata.name, metadata.namespace, spec.nodeName, status.phase with = == !=.
- `watch` yields ADDED/MODIFIED/DELETED events after `resource_version` from a bounded history
  (`history_limit`, default 1000); an older version -> Gone. `resource_version=""` or `"0"` starts
  with synthetic ADDED events for what exists now. It blocks on a threading.Condition until a
  matching change or until `timeout_seconds` pass (real seconds), then ends normally. With a
  FakeClock given to the constructor it never blocks: when nothing is pending it advances the fake
  clock to its next timer (which may change the cluster) or to the watch's end.
- `pod_logs` -> NotFound for a missing pod; otherwise what `add_log`/`set_log` stored ('' if none).
- `emit_event` appends a `RecordedEvent` to `events` (not stored as an object, so dumps of the
  cluster state stay comparable) and never raises; it waits 5 s at most (its own deadline).
- `can_i` (a SelfSubjectAccessReview) answers yes unless `deny(verb, resource, group)` said no; it
  is recorded in `calls` as ("can_i", "<resource> <verb>") and is not a write.
- `deadline(left, what)` scopes work as the adapter's (runner/cluster/deadline.py): a call made
  once the soonest is spent raises CallTimeout; a watch ends by it. Each call's budget is recorded
  in `budgets` ((op, seconds left or None), in order), so tests can see every call had one.
- `frozen = True` is an API server that accepts requests and answers none: a call within a
  deadline lets the FakeClock run to that deadline (no clock: at once) and raises CallTimeout; one
  without a deadline raises Unavailable, as the adapter does after its retries.
- `server_time()` is the clock's time (real time without one) plus `server_clock_offset`, so a
  test can put the runner's clock off the API server's.

Test helpers (stable API):
    c = FakeCluster(description="fake cluster", clock=None, history_limit=1000)
    c.add_namespace("ns")
    c.add_node("gpu-1", ready=True, unschedulable=False, labels={}, gpus=1) -> obj
    c.add_pod("w-1", "ns", node="gpu-1", labels={"app": "w"}, phase="Running", ready=True,
              restarts=0, owner=None, containers=("main",)) -> obj
    c.add_deployment("w", "ns", replicas=2, labels={"app": "w"}, nodes=["gpu-1", "gpu-2"],
                     ready=True, create_pods=True) -> obj   # also StatefulSet: add_statefulset
    c.put(obj)                         # create-or-replace any object as-is (no conflict checks)
    c.update(ref, fn)                  # fn(obj) edits a copy in place; stored as MODIFIED
    c.set_pod_phase("ns", "w-1", "Failed", ready=False, restarts=None)
    c.set_node_ready("gpu-1", False) / c.set_node_condition("gpu-1", "GpuXidError", "True")
    c.add_log("ns", "w-1", "line\\n", container=None, previous=False) / c.set_log(...)
    c.fail_next("json_patch", Unavailable("boom"), kind="Deployment", name=None, times=1)
    c.on_change(fn)                    # fn(event_type, obj) after every write (a tiny controller)
    c.deny("patch", "nodes", group="") # can_i says no to it (the fake has no RBAC otherwise)
    c.serve(lambda request: HttpAnswer(...))  # proxy_request's answers (default: Ready pods of
                                       # the Service's selector -> 200, none -> 503); c.proxied
    c.dump() -> dict                   # every object, sorted, without resourceVersion/generation:
                                       # compare before/after a run: the cluster is as it was
    c.objects(kind=None, namespace=None) -> list[obj]   # deep copies
    c.calls                            # [(op, "Kind ns/name" or "Kind ns"), ...] every API call
    c.budgets                          # [(op, seconds left or None), ...] each call's deadline
    c.frozen = True                    # answers nothing: calls end at their deadline (CallTimeout)
    c.server_clock_offset = -3600.0    # the API server's clock is an hour behind the runner's
    c.writes()                         # the write calls attempted (create/patch/delete)
    c.events                           # list[RecordedEvent]
    c.resource_version                 # the global counter (int)

`FileBackedFakeCluster(path)` (same API) keeps its state in a JSON file, loaded and saved under an
exclusive file lock around every call, so several processes share one cluster: a killed run's
changes survive for a later `chaos recover` process to see. Watches in it only see changes made by
the same process (other processes' changes are seen by list/get).
"""

from __future__ import annotations

import builtins
import contextlib
import copy
import fcntl
import json
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from runner.cluster.deadline import Deadlines, SecondsLeft, until
from runner.cluster.protocol import HttpAnswer, JsonPatch, KubeObject, ObjectRef, WatchEvent
from runner.errors import CallTimeout, ClusterError, Conflict, Gone, Invalid, NotFound, Unavailable
from runner.sim.patching import TestFailed, apply_json_patch, apply_merge_patch
from runner.sim.selectors import FieldSelector, LabelSelector

__all__ = ["FakeCluster", "FileBackedFakeCluster", "apply_json_patch", "apply_merge_patch"]

from .clock import FakeClock

STATE_NAMESPACE = "chaos-system"
Key = tuple[str, str, str, str]  # apiVersion, kind, namespace ("" for cluster-scoped), name

OPS = ("get", "list", "create", "json_patch", "merge_patch", "delete", "watch", "pod_logs",
       "emit_event", "can_i")
WRITE_OPS = ("create", "json_patch", "merge_patch", "delete")
# kinds whose metadata.generation moves when their spec changes (as on a real API server)
GENERATION_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job",
                    "DynamoGraphDeployment")


@dataclass(frozen=True)
class RecordedEvent:
    """A Kubernetes Event the code under test emitted."""

    regarding: ObjectRef
    reason: str
    message: str
    event_type: str


@dataclass(frozen=True)
class ProxiedRequest:
    """A request a probe sent through the (fake) service proxy."""

    namespace: str
    service: str
    port: int | str
    path: str
    method: str
    headers: dict[str, str]
    body: bytes
    timeout_s: float
    stream: bool


def _pod_ready(pod: Mapping[str, Any]) -> bool:
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


@dataclass
class _Failure:
    op: str
    error: ClusterError
    kind: str | None
    name: str | None
    times: int


def _key(ref: ObjectRef) -> Key:
    return (ref.api_version, ref.kind, ref.namespace or "", ref.name)


def _key_of(obj: Mapping[str, Any]) -> Key:
    meta = obj.get("metadata", {})
    return (str(obj.get("apiVersion", "")), str(obj.get("kind", "")), str(meta.get("namespace") or ""),
            str(meta.get("name", "")))


def _ref_of_key(key: Key) -> ObjectRef:
    return ObjectRef(key[0], key[1], key[2] or None, key[3])


# ---------------------------------------------------------------------------------------------
# RFC 6902 JSON Patch and RFC 7386 merge patch
# ---------------------------------------------------------------------------------------------


class FakeCluster:
    """In-memory `Cluster`. Thread-safe. See the module docstring for the behaviour and helpers."""

    def __init__(self, description: str = "fake cluster", *, clock: FakeClock | None = None,
                 history_limit: int = 1000) -> None:
        self._description = description
        self.clock = clock
        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)
        self._objects: dict[Key, KubeObject] = {}
        self._rv = 0
        self._uid = 0
        self._history: deque[tuple[int, str, KubeObject]] = deque(maxlen=history_limit)
        self._logs: dict[tuple[str, str, str, bool], str] = {}
        self._failures: list[_Failure] = []
        self._reactors: list[Callable[[str, KubeObject], None]] = []
        self.calls: list[tuple[str, str]] = []
        self.budgets: list[tuple[str, float | None]] = []
        self.events: list[RecordedEvent] = []
        self.denied: set[tuple[str, str, str]] = set()  # (verb, group, resource) can_i says no to
        self.frozen = False
        self.server_clock_offset = 0.0
        self._deadlines = Deadlines()
        self.proxied: list[ProxiedRequest] = []  # every proxy_request, in order
        self._proxy_handler: Callable[[ProxiedRequest], HttpAnswer] | None = None
        # the state namespace chaos keeps journals and Leases in, as deploy/rbac.yaml leaves it
        self._objects[("v1", "Namespace", "", STATE_NAMESPACE)] = {
            "apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": STATE_NAMESPACE, "uid": "uid-state", "resourceVersion": "0"},
            "status": {"phase": "Active"}}

    # --- persistence hooks (the file-backed variant overrides them) ----------------------------

    @contextlib.contextmanager
    def _txn(self, write: bool = True) -> Iterator[None]:
        with self._lock:
            yield

    # --- protocol -------------------------------------------------------------------------------

    @property
    def description(self) -> str:
        return self._description

    @property
    def resource_version(self) -> int:
        return self._rv

    def deadline(self, left: SecondsLeft, what: str = "") -> AbstractContextManager[None]:
        return self._deadlines.scope(left, what)

    def server_time(self) -> float | None:
        return (self.clock.time() if self.clock else time.time()) + self.server_clock_offset

    def get(self, ref: ObjectRef) -> KubeObject:
        with self._txn(write=False):
            self._enter("get", ref.kind, ref.namespace, ref.name)
            return copy.deepcopy(self._require(ref))

    def list(self, api_version: str, kind: str, namespace: str | None = None, *,
             label_selector: str = "", field_selector: str = "") -> tuple[list[KubeObject], str]:
        with self._txn(write=False):
            self._enter("list", kind, namespace, None)
            found = [copy.deepcopy(o) for k, o in sorted(self._objects.items())
                     if self._matches(k, o, api_version, kind, namespace, label_selector,
                                      field_selector)]
            return found, str(self._rv)

    def create(self, obj: KubeObject) -> KubeObject:
        meta = obj.get("metadata", {})
        with self._txn():
            self._enter("create", str(obj.get("kind", "")), meta.get("namespace"), meta.get("name"))
            if not meta.get("name"):
                raise Invalid("metadata.name is required", 422, "Invalid")
            if meta.get("resourceVersion"):
                raise Invalid("resourceVersion should not be set on objects to be created", 422,
                              "Invalid")
            key = _key_of(obj)
            if key in self._objects:
                raise Conflict(f"{_ref_of_key(key)} already exists", 409, "AlreadyExists")
            stored = copy.deepcopy(obj)
            m = stored.setdefault("metadata", {})
            self._uid += 1
            m["uid"] = f"uid-{self._uid:06d}"
            m["creationTimestamp"] = self._timestamp()
            m["generation"] = 1
            return self._write(key, stored, "ADDED")

    def json_patch(self, ref: ObjectRef, patch: JsonPatch, *,
                   subresource: str | None = None) -> KubeObject:
        with self._txn():
            self._enter("json_patch", ref.kind, ref.namespace, ref.name)
            current = self._require(ref)
            try:
                view = self._view(current, ref, subresource)
                patched = apply_json_patch(view, patch)
            except TestFailed as exc:  # a stale read, as the Cluster protocol promises
                raise Conflict(f"{ref}: {exc}", 409, "Conflict") from None
            except ClusterError as exc:
                raise Invalid(f"{ref}: {exc}", 422, "Invalid") from None
            return self._commit(ref, current, view, patched, subresource)

    def merge_patch(self, ref: ObjectRef, patch: Mapping[str, Any], *,
                    subresource: str | None = None) -> KubeObject:
        with self._txn():
            self._enter("merge_patch", ref.kind, ref.namespace, ref.name)
            current = self._require(ref)
            view = self._view(current, ref, subresource)
            patched = apply_merge_patch(view, patch)
            return self._commit(ref, current, view, patched, subresource)

    def delete(self, ref: ObjectRef, *, grace_period_seconds: int | None = None) -> None:
        with self._txn():
            self._enter("delete", ref.kind, ref.namespace, ref.name)
            self._require(ref)
            obj = self._objects.pop(_key(ref))
            self._rv += 1
            gone = copy.deepcopy(obj)
            gone["metadata"]["resourceVersion"] = str(self._rv)
            self._logs = {k: v for k, v in self._logs.items()
                          if not (ref.kind == "Pod" and k[:2] == (ref.namespace or "", ref.name))}
            self._record("DELETED", gone)

    def watch(self, api_version: str, kind: str, namespace: str | None = None, *,
              label_selector: str = "", field_selector: str = "", resource_version: str = "",
              timeout_seconds: float = 30.0) -> Iterator[WatchEvent]:
        with self._txn(write=False):
            self._enter("watch", kind, namespace, None)
            budget = self._deadlines.budget()
            if budget is not None:  # a watch ends by its caller's deadline, as the adapter's does
                timeout_seconds = min(timeout_seconds, max(0.0, budget.left))
            if resource_version in ("", "0"):
                start = self._rv
                initial = [WatchEvent("ADDED", copy.deepcopy(o))
                           for k, o in sorted(self._objects.items())
                           if self._matches(k, o, api_version, kind, namespace, label_selector,
                                            field_selector)]
            else:
                start = int(resource_version)
                oldest = self._history[0][0] if self._history else self._rv + 1
                if start < oldest - 1 and start < self._rv:
                    raise Gone(f"too old resource version: {start} ({oldest - 1})", 410, "Expired")
                initial = []
        return self._stream(initial, start, api_version, kind, namespace, label_selector,
                            field_selector, timeout_seconds)

    def pod_logs(self, namespace: str, pod: str, *, container: str | None = None,
                 previous: bool = False, tail_lines: int | None = None) -> str:
        with self._txn(write=False):
            self._enter("pod_logs", "Pod", namespace, pod)
            obj = self._require(ObjectRef("v1", "Pod", namespace, pod))
            name = container or _first_container(obj)
            text = self._logs.get((namespace, pod, name, previous), "")
            if tail_lines is not None:
                lines = text.splitlines(keepends=True)
                text = "".join(lines[-tail_lines:]) if tail_lines > 0 else ""
            return text

    def emit_event(self, regarding: ObjectRef, reason: str, message: str, *,
                   event_type: str = "Normal") -> None:
        now = self.clock.monotonic if self.clock else time.monotonic
        with self._txn(write=False), self.deadline(until(now() + 5.0, now), "an Event"):
            try:
                self._enter("emit_event", regarding.kind, regarding.namespace, regarding.name)
            except ClusterError:
                return  # best effort, as the protocol promises
            self.events.append(RecordedEvent(regarding, reason, message, event_type))

    def can_i(self, verb: str, resource: str, *, group: str = "", namespace: str | None = None,
              name: str = "", subresource: str = "") -> bool:
        full = f"{resource}/{subresource}" if subresource else resource
        with self._txn(write=False):
            self._enter("can_i", full, namespace, name or verb)
            return (verb, group, full) not in self.denied

    def proxy_request(self, namespace: str, service: str, port: int | str, path: str, *,
                      method: str = "GET", headers: Mapping[str, str] | None = None,
                      body: bytes | None = None, timeout_s: float = 5.0,
                      stream: bool = False) -> HttpAnswer:
        """What `serve(handler)` answers; without one, as the service proxy would with no
        controllers: 200 while a Ready pod of the namespace matches the Service's selector, 503
        "no endpoints available" otherwise, 404 for a Service that does not exist. Recorded in
        `proxied` (not in `calls`: a probe is no API call of the run's steps)."""
        request = ProxiedRequest(namespace, service, port, path, method, dict(headers or {}),
                                 body or b"", timeout_s, stream)
        with self._lock:
            self.proxied.append(request)
            handler = self._proxy_handler
        if handler is not None:
            return handler(request)
        with self._txn(write=False):
            svc = self._objects.get(("v1", "Service", namespace, service))
            if svc is None:
                return HttpAnswer(404, 0.001, f'services "{service}" not found'.encode())
            selector = LabelSelector.parse(",".join(
                f"{k}={v}" for k, v in ((svc.get("spec") or {}).get("selector") or {}).items()))
            ready = [o for k, o in self._objects.items()
                     if k[1] == "Pod" and k[2] == namespace and selector.matches(
                         (o.get("metadata") or {}).get("labels")) and _pod_ready(o)]
        if not ready:
            return HttpAnswer(503, 0.001, f'no endpoints available for service "{service}"'.encode())
        name = str(ready[len(self.proxied) % len(ready)]["metadata"]["name"])
        return HttpAnswer(200, 0.002, b"{}", headers=MappingProxyType({"x-served-by": name}))

    # --- test helpers ---------------------------------------------------------------------------

    def serve(self, handler: Callable[[ProxiedRequest], HttpAnswer] | None) -> None:
        """Answer `proxy_request` with `handler(request)` (None: the default behaviour)."""
        with self._lock:
            self._proxy_handler = handler

    def deny(self, verb: str, resource: str, group: str = "") -> None:
        """Make `can_i` answer no for `verb` on `resource` (e.g. "patch", "nodes"); the calls
        themselves still succeed (the fake has no RBAC), so a test sees whether it was asked."""
        self.denied.add((verb, group, resource))

    def fail_next(self, op: str, error: ClusterError, *, kind: str | None = None,
                  name: str | None = None, times: int = 1) -> None:
        """Make the next `times` calls of `op` (matching kind/name when given) raise `error`."""
        if op not in OPS:
            raise ValueError(f"unknown op {op!r}; one of {OPS}")
        with self._lock:
            self._failures.append(_Failure(op, error, kind, name, times))

    def on_change(self, fn: Callable[[str, KubeObject], None]) -> None:
        """Call `fn(event_type, object)` after every stored change (like a tiny controller)."""
        self._reactors.append(fn)

    def put(self, obj: KubeObject) -> KubeObject:
        """Store `obj` as-is (create or replace), bypassing conflict checks and failures."""
        with self._txn():
            key = _key_of(obj)
            stored = copy.deepcopy(obj)
            m = stored.setdefault("metadata", {})
            if key not in self._objects:
                self._uid += 1
                m.setdefault("uid", f"uid-{self._uid:06d}")
                m.setdefault("creationTimestamp", self._timestamp())
                m.setdefault("generation", 1)
            return self._write(key, stored, "MODIFIED" if key in self._objects else "ADDED")

    def update(self, ref: ObjectRef, fn: Callable[[KubeObject], None]) -> KubeObject:
        """Change an object in place through `fn(obj)` (no checks, no failures): a helper for
        simulating what controllers and kubelets do."""
        with self._txn():
            obj = copy.deepcopy(self._require(ref))
            fn(obj)
            return self._write(_key(ref), obj, "MODIFIED")

    def add_namespace(self, name: str) -> KubeObject:
        return self.put({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name},
                         "status": {"phase": "Active"}})

    def add_node(self, name: str, *, ready: bool = True, unschedulable: bool = False,
                 labels: Mapping[str, str] | None = None, gpus: int = 1) -> KubeObject:
        spec: dict[str, Any] = {"unschedulable": True} if unschedulable else {}
        return self.put({
            "apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, **(labels or {})}},
            "spec": spec,
            "status": {"conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
                       "allocatable": {"nvidia.com/gpu": str(gpus)},
                       "capacity": {"nvidia.com/gpu": str(gpus)}},
        })

    def add_pod(self, name: str, namespace: str, *, node: str = "",
                labels: Mapping[str, str] | None = None, phase: str = "Running", ready: bool = True,
                restarts: int = 0, owner: ObjectRef | None = None,
                containers: Sequence[str] = ("main",)) -> KubeObject:
        meta: dict[str, Any] = {"name": name, "namespace": namespace, "labels": dict(labels or {})}
        if owner is not None:
            meta["ownerReferences"] = [{"apiVersion": owner.api_version, "kind": owner.kind,
                                        "name": owner.name, "controller": True}]
        spec: dict[str, Any] = {"containers": [{"name": c, "image": "app:1"} for c in containers]}
        if node:
            spec["nodeName"] = node
        return self.put({"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec,
                         "status": _pod_status(phase, ready, restarts, containers)})

    def add_deployment(self, name: str, namespace: str, *, replicas: int = 2,
                       labels: Mapping[str, str] | None = None, nodes: Sequence[str] = (),
                       ready: bool = True, create_pods: bool = True,
                       kind: str = "Deployment") -> KubeObject:
        """A Deployment (or StatefulSet) with `replicas` pods spread round-robin over `nodes`."""
        labels = dict(labels or {"app": name})
        ready_count = replicas if ready else 0
        obj = self.put({
            "apiVersion": "apps/v1", "kind": kind,
            "metadata": {"name": name, "namespace": namespace, "labels": dict(labels)},
            "spec": {"replicas": replicas, "selector": {"matchLabels": dict(labels)},
                     "template": {"metadata": {"labels": dict(labels)},
                                  "spec": {"containers": [{"name": "main", "image": "app:1"}]}}},
            "status": {"replicas": replicas, "readyReplicas": ready_count,
                       "availableReplicas": ready_count, "updatedReplicas": replicas,
                       "observedGeneration": 1},
        })
        if create_pods:
            owner = ObjectRef("apps/v1", kind, namespace, name)
            for i in range(replicas):
                node = nodes[i % len(nodes)] if nodes else ""
                self.add_pod(f"{name}-{i}", namespace, node=node, labels=labels, ready=ready,
                             owner=owner)
        return obj

    def add_statefulset(self, name: str, namespace: str, **kwargs: Any) -> KubeObject:
        return self.add_deployment(name, namespace, kind="StatefulSet", **kwargs)

    def set_pod_phase(self, namespace: str, name: str, phase: str, *, ready: bool | None = None,
                      restarts: int | None = None) -> KubeObject:
        def change(pod: KubeObject) -> None:
            containers = [c["name"] for c in pod.get("spec", {}).get("containers", [])]
            old = pod.get("status", {})
            is_ready = (phase == "Running") if ready is None else ready
            count = restarts if restarts is not None else max(
                (c.get("restartCount", 0) for c in old.get("containerStatuses", [])), default=0)
            pod["status"] = _pod_status(phase, is_ready, count, containers)
        return self.update(ObjectRef("v1", "Pod", namespace, name), change)

    def set_node_condition(self, node: str, condition: str, status: str) -> KubeObject:
        def change(obj: KubeObject) -> None:
            conds = obj.setdefault("status", {}).setdefault("conditions", [])
            for c in conds:
                if c.get("type") == condition:
                    c["status"] = status
                    return
            conds.append({"type": condition, "status": status})
        return self.update(ObjectRef("v1", "Node", None, node), change)

    def set_node_ready(self, node: str, ready: bool) -> KubeObject:
        return self.set_node_condition(node, "Ready", "True" if ready else "False")

    def add_log(self, namespace: str, pod: str, text: str, *, container: str | None = None,
                previous: bool = False) -> None:
        """Append `text` to a container's log (the first container when none is named)."""
        with self._txn():
            name = container or _first_container(self._require(ObjectRef("v1", "Pod", namespace, pod)))
            key = (namespace, pod, name, previous)
            self._logs[key] = self._logs.get(key, "") + text

    def set_log(self, namespace: str, pod: str, text: str, *, container: str | None = None,
                previous: bool = False) -> None:
        with self._txn():
            name = container or _first_container(self._require(ObjectRef("v1", "Pod", namespace, pod)))
            self._logs[(namespace, pod, name, previous)] = text

    def objects(self, kind: str | None = None, namespace: str | None = None) -> builtins.list[KubeObject]:
        with self._txn(write=False):
            return [copy.deepcopy(o) for k, o in sorted(self._objects.items())
                    if (kind is None or k[1] == kind) and (namespace is None or k[2] == namespace)]

    def dump(self) -> dict[str, Any]:
        """Every object keyed by 'apiVersion/Kind/ns/name', without resourceVersion and
        generation (both move on even when a change is reverted): equal dumps mean equal clusters."""
        with self._txn(write=False):
            out: dict[str, Any] = {}
            for key, obj in sorted(self._objects.items()):
                clean = copy.deepcopy(obj)
                clean.get("metadata", {}).pop("resourceVersion", None)
                clean.get("metadata", {}).pop("generation", None)
                out["/".join(key)] = clean
            return out

    def writes(self) -> builtins.list[tuple[str, str]]:
        return [c for c in self.calls if c[0] in WRITE_OPS]

    # --- internals ------------------------------------------------------------------------------

    def _timestamp(self) -> str:
        now = self.clock.time() if self.clock else time.time()
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))

    def _enter(self, op: str, kind: str, namespace: str | None, name: str | None) -> None:
        where = f"{namespace}/" if namespace else ""
        self.calls.append((op, f"{kind} {where}{name}" if name else f"{kind} {namespace or ''}".strip()))
        budget = self._deadlines.budget()
        self.budgets.append((op, None if budget is None else budget.left))
        self._deadlines.check(f"{op} {kind}")
        if self.frozen:
            if budget is None:
                raise Unavailable(f"{op} {kind}: cannot reach the API server (frozen)")
            if self.clock is not None:  # no answer: the caller waits out its deadline
                self.clock.advance_to(self.clock.monotonic() + budget.left)
            raise CallTimeout(f"{op} {kind}: no answer from the API server before the deadline "
                              f"of {budget.what}", None, "Timeout")
        for failure in self._failures:
            if failure.op == op and failure.kind in (None, kind) and failure.name in (None, name):
                failure.times -= 1
                if failure.times <= 0:
                    self._failures.remove(failure)
                raise failure.error

    def _require(self, ref: ObjectRef) -> KubeObject:
        obj = self._objects.get(_key(ref))
        if obj is None:
            raise NotFound(f"{ref} not found", 404, "NotFound")
        return obj

    @staticmethod
    def _view(current: KubeObject, ref: ObjectRef, subresource: str | None) -> Any:
        if subresource in (None, "status"):
            return copy.deepcopy(current)
        if subresource == "scale" and ref.kind in ("Deployment", "StatefulSet"):
            return {"apiVersion": "autoscaling/v1", "kind": "Scale",
                    "metadata": copy.deepcopy(current["metadata"]),
                    "spec": {"replicas": current.get("spec", {}).get("replicas", 1)},
                    "status": {"replicas": current.get("status", {}).get("replicas", 0)}}
        raise Invalid(f"{ref}: subresource {subresource!r} not supported", 404, "NotFound")

    def _commit(self, ref: ObjectRef, current: KubeObject, view: Any, patched: Any,
                subresource: str | None) -> KubeObject:
        if not isinstance(patched, dict):
            raise Invalid(f"{ref}: patch result is not an object", 422, "Invalid")
        meta = patched.get("metadata", {})
        if str(meta.get("resourceVersion", "")) != str(current["metadata"]["resourceVersion"]):
            raise Conflict(f"{ref}: the object has been modified; please apply your changes to the "
                           "latest version and try again", 409, "Conflict")
        if subresource == "status":
            new = copy.deepcopy(current)
            new["status"] = patched.get("status", {})
        elif subresource == "scale":
            new = copy.deepcopy(current)
            new.setdefault("spec", {})["replicas"] = patched.get("spec", {}).get("replicas")
        else:
            new = patched
            if _key_of(new) != _key(ref):
                raise Invalid(f"{ref}: a patch may not change apiVersion, kind, namespace or name",
                              422, "Invalid")
            new.setdefault("metadata", {})["uid"] = current["metadata"].get("uid")
        if new == current:
            return copy.deepcopy(current)  # a no-op patch does not bump the version
        if new.get("spec") != current.get("spec") and ref.kind in GENERATION_KINDS:
            new["metadata"]["generation"] = int(current["metadata"].get("generation", 1)) + 1
        return self._write(_key(ref), new, "MODIFIED")

    def _write(self, key: Key, obj: KubeObject, event_type: str) -> KubeObject:
        self._rv += 1
        obj["metadata"]["resourceVersion"] = str(self._rv)
        self._objects[key] = obj
        self._record(event_type, obj)
        return copy.deepcopy(obj)

    def _record(self, event_type: str, obj: KubeObject) -> None:
        self._history.append((self._rv, event_type, copy.deepcopy(obj)))
        self._cond.notify_all()
        for fn in list(self._reactors):
            fn(event_type, copy.deepcopy(obj))

    def _matches(self, key: Key, obj: KubeObject, api_version: str, kind: str,
                 namespace: str | None, label_selector: str, field_selector: str) -> bool:
        if key[0] != api_version or key[1] != kind:
            return False
        if namespace is not None and key[2] != namespace:
            return False
        labels = obj.get("metadata", {}).get("labels") or {}
        return (LabelSelector.parse(label_selector).matches(labels)
                and FieldSelector.parse(field_selector).matches(obj))

    def _pending(self, after: int, api_version: str, kind: str, namespace: str | None,
                 label_selector: str, field_selector: str) -> tuple[builtins.list[WatchEvent], int]:
        events: builtins.list[WatchEvent] = []
        last = after
        if self._history and self._history[0][0] > after + 1 and after < self._rv:
            raise Gone(f"too old resource version: {after}", 410, "Expired")
        for rv, etype, obj in self._history:
            if rv <= after:
                continue
            last = rv
            if self._matches(_key_of(obj), obj, api_version, kind, namespace, label_selector,
                             field_selector):
                events.append(WatchEvent(etype, copy.deepcopy(obj)))
        return events, max(last, after)

    def _stream(self, initial: builtins.list[WatchEvent], start: int, api_version: str, kind: str,
                namespace: str | None, label_selector: str, field_selector: str,
                timeout_seconds: float) -> Iterator[WatchEvent]:
        yield from initial
        seen = start
        clock = self.clock
        if clock is not None:
            end = clock.monotonic() + timeout_seconds
            while True:
                with self._txn(write=False):
                    events, seen = self._pending(seen, api_version, kind, namespace, label_selector,
                                                 field_selector)
                if events:
                    yield from events
                    continue
                now = clock.monotonic()
                if now >= end:
                    return
                nxt = clock.next_timer()
                # nothing pending: let fake time pass to the next timer or to the watch's end
                clock.advance_to(max(now, nxt) if nxt is not None and nxt <= end else end)
        end = time.monotonic() + timeout_seconds
        while True:
            with self._lock:
                events, seen = self._pending(seen, api_version, kind, namespace, label_selector,
                                             field_selector)
                if not events:
                    left = end - time.monotonic()
                    if left <= 0:
                        return
                    self._cond.wait(left)
                    continue
            yield from events


def _first_container(pod: Mapping[str, Any]) -> str:
    containers = pod.get("spec", {}).get("containers") or [{"name": "main"}]
    return str(containers[0].get("name", "main"))


def _pod_status(phase: str, ready: bool, restarts: int, containers: Sequence[str]) -> dict[str, Any]:
    running = phase == "Running"
    return {
        "phase": phase,
        "conditions": [{"type": "Ready", "status": "True" if ready else "False"},
                       {"type": "PodScheduled", "status": "True"}],
        "containerStatuses": [{"name": c, "ready": ready, "restartCount": restarts,
                               "state": {"running": {}} if running else {"waiting": {}}}
                              for c in containers],
    }


class FileBackedFakeCluster(FakeCluster):
    """A FakeCluster whose state lives in a JSON file shared by processes (see module docstring).

    Every call loads the file under an exclusive `flock` and, for writes, saves it (atomically:
    write a temp file, fsync, rename) before releasing the lock, so a process killed at any point
    leaves the last completed change on disk.
    """

    def __init__(self, path: str | os.PathLike[str], description: str = "file-backed fake cluster",
                 **kwargs: Any) -> None:
        super().__init__(description, **kwargs)
        self.path = Path(path)
        self._lockfile = Path(str(self.path) + ".lock")
        self._depth = 0
        if not self.path.exists():
            with self._txn():
                pass

    @contextlib.contextmanager
    def _txn(self, write: bool = True) -> Iterator[None]:
        with self._lock:
            if self._depth:
                self._depth += 1
                try:
                    yield
                finally:
                    self._depth -= 1
                return
            with open(self._lockfile, "a+") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                try:
                    self._depth = 1
                    self._load()
                    before = self._rv, len(self.events), json.dumps(sorted(self._logs.items()))
                    try:
                        yield
                    finally:
                        after = self._rv, len(self.events), json.dumps(sorted(self._logs.items()))
                        if after != before or not self.path.exists():
                            self._save()
                finally:
                    self._depth = 0
                    fcntl.flock(lock, fcntl.LOCK_UN)

    def _load(self) -> None:
        if not self.path.exists():
            return
        data = json.loads(self.path.read_text())
        if data["rv"] == self._rv and self._objects:
            return  # nothing changed since we last saw it (rv is global and only grows)
        self._rv = data["rv"]
        self._uid = data["uid"]
        self._objects = {tuple(k.split("\x1f")): v for k, v in data["objects"].items()}
        self._logs = {(a, b, c, d): t for a, b, c, d, t in data["logs"]}
        self.events = [RecordedEvent(ObjectRef.from_json(e["regarding"]), e["reason"], e["message"],
                                     e["type"]) for e in data["events"]]
        # other processes' changes are not in our watch history: start it afresh from here
        self._history.clear()

    def _save(self) -> None:
        data = {
            "rv": self._rv, "uid": self._uid,
            "objects": {"\x1f".join(k): v for k, v in self._objects.items()},
            "logs": [[*k, t] for k, t in self._logs.items()],
            "events": [{"regarding": e.regarding.to_json(), "reason": e.reason,
                        "message": e.message, "type": e.event_type} for e in self.events],
        }
        tmp = self.path.with_name(self.path.name + f".tmp{os.getpid()}")
        with open(tmp, "w") as fh:
            json.dump(data, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)
