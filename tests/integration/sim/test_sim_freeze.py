"""The freeze fault: the API server accepts connections and reads requests but answers nothing
(no watch events either) until the fault is cleared, and stops cleanly while requests are held."""

from __future__ import annotations

import json
import socket
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import urllib3
from kubernetes import client, watch

from runner.sim.cluster import SimCluster
from tests.integration.sim.conftest import api_client, wait_for


def admin(cluster: SimCluster, method: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    r = urllib3.PoolManager().request(method, f"{cluster.url}/_chaos/faults",
                                      body=json.dumps(body).encode() if body is not None else None,
                                      headers={"Content-Type": "application/json"}, timeout=5)
    assert r.status == 200, r.data
    data: dict[str, Any] = json.loads(r.data)
    return data


def sim_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("chaos-sim-api")]


def test_frozen_server_accepts_but_never_answers_until_cleared(sim: SimCluster,
                                                               core: client.CoreV1Api) -> None:
    assert admin(sim, "POST", {"freeze": True})["freeze"] is True
    # The TCP connection is accepted and the request read; no answer comes back.
    sock = socket.create_connection(("127.0.0.1", sim.api.port), timeout=5)
    sock.sendall(b"GET /api/v1/namespaces HTTP/1.1\r\nHost: sim\r\n\r\n")
    sock.settimeout(0.5)
    with pytest.raises(TimeoutError):
        sock.recv(1)
    with pytest.raises(urllib3.exceptions.MaxRetryError, match="Read timed out"):
        core.list_namespace(_request_timeout=(2, 0.3))
    # A request caught in the freeze is answered once the fault is cleared, as after SIGCONT.
    answered: list[Any] = []
    caught = threading.Thread(target=lambda: answered.append(core.read_namespace("default")))
    caught.start()
    wait_for(lambda: admin(sim, "GET")["held"] >= 2, what="the requests to be held")
    time.sleep(0.3)
    assert answered == []
    assert admin(sim, "DELETE")["freeze"] is False
    caught.join(timeout=5)
    assert answered[0].metadata.name == "default"
    sock.settimeout(5)
    assert sock.recv(64).startswith(b"HTTP/1.1 200 ")
    sock.close()
    assert core.list_namespace(_request_timeout=(2, 2)).items


def test_freeze_stalls_watch_streams_and_keeps_latency(sim: SimCluster, kube: client.ApiClient) -> None:
    coord = client.CoordinationV1Api(kube)
    got: list[tuple[str, float]] = []

    def watcher() -> None:
        w = watch.Watch()
        for ev in w.stream(coord.list_namespaced_lease, "chaos-system", timeout_seconds=20):
            got.append((ev["object"].metadata.name, time.monotonic()))
            if len(got) == 2:
                w.stop()

    t = threading.Thread(target=watcher)
    t.start()
    coord.create_namespaced_lease("chaos-system", {"metadata": {"name": "before"}, "spec": {}})
    wait_for(lambda: got, what="the first event")
    sim.faults.update({"freeze": True})
    time.sleep(0.3)  # the watch loop is now held
    from runner.sim.resources import LEASES
    sim.store.create(LEASES, {"metadata": {"name": "during"}, "spec": {}}, "chaos-system")
    time.sleep(0.6)
    assert [name for name, _ in got] == ["before"]  # nothing goes out while frozen
    cleared = time.monotonic()
    sim.faults.clear()
    t.join(timeout=10)
    assert [name for name, _ in got] == ["before", "during"]
    assert got[1][1] >= cleared
    # latency_s is still its own fault
    sim.faults.update({"latency_s": 0.4})
    started = time.monotonic()
    client.CoreV1Api(kube).read_namespace("default")
    assert time.monotonic() - started >= 0.4


def test_stop_while_frozen_leaves_no_thread_or_socket(tmp_path: Path) -> None:
    before = set(sim_threads())
    cluster = SimCluster(tmp_path / "sim").start()
    api = api_client(cluster, tmp_path / "kc")
    core = client.CoreV1Api(api)
    core.list_namespace()  # leaves an idle keep-alive connection in the client's pool
    idle = socket.create_connection(("127.0.0.1", cluster.api.port), timeout=5)  # never sends a byte
    cluster.faults.update({"freeze": True})
    outcome: list[BaseException | None] = []

    def held() -> None:
        try:
            core.list_namespace(_request_timeout=(5, 30))
            outcome.append(None)
        except (urllib3.exceptions.HTTPError, OSError) as exc:  # closed unanswered
            outcome.append(exc)

    t = threading.Thread(target=held)
    t.start()
    wait_for(lambda: cluster.faults.held == 1, what="the held request")
    started = time.monotonic()
    cluster.stop()
    assert time.monotonic() - started < 3
    t.join(timeout=5)
    assert not t.is_alive()
    assert len(outcome) == 1
    assert outcome[0] is not None
    assert cluster.api.open_connections == 0
    assert set(sim_threads()) == before
    idle.settimeout(2)
    assert idle.recv(1) == b""  # the server closed its side
    idle.close()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", cluster.api.port), timeout=2)
    api.close()


def test_freeze_can_target_paths_and_is_validated(sim: SimCluster, core: client.CoreV1Api) -> None:
    sim.faults.update({"freeze": True, "path_regex": "/leases"})
    assert core.read_namespace("default").metadata.name == "default"  # not matched: answered
    r = urllib3.PoolManager().request("POST", f"{sim.url}/_chaos/faults", body=b'{"freeze": "yes"}')
    assert r.status == 400
    r = urllib3.PoolManager().request("POST", f"{sim.url}/_chaos/faults", body=b'{"held": 3}')
    assert r.status == 400
