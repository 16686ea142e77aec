"""Pick and open the cluster a command works on: the embedded one (`sim`) or a real one (`kube`).

The adapters are imported lazily, by name, so `chaos --help`, `chaos validate` and `chaos plan`
never load the kubernetes client or start anything. `runner.cluster.kube.KubeCluster` (the one
adapter) and `runner.sim.cluster.SimCluster` (the embedded cluster, started for the run and
stopped afterwards) are written by other parts of the project; until one lands, choosing it is a
clear ChaosError. This module reads no environment variables: the CLI passes everything in.
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Iterator
from typing import Any

from runner.cluster.protocol import Cluster
from runner.errors import ChaosError
from runner.scenario.model import ClusterChoice, SimSettings

KUBE_MODULE = "runner.cluster.kube"
SIM_MODULE = "runner.sim.cluster"  # imported by name only here, for the CLI (DESIGN.md §2)


def _load(module: str, name: str, missing: str) -> Any:
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as exc:
        raise ChaosError(f"{missing} ({exc})") from None


@contextlib.contextmanager
def open_cluster(choice: ClusterChoice | str, context: str | None = None,
                 kubeconfig: str | None = None, *,
                 sim: SimSettings | None = None) -> Iterator[Cluster]:
    """Yield a connected Cluster; close (or stop, for sim) it afterwards."""
    choice = ClusterChoice(choice)
    if choice is ClusterChoice.KUBE:
        factory = _load(KUBE_MODULE, "KubeCluster", "the Kubernetes adapter is not available yet")
        cluster = factory(context=context, kubeconfig=kubeconfig)
    else:
        factory = _load(SIM_MODULE, "SimCluster", "embedded cluster not available yet")
        cluster = factory(sim or SimSettings())
    if hasattr(cluster, "__enter__"):
        with cluster as entered:
            yield entered
    else:
        try:
            yield cluster
        finally:
            close = getattr(cluster, "close", None)
            if callable(close):
                close()
