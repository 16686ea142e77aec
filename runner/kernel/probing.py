"""One probe request, the way both probes send it: the `probe` step and a run's background probes.

Why it exists: a scenario's `probes:` and its `probe` steps share one request grammar (`url` or
`service`, `path`, `method`, `headers`, `body`, `stream`, `request-timeout`, `expect-status`), so
they share one sender: `service` goes through the API server's service proxy with the run's
credentials (`Cluster.proxy_request`), `url` straight to the URL (`runner.cluster.http`). The
result is a `Sample`: when it was sent, whether it counts as a success (the expected status, and for
a stream `data: [DONE]` without an error event), how long it took, which endpoint answered when the
server says, and for streams the time to first byte and between chunks. The probe's own header
values and body never reach a sample's error text (a server may echo them). Changes nothing.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from runner.cluster.http import direct_request
from runner.cluster.protocol import Cluster, HttpAnswer
from runner.kernel.clock import Clock
from runner.scenario.model import Duration, ServiceRef

HIDDEN = "[REDACTED]"  # what a header value or the body becomes in an error text (as in reports)


class ProbeRequest(Protocol):
    """The request keys a `Probe` and a `ProbeStep` share."""

    @property
    def url(self) -> str: ...
    @property
    def service(self) -> ServiceRef | None: ...
    @property
    def path(self) -> str: ...
    @property
    def method(self) -> str: ...
    @property
    def headers(self) -> Mapping[str, str]: ...
    @property
    def body(self) -> str: ...
    @property
    def stream(self) -> bool: ...
    @property
    def request_timeout(self) -> Duration: ...
    @property
    def expect_status(self) -> int: ...


@dataclass(frozen=True)
class Sample:
    """One request as its caller saw it."""

    at: float  # unix time it was sent
    ok: bool
    status: int  # 0: no HTTP answer
    latency_s: float
    error: str = ""  # why it failed ('' when it succeeded)
    endpoint: str = ""  # the pod that answered, when the server names it
    ttfb_s: float | None = None  # streams: to the first byte
    chunk_gaps_s: tuple[float, ...] = ()  # streams: between successive events


def percentile(values: Sequence[float], q: float) -> float | None:
    """The nearest-rank `q`th percentile (0 < q <= 100) of `values`; None when there are none."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def target_text(request: ProbeRequest, namespace: str, url: str = "") -> str:
    """What a report calls the probe's target: `service inference/vllm-worker:8000/v1/x` or the URL."""
    if request.service is not None:
        return f"service {namespace}/{request.service.name}:{request.service.port}{request.path or '/'}"
    return (url or request.url) + request.path


def _scrub(text: str, request: ProbeRequest) -> str:
    """`text` without the probe's own secrets (header values, the body), however a server echoed them."""
    for secret in sorted({*request.headers.values(), request.body}, key=len, reverse=True):
        if len(secret) >= 4:
            text = text.replace(secret, HIDDEN)
    return text


def _message(body: bytes) -> str:
    """What an error answer says: a Kubernetes Status's or an OpenAI-style error's message, else
    the text itself."""
    text = body.decode("utf-8", "replace")
    try:
        data = json.loads(text)
    except ValueError:
        return text
    if isinstance(data, dict):
        inner = data.get("error")
        found = data.get("message") or (inner.get("message") if isinstance(inner, dict) else inner)
        if isinstance(found, str) and found:
            return found
    return text


def _why(answer: HttpAnswer, request: ProbeRequest) -> str:
    if answer.error:
        return answer.error
    if answer.status != request.expect_status:
        detail = " ".join(_message(answer.body).split())[:160]
        return f"HTTP {answer.status}" + (f": {detail}" if detail else "")
    if request.stream and answer.stream_error:
        return f"error event: {answer.stream_error}"
    if request.stream and not answer.stream_done:
        return "the stream ended without data: [DONE]"
    return ""


def send(cluster: Cluster, namespace: str, request: ProbeRequest, clock: Clock, url: str = "") -> Sample:
    """Send `request` once (to `url` instead of the probe's own, for a resolved `{pod}`)."""
    at = clock.time()
    body = request.body.encode() if request.body else None
    timeout = request.request_timeout.seconds
    if request.service is not None:
        answer = cluster.proxy_request(namespace, request.service.name, request.service.port,
                                       request.path or "/", method=request.method,
                                       headers=request.headers, body=body, timeout_s=timeout,
                                       stream=request.stream)
    else:
        answer = direct_request(request.method, (url or request.url) + request.path,
                                headers=request.headers, body=body, timeout_s=timeout,
                                stream=request.stream)
    why = _scrub(_why(answer, request), request)
    return Sample(at, not why, answer.status, answer.latency_s, why, answer.served_by,
                  answer.ttfb_s if request.stream else None,
                  answer.chunk_gaps_s if request.stream else ())
