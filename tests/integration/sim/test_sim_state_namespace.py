"""Every embedded cluster starts with the state namespace `chaos-system`, where runs keep journals
(labelled ConfigMaps) and leases, beside the namespaces a fresh real cluster has."""

from __future__ import annotations

from pathlib import Path

from kubernetes import client

from runner.sim.cluster import SimCluster
from tests.integration.sim.conftest import api_client


def test_state_namespace_exists_from_the_start(tmp_path: Path) -> None:
    with SimCluster(tmp_path / "sim") as cluster:
        api = api_client(cluster, tmp_path / "kc")
        core = client.CoreV1Api(api)
        names = {ns.metadata.name: ns for ns in core.list_namespace().items}
        assert set(names) == {"default", "kube-system", "kube-public", "kube-node-lease", "chaos-system"}
        assert names["chaos-system"].status.phase == "Active"
        journal = core.create_namespaced_config_map("chaos-system", {
            "metadata": {"name": "chaos-journal-run-1", "labels": {"app.kubernetes.io/managed-by": "chaos"}},
            "data": {"journal": "{}"}})
        assert journal.metadata.namespace == "chaos-system"
        lease = client.CoordinationV1Api(api).create_namespaced_lease("chaos-system", {
            "metadata": {"name": "target-default-deployment-web"}, "spec": {"holderIdentity": "run-1"}})
        assert lease.metadata.namespace == "chaos-system"
        api.close()
