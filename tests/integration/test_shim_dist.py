"""The prebuilt libraries `chaos` ships (`runner/data/shim/<arch>/cuda_intercept.so`, `make -C shim
dist`): glibc 2.17 is all they need, the aarch64 one passes the shim's C tests under qemu-user,
the x86_64 one passes them natively (test_shim_behaviour.py runs its cases against it too), and
rebuilding from the sources gives the shipped bytes, so a source changed without a rebuild
fails CI. The hash-only check (`python -m runner.shimdist --check`) is tests/unit/test_shimdist.py."""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from runner import shimdist
from tests.integration.shim_support import SHIM, built

ELF_MACHINE = {"x86_64": "Advanced Micro Devices X86-64", "aarch64": "AArch64"}


def machine(path: Path) -> str:
    """The ELF header's machine (readelf reads every architecture; the host's objdump may not)."""
    out = subprocess.run(["readelf", "-h", str(path)], capture_output=True, text=True, check=True).stdout
    found = re.search(r"^\s*Machine:\s*(.+?)\s*$", out, re.MULTILINE)
    assert found, out
    return found.group(1)


def dynamic_symbols(lib: Path) -> str:
    proc = subprocess.run(["objdump", "-T", str(lib)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def glibc_versions(objdump_t: str) -> set[tuple[int, ...]]:
    found = re.findall(r"\bGLIBC_([0-9]+(?:\.[0-9]+)+)\b", objdump_t)
    return {tuple(int(n) for n in v.split(".")) for v in found}


def exported(objdump_t: str) -> set[str]:
    """Names the library defines and exports (not the ones it imports: `*UND*`)."""
    return {line.split()[-1] for line in objdump_t.splitlines()
            if re.match(r"^[0-9a-f]+ g ", line) and "*UND*" not in line}


pytestmark = pytest.mark.skipif(shutil.which("objdump") is None or shutil.which("readelf") is None,
                                reason="objdump/readelf are not installed (binutils; see .ci/apt-packages)")


@pytest.mark.parametrize("arch", shimdist.ARCHES)
def test_shipped_library_needs_nothing_newer_than_glibc_2_17(arch: str) -> None:
    lib = shimdist.library_path(arch)
    assert machine(lib) == ELF_MACHINE[arch]
    versions = glibc_versions(dynamic_symbols(lib))
    assert versions, "no versioned glibc symbol at all: not linked against glibc?"
    assert max(versions) <= shimdist.GLIBC_FLOOR, sorted(versions)


def test_shipped_library_exports_what_the_gcc_build_exports() -> None:
    """The version script holds for zig's linker too: the same interface, nothing more."""
    shipped = exported(dynamic_symbols(shimdist.library_path("x86_64")))
    assert shipped == exported(dynamic_symbols(built().lib))
    assert {"cudaMalloc", "cuMemAlloc_v2", "dlsym", "cuGetProcAddress_v2", "nvmlDeviceGetCount_v2"} <= shipped


@pytest.mark.slow
def test_shipped_x86_64_library_passes_the_c_tests() -> None:
    proc = subprocess.run(["make", "-s", "-C", str(SHIM), f"BUILD={built().root}", "test-dist-x86_64"],
                          capture_output=True, text=True, check=False, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert re.search(r"shim C tests: \d+ passed, 0 failed", proc.stdout), proc.stdout


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("qemu-aarch64") is None or shutil.which("aarch64-linux-gnu-gcc") is None,
                    reason="qemu-aarch64 or aarch64-linux-gnu-gcc missing (Debian qemu-user, "
                           "gcc-aarch64-linux-gnu, libc6-dev-arm64-cross; .ci/run installs them)")
def test_shipped_aarch64_library_passes_the_c_tests_under_qemu(tmp_path: Path) -> None:
    proc = subprocess.run(["make", "-s", "-C", str(SHIM), f"BUILD={tmp_path}", "test-dist-aarch64"],
                          capture_output=True, text=True, check=False, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert re.search(r"shim C tests: \d+ passed, 0 failed", proc.stdout), proc.stdout
    # the programs really are aarch64 ones (run under the emulator, not natively)
    assert machine(tmp_path / "aarch64" / "progs" / "rt_direct") == ELF_MACHINE["aarch64"]


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("ziglang") is None,
                    reason="the ziglang wheel is not installed (a dev dependency: pip install -e '.[dev]')")
def test_rebuilding_from_the_sources_gives_the_shipped_bytes(tmp_path: Path) -> None:
    """What CI proves: `make -C shim dist` now gives byte for byte what is committed."""
    out = tmp_path / "dist"
    proc = subprocess.run(["make", "-s", "-C", str(SHIM), "dist", f"DIST={out}", f"PYTHON={sys.executable}"],
                          capture_output=True, text=True, check=False, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for arch in shimdist.ARCHES:
        assert shimdist.library_path(arch, out).read_bytes() == shimdist.library_path(arch).read_bytes(), (
            f"{arch}: the shipped library is not what the sources build: run `make -C shim dist` and commit")
    manifest = (out / shimdist.MANIFEST_NAME).read_text()
    assert manifest == (shimdist.DIST_DIR / shimdist.MANIFEST_NAME).read_text()
