"""The seed incident must be impossible: the shim does nothing in a process that never calls
CUDA (no syscall it would not make anyway), links nothing but libc, exports only CUDA/NVML
names and dlsym, has no constructor of its own, and is clean under ASan+UBSan and TSan."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from tests.integration.shim_support import built, shim_env, write_toggle

# the dynamic loader relocating the preloaded object write-protects its RELRO segment
LOADER_ONLY = {"mprotect": 2}


def _syscalls(trace: Path, lib: Path) -> Counter[str]:
    calls: Counter[str] = Counter()
    mapping_lib = False
    for line in trace.read_text().splitlines():
        body = re.sub(r"^\d+\s+", "", line)
        if body.startswith(("---", "+++", "<...")) or lib.name in body:
            mapping_lib = lib.name in body
            continue  # signals, exits, resumed halves, and the loader mapping the .so itself
        if mapping_lib and body.startswith("mmap(") and "MAP_FIXED|MAP_ANONYMOUS" in body:
            continue  # right after its segments: the loader zero-filling the .so's .bss
        mapping_lib = False
        m = re.match(r"([a-z_0-9]+)\(", body)
        if m:
            calls[m.group(1)] += 1
    return calls


@pytest.mark.skipif(shutil.which("strace") is None, reason="strace is not installed (see .ci/apt-packages)")
def test_program_without_cuda_makes_no_extra_syscall(tmp_path: Path) -> None:
    b = built()
    prog = str(b.prog("noop"))
    env = shim_env(b, tmp_path / "toggle", CUDA_FAULT_INJECTION_ENABLED=1)
    write_toggle(tmp_path / "toggle", "1\nxid=79\n")
    counts = []
    for preload in (False, True):
        trace = tmp_path / f"trace-{preload}"
        run_env = dict(env)
        run_env.pop("LD_PRELOAD")
        cmd = ["strace", "-f", "-qq", "-y", "-o", str(trace)]
        if preload:
            cmd += ["-E", f"LD_PRELOAD={b.lib}"]
        proc = subprocess.run([*cmd, prog], env=run_env, capture_output=True, text=True, timeout=60,
                              check=False)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout == "cos(0)=1.0\n"
        counts.append(_syscalls(trace, b.lib))
    base, shim = counts
    extra = shim - base
    assert set(extra) <= set(LOADER_ONLY), f"syscalls only made under the shim: {dict(extra)}"
    assert all(extra[k] <= LOADER_ONLY[k] for k in extra)
    assert set(base - shim) == set()  # and nothing the program does goes missing


def _readelf(*args: str) -> str:
    return subprocess.run(["readelf", *args], capture_output=True, text=True, check=True).stdout


@pytest.mark.skipif(shutil.which("readelf") is None, reason="readelf (binutils) is not installed")
def test_links_nothing_but_libc() -> None:
    needed = re.findall(r"\(NEEDED\)\s+Shared library: \[(.+?)\]", _readelf("-d", str(built().lib)))
    assert needed
    assert all(re.match(r"lib(c|dl|pthread)\.so", n) for n in needed), needed


@pytest.mark.skipif(shutil.which("readelf") is None, reason="readelf (binutils) is not installed")
def test_exports_only_cuda_nvml_and_dlsym() -> None:
    exported = set()
    for line in _readelf("--dyn-syms", "-W", str(built().lib)).splitlines():
        cols = line.split()
        if len(cols) >= 8 and cols[4] == "GLOBAL" and cols[6] != "UND":
            exported.add(cols[7].split("@")[0])
    assert "cudaMalloc" in exported
    assert "cuGetProcAddress_v2" in exported
    assert "dlsym" in exported
    assert {s for s in exported if not re.match(r"(cu|nvml|__cuda)|dlsym$", s)} == set()


@pytest.mark.skipif(shutil.which("readelf") is None, reason="readelf (binutils) is not installed")
def test_no_constructor_beyond_the_toolchain_own(tmp_path: Path) -> None:
    empty = tmp_path / "empty.c"
    empty.write_text("int shim_probe_symbol;\n")
    ref = tmp_path / "empty.so"
    subprocess.run(["gcc", "-O2", "-shared", "-fPIC", "-o", str(ref), str(empty)], check=True)

    def init_array_size(lib: Path) -> int:
        m = re.search(r"\(INIT_ARRAYSZ\)\s+(\d+)", _readelf("-d", str(lib)))
        return int(m.group(1)) if m else 0

    assert init_array_size(built().lib) == init_array_size(ref)


def test_sanitizer_builds_are_clean(tmp_path: Path) -> None:
    b = built(sanitizers=True)
    gcc = shutil.which("gcc") or "gcc"
    asan = subprocess.run([gcc, "-print-file-name=libasan.so"], capture_output=True, text=True).stdout.strip()
    tsan = subprocess.run([gcc, "-print-file-name=libtsan.so"], capture_output=True, text=True).stdout.strip()
    toggle = tmp_path / "toggle"
    env = shim_env(b, toggle, CUDA_FAULT_INJECTION_ENABLED=1, ASAN_OPTIONS="detect_leaks=0",
                   UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1")
    for prog in ("drv_getproc_v2", "rt_entrypoint", "any_dlsym"):
        env["LD_PRELOAD"] = f"{asan} {b.root}/asan/cuda_intercept.so"
        proc = subprocess.run([str(b.prog(prog)), "cuMemAlloc_v2", "cuLaunchKernel"], env=env,
                              capture_output=True, text=True, timeout=60, check=False)
        assert proc.returncode == 0, proc.stderr
        assert "Sanitizer" not in proc.stderr, proc.stderr
        assert "runtime error" not in proc.stderr, proc.stderr
        assert proc.stdout.count("rc=100") == 2
    # 16 threads calling while the main thread flips the toggle file
    env = shim_env(b, toggle, CUDA_FAULT_POLL_MS=1, CUDA_FAULT_LOG_LIMIT=0,
                   TSAN_OPTIONS="halt_on_error=1 exitcode=66")
    env["LD_PRELOAD"] = f"{tsan} {b.root}/tsan/cuda_intercept.so"
    proc = subprocess.run([str(b.prog("threads")), str(toggle), "60"], env=env, capture_output=True,
                          text=True,
                          timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    calls, failures = map(int, re.findall(r"\d+", proc.stdout))
    assert calls > 0
    assert failures > 0
