"""ConfigMap volumes as a real kubelet mounts them, and the container environment it builds.

Through the official client over HTTP, with real processes reading real files: keys as files,
binaryData byte for byte, items/defaultMode/optional, the atomic `..data` layout, updates that
arrive after the kubelet's (scaled) sync period plus its cache TTL while a subPath mount keeps
what its container started with, and the env: downward API, `$(VAR)` expansion, missing keys.
"""

from __future__ import annotations

import base64
import os
import stat
import time
from pathlib import Path
from typing import Any

from kubernetes import client

from runner.sim.cluster import SimCluster
from runner.sim.kubelet import CACHE_TTL_S, SYNC_JITTER, SYNC_PERIOD_S
from tests.integration.sim.nodes_support import TIME_SCALE, wait_for

BINARY = bytes(range(256)) * 4


def volume_dir(sim: SimCluster, core: client.CoreV1Api, pod: str, volume: str) -> Path:
    uid = core.read_namespaced_pod(pod, "default").metadata.uid
    return sim.root / "pods" / f"default_{pod}_{uid}" / "volumes" / volume


def phase(core: client.CoreV1Api, pod: str, want: str) -> Any:
    return wait_for(f"{pod} {want}", lambda: (lambda p: p if p.status.phase == want else None)(
        core.read_namespaced_pod(pod, "default")), timeout=30)


def log_of(core: client.CoreV1Api, pod: str) -> str:
    return str(core.read_namespaced_pod_log(pod, "default", container="main"))


def test_configmap_volume_files_binary_items_modes_and_optional(gpu_sim: SimCluster,
                                                               kube_api: client.ApiClient) -> None:
    core = client.CoreV1Api(kube_api)
    core.create_namespaced_config_map("default", {
        "metadata": {"name": "app"}, "data": {"app.conf": "mode=fast\n", "other": "x"},
        "binaryData": {"weights.bin": base64.b64encode(BINARY).decode()}})
    script = ("cat /cfg/app.conf; cmp /cfg/weights.bin /picked/nested/w.bin && echo same; ls -A /empty; "
              "sleep 1000")
    core.create_namespaced_pod("default", {"metadata": {"name": "reader"}, "spec": {
        "volumes": [
            {"name": "cfg", "configMap": {"name": "app", "defaultMode": 0o640}},
            {"name": "picked", "configMap": {"name": "app", "items": [
                {"key": "weights.bin", "path": "nested/w.bin", "mode": 0o600}]}},
            {"name": "empty", "configMap": {"name": "absent", "optional": True}}],
        "containers": [{"name": "main", "image": "busybox", "command": ["sh", "-c", script],
                        "volumeMounts": [{"name": "cfg", "mountPath": "/cfg"},
                                         {"name": "picked", "mountPath": "/picked"},
                                         {"name": "empty", "mountPath": "/empty"}]}]}})
    phase(core, "reader", "Running")
    wait_for("the container's output", lambda: "same" in log_of(core, "reader"), timeout=10)
    assert log_of(core, "reader").splitlines()[:2] == ["mode=fast", "same"]

    cfg = volume_dir(gpu_sim, core, "reader", "cfg")
    data = cfg / "..data"
    assert data.is_symlink()
    assert os.readlink(data).startswith("..")  # ..<timestamp>: the directory the files live in
    assert sorted(p.name for p in cfg.iterdir() if not p.name.startswith("..")) == \
        ["app.conf", "other", "weights.bin"]
    assert os.readlink(cfg / "app.conf") == "..data/app.conf"
    assert (cfg / "weights.bin").read_bytes() == BINARY
    assert stat.S_IMODE((cfg / "app.conf").stat().st_mode) == 0o640
    picked = volume_dir(gpu_sim, core, "reader", "picked")
    assert sorted(p.name for p in picked.iterdir() if not p.name.startswith("..")) == ["nested"]
    assert stat.S_IMODE((picked / "nested" / "w.bin").stat().st_mode) == 0o600
    assert (picked / "nested" / "w.bin").read_bytes() == BINARY
    empty = volume_dir(gpu_sim, core, "reader", "empty")
    assert [p.name for p in empty.iterdir() if not p.name.startswith("..")] == []


def test_missing_configmap_or_key_holds_the_pod_until_it_exists(gpu_sim: SimCluster,
                                                               kube_api: client.ApiClient) -> None:
    core = client.CoreV1Api(kube_api)
    core.create_namespaced_pod("default", {"metadata": {"name": "waits"}, "spec": {
        "volumes": [{"name": "cfg", "configMap": {"name": "late", "items": [{"key": "k", "path": "k"}]}}],
        "containers": [{"name": "main", "image": "busybox", "command": ["sh", "-c", "cat /cfg/k; sleep 1000"],
                        "volumeMounts": [{"name": "cfg", "mountPath": "/cfg"}]}]}})

    def failed_mount() -> list[str]:
        events = core.list_namespaced_event("default", field_selector="involvedObject.name=waits").items
        return [e.message for e in events if e.reason == "FailedMount"]

    assert 'configmap "late" not found' in wait_for("a FailedMount event", failed_mount, timeout=10)[0]
    core.create_namespaced_config_map("default", {"metadata": {"name": "late"}, "data": {"other": "1"}})
    wait_for("the missing-key event", lambda: any("non-existent config key: k" in m for m in failed_mount()),
             timeout=10)
    assert core.read_namespaced_pod("waits", "default").status.phase == "Pending"
    core.patch_namespaced_config_map("late", "default", {"data": {"k": "here"}})
    phase(core, "waits", "Running")
    wait_for("the key's content", lambda: log_of(core, "waits").startswith("here"), timeout=10)


def test_mounted_configmap_updates_in_place_after_the_sync_delay_and_subpath_never(
        gpu_sim: SimCluster, kube_api: client.ApiClient) -> None:
    core = client.CoreV1Api(kube_api)
    core.create_namespaced_config_map("default", {"metadata": {"name": "live"}, "data": {"value": "v1"}})
    script = "while true; do echo \"dir=$(cat /live/value) sub=$(cat /etc/value)\"; sleep 0.1; done"
    created = time.monotonic()
    core.create_namespaced_pod("default", {"metadata": {"name": "watcher"}, "spec": {
        "volumes": [{"name": "live", "configMap": {"name": "live"}}],
        "containers": [{"name": "main", "image": "busybox", "command": ["sh", "-c", script],
                        "volumeMounts": [{"name": "live", "mountPath": "/live"},
                                         {"name": "live", "mountPath": "/etc/value", "subPath": "value"}]}]}})
    phase(core, "watcher", "Running")
    wait_for("the first reading", lambda: "dir=v1 sub=v1" in log_of(core, "watcher"), timeout=10)
    before = os.readlink(volume_dir(gpu_sim, core, "watcher", "live") / "..data")
    core.patch_namespaced_config_map("live", "default", {"data": {"value": "v2"}})

    longest = (SYNC_PERIOD_S * (1 + SYNC_JITTER) + CACHE_TTL_S) * TIME_SCALE
    wait_for("the update inside the container", lambda: "dir=v2" in log_of(core, "watcher"),
             timeout=longest + 10)
    # The kubelet's first resync of the pod is one (scaled) sync period after it mounted the volume.
    assert time.monotonic() - created >= SYNC_PERIOD_S * TIME_SCALE
    live = volume_dir(gpu_sim, core, "watcher", "live")
    after = os.readlink(live / "..data")
    assert after != before
    assert not (live / before).exists()  # the old timestamped directory is gone
    # The subPath mount keeps what the container started with, as a bind mount of the file does.
    wait_for("a few readings after the update", lambda: len(
        [x for x in log_of(core, "watcher").splitlines() if x.startswith("dir=v2")]) >= 5, timeout=10)
    readings = [line for line in log_of(core, "watcher").splitlines() if line.startswith("dir=v2")]
    assert set(readings) == {"dir=v2 sub=v1"}
