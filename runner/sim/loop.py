"""The shape every simulated control loop shares: a thread that reconciles when the store changes.

Store listeners run in the committing thread, so they only set a flag; the loop thread wakes, and
reconciles the whole level it owns (small clusters make that cheap and it can never miss an edge),
also on a periodic resync. A failing reconcile is logged and retried on the next wake-up; it never
kills the loop. It must not know what is being reconciled.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable

from runner.sim.resources import GVR
from runner.sim.store import Obj, Store

log = logging.getLogger(__name__)


class Loop:
    """Subclasses set `name`, `watches` and implement `reconcile()`."""

    name = "loop"
    watches: Iterable[GVR] = ()
    resync_s = 1.0

    def __init__(self, store: Store) -> None:
        self.store = store
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._gvrs = frozenset(self.watches)

    def _on_change(self, type_: str, gvr: GVR, obj: Obj) -> None:
        if gvr in self._gvrs:
            self._wake.set()

    def kick(self) -> None:
        self._wake.set()

    def start(self) -> None:
        self.store.add_listener(self._on_change)
        self._thread = threading.Thread(target=self._run, name=f"chaos-sim-{self.name}", daemon=True)
        self._thread.start()
        self._wake.set()

    def stop(self) -> None:
        self.store.remove_listener(self._on_change)
        self._stop.set()
        self._wake.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=10)

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.resync_s)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                self.reconcile()
            except Exception:  # a failed pass is retried on the next change or resync
                log.exception("%s: reconcile failed", self.name)

    def reconcile(self) -> None:
        raise NotImplementedError
