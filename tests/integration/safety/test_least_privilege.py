"""Least privilege, through the real CLI: `chaos sim up --rules deploy/rbac.yaml --restricted-token T`
enforces exactly the shipped ClusterRole for token T, and `chaos run --cluster kube` with a
kubectl-style kubeconfig holding T passes. With one needed permission removed from a copy of the
rules, the run refuses or fails cleanly: non-zero exit, a message naming the Forbidden operation,
no traceback, and the cluster (read with an unrestricted token through the official client) as
it was. Representative removals: configmaps create (the journal mirror: refused before any
change) and deployments patch (the shim patch: fails at step 1, the one change made is rolled
back).
"""

from __future__ import annotations

import re
import secrets
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO
from tests.integration.safety.support import (
    KubeReader,
    chaos_cli,
    no_traceback,
    report,
    same_as,
    sim_up,
    token_kubeconfig,
    wait_until,
)

SCENARIO = REPO / "scenarios" / "xid79.yaml"
RBAC = REPO / "deploy" / "rbac.yaml"
NS, DEPLOYMENT = "inference", "vllm-worker"


def without(rules_file: Path, out: Path, group: str, resource: str, verb: str) -> Path:
    """A copy of the RBAC manifest with one verb taken away from one resource (the rule that
    grants it is split, so the other resources in it keep every verb)."""
    docs = list(yaml.safe_load_all(rules_file.read_text()))
    removed = False
    for doc in docs:
        if doc.get("kind") not in ("ClusterRole", "Role"):
            continue
        kept = []
        for rule in doc["rules"]:
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


def run_restricted(tmp_path: Path, rules: Path) -> tuple[int, str, Path]:
    admin, restricted = secrets.token_hex(8), secrets.token_hex(8)
    run_dir = tmp_path / "run"
    with sim_up(tmp_path, SCENARIO, ["--token", admin, "--rules", str(rules),
                                      "--restricted-token", restricted]) as sim:
        reader = KubeReader(sim.kubeconfig)  # the unrestricted token chaos sim up wrote
        wait_until("the seeded workload to settle", lambda: reader.settled(NS, DEPLOYMENT), 60)
        before = reader.snapshot(NS, DEPLOYMENT, sim.root)
        kubeconfig = token_kubeconfig(tmp_path / "restricted.kubeconfig", sim.url, restricted)
        done = chaos_cli(["run", str(SCENARIO), "--cluster", "kube", "--kubeconfig", str(kubeconfig),
                          "--report-dir", str(run_dir)], timeout=180)
        text = done.stdout + done.stderr
        no_traceback(text)
        assert restricted not in text  # a token never reaches the output
        for node in reader.snapshot(NS, DEPLOYMENT).quarantined:
            # a passing run ends with the remediation's quarantine in place (the system under
            # test reacting, not a chaos change); an operator resets the GPU (see
            # test_sigkill_recover.py), then everything must be exactly as before
            reader.reset_gpu(node)
        same_as(reader, before, NS, DEPLOYMENT, sim.root)
        return done.returncode, text, run_dir


def test_the_shipped_rules_are_enough_for_a_whole_run(tmp_path: Path) -> None:
    rc, text, run_dir = run_restricted(tmp_path, RBAC)
    assert rc == 0, text[-3000:]
    data = report(run_dir)
    assert data["verdict"] == "passed"
    assert data["fault"]["injections_seen"] >= 1
    assert "forbidden" not in text.lower()


@pytest.mark.parametrize(("group", "resource", "verb", "exit_code", "where"), [
    ("", "configmaps", "create", 3, "preflight"),
    ("apps", "deployments", "patch", 1, "1-patch"),
], ids=["no-configmaps-create", "no-deployments-patch"])
def test_one_missing_permission_fails_cleanly_and_changes_nothing(
        tmp_path: Path, group: str, resource: str, verb: str, exit_code: int, where: str) -> None:
    rules = without(RBAC, tmp_path / "rules.yaml", group, resource, verb)
    rc, text, run_dir = run_restricted(tmp_path, rules)
    assert rc == exit_code, text[-3000:]
    api_group = f' in API group "{group}"'
    assert re.search(rf'cannot {verb} resource "{resource}"{re.escape(api_group)}', text), text[-3000:]
    data = report(run_dir)
    assert data["verdict"] == ("inconclusive" if exit_code == 3 else "failed")
    assert f"cannot {verb} resource" in data["reason"]
    if where == "preflight":
        assert "nothing was changed" in data["reason"]
        assert all(s["status"] == "skipped" for s in data["steps"])
    else:
        statuses = {s["name"]: s["status"] for s in data["steps"]}
        assert statuses[where] == "error"  # a Forbidden call is an error, not a failed assertion
        assert data["rollback"]["verified"]
        assert data["rollback"]["leftovers"] == []
