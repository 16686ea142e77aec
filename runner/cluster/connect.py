"""Open the one adapter on a real cluster (kubeconfig/context/in-cluster) or on a server URL.

The adapter is imported lazily so `chaos --help`, `chaos validate` and `chaos plan` never load the
kubernetes client. The embedded cluster is not started here: only the CLI starts it (DESIGN.md §2,
nothing outside `runner/sim/` imports it) and then connects through `connect_url`, exactly as it
would to any API server. This module reads no environment variables: the CLI passes everything in.
"""

from __future__ import annotations

from runner.cluster.protocol import Cluster


def connect_kube(context: str | None = None, kubeconfig: str | None = None) -> Cluster:
    """The cluster of a kubeconfig context (default: the current one), or in-cluster config."""
    from runner.cluster.kube import KubeCluster

    return KubeCluster(context=context, kubeconfig=kubeconfig)


def connect_url(url: str, *, token: str | None = None, name: str = "cluster") -> Cluster:
    """The cluster whose API server is at `url` (the embedded one listens on loopback)."""
    from runner.cluster.kube import KubeCluster

    return KubeCluster.from_url(url, token, name=name)
