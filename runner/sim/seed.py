"""Start an embedded cluster from a topology and manifests: what `chaos run` and `chaos sim up --from` use.

`seed(cluster, sim, base_dir)` creates the nodes of `Settings.sim` (runner/scenario/model.py:
`SimNode(count, gpus, product)`), then applies the manifest files (paths relative to `base_dir`,
the scenario's directory): multi-document YAML, CustomResourceDefinitions first, then Namespaces,
then the rest in file order; each object is created, or updated in place when it exists (the
status is left to the controllers). An object of an unknown kind is an error naming the file.
`running(sim, base_dir)` wraps it all for a run: a started SimCluster with the node side attached
(runner/sim/nodeside.py), seeded, stopped on exit. It must not know about scenarios beyond
`SimSettings` (the file loader is the scenario package's).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import yaml

from runner.errors import ChaosError, ClusterError, Conflict
from runner.scenario.model import SimSettings
from runner.sim.cluster import SimCluster
from runner.sim.dynamo import DGDS
from runner.sim.nodes import NodeGroup, add_nodes
from runner.sim.resources import DEPLOYMENTS, GVR, NAMESPACES, STATEFULSETS
from runner.sim.store import Obj, Store


def _gvr_for(store: Store, obj: Obj, source: str) -> GVR:
    api_version, kind = obj.get("apiVersion"), obj.get("kind")
    for info in store.registry.all():
        if info.kind == kind and info.gvr.api_version == api_version:
            return info.gvr
    raise ChaosError(f"{source}: no resource {kind} in {api_version} in the embedded cluster")


def load_manifests(paths: Iterable[Path]) -> list[tuple[str, Obj]]:
    """(source, object) for every document, CRDs first, then Namespaces, then the rest."""
    docs: list[tuple[str, Obj]] = []
    for path in paths:
        try:
            text = Path(path).read_text()
            loaded = list(yaml.safe_load_all(text))
        except (OSError, yaml.YAMLError) as exc:
            raise ChaosError(f"cannot read manifest {path}: {exc}") from exc
        for i, doc in enumerate(loaded):
            if doc is None:
                continue
            if not isinstance(doc, dict) or not doc.get("kind") or not doc.get("apiVersion"):
                raise ChaosError(f"{path}: document {i + 1} is not a Kubernetes object")
            items = doc.get("items") if str(doc["kind"]).endswith("List") else [doc]
            docs.extend((f"{path}#{i + 1}", item) for item in items or [])

    def rank(entry: tuple[str, Obj]) -> int:
        kind = entry[1].get("kind")
        return 0 if kind == "CustomResourceDefinition" else 1 if kind == "Namespace" else 2

    return sorted(docs, key=rank)  # stable: file order within each rank


def apply(store: Store, docs: Sequence[tuple[str, Obj]], default_namespace: str = "default") -> list[Obj]:
    """Create or update each object; returns what the store holds afterwards."""
    out: list[Obj] = []
    for source, obj in docs:
        gvr = _gvr_for(store, obj, source)
        info = store.info(gvr)
        meta = obj.setdefault("metadata", {})
        namespace = (meta.get("namespace") or default_namespace) if info.namespaced else None
        if namespace and namespace != "default" and gvr != NAMESPACES:
            with contextlib.suppress(Conflict):
                store.create(NAMESPACES, {"metadata": {"name": namespace}})
        try:
            out.append(store.create(gvr, obj, namespace))
        except Conflict:
            current = store.get(gvr, namespace, str(meta.get("name", "")))
            body: dict[str, Any] = {k: v for k, v in obj.items() if k != "status"}
            body["metadata"] = {**current["metadata"], **{k: v for k, v in meta.items()
                                                          if k in ("labels", "annotations")}}
            out.append(store.update(gvr, body))
    return out


def seed(cluster: SimCluster, sim: SimSettings, base_dir: Path) -> list[str]:
    """Create the topology's nodes and apply its manifests; returns the node names."""
    names = add_nodes(cluster.store, cluster.root,
                      [NodeGroup(count=n.count, gpus=n.gpus, product=n.product, labels=dict(n.labels))
                       for n in sim.nodes])
    paths = [Path(m) if Path(m).is_absolute() else Path(base_dir) / m for m in sim.manifests]
    apply(cluster.store, load_manifests(paths))
    return names


def unsettled(store: Store) -> list[str]:
    """Workloads whose pods are not all Ready yet ('inference/vllm-worker 1/2 Ready')."""
    waiting = []
    for gvr in (DEPLOYMENTS, STATEFULSETS):
        for obj in store.list(gvr)[0]:
            want = (obj.get("spec") or {}).get("replicas", 1)
            ready = (obj.get("status") or {}).get("readyReplicas", 0) or 0
            if ready < want:
                meta = obj["metadata"]
                waiting.append(f"{meta['namespace']}/{meta['name']} {ready}/{want} Ready")
    try:
        graphs = store.list(DGDS)[0]
    except ClusterError:  # the CRD is not installed: no graphs to wait for
        graphs = []
    for obj in graphs:
        if (obj.get("status") or {}).get("state") != "successful":
            meta = obj["metadata"]
            waiting.append(f"{meta['namespace']}/{meta['name']} (DynamoGraphDeployment) not successful")
    return waiting


def wait_settled(store: Store, timeout: float) -> None:
    """Block until every seeded workload is Ready, as a freshly provisioned cluster would be
    before anyone runs an experiment on it; ChaosError naming what is not Ready after `timeout`."""
    deadline = time.monotonic() + timeout
    watch = store.watch(DEPLOYMENTS)
    try:
        while waiting := unsettled(store):
            left = deadline - time.monotonic()
            if left <= 0:
                raise ChaosError("the embedded cluster's workloads did not become Ready within "
                                 f"{timeout:.0f}s: {', '.join(waiting)}")
            watch.next_event(timeout=min(left, 1.0))  # status changes wake us; 1 s covers sts
    finally:
        watch.stop()


@contextlib.contextmanager
def running(sim: SimSettings, base_dir: Path, root: Path | None = None,
            build_dir: Path | None = None, settle_timeout: float = 180.0) -> Iterator[SimCluster]:
    """A started, seeded GPU cluster for `sim` (node side attached per its settings); stopped after.

    This is what opening the `sim` cluster for a run needs: `base_dir` is the scenario's directory
    (manifest paths are relative to it); the caller connects through `write_kubeconfig`.
    It returns once the seeded workloads are Ready (`settle_timeout` seconds at most; 0 skips)."""
    from runner.sim.nodeside import NodeSideSettings, attach

    cluster = SimCluster(root)
    attach(cluster, NodeSideSettings(time_scale=sim.time_scale, health_agent=sim.health_agent,
                                     build_dir=build_dir))
    with cluster:
        seed(cluster, sim, base_dir)
        if settle_timeout > 0:
            wait_settled(cluster.store, settle_timeout)
        yield cluster


def sim_settings_from_file(path: Path) -> SimSettings:
    """`settings.sim` of a scenario file, through the scenario loader (ScenarioError when invalid)."""
    from runner.scenario.validate import load_scenario

    return load_scenario(path).settings.sim
