"""Event-driven waiting: list once, then watch, until a condition holds or a deadline passes.

Step kinds and preflight wait through `wait_for`; it never busy-polls (it blocks in the cluster's
watch), resumes after a Gone by re-listing, and reads time only from the injected Clock, so tests
with a fake clock never sleep. It changes nothing in the cluster.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from runner.cluster.protocol import Cluster, KubeObject
from runner.engine.signals import checkpoint
from runner.errors import DeadlineExceeded, Gone
from runner.steps.base import Clock

Condition = Callable[[list[KubeObject]], "bool | str"]

# The longest single watch; a fresh one resumes from the last version after it ends. It also bounds
# how long a Ctrl-C waits: the signal is raised at the next turn of the loop, never inside the
# client's read (an exception there could leave a lock of the client or the fake cluster held).
WATCH_CHUNK_S = 2.0
_MIN_HONEST_WATCH_S = 0.05  # a watch ending sooner than this with nothing said is paced


@dataclass(frozen=True)
class WaitResult:
    """`ok` True: success held (`message` is what it said); False: the failure condition held."""

    ok: bool
    message: str
    objects: list[KubeObject] = field(default_factory=list)
    events_seen: int = 0


def _verdict(cond: Condition | None, objects: list[KubeObject]) -> str | None:
    if cond is None:
        return None
    said = cond(objects)
    if said is True:
        return "condition met"
    if isinstance(said, str) and said:
        return said
    return None


def _key(obj: KubeObject) -> tuple[str, str]:
    meta = obj.get("metadata", {})
    return str(meta.get("namespace") or ""), str(meta.get("name", ""))


def wait_for(cluster: Cluster, api_version: str, kind: str, namespace: str | None, selector: str,
             success: Condition, failure: Condition | None = None, deadline: float | None = None,
             clock: Clock | None = None,
             on_progress: Callable[[list[KubeObject]], None] | None = None, *,
             field_selector: str = "", what: str = "") -> WaitResult:
    """Wait until `success(objects)` is truthy (True or a non-empty message) for the objects
    matching the selectors, or `failure(objects)` is. `deadline` (required) is a point on
    `clock.monotonic()` (steps pass `ctx.clock.monotonic() + ctx.remaining()`); `clock` defaults
    to the system clock. `on_progress(objects)` is called after the list and after each change.
    Returns a WaitResult; raises DeadlineExceeded when neither held in time."""
    if deadline is None:
        raise TypeError("wait_for needs a deadline")
    if clock is None:
        from runner.engine.clock import SystemClock

        clock = SystemClock()
    objects: dict[tuple[str, str], KubeObject] = {}
    events_seen = 0
    resource_version = ""

    def relist() -> str:
        items, rv = cluster.list(api_version, kind, namespace, label_selector=selector,
                                 field_selector=field_selector)
        objects.clear()
        objects.update({_key(o): o for o in items})
        return rv

    def check() -> WaitResult | None:
        current = [objects[k] for k in sorted(objects)]
        if on_progress is not None:
            on_progress(current)
        failed = _verdict(failure, current)
        if failed is not None:
            return WaitResult(False, failed, current, events_seen)
        passed = _verdict(success, current)
        if passed is not None:
            return WaitResult(True, passed, current, events_seen)
        return None

    resource_version = relist()
    while True:
        checkpoint()
        done = check()
        if done is not None:
            return done
        remaining = deadline - clock.monotonic()
        if remaining <= 0:
            raise DeadlineExceeded(f"timed out waiting for {what or kind}")
        chunk = min(remaining, WATCH_CHUNK_S)
        started = clock.monotonic()
        said_anything = False
        try:
            stream = iter(cluster.watch(api_version, kind, namespace, label_selector=selector,
                                        field_selector=field_selector,
                                        resource_version=resource_version, timeout_seconds=chunk))
            while True:
                event = next(stream, None)
                if event is None:
                    break
                said_anything = True
                rv = event.object.get("metadata", {}).get("resourceVersion")
                if rv:
                    resource_version = str(rv)
                if event.type == "BOOKMARK":
                    continue
                events_seen += 1
                if event.type == "DELETED":
                    objects.pop(_key(event.object), None)
                else:
                    objects[_key(event.object)] = event.object
                done = check()
                if done is not None:
                    return done
                if clock.monotonic() >= deadline:
                    break
        except Gone:
            resource_version = relist()  # our version is too old: start again from now
            continue
        if not said_anything and clock.monotonic() - started < min(_MIN_HONEST_WATCH_S, chunk):
            # a watch that ends at once with nothing to say would make this loop spin: pace it
            clock.sleep(min(1.0, max(0.0, deadline - clock.monotonic())))
