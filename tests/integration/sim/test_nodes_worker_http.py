"""The chaos/cuda-worker image as an inference server, through a real HTTP client, with the real shim
preloaded (compiled in the pod from the shim's sources, as on a real cluster) and armed through
the toggle file on the node's disk: disarmed it answers OpenAI-compatible completions (plain and
streamed as Server-Sent Events), /v1/models and /health, doing CUDA work per request; armed, the
request in flight fails (HTTP 500 naming the CUDA error, or an error event mid-stream) and the
worker then exits with the XID in its log."""

from __future__ import annotations

import json
import re
import time
from typing import Any

import pytest
import urllib3
from kubernetes import client

from runner.sim.cluster import SimCluster
from runner.sim.kubelet import PORTS_ANNOTATION
from runner.sim.nodes import node_dir
from tests.integration.sim.nodes_support import wait_for

shim = pytest.importorskip("runner.shim")

NODE = "gpu-node-1"
HOST_FAULT = "/var/run/chaos-fault"
HTTP = urllib3.PoolManager(retries=False, timeout=urllib3.Timeout(connect=2, read=30))


def worker_pod(name: str, args: list[str]) -> dict[str, Any]:
    main = {"name": "main", "image": "chaos/cuda-worker", "args": args,
            "ports": [{"containerPort": 8000, "name": "http"}],
            "resources": {"limits": {"nvidia.com/gpu": "1"}},
            "readinessProbe": {"httpGet": {"path": "/health", "port": "http"}, "periodSeconds": 1},
            "env": [{"name": "LD_PRELOAD", "value": "/cuda-fault/cuda_intercept.so"},
                    {"name": "CUDA_FAULT_TOGGLE_FILE", "value": "/host-fault/cuda_fault_enabled"},
                    {"name": "CUDA_XID_TYPE", "value": "79"}],
            "volumeMounts": [{"name": "cuda-fault", "mountPath": "/cuda-fault"},
                             {"name": "host-fault", "mountPath": "/host-fault"}]}
    build = {"name": "build-shim", "image": "gcc:13",
             "command": ["sh", "-c", shim.compile_command("/src", "/cuda-fault/cuda_intercept.so")],
             "volumeMounts": [{"name": "src", "mountPath": "/src"},
                              {"name": "cuda-fault", "mountPath": "/cuda-fault"}]}
    return {"metadata": {"name": name}, "spec": {
        "nodeSelector": {"kubernetes.io/hostname": NODE},
        "volumes": [{"name": "src", "configMap": {"name": "cuda-fault-src"}},
                    {"name": "cuda-fault", "emptyDir": {}},
                    {"name": "host-fault", "hostPath": {"path": HOST_FAULT, "type": "DirectoryOrCreate"}}],
        "initContainers": [build], "containers": [main]}}


def ready(core: client.CoreV1Api, name: str) -> Any:
    def check() -> Any:
        pod = core.read_namespaced_pod(name, "default")
        return pod if any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions or []) \
            else None

    return wait_for(f"{name} Ready", check, timeout=60)


def base_url(core: client.CoreV1Api, name: str) -> str:
    annotations = core.read_namespaced_pod(name, "default").metadata.annotations
    return f"http://127.0.0.1:{json.loads(annotations[PORTS_ANNOTATION])['8000']}"


def complete(url: str, **body: Any) -> urllib3.BaseHTTPResponse:
    return HTTP.request("POST", f"{url}/v1/completions", body=json.dumps({"model": "chaos-sim", **body}),
                        headers={"Content-Type": "application/json"}, preload_content=False)


def events(resp: urllib3.BaseHTTPResponse) -> list[str]:
    """The `data:` payloads of a Server-Sent Events response, as they arrive."""
    out: list[str] = []
    buffer = b""
    for piece in resp.stream(1024):
        buffer += piece
        while b"\n\n" in buffer:
            event, buffer = buffer.split(b"\n\n", 1)
            assert event.startswith(b"data: "), event
            out.append(event[6:].decode())
    return out


def restart_count(core: client.CoreV1Api, name: str) -> int:
    st = (core.read_namespaced_pod(name, "default").status.container_statuses or [None])[0]
    return int(st.restart_count) if st is not None else 0


def run_log(sim: SimCluster, core: client.CoreV1Api, name: str, run: int) -> str:
    """The whole log of the container's `run`-th run, once it has ended (the container restarted)."""
    wait_for(f"{name}'s run {run} to end", lambda: restart_count(core, name) > run, timeout=30)
    return sim.logs.path("default", name, "main", run).read_text()


def test_the_worker_serves_completions_and_fails_them_when_armed(gpu_sim: SimCluster,
                                                                kube_api: client.ApiClient) -> None:
    core = client.CoreV1Api(kube_api)
    core.create_namespaced_config_map("default", {"metadata": {"name": "cuda-fault-src"},
                                                  "data": shim.source_files()})
    toggle = node_dir(gpu_sim.root, NODE) / HOST_FAULT.lstrip("/") / "cuda_fault_enabled"
    toggle.parent.mkdir(parents=True, exist_ok=True)
    shim.write_toggle(toggle, False)
    core.create_namespaced_pod("default", worker_pod("infer", ["--idle-work-ms", "0", "--token-ms", "40"]))
    ready(core, "infer")
    url = base_url(core, "infer")

    # --- disarmed: an OpenAI-compatible server
    health = HTTP.request("GET", f"{url}/health")
    assert health.status == 200
    models = HTTP.request("GET", f"{url}/v1/models")
    assert models.status == 200
    assert models.json()["data"][0]["id"] == "chaos-sim"
    resp = complete(url, prompt="the quick brown fox", max_tokens=5)
    assert resp.status == 200
    answer = json.loads(resp.read())
    assert answer["object"] == "text_completion"
    assert len(answer["choices"][0]["text"].split()) == 5
    assert answer["usage"] == {"prompt_tokens": 4, "completion_tokens": 5, "total_tokens": 9}
    before = answer["iterations"]
    again = json.loads(complete(url, prompt="x", max_tokens=1).read())
    assert again["iterations"] > before  # CUDA work was done for the request (none while idle)
    stream = complete(url, prompt="x", max_tokens=4, stream=True)
    assert stream.status == 200
    assert stream.headers["Content-Type"] == "text/event-stream"
    chunks = events(stream)
    assert chunks[-1] == "[DONE]"
    parsed = [json.loads(c) for c in chunks[:-1]]
    assert len(parsed) == 4
    assert [p["choices"][0]["finish_reason"] for p in parsed] == [None, None, None, "length"]

    # --- armed while a stream is in flight: the stream ends with an error event, the worker exits
    stream = complete(url, prompt="x", max_tokens=500, stream=True)
    first: list[bytes] = []
    buffer = b""
    pieces = stream.stream(256)
    while len(first) < 2:
        buffer += next(pieces)
        while b"\n\n" in buffer:
            event, buffer = buffer.split(b"\n\n", 1)
            first.append(event)
    shim.write_toggle(toggle, True, xid=79)
    rest = events(stream)  # what is left of it
    assert rest[-1] == "[DONE]"
    error = json.loads(rest[-2])
    assert error["object"] == "error"
    assert error["code"] == 500
    assert re.fullmatch(r"CUDA error: cudaErrorNoDevice \(100\) in cuda\w+", error["message"]), error
    assert all(json.loads(e)["choices"][0]["finish_reason"] is None for e in rest[:-2])  # cut short
    shim.write_toggle(toggle, False)
    log = run_log(gpu_sim, core, "infer", 0)
    assert "[XID 79 SIM]" in log
    assert re.search(r"fatal: cuda\w+ failed: cudaErrorNoDevice \(100\)", log), log

    # --- disarmed, the restarted worker serves again; armed, a plain request fails with HTTP 500
    ready(core, "infer")
    run = restart_count(core, "infer")
    url = base_url(core, "infer")
    assert complete(url, prompt="x", max_tokens=2).status == 200
    shim.write_toggle(toggle, True, xid=79)

    def failed_request() -> dict[str, Any] | None:
        try:
            r = complete(url, prompt="x", max_tokens=2)
        except urllib3.exceptions.HTTPError:
            raise AssertionError("the worker went away without answering the request in flight") from None
        if r.status == 200:  # the shim has not read the toggle yet (it polls every 100 ms)
            r.read()
            time.sleep(0.05)
            return None
        assert r.status == 500
        assert r.headers["Content-Type"] == "application/json"
        return dict(json.loads(r.read()))

    body = wait_for("a request failed by the fault", failed_request, timeout=10)
    assert body["type"] == "InternalServerError"
    assert re.fullmatch(r"CUDA error: cudaErrorNoDevice \(100\) in cudaMalloc", body["message"]), body
    log = run_log(gpu_sim, core, "infer", run)
    assert "[XID 79 SIM] cudaMalloc" in log
    assert "fatal: cudaMalloc failed: cudaErrorNoDevice (100)" in log
    shim.write_toggle(toggle, False)
