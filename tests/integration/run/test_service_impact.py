"""Service impact through the real CLI on the embedded cluster: what the callers of the inference
service saw before, during and after the GPU failure (the scenarios' background probes, through
the API server's service proxy to the real CUDA workers).

- xid79 with two replicas: every request answered in setup and recovered, requests in fault;
- one replica: the outage the probe measured matches the time from the crash to the replacement
  being Ready (within two probe intervals), and an SLO tighter than that fails the run (exit 1)
  naming the phase, the check, the threshold and what was observed;
- a setup SLO that cannot hold makes the run inconclusive (exit 3).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from subprocess import CompletedProcess

from tests.conftest import REPO

Chaos = Callable[..., CompletedProcess[str]]


def run(chaos: Chaos, scenario: Path, run_dir: Path) -> tuple[CompletedProcess[str], dict]:
    done = chaos(["run", str(scenario), "--cluster", "sim", "--report-dir", str(run_dir)], timeout=240)
    assert "Traceback" not in done.stdout + done.stderr
    return done, json.loads((run_dir / "report.json").read_text())


def copy_scenario(tmp: Path, name: str, *changes: tuple[str, str]) -> Path:
    """A bundled scenario (and the manifests it applies) under tmp, with text replaced."""
    shutil.copytree(REPO / "scenarios" / "manifests", tmp / "manifests")
    text = (REPO / "scenarios" / name).read_text()
    for old, new in changes:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    (tmp / name).write_text(text)
    return tmp / name


def samples(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "probes.jsonl").read_text().splitlines()]


def test_two_replicas_answer_every_request_before_and_after(chaos: Chaos, tmp_path: Path) -> None:
    done, report = run(chaos, REPO / "scenarios" / "xid79.yaml", tmp_path / "run")
    assert done.returncode == 0, done.stdout[-4000:]
    (probe,) = report["probes"]
    phases = probe["phases"]
    assert phases["setup"]["success_rate"] == 1.0, phases["setup"]
    assert phases["recovered"]["success_rate"] == 1.0, phases["recovered"]
    assert phases["fault"]["requests"] > 0
    assert phases["recovered"]["requests"] >= 5  # the pause before cleanup carries requests
    assert all(c["passed"] in (True, None) for c in probe["slo"])
    lines = samples(tmp_path / "run")
    assert len(lines) == probe["requests"]
    assert {line["phase"] for line in lines} >= {"setup", "fault", "recovered"}
    served = {line.get("endpoint") for line in lines if line["ok"]}
    assert len(served) >= 2  # the service proxy spread requests over the endpoints, as they came and went
    assert "Service impact — completions" in " ".join(done.stdout.split())


def test_one_replica_is_down_from_the_crash_until_the_replacement_is_ready(chaos: Chaos,
                                                                            tmp_path: Path) -> None:
    # what the team accepts is 30s; ask for 1s, which one replica cannot give
    scenario = copy_scenario(tmp_path, "xid79-single-replica.yaml",
                             ("fault: {max-outage: 30s}", "fault: {max-outage: 1s}"))
    done, report = run(chaos, scenario, tmp_path / "run")
    assert done.returncode == 1, done.stdout[-4000:]
    (probe,) = report["probes"]
    fault = probe["phases"]["fault"]
    assert fault["success_rate"] < 1
    outage = fault["longest_outage_s"]
    assert outage > 0
    # the crash of the only worker, and its replacement Ready on another node, on the timeline
    armed = next(e["at"] for e in report["timeline"] if e["kind"] == "fault-armed")
    crash = min(e["at"] for e in report["timeline"] if e["kind"] == "pod-crash" and e["at"] >= armed)
    ready = min(e["at"] for e in report["timeline"] if e["kind"] == "pod-ready" and e["at"] > crash)
    assert abs(outage - (ready - crash)) <= 2 * probe["interval_s"], (outage, ready - crash)
    assert fault["recovered_at"] is not None
    assert probe["phases"]["setup"]["success_rate"] == 1.0
    assert probe["phases"]["recovered"]["success_rate"] == 1.0
    # the verdict names the phase, the check, the threshold and what was observed
    assert report["verdict"] == "failed"
    assert report["reason"] == f"SLO missed: probe completions: fault max-outage: observed {outage:.3g}s, " \
                               "threshold 1s"
    assert report["rollback"]["verified"]
    (missed,) = [c for c in probe["slo"] if c["passed"] is False]
    assert (missed["phase"], missed["check"], missed["threshold"], missed["observed"]) == (
        "fault", "max-outage", 1.0, outage)
    junit = (tmp_path / "run" / "junit.xml").read_text()
    assert 'name="probe completions: fault max-outage"' in junit
    # the request in flight when the GPU went: the worker's own 500, before the proxy's 503s
    errors = [line["error"] for line in samples(tmp_path / "run") if not line["ok"]]
    assert any("no endpoints available" in e for e in errors)


def test_a_setup_slo_that_cannot_hold_is_inconclusive(chaos: Chaos, tmp_path: Path) -> None:
    # the probe expects a status the service never gives; no reschedule wait: a short run
    scenario = copy_scenario(tmp_path, "xid79.yaml",
                             ("    request-timeout: 2s\n",
                              "    request-timeout: 2s\n    expect-status: 204\n"),
                             ("  - assert-reschedule: {within: 5m, expect-cordon: true}\n", ""),
                             ("  - pause: {duration: 3s}\n", "  - pause: {duration: 1s}\n"))
    done, report = run(chaos, scenario, tmp_path / "run")
    assert done.returncode == 3, done.stdout[-4000:]
    assert report["verdict"] == "inconclusive"
    assert report["reason"].startswith("the service was not healthy before the fault (probe completions: "
                                       "setup min-success-rate: observed 0, threshold 1")
    assert report["probes"][0]["phases"]["setup"]["errors"]
    assert report["rollback"]["verified"]
