"""The shim in front of REAL NVIDIA user-space libraries, over the stub driver (no GPU needed).

The real libcudart.so.12 and libcudart_static.a of the nvidia-cuda-runtime-cu12 wheel, and
NVIDIA's cuda-bindings, reach the driver only through cuGetProcAddress (by base name and
version). With the stub libcuda.so.1 first on the library path, in both of its behaviours
(cuGetProcAddress handing out exported symbols, or internal functions that match none), the
shim must: change nothing while disarmed, see every lookup (cudart asks for cuGetProcAddress
itself and makes its ~415 other lookups through the pointer it got), and, armed, fail the first
intercepted call with the XID's code, before the driver sees it. The wheels are dev dependencies.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from runner import xid as xidcat
from tests.integration.shim_support import built, shim_env
from tests.integration.test_shim_recorded import WRAPPED_CLASSES, classes, recorded

MODES = ["exported", "internal"]
ECC = xidcat.ECC_UNCORRECTABLE.code


def _wheel_lib() -> Path | None:
    spec = importlib.util.find_spec("nvidia.cuda_runtime")
    if spec is None or not spec.submodule_search_locations:
        return None
    lib = Path(next(iter(spec.submodule_search_locations))) / "lib"
    return lib if (lib / "libcudart.so.12").is_file() else None


WHEEL = _wheel_lib()
HAS_BINDINGS = importlib.util.find_spec("cuda.bindings") is not None
needs_cudart = pytest.mark.skipif(WHEEL is None or shutil.which("gcc") is None,
                                  reason="nvidia-cuda-runtime-cu12 (a dev dependency) or gcc is missing")
needs_bindings = pytest.mark.skipif(not HAS_BINDINGS,
                                    reason="cuda-bindings (a dev dependency) is not installed")

PROGRAM = r"""
#include <stdio.h>
extern int cudaStreamCreate(void **);
extern int cudaStreamSynchronize(void *);
int main(void) {
    void *s = 0;
    printf("cudaStreamCreate rc=%d\n", cudaStreamCreate(&s));
    printf("cudaStreamCreate rc=%d\n", cudaStreamCreate(&s));
    return 0;
}
"""


@pytest.fixture(scope="module")
def cudart_progs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The same program linked with the wheel's shared and static cudart."""
    assert WHEEL is not None
    d = tmp_path_factory.mktemp("cudart")
    (d / "p.c").write_text(PROGRAM)
    subprocess.run(["gcc", "-o", str(d / "shared"), str(d / "p.c"), f"-L{WHEEL}", "-l:libcudart.so.12",
                    f"-Wl,-rpath,{WHEEL}"], check=True)
    subprocess.run(["gcc", "-o", str(d / "static"), str(d / "p.c"), str(WHEEL / "libcudart_static.a"),
                    "-ldl", "-lpthread", "-lrt"], check=True)
    return {"shared": d / "shared", "static": d / "static"}


def _run(cmd: list[str], env: dict[str, str]) -> tuple[list[str], str]:
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.split(), proc.stderr


@needs_cudart
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("link", ["shared", "static"])
def test_real_cudart_disarmed_is_unchanged_and_every_lookup_is_seen(
        link: str, mode: str, cudart_progs: dict[str, Path], tmp_path: Path) -> None:
    b = built()
    env = shim_env(b, tmp_path / "toggle", STUB_CUDA_PROC=mode)
    bare = {k: v for k, v in env.items() if k != "LD_PRELOAD"}
    without, _ = _run([str(cudart_progs[link])], bare)
    # cudart gives up with its own error (the stub has no private export tables) after cuInit
    assert without == ["cudaStreamCreate", "rc=500"] * 2
    out, err = _run([str(cudart_progs[link])], {**env, "CUDA_FAULT_LOG_LOOKUPS": "1"})
    assert out == without
    lookups = [ln.split() for ln in err.splitlines() if ln.startswith("[cuda-intercept] lookup ")]
    assert len(lookups) > 400
    assert ["[cuda-intercept]", "lookup", "cuGetProcAddress", "12000", "0", "->", "cuGetProcAddress_v2",
            "(wrapped)"] in lookups
    assert [ln for ln in lookups if ln[-1] == "WRAPPED)"] == []
    wrapped = {ln[2] for ln in lookups if ln[-1] == "(wrapped)"}
    known = classes()
    expected = {n for n, _, _ in recorded("cudart") if known[n] in WRAPPED_CLASSES}
    assert wrapped == expected


@needs_cudart
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("link", ["shared", "static"])
@pytest.mark.parametrize("number", xidcat.supported())
def test_real_cudart_armed_fails_at_cuinit_with_the_xid_code(
        number: int, link: str, mode: str, cudart_progs: dict[str, Path], tmp_path: Path) -> None:
    b = built()
    x = xidcat.CATALOGUE[number]
    log = tmp_path / "driver.log"
    env = shim_env(b, tmp_path / "toggle", STUB_CUDA_PROC=mode, STUB_CUDA_LOG=str(log),
                   CUDA_FAULT_INJECTION_ENABLED=1, CUDA_XID_TYPE=number, CUDA_FAULT_APIS="all")
    out, err = _run([str(cudart_progs[link])], env)
    # cuInit is cudart's first intercepted call; cudart reports the driver's code as its own
    assert out == ["cudaStreamCreate", f"rc={x.error.code}"] * 2
    assert err.splitlines()[0] == f"[XID {number} SIM] cuInit -> {x.error.driver_name} ({x.error.code})"
    calls = [ln for ln in log.read_text().splitlines() if ln.startswith("CALL ")]
    assert "CALL cuInit" not in calls  # the driver never saw it
    assert calls[:2] == ["CALL cuGetExportTable", "CALL cuDriverGetVersion"]


BINDINGS_SCRIPT = r"""
import os, sys
from cuda.bindings import driver as d

def rc(x):
    return int(x[0] if isinstance(x, tuple) else x)

P = 0xD000
CALLS = {
    "cuMemAlloc": lambda: d.cuMemAlloc(256),
    "cuMemsetD8": lambda: d.cuMemsetD8(P, 1, 16),
    "cuMemsetD32Async": lambda: d.cuMemsetD32Async(P, 1, 16, d.CUstream(0)),
    "cuMemcpyDtoD": lambda: d.cuMemcpyDtoD(P, P, 16),
    "cuMemcpy2DUnaligned": lambda: d.cuMemcpy2DUnaligned(d.CUDA_MEMCPY2D()),
    "cuMemcpy3D": lambda: d.cuMemcpy3D(d.CUDA_MEMCPY3D()),
    "cuMemcpyPeerAsync": lambda: d.cuMemcpyPeerAsync(P, d.CUcontext(0), P, d.CUcontext(0), 16, d.CUstream(0)),
    "cuMemAllocFromPoolAsync": lambda: d.cuMemAllocFromPoolAsync(256, d.CUmemoryPool(0), d.CUstream(0)),
    "cuMemPrefetchAsync": lambda: d.cuMemPrefetchAsync(P, 16, d.CUdevice(0), d.CUstream(0)),
    "cuEventRecord": lambda: d.cuEventRecord(d.CUevent(0), d.CUstream(0)),
    "cuEventQuery": lambda: d.cuEventQuery(d.CUevent(0)),
    "cuStreamWaitEvent": lambda: d.cuStreamWaitEvent(d.CUstream(0), d.CUevent(0), 0),
    "cuLaunchHostFunc": lambda: d.cuLaunchHostFunc(d.CUstream(0), d.CUhostFn(0), 0),
}
print("cuInit", rc(d.cuInit(0)), flush=True)
for name, call in CALLS.items():  # each in its own child: a fault latched by one cannot decide the next
    pid = os.fork()
    if pid == 0:
        print(name, rc(call()), flush=True)
        os._exit(0)
    os.waitpid(pid, 0)
"""
# call -> (variant by default, variant with CUDA_PYTHON_CUDA_PER_THREAD_DEFAULT_STREAM=1)
BINDINGS_VARIANTS = {
    "cuMemAlloc": ("cuMemAlloc_v2", "cuMemAlloc_v2"),
    "cuMemsetD8": ("cuMemsetD8_v2", "cuMemsetD8_v2_ptds"),
    "cuMemsetD32Async": ("cuMemsetD32Async", "cuMemsetD32Async_ptsz"),
    "cuMemcpyDtoD": ("cuMemcpyDtoD_v2", "cuMemcpyDtoD_v2_ptds"),
    "cuMemcpy2DUnaligned": ("cuMemcpy2DUnaligned_v2", "cuMemcpy2DUnaligned_v2_ptds"),
    "cuMemcpy3D": ("cuMemcpy3D_v2", "cuMemcpy3D_v2_ptds"),
    "cuMemcpyPeerAsync": ("cuMemcpyPeerAsync", "cuMemcpyPeerAsync_ptsz"),
    "cuMemAllocFromPoolAsync": ("cuMemAllocFromPoolAsync", "cuMemAllocFromPoolAsync_ptsz"),
    "cuMemPrefetchAsync": ("cuMemPrefetchAsync", "cuMemPrefetchAsync_ptsz"),
    "cuEventRecord": ("cuEventRecord", "cuEventRecord_ptsz"),
    "cuEventQuery": ("cuEventQuery", "cuEventQuery"),
    "cuStreamWaitEvent": ("cuStreamWaitEvent", "cuStreamWaitEvent_ptsz"),
    "cuLaunchHostFunc": ("cuLaunchHostFunc", "cuLaunchHostFunc_ptsz"),
}


def _bindings(env: dict[str, str]) -> tuple[dict[str, int], str]:
    out, err = _run([sys.executable, "-c", BINDINGS_SCRIPT], env)
    pairs = dict(zip(out[::2], map(int, out[1::2]), strict=True))
    assert list(pairs) == ["cuInit", *BINDINGS_VARIANTS]
    return pairs, err


@needs_bindings
@pytest.mark.parametrize("ptds", ["0", "1"])
@pytest.mark.parametrize("mode", MODES)
def test_cuda_bindings_disarmed_works_and_armed_fails_each_call(mode: str, ptds: str, tmp_path: Path) -> None:
    b = built()
    log = tmp_path / "driver.log"
    env = shim_env(b, tmp_path / "toggle", STUB_CUDA_PROC=mode, STUB_CUDA_LOG=str(log),
                   CUDA_PYTHON_CUDA_PER_THREAD_DEFAULT_STREAM=ptds)
    disarmed, err = _bindings(env)
    assert set(disarmed.values()) == {0}
    assert "SIM]" not in err
    variant = {name: names[int(ptds)] for name, names in BINDINGS_VARIANTS.items()}
    seen = log.read_text().splitlines()
    assert {f"CALL {v}" for v in variant.values()} <= set(seen)  # the stub driver answered each
    log.unlink()
    armed, err = _bindings({**env, "CUDA_FAULT_INJECTION_ENABLED": "1", "CUDA_XID_TYPE": "48"})
    assert armed == {"cuInit": 0, **dict.fromkeys(BINDINGS_VARIANTS, ECC)}
    lines = set(err.splitlines())
    for name in BINDINGS_VARIANTS:
        assert f"[XID 48 SIM] {variant[name]} -> CUDA_ERROR_ECC_UNCORRECTABLE ({ECC})" in lines, name
    calls = set(log.read_text().splitlines())
    assert calls & {f"CALL {v}" for v in variant.values()} == set()  # none reached the driver
