"""Least privilege, through the real CLI: `chaos sim up --rules deploy/rbac.yaml --restricted-token T`
enforces the shipped manifest the way Kubernetes does (T acts as the ServiceAccount
chaos-system/chaos-runner and gets what the RoleBindings grant in their namespaces and the
ClusterRoleBindings everywhere), and `chaos run --cluster kube` with a kubectl-style kubeconfig
holding T passes, as does `chaos recover --all` after a SIGKILLed run, with nothing denied at all
(the embedded cluster prints each 403, even those a client swallows, such as best-effort Events).

With one needed permission removed from a copy of the rules, the run refuses or fails cleanly:
non-zero exit, a message naming the Forbidden operation, no traceback, and the cluster (read with
an unrestricted token through the official client) as it was. Representative removals:
configmaps create and leases create in the state namespace (the journal mirror and the target's
Lease: refused before any change) and deployments patch in the target namespace (the shim patch:
fails at step 1, the one change made is rolled back); without services/proxy create the probe's
requests are refused, so the run proves nothing (exit 3) and rolls back.

What the manifest does not grant is proven with the official kubernetes client holding T (kubectl
sends no bearer token over plain HTTP): no pod in kube-system (the privileged hostPath `/` pod of
the original report), no service proxy outside the target namespaces (and there only GET and POST:
a probe reads), no node patch unless deploy/rbac-cordon.yaml is applied too; a scenario with
a cordon step is refused in preflight without it (naming the file) and passes with it.
"""

from __future__ import annotations

import json
import re
import secrets
import signal
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import REPO
from tests.integration.safety.support import (
    KubeReader,
    LiveCli,
    SimProcess,
    Snapshot,
    chaos_cli,
    no_traceback,
    report,
    same_as,
    sim_up,
    token_kubeconfig,
    wait_until,
)

SCENARIO = REPO / "scenarios" / "xid79.yaml"
CORDONING = REPO / "tests" / "integration" / "safety" / "scenarios" / "cordon-drain.yaml"
RBAC = REPO / "deploy" / "rbac.yaml"
CORDON = REPO / "deploy" / "rbac-cordon.yaml"
NS, DEPLOYMENT, STATE = "inference", "vllm-worker", "chaos-system"
AFTER_ARMED = r"\d+-toggle: armed node"  # the node's toggle file says 1
DENIED = "forbidden: "  # how `chaos sim up` prints a 403 it answered


def without(rules_file: Path, out: Path, group: str, resource: str, verb: str, role: str = "") -> Path:
    """A copy of the RBAC manifest with one verb taken away from one resource, in every Role and
    ClusterRole that grants it (or only in `role`); the rule that grants it is split, so the other
    resources and groups in it keep every verb. Other documents (Namespace, ServiceAccount,
    bindings) are copied as they are."""
    docs = [d for d in yaml.safe_load_all(rules_file.read_text()) if d]
    removed = False
    for doc in docs:
        if doc.get("kind") not in ("ClusterRole", "Role") or (role and doc["metadata"]["name"] != role):
            continue
        kept = []
        for rule in doc.get("rules") or []:
            if group in rule["apiGroups"] and resource in rule["resources"] and verb in rule["verbs"]:
                others = [r for r in rule["resources"] if r != resource]
                if others:
                    kept.append({**rule, "resources": others})
                kept.append({"apiGroups": [group], "resources": [resource],
                             "verbs": [v for v in rule["verbs"] if v != verb]})
                if len(rule["apiGroups"]) > 1:
                    kept.append({**rule, "apiGroups": [g for g in rule["apiGroups"] if g != group]})
                removed = True
            else:
                kept.append(rule)
        doc["rules"] = kept
    assert removed, f"{rules_file} grants no {verb} on {group}/{resource}"
    out.write_text(yaml.safe_dump_all(docs))
    return out


@dataclass
class Restricted:
    """A `chaos sim up` that enforces `rules` for one token, and a kubeconfig holding it."""

    sim: SimProcess
    reader: KubeReader  # the unrestricted token chaos sim up wrote
    kubeconfig: Path  # the restricted token
    token: str
    before: Snapshot

    def denied(self) -> list[str]:
        return [line for line in self.sim.cli.lines if line.startswith(DENIED)]

    def settle_and_compare(self) -> None:
        """After the run: undo the remediation's quarantine (an operator's GPU reset, not a chaos
        change), then everything must be exactly as before."""
        for node in self.reader.snapshot(NS, DEPLOYMENT).quarantined:
            self.reader.reset_gpu(node)
        same_as(self.reader, self.before, NS, DEPLOYMENT, self.sim.root)


@contextmanager
def restricted_sim(tmp_path: Path, rules: Sequence[Path], scenario: Path = SCENARIO,
                   extra: Sequence[str] = ()) -> Iterator[Restricted]:
    admin, token = secrets.token_hex(8), secrets.token_hex(8)
    args = ["--token", admin, "--restricted-token", token, *extra]
    for path in rules:
        args += ["--rules", str(path)]
    with sim_up(tmp_path, scenario, args) as sim:
        reader = KubeReader(sim.kubeconfig)
        if "--api-only" not in extra:  # with no kubelets no pod ever runs
            wait_until("the seeded workload to settle", lambda: reader.settled(NS, DEPLOYMENT), 60)
        before = reader.snapshot(NS, DEPLOYMENT, sim.root)
        kubeconfig = token_kubeconfig(tmp_path / "restricted.kubeconfig", sim.url, token)
        yield Restricted(sim, reader, kubeconfig, token, before)


def run_restricted(setup: Restricted, run_dir: Path, scenario: Path = SCENARIO) -> tuple[int, str]:
    done = chaos_cli(["run", str(scenario), "--cluster", "kube", "--kubeconfig", str(setup.kubeconfig),
                      "--report-dir", str(run_dir)], timeout=180)
    text = done.stdout + done.stderr
    no_traceback(text)
    assert setup.token not in text  # a token never reaches the output
    return done.returncode, text


def leases(reader: KubeReader) -> list[str]:
    from kubernetes import client

    coordination = client.CoordinationV1Api(reader.core.api_client)
    return [item.metadata.name for item in coordination.list_namespaced_lease(STATE).items]


# --- (a) the shipped rules are enough -----------------------------------------------------------

def test_the_shipped_rules_are_enough_for_a_whole_run(tmp_path: Path) -> None:
    with restricted_sim(tmp_path, [RBAC]) as setup:
        rc, text = run_restricted(setup, tmp_path / "run")
        assert rc == 0, text[-3000:]
        data = report(tmp_path / "run")
        assert data["verdict"] == "passed"
        assert data["fault"]["injections_seen"] >= 1
        assert data["probes"][0]["phases"]["setup"]["success_rate"] == 1.0  # services/proxy, granted
        assert "forbidden" not in text.lower()
        setup.settle_and_compare()
        assert leases(setup.reader) == []  # released by the clean end
        assert setup.denied() == []  # not even a best-effort Event was refused
        assert any("acts as system:serviceaccount:chaos-system:chaos-runner" in line
                   for line in setup.sim.cli.lines)


def test_the_shipped_rules_are_enough_for_recover_all(tmp_path: Path) -> None:
    """A restricted run SIGKILLed with the fault armed (shim patched, helper pod run, node armed,
    Leases held), then `chaos recover --all` with the same token: clean, exit 0, nothing denied."""
    with restricted_sim(tmp_path, [RBAC]) as setup:
        run = LiveCli(["run", str(SCENARIO), "--cluster", "kube", "--kubeconfig", str(setup.kubeconfig),
                       "--report-dir", str(tmp_path / "run")])
        run.signal_on(AFTER_ARMED, signal.SIGKILL)
        assert run.finish(120) == -signal.SIGKILL, run.text[-3000:]
        match = re.search(r"\(run (\S+)\)", run.wait_line(r"run started: .* \(run \S+\)"))
        assert match is not None
        run_id = match.group(1)
        during = setup.reader.snapshot(NS, DEPLOYMENT, setup.sim.root)
        assert f"{STATE}/chaos-journal-{run_id}" in during.managed_configmaps  # really left changed
        assert "1" in during.toggles.values()
        held = leases(setup.reader)
        # the workload's and the armed node's (plus the node preflight picked, when `node: auto`
        # followed the pods elsewhere after the patch's rollout)
        assert sum(1 for name in held if name.startswith("chaos-target-")) == 1, held
        assert 1 <= sum(1 for name in held if name.startswith("chaos-node-")) <= 2, held

        done = chaos_cli(["recover", "--all", "--kubeconfig", str(setup.kubeconfig)])
        out = done.stdout + done.stderr
        no_traceback(out)
        assert setup.token not in out
        assert done.returncode == 0, out
        assert f"run {run_id}: undid" in out
        assert "clean" in out
        assert "undid: disarm the fault on node" in out
        setup.settle_and_compare()
        assert leases(setup.reader) == []
        assert setup.denied() == []


# --- (b) one missing permission -----------------------------------------------------------------

def run_without(tmp_path: Path, run_dir: Path, group: str, resource: str, verb: str,
                role: str) -> tuple[int, str, list[str]]:
    """A run with the shipped rules less one verb; the cluster is as it was after it, no Lease left.
    Returns the exit code, the output and what the embedded cluster refused."""
    rules = without(RBAC, tmp_path / "rules.yaml", group, resource, verb, role)
    with restricted_sim(tmp_path, [rules]) as setup:
        rc, text = run_restricted(setup, run_dir)
        setup.settle_and_compare()
        assert leases(setup.reader) == []
        return rc, text, setup.denied()


@pytest.mark.parametrize(("group", "resource", "verb", "role", "exit_code", "where", "says"), [
    ("", "configmaps", "create", "", 3, "preflight", "nothing was changed"),
    ("coordination.k8s.io", "leases", "create", "chaos-state", 3, "preflight", "preflight refused"),
    ("apps", "deployments", "patch", "chaos-target", 1, "1-patch", "cannot patch resource"),
], ids=["no-configmaps-create", "no-leases-create", "no-deployments-patch"])
def test_one_missing_permission_fails_cleanly_and_changes_nothing(
        tmp_path: Path, group: str, resource: str, verb: str, role: str, exit_code: int, where: str,
        says: str) -> None:
    run_dir = tmp_path / "run"
    rc, text, denied = run_without(tmp_path, run_dir, group, resource, verb, role)
    assert rc == exit_code, text[-3000:]
    api_group = f' in API group "{group}"'
    assert re.search(rf'cannot {verb} resource "{resource}"{re.escape(api_group)}', text), text[-3000:]
    assert denied  # the sim refused it, and said so
    assert all(f'cannot {verb} resource "{resource}"' in line for line in denied), denied
    data = report(run_dir)
    assert data["verdict"] == ("inconclusive" if exit_code == 3 else "failed")
    assert f"cannot {verb} resource" in data["reason"]
    assert says in data["reason"]
    if where == "preflight":
        assert all(s["status"] == "skipped" for s in data["steps"])
    else:
        statuses = {s["name"]: s["status"] for s in data["steps"]}
        assert statuses[where] == "error"  # a Forbidden call is an error, not a failed assertion
        assert data["rollback"]["verified"]
        assert data["rollback"]["leftovers"] == []


def test_without_the_service_proxy_the_probe_is_refused_and_the_run_proves_nothing(tmp_path: Path) -> None:
    """The probe's POSTs through services/proxy need `create` there: without it every request is a
    403, so the service was not healthy before the fault as far as the run can tell (exit 3),
    and the run undoes what it did as usual."""
    run_dir = tmp_path / "run"
    rc, text, denied = run_without(tmp_path, run_dir, "", "services/proxy", "create", "chaos-target")
    assert rc == 3, text[-3000:]
    data = report(run_dir)
    assert data["verdict"] == "inconclusive"
    assert "not healthy before the fault" in data["reason"]
    errors = data["probes"][0]["phases"]["setup"]["errors"]
    assert any('cannot create resource "services/proxy" in API group ""' in e for e in errors), errors
    assert denied
    assert all('cannot create resource "services/proxy"' in line for line in denied), denied
    assert data["rollback"]["verified"]


# --- (c) what the token cannot do ---------------------------------------------------------------

def privileged_pod(name: str) -> dict[str, Any]:
    """What the original report created: a privileged pod with the node's `/` mounted."""
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"containers": [{"name": "c", "image": "busybox", "command": ["sleep", "1d"],
                                     "securityContext": {"privileged": True},
                                     "volumeMounts": [{"name": "root", "mountPath": "/host"}]}],
                     "volumes": [{"name": "root", "hostPath": {"path": "/"}}]}}


def official(kubeconfig: Path) -> Any:
    from kubernetes import client, config

    return client.CoreV1Api(config.new_client_from_config(str(kubeconfig)))


def forbidden(call: Any, *args: Any, **kwargs: Any) -> str:
    from kubernetes.client.rest import ApiException

    with pytest.raises(ApiException) as denied:
        call(*args, **kwargs)
    assert denied.value.status == 403
    message: str = json.loads(denied.value.body)["message"]
    return message


def can_i(kubeconfig: Path, verb: str, resource: str, namespace: str = "") -> bool:
    """A SelfSubjectAccessReview with the official client (what `kubectl auth can-i` sends)."""
    from kubernetes import client, config

    api = client.AuthorizationV1Api(config.new_client_from_config(str(kubeconfig)))
    attrs = client.V1ResourceAttributes(verb=verb, resource=resource, namespace=namespace or None)
    review = client.V1SelfSubjectAccessReview(spec=client.V1SelfSubjectAccessReviewSpec(
        resource_attributes=attrs))
    return bool(api.create_self_subject_access_review(review).status.allowed)


USER = 'User "system:serviceaccount:chaos-system:chaos-runner"'


def test_the_token_cannot_create_a_pod_in_kube_system_nor_patch_a_node(tmp_path: Path) -> None:
    with restricted_sim(tmp_path, [RBAC], extra=["--api-only"]) as setup:
        core = official(setup.kubeconfig)
        message = forbidden(core.create_namespaced_pod, "kube-system", privileged_pod("escape"))
        assert message == (f'pods is forbidden: {USER} cannot create resource "pods" in API group "" '
                           'in the namespace "kube-system"')
        for namespace in ("default", STATE):  # no helper pods outside the target namespaces
            forbidden(core.create_namespaced_pod, namespace, privileged_pod("escape"))
        node = core.list_node().items[0].metadata.name  # reading nodes is granted
        message = forbidden(core.patch_node, node, {"spec": {"unschedulable": True}})
        assert message == (f'nodes "{node}" is forbidden: {USER} cannot patch resource "nodes" in API '
                           'group "" at the cluster scope')
        forbidden(core.list_pod_for_all_namespaces)
        forbidden(core.list_namespaced_secret, NS)
        for namespace in ("kube-system", "default"):  # the service proxy only where it is bound
            message = forbidden(core.connect_post_namespaced_service_proxy_with_path, "x:80", namespace, "v1")
            assert 'cannot create resource "services/proxy"' in message
        forbidden(core.connect_delete_namespaced_service_proxy_with_path, "vllm-worker:8000", NS, "v1")
        assert not can_i(setup.kubeconfig, "patch", "nodes")
        assert not can_i(setup.kubeconfig, "create", "pods", "kube-system")
        assert can_i(setup.kubeconfig, "create", "pods", NS)
        core.list_namespaced_pod(NS)  # granted in the target namespace
        assert setup.reader.core.list_namespaced_pod("kube-system").items == []
        assert not any(setup.reader.snapshot(NS, DEPLOYMENT).unschedulable.values())


def test_node_patch_needs_the_cordon_binding(tmp_path: Path) -> None:
    with restricted_sim(tmp_path, [RBAC, CORDON], extra=["--api-only"]) as setup:
        core = official(setup.kubeconfig)
        node = core.list_node().items[0].metadata.name
        assert can_i(setup.kubeconfig, "patch", "nodes")
        core.patch_node(node, {"spec": {"unschedulable": True}})
        assert setup.reader.snapshot(NS, DEPLOYMENT).unschedulable[node]
        core.patch_node(node, {"spec": {"unschedulable": None}})
        message = forbidden(core.create_namespaced_pod, "kube-system", privileged_pod("escape"))
        assert "cannot create resource \"pods\"" in message  # the cordon file grants nothing else
        forbidden(core.delete_node, node)


# --- (d) a scenario that cordons ----------------------------------------------------------------

def test_a_cordoning_scenario_is_refused_without_the_cordon_rules(tmp_path: Path) -> None:
    with restricted_sim(tmp_path, [RBAC], CORDONING) as setup:
        rc, text = run_restricted(setup, tmp_path / "run", CORDONING)
        setup.settle_and_compare()
        assert leases(setup.reader) == []
        assert setup.denied() == []  # asked, not tried: nothing was refused by the server
    assert rc == 3, text[-3000:]
    assert "kubectl apply -f deploy/rbac-cordon.yaml" in text
    data = report(tmp_path / "run")
    assert data["verdict"] == "inconclusive"
    assert 'cannot patch resource "nodes"' in data["reason"]
    assert "deploy/rbac-cordon.yaml" in data["reason"]
    assert "nothing was changed" in data["reason"]
    assert all(s["status"] == "skipped" for s in data["steps"])


def test_a_cordoning_scenario_passes_with_the_cordon_rules(tmp_path: Path) -> None:
    with restricted_sim(tmp_path, [RBAC, CORDON], CORDONING) as setup:
        rc, text = run_restricted(setup, tmp_path / "run", CORDONING)
        assert rc == 0, text[-3000:]
        data = report(tmp_path / "run")
        assert data["verdict"] == "passed"
        assert {s["name"]: s["status"] for s in data["steps"]}["1-cordon"] == "passed"
        assert "node-cordoned" in [t["kind"] for t in data["timeline"]]
        setup.settle_and_compare()  # uncordoned by the run's own cleanup
        assert leases(setup.reader) == []
        assert setup.denied() == []
