"""Short-lived helper pods pinned to one node: how `chaos` writes files on a node it cannot reach.

Why it exists: the toggle file lives on the node (a hostPath), and so does the kernel log the
node-xid step writes to. A pod with `nodeName` set (no scheduler involved, so it runs even on a
cordoned node), tolerating every taint, mounting the one host directory it needs, runs one shell
command and exits. The caller journals a DeleteObject for it before `run_helper` creates it;
`run_helper` waits (watch-driven) for it to finish, keeps its log, and deletes it.
It must not decide what to write: callers pass the command.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from runner.cluster.protocol import Cluster, KubeObject, ObjectRef
from runner.errors import Conflict, NotFound, StepError
from runner.kernel.clock import Clock
from runner.kernel.labels import ROLE_LABEL, run_labels
from runner.kernel.signals import InterruptGate
from runner.kernel.watch import Watched, wait_for
from runner.workload.views import pod_view

DEFAULT_HELPER_IMAGE = "busybox:1.36"


@dataclass(frozen=True)
class HostMount:
    host_path: str  # directory on the node
    mount_path: str  # where the helper sees it
    kind: str = "DirectoryOrCreate"


@dataclass(frozen=True)
class HelperResult:
    name: str
    phase: str  # Succeeded or Failed
    log: str


def helper_manifest(name: str, namespace: str, node: str, run_id: str, role: str, command: str, *,
                    image: str = DEFAULT_HELPER_IMAGE, mounts: tuple[HostMount, ...] = (),
                    privileged: bool = False, env: Mapping[str, str] | None = None) -> KubeObject:
    """The helper pod: on `node` directly, every taint tolerated, one `sh -c command` container.
    Data the command needs goes in `env` (as values, so no shell quoting is ever involved)."""
    container: dict[str, Any] = {
        "name": role, "image": image, "command": ["sh", "-c", command],
        "env": [{"name": k, "value": v} for k, v in (env or {}).items()],
        "volumeMounts": [{"name": f"host-{i}", "mountPath": m.mount_path} for i, m in enumerate(mounts)],
        "resources": {"requests": {"cpu": "10m", "memory": "16Mi"},
                      "limits": {"cpu": "100m", "memory": "32Mi"}},
    }
    if privileged:
        container["securityContext"] = {"privileged": True}
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace,
                     "labels": {**run_labels(run_id), ROLE_LABEL: role}},
        "spec": {
            "nodeName": node, "restartPolicy": "Never", "terminationGracePeriodSeconds": 0,
            "tolerations": [{"operator": "Exists"}],
            "containers": [container],
            "volumes": [{"name": f"host-{i}", "hostPath": {"path": m.host_path, "type": m.kind}}
                        for i, m in enumerate(mounts)],
        },
    }


def run_helper(cluster: Cluster, clock: Clock, manifest: KubeObject, *, deadline: float,
               gate: InterruptGate | None = None) -> HelperResult:
    """Create the pod (replacing a leftover of the same name), wait until it ends, read its log,
    delete it. StepError when it failed or did not end by `deadline` (then it is deleted too)."""
    ref = ObjectRef.of(manifest)
    namespace = str(ref.namespace)
    try:
        cluster.create(manifest)
    except Conflict:
        _delete(cluster, ref)  # a leftover of an earlier try: start afresh
        cluster.create(manifest)
    node = manifest["spec"]["nodeName"]
    try:
        result = wait_for(
            cluster, Watched.named("v1", "Pod", namespace, ref.name),
            lambda pods: bool(pods) and pod_view(pods[0]).phase == "Succeeded",
            failure=lambda pods: (f"helper pod {ref.name} failed on node {node}"
                                  if pods and pod_view(pods[0]).phase == "Failed" else ""),
            deadline=deadline, clock=clock, gate=gate, what=f"helper pod {ref.name} on node {node}")
        try:
            log = cluster.pod_logs(namespace, ref.name)
        except NotFound:
            log = ""
        if not result.ok:
            raise StepError(f"{result.message}: {log.strip()[-300:]}")
        return HelperResult(ref.name, "Succeeded", log)
    finally:
        _delete(cluster, ref)


def _delete(cluster: Cluster, ref: ObjectRef) -> None:
    with contextlib.suppress(NotFound):
        cluster.delete(ref, grace_period_seconds=0)
