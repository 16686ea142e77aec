"""Rollback: undo recorded changes in reverse order, journal each, then verify nothing is left.

Used by the executor (on failure, deadline, exception, SIGINT/SIGTERM, or at the end of a run),
by the cleanup step (through the step context) and by `chaos recover`. Every undo is attempted even
when an earlier one fails; each success is journaled as `undone`. With a `deadline` (the run's
rollback budget) each undo's cluster calls end by what is left of it, and once it is spent the
undos not reached are not attempted: they are failures that say so, so the caller lists them as
left. Verification asks each action what is still changed and looks for anything labelled as this
run's (except the journal mirror). It never raises for a failed undo: the failure is in the result
(rollback-incomplete, exit 5).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterable, Sequence

from runner.cluster.deadline import until
from runner.cluster.protocol import Cluster
from runner.engine.journal import Journal, PendingUndo, mirror_name
from runner.engine.result import UndoOutcome
from runner.kernel.clock import Clock
from runner.kernel.labels import run_selector
from runner.kernel.undo import UndoConflict

log = logging.getLogger("chaos.engine")
NOTHING_LEFT = "nothing of the run's was left there"  # an undo that found nothing to undo

# Kinds a run may create (labelled with its run id); the undo actions' own refs are added.
LABELLED_KINDS: tuple[tuple[str, str], ...] = (("v1", "ConfigMap"), ("v1", "Pod"))


def undo_pending(cluster: Cluster, clock: Clock, journal: Journal | None,
                 pending: Sequence[PendingUndo],
                 on_done: Callable[[UndoOutcome], None] | None = None, *,
                 deadline: float | None = None, budget: str = "the rollback's budget") -> list[UndoOutcome]:
    """Apply each pending undo, last recorded first; journal each success. `deadline` (on
    `clock.monotonic()`): each undo gets what is left of it; `budget` names it in messages."""
    outcomes: list[UndoOutcome] = []
    for item in sorted(pending, key=lambda p: p.seq, reverse=True):
        description = item.action.describe()
        if deadline is not None and clock.monotonic() >= deadline:
            outcome = UndoOutcome(description, False, f"not attempted: {budget} ran out")
        else:
            outcome = _undo_one(cluster, clock, journal, item, deadline)
        outcomes.append(outcome)
        if on_done is not None:
            on_done(outcome)
    return outcomes


def _undo_one(cluster: Cluster, clock: Clock, journal: Journal | None, item: PendingUndo,
              deadline: float | None) -> UndoOutcome:
    description = item.action.describe()
    scope = (cluster.deadline(until(deadline, clock.monotonic), "the rollback")
             if deadline is not None else contextlib.nullcontext())
    with scope:
        try:
            changed = item.action.apply(cluster, clock)
        except UndoConflict as exc:  # someone changed it since: reported, never overwritten
            return UndoOutcome(description, False, str(exc))
        except Exception as exc:  # noqa: BLE001 - an undo that fails must not stop the others
            return UndoOutcome(description, False, f"{type(exc).__name__}: {exc}")
        if journal is not None:
            try:
                journal.undone(item.seq)
            except Exception as exc:  # noqa: BLE001 - the undo happened; a lost note only costs a re-undo
                log.warning("could not journal that %s was undone: %s", description, exc)
    return UndoOutcome(description, True, "" if changed is not False else NOTHING_LEFT)


def leftovers(cluster: Cluster, actions: Iterable[PendingUndo], run_id: str,
              namespace: str) -> list[str]:
    """What is still changed: each action's own check, plus objects labelled with our run id
    (except the journal mirror)."""
    left: list[str] = []
    kinds = set(LABELLED_KINDS)
    for item in actions:
        try:
            left.extend(item.action.verify(cluster))
        except Exception as exc:  # noqa: BLE001 - reported as a leftover
            left.append(f"could not verify '{item.action.describe()}': {exc}")
        ref = item.data.get("ref") if isinstance(item.data, dict) else None
        # only kinds the run changed in this namespace: its Leases live in the state namespace
        # (checked by their own verify), and listing them here would need a right it lacks
        if isinstance(ref, dict) and ref.get("namespace") == namespace:
            kinds.add((str(ref["apiVersion"]), str(ref["kind"])))
    if not namespace:
        return left
    for api_version, kind in sorted(kinds):
        try:
            objs, _ = cluster.list(api_version, kind, namespace, label_selector=run_selector(run_id))
        except Exception as exc:  # noqa: BLE001 - reported as a leftover
            left.append(f"could not list {kind} in {namespace}: {exc}")
            continue
        for obj in objs:
            meta = obj.get("metadata", {})
            if kind == "ConfigMap" and meta.get("name") == mirror_name(run_id):
                continue
            if meta.get("deletionTimestamp"):
                continue
            left.append(f"{kind} {namespace}/{meta.get('name')} (labelled with run {run_id}) still exists")
    return left
