"""`chaos recover`: finish what a dead or interrupted run left undone.

Reads the run's journal (the local `journal.jsonl`, or the cluster copy in a ConfigMap labelled
`app.kubernetes.io/managed-by=chaos`), undoes every recorded change not yet marked undone (last
first, each journaled), verifies, and deletes the cluster copy once clean. Safe to run twice: undo
actions are idempotent and the second run finds nothing pending, changes nothing and says so.
`--all` does this for every run whose journal is in the cluster (the halt-all). It must not be run
while the run it recovers is still alive (it does not lock against it).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from runner.cluster.protocol import Cluster
from runner.engine.journal import (
    JOURNAL_FILE,
    MIRROR_KEY,
    MIRROR_PREFIX,
    Journal,
    JournalContents,
    Mirror,
    parse_journal,
    read_journal,
)
from runner.engine.leases import ENGINE_UNDO_KINDS
from runner.engine.result import UndoOutcome
from runner.engine.rollback import NOTHING_LEFT, leftovers, undo_pending
from runner.errors import InputError, NotFound
from runner.kernel.clock import Clock, SystemClock
from runner.kernel.labels import is_install, run_selector
from runner.kernel.undo import UndoKinds


@dataclass(frozen=True)
class RecoveredRun:
    run_id: str
    namespace: str
    source: str  # where the journal came from
    undone: tuple[UndoOutcome, ...] = ()
    leftovers: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()

    @property
    def complete(self) -> bool:
        return not self.leftovers and all(u.ok for u in self.undone)

    @property
    def changed(self) -> bool:
        """Did recovering it change anything in the cluster?"""
        return any(u.ok and u.message != NOTHING_LEFT for u in self.undone)

    def summary(self) -> str:
        if not self.changed and self.complete:
            return f"run {self.run_id}: nothing to recover (already clean); nothing changed"
        done = sum(1 for u in self.undone if u.ok and u.message != NOTHING_LEFT)
        state = "clean" if self.complete else f"{len(self.leftovers)} still changed"
        return f"run {self.run_id}: undid {done} change(s) from {self.source}; {state}"


@dataclass(frozen=True)
class RecoverResult:
    runs: tuple[RecoveredRun, ...]
    installs: tuple[str, ...] = ()  # installs `--all` left installed (one line each)

    @property
    def exit_code(self) -> int:
        return 0 if all(r.complete for r in self.runs) else 5

    @property
    def changed(self) -> bool:
        return any(r.changed for r in self.runs)

    def lines(self) -> list[str]:
        kept = [f"install {line}: left installed (chaos uninstall removes it)" for line in self.installs]
        if not self.runs:
            return ["no chaos run journals found; nothing to recover, nothing changed", *kept]
        out = []
        for run in self.runs:
            out.append(run.summary())
            out.extend(f"  warning: {w}" for w in run.warnings)
            out.extend(f"  undid: {u.description}" if u.ok and u.message != NOTHING_LEFT else
                       f"  already undone: {u.description}" if u.ok else
                       f"  NOT UNDONE: {u.description}: {u.message}" for u in run.undone)
            out.extend(f"  still changed: {item}" for item in run.leftovers)
        return out + kept


def cluster_journals(cluster: Cluster, *, run_id: str | None = None,
                     namespace: str | None = None) -> list[tuple[str, str, str]]:
    """(run_id, namespace, journal text) of every journal copy in the cluster (or one run's)."""
    found, _ = cluster.list("v1", "ConfigMap", namespace, label_selector=run_selector(run_id))
    out = []
    for cm in found:
        meta = cm.get("metadata", {})
        name = str(meta.get("name", ""))
        if not name.startswith(MIRROR_PREFIX):
            continue
        out.append((name[len(MIRROR_PREFIX):], str(meta.get("namespace", "")),
                    str((cm.get("data") or {}).get(MIRROR_KEY, ""))))
    return sorted(out)


DEFAULT_STATE_NAMESPACE = "chaos-system"


def recover(cluster: Cluster, kinds: UndoKinds, *, run_dir: Path | None = None,
            run_id: str | None = None, all_runs: bool = False, namespace: str | None = None,
            clock: Clock | None = None) -> RecoverResult:
    """Recover one run (from RUN_DIR, or by --run ID from the cluster copy) or all of them.
    `kinds` decodes the journals' undo actions (the step table's undo kinds); `namespace` is the
    state namespace the cluster copies live in (default chaos-system; a RUN_DIR's journal names
    its own). With `all_runs`, each run is recovered on its own: a copy that cannot be read is
    reported and skipped, the others are still recovered."""
    clock = clock or SystemClock()
    kinds = kinds.including(*ENGINE_UNDO_KINDS)
    if run_dir is not None:
        path = run_dir if run_dir.is_file() else run_dir / JOURNAL_FILE
        if not path.exists():
            raise InputError(f"no journal at {path}: RUN_DIR is the run directory a run printed "
                             "(it holds journal.jsonl)")
        contents = read_journal(path, kinds)
        contents.recorded()  # every entry decodes, or InputError now, before the cluster is touched
        if not contents.entries:
            raise InputError(f"journal {path} is empty: no run wrote to it, so there is nothing "
                             "to recover from it")
        if run_id and contents.run_id != run_id:
            raise InputError(f"{path} is the journal of run {contents.run_id}, not {run_id}")
        mirror = _existing_mirror(cluster, contents.run_id, namespace or contents.state_namespace)
        journal = Journal.resume(contents, path, clock, mirror)
        return RecoverResult((_recover_one(cluster, clock, contents, journal, f"journal {path}"),))
    if not (run_id or all_runs):
        raise InputError("say which run to recover: a RUN_DIR, --run ID, or --all")
    runs = []
    state = namespace or DEFAULT_STATE_NAMESPACE
    found = cluster_journals(cluster, run_id=None if all_runs else run_id, namespace=state)
    if run_id and not all_runs and not found:
        raise InputError(f"no journal of run {run_id} in namespace {state} of this cluster (its copy "
                         f"is the ConfigMap {MIRROR_PREFIX}{run_id}); a run that ended clean deletes it")
    installs: list[str] = []
    for rid, ns, text in found:
        source = f"ConfigMap {ns}/{MIRROR_PREFIX}{rid}"
        if all_runs and is_install(rid):  # the halt-all disarms runs; an install stays installed
            installs.append(f"{rid} ({install_workload(text)})")
            continue
        try:
            contents = parse_journal(text, kinds, source)
            contents.recorded()
        except InputError as exc:
            if not all_runs:
                raise
            runs.append(RecoveredRun(rid, ns, source, leftovers=(
                f"its journal cannot be read, so whatever it changed may still be changed: {exc}",)))
            continue
        mirror = Mirror(cluster, rid, ns)
        mirror.exists = True
        journal = Journal.resume(contents, None, clock, mirror, text=text)
        runs.append(_recover_one(cluster, clock, contents, journal, source))
    return RecoverResult(tuple(runs), tuple(installs))


def install_workload(text: str) -> str:
    """The workload an install's journal names (its run-start entry), for one line of output."""
    import json

    for line in text.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict) and entry.get("type") == "run-start":
            return str(entry.get("workload") or f"in namespace {entry.get('namespace', '?')}")
    return "workload unknown"


def _existing_mirror(cluster: Cluster, run_id: str, namespace: str) -> Mirror | None:
    if not namespace:
        return None
    mirror = Mirror(cluster, run_id, namespace)
    try:
        cluster.get(mirror.ref)
        mirror.exists = True
    except NotFound:
        mirror.exists = False
    return mirror


def _recover_one(cluster: Cluster, clock: Clock, contents: JournalContents, journal: Journal,
                 source: str) -> RecoveredRun:
    run_id = contents.run_id
    namespace = contents.namespace  # the target namespace: where its labelled leftovers would be
    try:
        pending = contents.pending()
    except (KeyError, TypeError, ValueError) as exc:  # a journal from another version, or edited
        raise InputError(f"cannot read the journal of run {run_id} ({source}): {exc}") from exc
    outcomes: list[UndoOutcome] = []
    if pending and journal.mirror is not None and not journal.mirror.exists:
        # A local journal with undos left, and no cluster copy: the copy is written before the
        # first change and deleted only by a complete rollback or recovery, so someone finished
        # this run elsewhere. Undo only what verifiably remains; the rest is already undone (a
        # node is not disarmed again: that would start a helper pod for nothing).
        remaining = []
        for item in pending:
            if item.action.verify(cluster):
                remaining.append(item)
            else:
                journal.undone(item.seq, message="already undone elsewhere")
                outcomes.append(UndoOutcome(item.action.describe(), True, NOTHING_LEFT))
        pending = remaining
    outcomes += undo_pending(cluster, clock, journal, pending)
    left = [f"{o.description}: {o.message}" for o in outcomes if not o.ok]
    left += leftovers(cluster, contents.recorded(), run_id, namespace)
    if outcomes or journal.repaired:
        journal.append("recover", mirror_required=False, complete=not left,
                       undone=[o.description for o in outcomes if o.ok], repaired=journal.repaired)
    if not left and journal.mirror is not None and journal.mirror.exists:
        journal.mirror.delete()  # clean: the cluster copy has served its purpose
    return RecoveredRun(run_id, namespace, source, tuple(outcomes), tuple(left),
                        tuple(contents.warnings))
