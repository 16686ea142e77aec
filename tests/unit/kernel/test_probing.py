"""One probe request against a real local HTTP server: success and its latency, Server-Sent Events
(time to first byte, time between chunks, `[DONE]`, an error event), a Kubernetes Status or an
OpenAI-style error as the failure's text, timeouts and refused connections as answers, the endpoint
a server names, and the probe's own secrets never in an error text."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from runner.kernel.clock import SystemClock
from runner.kernel.probing import HIDDEN, send, target_text
from runner.scenario.model import Duration, Probe, ServiceRef
from tests.fakes.cluster import FakeCluster

GAP = 0.05


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # each chunk goes out when written, as inference servers do

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path.startswith("/sse"):
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.send_header("X-Served-By", "worker-7")
            self.end_headers()
            for i in range(4):
                if i:
                    time.sleep(GAP)
                self._chunk(f'data: {{"choices": [{{"text": " tok{i}"}}]}}\n\n'.encode())
            if self.path == "/sse-error":
                self._chunk(b'data: {"object":"error","message":"CUDA error: cudaErrorNoDevice (100)"}\n\n')
            if self.path != "/sse-cut":
                self._chunk(b"data: [DONE]\n\n")
            self.wfile.write(b"0\r\n\r\n")
            return
        if self.path == "/slow":
            time.sleep(1.0)
        status, data = 200, b'{"ok": true}'
        if self.path == "/status":
            status = 503
            message = 'no endpoints available for service "w"'
            data = json.dumps({"kind": "Status", "message": message}).encode()
        elif self.path == "/echo":
            status, data = 500, b"bad request from " + self.headers["X-Api-Key"].encode() + b" " + body
        self.send_response(status)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


def probe(url: str, path: str, **kw: Any) -> Probe:
    return Probe("p", url=url, path=path, method="POST", headers={"X-Api-Key": "key-9f8e7d6c"},
                 body='{"prompt": "secret-prompt-1234"}', request_timeout=Duration.of(0.5), **kw)


def go(p: Probe) -> Any:
    return send(FakeCluster(), "ns", p, SystemClock())


def test_a_success(server: str) -> None:
    sample = go(probe(server, "/ok"))
    assert (sample.ok, sample.status, sample.error) == (True, 200, "")
    assert 0 < sample.latency_s < 0.5
    assert sample.ttfb_s is None  # not a stream
    assert abs(sample.at - time.time()) < 5


def test_a_stream_records_time_to_first_byte_and_between_chunks(server: str) -> None:
    sample = go(probe(server, "/sse", stream=True))
    assert sample.ok, sample.error
    assert sample.endpoint == "worker-7"
    assert sample.ttfb_s is not None
    assert sample.ttfb_s < GAP
    assert len(sample.chunk_gaps_s) == 4  # four tokens and [DONE]: four gaps
    assert all(g >= GAP * 0.8 for g in sample.chunk_gaps_s[:3])
    assert sample.latency_s >= 3 * GAP


@pytest.mark.parametrize(("path", "why"), [
    ("/sse-error", "error event: CUDA error: cudaErrorNoDevice (100)"),
    ("/sse-cut", "the stream ended without data: [DONE]"),
])
def test_a_stream_that_breaks_fails(server: str, path: str, why: str) -> None:
    sample = go(probe(server, path, stream=True))
    assert (sample.ok, sample.status, sample.error) == (False, 200, why)


def test_failures_are_answers(server: str) -> None:
    status = go(probe(server, "/status"))
    assert (status.ok, status.error) == (False, 'HTTP 503: no endpoints available for service "w"')
    slow = go(probe(server, "/slow"))
    assert (slow.ok, slow.status, slow.error) == (False, 0, "timed out after 0.5s")
    assert slow.latency_s < 0.9
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens there once closed
    refused = go(probe(f"http://127.0.0.1:{port}", "/x"))
    assert (refused.ok, refused.status, refused.error) == (False, 0, "connection refused")
    assert go(probe(server, "/ok", expect_status=204)).error == 'HTTP 200: {"ok": true}'


def test_the_probes_secrets_never_reach_an_error(server: str) -> None:
    sample = go(probe(server, "/echo"))
    assert not sample.ok
    assert "key-9f8e7d6c" not in sample.error
    assert "secret-prompt-1234" not in sample.error
    assert sample.error == f"HTTP 500: bad request from {HIDDEN} {HIDDEN}"


def test_the_service_form_goes_through_the_cluster() -> None:
    cluster = FakeCluster()
    p = Probe("p", service=ServiceRef("w", 8000), path="/v1/x")
    sample = send(cluster, "ns", p, SystemClock())
    assert (sample.status, sample.error) == (404, 'HTTP 404: services "w" not found')
    assert [(r.namespace, r.service, r.port, r.path) for r in cluster.proxied] == [("ns", "w", 8000, "/v1/x")]
    assert target_text(p, "ns") == "service ns/w:8000/v1/x"
    assert target_text(Probe("q", url="https://x.example", path="/v1"), "ns") == "https://x.example/v1"
