"""Every interception path, one declarative case each: disarmed calls return the stub's own
answer; armed calls return each XID's code (from `runner.xid`), in real processes under
LD_PRELOAD with the real `cuda_intercept.so`. Driver paths run in both behaviours of the stub
driver's cuGetProcAddress: handing out its exported symbols, and handing out internal functions
that match no exported symbol (the shim must hold either way)."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from runner import xid as xidcat
from tests.integration.shim_support import built, run, shim_env

# the stubs' recognisable answers (shim/tests/stubs/stub.h)
STUB_RT_PTR, STUB_DRV_PTR, STUB_EXPORT_TABLE = 0x5100, 0xD000, 0x1234
STUB_NVML_COUNT, STUB_NVML_HANDLE = 2, 0xA0


@dataclass(frozen=True)
class Case:
    prog: str  # how the program obtains the function (see shim/tests/progs/)
    op: str  # the exported function it ends up calling
    stub_out: int  # what the stub writes to the out-parameter (0: none)
    kind: str = "work"  # work | peer | context | nvml: which code an armed XID gives

    def expected(self, x: xidcat.Xid) -> int:
        if self.kind == "nvml":
            return xidcat.NVML_ERROR_GPU_IS_LOST if x.nvml_gpu_lost else 0
        if self.kind == "context" and x.scope is not xidcat.Scope.NODE:
            return 0
        if self.kind == "peer" and x.peer_error:
            return x.peer_error.code
        return x.error.code

    def error_name(self, x: xidcat.Xid) -> str:
        if self.kind == "nvml":
            return "NVML_ERROR_GPU_IS_LOST"
        err = x.peer_error if self.kind == "peer" and x.peer_error else x.error
        return err.runtime_name if self.op.startswith("cuda") else err.driver_name


CASES = [
    # direct runtime symbols (program links libcudart.so)
    Case("rt_direct", "cudaMalloc", STUB_RT_PTR),
    Case("rt_direct", "cudaMemcpy", 0),
    Case("rt_direct", "cudaLaunchKernel", 0),
    Case("rt_direct", "cudaGraphLaunch", 0),
    Case("rt_direct", "cudaStreamSynchronize", 0),
    Case("rt_direct", "cudaDeviceSynchronize", 0),
    Case("rt_direct", "cudaDeviceEnablePeerAccess", 0, "peer"),
    # runtime through dlopen + dlsym
    Case("any_dlsym", "cudaMalloc", STUB_RT_PTR),
    Case("any_dlsym", "cudaMemcpyAsync", 0),
    # direct driver symbols (program links libcuda.so.1)
    Case("drv_direct", "cuMemAlloc_v2", STUB_DRV_PTR),
    Case("drv_direct", "cuLaunchKernelEx", 0),
    Case("drv_direct", "cuStreamSynchronize", 0),
    Case("drv_direct", "cuMemcpyPeer", 0, "peer"),
    # driver through dlopen + dlsym (Triton's way)
    Case("any_dlsym", "cuMemAlloc_v2", STUB_DRV_PTR),
    Case("any_dlsym", "cuGraphLaunch", 0),
    Case("any_dlsym", "cuCtxEnablePeerAccess", 0, "peer"),
    # driver through cuGetProcAddress (v1), base names resolved to versioned functions
    Case("drv_getproc", "cuMemAlloc_v2", STUB_DRV_PTR),
    Case("drv_getproc", "cuLaunchKernel_ptsz", 0),
    Case("drv_getproc", "cuCtxSynchronize", 0),
    # driver through cuGetProcAddress_v2 re-resolved through itself (cudart's way)
    Case("drv_getproc_v2", "cuMemAlloc_v2", STUB_DRV_PTR),
    Case("drv_getproc_v2", "cuStreamSynchronize_ptsz", 0),
    Case("drv_getproc_v2", "cuMemcpyHtoD_v2", 0),
    # cuGetProcAddress (v1) asked for itself at CUDA 11.3 (the 4-argument form), then through it
    Case("drv_getproc_self11", "cuMemAlloc_v2", STUB_DRV_PTR),
    Case("drv_getproc_self11", "cuMemcpy2DUnaligned_v2_ptds", 0),
    Case("drv_getproc_self11", "cuEventRecord_ptsz", 0),
    # the variants chosen by version and stream flag, through the self-resolved pointer
    Case("drv_getproc_v2", "cuMemAlloc", 0),
    Case("drv_getproc_v2", "cuCtxCreate_v4", 0xC7C7, "context"),
    Case("drv_getproc_v2", "cuMemPrefetchAsync", 0),
    Case("drv_getproc_v2", "cuMemPrefetchAsync_v2_ptsz", 0),
    Case("drv_getproc_v2", "cuMemHostRegister", 0),
    Case("drv_getproc_v2", "cuMemHostRegister_v2", 0),
    Case("drv_getproc_v2", "cuMemcpyDtoD_v2_ptds", 0),
    Case("drv_getproc_v2", "cuMemsetD32Async_ptsz", 0),
    Case("drv_getproc_v2", "cuMemcpyPeerAsync_ptsz", 0, "peer"),
    Case("drv_getproc_v2", "cuStreamWaitEvent_ptsz", 0),
    Case("drv_getproc_v2", "cuEventQuery", 0),
    Case("drv_getproc_v2", "cuGraphUpload", 0),
    # driver through cudaGetDriverEntryPoint (PyTorch's way) and ...ByVersion
    Case("rt_entrypoint", "cuMemAlloc_v2", STUB_DRV_PTR),
    Case("rt_entrypoint", "cuLaunchKernel", 0),
    Case("rt_entrypoint", "cuMemcpyDtoH_v2", 0),
    Case("rt_entrypoint_ver", "cuMemAlloc_v2", STUB_DRV_PTR),
    Case("rt_entrypoint_ver", "cuMemPrefetchAsync", 0),
    Case("rt_entrypoint_ver", "cuMemAllocFromPoolAsync_ptsz", 0),
    # NVML, direct and through dlsym (pynvml uses ctypes, i.e. dlsym)
    Case("nvml_direct", "nvmlDeviceGetCount_v2", STUB_NVML_COUNT, "nvml"),
    Case("any_dlsym", "nvmlDeviceGetHandleByIndex_v2", STUB_NVML_HANDLE, "nvml"),
]
DRIVER_PROGS = {"drv_direct", "drv_getproc", "drv_getproc_v2", "drv_getproc_self11", "rt_entrypoint",
                "rt_entrypoint_ver"}
# (case, stub driver behaviour): driver paths in both, the rest with the default
MODED = [(c, m) for c in CASES for m in (("exported", "internal") if c.prog in DRIVER_PROGS
                                         or c.op.startswith("cu") else ("exported",))]
IDS = [f"{c.prog}-{c.op}-{m}" for c, m in MODED]


@pytest.mark.parametrize(("case", "mode"), MODED, ids=IDS)
def test_disarmed_call_returns_the_stub_result(case: Case, mode: str, tmp_path: Path) -> None:
    b = built()
    (res,), err = run(b, case.prog, [case.op], shim_env(b, tmp_path / "toggle", STUB_CUDA_PROC=mode))
    assert (res.rc, res.out, res.via) == (0, case.stub_out, "shim")
    assert "SIM]" not in err


@pytest.mark.parametrize("number", xidcat.supported())
@pytest.mark.parametrize(("case", "mode"), MODED, ids=IDS)
def test_armed_call_returns_the_xid_error(case: Case, mode: str, number: int, tmp_path: Path) -> None:
    b = built()
    x = xidcat.CATALOGUE[number]
    env = shim_env(b, tmp_path / "toggle", CUDA_FAULT_INJECTION_ENABLED=1, CUDA_XID_TYPE=number,
                   STUB_CUDA_PROC=mode)
    (res,), err = run(b, case.prog, [case.op], env)
    want = case.expected(x)
    assert res.rc == want
    if want:
        assert f"[XID {number} SIM] {case.op} -> {case.error_name(x)} ({want})" in err.splitlines()
    else:
        assert res.out == case.stub_out


DRIVER_PATHS = ["drv_direct", "any_dlsym", "drv_getproc", "drv_getproc_v2", "drv_getproc_self11",
                "rt_entrypoint", "rt_entrypoint_ver"]


@pytest.mark.parametrize("mode", ["exported", "internal"])
@pytest.mark.parametrize("prog", DRIVER_PATHS)
def test_export_table_passes_through_untouched(prog: str, mode: str, tmp_path: Path) -> None:
    b = built()
    env = shim_env(b, tmp_path / "toggle", CUDA_FAULT_INJECTION_ENABLED=1, STUB_CUDA_PROC=mode)
    (res,), _ = run(b, prog, ["cuGetExportTable"], env)
    assert (res.rc, res.out, res.via) == (0, STUB_EXPORT_TABLE, "real")


@pytest.mark.parametrize("prog", ["drv_getproc_v2", "drv_getproc_self11"])
def test_lookup_through_the_returned_resolver_sees_internal_pointers(prog: str, tmp_path: Path) -> None:
    """Asked for cuGetProcAddress itself, the shim returns its own resolver (whatever the driver
    returned), so lookups made through that pointer are seen: without the shim the same program
    gets the driver's internal function, not a wrapper."""
    b = built()
    env = shim_env(b, tmp_path / "toggle", STUB_CUDA_PROC="internal", CUDA_FAULT_LOG_LOOKUPS=1)
    (res,), err = run(b, prog, ["cuMemsetD8_v2_ptds"], env)
    assert (res.rc, res.via) == (0, "shim")
    version = 12000 if prog == "drv_getproc_v2" else 11030
    wanted = "cuGetProcAddress_v2" if version >= 12000 else "cuGetProcAddress"
    assert f"[cuda-intercept] lookup cuGetProcAddress {version} 0 -> {wanted} (wrapped)" in err.splitlines()
    assert "[cuda-intercept] lookup cuMemsetD8 7000 2 -> cuMemsetD8_v2_ptds (wrapped)" in err.splitlines()
    bare = {k: v for k, v in env.items() if k != "LD_PRELOAD"}
    proc = subprocess.run([str(b.prog("drv_getproc")), "cuMemsetD8_v2_ptds"], env=bare, capture_output=True,
                          text=True, timeout=30, check=False)
    assert "via=real" in proc.stdout
