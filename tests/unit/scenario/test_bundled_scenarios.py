"""The scenarios shipped in scenarios/ are valid and tell the story they claim."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from runner import xid
from runner.scenario import model as m
from runner.scenario.validate import load_scenario

REPO = Path(__file__).resolve().parents[3]
SCENARIOS = sorted((REPO / "scenarios").glob("*.yaml"))
NODE_SCOPED = ["xid79", "xid48", "xid95", "xid74"]
PROCESS_SCOPED = ["xid94", "xid43"]
ONE_GPU = ["xid79-one-gpu", "xid94-one-gpu"]  # nodes of 4 GPUs, the fault on one of them
RESTRICTED = ["xid79-restricted"]  # a Pod Security restricted namespace: toggle-via configmap
SINGLE = ["xid79-single-replica"]  # one replica: the service is down until the replacement is Ready


def test_expected_files_exist() -> None:
    names = {p.stem for p in SCENARIOS}
    assert names == {*NODE_SCOPED, *PROCESS_SCOPED, *ONE_GPU, *RESTRICTED, *SINGLE, "dynamo-xid79"}


def test_cli_validates_the_directory_cleanly(chaos: Callable[..., subprocess.CompletedProcess[str]]) -> None:
    proc = chaos(["validate", "--strict"])  # default path: scenarios/
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == f"{len(SCENARIOS)} files, 0 errors, 0 warnings"


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_scenario_header_and_sim(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# yaml-language-server: $schema=../schema/scenario.schema.json\n")
    scenario = load_scenario(path)
    assert scenario.metadata.description
    assert scenario.settings.cluster is None  # runnable on sim or a real cluster alike
    if path.stem in ONE_GPU:
        assert [(n.count, n.gpus, dict(n.labels)) for n in scenario.settings.sim.nodes] == [
            (2, 4, {"pool": "serving"}), (1, 4, {"pool": "spare"})]
        assert scenario.fault.gpus == (2,)
    else:
        assert scenario.settings.sim.nodes == (m.SimNode(count=3, gpus=1),)
    assert 0 < scenario.settings.sim.time_scale < 1
    assert scenario.settings.timeout.seconds <= 15 * 60
    for manifest in scenario.settings.sim.manifests:
        assert (path.parent / manifest).is_file()


def kinds(scenario: m.Scenario) -> list[str]:
    return [s.kind.value for s in scenario.steps]


def recovered_pause(scenario: m.Scenario) -> None:
    """A pause before arming and one between the last check and cleanup: the probe's setup and
    recovered phases carry requests."""
    (probe,) = scenario.probes
    for pause in (scenario.steps[2], scenario.steps[-2]):
        assert isinstance(pause, m.PauseStep)
        assert pause.duration.seconds >= 10 * probe.interval.seconds


@pytest.mark.parametrize("name", [*NODE_SCOPED, "dynamo-xid79", "xid79-one-gpu", *RESTRICTED, *SINGLE])
def test_node_scoped_story(name: str) -> None:
    scenario = load_scenario(REPO / "scenarios" / f"{name}.yaml")
    entry = scenario.fault.entry
    assert entry is not None
    assert entry.scope is xid.Scope.NODE
    assert kinds(scenario) == ["patch", "wait", "pause", "toggle", "wait", "assert-reschedule", "pause",
                               "cleanup"]
    recovered_pause(scenario)
    patch, ready, _, toggle, seen, moved, _, _ = scenario.steps
    assert isinstance(patch, m.PatchStep)
    assert patch.passthrough
    assert isinstance(ready, m.WaitStep)
    assert ready.for_ is m.WaitFor.PODS_READY
    assert isinstance(toggle, m.ToggleStep)
    assert toggle.enabled
    assert isinstance(seen, m.WaitStep)
    assert seen.for_ is m.WaitFor.LOG_LINE
    assert f"[XID {entry.number} SIM]" in seen.pattern.replace("\\", "")
    assert isinstance(moved, m.AssertRescheduleStep)
    assert moved.expect_cordon


@pytest.mark.parametrize("name", PROCESS_SCOPED)
def test_process_scoped_story(name: str) -> None:
    scenario = load_scenario(REPO / "scenarios" / f"{name}.yaml")
    entry = scenario.fault.entry
    assert entry is not None
    assert entry.scope is xid.Scope.PROCESS
    assert kinds(scenario) == ["patch", "wait", "pause", "toggle", "wait", "toggle", "assert", "pause",
                               "cleanup"]
    recovered_pause(scenario)
    restarts, off, check = scenario.steps[4], scenario.steps[5], scenario.steps[6]
    assert isinstance(restarts, m.WaitStep)
    assert restarts.for_ is m.WaitFor.POD_RESTARTS
    assert restarts.min_restarts >= 1
    assert isinstance(off, m.ToggleStep)
    assert not off.enabled
    assert isinstance(check, m.AssertStep)
    assert check.pods is not None
    assert check.pods.node == m.TARGET_NODE
    assert check.pods.min_restarts == 1
    assert check.within == m.Duration.parse("2m")


def test_dynamo_targets_worker_services() -> None:
    scenario = load_scenario(REPO / "scenarios" / "dynamo-xid79.yaml")
    workload = scenario.target.workload
    assert workload.kind is m.WorkloadKind.DYNAMO
    assert workload.services == ("VllmPrefillWorker", "VllmDecodeWorker")


def test_manifests_describe_the_workloads() -> None:
    docs = list(yaml.safe_load_all((REPO / "scenarios/manifests/vllm-worker.yaml").read_text()))
    deployment = next(d for d in docs if d["kind"] == "Deployment")
    assert [d["kind"] for d in docs] == ["Namespace", "Deployment", "Service"]
    assert deployment["metadata"] == {"name": "vllm-worker", "namespace": "inference",
                                      "labels": {"app": "vllm-worker"}}
    assert deployment["spec"]["replicas"] == 2
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "chaos/cuda-worker:latest"
    assert container["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert container["readinessProbe"]["httpGet"] == {"path": "/healthz", "port": 8000}
    crd = yaml.safe_load((REPO / "scenarios/manifests/dynamo-crd.yaml").read_text())
    assert crd["spec"]["group"] == "nvidia.com"
    assert crd["spec"]["versions"][0]["name"] == "v1alpha1"
    dgd = next(d for d in yaml.safe_load_all((REPO / "scenarios/manifests/vllm-disagg.yaml").read_text())
           if d["kind"] == "DynamoGraphDeployment")
    assert dgd["apiVersion"] == "nvidia.com/v1alpha1"
    assert dgd["metadata"]["name"] == "vllm-disagg"
    assert {"VllmPrefillWorker", "VllmDecodeWorker"} <= set(dgd["spec"]["services"])


def test_the_restricted_scenario_needs_no_hostpath_and_no_pod_create() -> None:
    """Its namespace enforces restricted; the toggles travel in a ConfigMap with the mode's expiry,
    and its workload is restricted-compliant as it stands."""
    scenario = load_scenario(REPO / "scenarios" / "xid79-restricted.yaml")
    assert scenario.settings.toggle_via is m.ToggleVia.CONFIGMAP
    assert scenario.settings.fault_expiry is None  # the mode's default, 10m
    assert scenario.settings.expiry == m.Duration.parse("10m")
    docs = list(yaml.safe_load_all((REPO / "scenarios/manifests/vllm-worker-restricted.yaml").read_text()))
    namespace, deployment, service = docs
    assert service["kind"] == "Service"  # what the probe goes through
    assert namespace["metadata"]["labels"] == {"pod-security.kubernetes.io/enforce": "restricted",
                                               "pod-security.kubernetes.io/warn": "restricted"}
    assert scenario.target.namespace == namespace["metadata"]["name"] == deployment["metadata"]["namespace"]


def test_the_single_replica_scenario_takes_the_last_replica_on_purpose() -> None:
    scenario = load_scenario(REPO / "scenarios" / "xid79-single-replica.yaml")
    assert scenario.settings.guardrails.allow_last_replica
    docs = list(yaml.safe_load_all((REPO / "scenarios/manifests/vllm-worker-single.yaml").read_text()))
    assert [d["kind"] for d in docs] == ["Namespace", "Deployment", "Service"]
    assert docs[1]["spec"]["replicas"] == 1
    (probe,) = scenario.probes
    assert probe.slo.fault is not None
    assert probe.slo.fault.max_outage is not None  # what the team accepts, measured honestly
    assert probe.slo.fault.min_success_rate is None  # it is down: no success rate is promised
