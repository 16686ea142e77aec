"""The embedded cluster's object store: thread-safe, in memory, with watches.

One global, monotonically increasing resourceVersion (an int, rendered as a string) orders every
change, as etcd's revision does. Every change is kept in a bounded history so watches can resume
from a resourceVersion; older versions answer 410 Gone. The store enforces what the real API server
enforces before storage: names, namespaces that exist, optimistic concurrency, status subresource
rules, generation, owner-reference garbage collection and CRD registration. Everything it returns is
a copy. It must not know about HTTP (the API server turns its errors into Status objects).

Simplifications (documented for part 2): deletion is immediate (no deletionTimestamp/finalizers
wait; gracePeriodSeconds is accepted and ignored); Foreground deletion removes dependents before the
owner in the same call; deleting a namespace deletes its objects at once.
"""

from __future__ import annotations

import collections
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from runner.errors import ClusterError, Conflict, Forbidden, Gone, Invalid, NotFound
from runner.sim import patching, podsecurity, validation
from runner.sim.resources import (
    CRDS,
    DEPLOYMENTS,
    ENDPOINTSLICES,
    GVR,
    LEASES,
    NAMESPACES,
    NODES,
    PDBS,
    PODS,
    SECRETS,
    SERVICES,
    WORKLOADS,
    Registry,
    ResourceInfo,
)
from runner.sim.selectors import FieldSelector, LabelSelector

log = logging.getLogger(__name__)
T = TypeVar("T")

Obj = dict[str, Any]
ObjList = list[Obj]
Dependents = list[tuple[ResourceInfo, Obj]]
Listener = Callable[[str, GVR, Obj], None]
Warnings = list[str]  # admission warnings, out-parameter of create/update/patch

DEFAULT_HISTORY = 20000
# What a fresh cluster has, plus the state namespace where runs keep their journals and leases
# (runner/settings: `chaos-system` by default), so a first run needs no create rights on namespaces.
STATE_NAMESPACE = "chaos-system"
INITIAL_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease", STATE_NAMESPACE)
_NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")


def _clone(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _clone(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clone(v) for v in value]
    return value


def clone(value: T) -> T:
    """A deep copy of a JSON-like value; several times faster than copy.deepcopy."""
    return cast(T, _clone(value))


def now_rfc3339() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


_QUANTITY_MAPS = frozenset({"limits", "requests", "capacity", "allocatable", "hard", "used"})


def canonical_quantities(value: Any) -> None:
    """Store resource quantities as strings, as a real API server serialises them (`nvidia.com/gpu: 1`
    in a manifest reads back as "1"); typed clients such as the official one reject a bare number."""
    if isinstance(value, list):
        for item in value:
            canonical_quantities(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            if key in _QUANTITY_MAPS and isinstance(item, dict):
                for q, amount in item.items():
                    if isinstance(amount, (int, float)) and not isinstance(amount, bool):
                        item[q] = str(amount)
            else:
                canonical_quantities(item)


def already_exists(info: ResourceInfo, name: str) -> Conflict:
    err = Conflict(f'{info.gvr} "{name}" already exists', status=409, reason="AlreadyExists")
    # the name is in the details even when the URL (a POST to the collection) does not carry it
    err.status_details = {"name": name, "group": info.gvr.group, "kind": info.gvr.plural}  # type: ignore[attr-defined]
    return err


def not_found(gvr: GVR, name: str) -> NotFound:
    return NotFound(f'{gvr} "{name}" not found', status=404, reason="NotFound")


def invalid(info: ResourceInfo | GVR, name: str, detail: str) -> Invalid:
    if isinstance(info, ResourceInfo):
        return validation.invalid(info.kind, info.gvr.group, name, detail)
    return Invalid(f'{info} "{name}" is invalid: {detail}', status=422, reason="Invalid")


def bad_request(message: str) -> ClusterError:
    return ClusterError(message, status=400, reason="BadRequest")


@dataclass(frozen=True)
class _Event:
    rv: int
    type: str
    gvr: GVR
    obj: Obj  # never mutated after commit
    old: Obj | None = None  # the object before a MODIFIED change


class StoreWatch:
    """One watch: an iterator of (type, obj). Blocking; `next_event(timeout)` returns None on timeout."""

    def __init__(self, store: Store, gvr: GVR, namespace: str | None, labels: LabelSelector,
                 fields: FieldSelector, bookmarks: bool, bookmark_interval: float) -> None:
        self._store = store
        self.gvr = gvr
        self.namespace = namespace
        self._labels = labels
        self._fields = fields
        self._bookmarks = bookmarks
        self._bookmark_interval = bookmark_interval
        self._queue: collections.deque[tuple[str, Obj]] = collections.deque()
        self._cond = threading.Condition()
        self._stopped = False
        self._last_rv = 0
        self._last_sent = time.monotonic()

    def _matches(self, obj: Obj) -> bool:
        meta = obj.get("metadata", {})
        if self.namespace is not None and meta.get("namespace") != self.namespace:
            return False
        return self._labels.matches(meta.get("labels")) and self._fields.matches(obj)

    def _offer(self, ev: _Event) -> None:
        if ev.gvr != self.gvr:
            return
        type_ = ev.type
        now = self._matches(ev.obj)
        if type_ == "MODIFIED" and ev.old is not None:
            before = self._matches(ev.old)
            # As the real watch cache does: an object entering the selection is ADDED for this
            # watcher, one leaving it is DELETED (e.g. a kubelet watching spec.nodeName=<node>).
            if before and not now:
                type_, now = "DELETED", True
            elif now and not before:
                type_ = "ADDED"
        if now:
            with self._cond:
                self._queue.append((type_, ev.obj))
                self._cond.notify_all()

    def _push(self, type_: str, obj: Obj) -> None:
        with self._cond:
            self._queue.append((type_, obj))
            self._cond.notify_all()

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
        self._store._unwatch(self)

    @property
    def stopped(self) -> bool:
        return self._stopped

    def next_event(self, timeout: float | None = None) -> tuple[str, Obj] | None:
        """The next (type, obj), or None when `timeout` passes or the watch is stopped."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            with self._cond:
                while not self._queue and not self._stopped:
                    wait = None if deadline is None else deadline - time.monotonic()
                    if self._bookmarks:
                        until_bm = self._last_sent + self._bookmark_interval - time.monotonic()
                        if until_bm <= 0:
                            break
                        wait = until_bm if wait is None else min(wait, until_bm)
                    if wait is not None and wait <= 0:
                        return None
                    self._cond.wait(wait)
                if self._queue:
                    type_, obj = self._queue.popleft()
                    self._last_sent = time.monotonic()
                    return type_, clone(obj)
                if self._stopped:
                    return None
            # A bookmark is due. Take the store lock first (the order commits use), so the version
            # it carries is one whose events this watcher has all been handed.
            with self._store._lock:
                rv = self._store._rv
                with self._cond:
                    if self._queue:
                        continue
                    self._last_sent = time.monotonic()
            return "BOOKMARK", self._bookmark(rv)

    def _bookmark(self, rv: int) -> Obj:
        info = self._store.registry.get(self.gvr)
        kind = info.kind if info else ""
        return {"kind": kind, "apiVersion": self.gvr.api_version, "metadata": {"resourceVersion": str(rv)}}

    def __iter__(self) -> Iterator[tuple[str, Obj]]:
        while True:
            ev = self.next_event(None)
            if ev is None:
                return
            yield ev


class Store:
    """In-memory objects keyed by GVR, then (namespace, name). Thread-safe."""

    def __init__(self, registry: Registry | None = None, history: int = DEFAULT_HISTORY,
                 bookmark_interval: float = 5.0) -> None:
        self.registry = registry or Registry.with_builtins()
        self._lock = threading.RLock()
        self._objects: dict[GVR, dict[tuple[str, str], Obj]] = collections.defaultdict(dict)
        self._rv = 0
        self._history: collections.deque[_Event] = collections.deque(maxlen=history)
        self._compacted = 0  # highest rv no longer in the history
        self._watches: list[StoreWatch] = []
        self._listeners: list[Listener] = []
        self._pending: collections.deque[_Event] = collections.deque()
        self._notify_lock = threading.RLock()
        self.bookmark_interval = bookmark_interval
        for ns in INITIAL_NAMESPACES:
            self.create(NAMESPACES, {"metadata": {"name": ns}})

    # --- bookkeeping -----------------------------------------------------------------------

    @property
    def resource_version(self) -> str:
        with self._lock:
            return str(self._rv)

    def info(self, gvr: GVR) -> ResourceInfo:
        info = self.registry.get(gvr)
        if info is None:
            raise NotFound(f"the server could not find the requested resource ({gvr})", status=404,
                           reason="NotFound")
        return info

    def add_listener(self, callback: Listener) -> None:
        """`callback(type, gvr, obj)` runs after each committed change, in commit order."""
        with self._lock:
            self._listeners.append(callback)

    def remove_listener(self, callback: Listener) -> None:
        with self._lock:
            if callback in self._listeners:
                self._listeners.remove(callback)

    def _commit(self, type_: str, gvr: GVR, obj: Obj, old: Obj | None = None) -> Obj:
        """Record a change (lock held): bump rv, stamp it, log it, queue notifications."""
        self._rv += 1
        obj["metadata"]["resourceVersion"] = str(self._rv)
        ev = _Event(self._rv, type_, gvr, obj, old)
        if len(self._history) == self._history.maxlen:
            self._compacted = self._history[0].rv
        self._history.append(ev)
        for w in self._watches:
            w._offer(ev)
        self._pending.append(ev)
        return obj

    def _notify(self) -> None:
        """Run listeners outside the store lock, strictly in commit order."""
        with self._notify_lock:
            while True:
                with self._lock:
                    if not self._pending:
                        return
                    ev = self._pending.popleft()
                    listeners = list(self._listeners)
                for cb in listeners:
                    try:
                        cb(ev.type, ev.gvr, clone(ev.obj))
                    except Exception:  # a broken listener never breaks the store
                        log.exception("store listener failed")

    def _unwatch(self, w: StoreWatch) -> None:
        with self._lock:
            if w in self._watches:
                self._watches.remove(w)

    def _bucket(self, gvr: GVR) -> dict[tuple[str, str], Obj]:
        return self._objects[gvr]

    def _scope(self, info: ResourceInfo, namespace: str | None) -> str:
        if not info.namespaced:
            return ""
        if not namespace:
            raise bad_request("the namespace of the object is required")
        if ("", namespace) not in self._bucket(NAMESPACES):
            raise NotFound(f'namespaces "{namespace}" not found', status=404, reason="NotFound")
        return namespace

    # --- verbs -----------------------------------------------------------------------------

    def create(self, gvr: GVR, obj: Obj, namespace: str | None = None, dry_run: bool = False,
               warnings: Warnings | None = None) -> Obj:
        """Create `obj`; admission warnings (Pod Security) are appended to `warnings` when given."""
        info = self.info(gvr)
        obj = clone(obj)
        meta = obj.setdefault("metadata", {})
        if not isinstance(meta, dict):
            raise bad_request("metadata must be an object")
        self._check_type(info, obj)
        if info.builtin:
            canonical_quantities(obj)
        ns_in_body = meta.get("namespace")
        if info.namespaced:
            namespace = namespace or ns_in_body or None
            if ns_in_body and namespace and ns_in_body != namespace:
                raise bad_request("the namespace of the provided object does not match the namespace "
                                  "sent on the request")
        with self._lock:
            ns = self._scope(info, namespace)
            if not meta.get("name") and meta.get("generateName"):
                meta["name"] = f"{meta['generateName']}{uuid.uuid4().hex[:5]}"
            name = str(meta.get("name") or "")
            self._validate(info, obj, name)
            bucket = self._bucket(gvr)
            if (ns, name) in bucket:
                raise already_exists(info, name)
            if gvr == NAMESPACES and meta.get("deletionTimestamp"):
                meta.pop("deletionTimestamp")
            obj["apiVersion"] = gvr.api_version
            obj["kind"] = info.kind
            if info.namespaced:
                meta["namespace"] = ns
            else:
                meta.pop("namespace", None)
            meta["uid"] = str(uuid.uuid4())
            meta["creationTimestamp"] = now_rfc3339()
            meta["generation"] = 1
            for key in ("resourceVersion", "deletionTimestamp", "managedFields", "selfLink"):
                meta.pop(key, None)
            self._defaults_on_create(info, obj)
            self._allocate(info, obj, None)
            self._admit(info, obj, None, warnings)
            if dry_run:  # everything checked and defaulted, nothing stored (dryRun=All)
                return clone(obj)
            bucket[(ns, name)] = obj
            self._commit("ADDED", gvr, obj)
            if gvr == CRDS:
                self.registry.register_crd(obj)
            out = clone(obj)
        self._notify()
        return out

    def get(self, gvr: GVR, namespace: str | None, name: str) -> Obj:
        info = self.info(gvr)
        with self._lock:
            obj = self._bucket(gvr).get((namespace or "" if info.namespaced else "", name))
            if obj is None:
                raise not_found(gvr, name)
            return clone(obj)

    def list(self, gvr: GVR, namespace: str | None = None, label_selector: str = "",
             field_selector: str = "") -> tuple[list[Obj], str]:
        info = self.info(gvr)
        labels = LabelSelector.parse(label_selector)
        fields = FieldSelector.parse(field_selector)
        with self._lock:
            items = [
                o for (ns, _), o in self._bucket(gvr).items()
                if (namespace is None or not info.namespaced or ns == namespace)
                and labels.matches(o["metadata"].get("labels")) and fields.matches(o)
            ]
            items.sort(key=lambda o: (o["metadata"].get("namespace", ""), o["metadata"]["name"]))
            return [clone(o) for o in items], str(self._rv)

    def update(self, gvr: GVR, obj: Obj, subresource: str | None = None, dry_run: bool = False,
               warnings: Warnings | None = None) -> Obj:
        info = self.info(gvr)
        obj = clone(obj)
        meta = obj.get("metadata") or {}
        name = str(meta.get("name") or "")
        with self._lock:
            ns = str(meta.get("namespace") or "") if info.namespaced else ""
            current = self._bucket(gvr).get((ns, name))
            if current is None:
                raise not_found(gvr, name)
            out = self._replace(info, current, obj, subresource, dry_run, warnings)
        self._notify()
        return out

    def _replace(self, info: ResourceInfo, current: Obj, obj: Obj, subresource: str | None,
                 dry_run: bool = False, warnings: Warnings | None = None) -> Obj:
        """Update `current` with `obj` (lock held). Returns a copy of the stored result."""
        self._check_type(info, obj)
        if info.builtin:
            canonical_quantities(obj)
        meta = obj.setdefault("metadata", {})
        cur_meta = current["metadata"]
        rv = meta.get("resourceVersion")
        if rv and str(rv) != cur_meta["resourceVersion"]:
            raise Conflict(f'Operation cannot be fulfilled on {info.gvr} "{cur_meta["name"]}": the object '
                           "has been modified; please apply your changes to the latest version and try "
                           "again", status=409, reason="Conflict")
        if meta.get("uid") and meta["uid"] != cur_meta["uid"]:
            raise Conflict(f'Operation cannot be fulfilled on {info.gvr} "{cur_meta["name"]}": '
                           "Precondition failed: UID in precondition does not match", status=409,
                           reason="Conflict")
        if subresource == "status":
            new = clone(current)
            new["status"] = obj.get("status", {})
        elif subresource not in (None, ""):
            raise NotFound(f"the server could not find the requested resource ({info.gvr}/{subresource})",
                           status=404, reason="NotFound")
        else:
            new = obj
            new_meta = new["metadata"]
            for key in ("uid", "creationTimestamp", "namespace", "name", "generation",
                        "deletionTimestamp"):
                if key in cur_meta:
                    new_meta[key] = cur_meta[key]
                else:
                    new_meta.pop(key, None)
            new_meta.pop("managedFields", None)
            if info.has_status:
                if "status" in current:
                    new["status"] = current["status"]
                else:
                    new.pop("status", None)
            new["apiVersion"] = info.gvr.api_version
            new["kind"] = info.kind
            self._validate(info, new, cur_meta["name"])
            self._allocate(info, new, current)
            self._admit(info, new, current, warnings)
            if self._generation_changed(info, current, new):
                new_meta["generation"] = int(cur_meta.get("generation", 1)) + 1
        if new == current:  # a no-op update keeps the resourceVersion and emits nothing
            return clone(current)
        if dry_run:
            return clone(new)
        where = (cur_meta.get("namespace", "") if info.namespaced else "", cur_meta["name"])
        self._bucket(info.gvr)[where] = new
        self._commit("MODIFIED", info.gvr, new, current)
        if info.gvr == CRDS:
            self.registry.register_crd(new)
        return clone(new)

    def patch(self, gvr: GVR, namespace: str | None, name: str, patch_type: str, body: Any,
              subresource: str | None = None, dry_run: bool = False,
              warnings: Warnings | None = None) -> Obj:
        info = self.info(gvr)
        if patch_type == patching.STRATEGIC_MERGE_PATCH and not info.builtin:
            raise Invalid(f"the body of the request was in an unknown format - accepted media types "
                          f"include: {patching.JSON_PATCH}, {patching.MERGE_PATCH}", status=415,
                          reason="UnsupportedMediaType")
        with self._lock:
            ns = (namespace or "") if info.namespaced else ""
            current = self._bucket(gvr).get((ns, name))
            if current is None:
                raise not_found(gvr, name)
            patched = patching.apply_patch(clone(current), patch_type, body)
            meta = patched.get("metadata")
            if not isinstance(meta, dict):
                raise invalid(info, name, "metadata: Required value")
            if meta.get("name") != name or (info.namespaced and meta.get("namespace") != ns):
                raise bad_request("the name of the object does not match the name on the URL")
            # A patch applies to the current object: its rv only conflicts if the patch set one.
            if str(meta.get("resourceVersion")) == current["metadata"]["resourceVersion"]:
                meta.pop("resourceVersion", None)
            out = self._replace(info, current, patched, subresource, dry_run, warnings)
        self._notify()
        return out

    def delete(self, gvr: GVR, namespace: str | None, name: str, grace_period_seconds: int | None = None,
               propagation_policy: str | None = None, preconditions: Obj | None = None,
               dry_run: bool = False) -> Obj:
        """Delete now (graceful deletion is immediate in the simulation) and collect dependents."""
        info = self.info(gvr)
        policy = propagation_policy or "Background"
        if policy not in ("Background", "Foreground", "Orphan"):
            raise invalid(info, name, f'propagationPolicy: Unsupported value: "{policy}"')
        with self._lock:
            ns = (namespace or "") if info.namespaced else ""
            current = self._bucket(gvr).get((ns, name))
            if current is None:
                raise not_found(gvr, name)
            pre = preconditions or {}
            if pre.get("uid") and pre["uid"] != current["metadata"]["uid"]:
                raise Conflict(f'Operation cannot be fulfilled on {gvr} "{name}": Precondition failed: '
                               f"UID in precondition: {pre['uid']}, UID in object meta: "
                               f"{current['metadata']['uid']}", status=409, reason="Conflict")
            stale = pre.get("resourceVersion") not in (None, "", current["metadata"]["resourceVersion"])
            if stale:
                raise Conflict(f'Operation cannot be fulfilled on {gvr} "{name}": Precondition failed: '
                               "resourceVersion does not match", status=409, reason="Conflict")
            out = clone(current) if dry_run else self._delete_locked(info, current, policy)
        self._notify()
        return out

    def _delete_locked(self, info: ResourceInfo, current: Obj, policy: str) -> Obj:
        meta = current["metadata"]
        uid = meta["uid"]
        if policy == "Foreground":
            self._collect(uid, "Foreground")
        key = (meta.get("namespace", "") if info.namespaced else "", meta["name"])
        bucket = self._bucket(info.gvr)
        if key not in bucket:  # removed while collecting a cycle
            return clone(current)
        del bucket[key]
        gone = clone(current)
        self._commit("DELETED", info.gvr, gone)
        if info.gvr == NAMESPACES:
            for gvr, objs in list(self._objects.items()):
                sub = self.registry.get(gvr)
                if sub is not None and sub.namespaced:
                    for k, o in list(objs.items()):
                        if k[0] == meta["name"] and k in objs:
                            self._delete_locked(sub, o, "Background")
        if info.gvr == CRDS:
            for res in self.registry.all():
                if not res.builtin and res.gvr.group == (current.get("spec") or {}).get("group") \
                        and res.gvr.plural == ((current.get("spec") or {}).get("names") or {}).get("plural"):
                    for o in list(self._bucket(res.gvr).values()):
                        self._delete_locked(res, o, "Background")
            self.registry.unregister_crd(current)
        if policy == "Orphan":
            self._orphan(uid)
        elif policy == "Background":
            self._collect(uid, "Background")
        return clone(gone)

    def _dependents(self, uid: str) -> Dependents:
        out: Dependents = []
        for gvr, objs in self._objects.items():
            info = self.registry.get(gvr)
            if info is None:
                continue
            for o in objs.values():
                if any(r.get("uid") == uid for r in o["metadata"].get("ownerReferences") or []):
                    out.append((info, o))
        return out

    def _collect(self, uid: str, policy: str) -> None:
        for info, dep in self._dependents(uid):
            key = (dep["metadata"].get("namespace", "") if info.namespaced else "", dep["metadata"]["name"])
            if key in self._bucket(info.gvr):
                self._delete_locked(info, dep, policy)

    def _orphan(self, uid: str) -> None:
        for info, dep in self._dependents(uid):
            new = clone(dep)
            refs = [r for r in new["metadata"].get("ownerReferences", []) if r.get("uid") != uid]
            if refs:
                new["metadata"]["ownerReferences"] = refs
            else:
                new["metadata"].pop("ownerReferences", None)
            self._replace(info, dep, new, None)

    def delete_collection(self, gvr: GVR, namespace: str | None = None, label_selector: str = "",
                          field_selector: str = "", propagation_policy: str | None = None) -> ObjList:
        items, _ = self.list(gvr, namespace, label_selector, field_selector)
        out: ObjList = []
        for item in items:
            try:
                out.append(self.delete(gvr, item["metadata"].get("namespace"), item["metadata"]["name"],
                                       propagation_policy=propagation_policy))
            except NotFound:
                continue  # collected as someone's dependent meanwhile
        return out

    def watch(self, gvr: GVR, namespace: str | None = None, resource_version: str | None = None,
              label_selector: str = "", field_selector: str = "", bookmarks: bool = False) -> StoreWatch:
        """Start a watch. No version (or "0"): synthetic ADDED for what exists, then changes.
        A version: every change after it (410 Gone when it is older than the kept history)."""
        info = self.info(gvr)
        labels = LabelSelector.parse(label_selector)
        fields = FieldSelector.parse(field_selector)
        w = StoreWatch(self, gvr, namespace if info.namespaced else None, labels, fields, bookmarks,
                       self.bookmark_interval)
        with self._lock:
            if resource_version in (None, "", "0"):
                for _, o in sorted(self._bucket(gvr).items()):
                    ev = _Event(int(o["metadata"]["resourceVersion"]), "ADDED", gvr, o)
                    w._offer(ev)
            else:
                try:
                    since = int(resource_version)
                except ValueError as exc:
                    raise bad_request(f"invalid resource version: {resource_version}") from exc
                if since < self._compacted:
                    raise Gone(f"too old resource version: {since} ({self._compacted + 1})", status=410,
                               reason="Expired")
                for ev in self._history:
                    if ev.rv > since:
                        w._offer(ev)
            self._watches.append(w)
        return w

    def stop_watches(self) -> None:
        with self._lock:
            watches = list(self._watches)
        for w in watches:
            w.stop()

    # --- rules the real server applies before storage --------------------------------------

    @staticmethod
    def _check_type(info: ResourceInfo, obj: Obj) -> None:
        kind = obj.get("kind")
        api_version = obj.get("apiVersion")
        if kind and kind != info.kind:
            raise bad_request(f"the object provided is unrecognized (must be of type {info.kind}): "
                              f"kind {kind} does not match {info.kind}")
        if api_version and api_version != info.gvr.api_version:
            raise bad_request(f"the API version in the data ({api_version}) does not match the expected "
                              f"API version ({info.gvr.api_version})")

    @staticmethod
    def _validate(info: ResourceInfo, obj: Obj, name: str) -> None:
        if not name:
            raise invalid(info, "", "metadata.name: Required value: name or generateName is required")
        if len(name) > 253 or not _NAME_RE.match(name):
            raise invalid(info, name, f'metadata.name: Invalid value: "{name}": a lowercase RFC 1123 '
                          "subdomain must consist of lower case alphanumeric characters, '-' or '.', and "
                          "must start and end with an alphanumeric character")
        labels = obj["metadata"].get("labels")
        if labels is not None and (not isinstance(labels, dict)
                                   or not all(isinstance(v, str) for v in labels.values())):
            raise invalid(info, name, "metadata.labels: Invalid value: labels must be strings")
        if info.gvr == PODS:
            containers = (obj.get("spec") or {}).get("containers")
            if not containers or not isinstance(containers, list):
                raise invalid(info, name, "spec.containers: Required value")
            for i, c in enumerate(containers):
                if not isinstance(c, dict) or not c.get("name"):
                    raise invalid(info, name, f"spec.containers[{i}].name: Required value")
                if not c.get("image"):
                    raise invalid(info, name, f"spec.containers[{i}].image: Required value")
        if info.gvr in WORKLOADS:
            spec = obj.get("spec") or {}
            if not isinstance(spec.get("selector"), dict):
                raise invalid(info, name, "spec.selector: Required value")
            tmpl_labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
            if not LabelSelector.parse(selector_string(spec["selector"])).matches(tmpl_labels):
                raise invalid(info, name, "spec.template.metadata.labels: Invalid value: "
                              "`selector` does not match template `labels`")
        if info.gvr == LEASES:
            validation.lease(obj, name)
        if info.gvr == SECRETS:
            validation.secret(obj, name)
        if info.gvr == ENDPOINTSLICES:
            validation.endpoint_slice(obj, name)
        if info.gvr == CRDS:
            spec = obj.get("spec") or {}
            names = spec.get("names") or {}
            if not spec.get("group") or not names.get("plural") or not names.get("kind"):
                raise invalid(info, name, "spec.group, spec.names.plural and spec.names.kind are required")
            if name != f"{names['plural']}.{spec['group']}":
                raise invalid(info, name, f'metadata.name: Invalid value: "{name}": must be spec.names.plural'
                              "+\".\"+spec.group")

    def _allocate(self, info: ResourceInfo, obj: Obj, old: Obj | None) -> None:
        """Defaults that need the other objects (lock held): a Service's clusterIP and nodePorts."""
        if info.gvr != SERVICES:
            return
        uid = ((old or {}).get("metadata") or {}).get("uid")
        ips: set[str] = set()
        node_ports: set[int] = set()
        for other in self._bucket(SERVICES).values():
            if other["metadata"]["uid"] == uid:
                continue
            spec = other.get("spec") or {}
            ips.update(ip for ip in spec.get("clusterIPs") or [] if ip and ip != "None")
            node_ports.update(int(p["nodePort"]) for p in spec.get("ports") or [] if p.get("nodePort"))
        validation.service(obj, old, ips, node_ports)

    def _admit(self, info: ResourceInfo, obj: Obj, old: Obj | None, warnings: Warnings | None) -> None:
        """Validating admission (lock held), after validation as in kube-apiserver: Pod Security."""
        gvr = info.gvr
        meta = obj["metadata"]
        if gvr == NAMESPACES:
            labels = meta.get("labels") or {}
            old_labels = ((old or {}).get("metadata") or {}).get("labels") or {}
            if old is not None and labels == old_labels:
                return
            errors = podsecurity.label_errors(labels)
            if errors:
                raise Invalid(f'namespaces "{meta["name"]}" is invalid: {", ".join(errors)}', status=422,
                              reason="Invalid")
            if old is not None and warnings is not None and (
                    podsecurity.policy(labels, "enforce") != podsecurity.policy(old_labels, "enforce")):
                pods = [o for (ns, _), o in self._bucket(PODS).items() if ns == meta["name"]]
                warnings.extend(podsecurity.existing_pods_warnings(meta["name"], labels, pods))
            return
        if gvr != PODS and gvr not in WORKLOADS:
            return
        ns_obj = self._bucket(NAMESPACES).get(("", str(meta.get("namespace", ""))))
        labels = ((ns_obj or {}).get("metadata") or {}).get("labels") or {}
        if gvr == PODS:
            if old is not None:
                return  # a pod's spec is immutable where it matters; upstream skips such updates
            decision = podsecurity.admit_pod(labels, obj)
            if decision.forbidden:
                err = Forbidden(f'pods "{meta["name"]}" is forbidden: {decision.forbidden}', status=403,
                                reason="Forbidden")
                err.status_details = {"name": meta["name"], "kind": "pods"}  # type: ignore[attr-defined]
                raise err
            if warnings is not None:
                warnings.extend(decision.warnings)
            return
        template = (obj.get("spec") or {}).get("template") or {}
        if old is not None and ((old.get("spec") or {}).get("template") or {}) == template:
            return  # scaling or a status change: the template did not change
        if warnings is not None:
            warnings.extend(podsecurity.template_warnings(labels, template))

    @staticmethod
    def _defaults_on_create(info: ResourceInfo, obj: Obj) -> None:
        gvr = info.gvr
        if gvr == NAMESPACES:
            obj.setdefault("spec", {"finalizers": ["kubernetes"]})
            obj["status"] = {"phase": "Active"}
        elif gvr == PODS:
            spec = obj["spec"]
            spec.setdefault("restartPolicy", "Always")
            spec.setdefault("terminationGracePeriodSeconds", 30)
            spec.setdefault("dnsPolicy", "ClusterFirst")
            spec.setdefault("schedulerName", "default-scheduler")
            for c in spec["containers"]:
                c.setdefault("imagePullPolicy", "IfNotPresent")
            obj["status"] = {"phase": "Pending", "qosClass": "BestEffort"}
        elif gvr == NODES:
            obj.setdefault("spec", {})
        elif gvr == SERVICES:
            obj["status"] = {"loadBalancer": {}}
        elif gvr == SECRETS:
            obj.setdefault("type", "Opaque")
        elif gvr == PDBS:
            obj["status"] = {"disruptionsAllowed": 0, "currentHealthy": 0, "desiredHealthy": 0,
                             "expectedPods": 0}
        elif gvr in WORKLOADS:
            spec = obj.setdefault("spec", {})
            spec.setdefault("replicas", 1)
            # the client models require status.replicas of ReplicaSets and StatefulSets
            obj["status"] = {} if gvr == DEPLOYMENTS else {"replicas": 0}
        elif info.has_status and not info.builtin:
            obj.pop("status", None)  # a custom resource's status is set through its subresource

    @staticmethod
    def _generation_changed(info: ResourceInfo, old: Obj, new: Obj) -> bool:
        if info.gvr in WORKLOADS or info.gvr == PODS:
            return bool(old.get("spec") != new.get("spec"))
        skip = {"metadata", "status", "apiVersion", "kind"}
        before = {k: v for k, v in old.items() if k not in skip}
        return before != {k: v for k, v in new.items() if k not in skip}


def selector_string(selector: Obj) -> str:
    """A LabelSelector object (matchLabels/matchExpressions) as selector text (controllers use it too)."""
    parts = [f"{k}={v}" for k, v in (selector.get("matchLabels") or {}).items()]
    for expr in selector.get("matchExpressions") or []:
        op = str(expr.get("operator", ""))
        key = expr.get("key", "")
        values = ",".join(expr.get("values") or [])
        if op == "In":
            parts.append(f"{key} in ({values})")
        elif op == "NotIn":
            parts.append(f"{key} notin ({values})")
        elif op == "Exists":
            parts.append(str(key))
        elif op == "DoesNotExist":
            parts.append(f"!{key}")
    return ",".join(parts)
