"""RunResults built in code, one per verdict, shaped like what the engine produces."""

from __future__ import annotations

from runner.engine.result import (
    Evidence,
    FaultSummary,
    RollbackResult,
    RunResult,
    StepResult,
    StepStatus,
    TimelineEvent,
    UndoOutcome,
    Verdict,
)

T0 = 1_780_000_000.0
NODE = "gpu-node-1"
OTHER = "gpu-node-2"


def _fault(armed: float | None = T0 + 40, disarmed: float | None = T0 + 150, seen: int = 3) -> FaultSummary:
    return FaultSummary(xid=79, title="GPU fell off the bus", scope="node", expected_outcome="reschedule",
                        node=NODE, armed_at=armed, disarmed_at=disarmed, injections_seen=seen)


def _rollback_ok() -> RollbackResult:
    return RollbackResult(policy="on-failure", ran=True, verified=True, undone=(
        UndoOutcome("uncordon node gpu-node-1", True),
        UndoOutcome("restore Deployment dynamo/vllm-worker spec.template", True, "resourceVersion 812"),
    ))


def _step(name: str, kind: str, status: StepStatus, start: float, end: float, message: str = "",
          evidence: tuple[Evidence, ...] = (), changes: tuple[str, ...] = (), line: int = 0) -> StepResult:
    return StepResult(name=name, kind=kind, status=status, message=message, started_at=start,
                      finished_at=end, evidence=evidence, changes=changes, line=line)


def _timeline(reschedule: bool = True) -> tuple[TimelineEvent, ...]:
    ev = [
        TimelineEvent(T0 + 5, "pod-scheduled", "", NODE, "vllm-worker-a"),
        TimelineEvent(T0 + 6, "pod-scheduled", "", NODE, "vllm-worker-b"),
        TimelineEvent(T0 + 30, "pod-ready", "", NODE, "vllm-worker-a"),
        TimelineEvent(T0 + 31, "pod-ready", "", NODE, "vllm-worker-b"),
        TimelineEvent(T0 + 40, "fault-armed", "toggle file written", NODE),
        TimelineEvent(T0 + 42.5, "first-injection", "[XID 79 SIM] cudaMalloc -> 100", NODE, "vllm-worker-a"),
        TimelineEvent(T0 + 44, "pod-crash", "exit 1: CUDA error 100", NODE, "vllm-worker-a"),
        TimelineEvent(T0 + 45, "pod-crash", "exit 1: CUDA error 100", NODE, "vllm-worker-b"),
        TimelineEvent(T0 + 58, "node-cordoned", "cordon step", NODE),
        TimelineEvent(T0 + 60, "pod-deleted", "", NODE, "vllm-worker-a"),
        TimelineEvent(T0 + 60.5, "pod-deleted", "", NODE, "vllm-worker-b"),
    ]
    if reschedule:
        ev += [
            TimelineEvent(T0 + 62, "pod-scheduled", "", OTHER, "vllm-worker-c"),
            TimelineEvent(T0 + 63, "pod-scheduled", "", OTHER, "vllm-worker-d"),
            TimelineEvent(T0 + 121, "pod-ready", "", OTHER, "vllm-worker-c"),
            TimelineEvent(T0 + 125, "pod-ready", "", OTHER, "vllm-worker-d"),
        ]
    ev.append(TimelineEvent(T0 + 150, "fault-disarmed", "", NODE))
    return tuple(ev)


def _base_steps() -> list[StepResult]:
    return [
        _step("patch workers", "patch", StepStatus.PASSED, T0 + 1, T0 + 4,
              "passthrough + hard pin to gpu-node-1",
              changes=("patched Deployment dynamo/vllm-worker spec.template",), line=14),
        _step("wait pods ready", "wait", StepStatus.PASSED, T0 + 4, T0 + 32, "2/2 pods Ready", (
            Evidence("placement", "2 pods on gpu-node-1",
                     {"vllm-worker-a": NODE, "vllm-worker-b": NODE}),), line=15),
        _step("arm xid 79", "toggle", StepStatus.PASSED, T0 + 38, T0 + 40, "armed on gpu-node-1",
              changes=("wrote /host-fault/cuda_fault_enabled on gpu-node-1",), line=16),
    ]


def passed() -> RunResult:
    steps = [*_base_steps(),
             _step("cordon node", "cordon", StepStatus.PASSED, T0 + 57, T0 + 58, "cordoned gpu-node-1",
                   line=17),
             _step("assert reschedule", "assert-reschedule", StepStatus.PASSED, T0 + 58, T0 + 126,
                   "2/2 pods Ready on gpu-node-2 after 68s", (
                       Evidence("placement", "before: gpu-node-1 ×2; after: gpu-node-2 ×2",
                                {"before": {"vllm-worker-a": NODE}, "after": {"vllm-worker-c": OTHER}}),
                       Evidence("log", "[XID 79 SIM] cudaMalloc returned 100 (cudaErrorNoDevice)",
                                {"pod": "vllm-worker-a", "line": "[XID 79 SIM] cudaMalloc -> 100"}),
                       Evidence("timing", "armed → Ready elsewhere 85s", {"seconds": 85.0}),
                   ), line=18),
             _step("cleanup", "cleanup", StepStatus.PASSED, T0 + 148, T0 + 152, "restored", line=20)]
    return RunResult(
        run_id="20260526-120000-a1b2c3", scenario_name="xid79-fell-off-bus",
        scenario_path="scenarios/xid79-fell-off-bus.yaml", cluster="sim (embedded, 127.0.0.1:6443)",
        started_at=T0, finished_at=T0 + 155, verdict=Verdict.PASSED,
        reason="workers crashed on gpu-node-1 and came back Ready on gpu-node-2 in 85s",
        steps=tuple(steps), rollback=_rollback_ok(), fault=_fault(), timeline=_timeline(),
        run_dir="reports/20260526T120000Z-xid79-fell-off-bus", tool_version="0.1.0",
    )


def failed() -> RunResult:
    steps = [*_base_steps(),
             _step("assert reschedule", "assert-reschedule", StepStatus.FAILED, T0 + 40, T0 + 160,
                   "only 0/2 pods Ready elsewhere within 2m; pods stuck Pending on gpu-node-2", (
                       Evidence("placement", "pods Pending: 0/2 Ready", {"pending": ["vllm-worker-c"]}),
                       Evidence("condition", "PodScheduled=False: Insufficient nvidia.com/gpu",
                                {"reason": "Unschedulable"}),
                   ), line=18),
             _step("cleanup", "cleanup", StepStatus.SKIPPED, 0, 0, "not reached", line=20)]
    return RunResult(
        run_id="20260526-121000-d4e5f6", scenario_name="xid79-fell-off-bus",
        scenario_path="scenarios/xid79-fell-off-bus.yaml", cluster="kind-gpu (https://127.0.0.1:39211)",
        started_at=T0, finished_at=T0 + 170, verdict=Verdict.FAILED,
        reason="assert reschedule: only 0/2 pods Ready elsewhere within 2m",
        steps=tuple(steps), rollback=_rollback_ok(), fault=_fault(disarmed=T0 + 161),
        timeline=_timeline(reschedule=False), run_dir="reports/x-failed", tool_version="0.1.0",
    )


def interrupted() -> RunResult:
    steps = [*_base_steps()[:2],
             _step("arm xid 79", "toggle", StepStatus.INTERRUPTED, T0 + 38, T0 + 39, "SIGINT while arming"),
             _step("assert reschedule", "assert-reschedule", StepStatus.SKIPPED, 0, 0, "not reached"),
             _step("cleanup", "cleanup", StepStatus.SKIPPED, 0, 0, "not reached")]
    return RunResult(
        run_id="20260526-122000-0a0b0c", scenario_name="xid79-fell-off-bus",
        scenario_path="scenarios/xid79-fell-off-bus.yaml", cluster="sim",
        started_at=T0, finished_at=T0 + 45, verdict=Verdict.INTERRUPTED,
        reason="interrupted by SIGINT during 'arm xid 79'; rollback complete",
        steps=tuple(steps), rollback=_rollback_ok(), fault=_fault(armed=None, disarmed=None, seen=0),
        timeline=_timeline()[:4], run_dir="reports/x-interrupted", tool_version="0.1.0",
    )


def rollback_incomplete() -> RunResult:
    steps = [*_base_steps(),
             _step("assert reschedule", "assert-reschedule", StepStatus.ERROR, T0 + 40, T0 + 70,
                   "Unavailable: 503 from the API server after 5 retries")]
    rollback = RollbackResult(policy="on-failure", ran=True, verified=False, undone=(
        UndoOutcome("uncordon node gpu-node-1", True),
        UndoOutcome("restore Deployment dynamo/vllm-worker spec.template", False,
                    "Conflict: resourceVersion changed"),
    ), leftovers=("Deployment dynamo/vllm-worker spec.template differs from the original",
                  "toggle file /host-fault/cuda_fault_enabled on gpu-node-1 still armed"))
    return RunResult(
        run_id="20260526-123000-ffeedd", scenario_name="xid79-fell-off-bus",
        scenario_path="scenarios/xid79-fell-off-bus.yaml", cluster="prod-like (https://10.0.0.1)",
        started_at=T0, finished_at=T0 + 90, verdict=Verdict.ROLLBACK_INCOMPLETE,
        reason="rollback could not restore Deployment dynamo/vllm-worker; run chaos recover",
        steps=tuple(steps), rollback=rollback, fault=_fault(disarmed=None), timeline=_timeline()[:9],
        run_dir="reports/x-dirty", tool_version="0.1.0",
    )




def inconclusive() -> RunResult:
    """Preflight refused: nothing ran, nothing was armed, nothing to roll back (an empty timeline)."""
    steps = [_step(s.name, s.kind, StepStatus.SKIPPED, 0, 0, "not reached") for s in _base_steps()]
    return RunResult(
        run_id="20260526-124000-abcdef", scenario_name="xid79-fell-off-bus",
        scenario_path="scenarios/xid79-fell-off-bus.yaml", cluster="sim",
        started_at=T0, finished_at=T0 + 0.4, verdict=Verdict.INCONCLUSIVE,
        reason="preflight refused: namespace kube-system is denied by default",
        steps=tuple(steps), rollback=RollbackResult(policy="on-failure", ran=False),
        fault=_fault(armed=None, disarmed=None, seen=0), timeline=(), run_dir="", tool_version="0.1.0",
    )


def crowded() -> RunResult:
    """A passed run whose timeline is crowded: a pod that crashed three times within 2 ms, other
    events in the same millisecond, the fault disarmed by rollback, and nodes that appear only in
    events the picture has no marker for (they still get a lane)."""
    base = passed()
    same_ms = [
        TimelineEvent(T0 + 44.001, "pod-crash", "exit 1: restart 2", NODE, "vllm-worker-a"),
        TimelineEvent(T0 + 44.002, "pod-crash", "exit 1: restart 3", NODE, "vllm-worker-a"),
        TimelineEvent(T0 + 44.002, "first-injection", "[XID 79 SIM] cuInit -> 100", NODE, "vllm-worker-b"),
        TimelineEvent(T0 + 44.003, "pod-deleted", "", NODE, "vllm-worker-b"),
        TimelineEvent(T0 + 44.003, "node-cordoned", "", NODE),
        TimelineEvent(T0 + 44.003, "pod-scheduled", "", NODE, "vllm-worker-x"),
        TimelineEvent(T0 + 44.004, "pod-ready", "", NODE, "vllm-worker-x"),
    ]
    late = [
        TimelineEvent(T0 + 100, "pod-scheduled", "", "gpu-node-3", "vllm-worker-e"),
        TimelineEvent(T0 + 150, "fault-disarmed", "by rollback", NODE, step=""),
        TimelineEvent(T0 + 151, "node-uncordoned", "by rollback", NODE),
        TimelineEvent(T0 + 152, "rollback-verified", "", "gpu-node-4"),
    ]
    kept = tuple(e for e in base.timeline if e.kind != "fault-disarmed")
    return RunResult(**{**base.__dict__, "timeline": (*kept, *same_ms, *late),
                        "fault": FaultSummary(**{**base.fault.__dict__, "disarmed_at": T0 + 150})})


ALL = {"passed": passed, "failed": failed, "interrupted": interrupted,
       "rollback-incomplete": rollback_incomplete, "inconclusive": inconclusive}
