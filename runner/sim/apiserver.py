"""The embedded Kubernetes API server: HTTP/1.1 + JSON on loopback, over the Store.

Routing (`/api/v1/...`, `/apis/<group>/<version>/...`, namespaced and cluster paths, subresources),
discovery, bearer-token authentication with RBAC-lite, server-side Table printing for kubectl,
chunked watch and log-follow streams, `Status` error bodies with the real server's reasons, admission
warnings as `Warning: 299` headers, protobuf request bodies for built-in kinds (runner/sim/protowire.py),
pods/eviction, the services/pods proxy subresources (runner/sim/proxy.py), and the
fault-injection admin endpoint `/_chaos/faults`. Served by the standard library
(`ThreadingHTTPServer`, one thread per connection). It holds no objects itself and never
reaches into the store's internals.

Scheduling: the scheduler (part 2) may either set spec.nodeName through an update/patch or POST a
`pods/binding` (both work; binding answers 409 when the pod is already bound).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import logging
import select
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

from runner.errors import ClusterError, NotFound
from runner.sim import discovery, disruption, patching, protowire, proxy, tables
from runner.sim.faults import ServerFaults
from runner.sim.logs import PodLogs
from runner.sim.rbac import Authorizer, Identity
from runner.sim.resources import GVR, NAMESPACES, PODS, SERVICES, ResourceInfo
from runner.sim.store import Store, bad_request

log = logging.getLogger(__name__)

Obj = dict[str, Any]
WATCH_POLL_S = 0.5
_HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
                         "trailer", "trailers", "transfer-encoding", "upgrade", "proxy-connection"})


@dataclass
class Route:
    gvr: GVR
    info: ResourceInfo
    namespace: str | None
    name: str
    subresource: str
    extra: str = ""  # the path after `.../proxy`, for the proxy subresources


def status_body(code: int, reason: str, message: str, details: Obj | None = None) -> Obj:
    body: Obj = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                 "message": message, "reason": reason, "code": code}
    if details:
        body["details"] = details
    return body


_REASONS = {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound",
            405: "MethodNotAllowed",
            406: "NotAcceptable", 409: "Conflict", 410: "Expired", 415: "UnsupportedMediaType",
            422: "Invalid", 429: "TooManyRequests", 500: "InternalError", 503: "ServiceUnavailable"}


def _auth_namespace(route: Route) -> str | None:
    """The namespace a request is authorized in: a Namespace object is in itself, as the real
    server's request info has it (so a RoleBinding may grant `get` on its own Namespace)."""
    if route.gvr == NAMESPACES and route.name:
        return route.name
    return route.namespace


ACCESS_REVIEWS = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"


def scale_of(obj: Obj) -> Obj:
    spec = obj.get("spec") or {}
    meta = obj["metadata"]
    selector = spec.get("selector") or {}
    labels = ",".join(f"{k}={v}" for k, v in (selector.get("matchLabels") or {}).items())
    return {"kind": "Scale", "apiVersion": "autoscaling/v1",
            "metadata": {k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion",
                                               "creationTimestamp") if k in meta},
            "spec": {"replicas": spec.get("replicas", 0)},
            "status": {"replicas": (obj.get("status") or {}).get("replicas", 0), "selector": labels}}


class _Server(ThreadingHTTPServer):
    """One thread per connection, each tracked so that stopping can close every connection (an
    idle keep-alive one blocks its thread in a read) and join every thread: nothing outlives stop()."""

    daemon_threads = True
    allow_reuse_address = True
    api: ApiServer

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__(address, handler)
        self._conns: dict[socket.socket, threading.Thread] = {}
        self._conns_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        t = threading.Thread(target=self._serve_connection, args=(request, client_address),
                             name="chaos-sim-api-conn", daemon=True)
        with self._conns_lock:
            self._conns[request] = t
        t.start()

    def _serve_connection(self, request: Any, client_address: Any) -> None:
        try:
            self.finish_request(request, client_address)
        except Exception:  # noqa: BLE001 - as socketserver does: one broken connection never stops the server
            self.handle_error(request, client_address)
        finally:
            with self._conns_lock:
                self._conns.pop(request, None)
            self.shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("sim apiserver: connection from %s ended with an error", client_address, exc_info=True)

    def close_connections(self, timeout: float) -> None:
        """Shut every open connection down (blocked reads and writes return) and join the threads."""
        with self._conns_lock:
            conns = list(self._conns.items())
        for sock, _ in conns:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        deadline = time.monotonic() + timeout
        for _, t in conns:
            t.join(max(0.0, deadline - time.monotonic()))

    def open_connections(self) -> int:
        with self._conns_lock:
            return len(self._conns)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; without TCP_NODELAY, Nagle plus delayed ACKs
    # add ~40 ms to every keep-alive request.
    disable_nagle_algorithm = True
    server: _Server
    _warnings: list[str]  # admission warnings of the request being answered

    # --- plumbing --------------------------------------------------------------------------

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    def _body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            out = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return out
                out += self.rfile.read(size)
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _json_body(self, raw: bytes) -> Obj:
        """The request's object: JSON, or protobuf decoded into the same JSON (runner/sim/protowire.py)."""
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip()
        if raw.startswith(protowire.MAGIC) and ctype == protowire.CONTENT_TYPE:
            try:
                return protowire.decode_object(raw)
            except LookupError as exc:
                raise ClusterError(f"the body of the request was in an unknown format - {exc}", status=415,
                                   reason="UnsupportedMediaType") from exc
            except (ValueError, KeyError, UnicodeDecodeError) as exc:
                raise bad_request(f"the object provided could not be decoded from protobuf: {exc}") from exc
        try:
            value = json.loads(raw or b"{}")
        except ValueError as exc:
            raise bad_request(f"couldn't get version/kind; json parse error: {exc}") from exc
        if not isinstance(value, dict):
            raise bad_request("the request body must be a JSON object")
        return value

    def _send(self, code: int, body: Any, content_type: str = "application/json",
              headers: dict[str, str] | None = None) -> None:
        data = body if isinstance(body, bytes) else json.dumps(body, separators=(",", ":")).encode()
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-cache, private")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self._send_warnings()
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _send_error(self, code: int, reason: str, message: str, details: Obj | None = None,
                    headers: dict[str, str] | None = None) -> None:
        self._send(code, status_body(code, reason, message, details), headers=headers)

    def _send_warnings(self) -> None:
        """Admission warnings as the real server sends them (kubectl prints `Warning: <text>`)."""
        for text in self._warnings:
            self.send_header("Warning", f"299 - {json.dumps(text)}")
        self._warnings = []

    def _start_chunked(self, content_type: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-cache, private")
        self.end_headers()
        self.wfile.flush()

    def _chunk(self, data: bytes) -> None:
        if data:
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            self.wfile.flush()

    def _end_chunks(self) -> None:
        try:
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except OSError:
            self.close_connection = True

    def _client_gone(self) -> bool:
        try:
            readable, _, _ = select.select([self.connection], [], [], 0)
            return bool(readable) and self.connection.recv(1, socket.MSG_PEEK) == b""
        except OSError:
            return True

    # --- entry points ----------------------------------------------------------------------

    def do_GET(self) -> None:
        self._handle("GET")

    def do_HEAD(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_PATCH(self) -> None:
        self._handle("PATCH")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    def _handle(self, method: str) -> None:
        api = self.server.api
        self._warnings = []
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        raw = self._body()
        try:
            if url.path.startswith("/_chaos/"):
                self._admin(method, url.path, raw)
                return
            if not api.faults.hold(url.path, api.stopping):  # frozen until cleared, or stopping
                self.close_connection = True
                return
            identity = api.authorizer.identify(self.headers.get("Authorization"))
            if identity is None:
                self._send_error(401, "Unauthorized", "Unauthorized")
                return
            if self._discovery(method, url.path):
                return
            if self._access_review(method, url.path, raw, identity):
                return
            route = self._route(url.path)
            verb = self._verb(method, route, query)
            if route.subresource != "proxy":
                self._check_body_type(method, raw, route)
            if self._faulted(verb, url.path):
                return
            resource = f"{route.gvr.plural}/{route.subresource}" if route.subresource else route.gvr.plural
            api.authorizer.authorize(identity, verb, route.gvr.group, resource, _auth_namespace(route),
                                     route.name)
            if route.subresource == "proxy":
                self._proxy(route, url.query, raw)
                return
            self._dispatch(method, verb, route, query, raw, identity)
        except ClusterError as exc:
            code = exc.status or 500
            reason = exc.reason or _REASONS.get(code, "InternalError")
            details = getattr(exc, "status_details", None)
            self._send_error(code, reason, str(exc), self._details(url.path) if details is None else details)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as exc:  # an unexpected bug answers 500, never kills the server
            log.exception("sim apiserver: %s %s failed", method, self.path)
            self._send_error(500, "InternalError", f"Internal error occurred: {exc}")

    def _check_body_type(self, method: str, raw: bytes, route: Route) -> None:
        """JSON, and protobuf for the built-in kinds (what client-go sends for them); anything else,
        or protobuf for a custom resource, gets the real server's 415."""
        if method not in ("POST", "PUT", "DELETE") or not raw:
            return
        ctype = (self.headers.get("Content-Type") or "application/json").split(";")[0].strip()
        if ctype == protowire.CONTENT_TYPE and (route.info.builtin or method == "DELETE"):
            return
        if method == "DELETE" and raw.startswith(protowire.MAGIC):
            return  # DeleteOptions (kubectl drain, delete), whatever the header says
        if ctype not in ("application/json", "*/*", ""):
            accepted = "application/json, application/yaml"
            if route.info.builtin:
                accepted += f", {protowire.CONTENT_TYPE}"
            raise ClusterError(f'the body of the request was in an unknown format - accepted media types '
                               f'include: {accepted} ("{ctype}")', status=415, reason="UnsupportedMediaType")

    def _delete_options(self, raw: bytes) -> Obj:
        if not raw.strip():
            return {}
        if raw.startswith(protowire.MAGIC):
            try:
                return protowire.delete_options(raw)
            except (ValueError, KeyError, UnicodeDecodeError) as exc:
                raise bad_request(f"cannot decode DeleteOptions: {exc}") from exc
        return self._json_body(raw)

    def _details(self, path: str) -> Obj | None:
        try:
            route = self._route(path)
        except ClusterError:
            return None
        details: Obj = {"kind": route.gvr.plural, "group": route.gvr.group}
        if route.name:
            details["name"] = route.name
        return details

    # --- admin, discovery, routing ---------------------------------------------------------

    def _admin(self, method: str, path: str, raw: bytes) -> None:
        api = self.server.api
        identity = api.authorizer.identify(self.headers.get("Authorization"))
        if identity is None or not identity.unrestricted:
            self._send_error(403, "Forbidden", "the fault admin endpoint needs an unrestricted token")
            return
        if path.rstrip("/") != "/_chaos/faults":
            self._send_error(404, "NotFound", f"no admin endpoint {path}")
            return
        if method == "POST":
            try:
                api.faults.update(self._json_body(raw))
            except (ValueError, TypeError) as exc:
                self._send_error(400, "BadRequest", str(exc))
                return
        elif method == "DELETE":
            api.faults.clear()
        elif method != "GET":
            self._send_error(405, "MethodNotAllowed", f"{method} is not allowed on {path}")
            return
        self._send(200, api.faults.as_dict())

    def _discovery(self, method: str, path: str) -> bool:
        api = self.server.api
        path = path.rstrip("/") or "/"
        body: Obj | None = None
        if path in ("/healthz", "/readyz", "/livez"):
            self._send(200, b"ok", "text/plain")
            return True
        if path == "/version":
            body = dict(discovery.VERSION_INFO)
        elif path == "/api":
            body = discovery.api_versions(api.address)
        elif path == "/apis":
            body = discovery.api_groups(api.store.registry)
        elif path == "/openapi/v2":
            # An empty protobuf Document: kubectl then finds no schema for any kind, skips client-side
            # validation and computes strategic patches from its compiled-in types, so plain
            # `kubectl apply` works. JSON is not an option: kubectl decodes this document as protobuf.
            self._send(200, b"", "application/octet-stream")
            return True
        elif path.startswith("/openapi"):
            self._send_error(404, "NotFound", "the server could not find the requested resource")
            return True
        else:
            parts = path.strip("/").split("/")
            if parts[0] == "api" and len(parts) == 2:
                body = discovery.resource_list(api.store.registry, "", parts[1])
            elif parts[0] == "apis" and len(parts) == 2:
                body = discovery.api_group(api.store.registry, parts[1])
            elif parts[0] == "apis" and len(parts) == 3:
                body = discovery.resource_list(api.store.registry, parts[1], parts[2])
            else:
                return False
            if body is None:
                self._send_error(404, "NotFound", "the server could not find the requested resource")
                return True
        if method != "GET":
            self._send_error(405, "MethodNotAllowed", f"the server does not allow this method ({method})")
            return True
        self._send(200, body)
        return True

    def _access_review(self, method: str, path: str, raw: bytes, identity: Identity) -> bool:
        """`POST selfsubjectaccessreviews`: may the caller do this? Answered from its own rules;
        every authenticated user may ask (the real server's system:basic-user role)."""
        if path.rstrip("/") != ACCESS_REVIEWS:
            return False
        if method != "POST":
            self._send_error(405, "MethodNotAllowed",
                             f"the server does not allow this method on the requested resource ({method})")
            return True
        ctype = (self.headers.get("Content-Type") or "application/json").split(";")[0].strip()
        if ctype not in ("application/json", "*/*", ""):
            raise ClusterError(f'the body of the request was in an unknown format - accepted media types '
                               f'include: application/json, application/yaml ("{ctype}")', status=415,
                               reason="UnsupportedMediaType")
        body = self._json_body(raw)
        given = body.get("spec")
        spec: Obj = given if isinstance(given, dict) else {}
        found = spec.get("resourceAttributes")
        status: Obj
        if isinstance(found, dict):
            attrs: Obj = found

            def text(key: str) -> str:
                value = attrs.get(key)
                return value if isinstance(value, str) else ""

            resource = text("resource") + (f"/{text('subresource')}" if text("subresource") else "")
            answer = self.server.api.authorizer.review(identity, text("verb"), text("group"), resource,
                                                       text("namespace") or None, text("name"))
            status = {"allowed": answer.allowed}
            if answer.reason:
                status["reason"] = answer.reason
        elif isinstance(spec.get("nonResourceAttributes"), dict):
            status = {"allowed": identity.unrestricted}  # restricted tokens are granted no URL here
        else:
            raise bad_request('SelfSubjectAccessReview.authorization.k8s.io "" is invalid: '
                              'spec.resourceAttributes: Invalid value: "null": exactly one of '
                              "nonResourceAttributes or resourceAttributes must be specified")
        self._send(201, {"kind": "SelfSubjectAccessReview", "apiVersion": "authorization.k8s.io/v1",
                         "metadata": {"creationTimestamp": None}, "spec": spec, "status": status})
        return True

    def _route(self, path: str) -> Route:
        registry = self.server.api.store.registry
        # route on the decoded segments, as the real server does (clients escape `:` in names)
        raw_segments = path.split("/")
        positions = [i for i, p in enumerate(raw_segments) if p]
        parts = [unquote(raw_segments[i]) for i in positions]
        if parts[:1] == ["api"] and len(parts) >= 3:
            group, version, rest = "", parts[1], parts[2:]
        elif parts[:1] == ["apis"] and len(parts) >= 4:
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            raise NotFound("the server could not find the requested resource", status=404, reason="NotFound")
        if rest[:1] == ["watch"]:
            rest = rest[1:]
        namespace: str | None = None
        if len(rest) >= 3 and rest[0] == "namespaces" and rest[2] not in ("status", "finalize"):
            namespace, rest = rest[1], rest[2:]
        gvr = GVR(group, version, rest[0]) if rest else GVR(group, version, "")
        info = registry.get(gvr)
        if info is not None and len(rest) >= 3 and rest[2] == "proxy" and "proxy" in info.subresources:
            # everything after .../{name}/proxy is the target's path, as sent (slashes, escapes)
            at = positions[len(parts) - len(rest) + 2]
            extra = "/" + "/".join(raw_segments[at + 1:]) if at + 1 < len(raw_segments) else ""
            # forwarded decoded and re-escaped, as Go rebuilds the target URL from the decoded path
            extra = quote(unquote(extra), safe="/:@!$&'()*+,;=~")
            if namespace is None or not info.namespaced:
                raise NotFound("the server could not find the requested resource", status=404,
                               reason="NotFound")
            return Route(gvr, info, namespace, rest[1], "proxy", extra)
        if info is None or len(rest) > 3 or (namespace is not None and not info.namespaced):
            raise NotFound("the server could not find the requested resource", status=404, reason="NotFound")
        name = rest[1] if len(rest) > 1 else ""
        sub = rest[2] if len(rest) > 2 else ""
        if sub and sub not in info.subresources:
            raise NotFound("the server could not find the requested resource", status=404, reason="NotFound")
        return Route(gvr, info, namespace, name, sub)

    def _verb(self, method: str, route: Route, query: dict[str, str]) -> str:
        if route.subresource == "proxy":  # a connect subresource: the verb follows the method
            verb = {"GET": "get", "POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}
            return verb[method]
        watching = query.get("watch") in ("1", "true") or "/watch/" in self.path
        if method == "GET":
            if route.name:
                return "watch" if watching else "get"
            return "watch" if watching else "list"
        if method == "POST" and (not route.name or route.subresource in ("binding", "eviction")):
            return "create"
        if method == "PUT" and route.name:
            return "update"
        if method == "PATCH" and route.name:
            return "patch"
        if method == "DELETE":
            return "delete" if route.name else "deletecollection"
        raise ClusterError(f"the server does not allow this method on the requested resource ({method})",
                           status=405, reason="MethodNotAllowed")

    def _faulted(self, verb: str, path: str) -> bool:
        faults = self.server.api.faults
        delay = faults.latency(verb, path)
        if delay > 0:
            time.sleep(delay)  # injected latency is the point here
        decision = faults.decide(verb, path)
        if not decision.code:
            return False
        if decision.code == 429:
            self._send_error(429, "TooManyRequests", "Too many requests, please try again later.",
                             {"retryAfterSeconds": decision.retry_after},
                             headers={"Retry-After": str(decision.retry_after)})
        else:
            self._send_error(decision.code, _REASONS.get(decision.code, "InternalError"),
                             "Internal error occurred: injected by chaos-sim")
        return True

    # --- the proxy subresources ------------------------------------------------------------

    def _proxy(self, route: Route, raw_query: str, body: bytes) -> None:
        """Forward to the resolved endpoint and stream its answer back (runner/sim/proxy.py)."""
        api = self.server.api
        ns = route.namespace or ""
        target = (api.resolver.service(ns, route.name) if route.gvr == SERVICES
                  else api.resolver.pod(ns, route.name))
        if not route.extra:  # upstream redirects the bare proxy root to a path ending in '/'
            location = urlsplit(self.path).path + "/" + (f"?{raw_query}" if raw_query else "")
            self._send(301, b"", "text/plain", headers={"Location": location})
            return
        method = self.command  # HEAD stays HEAD
        path = route.extra + (f"?{raw_query}" if raw_query else "")
        # the caller's credentials stay here, as upstream's authentication filter drops them
        headers = {k: v for k, v in self.headers.items()
                   if k.lower() not in _HOP_BY_HOP | {"authorization", "host", "content-length"}}
        headers["Host"] = f"{target.host}:{target.port}"
        forwarded = self.headers.get("X-Forwarded-For")
        client_ip = str(self.client_address[0])
        headers["X-Forwarded-For"] = f"{forwarded}, {client_ip}" if forwarded else client_ip
        if body or method in ("POST", "PUT", "PATCH"):
            headers["Content-Length"] = str(len(body))
        dialled = f"{target.host}:{target.port}"
        conn: http.client.HTTPConnection
        if target.scheme == "https":
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE  # as the apiserver's proxy transport: no CA for pods
            conn = http.client.HTTPSConnection(target.host, target.port, timeout=30, context=ctx)
        else:
            conn = http.client.HTTPConnection(target.host, target.port, timeout=30)
        try:
            try:
                conn.connect()
            except ConnectionRefusedError as exc:
                raise proxy.unavailable(f"error trying to reach service: dial tcp {dialled}: connect: "
                                        "connection refused") from exc
            except TimeoutError as exc:
                raise proxy.unavailable(f"error trying to reach service: dial tcp {dialled}: "
                                        "i/o timeout") from exc
            except OSError as exc:
                raise proxy.unavailable(f"error trying to reach service: dial tcp {dialled}: connect: "
                                        f"{(exc.strerror or str(exc)).lower()}") from exc
            assert conn.sock is not None
            conn.sock.settimeout(None)  # streams (SSE, chunked) may idle; stop() shuts the socket down
            with api.upstream(conn.sock):
                self._relay(conn, method, path, body, headers, dialled)
        finally:
            conn.close()

    def _relay(self, conn: http.client.HTTPConnection, method: str, path: str, body: bytes,
               headers: dict[str, str], dialled: str) -> None:
        sock = conn.sock
        local = "{}:{}".format(*sock.getsockname()[:2]) if sock is not None else "127.0.0.1"
        try:
            conn.request(method, path, body=body or None, headers=headers)
            resp = conn.getresponse()
        except ConnectionResetError as exc:
            raise proxy.unavailable(f"error trying to reach service: read tcp {local}->{dialled}: read: "
                                    "connection reset by peer") from exc
        except (http.client.RemoteDisconnected, http.client.IncompleteRead) as exc:
            raise proxy.unavailable("error trying to reach service: EOF") from exc
        except (http.client.HTTPException, OSError) as exc:
            raise proxy.unavailable(f"error trying to reach service: {exc}") from exc
        chunked = resp.getheader("Content-Length") is None
        no_body = method == "HEAD" or resp.status in (204, 304) or 100 <= resp.status < 200
        self.send_response(resp.status, resp.reason)
        for k, v in resp.getheaders():
            if k.lower() not in _HOP_BY_HOP and k.lower() not in ("date", "server", "content-length"):
                self.send_header(k, v)
        if not no_body:
            if chunked:
                self.send_header("Transfer-Encoding", "chunked")
            else:
                self.send_header("Content-Length", str(resp.getheader("Content-Length")))
        self.end_headers()
        self.wfile.flush()
        if no_body:
            return
        try:
            while True:
                data = resp.read1(65536)  # what has arrived: an SSE event goes out as it comes
                if not data:
                    break
                if chunked:
                    self._chunk(data)
                else:
                    self.wfile.write(data)
                    self.wfile.flush()
        except (http.client.HTTPException, ConnectionError, OSError):
            self.close_connection = True  # the endpoint broke off: so does the answer
            return
        if chunked:
            self._end_chunks()

    # --- verbs -----------------------------------------------------------------------------

    def _dispatch(self, method: str, verb: str, route: Route, query: dict[str, str], raw: bytes,
                  identity: Identity) -> None:
        store = self.server.api.store
        gvr, ns, name, sub = route.gvr, route.namespace, route.name, route.subresource
        dry = query.get("dryRun") == "All"
        if method == "DELETE" and self._delete_options(raw).get("dryRun") == ["All"]:
            dry = True
        if query.get("dryRun") not in (None, "", "All"):
            raise bad_request(f'Invalid dryRun value "{query["dryRun"]}": only "All" is supported')
        if verb == "get" and sub == "log":
            self._logs(route, query)
        elif sub == "scale":
            self._scale(verb, route, raw, dry)
        elif verb == "get":
            obj = store.get(gvr, ns, name)
            self._send(200, self._maybe_table(route, [obj], store.resource_version, query, single=True))
        elif verb == "list":
            items, rv = store.list(gvr, ns, query.get("labelSelector", ""), query.get("fieldSelector", ""))
            if self._wants_table():
                self._send(200, tables.table(gvr, items, rv, query.get("includeObject", "Metadata")))
            else:
                self._send(200, {"kind": route.info.kind_list, "apiVersion": gvr.api_version,
                                 "metadata": {"resourceVersion": rv}, "items": items})
        elif verb == "watch":
            fields = query.get("fieldSelector", "")
            if name:
                fields = ",".join(f for f in (fields, f"metadata.name={name}") if f)
            self._watch(route, query, fields)
        elif verb == "create" and sub == "binding":
            self._bind(route, self._json_body(raw))
        elif verb == "create" and sub == "eviction":
            disruption.evict(store, ns or "", name, self._json_body(raw), dry_run=dry)
            self._send(201, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                             "code": 201})
        elif verb == "create":
            self._send(201, store.create(gvr, self._json_body(raw), ns, dry_run=dry,
                                         warnings=self._warnings))
        elif verb == "update":
            body = self._json_body(raw)
            meta = body.setdefault("metadata", {})
            if meta.get("name") and meta["name"] != name:
                raise bad_request("the name of the object does not match the name on the URL")
            meta["name"] = name
            if route.info.namespaced:
                if meta.get("namespace") and meta["namespace"] != ns:
                    raise bad_request("the namespace of the provided object does not match the namespace "
                                      "sent on the request")
                meta["namespace"] = ns
            self._send(200, store.update(gvr, body, sub or None, dry_run=dry,
                                         warnings=self._warnings))
        elif verb == "patch":
            ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip()
            if ctype not in patching.PATCH_TYPES:
                accepted = [patching.JSON_PATCH, patching.MERGE_PATCH]
                if route.info.builtin:
                    accepted.append(patching.STRATEGIC_MERGE_PATCH)
                raise ClusterError(f"the body of the request was in an unknown format - accepted media types "
                                   f"include: {', '.join(accepted)}", status=415,
                                   reason="UnsupportedMediaType")
            self._send(200, store.patch(gvr, ns, name, ctype, raw, sub or None, dry_run=dry,
                                        warnings=self._warnings))
        elif verb == "delete":
            opts = self._delete_options(raw)
            policy = query.get("propagationPolicy") or opts.get("propagationPolicy")
            if opts.get("orphanDependents") is True:
                policy = policy or "Orphan"
            grace = query.get("gracePeriodSeconds") or opts.get("gracePeriodSeconds")
            self._send(200, store.delete(gvr, ns, name, int(grace) if grace not in (None, "") else None,
                                         policy, opts.get("preconditions"), dry_run=dry))
        elif verb == "deletecollection":
            opts = self._delete_options(raw)
            items = store.delete_collection(gvr, ns, query.get("labelSelector", ""),
                                            query.get("fieldSelector", ""),
                                            query.get("propagationPolicy") or opts.get("propagationPolicy"))
            self._send(200, {"kind": route.info.kind_list, "apiVersion": gvr.api_version,
                             "metadata": {"resourceVersion": store.resource_version}, "items": items})
        else:
            raise ClusterError(f"the server does not allow this method on the requested resource ({method})",
                               status=405, reason="MethodNotAllowed")

    def _scale(self, verb: str, route: Route, raw: bytes, dry: bool) -> None:
        """The autoscaling/v1 Scale view of a workload (kubectl scale, HPA-style clients)."""
        store = self.server.api.store
        obj = store.get(route.gvr, route.namespace, route.name)
        if verb in ("update", "patch"):
            current = scale_of(obj)
            if verb == "update":
                wanted = self._json_body(raw)
            else:
                ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip()
                wanted = patching.apply_patch(current, ctype, raw)
            # absent is 0: Scale.spec.replicas is no pointer, so a protobuf Scale leaves a 0 out
            replicas = (wanted.get("spec") or {}).get("replicas", 0)
            if not isinstance(replicas, int) or replicas < 0:
                raise ClusterError(f'Scale.autoscaling "{route.name}" is invalid: spec.replicas: '
                                   f"Invalid value: {replicas!r}: must be greater than or equal to 0",
                                   status=422, reason="Invalid")
            rv = (wanted.get("metadata") or {}).get("resourceVersion")
            body: Obj = {"metadata": {"resourceVersion": rv} if rv else {}, "spec": {"replicas": replicas}}
            obj = store.patch(route.gvr, route.namespace, route.name, patching.MERGE_PATCH, body,
                              dry_run=dry)
        elif verb != "get":
            raise ClusterError("the server does not allow this method on the requested resource", status=405,
                               reason="MethodNotAllowed")
        self._send(200, scale_of(obj))

    def _wants_table(self) -> bool:
        accept = self.headers.get("Accept") or ""
        return "as=Table" in accept

    def _maybe_table(self, route: Route, objs: list[Obj], rv: str, query: dict[str, str],
                     single: bool) -> Obj:
        if self._wants_table():
            return tables.table(route.gvr, objs, rv, query.get("includeObject", "Metadata"))
        return objs[0] if single else {"items": objs}

    def _bind(self, route: Route, body: Obj) -> None:
        store = self.server.api.store
        target = (body.get("target") or {}).get("name")
        if not target:
            raise ClusterError(f'Binding "{route.name}" is invalid: target.name: Required value', status=422,
                               reason="Invalid")
        pod = store.get(PODS, route.namespace, route.name)
        if pod.get("spec", {}).get("nodeName"):
            raise ClusterError(f'Operation cannot be fulfilled on pods/binding "{route.name}": pod '
                               f'{route.name} is already assigned to node "{pod["spec"]["nodeName"]}"',
                               status=409, reason="Conflict")
        store.patch(PODS, route.namespace, route.name, patching.MERGE_PATCH,
                    {"metadata": {"resourceVersion": pod["metadata"]["resourceVersion"]},
                     "spec": {"nodeName": target}})
        self._send(201, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                         "code": 201})

    def _watch(self, route: Route, query: dict[str, str], fields: str) -> None:
        api = self.server.api
        rv = query.get("resourceVersion")
        bookmarks = query.get("allowWatchBookmarks") in ("1", "true")
        as_table = self._wants_table()
        try:
            watch = api.store.watch(route.gvr, route.namespace, rv, query.get("labelSelector", ""), fields,
                                    bookmarks)
        except ClusterError as exc:
            if exc.status != 410:
                raise
            # The real server reports an expired version as an ERROR event inside a 200 stream.
            self._start_chunked("application/json")
            event = {"type": "ERROR", "object": status_body(410, "Expired", str(exc))}
            self._chunk(json.dumps(event).encode() + b"\n")
            self._end_chunks()
            return
        timeout = float(query.get("timeoutSeconds") or 0)
        started = time.monotonic()
        drop_after_n = api.faults.watch_drop_after_events
        drop_after_s = api.faults.watch_drop_after_s
        sent = 0
        first_table = True
        try:
            self._start_chunked("application/json")
            path = urlsplit(self.path).path
            while not api.stopping.is_set():
                if not api.faults.hold(path, api.stopping):  # a frozen server sends no events
                    self.close_connection = True
                    return
                elapsed = time.monotonic() - started
                if timeout and elapsed >= timeout:
                    break
                if drop_after_s and elapsed >= drop_after_s:
                    api.faults.note_watch_drop()
                    break
                ev = watch.next_event(WATCH_POLL_S)
                if ev is None:
                    if self._client_gone():
                        self.close_connection = True
                        return
                    continue
                if not api.faults.hold(path, api.stopping):  # frozen between wait and send
                    self.close_connection = True
                    return
                type_, obj = ev
                if as_table and type_ != "BOOKMARK":
                    obj = tables.table(route.gvr, [obj], obj["metadata"].get("resourceVersion", ""),
                                       query.get("includeObject", "Metadata"), with_columns=first_table)
                    first_table = False
                line = json.dumps({"type": type_, "object": obj}, separators=(",", ":"))
                self._chunk(line.encode() + b"\n")
                if type_ != "BOOKMARK":
                    sent += 1
                if drop_after_n and sent >= drop_after_n:
                    api.faults.note_watch_drop()
                    break
            self._end_chunks()
        except OSError:
            self.close_connection = True
        finally:
            watch.stop()

    def _logs(self, route: Route, query: dict[str, str]) -> None:
        api = self.server.api
        pod = api.store.get(PODS, route.namespace, route.name)
        regular = [str(c.get("name")) for c in pod.get("spec", {}).get("containers") or []]
        containers = regular + [str(c.get("name")) for c in pod.get("spec", {}).get("initContainers") or []]
        # like the real server: with one (non-init) container, that is the default
        container = query.get("container") or (regular[0] if len(regular) == 1 else None)
        previous = query.get("previous") in ("1", "true")
        tail = int(query["tailLines"]) if query.get("tailLines") else None
        ns = route.namespace or ""
        if query.get("follow") not in ("1", "true"):
            data = api.logs.read(ns, route.name, container, previous, tail, containers)
            self._send(200, data, "text/plain")
            return
        uid = pod["metadata"]["uid"]

        def stop() -> bool:
            if api.stopping.is_set() or self._client_gone():
                return True
            try:
                return bool(api.store.get(PODS, ns, route.name)["metadata"]["uid"] != uid)
            except NotFound:
                return True

        api.logs.file(ns, route.name, container, previous, containers)  # errors go out before the 200
        chunks = api.logs.follow(ns, route.name, container, previous, tail, containers, stop)
        try:
            self._start_chunked("text/plain")
            for chunk in chunks:
                self._chunk(chunk)
            self._end_chunks()
        except OSError:
            self.close_connection = True


class ApiServer:
    """The HTTP server over a Store. `start()` serves in a background thread; `stop()` ends it."""

    def __init__(self, store: Store, logs: PodLogs, host: str = "127.0.0.1", port: int = 0,
                 authorizer: Authorizer | None = None, faults: ServerFaults | None = None) -> None:
        self.store = store
        self.logs = logs
        self.authorizer = authorizer or Authorizer()
        self.faults = faults or ServerFaults()
        self.stopping = threading.Event()
        self.resolver = proxy.Resolver(store)
        self._upstreams: set[socket.socket] = set()
        self._upstreams_lock = threading.Lock()
        self._httpd = _Server((host, port), _Handler)
        self._httpd.api = self
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"{host!s}:{port}"

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{self.address}"

    def start(self) -> None:
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="chaos-sim-apiserver", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.stopping.set()
        self.faults.wake()
        self.store.stop_watches()
        if self._thread is not None:
            self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        with self._upstreams_lock:
            upstreams = list(self._upstreams)
        for sock in upstreams:  # a proxied stream blocks its thread in a read from the endpoint
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        self._httpd.close_connections(timeout=5)

    @contextlib.contextmanager
    def upstream(self, sock: socket.socket) -> Iterator[None]:
        """Track a proxy's connection to an endpoint, so that stop() can cut it."""
        with self._upstreams_lock:
            self._upstreams.add(sock)
        try:
            yield
        finally:
            with self._upstreams_lock:
                self._upstreams.discard(sock)

    @property
    def open_connections(self) -> int:
        """Client connections being served now (0 after stop())."""
        return self._httpd.open_connections()
