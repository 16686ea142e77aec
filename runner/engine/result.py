"""The result of a run: what the engine produces and every report renders.

Plain frozen data with JSON conversion, so `report/` can render it without knowing the engine and
`chaos report DIR` can rebuild it from `report.json`. No I/O here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

from runner.engine.probe_result import PhaseStats, ProbeResult, SloCheck
from runner.kernel.step import Evidence, StepStatus

JsonValue = Any  # JSON-serialisable data (str, int, float, bool, None, lists and dicts of those)

__all__ = ["Evidence", "FaultSummary", "PhaseStats", "ProbeResult", "RollbackResult", "RunResult",
           "SloCheck", "StepResult", "StepStatus", "TimelineEvent", "UndoOutcome", "Verdict"]


class Verdict(str, Enum):
    """How a run ended (DESIGN.md §6); each maps to one exit code."""

    PASSED = "passed"
    FAILED = "failed"
    INCONCLUSIVE = "inconclusive"
    INTERRUPTED = "interrupted"
    ROLLBACK_INCOMPLETE = "rollback-incomplete"

    @property
    def exit_code(self) -> int:
        return {"passed": 0, "failed": 1, "inconclusive": 3, "interrupted": 4,
                "rollback-incomplete": 5}[self.value]


@dataclass(frozen=True)
class TimelineEvent:
    """A point on the run's timeline (drawn in report.html)."""

    at: float  # unix time
    kind: str  # step-start, step-end, fault-armed, fault-disarmed, first-injection, pod-crash,
    #            pod-ready, pod-scheduled, pod-deleted, node-cordoned, node-uncordoned, rollback-*
    message: str = ""
    node: str = ""
    pod: str = ""
    step: str = ""


@dataclass(frozen=True)
class StepResult:
    name: str
    kind: str
    status: StepStatus
    message: str = ""
    started_at: float = 0.0
    finished_at: float = 0.0
    evidence: tuple[Evidence, ...] = ()
    changes: tuple[str, ...] = ()  # what it changed, in words (each also journaled with its undo)
    line: int = 0  # where the step is in the scenario file

    @property
    def duration(self) -> float:
        return max(0.0, self.finished_at - self.started_at)


@dataclass(frozen=True)
class UndoOutcome:
    description: str
    ok: bool
    message: str = ""


@dataclass(frozen=True)
class RollbackResult:
    policy: str  # on-failure | always | never
    ran: bool  # False when nothing needed undoing or the policy said never
    undone: tuple[UndoOutcome, ...] = ()
    verified: bool = False  # the after-check found the workload as it was and nothing of ours left
    leftovers: tuple[str, ...] = ()  # what is still changed (non-empty => rollback-incomplete)

    @property
    def complete(self) -> bool:
        return not self.leftovers and all(u.ok for u in self.undone)


@dataclass(frozen=True)
class FaultSummary:
    xid: int
    title: str
    scope: str
    expected_outcome: str
    node: str = ""  # where it was armed
    armed_at: float | None = None
    disarmed_at: float | None = None
    injections_seen: int = 0  # `[XID n SIM]` lines found in pod logs (proof it fired)


@dataclass(frozen=True)
class RunResult:
    run_id: str
    scenario_name: str
    scenario_path: str
    cluster: str  # Cluster.description: which cluster, never a credential
    started_at: float
    finished_at: float
    verdict: Verdict
    reason: str  # one line: why this verdict
    steps: tuple[StepResult, ...]
    rollback: RollbackResult
    fault: FaultSummary
    timeline: tuple[TimelineEvent, ...] = ()
    run_dir: str = ""
    tool_version: str = ""
    probes: tuple[ProbeResult, ...] = ()  # what the service's callers saw (background probes)

    @property
    def exit_code(self) -> int:
        return self.verdict.exit_code

    def to_json(self) -> dict[str, JsonValue]:
        """A JSON-ready dict (enums as their values, `exit_code` after `verdict`); the shape
        schema/report.schema.json describes."""
        fields: dict[str, JsonValue] = _plain(dataclasses.asdict(self))
        plain: dict[str, JsonValue] = {}
        for key, value in fields.items():
            plain[key] = value
            if key == "verdict":
                plain["exit_code"] = self.exit_code
        return plain

    @classmethod
    def from_json(cls, data: Mapping[str, JsonValue]) -> RunResult:
        """Rebuild a result from `report.json` (for `chaos report DIR`). `exit_code` follows from the
        verdict: when given it must agree (ValueError if not); reports older than it may omit it."""
        verdict = Verdict(data["verdict"])
        if "exit_code" in data and data["exit_code"] != verdict.exit_code:
            raise ValueError(f"exit_code {data['exit_code']!r} does not match verdict {verdict.value!r} "
                             f"(exit {verdict.exit_code})")
        steps = tuple(
            StepResult(**{**s, "status": StepStatus(s["status"]),
                          "evidence": tuple(Evidence(**e) for e in s.get("evidence", ())),
                          "changes": tuple(s.get("changes", ()))})
            for s in data["steps"]
        )
        rb = data["rollback"]
        rollback = RollbackResult(policy=rb["policy"], ran=rb["ran"],
                                  undone=tuple(UndoOutcome(**u) for u in rb.get("undone", ())),
                                  verified=rb.get("verified", False),
                                  leftovers=tuple(rb.get("leftovers", ())))
        return cls(
            run_id=data["run_id"], scenario_name=data["scenario_name"],
            scenario_path=data["scenario_path"], cluster=data["cluster"],
            started_at=data["started_at"], finished_at=data["finished_at"],
            verdict=verdict, reason=data["reason"], steps=steps, rollback=rollback,
            fault=FaultSummary(**data["fault"]),
            timeline=tuple(TimelineEvent(**t) for t in data.get("timeline", ())),
            run_dir=data.get("run_dir", ""), tool_version=data.get("tool_version", ""),
            probes=tuple(ProbeResult.from_json(p) for p in data.get("probes", ())),
        )


def _plain(value: JsonValue) -> JsonValue:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value
