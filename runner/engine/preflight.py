"""Preflight: refuse unsafe or meaningless runs before anything is changed.

Checks the guardrails (namespace allow/deny, with system namespaces denied by default; how many
nodes and pods the run may affect; the last healthy replica), the dead-man expiry against its
renewals, that the state namespace exists and that a scenario which cordons may patch nodes (a
SelfSubjectAccessReview), the target namespace's Pod Security levels against what the steps would
create (their `PodSecurityNeed`s, runner/kernel/admission.py: a refused need is a refusal, a `warn`
one a warning), resolves the target node, and verifies the workload exists and is healthy. Any refusal
is a PreflightError (verdict inconclusive, exit 3). Read-only: it never changes the cluster.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from runner.cluster.protocol import Cluster, ObjectRef
from runner.errors import Forbidden, NotFound, PreflightError, StepError
from runner.kernel.admission import PodSecurityNeed, judge
from runner.scenario.checks import expiry_too_short
from runner.scenario.model import (
    TARGET_NODE,
    Guardrails,
    PatchStep,
    PinMode,
    Scenario,
    StepKind,
)
from runner.workload.kinds import desired_replicas, selector_of, workload_ref
from runner.workload.targets import pick_target_node, read_workload, target_pods
from runner.workload.views import node_of, pod_is_ready

# Step kinds that change something on the node they name (their `node` field).
NODE_AFFECTING = (StepKind.TOGGLE, StepKind.CORDON, StepKind.DELETE_PODS, StepKind.NODE_XID)
# Step kinds that patch a Node themselves (spec.unschedulable, and back in their undo): they need a
# cluster-wide node patch grant that nothing else a run does needs (deploy/rbac-cordon.yaml).
PATCHES_NODES = (StepKind.CORDON, StepKind.UNCORDON)
CORDON_RBAC = "deploy/rbac-cordon.yaml"


@dataclass(frozen=True)
class PreflightReport:
    workload: str
    selector: str
    target_node: str
    desired: int
    ready: int
    nodes_affected: tuple[str, ...]
    placements: dict[str, str] = field(default_factory=dict)  # pod -> node
    warnings: tuple[str, ...] = ()  # what holds but deserves saying (a Pod Security warn level)

    def to_data(self) -> dict[str, Any]:
        return {"workload": self.workload, "selector": self.selector, "target_node": self.target_node,
                "desired": self.desired, "ready": self.ready,
                "nodes_affected": list(self.nodes_affected), "placements": dict(self.placements),
                "warnings": list(self.warnings)}


def check_namespace(namespace: str, guardrails: Guardrails) -> None:
    """Allow-list first (when set, only those); then the deny list, unless explicitly allowed."""
    if guardrails.allow_namespaces and namespace not in guardrails.allow_namespaces:
        raise PreflightError(f"namespace {namespace} is not in guardrails.allow_namespaces "
                             f"({', '.join(guardrails.allow_namespaces)})")
    if namespace in guardrails.deny_namespaces and namespace not in guardrails.allow_namespaces:
        raise PreflightError(f"namespace {namespace} is denied by the guardrails (system namespaces "
                             "are denied unless listed in guardrails.allow_namespaces)")


def check_state_namespace(cluster: Cluster, namespace: str) -> None:
    """Journals' cluster copies and the runs' Leases live there; without it a run could neither
    be recovered from another machine nor keep a second run off its target."""
    try:
        cluster.get(ObjectRef("v1", "Namespace", None, namespace))
    except NotFound:
        raise PreflightError(
            f"the state namespace {namespace} does not exist: chaos keeps journals and the runs' "
            f"Leases there. Create it with `kubectl apply -f deploy/rbac.yaml` (or `kubectl create "
            f"namespace {namespace}`), or set settings.state-namespace") from None


def check_node_patch_grant(cluster: Cluster, scenario: Scenario) -> None:
    """A scenario that cordons or uncordons must be allowed to patch nodes, or its cordon step
    would fail halfway through the run: ask the API server (a SelfSubjectAccessReview) first."""
    steps = [s.name for s in scenario.steps if s.kind in PATCHES_NODES]
    if not steps:
        return
    try:
        allowed = cluster.can_i("patch", "nodes")
    except NotFound:
        return  # a server without access reviews: the step itself is refused cleanly if it must be
    if not allowed:
        raise PreflightError(
            f"step {steps[0]} cordons or uncordons a node, but this client may not patch nodes (it "
            f'cannot patch resource "nodes" in API group "" at the cluster scope): grant it with '
            f"`kubectl apply -f {CORDON_RBAC}`; nothing was changed")


def check_pod_security(cluster: Cluster, namespace: str, needs: Sequence[PodSecurityNeed]) -> list[str]:
    """Refuse when the namespace's enforce level would refuse what the steps create (pods are
    checked at creation, so a patched template would be accepted and its pods refused mid-run);
    returns the warnings (its warn level, or a namespace we may not read)."""
    if not needs:
        return []
    try:
        labels = cluster.get(ObjectRef("v1", "Namespace", None, namespace))["metadata"].get("labels")
    except NotFound:
        return []  # read_workload says what is missing
    except Forbidden:
        return [f"cannot read namespace {namespace} (Forbidden), so its Pod Security level is not "
                f"known: {'; '.join(sorted({n.what + ' need ' + n.level for n in needs}))}"]
    verdict = judge(namespace, labels, needs)
    if verdict.refusal:
        raise PreflightError(verdict.refusal)
    return list(verdict.warnings)


def affected_nodes(scenario: Scenario, target_node: str) -> tuple[str, ...]:
    """Nodes the steps would touch: the target node plus any node a node-changing step names."""
    nodes = {target_node}
    for step in scenario.steps:
        if step.kind in NODE_AFFECTING:
            name = str(getattr(step, "node", "") or "")
            if name or step.kind is not StepKind.DELETE_PODS:
                nodes.add(target_node if name in (TARGET_NODE, "") else name)
    return tuple(sorted(nodes))


def preflight(cluster: Cluster, scenario: Scenario, *, yes: bool = False,
              needs: Sequence[PodSecurityNeed] = ()) -> PreflightReport:
    """Run every check; PreflightError names the first that does not hold. `needs`: what the
    steps' pods need of Pod Security admission (the engine asks the step table)."""
    target = scenario.target
    guard = scenario.settings.guardrails
    check_namespace(target.namespace, guard)
    too_short = expiry_too_short(scenario.settings)  # CHAOS_FAULT_EXPIRY may have changed it
    if too_short:
        raise PreflightError(too_short)
    check_state_namespace(cluster, scenario.settings.state_namespace)
    check_node_patch_grant(cluster, scenario)
    warnings = check_pod_security(cluster, target.namespace, needs)
    workload = read_workload(cluster, target)
    selector = selector_of(workload, target)
    pods = target_pods(cluster, target, selector)
    try:
        desired = desired_replicas(target.workload.kind, workload, target.workload.services)
    except StepError as exc:  # e.g. a named Dynamo service the graph does not have
        raise PreflightError(str(exc)) from None
    ready = [p for p in pods if pod_is_ready(p)]
    name = str(workload_ref(target))
    if desired < 1:
        raise PreflightError(f"{name} wants no replicas: there is nothing to test")
    if len(ready) < desired:
        raise PreflightError(f"{name} is not healthy before the fault: {len(ready)}/{desired} pods "
                             "Ready (a precondition that does not hold proves nothing)")
    if len(pods) > guard.max_pods:
        raise PreflightError(f"{name} has {len(pods)} pods, more than guardrails.max_pods "
                             f"({guard.max_pods})")
    node = pick_target_node(cluster, target, pods)
    nodes = affected_nodes(scenario, node)
    if len(nodes) > guard.max_nodes:
        raise PreflightError(f"the run would affect {len(nodes)} nodes ({', '.join(nodes)}), more "
                             f"than guardrails.max_nodes ({guard.max_nodes})")
    if not (yes or guard.allow_last_replica):
        pinned = any(isinstance(s, PatchStep) and s.pin is not PinMode.NONE for s in scenario.steps)
        elsewhere = [p for p in ready if node_of(p) != node]
        if len(ready) <= 1:
            raise PreflightError(f"{name} has a single healthy replica; the fault would take the "
                                 "last one (pass --yes or set guardrails.allow_last_replica)")
        if not pinned and not elsewhere:
            raise PreflightError(f"every healthy replica of {name} runs on {node}; the fault would "
                                 "take the last one (pass --yes or set guardrails.allow_last_replica)")
    placements = {str(p["metadata"]["name"]): node_of(p) for p in pods}
    return PreflightReport(name, selector, node, desired, len(ready), nodes, placements, tuple(warnings))
