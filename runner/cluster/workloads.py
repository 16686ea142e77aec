"""Where each workload kind keeps its pod templates: one table entry per kind.

Why it exists: the patch step changes "the pod template" and cleanup restores it, whether the
workload is a Deployment, a StatefulSet or a DynamoGraphDeployment (one template per service, with a
single `mainContainer`). Each kind is described once as JSON pointers, so supporting a new kind is a
new `WorkloadShape` in `SHAPES`, not new code. Pure functions over workload dicts plus read-only
helpers; nothing here writes to a cluster. The pod-selection rules themselves live in
`runner/engine/targets.py` (shared with preflight) and are reused, not repeated.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from runner.cluster.protocol import Cluster, KubeObject
from runner.errors import StepError
from runner.scenario.model import Target, WorkloadKind

UNIT = "{unit}"  # placeholder in a pointer pattern for a per-service (per-unit) kind


def escape(token: str) -> str:
    """One RFC 6901 reference token."""
    return token.replace("~", "~0").replace("/", "~1")


def pointer_get(obj: Any, pointer: str) -> Any:
    """The value at `pointer`, or None when any part is missing."""
    current = obj
    for raw in pointer.split("/")[1:] if pointer else []:
        token = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(current, Mapping) and token in current:
            current = current[token]
        elif isinstance(current, list) and token.isdigit() and int(token) < len(current):
            current = current[int(token)]
        else:
            return None
    return current


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
        unit_labels=(("nvidia.com/dynamo-graph-deployment-name", "{name}"),
                     ("nvidia.com/dynamo-component", "{unit}"))),
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
    """How many pods the targeted templates want in all (a missing count means 1, as the API does)."""
    total = 0
    for loc in templates(kind, obj, services):
        value = pointer_get(obj, loc.replicas)
        total += 1 if value is None else int(value)
    return total


def target_workload(cluster: Cluster, target: Target) -> KubeObject:
    """Read the targeted workload (NotFound propagates)."""
    from runner.engine.targets import workload_ref

    return cluster.get(workload_ref(target))


def target_pods(cluster: Cluster, target: Target) -> list[KubeObject]:
    """The workload's pods that are not terminating (the shared rule in runner/engine/targets.py)."""
    from runner.engine import targets

    return targets.target_pods(cluster, target)
