"""Run directories and report files only their owner can read (DESIGN.md §4: 0700 / 0600).

A run directory holds the journal, which keeps the workload's original spec (env values included)
because undo needs it, and reports that people paste into tickets only after reading them. So the
modes are set here explicitly, never left to the umask: a file is created 0600 (and chmod'ed, for
a umask that would take bits away from the owner), written to a temporary name in the same
directory and renamed into place, so a reader never sees half a report and a symlink planted at
the name is replaced, not followed. A directory is created 0700; one that already exists is made
0700 only when it is a run directory (nothing in it but what chaos writes), so `--report-dir .`
or `--report-dir /tmp` never changes the mode of a directory that is somebody else's business.
Nothing here knows a report format.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
import tempfile
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600

# what chaos writes into a run directory: the journal (and the journals of earlier runs it renamed),
# the probes' samples, the report files, the engine's write probe, and our own temporary names
_RUN_FILE = re.compile(r"journal(?:\.[\w.-]+)?\.jsonl|probes\.jsonl|report\.json|junit\.xml|summary\.md"
                       r"|report\.html"
                       r"|\.chaos-write-test-[\w.-]+|\.[\w.-]+\.tmp-\w+")


def write_text(path: Path, text: str) -> Path:
    """Write `text` (UTF-8) to `path` with mode 0600, atomically; return `path`."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.tmp-", dir=path.parent)  # O_EXCL, 0600
    try:
        os.fchmod(fd, FILE_MODE)
        with os.fdopen(fd, "w", encoding="utf-8") as stream:
            fd = -1
            stream.write(text)
        os.replace(tmp, path)
    except BaseException:
        if fd >= 0:
            os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return path


def run_dir(path: Path) -> Path:
    """`path` as a private run directory: created 0700 (parents as the umask says), or, when it
    exists and holds only a run's files, made 0700; return it."""
    path = Path(path)
    try:
        path.mkdir(mode=DIR_MODE)
    except FileExistsError:
        if is_run_dir(path):
            os.chmod(path, DIR_MODE)
        return path
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.mkdir(mode=DIR_MODE, exist_ok=True)
    os.chmod(path, DIR_MODE)  # mkdir's mode went through the umask
    return path


def is_run_dir(path: Path) -> bool:
    """True for a real directory (not a link) of ours holding nothing but a run's files."""
    try:
        info = os.lstat(path)
        names = os.listdir(path)
    except OSError:
        return False
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
        return False
    return all(_RUN_FILE.fullmatch(name) for name in names)
