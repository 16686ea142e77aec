"""An installed shim (`chaos install`): how a run finds it in the workload, and what it lacks.

Why it exists: "install once, toggle many". A workload whose pod templates already carry the shim
(labelled `chaos.dev/run-id: install-<hash>`, delivered by `chaos install` through the patch step)
must not be patched again by each run: the patch step then reports "already installed" and changes
nothing, and the toggle writes the file or fault map the install's environment points at. A
scenario that asks for something the install does not have (the shim armed from process start, a
hard pin, another source or toggle, other fault options in the environment) is refused in preflight
naming the difference: the template is the truth, compared with what this scenario's patch would
deliver under the install's id. This module reads; it never changes the cluster.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from runner.cluster.protocol import Cluster, KubeObject
from runner.errors import NotFound
from runner.kernel.labels import RUN_ID_LABEL, is_install
from runner.kernel.step import StepContext
from runner.scenario.model import PatchStep, PinMode, Scenario, ShimSource
from runner.steps import faultmap
from runner.workload.kinds import TemplateLocation, pointer_get, templates, workload_ref


def install_of(obj: KubeObject, scenario: Scenario) -> str:
    """The install id the workload's templates carry ('' when none: not installed)."""
    target = scenario.target
    for loc in templates(target.workload.kind, obj, target.workload.services):
        label = str((pointer_get(obj, loc.template_labels) or {}).get(RUN_ID_LABEL, ""))
        if is_install(label):
            return label
    return ""


def read_install(cluster: Cluster, scenario: Scenario) -> tuple[str, KubeObject | None]:
    """(install id or '', the workload as read; None when it does not exist)."""
    try:
        obj = cluster.get(workload_ref(scenario.target))
    except NotFound:
        return "", None
    return install_of(obj, scenario), obj


def current_install(ctx: StepContext) -> str:
    """The install this run's workload carries (remembered in the run's state once found)."""
    if not ctx.state.install_id:
        ctx.state.install_id, _ = read_install(ctx.cluster, ctx.scenario)
    return ctx.state.install_id


def _named(items: Any) -> dict[str, Any]:
    return {str(i.get("name")): i for i in items or [] if isinstance(i, Mapping)}


def source_of(volumes: Mapping[str, Any]) -> str:
    """The shim source a template's volumes say it was delivered with."""
    shim = volumes.get("chaos-shim") or {}
    if "configMap" in shim:
        return ShimSource.PREBUILT.value
    if "hostPath" in shim:
        return ShimSource.HOST_PATH.value
    return ShimSource.COMPILE.value if "chaos-shim-src" in volumes else ShimSource.IMAGE.value


def toggle_of(volumes: Mapping[str, Any]) -> str:
    toggle = volumes.get(faultmap.TOGGLE_VOLUME) or {}
    if "configMap" in toggle:
        return "configmap"
    return f"hostPath ({(toggle.get('hostPath') or {}).get('path', '?')})"


def differences(step: PatchStep, scenario: Scenario, obj: KubeObject, install: str,
                expected_env: Sequence[Mapping[str, Any]], expected_volumes: Sequence[Mapping[str, Any]],
                containers: Any) -> list[str]:
    """What `step` asks for that the install in `obj` does not have (empty: the run may use it).
    `expected_*` are what this scenario's patch would deliver under the install's id;
    `containers(loc)` the container pointers it would inject."""
    out: list[str] = []
    if not step.passthrough:
        out.append("passthrough: false (the install loads the shim disarmed: passthrough: true)")
    if step.pin is PinMode.HARD:
        out.append("pin: hard (a run on an installed workload restarts nothing, so it pins nothing; "
                   "use pin: preferred or none)")
    target = scenario.target
    want_volumes = _named(expected_volumes)
    want_env = _named(expected_env)
    for loc in templates(target.workload.kind, obj, target.workload.services):
        _compare_template(loc, obj, want_volumes, want_env, containers(loc), out)
    seen: list[str] = []
    for item in out:  # one line per difference, however many templates repeat it
        if item not in seen:
            seen.append(item)
    return seen


def _compare_template(loc: TemplateLocation, obj: KubeObject, want_volumes: Mapping[str, Any],
                      want_env: Mapping[str, Any], containers: Sequence[str], out: list[str]) -> None:
    have_volumes = _named(pointer_get(obj, f"{loc.pod_spec}/volumes"))
    if have_volumes.get("chaos-shim") != want_volumes.get("chaos-shim") and (
            source_of(have_volumes) != source_of(want_volumes)):
        out.append(f"source: {source_of(want_volumes)} (the install delivered source: "
                   f"{source_of(have_volumes)})")
    elif have_volumes.get("chaos-shim") != want_volumes.get("chaos-shim"):
        out.append(f"the shim volume differs from the install's ({source_of(have_volumes)})")
    if have_volumes.get(faultmap.TOGGLE_VOLUME) != want_volumes.get(faultmap.TOGGLE_VOLUME):
        out.append(f"settings.toggle-via: {toggle_of(want_volumes)} (the install toggles via "
                   f"{toggle_of(have_volumes)})")
    for pointer in containers:
        have_env = _named(pointer_get(obj, f"{pointer}/env"))
        for name, item in want_env.items():
            if have_env.get(name) != item:
                now = have_env.get(name)
                has = "does not set it" if now is None else f"has {_value(now)}"
                out.append(f"env {name}: the scenario wants {_value(item)}, the install {has} "
                           f"(container {pointer.rsplit('/', 1)[-1]})")


def _value(item: Mapping[str, Any]) -> str:
    return repr(item["value"]) if "value" in item else str({k: v for k, v in item.items() if k != "name"})


def as_install(step: PatchStep) -> PatchStep:
    """The patch step `chaos install` runs for `step`: disarmed, no pin (it outlives any run's node)."""
    return dataclasses.replace(step, passthrough=True, pin=PinMode.NONE)
