"""The prebuilt shim `chaos` ships: one `cuda_intercept.so` per CPU architecture, as package data.

Why: `patch: {source: prebuilt}` (the default) delivers these libraries in a ConfigMap's
`binaryData`, so a cluster needs no compiler image, no init container and no registry, and a
workload whose pods land on x86_64 or aarch64 (Grace Hopper) nodes loads the right one: the
dynamic loader expands `$PLATFORM` in `LD_PRELOAD`. `make -C shim dist` builds them (zig cc
against glibc 2.17 stubs) and then writes `MANIFEST.json` through `main` here: the sha256 of every
source and every library, so `check` (a unit test, `python -m runner.shimdist --check`, `make -C
shim dist-check`) fails when a source changed without a rebuild, and `libraries` refuses a
library whose bytes are not the ones the manifest names.

Layout (`runner/data/shim/`): `src/` (in a checkout a link to `shim/src`; a wheel holds the files),
`<arch>/cuda_intercept.so`, `MANIFEST.json`.

Must not: build anything (the Makefile does), or import the kubernetes client, Rich or Typer.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from runner.errors import ChaosError
from runner.shimwire import LIBRARY_NAME

__all__ = ["ARCHES", "DIST_DIR", "GLIBC_FLOOR", "MANIFEST_NAME", "PLATFORMS", "Manifest",
           "PrebuiltError", "check", "libraries", "library_path", "make_manifest", "read_manifest",
           "source_digests"]

ARCHES: tuple[str, ...] = ("x86_64", "aarch64")
GLIBC_FLOOR = (2, 17)  # nothing newer is needed: EL7 (2.17), Ubuntu 18.04 (2.27) and later
# What the loader's `$PLATFORM` expands to on each architecture (AT_PLATFORM, or glibc's own
# choice): glibc before 2.37 on x86_64 reports "haswell" (AVX2-class CPUs) or "xeon_phi"
# (AVX-512ER) instead of "x86_64"; aarch64 reports "aarch64".
PLATFORMS: Mapping[str, tuple[str, ...]] = MappingProxyType({
    "x86_64": ("x86_64", "haswell", "xeon_phi"),
    "aarch64": ("aarch64",),
})
DIST_DIR = Path(__file__).resolve().parent / "data" / "shim"
MANIFEST_NAME = "MANIFEST.json"
MANIFEST_VERSION = 1
SOURCE_SUFFIXES = (".c", ".h", ".map")


class PrebuiltError(ChaosError):
    """The shipped libraries are missing, or are not the ones their manifest names."""

    exit_code = 1


def target_of(arch: str) -> str:
    """The zig target triple with the glibc floor: `x86_64-linux-gnu.2.17`."""
    return f"{arch}-linux-gnu.{GLIBC_FLOOR[0]}.{GLIBC_FLOOR[1]}"


def library_path(arch: str, dist: Path = DIST_DIR) -> Path:
    if arch not in ARCHES:
        raise PrebuiltError(f"no prebuilt shim for {arch!r} (there is one for {', '.join(ARCHES)})")
    return dist / arch / LIBRARY_NAME


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def source_digests(src: Path) -> dict[str, str]:
    """sha256 of each file the build reads (`*.c`, `*.h`, the version script), by name."""
    if not src.is_dir():
        raise PrebuiltError(f"shim sources not found at {src}")
    return {p.name: _sha256(p.read_bytes()) for p in sorted(src.iterdir())
            if p.is_file() and p.suffix in SOURCE_SUFFIXES}


@dataclass(frozen=True)
class Library:
    sha256: str
    size: int


@dataclass(frozen=True)
class Manifest:
    """What `make -C shim dist` built, from what, with what."""

    zig: str
    cflags: str
    ldflags: str
    targets: Mapping[str, str] = field(default_factory=dict)
    sources: Mapping[str, str] = field(default_factory=dict)  # name -> sha256
    libraries: Mapping[str, Library] = field(default_factory=dict)  # arch -> its library

    def to_json(self) -> str:
        doc = {
            "version": MANIFEST_VERSION,
            "zig": self.zig,
            "glibc-floor": ".".join(map(str, GLIBC_FLOOR)),
            "cflags": self.cflags,
            "ldflags": self.ldflags,
            "targets": dict(self.targets),
            "sources": dict(sorted(self.sources.items())),
            "libraries": {a: {"path": f"{a}/{LIBRARY_NAME}", "sha256": lib.sha256, "size": lib.size}
                          for a, lib in self.libraries.items()},
        }
        return json.dumps(doc, indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        try:
            doc = json.loads(text)
            if doc.get("version") != MANIFEST_VERSION:
                raise PrebuiltError(f"manifest version {doc.get('version')!r} is not {MANIFEST_VERSION}")
            return cls(str(doc["zig"]), str(doc["cflags"]), str(doc["ldflags"]),
                       {str(k): str(v) for k, v in doc["targets"].items()},
                       {str(k): str(v) for k, v in doc["sources"].items()},
                       {str(k): Library(str(v["sha256"]), int(v["size"]))
                        for k, v in doc["libraries"].items()})
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise PrebuiltError(f"the shim manifest cannot be read: {exc}") from None


def read_manifest(dist: Path = DIST_DIR) -> Manifest:
    try:
        return Manifest.from_json((dist / MANIFEST_NAME).read_text())
    except FileNotFoundError:
        raise PrebuiltError(f"{dist / MANIFEST_NAME} is missing: run `make -C shim dist`") from None


def make_manifest(dist: Path, src: Path, zig: str, cflags: str, ldflags: str) -> Manifest:
    """The manifest of the libraries now in `dist`, built from `src`."""
    libs = {}
    for arch in ARCHES:
        data = library_path(arch, dist).read_bytes()
        libs[arch] = Library(_sha256(data), len(data))
    return Manifest(zig, cflags, ldflags, {a: target_of(a) for a in ARCHES},
                    source_digests(src), libs)


def check(dist: Path = DIST_DIR, src: Path | None = None) -> list[str]:
    """Why what is shipped in `dist` is not what the sources in `src` (default `dist/src`) give;
    empty: it is. Compares hashes only; tests/integration/test_shim_dist.py rebuilds and
    compares the bytes too."""
    try:
        manifest = read_manifest(dist)
        current = source_digests(src or dist / "src")
    except PrebuiltError as exc:
        return [str(exc)]
    problems = []
    for name in sorted(set(manifest.sources) | set(current)):
        if name not in current:
            problems.append(f"source {name} is in the manifest but no longer exists")
        elif name not in manifest.sources:
            problems.append(f"source {name} is new since the libraries were built")
        elif current[name] != manifest.sources[name]:
            problems.append(f"source {name} changed since the libraries were built")
    for arch in ARCHES:
        path = library_path(arch, dist)
        lib = manifest.libraries.get(arch)
        if lib is None:
            problems.append(f"the manifest names no {arch} library")
        elif not path.is_file():
            problems.append(f"{arch}/{LIBRARY_NAME} is missing")
        elif _sha256(path.read_bytes()) != lib.sha256:
            problems.append(f"{arch}/{LIBRARY_NAME} is not the library the manifest names")
    if problems:
        problems.append("rebuild with `make -C shim dist` and commit runner/data/shim/")
    return problems


def libraries(dist: Path = DIST_DIR) -> dict[str, bytes]:
    """arch -> the shipped library's bytes, each checked against the manifest (a truncated or
    replaced file is refused before it reaches a cluster)."""
    manifest = read_manifest(dist)
    out = {}
    for arch in ARCHES:
        path = library_path(arch, dist)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise PrebuiltError(f"{path} is missing: run `make -C shim dist`") from None
        lib = manifest.libraries.get(arch)
        if lib is None or _sha256(data) != lib.sha256:
            raise PrebuiltError(f"{path} is not the library {dist / MANIFEST_NAME} names")
        out[arch] = data
    return out


def zig_version() -> str:
    proc = subprocess.run([sys.executable, "-m", "ziglang", "version"], capture_output=True, text=True,
                          check=False)
    if proc.returncode != 0:
        raise PrebuiltError(f"`python -m ziglang version` failed: {proc.stderr.strip()}")
    return proc.stdout.strip()


# --- `python -m runner.shimdist --check` | `manifest --dist DIR --src DIR --cflags .. --ldflags ..` ---


def _option(args: Sequence[str], name: str, default: str | None = None) -> str:
    if name in args and args.index(name) + 1 < len(args):
        return args[args.index(name) + 1]
    if default is None:
        raise SystemExit(f"python -m runner.shimdist: {name} is required")
    return default


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    dist = Path(_option(args, "--dist", str(DIST_DIR)))
    src = Path(_option(args, "--src", str(dist / "src")))
    if args[:1] == ["--check"]:
        problems = check(dist, src)
        for line in problems:
            print(line, file=sys.stderr)
        return 1 if problems else 0
    if args[:1] == ["manifest"]:
        manifest = make_manifest(dist, src, zig_version(), _option(args, "--cflags"),
                                 _option(args, "--ldflags"))
        (dist / MANIFEST_NAME).write_text(manifest.to_json())
        for arch, lib in manifest.libraries.items():
            print(f"{arch}: {lib.size} bytes, sha256 {lib.sha256}")
        return 0
    print("usage: python -m runner.shimdist --check [--dist DIR] [--src DIR]\n"
          "       python -m runner.shimdist manifest --dist DIR --src DIR --cflags FLAGS --ldflags FLAGS",
          file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
