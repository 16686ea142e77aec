"""Kubernetes Events that the simulated components emit (core/v1), as the real ones do.

Repeated events (same object, reason and message) bump `count` and `lastTimestamp` instead of
piling up, like the real event recorder's aggregation. Emitting an event never fails the caller.
"""

from __future__ import annotations

import logging
import threading
import uuid

from runner.errors import ClusterError
from runner.sim.resources import CORE_EVENTS
from runner.sim.store import Obj, Store, now_rfc3339

log = logging.getLogger(__name__)
_lock = threading.Lock()


def emit(store: Store, obj: Obj, reason: str, message: str, component: str, type_: str = "Normal",
         host: str = "") -> None:
    meta = obj.get("metadata") or {}
    namespace = str(meta.get("namespace") or "default")
    involved = {"kind": obj.get("kind", ""), "apiVersion": obj.get("apiVersion", ""),
                "name": meta.get("name", ""), "namespace": meta.get("namespace", ""),
                "uid": meta.get("uid", "")}
    now = now_rfc3339()
    try:
        with _lock:
            items, _ = store.list(CORE_EVENTS, namespace,
                                  field_selector=f"involvedObject.name={involved['name']}")
            for ev in items:
                if (ev.get("reason") == reason and ev.get("message") == message
                        and (ev.get("involvedObject") or {}).get("uid") == involved["uid"]):
                    ev["count"] = int(ev.get("count") or 1) + 1
                    ev["lastTimestamp"] = now
                    store.update(CORE_EVENTS, ev)
                    return
            store.create(CORE_EVENTS, {
                "metadata": {"name": f"{involved['name']}.{uuid.uuid4().hex[:16]}", "namespace": namespace},
                "involvedObject": involved, "reason": reason, "message": message, "type": type_,
                "source": {"component": component, **({"host": host} if host else {})},
                "reportingComponent": component, "firstTimestamp": now, "lastTimestamp": now,
                "count": 1,
            })
    except ClusterError:  # e.g. the namespace is being deleted; events are best effort
        log.debug("event %s on %s not recorded", reason, involved["name"], exc_info=True)
