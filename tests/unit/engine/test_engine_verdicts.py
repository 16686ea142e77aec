"""The verdict table (DESIGN.md §6): one scenario designed to produce each verdict and exit code,
plus preflight refusals and the journal's handling of a torn last line."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from runner.cluster.protocol import ObjectRef
from runner.engine.executor import dry_run, run_with_signals
from runner.engine.journal import mirror_name, parse_journal, read_journal
from runner.engine.leases import ENGINE_UNDO_KINDS
from runner.engine.recover import recover
from runner.engine.result import RunResult, Verdict
from runner.errors import ChaosError, PreflightError, Unavailable
from runner.kernel.undo import CORE_UNDO_KINDS, UndoKinds
from runner.scenario.model import Guardrails, PatchStep, PinMode, StepKind
from runner.settings import RunOptions
from runner.workload.targets import pick_target_node, target_pods
from tests.fakes.clock import FakeClock
from tests.fakes.cluster import FakeCluster
from tests.unit.engine.stepkit import NS, Kit, default_steps, make_scenario, seed

KINDS = UndoKinds(CORE_UNDO_KINDS).including(*ENGINE_UNDO_KINDS)  # what the test runs journal


def test_passed_exit_0(run: Callable[..., RunResult]) -> None:
    result = run(make_scenario())
    assert (result.verdict, result.exit_code) == (Verdict.PASSED, 0)


def test_failed_exit_1(run: Callable[..., RunResult], kit: Kit) -> None:
    kit.modes["5-assert"] = "fail"
    result = run(make_scenario())
    assert (result.verdict, result.exit_code) == (Verdict.FAILED, 1)


def test_fault_never_armed_is_inconclusive_exit_3(run: Callable[..., RunResult], kit: Kit,
                                                  cluster: FakeCluster) -> None:
    before = cluster.dump()
    kit.injections = 0
    result = run(make_scenario())
    assert (result.verdict, result.exit_code) == (Verdict.INCONCLUSIVE, 3)
    assert "never armed" in result.reason
    assert cluster.dump() == before


def test_failed_assertion_without_injection_is_inconclusive(run: Callable[..., RunResult],
                                                            kit: Kit) -> None:
    kit.injections = 0
    kit.modes["5-assert"] = "fail"
    result = run(make_scenario())
    assert result.verdict is Verdict.INCONCLUSIVE
    assert "never fired" in result.reason


def test_error_never_passes_even_without_fault(run: Callable[..., RunResult], kit: Kit) -> None:
    kit.modes["2-wait"] = "error"
    result = run(make_scenario(default_steps(toggle=False)))
    assert (result.verdict, result.exit_code) == (Verdict.FAILED, 1)


def test_scenario_without_arming_can_pass(run: Callable[..., RunResult], kit: Kit) -> None:
    kit.injections = 0
    result = run(make_scenario(default_steps(toggle=False)))
    assert result.verdict is Verdict.PASSED


def test_interrupted_exit_4(cluster: FakeCluster, clock: FakeClock, kit: Kit,
                            tmp_path: Path) -> None:
    import os
    import signal

    before = cluster.dump()
    kit.modes["3-cordon"] = "block"
    clock.call_later(1, lambda: os.kill(os.getpid(), signal.SIGTERM))
    result = run_with_signals(make_scenario(), cluster, RunOptions(run_dir=tmp_path / "run"),
                              steps=kit.registry(), clock=clock)
    assert (result.verdict, result.exit_code) == (Verdict.INTERRUPTED, 4)
    assert "SIGTERM" in result.reason
    assert cluster.dump() == before


def test_rollback_incomplete_exit_5(run: Callable[..., RunResult], kit: Kit,
                                    cluster: FakeCluster) -> None:
    kit.modes["4-toggle"] = "fail"
    from runner.engine.events import RunListener

    class Break(RunListener):
        def rollback_started(self, pending: list[str]) -> None:
            cluster.fail_next("merge_patch", Unavailable("down"), kind="Node")

    result = run(make_scenario(), listener=Break())
    assert (result.verdict, result.exit_code) == (Verdict.ROLLBACK_INCOMPLETE, 5)
    assert any("n1" in item for item in result.rollback.leftovers)


@pytest.mark.parametrize(("namespace", "guard", "why"), [
    ("kube-system", Guardrails(), "denied"),
    ("gpu-operator", Guardrails(), "denied"),
    ("ns", Guardrails(allow_namespaces=("other",)), "allow_namespaces"),
    ("ns", Guardrails(max_pods=1), "max_pods"),
])
def test_guardrails_refuse_and_change_nothing(namespace: str, guard: Guardrails, why: str,
                                              run: Callable[..., RunResult],
                                              cluster: FakeCluster) -> None:
    if namespace != NS:
        cluster.add_deployment("w", namespace, replicas=2, nodes=["n1", "n2"])
    result = run(make_scenario(guardrails=guard, namespace=namespace))
    assert (result.verdict, result.exit_code) == (Verdict.INCONCLUSIVE, 3)
    assert why in result.reason
    assert cluster.writes() == []


def test_allowed_system_namespace_runs(run: Callable[..., RunResult], cluster: FakeCluster) -> None:
    cluster.add_deployment("w", "kube-system", replicas=2, nodes=["n1", "n2"])
    result = run(make_scenario(guardrails=Guardrails(allow_namespaces=("kube-system",)),
                               namespace="kube-system", steps=[]))
    assert result.verdict is Verdict.PASSED


def test_unhealthy_workload_is_a_precondition_that_does_not_hold(tmp_path: Path, kit: Kit) -> None:
    clock = FakeClock()
    cluster = seed(FakeCluster(clock=clock), ready=False)
    result = run_with_signals(make_scenario(), cluster, RunOptions(run_dir=tmp_path / "r"),
                              steps=kit.registry(), clock=clock)
    assert result.exit_code == 3
    assert "not healthy" in result.reason
    assert kit.ran == []


def test_last_replica_needs_yes(run: Callable[..., RunResult], kit: Kit, tmp_path: Path) -> None:
    clock = FakeClock()
    cluster = seed(FakeCluster(clock=clock), replicas=1)
    refused = run(make_scenario(), cluster=cluster)
    assert refused.exit_code == 3
    assert "last" in refused.reason
    allowed = run(make_scenario(), cluster=cluster,
                  options=RunOptions(run_dir=tmp_path / "yes", yes=True))
    assert allowed.verdict is Verdict.PASSED


def test_unpinned_fault_on_the_only_node_with_replicas_needs_yes(run: Callable[..., RunResult]) -> None:
    clock = FakeClock()
    cluster = FakeCluster(clock=clock)
    cluster.add_node("n1")
    cluster.add_deployment("w", NS, replicas=2, nodes=["n1"])
    steps = [PatchStep(StepKind.PATCH, "1-patch", pin=PinMode.NONE), *default_steps()[1:]]
    result = run(make_scenario(steps), cluster=cluster)
    assert result.exit_code == 3
    assert "every healthy replica" in result.reason


def test_target_node_auto_picks_ready_node_running_target_pod() -> None:
    cluster = seed(FakeCluster())
    scenario = make_scenario()
    assert pick_target_node(cluster, scenario.target, target_pods(cluster, scenario.target, "app=w")) == "n1"
    cluster.set_node_ready("n1", False)
    assert pick_target_node(cluster, scenario.target, target_pods(cluster, scenario.target, "app=w")) == "n2"
    cluster.merge_patch(ObjectRef("v1", "Node", None, "n2"), {"spec": {"unschedulable": True}})
    with pytest.raises(PreflightError):
        pick_target_node(cluster, scenario.target, target_pods(cluster, scenario.target, "app=w"))


def test_dry_run_is_preflight_plus_plan_and_changes_nothing(kit: Kit, tmp_path: Path) -> None:
    cluster = seed(FakeCluster())
    found = dry_run(make_scenario(), cluster, RunOptions(), kit.registry())
    assert found.exit_code == 0
    assert found.preflight is not None
    assert found.preflight.target_node == "n1"
    assert found.plan[0].changes[0].detail[0]["value"] == "n1"
    assert cluster.writes() == []
    assert kit.ran == []


def test_truncated_last_journal_line_is_ignored_with_a_warning(run: Callable[..., RunResult],
                                                               kit: Kit, cluster: FakeCluster,
                                                               tmp_path: Path) -> None:
    before = cluster.dump()
    kit.modes["5-assert"] = "fail"
    from runner.scenario.model import RollbackPolicy
    result = run(make_scenario(rollback=RollbackPolicy.NEVER))
    path = tmp_path / "run" / "journal.jsonl"
    lines = path.read_text().splitlines(keepends=True)
    undo_lines = [i for i, ln in enumerate(lines)
                  if '"type":"undo"' in ln and '"step":"<lease>"' not in ln]
    # a process killed while writing its 3rd undo entry: that line is torn, nothing after it
    torn = lines[undo_lines[2]][:25]
    path.write_text("".join(lines[:undo_lines[2]]) + torn)
    contents = read_journal(path, KINDS)
    assert len(contents.warnings) == 1
    assert "truncated" in contents.warnings[0]
    assert len([p for p in contents.pending() if p.step != "<lease>"]) == 2
    # the torn entry's change (the toggle pod) was never made, as write-ahead promises; here it
    # was, so delete it by hand as the dead process would not have created it
    cluster.delete(ObjectRef("v1", "Pod", NS, f"chaos-toggle-{result.run_id}"))
    recovered = recover(cluster, KINDS, run_dir=tmp_path / "run")
    assert recovered.exit_code == 0, recovered.lines()
    assert recovered.runs[0].warnings
    assert cluster.dump() == before
    assert read_journal(path, KINDS).pending() == []


def test_corrupt_line_in_the_middle_is_an_error() -> None:
    good = json.dumps({"seq": 1, "type": "run-start", "run_id": "r"})
    with pytest.raises(ChaosError):
        parse_journal(f"{good}\n{{broken\n{good}\n", KINDS)


def test_recover_from_cluster_copy_and_all(kit: Kit, tmp_path: Path) -> None:
    from runner.scenario.model import RollbackPolicy

    clock = FakeClock()
    cluster = seed(FakeCluster(clock=clock))
    cluster.add_deployment("w", "ns2", replicas=2, nodes=["n2", "n3"])
    before = cluster.dump()
    kit.modes["5-assert"] = "fail"
    ids = []
    for ns in (NS, "ns2"):
        r = run_with_signals(make_scenario(rollback=RollbackPolicy.NEVER, namespace=ns,
                                           steps=default_steps()[:1] + default_steps()[4:5]),
                             cluster, RunOptions(run_dir=tmp_path / ns), steps=kit.registry(),
                             clock=clock)
        ids.append(r.run_id)
    assert cluster.dump() != before
    one = recover(cluster, KINDS, run_id=ids[0])
    assert [r.run_id for r in one.runs] == [ids[0]]
    assert one.changed
    assert [o["metadata"]["name"] for o in cluster.objects("ConfigMap")] == [mirror_name(ids[1])]
    everything = recover(cluster, KINDS, all_runs=True)
    assert [r.run_id for r in everything.runs] == [ids[1]]
    assert cluster.dump() == before
    again = recover(cluster, KINDS, all_runs=True)
    assert again.runs == ()
    assert not again.changed
    assert "nothing to recover" in again.lines()[0]


def test_run_dir_with_unrecovered_journal_is_refused(run: Callable[..., RunResult], kit: Kit,
                                                     tmp_path: Path) -> None:
    from runner.scenario.model import RollbackPolicy

    kit.modes["5-assert"] = "fail"
    run(make_scenario(rollback=RollbackPolicy.NEVER))
    with pytest.raises(PreflightError, match="chaos recover"):
        run(make_scenario())


def test_missing_workload_is_refused(run: Callable[..., RunResult], cluster: FakeCluster) -> None:
    cluster.delete(ObjectRef("apps/v1", "Deployment", NS, "w"))
    result = run(make_scenario())
    assert result.exit_code == 3
    assert "does not exist" in result.reason
    assert cluster.writes() == [("delete", "Deployment ns/w")]


def test_recover_cli_needs_a_run(chaos: Callable[..., subprocess.CompletedProcess[str]]) -> None:
    done = chaos(["recover"])
    assert done.returncode == 2
    assert "RUN_DIR, --run ID, or --all" in done.stderr
    assert "Traceback" not in done.stderr
