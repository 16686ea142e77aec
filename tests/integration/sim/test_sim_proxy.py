"""The services/proxy and pods/proxy subresources: real backends on loopback behind simulated pods
(their `chaos.dev/sim-ports` maps), reached through the official client, raw HTTP and kubectl."""

from __future__ import annotations

import json
import socket
import struct
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import urllib3
from kubernetes import client
from kubernetes.client.rest import ApiException

from runner.sim.cluster import SimCluster
from runner.sim.rbac import PolicyRule
from tests.integration.sim.conftest import api_client, wait_for
from tests.integration.sim.test_sim_leases import kubectl


class Backend(ThreadingHTTPServer):
    daemon_threads = True
    name = ""
    second_event: threading.Event


class BackendHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Backend

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _echo(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if self.path.startswith("/reset"):
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            self.connection.close()
            return
        if self.path.startswith("/sse"):
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for i, wait in enumerate((None, self.server.second_event)):
                if wait is not None:
                    wait.wait(10)
                data = f"data: event {i}\n\n".encode()
                self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
            return
        out = json.dumps({"backend": self.server.name, "method": self.command, "path": self.path,
                          "body": body.decode(), "headers": {k.lower(): v for k, v in self.headers.items()}})
        data = out.encode()
        self.send_response(201 if self.command == "POST" else 200)
        self.send_header("Content-Type", "application/json")
        self.send_header("X-Backend", self.server.name)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _echo  # noqa: N815 - http.server's names


@pytest.fixture
def backends() -> Iterator[list[Backend]]:
    servers = []
    for name in ("a", "b"):
        srv = Backend(("127.0.0.1", 0), BackendHandler)
        srv.name = name
        srv.second_event = threading.Event()
        threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        servers.append(srv)
    yield servers
    for srv in servers:
        srv.second_event.set()
        srv.shutdown()
        srv.server_close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def add_pod(core: client.CoreV1Api, name: str, host_port: int, ready: bool = True,
            labels: dict[str, str] | None = None) -> None:
    core.create_namespaced_pod("default", {
        "metadata": {"name": name, "labels": labels or {"app": "web"},
                     "annotations": {"chaos.dev/sim-ports": json.dumps({"8000": host_port})}},
        "spec": {"nodeName": "gpu-node-1", "containers": [{"name": "main", "image": "vllm", "ports": [
            {"name": "http", "containerPort": 8000}]}]}})
    core.patch_namespaced_pod_status(name, "default", {"status": {
        "phase": "Running", "podIP": "127.0.0.1", "podIPs": [{"ip": "127.0.0.1"}],
        "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}})


def web_service(core: client.CoreV1Api, name: str = "web", port_name: str = "http") -> None:
    core.create_namespaced_service("default", {"metadata": {"name": name}, "spec": {
        "selector": {"app": "web"}, "ports": [{"name": port_name, "port": 80, "targetPort": 8000}]}})


def ready_addresses(core: client.CoreV1Api, service: str, n: int) -> None:
    def count() -> bool:
        try:
            eps = core.read_namespaced_endpoints(service, "default")
        except ApiException:
            return False
        return sum(len(s.addresses or []) for s in eps.subsets or []) == n
    wait_for(count, what=f"{n} ready addresses behind {service}")


@pytest.fixture
def web(sim: SimCluster, core: client.CoreV1Api, backends: list[Backend]) -> SimCluster:
    for srv in backends:
        add_pod(core, f"web-{srv.name}", srv.server_address[1])
    web_service(core)
    ready_addresses(core, "web", 2)
    return sim


def answer(call: Any, *args: str) -> dict[str, Any]:
    """The backend's JSON through one of the client's connect_* calls (its str model would repr it)."""
    resp = call(*args, _preload_content=False)
    data: dict[str, Any] = json.loads(resp.data)
    return data


def status(r: Any) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(r.data)
    assert body["kind"] == "Status"
    assert body["code"] == r.status
    return body


def test_official_client_and_round_robin(web: SimCluster, core: client.CoreV1Api) -> None:
    got = [answer(core.connect_get_namespaced_service_proxy_with_path, "web:http", "default", "v1/models")
           for _ in range(4)]
    assert [g["backend"] for g in got] == ["a", "b", "a", "b"]  # in turn
    assert {g["path"] for g in got} == {"/v1/models"}
    by_number = answer(core.connect_get_namespaced_service_proxy_with_path, "web:80", "default", "x")
    assert by_number["path"] == "/x"
    posted = answer(core.connect_post_namespaced_service_proxy_with_path, "web:http", "default", "echo")
    assert posted["method"] == "POST"
    pod_direct = answer(core.connect_get_namespaced_pod_proxy_with_path, "web-b:8000", "default", "p")
    assert (pod_direct["backend"], pod_direct["path"]) == ("b", "/p")
    first_port = answer(core.connect_get_namespaced_pod_proxy_with_path, "web-a", "default", "q")
    assert first_port["backend"] == "a"


def test_forwarding_method_body_query_headers_not_credentials(tmp_path: Path,
                                                              backends: list[Backend]) -> None:
    with SimCluster(tmp_path / "sim", tokens={"admin": None}) as cluster:
        cluster.add_nodes(1, 8)
        core = client.CoreV1Api(api_client(cluster, tmp_path / "kc", "admin"))
        add_pod(core, "web-a", backends[0].server_address[1])
        web_service(core)
        ready_addresses(core, "web", 1)
        http = urllib3.PoolManager()
        base = f"{cluster.url}/api/v1/namespaces/default/services/web:http/proxy"
        r = http.request("PUT", f"{base}/v1/completions?stream=false&n=2", body=b'{"prompt": "hi"}',
                         headers={"Authorization": "Bearer admin", "Content-Type": "application/json",
                                  "X-Request-Id": "42"})
        assert r.status == 200
        assert r.headers["X-Backend"] == "a"
        seen = json.loads(r.data)
        assert (seen["method"], seen["path"], seen["body"]) == ("PUT", "/v1/completions?stream=false&n=2",
                                                                '{"prompt": "hi"}')
        assert seen["headers"]["x-request-id"] == "42"
        assert seen["headers"]["content-type"] == "application/json"
        assert "authorization" not in seen["headers"]
        assert seen["headers"]["x-forwarded-for"] == "127.0.0.1"
        for method in ("PATCH", "DELETE", "HEAD", "POST"):
            r = http.request(method, f"{base}/m", headers={"Authorization": "Bearer admin"})
            assert r.status == (201 if method == "POST" else 200), method
            if method != "HEAD":
                assert json.loads(r.data)["method"] == method
        r = http.request("GET", base, headers={"Authorization": "Bearer admin"}, redirect=False)
        assert (r.status, r.headers["Location"]) == (
            301, "/api/v1/namespaces/default/services/web:http/proxy/")
        assert http.request("GET", f"{base}/x").status == 401  # the proxy is behind authentication


def test_no_endpoints_unknown_ports_and_unreachable(sim: SimCluster, core: client.CoreV1Api,
                                                     backends: list[Backend]) -> None:
    http = urllib3.PoolManager()
    base = f"{sim.url}/api/v1/namespaces/default/services"
    r = http.request("GET", f"{base}/ghost:http/proxy/")
    assert (r.status, status(r)["message"]) == (404, 'services "ghost" not found')
    add_pod(core, "web-a", backends[0].server_address[1], ready=False)
    web_service(core)
    wait_for(lambda: core.read_namespaced_endpoints("web", "default").subsets, what="the Endpoints")
    r = http.request("GET", f"{base}/web:http/proxy/")
    body = status(r)
    assert r.status == 503
    assert (body["reason"], body["message"]) == (
        "ServiceUnavailable", 'no endpoints available for service "web"')
    r = http.request("GET", f"{base}/web:8080/proxy/")
    assert (r.status, status(r)["message"]) == (503, 'no service port 8080 found for service "web"')
    r = http.request("GET", f"{base}/ftp:web:http/proxy/")
    assert (r.status, status(r)["message"]) == (400, 'invalid service request "ftp:web:http"')
    core.patch_namespaced_pod_status("web-a", "default", {"status": {"conditions": [
        {"type": "Ready", "status": "True"}]}})
    ready_addresses(core, "web", 1)
    # a bare name means the unnamed port, as upstream: this Service's only port is named
    r = http.request("GET", f"{base}/web/proxy/")
    assert (r.status, status(r)["message"]) == (503, 'no endpoints available for service "web"')
    r = http.request("GET", f"{base}/web:http/proxy/reset")
    assert r.status == 503
    assert status(r)["message"].startswith("error trying to reach service: ")
    assert "connection reset by peer" in status(r)["message"] or status(r)["message"].endswith(": EOF")
    dead = free_port()
    add_pod(core, "gone", dead, labels={"app": "gone"})
    core.create_namespaced_service("default", {"metadata": {"name": "gone"}, "spec": {
        "selector": {"app": "gone"}, "ports": [{"port": 80, "targetPort": 8000}]}})
    ready_addresses(core, "gone", 1)
    r = http.request("GET", f"{base}/gone/proxy/x")  # unnamed port: the bare name works
    assert r.status == 503
    assert status(r)["message"] == (f"error trying to reach service: dial tcp 127.0.0.1:{dead}: connect: "
                                    "connection refused")
    r = http.request("GET", f"{sim.url}/api/v1/namespaces/default/pods/gone:8000/proxy/x")
    assert r.status == 503
    core.create_namespaced_pod("default", {"metadata": {"name": "no-ip"}, "spec": {"containers": [
        {"name": "c", "image": "x"}]}})
    r = http.request("GET", f"{sim.url}/api/v1/namespaces/default/pods/no-ip:80/proxy/")
    assert (r.status, status(r)["message"]) == (400, "address not allowed")


def test_streams_are_not_buffered(web: SimCluster, backends: list[Backend]) -> None:
    http = urllib3.PoolManager()
    url = f"{web.url}/api/v1/namespaces/default/pods/web-a:8000/proxy/sse"
    r = http.request("GET", url, preload_content=False)
    assert r.status == 200
    assert r.headers["Content-Type"] == "text/event-stream"
    chunks = r.read_chunked()
    assert next(chunks) == b"data: event 0\n\n"  # arrived while the backend still holds the second one
    backends[0].second_event.set()
    assert b"".join(chunks) == b"data: event 1\n\n"
    r.release_conn()


def test_stop_cuts_open_proxied_streams(tmp_path: Path, backends: list[Backend]) -> None:
    cluster = SimCluster(tmp_path / "sim").start()
    core = client.CoreV1Api(api_client(cluster, tmp_path / "kc"))
    add_pod(core, "web-a", backends[0].server_address[1])
    r = urllib3.PoolManager().request(
        "GET", f"{cluster.url}/api/v1/namespaces/default/pods/web-a:8000/proxy/sse", preload_content=False)
    assert next(r.read_chunked()) == b"data: event 0\n\n"
    started = time.monotonic()
    cluster.stop()  # the backend still holds its second event: the relay is blocked reading it
    assert time.monotonic() - started < 3
    assert cluster.api.open_connections == 0
    assert not [t for t in threading.enumerate() if t.name == "chaos-sim-api-conn"]


def test_proxy_rbac_and_discovery(tmp_path: Path, backends: list[Backend]) -> None:
    rules = [PolicyRule(frozenset({""}), frozenset({"services/proxy"}), frozenset({"get"}))]
    with SimCluster(tmp_path / "sim", tokens={"admin": None, "prober": rules}) as cluster:
        admin = client.CoreV1Api(api_client(cluster, tmp_path / "a", "admin"))
        add_pod(admin, "web-a", backends[0].server_address[1])
        web_service(admin)
        ready_addresses(admin, "web", 1)
        names = {r.name for r in admin.get_api_resources().resources}
        assert {"services/proxy", "pods/proxy", "services/status"} <= names
        prober = client.CoreV1Api(api_client(cluster, tmp_path / "p", "prober"))
        assert answer(prober.connect_get_namespaced_service_proxy_with_path, "web:http", "default", "ok")
        with pytest.raises(ApiException) as denied:
            prober.connect_post_namespaced_service_proxy_with_path("web:http", "default", "ok")
        assert denied.value.status == 403
        assert json.loads(denied.value.body)["message"] == (
            'services "web:http" is forbidden: User "token-2" cannot create resource "services/proxy" in API '
            'group "" in the namespace "default"')
        with pytest.raises(ApiException) as pods:
            prober.connect_get_namespaced_pod_proxy_with_path("web-a:8000", "default", "ok")
        assert pods.value.status == 403


def test_kubectl_get_raw(web: SimCluster, tmp_path: Path) -> None:
    base = "/api/v1/namespaces/default/services"
    out = kubectl(web, tmp_path, "get", "--raw", f"{base}/web:http/proxy/health?x=1")
    assert json.loads(out.stdout)["path"] == "/health?x=1"
    res = kubectl(web, tmp_path, "get", "--raw", f"{base}/web/proxy/", check=False)
    assert res.returncode != 0
    assert "ServiceUnavailable" in res.stderr or "no endpoints available" in res.stderr
