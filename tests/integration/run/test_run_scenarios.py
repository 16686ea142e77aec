"""`chaos run` end to end on the embedded cluster, through the real CLI: every bundled scenario
passes with the outcome its XID calls for (and its probe shows the service answering once the
workers are back), and a workload that cannot recover fails cleanly."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from subprocess import CompletedProcess

import jsonschema
import pytest

from runner import shimdist
from runner.xid import CATALOGUE, Outcome

REPO = Path(__file__).resolve().parents[3]
SCENARIOS = sorted(p.name for p in (REPO / "scenarios").glob("*.yaml"))
Chaos = Callable[..., CompletedProcess[str]]


def run(chaos: Chaos, scenario: Path, run_dir: Path) -> tuple[CompletedProcess[str], dict]:
    done = chaos(["run", str(scenario), "--cluster", "sim", "--report-dir", str(run_dir)],
                 timeout=240)
    assert "Traceback" not in done.stdout + done.stderr
    report = json.loads((run_dir / "report.json").read_text())
    return done, report


def test_every_bundled_scenario_is_covered() -> None:
    assert len(SCENARIOS) >= 7
    assert {f"xid{n}.yaml" for n in CATALOGUE} <= set(SCENARIOS)


@pytest.mark.parametrize("name", SCENARIOS)
def test_bundled_scenario_passes_with_the_xids_outcome(chaos: Chaos, tmp_path: Path, name: str) -> None:
    done, report = run(chaos, REPO / "scenarios" / name, tmp_path / "run")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert done.stdout.startswith("cluster: embedded cluster at http://127.0.0.1:")
    assert report["verdict"] == "passed"
    assert report["cluster"].startswith("embedded cluster at http://127.0.0.1:")
    assert report["fault"]["injections_seen"] >= 1  # the shim really fired in a real process
    assert all(s["status"] == "passed" for s in report["steps"])
    cleanup = next(s for s in report["steps"] if s["kind"] == "cleanup")
    assert cleanup["message"] == "everything the run changed is back"
    assert not report["rollback"]["leftovers"]
    xid = CATALOGUE[report["fault"]["xid"]]
    kinds = {e["kind"] for e in report["timeline"]}
    armed = report["fault"]["node"]
    ready_nodes = {e["node"] for e in report["timeline"] if e["kind"] == "pod-ready"}
    if xid.outcome is Outcome.RESCHEDULE:
        assert {"fault-armed", "pod-crash", "node-cordoned", "rescheduled"} <= kinds
        assert ready_nodes  # replacements came up...
        assert armed not in ready_nodes  # ...elsewhere
    else:
        assert "node-cordoned" not in kinds  # a process-scoped fault leaves the node alone
        assert any(s["kind"] == "assert" and s["status"] == "passed" for s in report["steps"])
    if name.endswith("-one-gpu.yaml"):
        four_to_each_serving_node_before_arming(report)
    if name == "xid79.yaml":
        the_prebuilt_shim_was_delivered(report)
    if name == "xid79-one-gpu.yaml":
        one_gpu_of_four_fell_off(report)
    if name == "xid94-one-gpu.yaml":
        only_that_gpus_worker_restarted(report)
    what_the_callers_saw(report, tmp_path / "run")
    for name_ in ("junit.xml", "summary.md", "report.html"):
        assert (tmp_path / "run" / name_).stat().st_size > 0
    suite = ET.parse(tmp_path / "run" / "junit.xml").getroot()
    assert suite.find(".//failure") is None


def what_the_callers_saw(report: dict, run_dir: Path) -> None:
    """Every bundled scenario's probe ran the whole run: requests in setup, fault and recovered
    (the pause before cleanup), every one answered once the workers were back, no SLO missed,
    every request in probes.jsonl; a streaming probe timed its first byte and chunks."""
    (probe,) = report["probes"]
    phases = probe["phases"]
    assert all(phases[p]["requests"] > 0 for p in ("setup", "fault", "recovered")), phases
    assert phases["recovered"]["success_rate"] == 1.0, phases["recovered"]
    assert [c for c in probe["slo"] if c["passed"] is False] == []
    assert len((run_dir / "probes.jsonl").read_text().splitlines()) == probe["requests"]
    if probe["stream"]:
        assert phases["recovered"]["ttfb_p50_ms"] is not None
        assert phases["recovered"]["chunk_gap_p95_ms"] is not None


def evidence(report: dict, step_kind: str, kind: str) -> list[dict]:
    return [e for s in report["steps"] if s["kind"] == step_kind for e in s["evidence"] if e["kind"] == kind]


def four_to_each_serving_node_before_arming(report: dict) -> None:
    """The one-GPU scenarios rest on a full target node: the patch's rollout must put the eight
    workers four to each serving node, none on the spare (a rolling update raced and sometimes left
    three on the target, so "4 Ready on the target" could never hold)."""
    (before,) = [e for e in evidence(report, "toggle", "placement") if "before arming" in e["summary"]]
    per_node: dict[str, int] = {}
    for pod in before["data"]["pods"]:
        per_node[pod["node"]] = per_node.get(pod["node"], 0) + 1
    assert sorted(per_node.values()) == [4, 4], per_node
    assert per_node.get(report["fault"]["node"]) == 4, per_node


def the_prebuilt_shim_was_delivered(report: dict) -> None:
    """The default source: the shipped libraries in a ConfigMap (no init container, no image); the
    injections the run saw came from them (the pods had no other shim)."""
    (note,) = [e for e in evidence(report, "patch", "note") if "libraries" in e["data"]]
    assert note["data"]["preload"] == "/cuda-fault/$PLATFORM/cuda_intercept.so"
    for arch, data in shimdist.libraries().items():
        assert note["data"]["libraries"][arch].startswith(f"<{len(data)} bytes, sha256 ")
    patch_step = next(s for s in report["steps"] if s["kind"] == "patch")
    assert any("libraries" in c and c.startswith("created ConfigMap") for c in patch_step["changes"])
    (patches,) = [e["data"]["patches"] for e in evidence(report, "patch", "object")]
    assert "initContainers" not in json.dumps(patches)


def images_in(value: object) -> list[str]:
    if isinstance(value, dict):
        own = [str(v) for k, v in value.items() if k == "image"]
        return own + [i for v in value.values() for i in images_in(v)]
    if isinstance(value, list):
        return [i for v in value for i in images_in(v)]
    return []


def test_default_plan_has_no_init_container_and_no_image(chaos: Chaos) -> None:
    """`chaos plan scenarios/xid79.yaml`: the prebuilt shim needs nothing but the workload's image."""
    text = chaos(["plan", str(REPO / "scenarios" / "xid79.yaml")])
    assert text.returncode == 0, text.stdout + text.stderr
    assert "initContainers" not in text.stdout
    assert '"image"' not in text.stdout
    assert "create ConfigMap inference/chaos-shim-<run-id>" in text.stdout
    assert "/cuda-fault/$PLATFORM/cuda_intercept.so" in text.stdout
    done = chaos(["plan", str(REPO / "scenarios" / "xid79.yaml"), "-o", "json"])
    assert done.returncode == 0, done.stderr
    items = json.loads(done.stdout)
    assert images_in(items) == []
    assert not [op for i in items for c in i["changes"] if isinstance(c["detail"], list)
                for op in c["detail"] if "initContainers" in str(op.get("path", ""))]
    (configmap,) = [c for c in items[0]["changes"] if c["action"] == "create"]
    assert set(configmap["detail"]["binaryData"]) == set(shimdist.ARCHES)


def one_gpu_of_four_fell_off(report: dict) -> None:
    """XID 79 on GPU 2: only the worker holding it crashed; the others on the node were drained
    without a crash, and all eight are Ready elsewhere (the Recreate rollout put four on the node)."""
    (placement,) = [e for e in evidence(report, "assert-reschedule", "placement") if "crashed" in e["data"]]
    assert len(placement["data"]["crashed"]) == 1, placement
    assert len(placement["data"]["drained"]) == 3, placement
    crashed = {e["pod"] for e in report["timeline"] if e["kind"] == "pod-crash"}
    assert crashed == set(placement["data"]["crashed"])
    toggle = next(e for e in evidence(report, "toggle", "note") if "gpus" in e["data"])
    assert toggle["data"]["gpus"] == [2]
    assert toggle["data"]["gpus_as_written"][0].startswith("GPU-")  # the node's index 2, by UUID


def only_that_gpus_worker_restarted(report: dict) -> None:
    """XID 94 on GPU 2: one worker restarted in place; the node was not cordoned; every other worker
    (on that node too) has restart count 0."""
    (seen,) = [e for s in report["steps"] if s["name"] == "recovered-in-place" for e in s["evidence"]]
    restarts = sorted(p["restarts"] for p in seen["data"]["pods"])
    assert restarts == [0] * 7 + [1], seen["data"]["pods"]
    node = report["fault"]["node"]
    assert sum(1 for p in seen["data"]["pods"] if p["node"] == node) == 4


def test_a_workload_that_cannot_recover_fails_and_rolls_back(chaos: Chaos, tmp_path: Path) -> None:
    done, report = run(chaos, Path(__file__).parent / "no-healthy-node.yaml", tmp_path / "run")
    assert done.returncode == 1, done.stdout[-3000:]
    assert report["verdict"] == "failed"
    assert "not rescheduled within 8s" in report["reason"]
    assert "1/2 replicas Ready on other nodes" in report["reason"]
    assert report["rollback"]["ran"]
    assert report["rollback"]["verified"]
    assert not report["rollback"]["leftovers"]
    assert all(u["ok"] for u in report["rollback"]["undone"])
    undone = " ".join(u["description"] for u in report["rollback"]["undone"])
    assert "revert Deployment inference/vllm-worker /spec/template/" in undone
    assert "disarm the fault on node" in undone
    schema = json.loads((REPO / "schema" / "report.schema.json").read_text())
    jsonschema.validate(report, schema)
