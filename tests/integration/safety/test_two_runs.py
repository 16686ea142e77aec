"""One run per target, through the real CLI against one `chaos sim up`: while run A holds the
workload's Lease, run B of the same scenario is refused in preflight (exit 3) naming A's run id,
host and start time, and changes nothing; A passes; the workload ends exactly as it began.

Before the leases, B journaled A's patched template as its "original" and the workload kept the
shim for good (issue 13, item 1).
"""

from __future__ import annotations

import json
import re
import socket
from pathlib import Path

from tests.conftest import REPO
from tests.integration.safety.support import (
    KubeReader,
    LiveCli,
    chaos_cli,
    no_traceback,
    report,
    same_as,
    sim_up,
    wait_until,
)

SCENARIO = REPO / "scenarios" / "xid79.yaml"
NS, DEPLOYMENT = "inference", "vllm-worker"
AFTER_PATCH = r"step 2/\d+ started"  # A holds its leases and has patched the template


def test_a_second_run_on_a_held_target_is_refused_and_changes_nothing(tmp_path: Path) -> None:
    with sim_up(tmp_path, SCENARIO) as sim:
        reader = KubeReader(sim.kubeconfig)
        wait_until("the seeded workload to settle", lambda: reader.settled(NS, DEPLOYMENT), 60)
        before = reader.snapshot(NS, DEPLOYMENT, sim.root)
        kube = ["--cluster", "kube", "--kubeconfig", str(sim.kubeconfig)]

        first = LiveCli(["run", str(SCENARIO), *kube, "--report-dir", str(tmp_path / "a")])
        first.wait_line(AFTER_PATCH, timeout=90)
        a_id = re.search(r"\(run (\S+)\)", first.wait_line(r"run started: .* \(run \S+\)"))
        assert a_id is not None
        during = reader.snapshot(NS, DEPLOYMENT)
        assert during.deployment_spec != before.deployment_spec  # A really changed the template

        second = chaos_cli(["run", str(SCENARIO), *kube, "--report-dir", str(tmp_path / "b")],
                           timeout=120)
        text = second.stdout + second.stderr
        no_traceback(text)
        assert second.returncode == 3, text[-3000:]
        assert f"held by run {a_id.group(1)} on host {socket.gethostname()} since 20" in text, text[-3000:]
        assert "one run per target" in text
        b = report(tmp_path / "b")
        assert b["verdict"] == "inconclusive"
        assert all(s["status"] == "skipped" for s in b["steps"])
        b_journal = [json.loads(line) for line in (tmp_path / "b" / "journal.jsonl").read_text().splitlines()]
        undo_kinds = {e["action"]["kind"] for e in b_journal if e.get("type") == "undo"}
        assert undo_kinds <= {"release-lease"}, undo_kinds  # B journaled no change of its own
        # B's refusal left A's changes alone: the template is still A's patched one
        assert reader.snapshot(NS, DEPLOYMENT).deployment_spec == during.deployment_spec

        assert first.finish(180) == 0, first.text[-3000:]
        assert report(tmp_path / "a")["verdict"] == "passed"
        for node in reader.snapshot(NS, DEPLOYMENT).quarantined:
            reader.reset_gpu(node)  # the remediation's quarantine, reset as an operator would
        same_as(reader, before, NS, DEPLOYMENT, sim.root)
