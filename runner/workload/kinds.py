"""Workload kinds: their apiVersions, where their pod templates are, how many pods they want, and
the selector of their pods. One table entry per kind.

Why it exists: the patch step changes "the pod template" and cleanup restores it, whether the
workload is a Deployment, a StatefulSet or a DynamoGraphDeployment (one template per service, with a
single `mainContainer`); preflight and the waits ask how many replicas it wants and which pods are
its. Each kind is described once as JSON pointers, so supporting a new kind is a new
`WorkloadShape` in `SHAPES`, not new code. Pure functions over workload dicts; no cluster access.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from runner import jsonpointer
from runner.cluster.protocol import ObjectRef
from runner.errors import PreflightError, StepError
from runner.jsonpointer import escape
from runner.scenario.model import Target, WorkloadKind

UNIT = "{unit}"  # placeholder in a pointer pattern for a per-service (per-unit) kind
# Labels the Dynamo operator puts on the pods of a DynamoGraphDeployment and its services.
DYNAMO_GRAPH_LABEL = "nvidia.com/dynamo-graph-deployment-name"
DYNAMO_COMPONENT_LABEL = "nvidia.com/dynamo-component"


def pointer_get(obj: Any, pointer: str) -> Any:
    """The value at `pointer`, or None when any part is missing."""
    return jsonpointer.get(obj, pointer, None)


@dataclass(frozen=True)
class WorkloadShape:
    """Pointer patterns (with `{unit}` for per-service kinds) into one workload kind."""

    api_version: str
    kind: WorkloadKind
    units: str  # pointer to a map of units (services); "" = the workload is one unit
    restore: str  # the subtree a patch changes and cleanup restores
    template_labels: str  # pod template labels (map)
    pod_spec: str
    containers: str  # a list of containers, or one container when `single_container`
    replicas: str
    single_container: bool = False
    selector: str = "/spec/selector/matchLabels"  # "" = selected by `unit_labels`
    unit_labels: tuple[tuple[str, str], ...] = ()  # (label, value pattern: {name} / {unit})


SHAPES: Mapping[WorkloadKind, WorkloadShape] = {
    WorkloadKind.DEPLOYMENT: WorkloadShape(
        "apps/v1", WorkloadKind.DEPLOYMENT, "", "/spec/template", "/spec/template/metadata/labels",
        "/spec/template/spec", "/spec/template/spec/containers", "/spec/replicas"),
    WorkloadKind.STATEFULSET: WorkloadShape(
        "apps/v1", WorkloadKind.STATEFULSET, "", "/spec/template", "/spec/template/metadata/labels",
        "/spec/template/spec", "/spec/template/spec/containers", "/spec/replicas"),
    WorkloadKind.DYNAMO: WorkloadShape(
        "nvidia.com/v1alpha1", WorkloadKind.DYNAMO, "/spec/services", "/spec/services/{unit}",
        "/spec/services/{unit}/extraPodMetadata/labels", "/spec/services/{unit}/extraPodSpec",
        "/spec/services/{unit}/extraPodSpec/mainContainer", "/spec/services/{unit}/replicas",
        single_container=True, selector="",
        unit_labels=((DYNAMO_GRAPH_LABEL, "{name}"), (DYNAMO_COMPONENT_LABEL, "{unit}"))),
}


@dataclass(frozen=True)
class TemplateLocation:
    """One pod template inside a workload, as JSON pointers (ready for RFC 6902 patches)."""

    unit: str  # the service name ("" for single-template kinds)
    restore: str  # what RestoreJson records and puts back
    template_labels: str
    pod_spec: str
    containers: tuple[str, ...]  # pointer of each container (one for Dynamo's mainContainer)
    container_names: tuple[str, ...]
    selector: str  # label selector of this template's pods
    replicas: str


def shape_of(kind: WorkloadKind) -> WorkloadShape:
    return SHAPES[kind]


def _units(shape: WorkloadShape, obj: Mapping[str, Any], services: Sequence[str]) -> list[str]:
    if not shape.units:
        return [""]
    present = pointer_get(obj, shape.units) or {}
    if not isinstance(present, Mapping):
        raise StepError(f"{shape.kind.value}: {shape.units} is not a map")
    chosen = list(services) if services else sorted(present)
    missing = [s for s in chosen if s not in present]
    if missing:
        raise StepError(f"{shape.kind.value} {obj.get('metadata', {}).get('name')} has no service "
                        f"{', '.join(missing)} (it has {', '.join(sorted(present)) or 'none'})")
    return chosen


def _fill(pattern: str, unit: str) -> str:
    return pattern.replace(UNIT, escape(unit))


def templates(kind: WorkloadKind, obj: Mapping[str, Any], services: Sequence[str] = ()) -> list[
        TemplateLocation]:
    """Every pod template of `obj` the scenario targets (Dynamo: the selected services)."""
    shape = SHAPES[kind]
    name = str(obj.get("metadata", {}).get("name", ""))
    out = []
    for unit in _units(shape, obj, services):
        containers_at = _fill(shape.containers, unit)
        if shape.single_container:
            found = pointer_get(obj, containers_at)
            pointers: tuple[str, ...] = (containers_at,) if isinstance(found, Mapping) else ()
            names: tuple[str, ...] = ("main",) if pointers else ()
        else:
            listed = pointer_get(obj, containers_at) or []
            pointers = tuple(f"{containers_at}/{i}" for i in range(len(listed)))
            names = tuple(str(c.get("name", "")) for c in listed)
        if shape.selector:
            labels = pointer_get(obj, shape.selector) or {}
            selector = ",".join(f"{k}={v}" for k, v in sorted(labels.items()))
        else:
            selector = ",".join(f"{label}={value.replace('{name}', name).replace(UNIT, unit)}"
                                for label, value in shape.unit_labels)
        out.append(TemplateLocation(unit, _fill(shape.restore, unit), _fill(shape.template_labels, unit),
                                    _fill(shape.pod_spec, unit), pointers, names, selector,
                                    _fill(shape.replicas, unit)))
    return out


def desired_replicas(kind: WorkloadKind, obj: Mapping[str, Any], services: Sequence[str] = ()) -> int:
    """How many pods the targeted templates want in all: the sum of their replica counts (a missing
    count means 1, as the API server defaults it). For a DynamoGraphDeployment, the targeted
    services' replicas (all services when none are named), never the pods that happen to exist."""
    total = 0
    for loc in templates(kind, obj, services):
        value = pointer_get(obj, loc.replicas)
        total += 1 if value is None else int(value)
    return total


def workload_ref(target: Target) -> ObjectRef:
    """The workload object a scenario targets."""
    kind = target.workload.kind
    return ObjectRef(SHAPES[kind].api_version, kind.value, target.namespace, target.workload.name)


def selector_of(workload: Mapping[str, Any], target: Target) -> str:
    """The label selector (string form) that picks the targeted pods of `workload`."""
    kind = target.workload.kind
    shape = SHAPES[kind]
    if not shape.selector:  # selected by the operator's labels, per unit
        name = target.workload.name
        terms = [f"{label}={value.replace('{name}', name)}" for label, value in shape.unit_labels
                 if UNIT not in value]
        unit_label = next((label for label, value in shape.unit_labels if UNIT in value), "")
        if target.workload.services and unit_label:
            terms.append(f"{unit_label} in ({','.join(target.workload.services)})")
        return ",".join(terms)
    sel = workload.get("spec", {}).get("selector") or {}
    terms = [f"{k}={v}" for k, v in sorted((sel.get("matchLabels") or {}).items())]
    for expr in sel.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], expr.get("values") or []
        if op == "In":
            terms.append(f"{key} in ({','.join(values)})")
        elif op == "NotIn":
            terms.append(f"{key} notin ({','.join(values)})")
        elif op == "Exists":
            terms.append(key)
        elif op == "DoesNotExist":
            terms.append(f"!{key}")
    if not terms:
        raise PreflightError(f"{workload_ref(target)} has no pod selector")
    return ",".join(terms)
