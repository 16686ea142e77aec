"""Waiting for facts no single watch reports (log lines, several kinds at once), without polling.

Why it exists: `runner.engine.wait.wait_for` covers "objects of one kind until a condition holds".
Some checks also read logs, nodes and pods together. `watch_until` evaluates such a check, then
blocks in a pod watch (the event most likely to change the answer) for at most `wake_s` before
evaluating again, so a change is seen at once and a log line within `wake_s`. It never sleeps on its
own (a watch that ends at once is paced through the injected clock) and changes nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from runner.cluster.protocol import Cluster, KubeObject
from runner.engine.signals import checkpoint
from runner.errors import DeadlineExceeded, Gone
from runner.steps.base import Clock

T = TypeVar("T")

WAKE_S = 2.0  # longest blind spot for facts without a watch (logs)


def watch_until(cluster: Cluster, clock: Clock, check: Callable[[], T | None], *, deadline: float,
                namespace: str | None, selector: str = "", what: str = "",
                wake_s: float = WAKE_S,
                on_event: Callable[[KubeObject], T | None] | None = None) -> T:
    """Return the first non-None `check()`, or `on_event(pod)` for a pod seen in the watch (a
    DELETED pod's last state included); DeadlineExceeded when none came by `deadline`."""
    resource_version = ""
    while True:
        checkpoint()  # a Ctrl-C that arrived meanwhile ends the wait here (within WAKE_S)
        found = check()
        if found is not None:
            return found
        left = deadline - clock.monotonic()
        if left <= 0:
            raise DeadlineExceeded(f"timed out waiting for {what or 'a condition'}")
        if not resource_version:
            pods, resource_version = cluster.list("v1", "Pod", namespace, label_selector=selector)
            if on_event is not None:
                for pod in pods:
                    found = on_event(pod)
                    if found is not None:
                        return found
        started = time.monotonic()
        seen = False
        try:
            for event in cluster.watch("v1", "Pod", namespace, label_selector=selector,
                                       resource_version=resource_version,
                                       timeout_seconds=min(left, wake_s)):
                seen = True
                rv = event.object.get("metadata", {}).get("resourceVersion")
                if rv:
                    resource_version = str(rv)
                if on_event is not None and event.type != "BOOKMARK":
                    found = on_event(event.object)
                    if found is not None:
                        return found
                break  # something changed: evaluate again
        except Gone:
            resource_version = ""
            continue
        if not seen and time.monotonic() - started < 0.01:
            clock.sleep(min(wake_s, max(0.0, deadline - clock.monotonic())))  # pace an instant end
