"""Install once, toggle many, through the real CLI against `chaos sim up` (issue 15 part 4).

`chaos install scenarios/xid79.yaml` leaves the shim disarmed in the Deployment; two `chaos run`s in
a row then change no pod template (`metadata.generation` stays) and restart no pod on a healthy
node (their UIDs stay): only the pod on the node the fault took out is replaced. `chaos status`
lists the install; `chaos uninstall` restores the template exactly and status lists nothing. A
scenario asking for what the install lacks is refused in preflight (exit 3), naming it, with
nothing changed; `recover --all` after a run killed with the fault armed disarms the node and
leaves the install installed.
"""

from __future__ import annotations

import json
import re
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.integration.safety.support import (
    KubeReader,
    LiveCli,
    SimProcess,
    Snapshot,
    chaos_cli,
    no_traceback,
    same_as,
    sim_up,
    wait_until,
)

SCENARIO = REPO / "scenarios" / "xid79.yaml"
NS, DEPLOYMENT = "inference", "vllm-worker"


@dataclass
class Setup:
    sim: SimProcess
    reader: KubeReader
    before: Snapshot

    def cli(self, *args: str, timeout: float = 240.0) -> tuple[int, str]:
        done = chaos_cli([*args, "--kubeconfig", str(self.sim.kubeconfig)], timeout=timeout)
        text = done.stdout + done.stderr
        no_traceback(text)
        return done.returncode, text

    def on_kube(self, command: str, *args: str, timeout: float = 240.0) -> tuple[int, str]:
        return self.cli(command, *args, "--cluster", "kube", timeout=timeout)

    def generation(self) -> int:
        return int(self.reader.apps.read_namespaced_deployment(DEPLOYMENT, NS).metadata.generation)

    def pods(self) -> dict[str, str]:
        """uid -> node of the Deployment's live pods."""
        items = self.reader.core.list_namespaced_pod(NS, label_selector="app=vllm-worker").items
        return {p.metadata.uid: p.spec.node_name for p in items if p.metadata.deletion_timestamp is None}

    def reset_quarantined(self) -> None:
        for node in self.reader.snapshot(NS, DEPLOYMENT).quarantined:
            self.reader.reset_gpu(node)
        wait_until("the workload to settle", lambda: self.reader.settled(NS, DEPLOYMENT), 90)
        wait_until("no node quarantined",
                   lambda: not self.reader.snapshot(NS, DEPLOYMENT).quarantined, 60)


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Setup]:
    with sim_up(tmp_path, SCENARIO) as sim:
        reader = KubeReader(sim.kubeconfig)
        wait_until("the seeded workload to settle", lambda: reader.settled(NS, DEPLOYMENT), 60)
        yield Setup(sim, reader, reader.snapshot(NS, DEPLOYMENT, sim.root))


def installed(setup: Setup, tmp_path: Path) -> str:
    rc, out = setup.on_kube("install", str(SCENARIO), "--report-dir", str(tmp_path / "install"))
    assert rc == 0, out
    match = re.search(r"installed: install (install-[0-9a-f]+)", out)
    assert match, out
    wait_until("the installed workload to settle", lambda: setup.reader.settled(NS, DEPLOYMENT), 90)
    return match.group(1)


def test_install_once_two_runs_deliver_nothing_and_uninstall_restores_the_template(
        cluster: Setup, tmp_path: Path) -> None:
    iid = installed(cluster, tmp_path)
    rc, again = cluster.on_kube("install", str(SCENARIO))
    assert rc == 0, again
    assert f"already installed: install {iid}; nothing changed" in again, again
    rc, status = cluster.cli("status", "-o", "json")
    assert rc == 0, status
    listed = json.JSONDecoder().raw_decode(status[status.index("{"):])[0]
    assert [i["id"] for i in listed["installs"]] == [iid]
    assert listed["installs"][0]["workload"] == f"Deployment {NS}/{DEPLOYMENT}"
    assert listed["installs"][0]["complete"]
    assert listed["leases"] == []
    assert listed["journals"] == []
    assert listed["armed_nodes"] == []

    for n in (1, 2):
        generation, pods = cluster.generation(), cluster.pods()
        rc, out = cluster.on_kube("run", str(SCENARIO), "--report-dir", str(tmp_path / f"run{n}"))
        assert rc == 0, out[-4000:]
        assert f"already installed (install {iid})" in out, out[-4000:]
        armed = re.search(r"armed node (\S+)", out)
        assert armed, out[-4000:]
        assert cluster.generation() == generation  # no template change, by delivery or rollback
        now = cluster.pods()
        kept = {uid: node for uid, node in pods.items() if node != armed.group(1)}
        assert kept, (pods, now, armed.group(1))
        assert all(uid in now for uid in kept), (pods, now, armed.group(1))
        report = json.loads((tmp_path / f"run{n}" / "report.json").read_text())
        assert report["verdict"] == "passed"
        cluster.reset_quarantined()  # the operator resets the GPU the fault took off the bus

    rc, status = cluster.cli("status")
    assert rc == 0, status
    assert iid in status, status
    assert "runs holding a Lease (0)" in status, status
    rc, out = cluster.on_kube("uninstall", str(SCENARIO))
    assert rc == 0, out
    assert "clean" in out, out
    same_as(cluster.reader, cluster.before, NS, DEPLOYMENT, cluster.sim.root, timeout=90)
    rc, status = cluster.cli("status", "-o", "json")
    listed = json.JSONDecoder().raw_decode(status[status.index("{"):])[0]
    assert listed["installs"] == []
    assert listed["journals"] == []
    assert listed["leases"] == []
    rc, out = cluster.on_kube("uninstall", str(SCENARIO))
    assert rc == 0, out
    assert "nothing installed; nothing changed" in out, out


def test_a_scenario_the_install_cannot_serve_is_refused_in_preflight(
        cluster: Setup, tmp_path: Path) -> None:
    installed(cluster, tmp_path)
    spec = cluster.reader.plain(cluster.reader.apps.read_namespaced_deployment(DEPLOYMENT, NS).spec)
    armed = tmp_path / "armed.yaml"
    text = SCENARIO.read_text().replace("patch: {passthrough: true, pin: preferred}",
                                        "patch: {passthrough: false, pin: hard}")
    armed.write_text(text.replace("manifests/vllm-worker.yaml",
                                  str(REPO / "scenarios" / "manifests" / "vllm-worker.yaml")))
    rc, out = cluster.on_kube("run", str(armed), "--report-dir", str(tmp_path / "refused"))
    assert rc == 3, out[-4000:]
    assert "passthrough: false" in out, out[-4000:]
    assert "pin: hard" in out, out[-4000:]
    after = cluster.reader.plain(cluster.reader.apps.read_namespaced_deployment(DEPLOYMENT, NS).spec)
    assert after == spec


def test_recover_all_disarms_the_node_and_leaves_the_install(cluster: Setup, tmp_path: Path) -> None:
    iid = installed(cluster, tmp_path)
    spec = cluster.reader.plain(cluster.reader.apps.read_namespaced_deployment(DEPLOYMENT, NS).spec)
    run = LiveCli(["run", str(SCENARIO), "--cluster", "kube", "--kubeconfig", str(cluster.sim.kubeconfig),
                   "--report-dir", str(tmp_path / "killed")])
    run.signal_on(r"\d+-toggle: armed node", signal.SIGKILL)
    assert run.finish(180) == -signal.SIGKILL, run.text[-3000:]
    rc, status = cluster.cli("status")
    assert rc == 0, status
    assert "armed nodes (1)" in status, status
    assert iid in status, status

    rc, out = cluster.cli("recover", "--all")
    assert rc == 0, out
    assert "undid: disarm the fault on node" in out, out
    assert f"install {iid} (Deployment {NS}/{DEPLOYMENT}): left installed" in out, out
    toggles = cluster.reader.snapshot(NS, DEPLOYMENT, cluster.sim.root).toggles
    assert "1" not in toggles.values()
    after = cluster.reader.plain(cluster.reader.apps.read_namespaced_deployment(DEPLOYMENT, NS).spec)
    assert after == spec  # still installed, exactly
    rc, status = cluster.cli("status", "-o", "json")
    listed = json.JSONDecoder().raw_decode(status[status.index("{"):])[0]
    assert [i["id"] for i in listed["installs"]] == [iid]
    assert listed["armed_nodes"] == []
