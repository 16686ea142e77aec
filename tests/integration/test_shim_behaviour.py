"""The fault model of `cuda_intercept.so` in real processes: sticky latch, node vs process scope,
the toggle file (seen by running processes, read by content, the expiry dead-man switch),
after-N and probability triggers, the API filter, the kill switch, logs and missing symbols.
Each test runs twice: against the library gcc builds from the sources now, and against the
prebuilt one `chaos` ships and delivers by default (`make -C shim dist`, zig cc, glibc 2.17)."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from runner import xid as xidcat
from tests.integration.shim_support import (
    Build,
    Interactive,
    built,
    parse,
    prebuilt,
    run,
    shim_env,
    write_toggle,
)

ECC = xidcat.ECC_UNCORRECTABLE.code


@pytest.fixture(params=["gcc", "prebuilt"])
def b(request: pytest.FixtureRequest) -> Build:
    return built() if request.param == "gcc" else prebuilt()


def test_sticky_latch_survives_disarm(b: Build, tmp_path: Path) -> None:
    toggle = tmp_path / "toggle"
    write_toggle(toggle, "1\nxid=48\n")
    p = Interactive(b, "rt_direct", shim_env(b, toggle, CUDA_FAULT_POLL_MS=0))
    assert p.call("cudaMalloc").rc == ECC
    write_toggle(toggle, "0\n")
    # real hardware does not heal: every later call, of any kind, keeps failing
    assert [p.call(op).rc for op in ("cudaMalloc", "cudaDeviceSynchronize", "cudaGetLastError")] == [ECC] * 3
    p.close()
    (fresh,), _ = run(b, "rt_direct", ["cudaMalloc"], shim_env(b, toggle))
    assert fresh.rc == 0  # a new process after the disarm is healthy


def test_get_last_error_only_reports_a_latched_fault(b: Build, tmp_path: Path) -> None:
    env = shim_env(b, tmp_path / "toggle", CUDA_FAULT_INJECTION_ENABLED=1, CUDA_XID_TYPE=43)
    results, _ = run(b, "rt_direct", ["cudaGetLastError", "cudaLaunchKernel", "cudaGetLastError"], env)
    assert [r.rc for r in results] == [0, 702, 702]


@pytest.mark.parametrize("number", xidcat.supported())
def test_scope_decides_what_a_new_process_sees_while_armed(b: Build, number: int, tmp_path: Path) -> None:
    x = xidcat.CATALOGUE[number]
    toggle = tmp_path / "toggle"
    write_toggle(toggle, f"1\nxid={number}\n")
    results, _ = run(b, "drv_direct", ["cuDeviceGetCount"], shim_env(b, toggle))
    # discovery fails only when the GPU is gone; contexts fail for node-scoped XIDs
    assert results[0].rc == (x.error.code if x.nvml_gpu_lost else 0)
    results, _ = run(b, "drv_direct", ["cuCtxCreate_v2"], shim_env(b, toggle))
    assert results[0].rc == (x.error.code if x.scope is xidcat.Scope.NODE else 0)
    results, _ = run(b, "drv_direct", ["cuMemAlloc_v2"], shim_env(b, toggle))
    assert results[0].rc == x.error.code  # work fails in every new process while armed
    write_toggle(toggle, "0\n")
    results, _ = run(b, "drv_direct", ["cuCtxCreate_v2", "cuMemAlloc_v2"], shim_env(b, toggle))
    assert [r.rc for r in results] == [0, 0]  # after the reset, new processes recover


def test_process_scope_restart_recovers_while_the_faulted_process_stays_dead(b: Build,
                                                                              tmp_path: Path) -> None:
    toggle = tmp_path / "toggle"
    write_toggle(toggle, "1\nxid=94\n")
    old = Interactive(b, "rt_direct", shim_env(b, toggle, CUDA_FAULT_POLL_MS=0))
    assert old.call("cudaMalloc").rc == ECC
    write_toggle(toggle, "0\n")
    (restarted,), _ = run(b, "rt_direct", ["cudaMalloc"], shim_env(b, toggle))
    assert restarted.rc == 0
    assert old.call("cudaMalloc").rc == ECC
    old.close()


def test_running_process_sees_the_toggle_within_its_deadline(b: Build, tmp_path: Path) -> None:
    toggle = tmp_path / "toggle"
    write_toggle(toggle, "0\n")
    proc = subprocess.Popen([str(b.prog("rt_direct")), "--until-fail", "cudaStreamSynchronize", "20000"],
                            env=shim_env(b, toggle), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    write_toggle(toggle, "1\nxid=79\n")  # default poll interval (100 ms) on the coarse clock
    out, err = proc.communicate(timeout=30)
    (res,) = parse(out)
    assert res.rc == xidcat.NO_DEVICE.code
    assert "[XID 79 SIM] cudaStreamSynchronize -> cudaErrorNoDevice (100)" in err


def test_toggle_file_is_read_by_content_not_mtime(b: Build, tmp_path: Path) -> None:
    toggle = tmp_path / "toggle"
    toggle.write_text("0\n")
    before = toggle.stat()
    p = Interactive(b, "nvml_direct", shim_env(b, toggle, CUDA_FAULT_POLL_MS=0))
    assert p.call("nvmlDeviceGetCount_v2").rc == 0
    with toggle.open("r+") as f:  # same size, same inode, same mtime: only the content differs
        f.write("1")
    os.utime(toggle, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert toggle.stat().st_mtime_ns == before.st_mtime_ns
    assert p.call("nvmlDeviceGetCount_v2").rc == xidcat.NVML_ERROR_GPU_IS_LOST
    p.close()


def test_expired_arming_is_disarmed(b: Build, tmp_path: Path) -> None:
    toggle = tmp_path / "toggle"
    write_toggle(toggle, f"1\nxid=48\nexpires={int(time.time()) - 1}\n")
    (res,), err = run(b, "rt_direct", ["cudaMalloc"], shim_env(b, toggle))
    assert res.rc == 0
    assert "SIM]" not in err


def test_arming_lapses_when_the_runner_stops_renewing(b: Build, tmp_path: Path) -> None:
    toggle = tmp_path / "toggle"
    expires = int(time.time()) + 2
    write_toggle(toggle, f"1\nxid=79\nexpires={expires}\n")
    seen = Interactive(b, "nvml_direct", shim_env(b, toggle, CUDA_FAULT_POLL_MS=0))
    assert seen.call("nvmlDeviceGetCount_v2").rc == xidcat.NVML_ERROR_GPU_IS_LOST
    # a new process started after the expiry finds the GPU back ...
    fresh: list[int | None] = []
    while time.time() < expires + 20 and not (fresh and fresh[-1] == 0):
        (res,), _ = run(b, "nvml_direct", ["nvmlDeviceGetCount_v2"], shim_env(b, toggle))
        fresh.append(res.rc)
        time.sleep(0.2)
    assert fresh[-1] == 0
    assert set(fresh[:-1]) <= {xidcat.NVML_ERROR_GPU_IS_LOST}  # those started before it were not
    # ... the one that saw it lost does not (a lost GPU stays lost for the process that saw it)
    assert seen.call("nvmlDeviceGetCount_v2").rc == xidcat.NVML_ERROR_GPU_IS_LOST
    assert "[XID 79 SIM] nvmlDeviceGetCount_v2 -> NVML_ERROR_GPU_IS_LOST (15)" in seen.close()


@pytest.mark.parametrize("number", xidcat.supported())
def test_nvml_latches_with_the_xid_semantics(b: Build, number: int, tmp_path: Path) -> None:
    """NVML reports the GPU lost only for GPU-lost XIDs; once a process heard it, it keeps hearing
    it after the disarm (and so do its CUDA calls), while a new process is healthy again."""
    x = xidcat.CATALOGUE[number]
    toggle = tmp_path / "toggle"
    write_toggle(toggle, f"1\nxid={number}\n")
    p = Interactive(b, "nvml_direct", shim_env(b, toggle, CUDA_FAULT_POLL_MS=0))
    lost = xidcat.NVML_ERROR_GPU_IS_LOST if x.nvml_gpu_lost else 0
    assert p.call("nvmlDeviceGetCount_v2").rc == lost
    write_toggle(toggle, "0\n")
    after = [p.call(op).rc for op in ("nvmlDeviceGetCount_v2", "nvmlDeviceGetHandleByIndex_v2")]
    assert after == [lost, lost]
    p.close()
    (fresh,), _ = run(b, "nvml_direct", ["nvmlDeviceGetCount_v2"], shim_env(b, toggle))
    assert fresh.rc == 0


def test_a_process_that_saw_the_gpu_lost_in_nvml_fails_its_cuda_calls_too(b: Build, tmp_path: Path) -> None:
    toggle = tmp_path / "toggle"
    write_toggle(toggle, "1\nxid=79\n")
    p = Interactive(b, "any_dlsym", shim_env(b, toggle, CUDA_FAULT_POLL_MS=0))
    assert p.call("nvmlDeviceGetHandleByIndex_v2").rc == xidcat.NVML_ERROR_GPU_IS_LOST
    write_toggle(toggle, "0\n")
    assert p.call("cuMemAlloc_v2").rc == xidcat.NO_DEVICE.code
    p.close()


def test_after_calls_lets_the_first_n_through(b: Build, tmp_path: Path) -> None:
    toggle = tmp_path / "toggle"
    write_toggle(toggle, "1\nxid=94\nafter_calls=3\n")
    results, _ = run(b, "rt_direct", ["cudaMalloc"] * 5, shim_env(b, toggle))
    assert [r.rc for r in results] == [0, 0, 0, ECC, ECC]


def test_probability_zero_never_faults(b: Build, tmp_path: Path) -> None:
    toggle = tmp_path / "toggle"
    write_toggle(toggle, "1\nxid=48\nprobability=0\n")
    out = run(b, "rt_direct", ["--until-fail", "cudaMalloc", "200"], shim_env(b, toggle))
    assert out[0][0].rc == 0


def test_probability_half_faults_some_calls_later(b: Build, tmp_path: Path) -> None:
    toggle = tmp_path / "toggle"
    write_toggle(toggle, "1\nxid=48\nprobability=0.5\n")
    first_call_failures = 0
    for _ in range(20):
        proc_results, _ = run(b, "rt_direct", ["cudaMalloc"] * 40, shim_env(b, toggle))
        rcs = [r.rc for r in proc_results]
        assert ECC in rcs  # P(no fault in 40 calls) = 2**-40
        k = rcs.index(ECC)
        assert rcs[k:] == [ECC] * (40 - k)  # latched from the first fault on
        first_call_failures += k == 0
    assert first_call_failures < 20  # P(all 20 fail on the first call) = 2**-20


def test_apis_filter_picks_the_calls_that_fail(b: Build, tmp_path: Path) -> None:
    toggle = tmp_path / "toggle"
    write_toggle(toggle, "1\nxid=43\napis=launch,sync\n")
    results, _ = run(b, "rt_direct", ["cudaMalloc", "cudaMemcpy", "cudaLaunchKernel"], shim_env(b, toggle))
    assert [r.rc for r in results] == [0, 0, 702]


def test_kill_switch_makes_the_library_a_pass_through(b: Build, tmp_path: Path) -> None:
    toggle = tmp_path / "toggle"
    write_toggle(toggle, "1\nxid=79\n")
    env = shim_env(b, toggle, CUDA_FAULT_INJECTION_ENABLED=1, CUDA_FAULT_INJECTION_DISABLE=1)
    (res,), err = run(b, "rt_direct", ["cudaMalloc"], env)
    assert (res.rc, res.out) == (0, 0x5100)
    (res,), err2 = run(b, "any_dlsym", ["cuMemAlloc_v2"], env)
    assert (res.rc, res.via) == (0, "real")  # lookups hand out the real functions
    assert err == err2 == ""


@pytest.mark.parametrize(("limit", "lines"), [("0", 0), ("2", 2), (None, 10)])
def test_log_limit(b: Build, limit: str | None, lines: int, tmp_path: Path) -> None:
    extra = {"CUDA_FAULT_LOG_LIMIT": limit} if limit is not None else {}
    env = shim_env(b, tmp_path / "toggle", CUDA_FAULT_INJECTION_ENABLED=1, CUDA_XID_TYPE=95, **extra)
    _, err = run(b, "drv_direct", ["cuMemAlloc_v2"] * 12, env)
    logged = [ln for ln in err.splitlines() if ln.startswith("[XID 95 SIM] ")]
    assert len(logged) == lines
    assert all(ln == "[XID 95 SIM] cuMemAlloc_v2 -> CUDA_ERROR_UNKNOWN (999)" for ln in logged)


def test_missing_real_symbol_is_reported_not_called(b: Build, tmp_path: Path) -> None:
    results, err = run(b, "shim_handle", ["cuMemAllocManaged", "cuMemAllocManaged"],
                       shim_env(b, tmp_path / "toggle"))
    assert [r.rc for r in results] == [500, 500]  # CUDA_ERROR_NOT_FOUND
    assert err.splitlines() == [
        "[cuda-intercept] real cuMemAllocManaged not found; returning CUDA_ERROR_NOT_FOUND (500)"]


def test_unknown_xid_keeps_faults_off(b: Build, tmp_path: Path) -> None:
    env = shim_env(b, tmp_path / "toggle", CUDA_FAULT_INJECTION_ENABLED=1, CUDA_XID_TYPE=13)
    (res,), err = run(b, "rt_direct", ["cudaMalloc"], env)
    assert res.rc == 0
    assert err.splitlines() == ["[cuda-intercept] XID 13 is not simulated; faults stay off"]


def test_forked_child_still_sees_the_toggle(b: Build, tmp_path: Path) -> None:
    toggle = tmp_path / "toggle"
    write_toggle(toggle, "0\n")
    proc = subprocess.Popen([str(b.prog("rt_direct")), "--fork-until-fail", "cudaMalloc", "20000"],
                            env=shim_env(b, toggle), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    write_toggle(toggle, "1\nxid=95\n")
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    (res,) = parse(out)
    assert res.rc == xidcat.UNKNOWN.code


def test_latch_is_inherited_by_a_forked_child(b: Build, tmp_path: Path) -> None:
    toggle = tmp_path / "toggle"
    write_toggle(toggle, "1\nxid=43\napis=launch\n")
    # the parent's launch faults and latches; the child's allocation is not a faulting call
    # (apis=launch), so only the inherited latch can fail it
    args = ["--fork-until-fail", "cudaLaunchKernel", "100", "cudaMalloc"]
    proc = subprocess.Popen([str(b.prog("rt_direct")), *args],
                            env=shim_env(b, toggle), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    (res,) = parse(out)
    assert (res.op, res.rc) == ("cudaMalloc", 702)


def test_child_of_a_healthy_process_is_not_latched(b: Build, tmp_path: Path) -> None:
    toggle = tmp_path / "toggle"
    write_toggle(toggle, "1\nxid=43\napis=launch\n")
    args = ["--fork-until-fail", "cudaMalloc", "100", "cudaMalloc"]
    proc = subprocess.Popen([str(b.prog("rt_direct")), *args],
                            env=shim_env(b, toggle), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    (res,) = parse(out)
    assert (res.op, res.rc) == ("cudaMalloc", 0)


def test_default_scope_probe_answers_as_without_the_shim(b: Build, tmp_path: Path) -> None:
    proc = subprocess.run([str(b.prog("probe")), "cuInit"], env=shim_env(b, tmp_path / "toggle"),
                          capture_output=True, text=True, timeout=30, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "before=null after=found via=shim"
