"""What a step kind is, what the engine hands it, and what it gives back.

Each step kind is one class in `runner/steps/`, listed in the step table (`StepTable`) that the
entry points hand to the engine. `StepImpl[S]` is generic over the step's own model class, so an
implementation receives its `PatchStep` or `WaitStep` already typed; the engine checks the match
once, at dispatch. A step can `plan()` (describe exactly what it would change, touching nothing)
and `run()` before its deadline. Before it changes anything it calls `ctx.record_undo(...)` (the
engine journals the undo write-ahead). A failed assertion is an outcome with status FAILED, not an
exception; an exception (ChaosError) means the step could not do its job.
This module must not import the engine, a step kind, or any renderer.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, ClassVar, Protocol, TypeVar

from runner.cluster.protocol import Cluster
from runner.errors import ChaosError
from runner.kernel.clock import Clock, Repeating
from runner.kernel.signals import InterruptGate
from runner.kernel.undo import UndoAction, UndoKinds
from runner.scenario.model import STEP_CLASSES, Scenario, StepBase, StepKind

JsonValue = Any  # JSON-serialisable data (str, int, float, bool, None, lists and dicts of those)


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


@dataclass(frozen=True)
class UndoReport:
    """What `StepContext.undo_recorded` did: each undo, in order, and what is still changed."""

    undone: tuple[str, ...]
    left: tuple[str, ...]


@dataclass
class RunState:
    """Facts steps share during one run (the engine owns it; steps read and update it)."""

    target_node: str = ""  # the node the fault is injected on (resolved in preflight)
    selector: str = ""  # the target pods' label selector (resolved in preflight)
    armed_nodes: dict[str, float] = field(default_factory=dict)  # node -> unix time armed
    disarmed_at: float | None = None
    injections_seen: int = 0  # `[XID n SIM]` lines the steps saw (proof the fault fired)
    placements_before: dict[str, str] = field(default_factory=dict)  # pod -> node before the fault
    crashes_marked: dict[str, int] = field(default_factory=dict)  # pod -> crashes on the timeline
    # The target pods' resourceVersion read just before the fault was armed: waits for evidence
    # watch from it, so a crash (and a drain) that came while a slow API answered the arming is seen.
    armed_version: str = ""
    # The dead-man renewer of each armed node (the toggle step's background work). The engine stops
    # every one when the steps end, BEFORE rollback, so nothing re-arms a node rollback disarmed.
    renewers: dict[str, Repeating] = field(default_factory=dict)
    allow_privileged: bool = False  # the node-xid step runs a privileged pod only when True (flag)
    # The install (`chaos install`) whose shim this run's workload already carries (set by the patch
    # step when it finds one): the toggle then writes the install's fault map, not a run's own.
    install_id: str = ""

    def stop_renewer(self, node: str) -> None:
        """Stop one node's renewer (idempotent)."""
        renewer = self.renewers.pop(node, None)
        if renewer is not None:
            renewer.stop()

    def stop_background(self) -> None:
        """Stop every background task (idempotent); the engine calls this before rollback."""
        for node in list(self.renewers):
            self.stop_renewer(node)

    def resolve_node(self, name: str) -> str:
        """A step's node reference (`target` or a name) as a node name."""
        return self.target_node if name in ("target", "") else name


class StepContext(Protocol):
    """What the engine gives a running step."""

    cluster: Cluster
    scenario: Scenario
    run_id: str
    clock: Clock
    gate: InterruptGate  # waits pass it on, so Ctrl-C lands at their safe points
    state: RunState
    deadline: float  # on clock.monotonic(): the step's own timeout or the scenario's, the sooner

    def record_undo(self, action: UndoAction) -> int:
        """Journal `action` (fsync'd locally, mirrored to the cluster) BEFORE making the change it
        undoes; returns its journal number. Raises if the journal cannot be written: then the
        change must not be made."""
        ...

    def record_applied(self, recorded: int, action: UndoAction) -> None:
        """After the change: journal the undo as the change landed (the object as the API server
        stored it), so undo can tell what is still the run's. A failure here is only logged: the
        undo journaled first still works, less precisely."""
        ...

    def progress(self, message: str, **data: JsonValue) -> None:
        """Tell the live view what is happening (pods by node, counts...). Never raises."""
        ...

    def timeline(self, kind: str, message: str = "", *, node: str = "", pod: str = "") -> None:
        """Add a point to the run's timeline (fault-armed, pod-crash, node-cordoned, ...)."""
        ...

    def undo_recorded(self) -> UndoReport:
        """Stop background work, then undo every change recorded so far and not yet undone, last
        first, journaling each (the cleanup step calls this)."""
        ...

    def hold_node(self, node: str) -> None:
        """Before changing a node preflight did not foresee (an `auto` target that moved): take
        its Lease, so no other run touches it meanwhile; TargetHeld (a ChaosError) when one does."""
        ...


def remaining(ctx: StepContext) -> float:
    """Seconds left before the step's deadline."""
    return max(0.0, ctx.deadline - ctx.clock.monotonic())


def deadline_within(ctx: StepContext, seconds: float | None) -> float:
    """The step's deadline, or `seconds` from now when that comes sooner."""
    if seconds is None:
        return ctx.deadline
    return min(ctx.deadline, ctx.clock.monotonic() + seconds)


S = TypeVar("S", bound=StepBase, contravariant=True)


class StepImpl(Protocol[S]):
    """One step kind's behaviour, for steps of model class S."""

    kind: ClassVar[StepKind]

    def plan(self, step: S, scenario: Scenario, state: RunState) -> list[PlannedChange]:
        """What `run` would change, touching nothing (reads from `state`, never the cluster)."""
        ...

    def run(self, step: S, ctx: StepContext) -> StepOutcome:
        """Do the step before `ctx.deadline`."""
        ...


class StepTable(Mapping[StepKind, "StepImpl[Any]"]):
    """The step kinds a run may use (by YAML name) and the undo kinds their journals hold.

    The entry points build one (`runner.steps.registry.REGISTRY`) and hand it to the engine, which
    never imports a step kind itself."""

    def __init__(self, impls: Iterable[StepImpl[Any]], undo_kinds: UndoKinds) -> None:
        self._impls: dict[StepKind, StepImpl[Any]] = {}
        for impl in impls:
            if impl.kind in self._impls:
                raise ValueError(f"two implementations of step kind {impl.kind.value!r}")
            self._impls[impl.kind] = impl
        self.undo_kinds = undo_kinds

    def __getitem__(self, kind: StepKind) -> StepImpl[Any]:
        return self._impls[kind]

    def __iter__(self) -> Iterator[StepKind]:
        return iter(self._impls)

    def __len__(self) -> int:
        return len(self._impls)

    def replacing(self, *impls: StepImpl[Any]) -> StepTable:
        """A copy with these implementations in place of their kinds' (tests, custom helpers)."""
        table = dict(self._impls)
        table.update({impl.kind: impl for impl in impls})
        return StepTable(table.values(), self.undo_kinds)

    def impl_for(self, step: StepBase) -> StepImpl[Any]:
        """The implementation of `step`'s kind, checked against the model class it expects."""
        impl = self._impls.get(step.kind)
        if impl is None:
            raise ChaosError(f"no implementation for step kind {step.kind.value!r}")
        expected = STEP_CLASSES[step.kind]
        if not isinstance(step, expected):
            raise ChaosError(f"step {step.name} is a {type(step).__name__}, not a {expected.__name__}")
        return impl
