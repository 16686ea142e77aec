"""SIGKILL, then `chaos recover`, through the real CLI against the embedded cluster running as its
own process (`chaos sim up`): the cluster ends exactly as it was before the run, read with the
official kubernetes client, and the node's toggle file read from the sim root.

Representative kill points (a run costs seconds; every step is covered with a fake cluster in
tests/integration/engine): right after the patch (shim ConfigMap created, Deployment patched,
the rollout under way) and right after the toggle armed a node (helper pods, fault armed). The
recover paths: the local run directory (twice: the second changes nothing and says so), the
cluster copy by run id with the run directory deleted, and `--all`.

Once a node is armed, XID 79 takes its GPU off the bus whether or not the runner lives: the
cluster's remediation (the embedded NVSentinel stand-in) cordons it. That cordon is the system
under test reacting, not a chaos change, so recover leaves it; the test then does what an operator
does after a GPU reset (uncordon) and only then compares with the snapshot, exactly. Without the
reset the cluster could not even finish the rollout back: 3 one-GPU nodes, one quarantined, two
replicas plus a surge pod.
"""

from __future__ import annotations

import re
import shutil
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.integration.safety.support import (
    LiveCli,
    Setup,
    Snapshot,
    chaos_cli,
    no_traceback,
    same_as,
    settled_sim,
    wait_until,
)

SCENARIO = REPO / "scenarios" / "xid79.yaml"
NS, DEPLOYMENT = "inference", "vllm-worker"
STATE = "chaos-system"  # where journals' cluster copies live
AFTER_PATCH = r"step 2/\d+ started"  # 1-patch has passed: ConfigMap + patched template recorded
AFTER_ARMED = r"\d+-toggle: armed node"  # the node's toggle file says 1


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Setup]:
    with settled_sim(tmp_path, SCENARIO, NS, DEPLOYMENT) as setup:
        before = setup.before
        assert before.managed_pods == []
        assert before.managed_configmaps == []
        assert not any(c == "1" for c in before.toggles.values())
        yield setup


def killed_run(setup: Setup, run_dir: Path, at: str) -> str:
    """Start a run against the cluster, SIGKILL it on the first line matching `at`; its run id."""
    run = LiveCli(["run", str(SCENARIO), "--cluster", "kube", "--kubeconfig", str(setup.sim.kubeconfig),
                   "--report-dir", str(run_dir)])
    run.signal_on(at, signal.SIGKILL)
    assert run.finish(120) == -signal.SIGKILL, run.text[-3000:]
    assert not (run_dir / "report.json").exists()  # it really died mid-run
    started = run.wait_line(r"run started: .* \(run \S+\)")
    match = re.search(r"\(run (\S+)\)", started)
    assert match is not None
    return match.group(1)


def changed_now(setup: Setup, run_id: str) -> Snapshot:
    """The killed run's changes are really there (otherwise recover would prove nothing)."""
    now = setup.reader.snapshot(NS, DEPLOYMENT, setup.sim.root)
    assert f"{STATE}/chaos-journal-{run_id}" in now.managed_configmaps  # the cluster copy
    assert f"{NS}/chaos-shim-{run_id}" in now.managed_configmaps
    assert now.deployment_spec != setup.before.deployment_spec  # the shim is in the template
    return now


def quarantined_by_remediation(setup: Setup) -> list[str]:
    """Wait until the remediation has quarantined the armed node (the fault fired on its own)."""
    nodes: list[str] = wait_until(
        "the armed node to be quarantined by the remediation",
        lambda: setup.reader.snapshot(NS, DEPLOYMENT, setup.sim.root).quarantined, 30)
    return nodes


def recovered(setup: Setup, args: list[str]) -> str:
    done = chaos_cli(["recover", *args, "--kubeconfig", str(setup.sim.kubeconfig)])
    no_traceback(done.stdout + done.stderr)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.mark.parametrize("at", [AFTER_PATCH, AFTER_ARMED], ids=["after-patch", "after-toggle-armed"])
def test_sigkill_then_recover_restores_the_cluster_and_a_second_recover_changes_nothing(
        cluster: Setup, tmp_path: Path, at: str) -> None:
    run_dir = tmp_path / "run"
    run_id = killed_run(cluster, run_dir, at)
    during = changed_now(cluster, run_id)
    quarantined: list[str] = []
    if at == AFTER_ARMED:
        assert "1" in during.toggles.values()  # a node is armed on disk
        quarantined = quarantined_by_remediation(cluster)

    out = recovered(cluster, [str(run_dir)])
    assert f"run {run_id}: undid" in out
    assert "clean" in out
    assert "undid: revert Deployment inference/vllm-worker /spec/template/" in out
    if at == AFTER_ARMED:
        assert "undid: disarm the fault on node" in out
        assert "cordon" not in out  # the remediation's cordon is not ours to undo
    for node in quarantined:
        assert cluster.reader.snapshot(NS, DEPLOYMENT).unschedulable[node]
        cluster.reader.reset_gpu(node)
    after = same_as(cluster.reader, cluster.before, NS, DEPLOYMENT, cluster.sim.root)
    if at == AFTER_ARMED:
        armed = [n for n, c in during.toggles.items() if c == "1"]
        assert [after.toggles[n] for n in armed] == ["0"]  # written back to disarmed, not left at 1

    again = recovered(cluster, [str(run_dir)])
    assert f"run {run_id}: nothing to recover (already clean); nothing changed" in again
    same_as(cluster.reader, cluster.before, NS, DEPLOYMENT, cluster.sim.root, timeout=5)


def test_recover_by_run_id_from_the_cluster_copy_without_the_run_directory(
        cluster: Setup, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    run_id = killed_run(cluster, run_dir, AFTER_ARMED)
    changed_now(cluster, run_id)
    quarantined = quarantined_by_remediation(cluster)
    shutil.rmtree(run_dir)  # another machine: only the cluster copy is left

    out = recovered(cluster, ["--run", run_id])
    assert f"from ConfigMap {STATE}/chaos-journal-{run_id}; clean" in out
    assert "undid: disarm the fault on node" in out
    for node in quarantined:
        cluster.reader.reset_gpu(node)
    same_as(cluster.reader, cluster.before, NS, DEPLOYMENT, cluster.sim.root)
    assert recovered(cluster, ["--all"]).strip().splitlines()[-1] == (
        "no chaos run journals found; nothing to recover, nothing changed")


def test_recover_all_is_a_halt_all(cluster: Setup, tmp_path: Path) -> None:
    run_id = killed_run(cluster, tmp_path / "run", AFTER_PATCH)
    changed_now(cluster, run_id)

    out = recovered(cluster, ["--all"])
    assert f"run {run_id}: undid" in out
    assert "clean" in out
    same_as(cluster.reader, cluster.before, NS, DEPLOYMENT, cluster.sim.root)


def test_a_stale_journal_never_reverts_a_later_change(cluster: Setup, tmp_path: Path) -> None:
    """Killed with the fault armed, recovered with --all (from the cluster copy), then a user
    changes the workload: replaying the run's local journal afterwards changes nothing, says so,
    and the user's change survives (it used to replay all five undos and put the old image back)."""
    run_dir = tmp_path / "run"
    run_id = killed_run(cluster, run_dir, AFTER_ARMED)
    changed_now(cluster, run_id)
    quarantined = quarantined_by_remediation(cluster)
    out = recovered(cluster, ["--all"])
    assert f"run {run_id}: undid" in out
    for node in quarantined:
        cluster.reader.reset_gpu(node)
    same_as(cluster.reader, cluster.before, NS, DEPLOYMENT, cluster.sim.root)
    # a later change of the user's own
    apps = cluster.reader.apps
    apps.patch_namespaced_deployment(DEPLOYMENT, NS, {"spec": {"template": {"spec": {"containers": [
        {"name": "worker", "image": "chaos/cuda-worker:v2"}]}}}})
    spec_before = cluster.reader.plain(apps.read_namespaced_deployment(DEPLOYMENT, NS).spec)

    again = recovered(cluster, [str(run_dir)])
    assert f"run {run_id}: nothing to recover (already clean); nothing changed" in again, again
    assert "undid:" not in again  # not even the node's disarm: it was disarmed elsewhere
    dep = apps.read_namespaced_deployment(DEPLOYMENT, NS)
    assert dep.spec.template.spec.containers[0].image == "chaos/cuda-worker:v2"
    assert cluster.reader.plain(dep.spec) == spec_before
