"""The shim against the REAL CUDA runtime (no GPU needed): with no device the real libcudart
returns its own error; armed, the shim's XID error replaces it, so the interposition works on
real, versioned symbols (cudaMalloc@libcudart.so.N), not only on our stubs."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.integration.shim_support import built, parse, shim_env

CUDA_HOME = Path(os.environ.get("CUDA_HOME", "/usr/local/cuda"))
LIBDIR = CUDA_HOME / "lib64"

PROGRAM = r"""
#include <stdio.h>
#include <stddef.h>
extern int cudaGetDeviceCount(int *);
extern int cudaMalloc(void **, size_t);
int main(void) {
    int n = -1; void *p = NULL;
    printf("cudaGetDeviceCount rc=%d\n", cudaGetDeviceCount(&n));
    printf("cudaMalloc rc=%d\n", cudaMalloc(&p, 256));
    return 0;
}
"""


@pytest.mark.skipif(not (LIBDIR / "libcudart.so").exists(), reason=f"no real CUDA runtime at {LIBDIR}")
@pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc is not installed")
def test_armed_shim_replaces_the_real_runtime_error(tmp_path: Path) -> None:
    src, exe = tmp_path / "real.c", tmp_path / "real"
    src.write_text(PROGRAM)
    subprocess.run(["gcc", "-o", str(exe), str(src), f"-L{LIBDIR}", "-lcudart", f"-Wl,-rpath,{LIBDIR}"],
                   check=True)
    b = built()
    base_env = {k: v for k, v in shim_env(b, tmp_path / "toggle").items()
                if k not in ("LD_PRELOAD", "LD_LIBRARY_PATH")}

    def results(env: dict[str, str]) -> tuple[list[int | None], str]:
        proc = subprocess.run([str(exe)], env=env, capture_output=True, text=True, timeout=60, check=False)
        assert proc.returncode == 0, proc.stderr
        return [r.rc for r in parse(proc.stdout)], proc.stderr

    real, _ = results(base_env)
    assert len(real) == 2
    assert all(rc not in (None, 0, 214) for rc in real)
    disarmed, _ = results({**base_env, "LD_PRELOAD": str(b.lib)})
    assert disarmed == real
    armed, err = results({**base_env, "LD_PRELOAD": str(b.lib), "CUDA_FAULT_INJECTION_ENABLED": "1",
                          "CUDA_XID_TYPE": "48"})
    assert armed == [real[0], 214]  # discovery is not an XID 48 call; the allocation is
    assert "[XID 48 SIM] cudaMalloc -> cudaErrorECCUncorrectable (214)" in err.splitlines()
