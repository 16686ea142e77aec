"""Real processes, real signals: SIGINT/SIGTERM during every step roll back (exit 4); SIGKILL
during every step, then `recover`, leaves the cluster exactly as it was, and a second recover
changes nothing. The cluster is a file-backed fake shared by the processes."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.fakes.cluster import FileBackedFakeCluster
from tests.unit.engine.stepkit import default_steps, seed

REPO = Path(__file__).resolve().parents[3]
STEPS = [s.name for s in default_steps()]


def env() -> dict[str, str]:
    e = dict(os.environ)
    e["PYTHONPATH"] = str(REPO) + os.pathsep + e.get("PYTHONPATH", "")
    return e


def start(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "tests.integration.engine.driver", *args],
                            cwd=REPO, env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def wait_for_line(proc: subprocess.Popen[str], wanted: str, timeout: float = 30) -> list[str]:
    """Read the driver's stdout (on a thread) until `wanted` appears, bounded by `timeout`."""
    assert proc.stdout is not None
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line.strip())
            if line.strip() == wanted:
                return  # leave the rest for communicate()
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    deadline = time.monotonic() + timeout
    seen: list[str] = []
    while True:
        try:
            line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            raise AssertionError(f"no {wanted!r} within {timeout}s; saw {seen}") from None
        if line is None:
            raise AssertionError(f"driver ended before {wanted!r}; saw {seen}")
        seen.append(line)
        if line == wanted:
            return seen


def seeded_state(tmp_path: Path) -> tuple[Path, dict[str, object]]:
    state = tmp_path / "cluster.json"
    cluster = seed(FileBackedFakeCluster(state))
    return state, cluster.dump()


def dump(state: Path) -> dict[str, object]:
    return FileBackedFakeCluster(state).dump()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
@pytest.mark.parametrize("step", STEPS)
def test_signal_during_every_step_rolls_back(step: str, sig: signal.Signals, tmp_path: Path) -> None:
    state, before = seeded_state(tmp_path)
    proc = start("run", str(state), str(tmp_path / "run"), "--block", step)
    wait_for_line(proc, f"changed {step}")
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 4, (out, err)
    assert f"verdict interrupted interrupted ({sig.name} received) during step {step}" in out
    assert dump(state) == before


@pytest.mark.parametrize("when", ["started", "changed"])  # mid-change, or blocked after it
@pytest.mark.parametrize("step", STEPS)
def test_sigkill_during_every_step_then_recover_twice(step: str, when: str, tmp_path: Path) -> None:
    state, before = seeded_state(tmp_path)
    run_dir = tmp_path / "run"
    proc = start("run", str(state), str(run_dir), "--block", step)
    wait_for_line(proc, f"{when} {step}")
    proc.kill()
    proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    killed = dump(state)
    assert killed != before  # at least the journal mirror is there
    first = start("recover", str(state), str(run_dir))
    out, err = first.communicate(timeout=60)
    assert first.returncode == 0, (out, err)
    assert dump(state) == before
    rv = FileBackedFakeCluster(state).resource_version
    second = start("recover", str(state), str(run_dir))
    out, err = second.communicate(timeout=60)
    assert second.returncode == 0, (out, err)
    assert "nothing to recover" in out
    assert "nothing changed" in out
    assert FileBackedFakeCluster(state).resource_version == rv
    assert dump(state) == before
