"""The one `Cluster` adapter: the official `kubernetes` client, over HTTP, for real and embedded
clusters alike.

Why it exists: everything above it speaks `runner.cluster.protocol.Cluster` with plain dicts and
`runner.errors` exceptions; this is the only module that imports `kubernetes` (import-linter keeps it
so). It configures itself the way kubectl does (`KUBECONFIG` or `~/.kube/config`, `--context`,
else the in-cluster service account), or from a server URL plus an optional token (the embedded
cluster). Objects are reached through raw REST paths built from apiVersion/kind (a small plural
table, discovery for anything else such as CRDs), so no generated model classes are involved.

Rules it keeps:
- changes are JSON Patch (`application/json-patch+json`) or merge patch (`application/merge-patch+json`),
  never a whole-object PUT;
- 429 (honouring Retry-After), 5xx and connection errors are retried a bounded number of times with
  exponential backoff and jitter; 409 is never retried (Conflict: callers re-read);
- every client exception leaves as a `runner.errors.ClusterError` subclass, chained with `from`;
- `watch()` follows `resourceVersion`, resumes a dropped stream from the last version seen, and
  raises Gone on 410;
- every request ends by the soonest deadline its thread opened (`deadline()`): its connect and read
  timeouts are what is left of it, retries and their back-off stop when it is spent, and the call
  then raises CallTimeout (a watch's `timeoutSeconds` is capped the same way). An Event waits a few
  seconds at most. Without a deadline the fixed REQUEST_TIMEOUT and retries apply (recover, tests);
- the `Date` header of every answer is kept, so `server_time()` can say the API server's clock;
- `description` never contains a credential.
It must not decide anything about steps, retries of Conflicts, or what to change.
"""

from __future__ import annotations

import copy
import datetime
import email.utils
import json
import os
import random
import socket
import stat
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager
from typing import Any

import urllib3
from kubernetes import client as k8s_client
from kubernetes import config as k8s_config
from kubernetes.config.config_exception import ConfigException

from runner.cluster.deadline import Deadlines, SecondsLeft, capped, until
from runner.cluster.http import timed_request
from runner.cluster.protocol import HttpAnswer, JsonPatch, KubeObject, ObjectRef, WatchEvent
from runner.errors import (
    CallTimeout,
    ClusterError,
    Conflict,
    Forbidden,
    Gone,
    Invalid,
    KubeconfigError,
    NotFound,
    Unavailable,
)

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
REQUEST_TIMEOUT = (10.0, 60.0)  # connect, read (seconds) for ordinary requests
PROBE_POOL_SIZE = 64  # connections kept for service-proxy probes (their own pool, not the run's)
MAX_RETRY_AFTER_S = 30.0
EVENT_DEADLINE_S = 5.0  # an Event is best effort: it never holds a step (or a rollback) longer
WATCH_READ_SLACK_S = 10.0  # a watch's read timeout beyond its timeoutSeconds (the server ends it)

# kind -> (plural, namespaced) for the kinds a run touches; anything else is discovered.
KNOWN: dict[tuple[str, str], tuple[str, bool]] = {
    ("v1", "Pod"): ("pods", True),
    ("v1", "Node"): ("nodes", False),
    ("v1", "ConfigMap"): ("configmaps", True),
    ("v1", "Namespace"): ("namespaces", False),
    ("v1", "Event"): ("events", True),
    ("v1", "Service"): ("services", True),
    ("v1", "Secret"): ("secrets", True),
    ("v1", "ServiceAccount"): ("serviceaccounts", True),
    ("apps/v1", "Deployment"): ("deployments", True),
    ("apps/v1", "StatefulSet"): ("statefulsets", True),
    ("apps/v1", "DaemonSet"): ("daemonsets", True),
    ("apps/v1", "ReplicaSet"): ("replicasets", True),
    ("batch/v1", "Job"): ("jobs", True),
    ("events.k8s.io/v1", "Event"): ("events", True),
    ("authorization.k8s.io/v1", "SelfSubjectAccessReview"): ("selfsubjectaccessreviews", False),
}

ERRORS: Mapping[int, type[ClusterError]] = {
    400: Invalid, 401: Forbidden, 403: Forbidden, 404: NotFound, 409: Conflict, 410: Gone,
    415: Invalid, 422: Invalid, 429: Unavailable,
}

# Transport failures worth another try (the server may be restarting or the network blipped).
RETRYABLE_EXCEPTIONS: tuple[type[BaseException], ...] = (
    urllib3.exceptions.HTTPError, ConnectionError, socket.timeout, TimeoutError, OSError)


def _reason_of(body: bytes) -> tuple[str, str]:
    """(message, reason) from a Kubernetes Status body, or the raw text."""
    text = body.decode("utf-8", "replace") if body else ""
    try:
        status = json.loads(text)
    except ValueError:
        return text.strip()[:500], ""
    if isinstance(status, dict):
        return str(status.get("message") or text.strip()[:500]), str(status.get("reason") or "")
    return text.strip()[:500], ""


def _safe_url(url: str) -> str:
    """`url` without any userinfo (a description must never carry a credential)."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urllib.parse.urlunsplit((parts.scheme, host, parts.path, "", ""))


class KubeCluster:
    """`Cluster` over the official client. Build it like kubectl does, or `from_url(...)`."""

    def __init__(self, *, context: str | None = None, kubeconfig: str | None = None,
                 api_client: Any = None, description: str | None = None, max_retries: int = 5,
                 backoff_s: float = 0.2, max_backoff_s: float = 8.0,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        if api_client is None:
            api_client, description = _from_kubeconfig(context, kubeconfig)
        self._api = api_client
        self._description = description or f"cluster at {_safe_url(self._api.configuration.host)}"
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self._sleep = sleep
        self._rng = random.Random()  # noqa: S311 - jitter, not security
        self._resources: dict[tuple[str, str], tuple[str, bool]] = dict(KNOWN)
        self._lock = threading.Lock()
        self._deadlines = Deadlines()
        self._server_clock: tuple[float, float] | None = None  # (server unix time, our monotonic)
        self.retries_done = 0  # requests repeated after 429/5xx/connection errors (for tests, bench)
        self._probe_pool: Any = None  # urllib3 pool of proxy_request, made on first use

    @classmethod
    def from_url(cls, url: str, token: str | None = None, *, name: str = "cluster",
                 ca_file: str | None = None, verify_ssl: bool = True, **kwargs: Any) -> KubeCluster:
        """A cluster reached at `url` (e.g. the embedded API server) with an optional bearer token."""
        configuration = _configuration()
        configuration.host = url.rstrip("/")
        configuration.verify_ssl = verify_ssl
        if ca_file:
            configuration.ssl_ca_cert = ca_file
        if token:
            configuration.api_key = {"authorization": token}
            configuration.api_key_prefix = {"authorization": "Bearer"}
        api = k8s_client.ApiClient(configuration)
        return cls(api_client=api, description=f"{name} at {_safe_url(url)}", **kwargs)

    # --- Cluster protocol -----------------------------------------------------------------------

    @property
    def description(self) -> str:
        return self._description

    def close(self) -> None:
        try:
            if self._probe_pool is not None:
                self._probe_pool.clear()
            self._api.close()
        except Exception:  # noqa: BLE001 - closing a pool must never fail a run
            return

    def deadline(self, left: SecondsLeft, what: str = "") -> AbstractContextManager[None]:
        return self._deadlines.scope(left, what)

    def server_time(self) -> float | None:
        with self._lock:
            reading = self._server_clock
        if reading is None:
            try:
                self._request("GET", "/version", what="the API server's version")  # cheap, any RBAC
            except ClusterError:
                return None
            with self._lock:
                reading = self._server_clock
        if reading is None:
            return None
        server, at = reading
        return server + (time.monotonic() - at)

    def get(self, ref: ObjectRef) -> KubeObject:
        return self._json("GET", self._path(ref.api_version, ref.kind, ref.namespace, ref.name),
                          what=str(ref))

    def list(self, api_version: str, kind: str, namespace: str | None = None, *,
             label_selector: str = "", field_selector: str = "") -> tuple[list[KubeObject], str]:
        query = {"labelSelector": label_selector, "fieldSelector": field_selector}
        data = self._json("GET", self._path(api_version, kind, namespace), query=query,
                          what=f"{kind} list")
        items = []
        for item in data.get("items") or []:
            item.setdefault("apiVersion", api_version)  # list items come without them
            item.setdefault("kind", kind)
            items.append(item)
        return items, str((data.get("metadata") or {}).get("resourceVersion", ""))

    def create(self, obj: KubeObject) -> KubeObject:
        meta = obj.get("metadata") or {}
        path = self._path(str(obj["apiVersion"]), str(obj["kind"]), meta.get("namespace"))
        return self._json("POST", path, body=obj, what=f"{obj['kind']} {meta.get('name', '')}")

    def json_patch(self, ref: ObjectRef, patch: JsonPatch, *, subresource: str | None = None) -> KubeObject:
        path = self._path(ref.api_version, ref.kind, ref.namespace, ref.name, subresource)
        try:
            return self._json("PATCH", path, body=list(patch), content_type=JSON_PATCH, what=str(ref))
        except Invalid as exc:
            # a failed `test` op is a stale read, as the protocol promises: Conflict, so callers re-read
            if exc.status == 422 and "test" in str(exc).lower():
                raise Conflict(str(exc), 409, "Conflict") from exc
            raise

    def merge_patch(self, ref: ObjectRef, patch: Mapping[str, Any], *,
                    subresource: str | None = None) -> KubeObject:
        path = self._path(ref.api_version, ref.kind, ref.namespace, ref.name, subresource)
        return self._json("PATCH", path, body=dict(patch), content_type=MERGE_PATCH, what=str(ref))

    def delete(self, ref: ObjectRef, *, grace_period_seconds: int | None = None) -> None:
        body: dict[str, Any] = {"apiVersion": "v1", "kind": "DeleteOptions",
                                "propagationPolicy": "Background"}
        if grace_period_seconds is not None:
            body["gracePeriodSeconds"] = grace_period_seconds
        self._json("DELETE", self._path(ref.api_version, ref.kind, ref.namespace, ref.name),
                   body=body, what=str(ref))

    def pod_logs(self, namespace: str, pod: str, *, container: str | None = None,
                 previous: bool = False, tail_lines: int | None = None) -> str:
        query: dict[str, str] = {}
        if container:
            query["container"] = container
        if previous:
            query["previous"] = "true"
        if tail_lines is not None:
            query["tailLines"] = str(tail_lines)
        path = self._path("v1", "Pod", namespace, pod, "log")
        try:
            resp = self._request("GET", path, query=query, what=f"log of pod {namespace}/{pod}")
        except Invalid:
            return ""  # 400: no (previous) container log yet
        return bytes(resp.data or b"").decode("utf-8", "replace")

    def emit_event(self, regarding: ObjectRef, reason: str, message: str, *,
                   event_type: str = "Normal") -> None:
        now = datetime.datetime.now(datetime.timezone.utc)
        namespace = regarding.namespace or "default"
        event = {
            "apiVersion": "events.k8s.io/v1", "kind": "Event",
            "metadata": {"generateName": "chaos-", "namespace": namespace,
                         "labels": {"app.kubernetes.io/managed-by": "chaos"}},
            "eventTime": now.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "reportingController": "chaos.dev/runner",
            "reportingInstance": f"chaos-{socket.gethostname()}"[:128],
            "action": "Chaos", "reason": reason, "note": message[:1024], "type": event_type,
            "regarding": regarding.to_json(),
        }
        started = time.monotonic()
        try:
            with self.deadline(until(started + EVENT_DEADLINE_S, time.monotonic), "an Event"):
                self.create(event)
        except ClusterError:
            return  # best effort: an Event must never break a run

    def can_i(self, verb: str, resource: str, *, group: str = "", namespace: str | None = None,
              name: str = "", subresource: str = "") -> bool:
        attributes = {"verb": verb, "group": group, "resource": resource, "subresource": subresource,
                      "namespace": namespace or "", "name": name}
        review = {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
                  "spec": {"resourceAttributes": {k: v for k, v in attributes.items() if v}}}
        answer = self.create(review)
        return bool((answer.get("status") or {}).get("allowed"))

    def proxy_request(self, namespace: str, service: str, port: int | str, path: str, *,
                      method: str = "GET", headers: Mapping[str, str] | None = None,
                      body: bytes | None = None, timeout_s: float = 5.0,
                      stream: bool = False) -> HttpAnswer:
        segment = urllib.parse.quote(f"{service}:{port}", safe=":")
        where = path if path.startswith("/") else "/" + path
        api_path = f"/api/v1/namespaces/{urllib.parse.quote(namespace, safe='')}/services/{segment}/proxy"
        _m, url, auth, _b, _p = self._api.param_serialize(method, api_path, header_params={},
                                                          auth_settings=["BearerToken"])
        # the probe's own headers, but never in place of the run's credentials (the API server would
        # not pass an Authorization header on to the service anyway)
        sent = {**{k: v for k, v in (headers or {}).items() if k.lower() != "authorization"}, **auth}
        budget = self._deadlines.budget()  # a probe step's deadline; background probes open none
        if budget is not None:
            timeout_s = min(timeout_s, round(max(0.001, budget.left), 3))
        return timed_request(self._probes(), method, url + where, headers=sent, body=body,
                             timeout_s=timeout_s, stream=stream)

    def _probes(self) -> Any:
        """A pool for probe requests with the client's TLS settings (CA, client certificate) but
        its own connections, so probes never wait on the run's API calls or the other way round."""
        with self._lock:
            if self._probe_pool is None:
                configuration = copy.deepcopy(self._api.configuration)
                configuration.connection_pool_maxsize = PROBE_POOL_SIZE
                self._probe_pool = k8s_client.rest.RESTClientObject(configuration).pool_manager
            return self._probe_pool

    def watch(self, api_version: str, kind: str, namespace: str | None = None, *,
              label_selector: str = "", field_selector: str = "", resource_version: str = "",
              timeout_seconds: float = 30.0) -> Iterator[WatchEvent]:
        end = time.monotonic() + timeout_seconds
        version = resource_version
        path = self._path(api_version, kind, namespace)
        quick_ends = 0
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return
            budget = self._deadlines.budget()
            if budget is not None:  # the server ends the stream by the caller's deadline too
                left = min(left, max(0.001, budget.left))
            query = {"watch": "true", "allowWatchBookmarks": "true", "labelSelector": label_selector,
                     "fieldSelector": field_selector, "resourceVersion": version,
                     "timeoutSeconds": str(max(1, int(left + 0.999)))}
            started = time.monotonic()
            got_any = False
            resp = self._request("GET", path, query=query, stream=True,
                                 timeout=(REQUEST_TIMEOUT[0], left + WATCH_READ_SLACK_S),
                                 what=f"{kind} watch")
            try:
                for event in self._events(resp):
                    got_any = True
                    rv = (event.object.get("metadata") or {}).get("resourceVersion")
                    if rv:
                        version = str(rv)
                    if event.type != "BOOKMARK":
                        yield event
                    if time.monotonic() >= end:
                        return
            except RETRYABLE_EXCEPTIONS as exc:  # the stream broke: resume from `version` below,
                timed_out = self._timed_out(f"{kind} watch", exc)  # unless that is out of time
                if timed_out is not None:
                    raise timed_out from exc
            finally:
                resp.response.release_conn()
            # the stream ended before our time was up: dropped; resume from the last version seen
            if not got_any and time.monotonic() - started < 0.05:
                quick_ends += 1
                self._sleep(min(self.max_backoff_s, self.backoff_s * 2 ** min(quick_ends, 6),
                                max(0.0, end - time.monotonic())))
            else:
                quick_ends = 0

    # --- internals ------------------------------------------------------------------------------

    def _events(self, resp: Any) -> Iterator[WatchEvent]:
        buffer = b""
        for chunk in resp.response.stream(16 * 1024, decode_content=True):
            buffer += chunk
            while b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                if line.strip():
                    yield self._event(line)
        if buffer.strip():
            yield self._event(buffer)

    @staticmethod
    def _event(line: bytes) -> WatchEvent:
        try:
            data = json.loads(line)
        except ValueError as exc:
            raise Unavailable(f"unreadable watch event: {line[:200]!r}") from exc
        obj = data.get("object") or {}
        if data.get("type") == "ERROR":
            code = int(obj.get("code") or 0)
            message = str(obj.get("message", "watch error"))
            raise ERRORS.get(code, Unavailable)(message, code, str(obj.get("reason", "")))
        return WatchEvent(str(data.get("type", "")), obj)

    def _path(self, api_version: str, kind: str, namespace: str | None, name: str | None = None,
              subresource: str | None = None) -> str:
        plural, namespaced = self._resource(api_version, kind)
        base = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
        path = base
        if namespaced and namespace:
            path += f"/namespaces/{urllib.parse.quote(namespace, safe='')}"
        path += f"/{plural}"
        if name:
            path += f"/{urllib.parse.quote(name, safe='')}"
        if subresource:
            path += f"/{subresource}"
        return path

    def _resource(self, api_version: str, kind: str) -> tuple[str, bool]:
        with self._lock:
            known = self._resources.get((api_version, kind))
        if known is not None:
            return known
        base = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
        data = self._json("GET", base, what=f"API group {api_version}")
        found: tuple[str, bool] | None = None
        with self._lock:
            for res in data.get("resources") or []:
                if "/" in str(res.get("name", "")):
                    continue  # a subresource
                entry = (str(res["name"]), bool(res.get("namespaced")))
                self._resources.setdefault((api_version, str(res.get("kind"))), entry)
                if res.get("kind") == kind:
                    found = entry
        if found is None:
            raise NotFound(f"the server has no resource of kind {kind} in {api_version}", 404,
                           "NotFound")
        return found

    def _json(self, method: str, path: str, *, query: Mapping[str, str] | None = None,
              body: Any = None, content_type: str = "application/json", what: str = "") -> KubeObject:
        resp = self._request(method, path, query=query, body=body, content_type=content_type, what=what)
        raw = resp.data or b"{}"
        try:
            data = json.loads(raw)
        except ValueError as exc:
            raise Unavailable(f"{what}: the server answered something that is not JSON") from exc
        if not isinstance(data, dict):
            raise Unavailable(f"{what}: the server answered JSON that is not an object")
        return data

    def _request(self, method: str, path: str, *, query: Mapping[str, str] | None = None,
                 body: Any = None, content_type: str = "application/json", stream: bool = False,
                 timeout: tuple[float, float] = REQUEST_TIMEOUT, what: str = "") -> Any:
        """One API request with bounded retries; returns the client's response (status < 400).
        Ends by the thread's soonest deadline (CallTimeout), whatever the server does."""
        doing = what or path
        params = [(k, v) for k, v in (query or {}).items() if v]
        headers = {"Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = content_type
        last: BaseException | None = None
        for attempt in range(self.max_retries + 1):
            budget = self._deadlines.budget()
            if budget is not None and budget.spent:
                if attempt == 0:
                    raise CallTimeout(f"{doing}: not sent, the deadline of {budget.what} has passed",
                                      None, "Timeout")
                tries = f"{attempt} {'try' if attempt == 1 else 'tries'}"
                raise CallTimeout(f"{doing}: no answer from the API server before the deadline of "
                                  f"{budget.what} ({tries}; last: {_brief(last)})", None,
                                  "Timeout") from last
            if attempt:
                self.retries_done += 1
            delay = min(self.max_backoff_s, self.backoff_s * 2 ** attempt)
            delay *= 0.5 + self._rng.random() / 2  # jitter: many clients must not retry in step
            try:
                m, url, hdrs, data, post = self._api.param_serialize(
                    method, path, query_params=params, header_params=dict(headers), body=body,
                    auth_settings=["BearerToken"])
                resp = self._api.call_api(m, url, header_params=hdrs, body=data, post_params=post,
                                          _request_timeout=capped(timeout, budget))
                status = int(resp.status)
                if not stream or status >= 400:
                    resp.read()  # inside the try: a body that stops coming is a timeout too
            except k8s_client.ApiException as exc:  # raised for transport problems (e.g. SSL)
                last = exc
                if attempt < self.max_retries:
                    self._backoff(delay)
                    continue
                raise self._timed_out(doing, exc) or Unavailable(
                    f"{doing}: {exc.reason}", None, "") from exc
            except RETRYABLE_EXCEPTIONS as exc:
                last = exc
                if attempt < self.max_retries:
                    self._backoff(delay)
                    continue
                raise self._timed_out(doing, exc) or Unavailable(
                    f"{doing}: cannot reach the API server ({type(exc).__name__}: {exc})") from exc
            self._note_date(resp)
            if status < 400:
                return resp
            payload = resp.data or b""
            message, reason = _reason_of(payload)
            if status == 429 or status >= 500:
                last = ClusterError(message, status, reason)
                if attempt < self.max_retries:
                    after = resp.headers.get("Retry-After") if resp.headers else None
                    if after and str(after).strip().isdigit():
                        delay = min(MAX_RETRY_AFTER_S, max(delay, float(after)))
                    self._backoff(delay)
                    continue
                raise Unavailable(f"{doing}: {status} {reason or message} after "
                                  f"{self.max_retries + 1} tries", status, reason) from last
            error = ERRORS.get(status, ClusterError)
            raise error(f"{doing}: {message}", status, reason) from ClusterError(
                f"HTTP {status} for {method} {path}", status, reason)
        raise Unavailable(f"{doing}: no answer", None, "") from last  # pragma: no cover

    def _backoff(self, delay: float) -> None:
        """Sleep before a retry, never past the open deadline (the next try then gives up)."""
        budget = self._deadlines.budget()
        if budget is not None:
            delay = min(delay, max(0.0, budget.left))
        self._sleep(delay)

    def _timed_out(self, doing: str, exc: BaseException) -> CallTimeout | None:
        """A CallTimeout when the open deadline is spent (what ended `exc`), else None."""
        budget = self._deadlines.budget()
        if budget is None or not budget.spent:
            return None
        return CallTimeout(f"{doing}: no answer from the API server before the deadline of "
                           f"{budget.what} ({_brief(exc)})", None, "Timeout")

    def _note_date(self, resp: Any) -> None:
        """Keep the server's clock as its `Date` header says (whole seconds, so + 0.5: the middle
        of the second it names), with our monotonic time of the answer."""
        try:
            date = resp.headers.get("Date") if resp.headers else None
            if not date:
                return
            server = email.utils.parsedate_to_datetime(str(date)).timestamp() + 0.5
        except (TypeError, ValueError, AttributeError):
            return  # an unreadable Date only costs the server's clock
        with self._lock:
            self._server_clock = (server, time.monotonic())


def _brief(exc: BaseException | None) -> str:
    if exc is None:
        return "no answer"
    text = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _configuration() -> Any:
    """A client configuration whose transport never retries on its own (urllib3 would otherwise
    sleep out 429/503 Retry-After itself): this adapter's bounded, jittered retries are the only
    ones, so their count and delays are known."""
    configuration = k8s_client.Configuration()
    configuration.retries = False
    return configuration


def kubeconfig_path(kubeconfig: str | None) -> str:
    """The kubeconfig kubectl would read: --kubeconfig, else $KUBECONFIG, else ~/.kube/config."""
    return kubeconfig or os.environ.get("KUBECONFIG") or os.path.expanduser("~/.kube/config")


def _check_file(path: str) -> None:
    """A kubeconfig must be a readable regular file: a FIFO or device would block the client's
    read forever, a directory or garbage would end in a traceback deep inside it."""
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        raise KubeconfigError(f"cannot read kubeconfig {path}: {exc.strerror or exc}") from None
    if not stat.S_ISREG(mode):
        what = "a directory" if stat.S_ISDIR(mode) else "not a regular file"
        raise KubeconfigError(f"kubeconfig {path} is {what}; pass a kubeconfig file with --kubeconfig")
    if not os.access(path, os.R_OK):
        raise KubeconfigError(f"cannot read kubeconfig {path}: permission denied")


def _contexts(path: str) -> list[str]:
    try:
        contexts, _ = k8s_config.list_kube_config_contexts(config_file=path)
    except Exception:  # noqa: BLE001 - only used to enrich a message
        return []
    return sorted(str(c.get("name")) for c in contexts or [] if isinstance(c, dict))


def _from_kubeconfig(context: str | None, kubeconfig: str | None) -> tuple[Any, str]:
    """An ApiClient configured as kubectl would be, and a description naming the context.
    Every problem with the kubeconfig or the context is a KubeconfigError (invalid input, exit 2)."""
    path = kubeconfig_path(kubeconfig)
    paths = [p for p in path.split(os.pathsep) if p]
    if not kubeconfig and not any(os.path.exists(p) for p in paths):
        if os.environ.get("KUBERNETES_SERVICE_HOST"):
            configuration = _configuration()
            try:
                k8s_config.load_incluster_config(client_configuration=configuration)
            except ConfigException as exc:
                raise KubeconfigError(f"in-cluster configuration failed: {exc}") from exc
            return (k8s_client.ApiClient(configuration),
                    f"in-cluster service account ({_safe_url(configuration.host)})")
        raise KubeconfigError(f"no kubeconfig at {paths[0] if paths else '~/.kube/config'} and not "
                              "running in a cluster; pass --kubeconfig or set KUBECONFIG")
    for one in paths if not kubeconfig else [kubeconfig]:
        if kubeconfig or os.path.exists(one):
            _check_file(one)
    try:
        configuration = _configuration()
        k8s_config.load_kube_config(config_file=path, context=context,
                                    client_configuration=configuration)
        api = k8s_client.ApiClient(configuration)
        _, active = k8s_config.list_kube_config_contexts(config_file=path)
    except Exception as exc:  # noqa: BLE001 - the client raises anything from YAML errors to KeyError
        known = _contexts(path)
        if context and known and context not in known:
            raise KubeconfigError(f"context {context!r} is not in kubeconfig {path} (it has: "
                                  f"{', '.join(known)}); pass one of those with --context") from None
        detail = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
        raise KubeconfigError(f"cannot load kubeconfig {path}: {detail}") from None
    name = context or (active or {}).get("name", "?")
    return api, f"context {name} ({_safe_url(api.configuration.host)})"
