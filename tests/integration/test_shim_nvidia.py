"""The shim in front of REAL NVIDIA user-space libraries, over the stub driver (no GPU needed).

The real libcudart.so.12 and libcudart_static.a of the nvidia-cuda-runtime-cu12 wheel, and
NVIDIA's cuda-bindings, reach the driver only through cuGetProcAddress (by base name and
version). With the stub libcuda.so.1 first on the library path, in both of its behaviours
(cuGetProcAddress handing out exported symbols, or internal functions that match none), the
shim must: change nothing while disarmed, see every lookup (cudart asks for cuGetProcAddress
itself and makes its ~415 other lookups through the pointer it got), and, armed, fail the first
intercepted call with the XID's code, before the driver sees it. NVIDIA's pynvml (nvidia-ml-py)
over the stub NVML: a lost GPU stays lost for the process that saw it, and with gpus= only the
lost device is gone. The wheels are dev dependencies.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from runner import xid as xidcat
from tests.integration.shim_support import built, shim_env, write_toggle
from tests.integration.test_shim_recorded import WRAPPED_CLASSES, classes, recorded

MODES = ["exported", "internal"]
ECC = xidcat.ECC_UNCORRECTABLE.code
LOST = xidcat.NVML_ERROR_GPU_IS_LOST


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


PYNVML_SCRIPT = r"""
import sys
import pynvml as n

handles = {}

def rc(f, *a):
    try:
        out = f(*a)
        return 0, out
    except n.NVMLError as e:
        return e.value, None

for line in sys.stdin:
    op, *arg = line.split()
    if op == "init":
        code, _ = rc(n.nvmlInit)
    elif op == "count":
        code, _ = rc(n.nvmlDeviceGetCount)
    elif op == "handle":
        code, h = rc(n.nvmlDeviceGetHandleByIndex, int(arg[0]))
        if h is not None:
            handles[int(arg[0])] = h
    elif op == "name":
        code, _ = rc(n.nvmlDeviceGetName, handles[int(arg[0])])
    print(op, *arg, f"rc={code}", flush=True)
"""
needs_pynvml = pytest.mark.skipif(importlib.util.find_spec("pynvml") is None,
                                  reason="nvidia-ml-py (a dev dependency) is not installed")


class Pynvml:
    def __init__(self, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen([sys.executable, "-c", PYNVML_SCRIPT], env=env, text=True,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def __call__(self, op: str) -> int:
        assert self.proc.stdin is not None
        assert self.proc.stdout is not None
        self.proc.stdin.write(op + "\n")
        self.proc.stdin.flush()
        return int(self.proc.stdout.readline().rsplit("rc=", 1)[1])

    def close(self) -> str:
        return self.proc.communicate(timeout=30)[1]


@needs_pynvml
def test_pynvml_keeps_seeing_the_lost_gpu_after_the_disarm(tmp_path: Path) -> None:
    """The issue's finding: NVML faults did not latch, so pynvml recovered in the same process
    while its CUDA calls stayed failed. A lost GPU stays lost for the process that saw it."""
    b = built()
    toggle = tmp_path / "toggle"
    write_toggle(toggle, "0\n")
    agent = Pynvml(shim_env(b, toggle, CUDA_FAULT_POLL_MS=0, CUDA_FAULT_LOG_LIMIT=0))
    assert [agent("init"), agent("count"), agent("handle 0")] == [0, 0, 0]
    write_toggle(toggle, "1\nxid=79\n")
    assert [agent("count"), agent("name 0")] == [LOST, LOST]
    write_toggle(toggle, "0\n")
    assert [agent("count"), agent("name 0"), agent("init")] == [LOST, LOST, LOST]
    agent.close()
    fresh = Pynvml(shim_env(b, toggle, CUDA_FAULT_LOG_LIMIT=0))
    assert [fresh("init"), fresh("count"), fresh("handle 0")] == [0, 0, 0]
    fresh.close()


@needs_pynvml
def test_pynvml_sees_only_the_lost_gpu_gone(tmp_path: Path) -> None:
    b = built()
    toggle = tmp_path / "toggle"
    write_toggle(toggle, "1\nxid=79\ngpus=1\n")
    agent = Pynvml(shim_env(b, toggle, CUDA_FAULT_POLL_MS=0, CUDA_FAULT_LOG_LIMIT=0))
    assert [agent(op) for op in ("init", "count", "handle 0", "handle 1", "name 0")] == [0, 0, 0, LOST, 0]
    write_toggle(toggle, "0\n")
    assert [agent("handle 1"), agent("name 0")] == [LOST, 0]
    agent.close()
