"""Small helpers for the condition lists the simulated components write (pods, nodes, workloads).

`lastTransitionTime` only moves when a condition's status changes, as the API conventions say.
"""

from __future__ import annotations

from runner.sim.store import Obj, now_rfc3339


def get_condition(status: Obj, type_: str) -> Obj | None:
    for cond in status.get("conditions") or []:
        if cond.get("type") == type_:
            return dict(cond)
    return None


def set_condition(status: Obj, type_: str, value: str, reason: str = "", message: str = "",
                  **extra: str) -> bool:
    """Set one condition in `status` in place; True when anything changed."""
    conds: list[Obj] = list(status.get("conditions") or [])
    for i, cond in enumerate(conds):
        if cond.get("type") != type_:
            continue
        if cond.get("status") == value and cond.get("reason", "") == reason \
                and cond.get("message", "") == message:
            return False
        new: Obj = {**cond, "status": value, "reason": reason, "message": message, **extra}
        if cond.get("status") != value:
            new["lastTransitionTime"] = now_rfc3339()
        if not reason:
            new.pop("reason")
        if not message:
            new.pop("message")
        conds[i] = new
        status["conditions"] = conds
        return True
    fresh: Obj = {"type": type_, "status": value, "lastProbeTime": None,
                  "lastTransitionTime": now_rfc3339(), **({"reason": reason} if reason else {}),
                  **({"message": message} if message else {}), **extra}
    conds.append(fresh)
    status["conditions"] = conds
    return True


def remove_condition(status: Obj, type_: str) -> bool:
    conds = [c for c in status.get("conditions") or [] if c.get("type") != type_]
    if len(conds) == len(status.get("conditions") or []):
        return False
    status["conditions"] = conds
    return True
