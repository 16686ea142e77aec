"""The kubelet running real processes: init containers, volumes and path mapping, restart policies,
CrashLoopBackOff, probes, unknown images, and deletion ending whole process groups."""

from __future__ import annotations

import json
import os
from typing import Any

from runner.sim import procs
from runner.sim.cluster import SimCluster
from runner.sim.kubelet import PORTS_ANNOTATION, backoff_delay, expand
from runner.sim.resources import CONFIGMAPS, CORE_EVENTS, PODS
from tests.integration.sim.nodes_support import wait_for


def shell_pod(name: str, script: str, policy: str = "Always", **spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": "default"},
            "spec": {"restartPolicy": policy,
                     "containers": [{"name": "main", "image": "busybox:1.36",
                                     "command": ["sh", "-c", script]}],
                     **spec}}


def status(sim: SimCluster, name: str) -> dict[str, Any]:
    return dict(sim.store.get(PODS, "default", name).get("status") or {})


def phase_is(sim: SimCluster, name: str, phase: str) -> dict[str, Any]:
    return wait_for(f"{name} {phase}", lambda: (lambda s: s if s.get("phase") == phase else None)(
        status(sim, name)), timeout=20)


def test_init_containers_volumes_and_path_mapping(gpu_sim: SimCluster) -> None:
    gpu_sim.store.create(CONFIGMAPS, {"metadata": {"name": "cfg", "namespace": "default"},
                                      "data": {"greeting.txt": "hello from a configmap\n"}})
    pod = {"metadata": {"name": "p", "namespace": "default"}, "spec": {
        "restartPolicy": "Never",
        "volumes": [{"name": "cfg", "configMap": {"name": "cfg"}}, {"name": "work", "emptyDir": {}},
                    {"name": "host", "hostPath": {"path": "/var/lib/chaos"}}],
        "initContainers": [
            {"name": "first", "image": "busybox", "command": ["sh", "-c", "echo one > /work/order"],
             "volumeMounts": [{"name": "work", "mountPath": "/work"}]},
            {"name": "second", "image": "alpine", "command": ["sh", "-c", "echo two >> /work/order"],
             "volumeMounts": [{"name": "work", "mountPath": "/work"}]},
        ],
        "containers": [{
            "name": "main", "image": "chaos/shell", "ports": [{"containerPort": 9000}],
            "command": ["sh", "-c"],
            "args": ["cat /etc/cfg/greeting.txt /work/order; echo \"$OUT\" port=$(PORT) $CHAOS_PORT_9000 "
                     "> /host/out"],
            "env": [{"name": "OUT", "value": "/work/order"},
                    {"name": "ME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
            "volumeMounts": [{"name": "cfg", "mountPath": "/etc/cfg"}, {"name": "work", "mountPath": "/work"},
                             {"name": "host", "mountPath": "/host"}],
        }],
    }}
    gpu_sim.store.create(PODS, pod)
    st = phase_is(gpu_sim, "p", "Succeeded")
    assert [c["state"]["terminated"]["reason"] for c in st["initContainerStatuses"]] == ["Completed"] * 2
    assert st["containerStatuses"][0]["state"]["terminated"]["exitCode"] == 0
    assert {c["type"]: c["status"] for c in st["conditions"]}["Initialized"] == "True"
    log = gpu_sim.logs.read("default", "p", "main").decode()
    assert log.splitlines() == ["hello from a configmap", "one", "two"]
    node = gpu_sim.store.get(PODS, "default", "p")["spec"]["nodeName"]
    annotations = gpu_sim.store.get(PODS, "default", "p")["metadata"]["annotations"]
    port = json.loads(annotations[PORTS_ANNOTATION])["9000"]
    out = (gpu_sim.root / "nodes" / node / "var/lib/chaos/out").read_text().split()
    assert out[0].endswith("/volumes/work/order")
    assert out[0].startswith(str(gpu_sim.root))
    assert out[1:] == [f"port={port}", str(port)]


def test_crash_loop_backoff_and_restart_policies(gpu_sim: SimCluster) -> None:
    gpu_sim.store.create(PODS, shell_pod("always", "echo run; exit 3"))
    gpu_sim.store.create(PODS, shell_pod("onfailure-ok", "exit 0", "OnFailure"))
    gpu_sim.store.create(PODS, shell_pod("never-fails", "exit 1", "Never"))

    def looping() -> dict[str, Any] | None:
        c = (status(gpu_sim, "always").get("containerStatuses") or [{}])[0]
        return c if c.get("restartCount", 0) >= 2 and "waiting" in c.get("state", {}) else None

    c = wait_for("always to crash-loop", looping, timeout=20)
    assert c["state"]["waiting"]["reason"] == "CrashLoopBackOff"
    assert c["lastState"]["terminated"]["exitCode"] == 3
    assert c["lastState"]["terminated"]["reason"] == "Error"
    assert gpu_sim.logs.restarts("default", "always", "main")[:2] == [0, 1]
    assert gpu_sim.logs.read("default", "always", "main").decode() == "run\n"
    events, _ = gpu_sim.store.list(CORE_EVENTS, "default", field_selector="involvedObject.name=always")
    assert "BackOff" in {e["reason"] for e in events}
    assert phase_is(gpu_sim, "onfailure-ok", "Succeeded")["containerStatuses"][0]["restartCount"] == 0
    failed = phase_is(gpu_sim, "never-fails", "Failed")["containerStatuses"][0]
    assert failed["state"]["terminated"]["exitCode"] == 1
    assert failed["state"]["terminated"]["reason"] == "Error"
    assert failed["restartCount"] == 0


def test_backoff_schedule_and_env_expansion() -> None:
    assert [backoff_delay(n) for n in (1, 2, 3, 6, 7, 20)] == [10, 20, 40, 300, 300, 300]
    assert expand("--port=$(PORT) $(MISSING) $$(PORT)", {"PORT": "4000"}) == "--port=4000 $(MISSING) $(PORT)"


def test_unknown_image_is_never_run(gpu_sim: SimCluster) -> None:
    gpu_sim.store.create(PODS, {"metadata": {"name": "u", "namespace": "default"}, "spec": {
        "containers": [{"name": "main", "image": "registry.example/evil:1", "command": ["/bin/true"]}]}})

    def waiting() -> dict[str, Any] | None:
        c = (status(gpu_sim, "u").get("containerStatuses") or [{}])[0]
        return c if c.get("state", {}).get("waiting", {}).get("reason") == "ImagePullBackOff" else None

    c = wait_for("ImagePullBackOff", waiting, timeout=10)
    assert "registry.example/evil:1" in c["state"]["waiting"]["message"]
    assert status(gpu_sim, "u")["phase"] == "Pending"
    assert gpu_sim.logs.restarts("default", "u", "main") == []


def test_probes_and_ready_condition(gpu_sim: SimCluster) -> None:
    pod = shell_pod("probed", "sleep 1000", volumes=[{"name": "data", "emptyDir": {}}])
    c = pod["spec"]["containers"][0]
    c["volumeMounts"] = [{"name": "data", "mountPath": "/data"}]
    c["readinessProbe"] = {"exec": {"command": ["test", "-f", "/data/ready"]}, "periodSeconds": 1}
    gpu_sim.store.create(PODS, pod)
    st = phase_is(gpu_sim, "probed", "Running")
    assert {x["type"]: x["status"] for x in st["conditions"]}["Ready"] == "False"
    uid = gpu_sim.store.get(PODS, "default", "probed")["metadata"]["uid"]
    (gpu_sim.root / "pods" / f"default_probed_{uid}" / "volumes" / "data" / "ready").touch()
    wait_for("ready", lambda: {x["type"]: x["status"] for x in status(gpu_sim, "probed")["conditions"]}
             ["Ready"] == "True", timeout=10)


def test_deletion_ends_the_whole_process_group(gpu_sim: SimCluster) -> None:
    # The shell ignores SIGTERM and leaves a child: only SIGKILL of the group after the grace ends both.
    pod = shell_pod("stubborn", "trap '' TERM; sleep 1000 & echo $! > /d/child; wait",
                    volumes=[{"name": "d", "emptyDir": {}}], terminationGracePeriodSeconds=2)
    pod["spec"]["containers"][0]["volumeMounts"] = [{"name": "d", "mountPath": "/d"}]
    uid = gpu_sim.store.create(PODS, pod)["metadata"]["uid"]
    phase_is(gpu_sim, "stubborn", "Running")
    child_file = gpu_sim.root / "pods" / f"default_stubborn_{uid}" / "volumes" / "d" / "child"
    pid = wait_for("the child's pid", lambda: child_file.is_file() and child_file.read_text().strip())
    child = int(str(pid))
    os.kill(child, 0)  # alive while the pod runs
    groups = procs.alive()
    assert groups
    gpu_sim.store.delete(PODS, "default", "stubborn")
    wait_for("the pod's process groups to end", lambda: not procs.alive() or None, timeout=10)
    for pid in (child, *groups):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            continue
        raise AssertionError(f"process {pid} outlived its pod")
    wait_for("the pod directory to be removed", lambda: not child_file.parent.exists() or None)


def test_failed_liveness_probe_restarts_the_container(gpu_sim: SimCluster) -> None:
    pod = shell_pod("lively", "echo up; sleep 1000", volumes=[{"name": "data", "emptyDir": {}}],
                    terminationGracePeriodSeconds=1)
    c = pod["spec"]["containers"][0]
    c["volumeMounts"] = [{"name": "data", "mountPath": "/data"}]
    c["livenessProbe"] = {"exec": {"command": ["test", "!", "-f", "/data/sick"]}, "periodSeconds": 1,
                          "failureThreshold": 1}
    uid = gpu_sim.store.create(PODS, pod)["metadata"]["uid"]
    phase_is(gpu_sim, "lively", "Running")
    assert status(gpu_sim, "lively")["containerStatuses"][0]["restartCount"] == 0
    (gpu_sim.root / "pods" / f"default_lively_{uid}" / "volumes" / "data" / "sick").touch()
    restarted = wait_for("a restart", lambda: (lambda cs: cs if cs["restartCount"] >= 1 else None)(
        status(gpu_sim, "lively")["containerStatuses"][0]), timeout=10)
    assert restarted["lastState"]["terminated"]["exitCode"] == 128 + 15  # ended by SIGTERM
    events, _ = gpu_sim.store.list(CORE_EVENTS, "default", field_selector="involvedObject.name=lively")
    assert {"Unhealthy", "Killing"} <= {e["reason"] for e in events}
