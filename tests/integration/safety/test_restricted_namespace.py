"""Pod Security `restricted` and no pod create, through the real CLI against `chaos sim up`.

The namespace `inference-restricted` enforces (and warns at) `restricted`, as the embedded API
server's admission applies it to every pod, the ReplicaSet's included. `chaos run` talks to it with
a token bound to RULES below, which grant no `pods create`:

- `scenarios/xid79-restricted.yaml` (`settings.toggle-via: configmap`) passes: the workers crash on
  the armed node, remediation cordons it, they come back Ready elsewhere, and the cluster is as
  before (the patched template's pods were admitted, and the run never created a pod);
- the same scenario with `toggle-via: hostPath` is refused in preflight (exit 3) with a message
  naming the label, the level and `settings.toggle-via: configmap`, and nothing changed.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO
from tests.integration.safety.support import (
    KubeReader,
    SimProcess,
    chaos_cli,
    no_traceback,
    report,
    same_as,
    sim_up,
    token_kubeconfig,
    wait_until,
)

SCENARIO = REPO / "scenarios" / "xid79-restricted.yaml"
NS, DEPLOYMENT = "inference-restricted", "vllm-worker"

# What a configmap-mode run (and `chaos recover`) needs: note what is missing next to
# deploy/rbac.yaml: pods get no create (no helper pod) and no delete (the template change rolls the
# pods; nothing else deletes one in this scenario).
RULES = """\
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: chaos-runner-configmap}
rules:
  - apiGroups: ["apps"]
    resources: ["deployments", "statefulsets"]
    verbs: ["get", "list", "watch", "patch"]
  - apiGroups: [""]
    resources: ["pods"]
    verbs: ["get", "list", "watch"]
  - apiGroups: [""]
    resources: ["pods/log"]
    verbs: ["get"]
  - apiGroups: [""]
    resources: ["configmaps"]
    verbs: ["create", "get", "list", "patch", "delete"]
  - apiGroups: [""]
    resources: ["nodes"]
    verbs: ["get", "list", "watch"]
  - apiGroups: [""]
    resources: ["namespaces"]
    verbs: ["get"]
  - apiGroups: ["coordination.k8s.io"]
    resources: ["leases"]
    verbs: ["get", "create", "patch", "delete"]
  - apiGroups: ["events.k8s.io"]
    resources: ["events"]
    verbs: ["create"]
  # the scenario's probe, through the API server's service proxy (POST: create)
  - apiGroups: [""]
    resources: ["services/proxy"]
    verbs: ["get", "create"]
"""


@dataclass
class Restricted:
    sim: SimProcess
    reader: KubeReader
    kubeconfig: Path
    token: str
    tmp: Path


@pytest.fixture(scope="module")
def restricted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Restricted]:
    tmp = tmp_path_factory.mktemp("restricted")
    rules = tmp / "rules.yaml"
    rules.write_text(RULES)
    granted = [r for doc in yaml.safe_load_all(RULES) for r in doc["rules"]]
    assert not any("pods" in r["resources"] and "create" in r["verbs"] for r in granted)
    admin, token = secrets.token_hex(8), secrets.token_hex(8)
    with sim_up(tmp, SCENARIO, ["--token", admin, "--rules", str(rules),
                                "--restricted-token", token]) as sim:
        reader = KubeReader(sim.kubeconfig)  # the unrestricted token chaos sim up wrote
        wait_until("the seeded workload to settle", lambda: reader.settled(NS, DEPLOYMENT), 60)
        labels = reader.core.read_namespace(NS).metadata.labels
        assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
        yield Restricted(sim, reader, token_kubeconfig(tmp / "restricted.kubeconfig", sim.url, token),
                         token, tmp)


def run(env: Restricted, scenario: Path, run_dir: Path) -> tuple[int, str]:
    done = chaos_cli(["run", str(scenario), "--cluster", "kube", "--kubeconfig", str(env.kubeconfig),
                      "--report-dir", str(run_dir)], timeout=240)
    text = done.stdout + done.stderr
    no_traceback(text)
    assert env.token not in text
    return done.returncode, text


def test_hostpath_toggles_are_refused_in_preflight_and_nothing_changes(restricted: Restricted) -> None:
    data = yaml.safe_load(SCENARIO.read_text())
    data["settings"]["toggle-via"] = "hostPath"
    sim = data["settings"]["sim"]
    sim["manifests"] = [str(SCENARIO.parent / m) for m in sim["manifests"]]  # the copy lives elsewhere
    copy = restricted.tmp / "xid79-restricted-hostpath.yaml"
    copy.write_text(yaml.safe_dump(data, sort_keys=False))
    before = restricted.reader.snapshot(NS, DEPLOYMENT, restricted.sim.root)
    rc, text = run(restricted, copy, restricted.tmp / "refused")
    assert rc == 3, text[-3000:]
    data = report(restricted.tmp / "refused")
    assert data["verdict"] == "inconclusive"
    reason = data["reason"]
    assert reason.startswith(f'preflight refused: namespace {NS} enforces Pod Security "restricted" '
                             "(label pod-security.kubernetes.io/enforce): ")
    assert 'hostPath volume "chaos-toggle"' in reason  # the patched template's pods would be refused
    assert "the toggle step's helper pods need privileged" in reason
    assert "use settings.toggle-via: configmap" in reason
    assert "pod-security.kubernetes.io/enforce" in text
    assert all(s["status"] == "skipped" for s in data["steps"])
    same_as(restricted.reader, before, NS, DEPLOYMENT, restricted.sim.root)


def test_configmap_toggles_pass_with_no_pod_create(restricted: Restricted) -> None:
    reader = restricted.reader
    before = reader.snapshot(NS, DEPLOYMENT, restricted.sim.root)
    run_dir = restricted.tmp / "passed"
    rc, text = run(restricted, SCENARIO, run_dir)
    assert rc == 0, text[-3000:]
    assert "forbidden" not in text.lower()
    data = report(run_dir)
    assert data["verdict"] == "passed"
    assert data["fault"]["injections_seen"] >= 1
    phases = data["probes"][0]["phases"]  # the callers saw the service answer before and after
    assert phases["setup"]["success_rate"] == phases["recovered"]["success_rate"] == 1.0
    kinds = [e["kind"] for e in data["timeline"]]
    assert {"fault-armed", "first-injection", "pod-crash", "node-cordoned", "rescheduled"} <= set(kinds)
    armed = next(e["at"] for e in data["timeline"] if e["kind"] == "fault-armed")
    first = next(e["at"] for e in data["timeline"] if e["kind"] == "first-injection")
    assert first > armed  # the ConfigMap reached the pods at their kubelet's next sync
    ready_nodes = {e["node"] for e in data["timeline"] if e["kind"] == "pod-ready"}
    assert data["fault"]["node"] not in ready_nodes  # rescheduled elsewhere, and healthy there
    undone = next(s for s in data["steps"] if s["kind"] == "cleanup")
    assert undone["message"] == "everything the run changed is back"
    for node in reader.snapshot(NS, DEPLOYMENT).quarantined:
        reader.reset_gpu(node)  # the remediation's quarantine is not a chaos change
    same_as(reader, before, NS, DEPLOYMENT, restricted.sim.root)
