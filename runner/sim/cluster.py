"""`SimCluster`: the embedded cluster as one object that starts, stops and writes a kubeconfig.

It owns a root directory (a temporary one unless given; removed on stop unless `keep=True`), the
Store, the PodLogs and the API server, plus a list of started components: the EndpointSlice
controller always (Services and their proxy need it even with `--api-only`), and whatever part 2
attaches through `add_component` (node behaviour, scheduler, workload controllers, kubelets). It must
not contain controller logic itself.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol

import yaml

from runner.sim.apiserver import ApiServer
from runner.sim.disruption import DisruptionController
from runner.sim.endpoints import EndpointsController
from runner.sim.faults import ServerFaults
from runner.sim.logs import PodLogs
from runner.sim.rbac import Authorizer, Policy, PolicyRule
from runner.sim.resources import NODES
from runner.sim.store import Store, now_rfc3339

GPU_PRODUCT = "NVIDIA-H100-80GB-HBM3"
GPU_RESOURCE = "nvidia.com/gpu"


class Component(Protocol):
    """Something that runs alongside the API server (a controller, the kubelet)."""

    def start(self) -> None: ...

    def stop(self) -> None: ...


def node_object(name: str, gpus: int, index: int = 0) -> dict[str, Any]:
    """A Ready GPU node as a kubelet would register it."""
    now = now_rfc3339()
    capacity = {"cpu": "64", "memory": "1056Gi", "pods": "110", "ephemeral-storage": "1Ti",
                GPU_RESOURCE: str(gpus)}
    return {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": {
            "kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
            "nvidia.com/gpu.product": GPU_PRODUCT, "nvidia.com/gpu.count": str(gpus),
            "nvidia.com/gpu.present": "true",
        }},
        "spec": {},
        "status": {
            "capacity": capacity, "allocatable": dict(capacity),
            "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                            "message": "kubelet is posting ready status",
                            "lastHeartbeatTime": now, "lastTransitionTime": now}],
            "addresses": [{"type": "InternalIP", "address": f"10.0.{index // 250}.{index % 250 + 1}"},
                          {"type": "Hostname", "address": name}],
            "nodeInfo": {"kubeletVersion": "v1.32.0-chaos-sim", "osImage": "chaos-sim",
                         "kernelVersion": "6.8.0", "containerRuntimeVersion": "chaos-sim://1.0",
                         "operatingSystem": "linux", "architecture": "amd64", "bootID": f"boot-{name}",
                         "machineID": f"machine-{name}", "systemUUID": f"uuid-{name}",
                         "kubeProxyVersion": ""},
        },
    }


class SimCluster:
    """An embedded cluster on loopback. Use as a context manager or call start()/stop()."""

    def __init__(self, root: Path | None = None, *, keep: bool = False, host: str = "127.0.0.1",
                 port: int = 0, tokens: Mapping[str, Sequence[PolicyRule] | Policy | None] | None = None,
                 history: int | None = None) -> None:
        self._own_root = root is None
        self.root = Path(root) if root is not None else Path(tempfile.mkdtemp(prefix="chaos-sim-"))
        self.keep = keep
        self.store = Store(history=history) if history else Store()
        self.logs = PodLogs(self.root)
        self.authorizer = Authorizer()
        for token, rules in (tokens or {}).items():
            self.authorizer.add_token(token, rules)
        self.faults = ServerFaults()
        self.api = ApiServer(self.store, self.logs, host, port, self.authorizer, self.faults)
        # kube-controller-manager's part that the API side needs whatever else is attached: the
        # EndpointSlice/Endpoints controller (Services resolve to Ready pods, the proxy follows them)
        # and the disruption controller (PodDisruptionBudget status, which evictions honour)
        self.components: list[Component] = [EndpointsController(self.store), DisruptionController(self.store)]
        self._started: list[Component] = []
        self._running = False

    @property
    def url(self) -> str:
        return self.api.url

    def add_component(self, component: Component) -> None:
        """Register a component; started with the cluster (or now if the cluster already runs)."""
        self.components.append(component)
        if self._running:
            component.start()
            self._started.append(component)

    def start(self) -> SimCluster:
        self.api.start()
        self._running = True
        for c in self.components:
            c.start()
            self._started.append(c)
        return self

    def stop(self) -> None:
        for c in reversed(self._started):
            c.stop()
        self._started.clear()
        if self._running:
            self.api.stop()
            self._running = False
        if self._own_root and not self.keep:
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> SimCluster:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def add_nodes(self, n: int, gpus: int) -> list[str]:
        """Create static GPU nodes `gpu-node-<k>` after the ones that exist; returns their names."""
        existing, _ = self.store.list(NODES)
        start = len(existing)
        names = []
        for i in range(start + 1, start + n + 1):
            name = f"gpu-node-{i}"
            self.store.create(NODES, node_object(name, gpus, i))
            names.append(name)
        return names

    def kubeconfig(self, context: str = "chaos-sim", token: str | None = None) -> dict[str, Any]:
        user: dict[str, Any] = {"token": token} if token else {}
        return {
            "apiVersion": "v1", "kind": "Config", "current-context": context, "preferences": {},
            "clusters": [{"name": context, "cluster": {"server": self.url}}],
            "users": [{"name": context, "user": user}],
            "contexts": [{"name": context, "context": {"cluster": context, "user": context,
                                                       "namespace": "default"}}],
        }

    def write_kubeconfig(self, path: Path, context: str = "chaos-sim", token: str | None = None) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(self.kubeconfig(context, token), sort_keys=False))
        path.chmod(0o600)
        return path
