"""Every process group the embedded cluster's kubelets start, so none can outlive the cluster.

Each container runs as the leader of its own session and process group (`start_new_session=True`),
so ending a container ends everything it started (a shell's children included), as ending a real
container's PID namespace does. The leader is `chaos-init` (images/chaos_init.c) when the kubelet
has it: it runs the container's program as its child, is a child subreaper (orphans the program
leaves are reparented to it, even ones that left the group with setsid), and ends them all when
the program exits, when it is told to (SIGUSR1, the end of a grace period), and when this Python
process dies, SIGKILL included (PR_SET_PDEATHSIG; a subreaper in this process could not act after
a SIGKILL, which is why the guard lives in a process of its own per container).
Without chaos-init (no C compiler) the program itself leads the group, and only the `atexit` hook
below ends it: a SIGKILLed cluster then leaves its containers running.

Groups are recorded here when started and dropped once nothing in them is left; `alive()` is what
tests assert empty. It must not know about pods or the store.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

HARD_STOP = signal.SIGUSR1  # chaos-init: kill everything in the container now
HARD_STOP_WAIT_S = 2.0  # how long chaos-init gets to kill its tree before the group is SIGKILLed

_lock = threading.Lock()
_groups: dict[int, subprocess.Popen[bytes]] = {}
_guarded: set[int] = set()  # groups led by chaos-init


def _resolve(program: str, env: dict[str, str], cwd: Path) -> None:
    """Fail the way exec would (FileNotFoundError, PermissionError) before chaos-init forks: an
    image's program that cannot start is a start error for the kubelet, not an exit status."""
    if "/" in program:
        path = Path(program) if Path(program).is_absolute() else cwd / program
        if not path.is_file():
            raise FileNotFoundError(2, "No such file or directory", program)
        if not os.access(path, os.X_OK):
            raise PermissionError(13, "Permission denied", program)
        return
    if shutil.which(program, path=env.get("PATH", os.defpath)) is None:
        raise FileNotFoundError(2, "No such file or directory in $PATH", program)


def _argv(argv: list[str], env: dict[str, str], cwd: Path, init: Path | None) -> list[str]:
    if init is None:
        return argv
    _resolve(argv[0], env, cwd)
    return [str(init), str(os.getpid()), "--", *argv]


def _record(proc: subprocess.Popen[bytes], guarded: bool) -> None:
    with _lock:
        _groups[proc.pid] = proc
        if guarded:
            _guarded.add(proc.pid)


def spawn(argv: list[str], env: dict[str, str], cwd: Path, log_path: Path,
          init: Path | None = None) -> subprocess.Popen[bytes]:
    """Start `argv` in a new session with stdout and stderr appended to `log_path`, under
    `init` (the chaos-init binary) when given."""
    full = _argv(argv, env, cwd, init)
    with log_path.open("ab") as out:
        proc = subprocess.Popen(full, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True, close_fds=True)
    _record(proc, init is not None)
    return proc


def run(argv: list[str], env: dict[str, str], cwd: Path, timeout: float,
        init: Path | None = None) -> tuple[int, bytes]:
    """Run `argv` to completion as its own group (an exec probe); (exit status, stdout).
    On `timeout` the whole group is ended and subprocess.TimeoutExpired raised."""
    full = _argv(argv, env, cwd, init)
    proc = subprocess.Popen(full, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True, close_fds=True)
    _record(proc, init is not None)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        end_group(proc, 0.0)
        raise
    reap(proc)
    return int(proc.returncode), out


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


def _hard_stop(proc: subprocess.Popen[bytes]) -> None:
    """Have chaos-init kill its whole tree (what a SIGKILL of the group would miss: processes
    that left the group), then SIGKILL the group as the backstop."""
    with _lock:
        guarded = proc.pid in _guarded
    if guarded and proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, HARD_STOP)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=HARD_STOP_WAIT_S)
    signal_group(proc.pid, signal.SIGKILL)


def end_group(proc: subprocess.Popen[bytes], grace_s: float) -> int | None:
    """SIGTERM the group, kill everything after `grace_s`; reap the leader. Returns its exit status."""
    pgid = proc.pid
    signal_group(pgid, signal.SIGTERM)
    deadline = time.monotonic() + max(grace_s, 0.0)
    while time.monotonic() < deadline:
        if proc.poll() is not None and not _group_exists(pgid):
            break
        time.sleep(0.02)  # polling a process group: there is no wait() for a whole group
    _hard_stop(proc)
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
            _guarded.discard(proc.pid)


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
                _guarded.discard(pgid)
    return out


def kill_all() -> None:
    """Kill every recorded group and reap the leaders (the last line of defence)."""
    with _lock:
        items = list(_groups.values())
        guarded = [p for p in items if p.pid in _guarded]
    for proc in guarded:  # all at once: each chaos-init kills its tree in parallel
        with contextlib.suppress(ProcessLookupError):
            if proc.poll() is None:
                os.kill(proc.pid, HARD_STOP)
    for proc in items:
        _hard_stop(proc)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            continue
        forget(proc)


atexit.register(kill_all)
