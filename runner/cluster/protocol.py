"""The `Cluster` protocol: the only way steps and the engine touch a cluster.

One production adapter implements it (`runner/cluster/kube.py`, the official `kubernetes` client),
reaching real clusters and the embedded one alike over HTTP; unit tests use an in-memory fake under
`tests/`. Objects cross this boundary as plain JSON-shaped dicts exactly as the API server returns
them; `runner/cluster/objects.py` turns them into small typed views. Every method raises only
`runner.errors.ClusterError` subclasses (NotFound, Conflict, Gone, Forbidden, Invalid, Unavailable,
CallTimeout). Every call ends by the deadline of the scope its thread opened with `deadline()`
(runner/cluster/deadline.py), however slow or frozen the API server is.
This module must not import the `kubernetes` client.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Protocol

from runner.cluster.deadline import SecondsLeft

KubeObject = dict[str, Any]  # a Kubernetes object as JSON (apiVersion, kind, metadata, spec, status)
JsonPatch = list[dict[str, Any]]  # RFC 6902 operations


@dataclass(frozen=True)
class ObjectRef:
    """Names one object: `ObjectRef("apps/v1", "Deployment", "inference", "vllm-worker")`."""

    api_version: str
    kind: str
    namespace: str | None
    name: str

    def __str__(self) -> str:
        where = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind} {where}{self.name}"

    def to_json(self) -> dict[str, str | None]:
        return {"apiVersion": self.api_version, "kind": self.kind, "namespace": self.namespace,
                "name": self.name}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ObjectRef:
        return cls(str(data["apiVersion"]), str(data["kind"]), data.get("namespace"), str(data["name"]))

    @classmethod
    def of(cls, obj: Mapping[str, Any]) -> ObjectRef:
        """The reference of an object as the server returned it."""
        meta = obj.get("metadata", {})
        return cls(str(obj["apiVersion"]), str(obj["kind"]), meta.get("namespace"), str(meta["name"]))


@dataclass(frozen=True)
class WatchEvent:
    """One change seen by a watch: type is ADDED, MODIFIED, DELETED or BOOKMARK."""

    type: str
    object: KubeObject


SERVED_BY = ("x-served-by", "x-pod-name")  # answer headers that name the endpoint, when a server sets one


@dataclass(frozen=True)
class HttpAnswer:
    """What one request saw. `status` 0: no HTTP answer (refused, reset, timed out)."""

    status: int
    latency_s: float  # from sending to the end of the body (or to the error)
    body: bytes = b""  # the first MAX_BODY bytes
    error: str = ""  # the transport error, '' when an HTTP answer came whole
    headers: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))  # lower-case names
    ttfb_s: float | None = None  # to the first body byte (streamed requests)
    chunk_gaps_s: tuple[float, ...] = ()  # between successive Server-Sent Events
    stream_done: bool = False  # the event stream ended with `data: [DONE]`
    stream_error: str = ""  # an event carried an error (the server failed mid-stream)

    @property
    def served_by(self) -> str:
        """The endpoint that answered, when the server names it in a header ('' otherwise)."""
        return next((self.headers[h] for h in SERVED_BY if self.headers.get(h)), "")


class Cluster(Protocol):
    """What a run needs from a cluster. Implementations translate their errors to ClusterError."""

    @property
    def description(self) -> str:
        """One line for humans and reports: 'embedded cluster at http://127.0.0.1:PORT',
        'context gpu-prod (https://...)'. Never contains a token."""
        ...

    def get(self, ref: ObjectRef) -> KubeObject:
        """The object, or NotFound."""
        ...

    def list(self, api_version: str, kind: str, namespace: str | None = None, *,
             label_selector: str = "", field_selector: str = "") -> tuple[list[KubeObject], str]:
        """Matching objects and the list's resourceVersion (to start a watch from)."""
        ...

    def create(self, obj: KubeObject) -> KubeObject:
        """Create `obj` (namespace from its metadata); Conflict when it already exists."""
        ...

    def json_patch(self, ref: ObjectRef, patch: JsonPatch, *, subresource: str | None = None) -> KubeObject:
        """Apply an RFC 6902 patch. A failed `test` operation or a stale object raises Conflict, so
        callers can re-read and retry; the adapter never retries a Conflict on its own."""
        ...

    def merge_patch(self, ref: ObjectRef, patch: Mapping[str, Any], *,
                    subresource: str | None = None) -> KubeObject:
        """Apply an RFC 7386 merge patch (used for metadata labels/annotations and node spec)."""
        ...

    def delete(self, ref: ObjectRef, *, grace_period_seconds: int | None = None) -> None:
        """Delete the object; NotFound when it is already gone (undo code treats that as done)."""
        ...

    def watch(self, api_version: str, kind: str, namespace: str | None = None, *,
              label_selector: str = "", field_selector: str = "", resource_version: str = "",
              timeout_seconds: float = 30.0) -> Iterator[WatchEvent]:
        """Stream changes after `resource_version` until `timeout_seconds` pass (then the iterator
        ends normally). Resumes by itself after a dropped stream; raises Gone when the version is
        too old (callers re-list). Never busy-polls."""
        ...

    def pod_logs(self, namespace: str, pod: str, *, container: str | None = None,
                 previous: bool = False, tail_lines: int | None = None) -> str:
        """A container's log as text ('' when there is none yet)."""
        ...

    def emit_event(self, regarding: ObjectRef, reason: str, message: str, *,
                   event_type: str = "Normal") -> None:
        """Record a Kubernetes Event on `regarding` so `kubectl describe` shows what chaos did.
        Best effort: failures are swallowed by the adapter (an Event must never break a run), and
        it waits a few seconds at most, whatever deadline is open."""
        ...

    def deadline(self, left: SecondsLeft, what: str = "") -> AbstractContextManager[None]:
        """Within the block, every call this thread makes ends when `left()` (seconds, read at
        each call) reaches 0: request timeouts come from it, retries stop, and a call that cannot
        finish in time raises CallTimeout (a call made once it is spent is not sent at all).
        Blocks nest, the soonest wins; they are per thread. `what` names whose deadline it is
        ("step fault-seen", "rollback") in the CallTimeout's message."""
        ...

    def server_time(self) -> float | None:
        """The API server's clock now (unix seconds): the `Date` header of its latest answer plus
        the time elapsed here since (one cheap request when none came yet); None when the server
        sends no Date. What nodes check against their own clock (the dead-man `expires=`) is
        computed from this, never from the runner's clock."""
        ...

    def can_i(self, verb: str, resource: str, *, group: str = "", namespace: str | None = None,
              name: str = "", subresource: str = "") -> bool:
        """May this client do `verb` on `resource` (in `namespace`; None: cluster-scoped), as the
        API server answers a SelfSubjectAccessReview (`kubectl auth can-i`). Changes nothing;
        NotFound when the server has no authorization API."""
        ...

    def proxy_request(self, namespace: str, service: str, port: int | str, path: str, *,
                      method: str = "GET", headers: Mapping[str, str] | None = None,
                      body: bytes | None = None, timeout_s: float = 5.0,
                      stream: bool = False) -> HttpAnswer:
        """One HTTP request to a Service through the API server's service proxy
        (`/api/v1/namespaces/{namespace}/services/{service}:{port}/proxy{path}`) with this client's
        credentials (the API server does not pass them on). Sent once, never retried, timed on a
        real stopwatch (runner/cluster/http.py); what the service or the network did is the answer
        (a 503 "no endpoints available", status 0 for a refused connection), never an exception."""
        ...


def ref_list(objects: Sequence[KubeObject]) -> list[ObjectRef]:
    """References of several objects, in order."""
    return [ObjectRef.of(o) for o in objects]
