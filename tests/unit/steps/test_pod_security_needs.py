"""What the steps predict their pods need of Pod Security admission is what admission decides.

The predictions (runner/kernel/admission.py, from each step's own manifests and additions) are held
to the embedded cluster's admission (runner/sim/podsecurity.py, the checks of kube-apiserver): for
every toggle-via and shim source, the pods of the template the patch step really writes, and the
helper pods the toggle and node-xid steps would create, are admitted exactly from the level
predicted on. And preflight refuses (naming the label, the level and the option that works), warns
for the warn level, and reads a namespace it may not read as a warning.
"""

from __future__ import annotations

from typing import Any

import pytest

from runner.cluster.protocol import ObjectRef
from runner.engine.executor import pod_security_needs
from runner.engine.preflight import preflight
from runner.errors import Forbidden, PreflightError
from runner.kernel.admission import LEVELS, PodSecurityNeed, judge, level_of
from runner.scenario.model import (
    NodeXidStep,
    PatchStep,
    PinMode,
    Scenario,
    ShimSource,
    StepKind,
    ToggleMethod,
    ToggleStep,
    ToggleVia,
)
from runner.sim import podsecurity
from runner.steps.helperpod import HostMount, helper_manifest
from runner.steps.node_xid import NodeXidImpl
from runner.steps.patch import PatchImpl
from runner.steps.registry import REGISTRY
from runner.steps.toggle import MOUNT, ToggleImpl, write_command
from tests.fakes.cluster import FakeCluster

from .conftest import NS, StandInShim, make_scenario

DEPLOY = ObjectRef("apps/v1", "Deployment", NS, "w")
PSA = "pod-security.kubernetes.io/"
RESTRICTED_POD = {"runAsNonRoot": True, "runAsUser": 1000, "seccompProfile": {"type": "RuntimeDefault"}}
RESTRICTED_CONTAINER = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}


def strictest_admitting(pod: dict[str, Any]) -> str:
    """The strictest level whose enforcement the embedded API server admits `pod` under."""
    for level in LEVELS:
        if not podsecurity.admit_pod({PSA + "enforce": level}, pod).forbidden:
            return level
    raise AssertionError("not even privileged admits it")


def predicted(needs: list[PodSecurityNeed]) -> str:
    return max((n.level for n in needs), key=LEVELS.index, default="restricted")


def restricted_workload(cluster: FakeCluster) -> None:
    def harden(dep: dict[str, Any]) -> None:
        spec = dep["spec"]["template"]["spec"]
        spec["securityContext"] = dict(RESTRICTED_POD)
        spec["containers"][0]["securityContext"] = dict(RESTRICTED_CONTAINER)
    cluster.update(DEPLOY, harden)


def template_pod(cluster: FakeCluster) -> dict[str, Any]:
    template = cluster.get(DEPLOY)["spec"]["template"]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": template.get("metadata") or {},
            "spec": template["spec"]}


def patch_step(source: ShimSource) -> PatchStep:
    extra: dict[str, Any] = {"image": "shim:1"} if source is ShimSource.IMAGE else (
        {"host_path": "/opt/cuda-fault"} if source is ShimSource.HOST_PATH else {})
    return PatchStep(StepKind.PATCH, "1-patch", pin=PinMode.PREFERRED, source=source, **extra)


@pytest.mark.parametrize("via", list(ToggleVia))
@pytest.mark.parametrize("source", list(ShimSource))
def test_the_patched_templates_pods_are_admitted_from_the_predicted_level(
        make_ctx, cluster: FakeCluster, via: ToggleVia, source: ShimSource) -> None:
    restricted_workload(cluster)
    assert strictest_admitting(template_pod(cluster)) == "restricted"  # compliant before the run
    step = patch_step(source)
    scenario = make_scenario((step,), toggle_via=via)
    needs = PatchImpl(StandInShim()).pod_security(step, scenario)
    PatchImpl(StandInShim()).run(step, make_ctx(scenario))
    assert strictest_admitting(template_pod(cluster)) == predicted(needs)
    hostpath = via is ToggleVia.HOST_PATH or source is ShimSource.HOST_PATH
    assert predicted(needs) == ("privileged" if hostpath else "restricted")
    if via is ToggleVia.HOST_PATH:
        assert any("settings.toggle-via: configmap" in n.option for n in needs)


@pytest.mark.parametrize("via", list(ToggleVia))
def test_the_toggles_helper_pods_are_admitted_from_the_predicted_level(via: ToggleVia) -> None:
    step = ToggleStep(StepKind.TOGGLE, "3-toggle")
    scenario = make_scenario((step,), toggle_via=via)
    needs = ToggleImpl().pod_security(step, scenario)
    if via is ToggleVia.CONFIGMAP:
        assert needs == []  # no pod at all
        return
    pod = helper_manifest("chaos-toggle-x", NS, "n1", "run", "toggle", write_command(),
                          mounts=(HostMount("/var/lib/cuda-fault", MOUNT),), env={"C": "1"})
    assert strictest_admitting(pod) == predicted(needs) == "privileged"
    assert "settings.toggle-via: configmap" in needs[0].option
    exec_step = ToggleStep(StepKind.TOGGLE, "3-toggle", method=ToggleMethod.EXEC)
    assert ToggleImpl().pod_security(exec_step, scenario) == []  # writes from inside a target pod


def test_the_node_xid_helper_pod_is_privileged_whatever_the_toggle() -> None:
    step = NodeXidStep(StepKind.NODE_XID, "n")
    for via in ToggleVia:
        scenario = make_scenario((step,), toggle_via=via)
        (need,) = NodeXidImpl().pod_security(step, scenario)
        pod = helper_manifest("kmsg", NS, "n1", "run", "kmsg", "echo", privileged=True,
                              mounts=(HostMount("/dev", "/host-dev", "Directory"),))
        assert strictest_admitting(pod) == need.level == "privileged"


def test_judge_refuses_below_the_need_and_warns_at_the_warn_level() -> None:
    need = PodSecurityNeed("privileged", "the toggle step's helper pods", 'hostPath volume "x"',
                           "use settings.toggle-via: configmap")
    assert judge("ns", None, [need]).refusal == ""  # unlabelled: privileged
    assert level_of({PSA + "enforce": "bogus"}, PSA + "enforce") == "restricted"  # as the server reads it
    for level in ("baseline", "restricted"):
        verdict = judge("ns", {PSA + "enforce": level}, [need])
        assert verdict.refusal == (
            f'namespace ns enforces Pod Security "{level}" (label pod-security.kubernetes.io/enforce): '
            "the toggle step's helper pods need privileged (hostPath volume \"x\"); "
            "use settings.toggle-via: configmap")
    warned = judge("ns", {PSA + "warn": "baseline"}, [need])
    assert warned.refusal == ""
    assert warned.warnings
    assert 'warns at Pod Security "baseline"' in warned.warnings[0]
    fine = PodSecurityNeed("restricted", "x")
    assert judge("ns", {PSA + "enforce": "restricted"}, [fine]) == judge("ns", None, [])


def run_scenario(via: ToggleVia) -> Scenario:
    return make_scenario((patch_step(ShimSource.CONFIGMAP), ToggleStep(StepKind.TOGGLE, "3-toggle")),
                         toggle_via=via, expiry=None)


def labelled(cluster: FakeCluster, **labels: str) -> None:
    cluster.add_namespace("chaos-system")
    cluster.update(ObjectRef("v1", "Namespace", None, NS), lambda ns: ns["metadata"].update(
        {"labels": {PSA + k: v for k, v in labels.items()}}))


def test_preflight_refuses_hostpath_toggles_in_a_restricted_namespace(cluster: FakeCluster) -> None:
    labelled(cluster, enforce="restricted", warn="restricted")
    scenario = run_scenario(ToggleVia.HOST_PATH)
    writes = len(cluster.writes())
    with pytest.raises(PreflightError) as refused:
        preflight(cluster, scenario, needs=pod_security_needs(scenario, REGISTRY))
    text = str(refused.value)
    assert text.startswith(f'namespace {NS} enforces Pod Security "restricted" '
                           "(label pod-security.kubernetes.io/enforce): ")
    assert "hostPath" in text
    assert text.endswith("use settings.toggle-via: configmap (no hostPath, no helper pods)")
    assert len(cluster.writes()) == writes  # read-only
    scenario = run_scenario(ToggleVia.CONFIGMAP)
    report = preflight(cluster, scenario, needs=pod_security_needs(scenario, REGISTRY))
    assert report.warnings == ()


def test_preflight_warns_for_the_warn_level_and_an_unreadable_namespace(cluster: FakeCluster) -> None:
    labelled(cluster, warn="restricted")
    scenario = run_scenario(ToggleVia.HOST_PATH)
    needs = pod_security_needs(scenario, REGISTRY)
    report = preflight(cluster, scenario, needs=needs)
    assert len(report.warnings) == 1
    assert "warns at" in report.warnings[0]
    cluster.fail_next("get", Forbidden("namespaces is forbidden", 403, "Forbidden"), kind="Namespace",
                      name=NS)
    report = preflight(cluster, scenario, needs=needs)
    assert report.warnings[0].startswith(f"cannot read namespace {NS} (Forbidden)")
