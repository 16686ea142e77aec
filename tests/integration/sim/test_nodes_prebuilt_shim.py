"""The prebuilt shim as the patch step delivers it, by hand through the official client: the shipped
libraries as a ConfigMap's `binaryData`, mounted read-only with one file per `$PLATFORM`
spelling, `LD_PRELOAD=/cuda-fault/$PLATFORM/cuda_intercept.so`, no init container. The real
worker process maps this machine's shipped library (the loader expanded `$PLATFORM`), and
arming the toggle file crashes it with `[XID 79 SIM]`."""

from __future__ import annotations

import base64
import platform
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from runner import shim, shimdist
from runner.sim.cluster import SimCluster
from runner.sim.nodes import node_dir
from runner.steps import patch
from tests.integration.sim.nodes_support import ready_pods, wait_for, worker_container

NODE = "gpu-node-1"
HOST_FAULT = "/var/run/chaos-fault"
ARCH = platform.machine()


def mapped_shims(root: Path) -> dict[int, tuple[Path, str]]:
    """pid -> (library it maps, its LD_PRELOAD) for processes of this cluster that map the shim."""
    found = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            maps = (proc / "maps").read_text()
            environ = (proc / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        for line in maps.splitlines():
            path = line.split(maxsplit=5)[-1]
            if path.startswith(str(root)) and path.endswith("/cuda_intercept.so"):
                preload = next((e.decode().partition("=")[2] for e in environ
                                if e.startswith(b"LD_PRELOAD=")), "")
                found[int(proc.name)] = (Path(path), preload)
                break
    return found


def pod_spec() -> dict[str, Any]:
    main = worker_container()
    main["env"] = [{"name": "LD_PRELOAD", "value": patch.PLATFORM_LIBRARY},
                   {"name": "CUDA_FAULT_TOGGLE_FILE", "value": "/host-fault/cuda_fault_enabled"},
                   {"name": "CUDA_FAULT_INJECTION_ENABLED", "value": "0"}]
    main["volumeMounts"] = [{"name": "chaos-shim", "mountPath": "/cuda-fault", "readOnly": True},
                            {"name": "host-fault", "mountPath": "/host-fault"}]
    shim_volume = {"name": "chaos-shim", "configMap": {"name": "chaos-shim", "items": patch.prebuilt_items(),
                                                       "defaultMode": patch.PREBUILT_MODE}}
    host_fault = {"name": "host-fault", "hostPath": {"path": HOST_FAULT, "type": "DirectoryOrCreate"}}
    return {"nodeSelector": {"kubernetes.io/hostname": NODE}, "volumes": [shim_volume, host_fault],
            "containers": [main]}


@pytest.mark.skipif(ARCH not in shimdist.ARCHES, reason=f"no prebuilt shim for {ARCH}")
def test_workers_load_the_shipped_library_for_their_platform(gpu_sim: SimCluster,
                                                             kube_api: client.ApiClient) -> None:
    apps, core = client.AppsV1Api(kube_api), client.CoreV1Api(kube_api)
    libraries = shimdist.libraries()
    core.create_namespaced_config_map("default", {
        "metadata": {"name": "chaos-shim"},
        "binaryData": {arch: base64.b64encode(data).decode() for arch, data in libraries.items()}})
    labels = {"app": "worker"}
    apps.create_namespaced_deployment("default", {
        "metadata": {"name": "worker"},
        "spec": {"replicas": 1, "selector": {"matchLabels": labels},
                 "template": {"metadata": {"labels": labels}, "spec": pod_spec()}}})
    (pod,) = wait_for("a ready worker", lambda: ready_pods(core, "default", "app=worker") or None, timeout=60)
    assert not pod.spec.init_containers

    loaded = wait_for("the worker to map the shim", lambda: mapped_shims(gpu_sim.root) or None)
    for path, preload in loaded.values():
        assert path.parent.name == ARCH  # `$PLATFORM`, as the loader expanded it
        assert path.read_bytes() == libraries[ARCH]
        assert preload.endswith("/$PLATFORM/cuda_intercept.so")
        assert not path.stat().st_mode & 0o222  # read-only (defaultMode 0444)

    toggle = node_dir(gpu_sim.root, NODE) / HOST_FAULT.lstrip("/") / "cuda_fault_enabled"
    shim.write_toggle(toggle, True, xid=79)

    def crashed_log() -> str | None:
        p = core.read_namespaced_pod(pod.metadata.name, "default")
        st = (p.status.container_statuses or [None])[0]
        if st is None or st.restart_count < 1:
            return None
        return str(core.read_namespaced_pod_log(pod.metadata.name, "default", container="main",
                                                previous=st.state.waiting is None))

    assert "[XID 79 SIM]" in wait_for("the worker to crash", crashed_log, timeout=30)
    apps.delete_namespaced_deployment("worker", "default")
    wait_for("no workers left", lambda: not core.list_namespaced_pod("default").items or None, timeout=30)
