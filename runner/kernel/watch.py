"""The one watch loop: list once, then watch, until a condition holds or a deadline passes.

Every wait of preflight, the steps and the helper pods goes through `wait_for`. It never
busy-polls (it blocks in the cluster's watch), resumes after a Gone by re-listing, re-evaluates at
least every `wake_s` for facts no watch reports (pod logs), reads time only from the injected
clock, and checks the run's interrupt gate at each turn, so Ctrl-C lands within a chunk. A cluster
call that could not finish before its deadline (CallTimeout: the API server is slow or frozen)
ends the wait as DeadlineExceeded, like a condition that never held. It changes nothing in the
cluster.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from runner.cluster.protocol import Cluster, KubeObject
from runner.errors import CallTimeout, DeadlineExceeded, Gone
from runner.kernel.clock import Clock
from runner.kernel.signals import InterruptGate

T = TypeVar("T")

# The longest single watch; a fresh one resumes from the last version after it ends. It also bounds
# how long a Ctrl-C waits: the signal is raised at the next turn of the loop, never inside the
# client's read (an exception there could leave a lock of the client or the fake cluster held).
WATCH_CHUNK_S = 2.0
_MIN_HONEST_WATCH_S = 0.05  # a watch ending sooner than this with nothing said is paced


@dataclass(frozen=True)
class Watched:
    """What to watch: one kind, in one namespace (None: cluster-wide), by label and field."""

    api_version: str
    kind: str
    namespace: str | None = None
    selector: str = ""
    field_selector: str = ""

    @classmethod
    def pods(cls, namespace: str | None, selector: str = "", field_selector: str = "") -> Watched:
        return cls("v1", "Pod", namespace, selector, field_selector)

    @classmethod
    def named(cls, api_version: str, kind: str, namespace: str | None, name: str) -> Watched:
        return cls(api_version, kind, namespace, "", f"metadata.name={name}")


@dataclass(frozen=True)
class WaitResult(Generic[T]):
    """`ok` True: success held (`value` is what it said); False: the failure condition held."""

    ok: bool
    message: str
    objects: list[KubeObject] = field(default_factory=list)
    events_seen: int = 0
    value: T | None = None


def _some(said: object) -> object:
    """What a condition said, or None for "not yet" (False, '', None)."""
    return None if said is None or said is False or said == "" else said


def _said(cond: Callable[[list[KubeObject]], object] | None, objects: list[KubeObject]) -> object:
    return None if cond is None else _some(cond(objects))


def _key(obj: KubeObject) -> tuple[str, str]:
    meta = obj.get("metadata", {})
    return str(meta.get("namespace") or ""), str(meta.get("name", ""))


def _message(said: object) -> str:
    return said if isinstance(said, str) else "condition met"


def wait_for(cluster: Cluster, watched: Watched, success: Callable[[list[KubeObject]], object], *,
             deadline: float, clock: Clock, gate: InterruptGate | None = None,
             failure: Callable[[list[KubeObject]], object] | None = None,
             on_progress: Callable[[list[KubeObject]], None] | None = None,
             on_event: Callable[[KubeObject], object] | None = None,
             wake_s: float = WATCH_CHUNK_S, since: str = "", what: str = "") -> WaitResult[object]:
    """Wait until `success(objects)` says something (True, a message or any value) for the objects
    `watched` selects, or `failure(objects)` does. `on_event(obj)` sees every object as listed and
    as each watch event carries it (a DELETED pod's last state included); what it says ends the
    wait as a success too. `deadline` is a point on `clock.monotonic()`; `on_progress(objects)` is
    called after the list and after each change. `since` (a resourceVersion from earlier) makes
    the watch replay what happened from then on, so `on_event` also sees objects that changed and
    vanished before this wait began (a pod that crashed and was drained while the step before it
    ran). Raises DeadlineExceeded when nothing held in time, or when the API server did not answer
    a call before its deadline.
    """
    try:
        return _wait(cluster, watched, success, deadline=deadline, clock=clock, gate=gate,
                     failure=failure, on_progress=on_progress, on_event=on_event, wake_s=wake_s,
                     since=since, what=what)
    except CallTimeout as exc:
        raise DeadlineExceeded(f"timed out waiting for {what or watched.kind}: {exc}") from exc


def _wait(cluster: Cluster, watched: Watched, success: Callable[[list[KubeObject]], object], *,
          deadline: float, clock: Clock, gate: InterruptGate | None,
          failure: Callable[[list[KubeObject]], object] | None,
          on_progress: Callable[[list[KubeObject]], None] | None,
          on_event: Callable[[KubeObject], object] | None,
          wake_s: float, since: str, what: str) -> WaitResult[object]:
    objects: dict[tuple[str, str], KubeObject] = {}
    events_seen = 0

    def relist() -> tuple[str, object]:
        items, version = cluster.list(watched.api_version, watched.kind, watched.namespace,
                                      label_selector=watched.selector,
                                      field_selector=watched.field_selector)
        objects.clear()
        objects.update({_key(o): o for o in items})
        if on_event is not None:
            for obj in items:
                seen = _some(on_event(obj))
                if seen is not None:
                    return version, seen
        return version, None

    def check() -> WaitResult[object] | None:
        current = [objects[k] for k in sorted(objects)]
        if on_progress is not None:
            on_progress(current)
        failed = _said(failure, current)
        if failed is not None:
            return WaitResult(False, _message(failed), current, events_seen, failed)
        passed = _said(success, current)
        if passed is not None:
            return WaitResult(True, _message(passed), current, events_seen, passed)
        return None

    def found(value: object) -> WaitResult[object]:
        current = [objects[k] for k in sorted(objects)]
        return WaitResult(True, _message(value), current, events_seen, value)

    resource_version, early = relist()
    if early is not None:
        return found(early)
    if since:
        resource_version = since  # replay from then (a Gone answer falls back to a fresh list)
    while True:
        if gate is not None:
            gate.checkpoint()  # a Ctrl-C that arrived meanwhile ends the wait here
        done = check()
        if done is not None:
            return done
        remaining = deadline - clock.monotonic()
        if remaining <= 0:
            raise DeadlineExceeded(f"timed out waiting for {what or watched.kind}")
        chunk = min(remaining, wake_s)
        started = clock.monotonic()
        said_anything = False
        try:
            stream = iter(cluster.watch(watched.api_version, watched.kind, watched.namespace,
                                        label_selector=watched.selector,
                                        field_selector=watched.field_selector,
                                        resource_version=resource_version, timeout_seconds=chunk))
            while True:
                event = next(stream, None)
                if event is None:
                    break
                said_anything = True
                version = event.object.get("metadata", {}).get("resourceVersion")
                if version:
                    resource_version = str(version)
                if event.type == "BOOKMARK":
                    continue
                events_seen += 1
                if event.type == "DELETED":
                    objects.pop(_key(event.object), None)
                else:
                    objects[_key(event.object)] = event.object
                if on_event is not None:
                    seen = _some(on_event(event.object))
                    if seen is not None:
                        return found(seen)
                done = check()
                if done is not None:
                    return done
                if clock.monotonic() >= deadline:
                    break
        except Gone:
            resource_version, early = relist()  # our version is too old: start again from now
            if early is not None:
                return found(early)
            continue
        if not said_anything and clock.monotonic() - started < min(_MIN_HONEST_WATCH_S, chunk):
            # a watch that ends at once with nothing to say would make this loop spin: pace it
            clock.sleep(min(1.0, wake_s, max(0.0, deadline - clock.monotonic())))
