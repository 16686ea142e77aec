"""The safety proofs against a real cluster (opt-in; README.md, "Real clusters").

Environment:
  CHAOS_E2E_CONTEXT     kubeconfig context to use (KUBECONFIG or ~/.kube/config); unset: skipped
  CHAOS_E2E_MANIFESTS   manifest files (os.pathsep-separated) creating the scenarios' target with a
                        real CUDA image; created before the suite when absent, deleted after it
  CHAOS_E2E_SCENARIOS   scenario files to run (os.pathsep-separated; default scenarios/xid79.yaml)

For each scenario: a whole run passes and leaves the workload as it found it; SIGINT during the
wait after the patch exits 4 with a verified rollback; SIGKILL after the patch, then
`chaos recover RUN_DIR`, restores it, and a second recover changes nothing. What is compared is
what the API shows (the workload's spec, no pod or ConfigMap labelled managed-by=chaos, settled
pods); node toggle files are not readable from here (the run's own after-check covers them).
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import REPO
from tests.integration.safety.support import (
    KubeReader,
    LiveCli,
    chaos_cli,
    no_traceback,
    report,
    wait_until,
)

pytestmark = pytest.mark.e2e

CONTEXT = os.environ.get("CHAOS_E2E_CONTEXT", "")
SCENARIOS = [Path(p) for p in
             os.environ.get("CHAOS_E2E_SCENARIOS", str(REPO / "scenarios" / "xid79.yaml")).split(os.pathsep)
             if p]
SETTLE_S = float(os.environ.get("CHAOS_E2E_SETTLE_S", "600"))  # real images pull and start slowly


@dataclass(frozen=True)
class Target:
    scenario: Path
    namespace: str
    deployment: str
    cordoned_before: frozenset[str] = frozenset()


def target_of(scenario: Path) -> Target:
    from runner.scenario.validate import load_scenario

    loaded = load_scenario(scenario)
    if loaded.target.workload.kind.value != "Deployment":
        pytest.skip(f"{scenario.name}: the e2e comparison reads Deployments only")
    return Target(scenario, loaded.target.namespace, loaded.target.workload.name)


def after_run(reader: KubeReader, target: Target) -> dict[str, Any]:
    """Reset what the cluster's remediation did about the simulated fault (a node it cordoned is
    not a chaos change, so rollback and recover leave it), then the settled snapshot."""
    if os.environ.get("CHAOS_E2E_UNCORDON", "1") != "0":
        now = reader.snapshot(target.namespace, target.deployment).unschedulable
        for node in sorted(n for n, cordoned in now.items() if cordoned and n not in target.cordoned_before):
            reader.reset_gpu(node)
    return settled_snapshot(reader, target)


@pytest.fixture(scope="session")
def reader() -> Iterator[KubeReader]:
    from kubernetes import client, config, utils

    api = config.new_client_from_config(context=CONTEXT)
    created: list[tuple[str, str, str]] = []
    for path in filter(None, os.environ.get("CHAOS_E2E_MANIFESTS", "").split(os.pathsep)):
        for doc in yaml.safe_load_all(Path(path).read_text()):
            if not doc:
                continue
            try:
                utils.create_from_dict(api, quantities_as_text(doc))
            except utils.FailToCreateError as exc:
                if any(e.status != 409 for e in exc.api_exceptions):
                    raise
                continue  # already there: the user's, left alone
            meta = doc.get("metadata") or {}
            created.append((doc["kind"], meta.get("namespace", ""), meta["name"]))
    yield KubeReader(context=CONTEXT)
    core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
    for kind, namespace, name in reversed(created):  # only what this suite created
        if kind == "Deployment":
            apps.delete_namespaced_deployment(name, namespace)
        elif kind == "Namespace":
            core.delete_namespace(name)


def quantities_as_text(value: Any) -> Any:
    """`nvidia.com/gpu: 1` as "1": the API stores quantities as strings and the official client's
    typed models refuse a bare number on the way in."""
    if isinstance(value, list):
        return [quantities_as_text(v) for v in value]
    if isinstance(value, dict):
        return {k: ({q: str(a) if isinstance(a, (int, float)) else a for q, a in v.items()}
                    if k in ("limits", "requests") and isinstance(v, dict) else quantities_as_text(v))
                for k, v in value.items()}
    return value


def settled_snapshot(reader: KubeReader, target: Target) -> dict[str, Any]:
    wait_until(f"{target.namespace}/{target.deployment} to settle",
               lambda: reader.settled(target.namespace, target.deployment), SETTLE_S, every=1.0)
    snap = reader.snapshot(target.namespace, target.deployment)
    return {"spec": snap.deployment_spec, "managed_pods": snap.managed_pods,
            "managed_configmaps": snap.managed_configmaps}


def run_args(target: Target, run_dir: Path) -> list[str]:
    return ["run", str(target.scenario), "--cluster", "kube", "--context", CONTEXT,
            "--report-dir", str(run_dir)]


@pytest.fixture(params=SCENARIOS, ids=[p.name for p in SCENARIOS])
def target(request: pytest.FixtureRequest, reader: KubeReader) -> Target:
    found = target_of(request.param)
    before = settled_snapshot(reader, found)
    unschedulable = reader.snapshot(found.namespace, found.deployment).unschedulable
    found = Target(found.scenario, found.namespace, found.deployment,
                   frozenset(n for n, cordoned in unschedulable.items() if cordoned))
    assert before["managed_pods"] == [], "a previous run left pods behind: chaos recover --all"
    assert before["managed_configmaps"] == [], "a previous run left ConfigMaps: chaos recover --all"
    return found


def test_a_whole_run_passes_and_leaves_the_workload_as_it_was(
        reader: KubeReader, target: Target, tmp_path: Path) -> None:
    before = settled_snapshot(reader, target)
    done = chaos_cli(run_args(target, tmp_path / "run"), timeout=3600)
    no_traceback(done.stdout + done.stderr)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert report(tmp_path / "run")["verdict"] == "passed"
    assert after_run(reader, target) == before


def test_sigint_during_the_wait_rolls_back_and_exits_4(
        reader: KubeReader, target: Target, tmp_path: Path) -> None:
    before = settled_snapshot(reader, target)
    run = LiveCli(run_args(target, tmp_path / "run"))
    run.signal_on(r"step 2/\d+ started", signal.SIGINT)
    rc = run.finish(3600)
    no_traceback(run.text)
    assert rc == 4, run.text[-4000:]
    data = report(tmp_path / "run")
    assert data["verdict"] == "interrupted"
    assert data["rollback"]["verified"]
    assert all(u["ok"] for u in data["rollback"]["undone"])
    assert after_run(reader, target) == before


def test_sigkill_then_recover_restores_the_workload(
        reader: KubeReader, target: Target, tmp_path: Path) -> None:
    before = settled_snapshot(reader, target)
    run_dir = tmp_path / "run"
    run = LiveCli(run_args(target, run_dir))
    run.signal_on(r"step 2/\d+ started", signal.SIGKILL)
    assert run.finish(3600) == -signal.SIGKILL
    assert reader.snapshot(target.namespace, target.deployment).managed_configmaps  # journal mirror
    first = chaos_cli(["recover", str(run_dir), "--context", CONTEXT], timeout=600)
    no_traceback(first.stdout + first.stderr)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "clean" in first.stdout
    assert after_run(reader, target) == before
    second = chaos_cli(["recover", str(run_dir), "--context", CONTEXT], timeout=600)
    assert second.returncode == 0
    assert "nothing to recover (already clean); nothing changed" in second.stdout
