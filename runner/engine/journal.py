"""The write-ahead journal: how to undo every change, written down before the change is made.

`journal.jsonl` in the run directory holds one JSON object a line (`seq`, `time`, `run_id`,
`type`, ...). Each line is flushed and fsync'd before `append` returns, then the whole file is
mirrored into a ConfigMap `chaos-journal-<run_id>` in the target namespace, so `chaos recover`
works after a SIGKILL and from another machine. A change whose undo cannot be journaled (local
write or mirror write failed) must not be made: `record_undo` raises JournalError and the caller
stops. Entry types: run-start, undo, undone, run-end, recover. Reading ignores a truncated last
line (a process killed mid-write) with a warning. This module knows nothing about steps: undo
actions are decoded with the `UndoKinds` its caller hands it (the step table's).
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from runner.cluster.protocol import Cluster, KubeObject, ObjectRef
from runner.errors import ClusterError, InputError, NotFound, StepError
from runner.kernel.clock import Clock
from runner.kernel.labels import INSTALL_ROLE, ROLE_LABEL, is_install, run_labels
from runner.kernel.step import JsonValue
from runner.kernel.undo import UndoAction, UndoKinds

JOURNAL_FILE = "journal.jsonl"
# The journal's format, in its run-start entry. 1: no `format` field (the copy lives in the target
# namespace, undo restores whole subtrees); 2: copies in the state namespace, undo only what is
# still ours (`applied` entries). A newer chaos reads every older format; an unknown newer one is
# refused (it may hold undo kinds this version cannot apply).
JOURNAL_FORMAT = 2
MIRROR_PREFIX = "chaos-journal-"
MIRROR_KEY = "journal.jsonl"



def _open_private(path: Path, mode: str) -> IO[str]:
    """The journal holds the workload's original spec (env values): 0600, whatever the umask."""
    flags = {"a": os.O_WRONLY | os.O_CREAT | os.O_APPEND, "r+": os.O_RDWR}[mode]
    fd = os.open(path, flags | getattr(os, "O_CLOEXEC", 0), 0o600)
    try:
        os.fchmod(fd, 0o600)  # a journal written 0644 by an older version is tightened too
        return os.fdopen(fd, mode, encoding="utf-8")
    except BaseException:
        os.close(fd)
        raise

class JournalError(StepError):
    """The journal could not be written; the change it would have described is not made."""


def mirror_name(run_id: str) -> str:
    return f"{MIRROR_PREFIX}{run_id}"


def mirror_ref(run_id: str, namespace: str) -> ObjectRef:
    return ObjectRef("v1", "ConfigMap", namespace, mirror_name(run_id))


@dataclass(frozen=True)
class PendingUndo:
    """A recorded undo not yet marked undone."""

    seq: int
    step: str
    action: UndoAction
    data: Mapping[str, JsonValue]


@dataclass
class JournalContents:
    """A journal as read back; `kinds` decodes its undo actions."""

    kinds: UndoKinds
    entries: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    source: str = "journal"

    @property
    def run_id(self) -> str:
        return str(self.entries[0].get("run_id", "")) if self.entries else ""

    @property
    def start(self) -> dict[str, Any]:
        for e in self.entries:
            if e.get("type") == "run-start":
                return e
        return {}

    @property
    def namespace(self) -> str:
        """The target namespace (where the run changed things)."""
        return str(self.start.get("namespace", ""))

    @property
    def state_namespace(self) -> str:
        """Where the cluster copy lives (format 1 kept it in the target namespace)."""
        return str(self.start.get("state_namespace") or self.namespace)

    @property
    def format(self) -> int:
        value = self.start.get("format", 1)
        return value if isinstance(value, int) and not isinstance(value, bool) else 0

    @property
    def ended(self) -> dict[str, Any] | None:
        ends = [e for e in self.entries if e.get("type") == "run-end"]
        return ends[-1] if ends else None

    def recorded(self) -> list[PendingUndo]:
        """Every recorded undo, in journal order; InputError when an entry cannot be decoded."""
        out = []
        applied = {e.get("undo_seq"): e.get("action") for e in self.entries if e.get("type") == "applied"}
        for e in self.entries:
            if e.get("type") != "undo":
                continue
            action = applied.get(e.get("seq"), e.get("action"))
            try:
                if not isinstance(action, dict):
                    raise ValueError("its action is not an object")
                out.append(PendingUndo(int(e["seq"]), str(e.get("step", "")),
                                       self.kinds.decode(action), action))
            except ValueError as exc:
                raise InputError(f"{self.source}: entry {e.get('seq')} cannot be undone: {exc}") from None
        return out

    def undone_seqs(self) -> set[int]:
        return {e["undo_seq"] for e in self.entries
                if e.get("type") == "undone" and e.get("ok", True) and isinstance(e.get("undo_seq"), int)}

    def pending(self) -> list[PendingUndo]:
        """Recorded undos not yet undone, in journal order (undo them in reverse)."""
        done = self.undone_seqs()
        return [p for p in self.recorded() if p.seq not in done]


def parse_journal(text: str, kinds: UndoKinds, source: str = "journal") -> JournalContents:
    """Parse journal text. A truncated or corrupt LAST line is ignored with a warning (a process
    killed mid-write); a corrupt line elsewhere is an error (the file was damaged)."""
    contents = JournalContents(kinds, source=source)
    lines = text.split("\n")
    complete_last = text.endswith("\n")
    body = [ln for ln in lines if ln.strip()]
    for i, line in enumerate(body):
        is_last = i == len(body) - 1
        try:
            entry = json.loads(line)
            _check_entry(entry)
        except ValueError as exc:
            if is_last:
                contents.warnings.append(f"{source}: ignored a truncated last line ({exc}); the "
                                         "process that wrote it was probably killed mid-write")
                break
            raise InputError(f"{source}: line {i + 1} is corrupt: {exc}; a journal is written "
                             "by chaos alone, so this file was damaged or is not a journal") from None
        if is_last and not complete_last:
            contents.warnings.append(f"{source}: the last line has no newline (killed mid-write?)")
        contents.entries.append(entry)
    if contents.start and not 1 <= contents.format <= JOURNAL_FORMAT:
        raise InputError(f"{source} is a journal of format {contents.start.get('format')!r}; this "
                         f"chaos reads formats 1 to {JOURNAL_FORMAT}: recover it with a newer chaos")
    return contents


def _check_entry(entry: Any) -> None:
    """ValueError unless `entry` has the shape every journal entry has."""
    if not isinstance(entry, dict) or "seq" not in entry or "type" not in entry:
        raise ValueError("not a journal entry")
    if not isinstance(entry["seq"], int) or isinstance(entry["seq"], bool):
        raise ValueError(f"seq {entry['seq']!r} is not a whole number")
    if not isinstance(entry["type"], str):
        raise ValueError(f"type {entry['type']!r} is not text")


def read_journal(path: Path, kinds: UndoKinds) -> JournalContents:
    """The journal at `path`; InputError (exit 2) naming the file when it cannot be read as one."""
    try:
        mode = path.stat().st_mode
        if not stat.S_ISREG(mode):
            raise InputError(f"journal {path} is not a regular file")
        text = path.read_bytes()[: 64 * 1024 * 1024].decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"journal {path} is not text (byte {exc.start}): not a chaos journal") from None
    except OSError as exc:
        raise InputError(f"cannot read journal {path}: {exc.strerror or exc}") from None
    return parse_journal(text, kinds, str(path))


class Mirror:
    """The cluster copy of the journal (a labelled ConfigMap in the target namespace)."""

    def __init__(self, cluster: Cluster, run_id: str, namespace: str) -> None:
        self.cluster = cluster
        self.run_id = run_id
        self.ref = mirror_ref(run_id, namespace)
        self.exists = False

    def write(self, text: str) -> None:
        """Create or update the copy; ClusterError when the cluster refuses."""
        if self.exists:
            try:
                self.cluster.merge_patch(self.ref, {"data": {MIRROR_KEY: text}})
                return
            except NotFound:
                self.exists = False  # someone deleted it: create it again
        obj: KubeObject = {
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": self.ref.name, "namespace": self.ref.namespace,
                         "labels": {**run_labels(self.run_id),
                                    **({ROLE_LABEL: INSTALL_ROLE} if is_install(self.run_id) else {})}},
            "data": {MIRROR_KEY: text},
        }
        self.cluster.create(obj)
        self.exists = True

    def delete(self) -> None:
        with contextlib.suppress(NotFound):
            self.cluster.delete(self.ref, grace_period_seconds=0)
        self.exists = False


class Journal:
    """Appends entries to `journal.jsonl` (fsync'd) and mirrors the file to the cluster."""

    def __init__(self, path: Path | None, run_id: str, clock: Clock, kinds: UndoKinds,
                 mirror: Mirror | None = None, *, next_seq: int = 1, text: str = "") -> None:
        self.path = path  # None: no local file (recovering from the cluster copy alone)
        self.run_id = run_id
        self.kinds = kinds
        self.clock = clock
        self.mirror = mirror
        self.mirror_errors: list[str] = []
        self._seq = next_seq
        self.repaired = ""
        if path is not None and path.exists():
            self._text = self._drop_torn_tail(path)
        else:
            self._text = text if text.endswith("\n") or not text else text + "\n"

    @classmethod
    def resume(cls, contents: JournalContents, path: Path | None, clock: Clock,
               mirror: Mirror | None = None, text: str = "") -> Journal:
        """Continue a dead run's journal (recover appends `undone` entries to it), from its file
        or, with `path` None, from the cluster copy's `text`."""
        last = max((int(e["seq"]) for e in contents.entries), default=0)
        return cls(path, contents.run_id, clock, contents.kinds, mirror, next_seq=last + 1, text=text)

    def _drop_torn_tail(self, path: Path) -> str:
        """Appending after a torn last line would glue the next entry onto it; cut the fragment
        off first (it never described a change that was made: write-ahead)."""
        text = path.read_text(encoding="utf-8")
        complete, _, tail = text.rpartition("\n")
        if not tail:
            return text
        try:
            json.loads(tail)
            whole = True
        except ValueError:
            whole = False
        if whole:  # a complete entry that only lacks its newline
            with _open_private(path, "a") as fh:
                fh.write("\n")
            return text + "\n"
        kept = complete + "\n" if complete else ""
        with _open_private(path, "r+") as fh:
            fh.truncate(len(kept.encode("utf-8")))
            fh.flush()
            os.fsync(fh.fileno())
        self.repaired = f"dropped a torn last line of {len(tail)} characters from {path}"
        return kept

    @property
    def text(self) -> str:
        return self._text

    def append(self, entry_type: str, *, mirror_required: bool = True,
               **fields: JsonValue) -> int:
        """Write one entry durably, then mirror. Returns its seq. Raises JournalError when the
        local write fails, or when the mirror write fails and `mirror_required`."""
        seq = self._seq
        entry = {"seq": seq, "time": self.clock.time(), "run_id": self.run_id, "type": entry_type,
                 **fields}
        line = json.dumps(entry, sort_keys=True, separators=(",", ":")) + "\n"
        if self.path is not None:
            try:
                new_file = not self.path.exists()
                self.path.parent.mkdir(parents=True, exist_ok=True)
                with _open_private(self.path, "a") as fh:
                    fh.write(line)
                    fh.flush()
                    os.fsync(fh.fileno())
                if new_file:  # make the new file's name durable too
                    dir_fd = os.open(self.path.parent, os.O_RDONLY)
                    try:
                        os.fsync(dir_fd)
                    finally:
                        os.close(dir_fd)
            except OSError as exc:
                raise JournalError(f"cannot write journal {self.path}: {exc}") from exc
        self._seq += 1
        self._text += line
        if self.mirror is not None and (self.mirror.exists or mirror_required):
            try:
                self.mirror.write(self._text)
            except ClusterError as exc:
                self.mirror_errors.append(str(exc))
                if mirror_required:
                    raise JournalError(f"cannot mirror the journal to {self.mirror.ref}: {exc}") from exc
        return seq

    def run_start(self, **fields: JsonValue) -> int:
        return self.append("run-start", mirror_required=False, format=JOURNAL_FORMAT, **fields)

    def record_undo(self, action: UndoAction, step: str) -> int:
        """Journal an undo BEFORE its change; JournalError means: do not make the change."""
        return self.append("undo", step=step, action=action.to_json(), describe=action.describe())

    def record_applied(self, seq: int, action: UndoAction) -> int:
        """The undo of entry `seq`, refined after its change landed (what is the run's now)."""
        return self.append("applied", undo_seq=seq, action=action.to_json(), describe=action.describe())

    def undone(self, seq: int, ok: bool = True, message: str = "") -> int:
        """Mark an undo done (a failed mirror write here does not stop the rollback)."""
        return self.append("undone", mirror_required=False, undo_seq=seq, ok=ok, message=message)

    def run_end(self, verdict: str, reason: str, clean: bool) -> int:
        return self.append("run-end", mirror_required=False, verdict=verdict, reason=reason,
                           clean=clean)

    def contents(self) -> JournalContents:
        return parse_journal(self._text, self.kinds, str(self.path or "journal"))
