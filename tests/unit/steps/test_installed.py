"""An install's differences from what a scenario's patch asks for (runner/steps/installed.py), and
the scenario `chaos install` runs (runner/engine/install.py): pure, no cluster."""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

from runner.engine.install import id_of, install_scenario
from runner.kernel.labels import RUN_ID_LABEL, install_id, is_install
from runner.scenario.model import PatchStep, PinMode, ShimSource, WaitStep
from runner.scenario.validate import load_scenario
from runner.steps.patch import PatchImpl, additions, chosen_containers, template_patch
from runner.workload.kinds import templates
from tests.conftest import REPO

SCENARIO = load_scenario(REPO / "scenarios" / "xid79.yaml")


def _deployment() -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "vllm-worker", "namespace": "inference", "resourceVersion": "7"},
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "vllm-worker"}},
                     "template": {"metadata": {"labels": {"app": "vllm-worker"}},
                                  "spec": {"containers": [{"name": "worker", "image": "w"}]}}}}


def _installed() -> tuple[dict[str, Any], str]:
    """The Deployment as `chaos install` leaves it (the install's patch applied by hand)."""
    from runner.sim.patching import apply_json_patch  # the embedded API server's RFC 6902

    obj = _deployment()
    iid = id_of(SCENARIO)
    patch = install_scenario(SCENARIO).steps[0]
    assert isinstance(patch, PatchStep)
    add = additions(patch, SCENARIO, iid, "", "true")
    loc = templates(SCENARIO.target.workload.kind, obj, ())[0]
    ops = template_patch(loc, add, chosen_containers(loc, ()), obj)
    patched: dict[str, Any] = apply_json_patch(copy.deepcopy(obj), ops)
    return patched, iid


def _patch(**changes: Any) -> PatchStep:
    step = SCENARIO.steps[0]
    assert isinstance(step, PatchStep)
    return dataclasses.replace(step, **changes)


def test_the_install_id_is_stable_per_workload_and_marks_the_template() -> None:
    iid = id_of(SCENARIO)
    assert iid == install_id("inference", "Deployment", "vllm-worker")
    assert is_install(iid)
    obj, _ = _installed()
    assert obj["spec"]["template"]["metadata"]["labels"][RUN_ID_LABEL] == iid


def test_install_runs_the_patch_disarmed_and_unpinned_then_waits_for_the_pods() -> None:
    steps = install_scenario(SCENARIO).steps
    assert [type(s) for s in steps] == [PatchStep, WaitStep]
    assert isinstance(steps[0], PatchStep)
    assert steps[0].passthrough
    assert steps[0].pin is PinMode.NONE


def test_the_scenario_itself_fits_its_install_and_a_preferred_pin_is_skipped() -> None:
    obj, iid = _installed()
    assert PatchImpl().install_differences(_patch(), SCENARIO, obj, iid) == []


def test_what_the_install_lacks_is_named() -> None:
    obj, iid = _installed()
    diffs = PatchImpl().install_differences(
        _patch(passthrough=False, pin=PinMode.HARD, source=ShimSource.HOST_PATH, host_path="/opt/shim"),
        SCENARIO, obj, iid)
    text = "; ".join(diffs)
    assert "passthrough: false" in text
    assert "pin: hard" in text
    assert "source: hostPath (the install delivered source: prebuilt)" in text
    other_xid = dataclasses.replace(SCENARIO, fault=dataclasses.replace(SCENARIO.fault, xid=48))
    assert any("CUDA_XID_TYPE" in d for d in PatchImpl().install_differences(_patch(), other_xid, obj, iid))
