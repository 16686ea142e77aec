"""The shipped libraries' manifest (`runner/data/shim/MANIFEST.json`): it names the sources now in
shim/src and the libraries now shipped, and the check fails when either changes without `make -C
shim dist` (the byte-for-byte rebuild is tests/integration/test_shim_dist.py)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from runner import shim, shimdist


def copy_dist(tmp_path: Path) -> Path:
    """The shipped tree with the sources as real files (as a wheel holds them)."""
    dist = tmp_path / "shim"
    shutil.copytree(shimdist.DIST_DIR, dist, symlinks=False)
    return dist


def test_the_shipped_libraries_are_built_from_the_sources_now() -> None:
    assert shimdist.check() == [], "run `make -C shim dist` and commit runner/data/shim/"


def test_the_manifest_names_every_source_the_build_reads() -> None:
    manifest = shimdist.read_manifest()
    assert set(manifest.sources) == set(shim.source_files())
    assert set(manifest.libraries) == set(shimdist.ARCHES)
    assert manifest.targets == {"x86_64": "x86_64-linux-gnu.2.17", "aarch64": "aarch64-linux-gnu.2.17"}
    assert shimdist.Manifest.from_json(manifest.to_json()) == manifest


def test_a_source_changed_without_a_rebuild_fails_the_check(tmp_path: Path) -> None:
    dist = copy_dist(tmp_path)
    core = dist / "src" / "core.c"
    data = bytearray(core.read_bytes())
    data[100] ^= 0x01  # one byte
    core.write_bytes(bytes(data))
    problems = shimdist.check(dist)
    assert "source core.c changed since the libraries were built" in problems
    assert problems[-1] == "rebuild with `make -C shim dist` and commit runner/data/shim/"
    proc = subprocess.run([sys.executable, "-m", "runner.shimdist", "--check", "--dist", str(dist)],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 1
    assert "core.c changed" in proc.stderr


def test_a_new_or_removed_source_fails_the_check(tmp_path: Path) -> None:
    dist = copy_dist(tmp_path)
    (dist / "src" / "extra.c").write_text("int x;\n")
    (dist / "src" / "nvml.c").unlink()
    problems = shimdist.check(dist)
    assert "source extra.c is new since the libraries were built" in problems
    assert "source nvml.c is in the manifest but no longer exists" in problems


def test_a_replaced_library_fails_the_check_and_is_never_delivered(tmp_path: Path) -> None:
    dist = copy_dist(tmp_path)
    lib = shimdist.library_path("aarch64", dist)
    lib.write_bytes(lib.read_bytes()[:-1])  # truncated
    assert "aarch64/cuda_intercept.so is not the library the manifest names" in shimdist.check(dist)
    with pytest.raises(shimdist.PrebuiltError, match="is not the library"):
        shimdist.libraries(dist)
    lib.unlink()
    with pytest.raises(shimdist.PrebuiltError, match="missing"):
        shimdist.libraries(dist)


def test_check_mode_passes_on_the_shipped_tree() -> None:
    proc = subprocess.run([sys.executable, "-m", "runner.shimdist", "--check"], capture_output=True,
                          text=True, check=False)
    assert proc.returncode == 0, proc.stderr


def test_libraries_are_elf_shared_objects_that_fit_one_configmap() -> None:
    libs = shimdist.libraries()
    assert set(libs) == set(shimdist.ARCHES) == set(shimdist.PLATFORMS)
    assert all(data[:4] == b"\x7fELF" for data in libs.values())
    assert sum(map(len, libs.values())) < 1024 * 1024 * 3 // 4  # room to spare under the 1 MiB limit


def test_a_missing_manifest_says_how_to_make_one(tmp_path: Path) -> None:
    dist = copy_dist(tmp_path)
    (dist / shimdist.MANIFEST_NAME).unlink()
    assert shimdist.check(dist) == [f"{dist / shimdist.MANIFEST_NAME} is missing: run `make -C shim dist`"]
    (dist / shimdist.MANIFEST_NAME).write_text('{"version": 99}')
    with pytest.raises(shimdist.PrebuiltError, match="version 99"):
        shimdist.read_manifest(dist)
