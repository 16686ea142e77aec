"""One HTTP request, timed the way a caller of an inference service feels it.

Why it exists: a probe (the `probe` step, and the background probes of a run) measures what the
service's callers see, so a request is sent exactly once (never retried: a 503 is an observation),
bounded by one overall deadline, and timed on a real monotonic stopwatch: latency to the end of the
body, and for Server-Sent Events (`stream`) the time to the first body byte, the time between
successive events, whether the stream ended with `data: [DONE]` and whether an event carried an
error. Both ways a probe goes use it: straight to a URL (`direct_request`) and through the API
server's service proxy (`KubeCluster.proxy_request`, which adds the run's credentials). It knows
nothing about scenarios, phases or SLOs, and never raises for what the server or the network did.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import urllib3

from runner.cluster.protocol import HttpAnswer

MAX_BODY = 4096  # bytes of an answer kept (error messages); the rest is read and dropped


def transport_error(exc: BaseException, timeout_s: float) -> str:
    """A short, stable text for a failure below HTTP (what a caller of the service would log)."""
    text = f"{type(exc).__name__}: {exc}"
    lowered = text.lower()
    if "timed out" in lowered or "timeout" in lowered:
        return f"timed out after {timeout_s:g}s"
    if "refused" in lowered:
        return "connection refused"
    if "reset" in lowered:
        return "connection reset by peer"
    if "remotedisconnected" in lowered or "closed connection without response" in lowered:
        return "connection closed without an answer"
    if "name or service not known" in lowered or "nodename nor servname" in lowered:
        return "name not resolved"
    return text[:200]


class _Events:
    """Server-Sent Events as they arrive: when each ended, [DONE], error events."""

    def __init__(self) -> None:
        self.buffer = b""
        self.times: list[float] = []
        self.done = False
        self.error = ""

    def feed(self, data: bytes, at: float) -> None:
        self.buffer += data.replace(b"\r\n", b"\n")
        while b"\n\n" in self.buffer:
            event, self.buffer = self.buffer.split(b"\n\n", 1)
            if not event.strip():
                continue
            self.times.append(at)
            payload = b"\n".join(line[5:].strip() for line in event.split(b"\n")
                                 if line.startswith(b"data:"))
            if payload == b"[DONE]":
                self.done = True
            elif not self.error and b"error" in payload:
                self.error = _event_error(payload)


def _event_error(payload: bytes) -> str:
    try:
        data: Any = json.loads(payload)
    except ValueError:
        return ""
    if not isinstance(data, dict):
        return ""
    inner = data.get("error")
    if data.get("object") == "error":
        return str(data.get("message") or "error event")[:200]
    if isinstance(inner, dict):
        return str(inner.get("message") or "error event")[:200]
    if isinstance(inner, str) and inner:
        return inner[:200]
    return ""


def timed_request(pool: urllib3.PoolManager, method: str, url: str, *,
                  headers: Mapping[str, str] | None = None, body: bytes | None = None,
                  timeout_s: float = 5.0, stream: bool = False) -> HttpAnswer:
    """Send one request through `pool` (no retries, no redirects) and time it."""
    started = time.perf_counter()
    deadline = started + timeout_s
    try:
        resp = pool.request(method, url, body=body, headers=dict(headers or {}), retries=False,
                            redirect=False, preload_content=False,
                            timeout=urllib3.Timeout(connect=timeout_s, read=timeout_s))
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        return HttpAnswer(0, time.perf_counter() - started, error=transport_error(exc, timeout_s))
    kept = bytearray()
    events = _Events()
    first: float | None = None
    error = ""
    try:
        while True:
            if time.perf_counter() > deadline:
                error = f"timed out after {timeout_s:g}s"
                break
            data = resp.read1(65536)
            if not data:
                break
            now = time.perf_counter()
            if first is None:
                first = now - started
            if len(kept) < MAX_BODY:
                kept += data[: MAX_BODY - len(kept)]
            if stream:
                events.feed(data, now)
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        error = transport_error(exc, timeout_s)
    finally:
        if error:
            resp.close()  # a broken or abandoned answer: the connection is not reusable
        else:
            resp.release_conn()
    latency = time.perf_counter() - started
    gaps = tuple(b - a for a, b in zip(events.times, events.times[1:], strict=False))
    return HttpAnswer(int(resp.status), latency, bytes(kept), error,
                      MappingProxyType({k.lower(): v for k, v in resp.headers.items()}),
                      first if stream else None, gaps, events.done, events.error)


_POOL: urllib3.PoolManager | None = None
_POOL_LOCK = threading.Lock()


def direct_pool() -> urllib3.PoolManager:
    """The one pool of direct (`url`) probe requests: keep-alive across requests, as a client
    library would; TLS verified against the system's CAs."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = urllib3.PoolManager(num_pools=16, maxsize=64, block=False, retries=False)
        return _POOL


def direct_request(method: str, url: str, *, headers: Mapping[str, str] | None = None,
                   body: bytes | None = None, timeout_s: float = 5.0,
                   stream: bool = False) -> HttpAnswer:
    """`timed_request` straight to `url` (the `url` form of a probe)."""
    return timed_request(direct_pool(), method, url, headers=headers, body=body, timeout_s=timeout_s,
                         stream=stream)
