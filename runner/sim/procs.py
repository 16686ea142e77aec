"""Every process group the embedded cluster's kubelets start, so none can outlive the cluster.

Each container runs as the leader of its own session and process group (`start_new_session=True`),
so ending a container ends everything it started (a shell's children included), as ending a real
container's PID namespace does. Groups are recorded here when started and dropped once nothing in
them is left; `alive()` is what tests assert empty, and an `atexit` hook kills whatever is still
recorded when the Python process exits normally or on Ctrl-C. (A SIGKILLed Python process cannot
clean up: its containers then run on until they exit by themselves.)
It must not know about pods or the store.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

_lock = threading.Lock()
_groups: dict[int, subprocess.Popen[bytes]] = {}


def spawn(argv: list[str], env: dict[str, str], cwd: Path, log_path: Path) -> subprocess.Popen[bytes]:
    """Start `argv` in a new session with stdout and stderr appended to `log_path`."""
    with log_path.open("ab") as out:
        proc = subprocess.Popen(argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True, close_fds=True)
    with _lock:
        _groups[proc.pid] = proc
    return proc


def _group_exists(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def end_group(proc: subprocess.Popen[bytes], grace_s: float) -> int | None:
    """SIGTERM the group, SIGKILL it after `grace_s`; reap the leader. Returns its exit status."""
    pgid = proc.pid
    signal_group(pgid, signal.SIGTERM)
    deadline = time.monotonic() + max(grace_s, 0.0)
    while time.monotonic() < deadline:
        if proc.poll() is not None and not _group_exists(pgid):
            break
        time.sleep(0.02)  # polling a process group: there is no wait() for a whole group
    signal_group(pgid, signal.SIGKILL)
    code = proc.wait()
    forget(proc)
    return code


def reap(proc: subprocess.Popen[bytes]) -> None:
    """The leader has exited: kill what it left in its group (a container ends with its PID 1)."""
    signal_group(proc.pid, signal.SIGKILL)
    forget(proc)


def forget(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None and not _group_exists(proc.pid):
        with _lock:
            _groups.pop(proc.pid, None)


def alive() -> list[int]:
    """Process groups started here that still have a live (or unreaped) member."""
    with _lock:
        items = list(_groups.items())
    out = []
    for pgid, proc in items:
        proc.poll()
        if proc.returncode is None or _group_exists(pgid):
            out.append(pgid)
        else:
            with _lock:
                _groups.pop(pgid, None)
    return out


def kill_all() -> None:
    """SIGKILL every recorded group and reap the leaders (the last line of defence)."""
    with _lock:
        items = list(_groups.items())
    for pgid, proc in items:
        signal_group(pgid, signal.SIGKILL)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            continue
        forget(proc)


atexit.register(kill_all)
