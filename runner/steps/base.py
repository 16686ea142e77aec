"""What a step kind is, and what the engine hands it.

Each step kind is one class in `runner/steps/` registered in `runner/steps/registry.py` under its
YAML name. A step validates nothing the loader already checked; it can `plan()` (describe exactly
what it would change, touching nothing) and `run()` within a deadline. Before it changes anything it
calls `ctx.record_undo(...)` (the engine journals the undo action write-ahead); it returns a
`StepOutcome` with evidence. A failed assertion is an outcome with status FAILED, not an exception;
an exception (ChaosError) means the step could not do its job.
This module must not import the engine (the engine imports steps) nor any renderer.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, ClassVar, Protocol

from runner.cluster.protocol import Cluster, ObjectRef
from runner.scenario.model import Scenario, StepBase, StepKind

JsonValue = Any


class StepStatus(str, Enum):
    PASSED = "passed"  # did its job / its assertion held
    FAILED = "failed"  # an assertion did not hold (a result, not an exception)
    ERROR = "error"  # could not do its job (cluster error, deadline, bad state)
    SKIPPED = "skipped"  # not reached (an earlier step failed, or interrupted)
    INTERRUPTED = "interrupted"  # running when SIGINT/SIGTERM arrived


@dataclass(frozen=True)
class Evidence:
    """One fact a step observed, e.g. placements before/after, an XID log line, a timing."""

    kind: str  # "placement", "log", "timing", "object", "probe", "condition", "note"
    summary: str  # one human line
    data: Mapping[str, JsonValue] = field(default_factory=dict)


@dataclass(frozen=True)
class StepOutcome:
    status: StepStatus
    message: str = ""
    evidence: tuple[Evidence, ...] = ()
    changes: tuple[str, ...] = ()


@dataclass(frozen=True)
class PlannedChange:
    """One change a step would make, for `chaos plan` and `--dry-run`."""

    target: str  # e.g. "Deployment inference/vllm-worker" or "node gpu-node-2"
    action: str  # e.g. "json-patch", "create", "delete", "cordon", "write toggle file"
    detail: JsonValue = None  # the JSON patch, the manifest, the file content


class Clock(Protocol):
    """Time as the engine sees it; tests inject a fake so nothing really sleeps."""

    def time(self) -> float:
        """Unix time (for reports and the dead-man expiry)."""
        ...

    def monotonic(self) -> float:
        """Monotonic seconds (for deadlines)."""
        ...

    def sleep(self, seconds: float) -> None:
        """Sleep (only pause and pacing loops use it; waits use watches)."""
        ...


@dataclass
class RunState:
    """Facts steps share during one run (the engine owns it; steps read and update it)."""

    target_node: str = ""  # the node the fault is injected on (resolved in preflight)
    armed_nodes: dict[str, float] = field(default_factory=dict)  # node -> unix time armed
    disarmed_at: float | None = None
    first_injection_at: float | None = None
    injections_seen: int = 0
    placements_before: dict[str, str] = field(default_factory=dict)  # pod -> node before the fault
    cordoned_by_us: set[str] = field(default_factory=set)
    created: list[ObjectRef] = field(default_factory=list)
    notes: dict[str, JsonValue] = field(default_factory=dict)  # free-form, step to step
    # Background work a step started (e.g. the toggle step's dead-man renewer), by name -> its stop
    # function. The engine must call every one when the steps end, BEFORE rollback, so nothing
    # re-arms a fault after it was disarmed; stop functions are idempotent and never raise.
    background: dict[str, Callable[[], None]] = field(default_factory=dict)
    allow_privileged: bool = False  # the node-xid step runs a privileged pod only when True (flag)

    def stop_background(self) -> None:
        """Stop every background task (idempotent); the engine calls this before rollback."""
        for name in list(self.background):
            stop = self.background.pop(name, None)
            if stop is not None:
                stop()

    def resolve_node(self, name: str) -> str:
        """A step's node reference (`target` or a name) as a node name."""
        return self.target_node if name in ("target", "") else name


class StepContext(Protocol):
    """What the engine gives a running step."""

    cluster: Cluster
    scenario: Scenario
    run_id: str
    clock: Clock
    state: RunState

    def record_undo(self, action: UndoAction) -> None:
        """Journal `action` (fsync'd locally, mirrored to the cluster) BEFORE making the change it
        undoes. Raises if the journal cannot be written: then the change must not be made."""
        ...

    def remaining(self) -> float:
        """Seconds left before this step's deadline (the step's own or the scenario's)."""
        ...

    def progress(self, message: str, **data: JsonValue) -> None:
        """Tell the live view what is happening (pods by node, counts...). Never raises."""
        ...

    def timeline(self, kind: str, message: str = "", *, node: str = "", pod: str = "") -> None:
        """Add a point to the run's timeline (fault-armed, pod-crash, node-cordoned, ...)."""
        ...

    def undo_recorded(self) -> list[str]:
        """Undo every change recorded so far and not yet undone, last first, journaling each (the
        cleanup step calls this). Returns what is still changed afterwards (empty: clean)."""
        ...


class UndoAction(Protocol):
    """A recorded way back. Serialisable (the journal stores it), idempotent (replaying an
    already-undone action changes nothing), and self-contained (`chaos recover` replays it in a new
    process from the journal alone)."""

    kind: ClassVar[str]

    def describe(self) -> str:
        """One line for humans: 'restore Deployment inference/vllm-worker spec.template'."""
        ...

    def to_json(self) -> dict[str, JsonValue]:
        """The journal form; includes `"kind": self.kind`."""
        ...

    def apply(self, cluster: Cluster) -> None:
        """Undo. Must succeed when already undone (NotFound on delete counts as done)."""
        ...

    def verify(self, cluster: Cluster) -> list[str]:
        """What is still not undone (empty when the change is fully reverted)."""
        ...


class StepImpl(Protocol):
    """One step kind's behaviour; registered in `runner/steps/registry.py`."""

    kind: ClassVar[StepKind]

    def plan(self, step: StepBase, scenario: Scenario, state: RunState) -> list[PlannedChange]:
        """What `run` would change, touching nothing (reads from `state`, never the cluster)."""
        ...

    def run(self, step: StepBase, ctx: StepContext) -> StepOutcome:
        """Do the step within `ctx.remaining()` seconds."""
        ...
