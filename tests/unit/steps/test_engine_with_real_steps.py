"""The engine running the real step table on a FakeCluster: a full scenario passes, the cluster ends
exactly as it began, and a failing assertion still rolls everything back."""

from __future__ import annotations

from pathlib import Path

from runner.engine.executor import run_scenario
from runner.engine.result import Verdict
from runner.kernel.step import StepTable
from runner.scenario.model import (
    AssertStep,
    CleanupStep,
    CordonStep,
    NodeExpectation,
    PatchStep,
    PinMode,
    ShimSource,
    StepKind,
    ToggleStep,
    WaitFor,
    WaitStep,
)
from runner.settings import RunOptions
from runner.steps.patch import PatchImpl
from runner.steps.registry import REGISTRY
from tests.fakes.cluster import FakeCluster

from .conftest import NS, NodeDisks, StandInShim, make_scenario

XID = "[XID 79 SIM] cudaMalloc -> cudaErrorNoDevice (100)\n"


def registry() -> StepTable:
    return REGISTRY.replacing(PatchImpl(StandInShim()))  # a stand-in for runner/shim.py


def shim_on_nodes(cluster: FakeCluster, disks: NodeDisks) -> None:
    """A stand-in shim: once a node's toggle file says 1, its target pods log an XID line."""
    def react(event: str, obj: dict) -> None:
        if obj.get("kind") != "Pod" or obj.get("status", {}).get("phase") != "Succeeded":
            return
        node = obj["spec"]["nodeName"]
        if (disks.read(node, "/var/lib/cuda-fault/cuda_fault_enabled") or "0").startswith("1"):
            for pod in cluster.objects("Pod", NS):
                if pod["spec"].get("nodeName") == node and "chaos.dev/role" not in pod["metadata"]["labels"]:
                    cluster.add_log(NS, pod["metadata"]["name"], XID)
    cluster.on_change(react)


def steps(expect_cordoned: bool = True) -> tuple:
    return (PatchStep(StepKind.PATCH, "1-patch", source=ShimSource.HOST_PATH, host_path="/opt/shim",
                      pin=PinMode.NONE),
            ToggleStep(StepKind.TOGGLE, "2-toggle"),
            WaitStep(StepKind.WAIT, "3-xid", for_=WaitFor.LOG_LINE, pattern=r"\[XID 79 SIM\]"),
            CordonStep(StepKind.CORDON, "4-cordon"),
            AssertStep(StepKind.ASSERT, "5-assert", node=NodeExpectation(cordoned=expect_cordoned)),
            CleanupStep(StepKind.CLEANUP, "6-cleanup"))


def test_a_full_scenario_passes_and_leaves_the_cluster_as_it_was(cluster: FakeCluster, disks: NodeDisks,
                                                                 clock, tmp_path: Path) -> None:
    shim_on_nodes(cluster, disks)
    original = cluster.dump()
    result = run_scenario(make_scenario(steps(), expiry=0), cluster, RunOptions(run_dir=tmp_path / "run"),
                          clock=clock, steps=registry())
    assert result.verdict is Verdict.PASSED, result.reason
    assert [s.status.value for s in result.steps] == ["passed"] * 6
    assert result.fault.injections_seen >= 1
    assert cluster.dump() == original
    assert disks.read(result.fault.node, "/var/lib/cuda-fault/cuda_fault_enabled") == "0\n"
    kinds = [t.kind for t in result.timeline]
    assert kinds.index("fault-armed") < kinds.index("first-injection") < kinds.index("node-cordoned")


def test_a_failed_assertion_rolls_everything_back(cluster: FakeCluster, disks: NodeDisks, clock,
                                                  tmp_path: Path) -> None:
    shim_on_nodes(cluster, disks)
    original = cluster.dump()
    result = run_scenario(make_scenario(steps(expect_cordoned=False), expiry=0), cluster,
                          RunOptions(run_dir=tmp_path / "run"), clock=clock, steps=registry())
    assert result.verdict is Verdict.FAILED
    assert "5-assert" in result.reason
    assert result.rollback.complete
    assert cluster.dump() == original
    assert disks.read(result.fault.node, "/var/lib/cuda-fault/cuda_fault_enabled") == "0\n"


def test_no_renewal_rearms_a_node_after_the_run_rolled_it_back(cluster: FakeCluster, disks: NodeDisks,
                                                               clock, tmp_path: Path) -> None:
    """The engine stops the dead-man renewer before it undoes anything: however much time passes
    after the run, the node stays disarmed (the renewer runs on the run's clock)."""
    shim_on_nodes(cluster, disks)
    result = run_scenario(make_scenario(steps(), expiry=30), cluster, RunOptions(run_dir=tmp_path / "run"),
                          clock=clock, steps=registry())
    assert result.verdict is Verdict.PASSED, result.reason
    node = result.fault.node
    ran = len(disks.ran)
    clock.advance(600)
    assert len(disks.ran) == ran
    assert disks.read(node, "/var/lib/cuda-fault/cuda_fault_enabled") == "0\n"


def test_a_cordoning_scenario_without_node_patch_is_refused_before_any_change(
        cluster: FakeCluster, disks: NodeDisks, clock, tmp_path: Path) -> None:
    """The API server says (SelfSubjectAccessReview) this client may not patch nodes: refused in
    preflight, naming the missing right and deploy/rbac-cordon.yaml; nothing written at all."""
    cluster.deny("patch", "nodes")
    original = cluster.dump()
    result = run_scenario(make_scenario(steps(), expiry=0), cluster, RunOptions(run_dir=tmp_path / "run"),
                          clock=clock, steps=registry())
    assert result.verdict is Verdict.INCONCLUSIVE
    assert result.exit_code == 3
    assert 'cannot patch resource "nodes"' in result.reason
    assert "kubectl apply -f deploy/rbac-cordon.yaml" in result.reason
    assert "nothing was changed" in result.reason
    assert ("can_i", "nodes patch") in cluster.calls
    assert cluster.writes() == []
    assert cluster.dump() == original


def test_only_a_scenario_that_cordons_asks_about_node_patch(cluster: FakeCluster, disks: NodeDisks,
                                                            clock, tmp_path: Path) -> None:
    """Without a cordon/uncordon step the run never patches a node (a remediation's cordon is the
    cluster's own), so the grant is neither asked about nor needed."""
    shim_on_nodes(cluster, disks)
    cluster.deny("patch", "nodes")
    no_cordon = tuple(s for s in steps(expect_cordoned=False) if s.kind is not StepKind.CORDON)
    result = run_scenario(make_scenario(no_cordon, expiry=0), cluster, RunOptions(run_dir=tmp_path / "run"),
                          clock=clock, steps=registry())
    assert result.verdict is Verdict.PASSED, result.reason
    assert not [c for c in cluster.calls if c[0] == "can_i"]
    assert not [c for c in cluster.writes() if c[1].startswith("Node ")]
