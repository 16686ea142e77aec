"""`runner.shim` building for real: the init container's one gcc command over the flat ConfigMap
files produces a working library, and `build()` compiles once per source hash."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from runner import shim
from tests.integration.shim_support import built, run, shim_env

pytestmark = pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc is not installed")


def test_configmap_files_build_with_the_one_command(tmp_path: Path) -> None:
    src = tmp_path / "cuda-fault-src"
    src.mkdir()
    for name, text in shim.source_files().items():
        (src / name).write_text(text)
    out = tmp_path / "cuda-fault" / "cuda_intercept.so"
    out.parent.mkdir()
    subprocess.run(["sh", "-c", shim.compile_command(str(src), str(out))], check=True)
    b = built()
    env = shim_env(b, tmp_path / "toggle", CUDA_FAULT_INJECTION_ENABLED=1, CUDA_XID_TYPE=95)
    env["LD_PRELOAD"] = str(out)
    (res,), _ = run(b, "drv_getproc_v2", ["cuMemAlloc_v2"], env)
    assert (res.rc, res.via) == (999, "shim")


def test_build_is_cached_by_content(tmp_path: Path) -> None:
    first = shim.build(tmp_path)
    stamp = first.stat().st_mtime_ns
    second = shim.build(tmp_path)
    assert first == second
    assert second.stat().st_mtime_ns == stamp
    assert first.parent.name == shim.sources_hash()
