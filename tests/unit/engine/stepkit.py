"""Tiny test-only step kinds for engine tests (the real ones live in runner/steps/, not used here).

Each kind makes one real change to the FakeCluster after journaling its undo, like a real step
would, and can be told (per step name) to misbehave after its change: return FAILED, raise a
StepError, raise an unexpected exception, or block in a watch-driven wait until its deadline or a
signal. With `marker_dir` set, each step writes `<name>.started` when it begins and `<name>.changed`
once its change is made; `announce` gets the same news as "started <name>" / "changed <name>", so
a test driving another process knows when to send a signal.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from runner.cluster.protocol import ObjectRef
from runner.errors import StepError
from runner.jsonpointer import get as resolve_pointer
from runner.kernel.labels import run_labels
from runner.kernel.step import PlannedChange, RunState, StepContext, StepOutcome, StepStatus, StepTable
from runner.kernel.undo import (
    CORE_UNDO_KINDS,
    MISSING,
    DeleteObject,
    RestoreJson,
    SetUnschedulable,
    UndoKinds,
)
from runner.kernel.watch import Watched, wait_for
from runner.scenario.model import (
    AssertStep,
    CleanupStep,
    CordonStep,
    Duration,
    Fault,
    Guardrails,
    Metadata,
    PatchStep,
    RollbackPolicy,
    Scenario,
    Settings,
    StepBase,
    StepKind,
    Target,
    ToggleStep,
    WaitStep,
    WorkloadKind,
    WorkloadRef,
)
from runner.workload.kinds import workload_ref
from runner.workload.views import pod_is_ready
from tests.fakes.cluster import FakeCluster

NS = "ns"
ANNOTATIONS = "/spec/template/metadata/annotations"


@dataclass
class Kit:
    """Shared behaviour switches for the test step kinds."""

    modes: dict[str, str] = field(default_factory=dict)  # step name -> fail|error|raise|block
    marker_dir: Path | None = None
    injections: int = 3  # what the toggle step "sees" (0: the fault never fires)
    ran: list[str] = field(default_factory=list)
    announce: Callable[[str], None] | None = None  # told "<what> <step name>" as steps go

    def mark(self, step: StepBase, what: str) -> None:
        if self.marker_dir is not None:
            (self.marker_dir / f"{step.name}.{what}").write_text("1")
        if self.announce is not None:
            self.announce(f"{what} {step.name}")

    def after_change(self, step: StepBase, ctx: StepContext) -> StepOutcome | None:
        self.mark(step, "changed")
        mode = self.modes.get(step.name, "")
        if mode == "fail":
            return StepOutcome(StepStatus.FAILED, "told to fail")
        if mode == "error":
            raise StepError("told to error")
        if mode == "raise":
            raise RuntimeError("a bug in the step")
        if mode == "block":  # a wait that never holds: ends by deadline or signal
            wait_for(ctx.cluster, Watched.pods(NS, "never=true"), lambda objs: bool(objs),
                     deadline=ctx.deadline, clock=ctx.clock, gate=ctx.gate, what="nothing")
        return None

    def registry(self) -> StepTable:
        return StepTable((_Patch(self), _Wait(self), _Cordon(self), _Toggle(self), _Assert(self),
                          _Cleanup(self)), UndoKinds(CORE_UNDO_KINDS))


class _Base:
    kind: ClassVar[StepKind]

    def __init__(self, kit: Kit) -> None:
        self.kit = kit

    def plan(self, step: StepBase, scenario: Scenario, state: RunState) -> list[PlannedChange]:
        return []

    def run(self, step: StepBase, ctx: StepContext) -> StepOutcome:
        self.kit.ran.append(step.name)
        self.kit.mark(step, "started")
        changes = self.change(step, ctx)
        return self.kit.after_change(step, ctx) or StepOutcome(StepStatus.PASSED, "ok",
                                                                changes=tuple(changes))

    def change(self, step: StepBase, ctx: StepContext) -> list[str]:
        return []


class _Patch(_Base):
    kind = StepKind.PATCH

    def plan(self, step: StepBase, scenario: Scenario, state: RunState) -> list[PlannedChange]:
        return [PlannedChange(str(workload_ref(scenario.target)), "json-patch",
                              [{"op": "add", "path": ANNOTATIONS + "/chaos.dev~1shim",
                                "value": state.target_node}])]

    def change(self, step: StepBase, ctx: StepContext) -> list[str]:
        ref = workload_ref(ctx.scenario.target)
        obj = ctx.cluster.get(ref)
        original = resolve_pointer(obj, ANNOTATIONS)
        ctx.record_undo(RestoreJson(ref, ANNOTATIONS, original))
        value = {} if original == MISSING else dict(original)
        value["chaos.dev/shim"] = ctx.state.target_node
        ctx.cluster.json_patch(ref, [{"op": "add", "path": ANNOTATIONS, "value": value}])
        return [f"annotated {ref}"]


class _Wait(_Base):
    kind = StepKind.WAIT

    def change(self, step: StepBase, ctx: StepContext) -> list[str]:
        wait_for(ctx.cluster, Watched.pods(NS, ctx.state.selector),
                 lambda pods: bool(pods) and all(pod_is_ready(p) for p in pods),
                 deadline=ctx.deadline, clock=ctx.clock, gate=ctx.gate, what="pods")
        return []


class _Cordon(_Base):
    kind = StepKind.CORDON

    def plan(self, step: StepBase, scenario: Scenario, state: RunState) -> list[PlannedChange]:
        return [PlannedChange(f"node {state.target_node}", "cordon")]

    def change(self, step: StepBase, ctx: StepContext) -> list[str]:
        node = ctx.state.resolve_node(getattr(step, "node", ""))
        current = bool(ctx.cluster.get(ObjectRef("v1", "Node", None, node))
                       .get("spec", {}).get("unschedulable", False))
        ctx.record_undo(SetUnschedulable(node, current))
        ctx.cluster.merge_patch(ObjectRef("v1", "Node", None, node), {"spec": {"unschedulable": True}})
        return [f"cordoned {node}"]


class _Toggle(_Base):
    kind = StepKind.TOGGLE

    def plan(self, step: StepBase, scenario: Scenario, state: RunState) -> list[PlannedChange]:
        return [PlannedChange(f"node {state.target_node}", "create helper pod")]

    def change(self, step: StepBase, ctx: StepContext) -> list[str]:
        name = f"chaos-toggle-{ctx.run_id}"
        ref = ObjectRef("v1", "Pod", NS, name)
        ctx.record_undo(DeleteObject(ref))
        ctx.cluster.create({"apiVersion": "v1", "kind": "Pod",
                            "metadata": {"name": name, "namespace": NS, "labels": run_labels(ctx.run_id)},
                            "spec": {"nodeName": ctx.state.target_node,
                                     "containers": [{"name": "toggle", "image": "busybox"}]}})
        ctx.state.armed_nodes[ctx.state.target_node] = ctx.clock.time()
        ctx.state.injections_seen += self.kit.injections
        ctx.timeline("fault-armed", node=ctx.state.target_node)
        return [f"armed {ctx.state.target_node}"]


class _Assert(_Base):
    kind = StepKind.ASSERT


class _Cleanup(_Base):
    kind = StepKind.CLEANUP

    def run(self, step: StepBase, ctx: StepContext) -> StepOutcome:
        self.kit.ran.append(step.name)
        self.kit.mark(step, "started")
        left = ctx.undo_recorded().left
        if left:
            return StepOutcome(StepStatus.FAILED, "; ".join(left))
        return self.kit.after_change(step, ctx) or StepOutcome(StepStatus.PASSED, "clean")


def default_steps(*, cleanup: bool = True, toggle: bool = True) -> list[StepBase]:
    steps: list[StepBase] = [PatchStep(StepKind.PATCH, "1-patch"),
                             WaitStep(StepKind.WAIT, "2-wait"),
                             CordonStep(StepKind.CORDON, "3-cordon")]
    if toggle:
        steps.append(ToggleStep(StepKind.TOGGLE, "4-toggle"))
    steps.append(AssertStep(StepKind.ASSERT, "5-assert"))
    if cleanup:
        steps.append(CleanupStep(StepKind.CLEANUP, "6-cleanup"))
    return steps


def make_scenario(steps: Sequence[StepBase] | None = None, *,
                  rollback: RollbackPolicy = RollbackPolicy.ON_FAILURE, timeout: float = 600,
                  guardrails: Guardrails | None = None, namespace: str = NS,
                  **settings: Any) -> Scenario:
    return Scenario(
        metadata=Metadata("engine-test"),
        target=Target(namespace, WorkloadRef(WorkloadKind.DEPLOYMENT, "w")),
        fault=Fault(),
        settings=Settings(timeout=Duration.of(timeout), rollback=rollback,
                          guardrails=guardrails or Guardrails(), **settings),
        steps=tuple(steps if steps is not None else default_steps()),
        path="engine-test.yaml",
    )


def seed(cluster: FakeCluster, *, replicas: int = 2, ready: bool = True,
         extra: Mapping[str, Any] | None = None) -> FakeCluster:
    """Three Ready nodes and a Deployment `ns/w` with pods on n1 and n2."""
    for node in ("n1", "n2", "n3"):
        cluster.add_node(node)
    cluster.add_namespace(NS)
    cluster.add_deployment("w", NS, replicas=replicas, nodes=["n1", "n2"], ready=ready)
    return cluster
