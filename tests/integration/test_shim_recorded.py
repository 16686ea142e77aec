"""The driver functions real NVIDIA libraries ask for, replayed through the shim.

shim/tests/recorded/ holds what cudart 12.9 (shared and static) and cuda-bindings 12.9 asked
cuGetProcAddress for (base name, version, stream flag), recorded over the stub driver by
record.py, and classes.txt: the fault class every one of those names belongs to. Replayed
through every lookup path and both stub-driver behaviours (exported symbols, internal
functions), each name of a fault class must come back as the shim's wrapper and fail, armed with
`apis=<its class>`, with the XID's code; names the shim does not know must come back untouched.
A new CUDA release: re-record, and this test names what to classify or add to driver_table.h.
"""

from __future__ import annotations

import subprocess
from collections import defaultdict
from pathlib import Path

import pytest

from runner import xid as xidcat
from tests.integration.shim_support import SHIM, built, shim_env

RECORDED = SHIM / "tests" / "recorded"
FAULT_CLASSES = ("discovery", "context", "alloc", "memcpy", "peer", "launch", "sync")
WRAPPED_CLASSES = (*FAULT_CLASSES, "state", "lookup")
PATHS = ["getproc", "getproc_v2", "self", "self11", "entry"]
MODES = ["exported", "internal"]
ECC = xidcat.ECC_UNCORRECTABLE.code

Request = tuple[str, int, int]


def recorded(prefix: str) -> list[Request]:
    (path,) = RECORDED.glob(f"{prefix}-*.txt")
    rows = []
    for line in path.read_text().splitlines():
        if line and not line.startswith("#"):
            name, version, flags = line.split()
            rows.append((name, int(version), int(flags)))
    return rows


def requests() -> list[Request]:
    return sorted(set(recorded("cudart")) | set(recorded("cuda-bindings")))


def classes() -> dict[str, str]:
    out = {}
    for line in (RECORDED / "classes.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            base, cls = line.split()
            out[base] = cls
    return out


def replay(path: str, mode: str, reqs: list[Request], tmp_path: Path, *, call: bool = False,
           **env: str | int) -> dict[Request, tuple[str, int | None]]:
    b = built()
    args = [str(b.prog("replay")), path] + (["--call"] if call else [])
    stdin = "".join(f"{n} {v} {f}\n" for n, v, f in reqs)
    run_env = shim_env(b, tmp_path / "toggle", STUB_CUDA_PROC=mode, CUDA_FAULT_LOG_LIMIT=0, **env)
    proc = subprocess.run(args, input=stdin, capture_output=True, text=True, timeout=120, check=False,
                          env=run_env)
    assert proc.returncode == 0, proc.stderr
    out = {}
    for line in proc.stdout.splitlines():
        name, version, flags, via, *rest = line.split()
        rc = int(rest[0].removeprefix("rc=")) if rest and rest[0] != "rc=crash" else None
        out[(name, int(version), int(flags))] = (via.removeprefix("via="), rc)
    assert len(out) == len(reqs), proc.stdout
    return out


def test_the_recordings_are_whole() -> None:
    cudart, bindings = recorded("cudart"), recorded("cuda-bindings")
    assert len(cudart) > 400  # cudart 12.9 asks for ~419 functions at initialisation
    assert len(bindings) > 900  # cuda-bindings: ~483, with and without per-thread streams
    assert ("cuGetProcAddress", 12000, 0) in cudart
    assert ("cuMemcpy2DUnaligned", 7000, 2) in cudart  # what cudaMemcpy2D reaches, per-thread
    assert ("cuMemsetD8", 7000, 2) in bindings


def test_every_recorded_name_is_classified() -> None:
    known = classes()
    missing = sorted({n for n, _, _ in requests()} - set(known))
    assert missing == [], f"classify these in {RECORDED / 'classes.txt'}: {missing}"
    assert set(known.values()) <= {*WRAPPED_CLASSES, "none"}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("path", PATHS)
def test_every_recorded_request_comes_back_wrapped_or_untouched(path: str, mode: str, tmp_path: Path) -> None:
    known = classes()
    reqs = requests()
    got = replay(path, mode, reqs, tmp_path)
    slipped = sorted(r for r in reqs if known[r[0]] in WRAPPED_CLASSES and got[r][0] != "shim")
    assert slipped == [], f"these slip past the shim ({path}, {mode}): {slipped}"
    touched = sorted(r for r in reqs if known[r[0]] == "none" and got[r][0] != "real")
    assert touched == []


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("path", PATHS)
def test_every_fault_class_fails_its_recorded_calls(path: str, mode: str, tmp_path: Path) -> None:
    known = classes()
    by_class: dict[str, list[Request]] = defaultdict(list)
    for r in requests():
        if known[r[0]] in FAULT_CLASSES:
            by_class[known[r[0]]].append(r)
    assert set(by_class) == set(FAULT_CLASSES)
    for cls, reqs in by_class.items():
        got = replay(path, mode, reqs, tmp_path, call=True, CUDA_FAULT_INJECTION_ENABLED=1, CUDA_XID_TYPE=48,
                     CUDA_FAULT_APIS=cls)
        wrong = sorted((r, got[r]) for r in reqs if got[r] != ("shim", ECC))
        assert wrong == [], f"class {cls} ({path}, {mode}): not failed with {ECC}: {wrong}"
