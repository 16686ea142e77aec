#!/usr/bin/env python3
"""Record which driver functions real NVIDIA libraries ask cuGetProcAddress for (by hand).

Run from the repository root in the dev virtual environment (it has the wheels):
    .venv/bin/python shim/tests/recorded/record.py
It builds the stub driver (`make -C shim stubs` into a temporary directory), runs over it, with
STUB_CUDA_LOG, (1) a program linked with the real libcudart.so.12 of the nvidia-cuda-runtime-cu12
wheel, (2) the same program linked with its libcudart_static.a, (3) cuda-bindings' driver module
(cuInit), with and without CUDA_PYTHON_CUDA_PER_THREAD_DEFAULT_STREAM=1, and writes one file per
library: `name version flags` per request, sorted. tests/integration/test_shim_recorded.py reads
them with classes.txt (every base name asked for, and the fault class it belongs to).
"""

from __future__ import annotations

import importlib.metadata as md
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
PROGRAM = r"""
#include <stdio.h>
extern int cudaStreamCreate(void **);
int main(void) { void *s = 0; printf("cudaStreamCreate rc=%d\n", cudaStreamCreate(&s)); return 0; }
"""


def requests(log: Path) -> set[tuple[str, int, int]]:
    out = set()
    for line in log.read_text().splitlines():
        parts = line.split()
        if parts[0] == "GPA" and len(parts) == 4:  # cudart also asks once for "" at version 0
            out.add((parts[1], int(parts[2]), int(parts[3])))
    return out


def write(name: str, source: str, reqs: set[tuple[str, int, int]]) -> None:
    lines = [f"# {source}: cuGetProcAddress requests (name version flags), recorded by record.py"]
    lines += [f"{n} {v} {f}" for n, v, f in sorted(reqs)]
    (HERE / name).write_text("\n".join(lines) + "\n")
    print(f"{name}: {len(reqs)} requests, {len({n for n, _, _ in reqs})} names")


def main() -> int:
    import nvidia.cuda_runtime  # the wheel's package

    lib = Path(next(iter(nvidia.cuda_runtime.__path__))) / "lib"
    rt_version = md.version("nvidia-cuda-runtime-cu12")
    cb_version = md.version("cuda-bindings")
    with tempfile.TemporaryDirectory() as tmp_s:
        tmp = Path(tmp_s)
        subprocess.run(["make", "-s", "-C", str(REPO / "shim"), f"BUILD={tmp}/b", "stubs"], check=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("CUDA_", "LD_PRELOAD", "STUB_"))}
        env["LD_LIBRARY_PATH"] = f"{tmp}/b/stubs"
        (tmp / "p.c").write_text(PROGRAM)
        subprocess.run(["gcc", "-o", str(tmp / "shared"), str(tmp / "p.c"), f"-L{lib}", "-l:libcudart.so.12",
                        f"-Wl,-rpath,{lib}"], check=True)
        subprocess.run(["gcc", "-o", str(tmp / "static"), str(tmp / "p.c"), str(lib / "libcudart_static.a"),
                        "-ldl", "-lpthread", "-lrt"], check=True)
        cudart: set[tuple[str, int, int]] = set()
        for prog in ("shared", "static"):
            log = tmp / f"{prog}.log"
            subprocess.run([str(tmp / prog)], env={**env, "STUB_CUDA_LOG": str(log)}, check=True)
            cudart |= requests(log)
        write(f"cudart-{rt_version}.txt", f"libcudart.so.12 and libcudart_static.a {rt_version}", cudart)
        bindings: set[tuple[str, int, int]] = set()
        for ptds in ("0", "1"):
            log = tmp / f"bindings-{ptds}.log"
            subprocess.run([sys.executable, "-c", "from cuda.bindings import driver; driver.cuInit(0)"],
                           env={**env, "STUB_CUDA_LOG": str(log), "CUDA_PYTHON_CUDA_PER_THREAD_DEFAULT_STREAM": ptds},
                           check=True)
            bindings |= requests(log)
        write(f"cuda-bindings-{cb_version}.txt", f"cuda-bindings {cb_version}", bindings)
    return 0


if __name__ == "__main__":
    sys.exit(main())
