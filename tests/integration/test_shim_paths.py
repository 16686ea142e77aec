"""Every interception path, one declarative case each: disarmed calls return the stub's own
answer; armed calls return each XID's code (from `runner.xid`), in real processes under
LD_PRELOAD with the real `cuda_intercept.so`."""

from __future__ import annotations

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
    kind: str = "work"  # work | peer | nvml: which code an armed XID gives

    def expected(self, x: xidcat.Xid) -> int:
        if self.kind == "nvml":
            return xidcat.NVML_ERROR_GPU_IS_LOST if x.nvml_gpu_lost else 0
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
    # driver through cudaGetDriverEntryPoint (PyTorch's way)
    Case("rt_entrypoint", "cuMemAlloc_v2", STUB_DRV_PTR),
    Case("rt_entrypoint", "cuLaunchKernel", 0),
    Case("rt_entrypoint", "cuMemcpyDtoH_v2", 0),
    # NVML, direct and through dlsym (pynvml uses ctypes, i.e. dlsym)
    Case("nvml_direct", "nvmlDeviceGetCount_v2", STUB_NVML_COUNT, "nvml"),
    Case("any_dlsym", "nvmlDeviceGetHandleByIndex_v2", STUB_NVML_HANDLE, "nvml"),
]
IDS = [f"{c.prog}-{c.op}" for c in CASES]


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_disarmed_call_returns_the_stub_result(case: Case, tmp_path: Path) -> None:
    b = built()
    (res,), err = run(b, case.prog, [case.op], shim_env(b, tmp_path / "toggle"))
    assert (res.rc, res.out, res.via) == (0, case.stub_out, "shim")
    assert "SIM]" not in err


@pytest.mark.parametrize("number", xidcat.supported())
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_armed_call_returns_the_xid_error(case: Case, number: int, tmp_path: Path) -> None:
    b = built()
    x = xidcat.CATALOGUE[number]
    env = shim_env(b, tmp_path / "toggle", CUDA_FAULT_INJECTION_ENABLED=1, CUDA_XID_TYPE=number)
    (res,), err = run(b, case.prog, [case.op], env)
    want = case.expected(x)
    assert res.rc == want
    if want:
        assert f"[XID {number} SIM] {case.op} -> {case.error_name(x)} ({want})" in err.splitlines()
    else:
        assert res.out == case.stub_out


DRIVER_PATHS = ["drv_direct", "any_dlsym", "drv_getproc", "drv_getproc_v2", "rt_entrypoint"]


@pytest.mark.parametrize("prog", DRIVER_PATHS)
def test_export_table_passes_through_untouched(prog: str, tmp_path: Path) -> None:
    b = built()
    env = shim_env(b, tmp_path / "toggle", CUDA_FAULT_INJECTION_ENABLED=1)
    (res,), _ = run(b, prog, ["cuGetExportTable"], env)
    assert (res.rc, res.out, res.via) == (0, STUB_EXPORT_TABLE, "real")
