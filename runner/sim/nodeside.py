"""What makes the embedded cluster behave like a GPU cluster: attach it to a `SimCluster`.

`attach(cluster, settings)` registers, as the cluster's components, the scheduler, the workload
controllers (Deployment, ReplicaSet, StatefulSet, DynamoGraphDeployment), one kubelet per node
(started as nodes appear, stopped as they go) and, unless turned off, the node health agent.
Stopping the cluster stops them in reverse order; the kubelets end every process they started.
It must not hold behaviour of its own beyond wiring.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from runner.sim.cluster import SimCluster
from runner.sim.controllers import DeploymentController, ReplicaSetController, StatefulSetController
from runner.sim.dynamo import DynamoController
from runner.sim.health_agent import HealthAgent
from runner.sim.images import WorkerBuild
from runner.sim.kubelet import SYNC_PERIOD_S, Kubelet, KubeletSettings
from runner.sim.logs import PodLogs
from runner.sim.loop import Loop
from runner.sim.nodes import node_dir
from runner.sim.resources import NODES
from runner.sim.scheduling import Scheduler
from runner.sim.store import Store

DRAIN_DELAY_S = 10.0  # the health agent's quarantine-to-drain delay, before time scaling
RESET_DELAY_S = 30.0  # fault cleared -> GPU reset and uncordon, before time scaling


@dataclass(frozen=True)
class NodeSideSettings:
    time_scale: float = 1.0  # multiplies kubelet durations (backoff, grace periods, probe timings)
    health_agent: bool = True
    build_dir: Path | None = None  # where images are compiled; default <root>/images
    sync_period_s: float = SYNC_PERIOD_S  # the kubelet's --sync-frequency (before time scaling)
    cache_ttl_s: float | None = None  # ConfigMap/Secret cache TTL; None: the node's ttl annotation or 60 s


class Kubelets(Loop):
    """One Kubelet per Node object."""

    name = "kubelets"
    watches = (NODES,)

    def __init__(self, store: Store, logs: PodLogs, root: Path, build: WorkerBuild,
                 settings: KubeletSettings) -> None:
        super().__init__(store)
        self.logs = logs
        self.root = root
        self.build = build
        self.settings = settings
        self.kubelets: dict[str, Kubelet] = {}

    def reconcile(self) -> None:
        nodes, _ = self.store.list(NODES)
        names = {n["metadata"]["name"] for n in nodes}
        for name in sorted(names - set(self.kubelets)):
            node_dir(self.root, name).mkdir(parents=True, exist_ok=True)
            k = Kubelet(self.store, self.logs, self.root, name, self.build, self.settings)
            self.kubelets[name] = k
            k.start()
        for name in sorted(set(self.kubelets) - names):
            self.kubelets.pop(name).stop()

    def stop(self) -> None:
        super().stop()
        for k in list(self.kubelets.values()):
            k.stop()
        self.kubelets.clear()


def attach(cluster: SimCluster, settings: NodeSideSettings | None = None) -> None:
    settings = settings or NodeSideSettings()
    store = cluster.store
    build = WorkerBuild(settings.build_dir or cluster.root / "images")
    cluster.add_component(DynamoController(store))
    cluster.add_component(DeploymentController(store))
    cluster.add_component(ReplicaSetController(store))
    cluster.add_component(StatefulSetController(store))
    cluster.add_component(Scheduler(store))
    cluster.add_component(Kubelets(store, cluster.logs, cluster.root, build,
                                   KubeletSettings(time_scale=settings.time_scale,
                                                   sync_period_s=settings.sync_period_s,
                                                   cache_ttl_s=settings.cache_ttl_s)))
    if settings.health_agent:
        cluster.add_component(HealthAgent(store, cluster.logs,
                                          drain_delay_s=DRAIN_DELAY_S * settings.time_scale,
                                          nodes_root=cluster.root / "nodes",
                                          reset_delay_s=RESET_DELAY_S * settings.time_scale))
