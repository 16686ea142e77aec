"""Build the shim, its stub CUDA libraries and path programs once per test session, and run them.

Why: every `test_shim_*.py` drives real processes with the real `cuda_intercept.so` under
LD_PRELOAD; building once (with `make -C shim BUILD=<temp dir>`, the same rules CI uses) keeps
the area fast. Must not: write into the source tree or depend on a GPU.
"""

from __future__ import annotations

import atexit
import functools
import os
import platform
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from runner import shimdist

REPO = Path(__file__).resolve().parents[2]
SHIM = REPO / "shim"


@dataclass(frozen=True)
class Build:
    root: Path
    library: Path | None = None  # another build of the library (the shipped one), same stubs/programs

    @property
    def lib(self) -> Path:
        return self.library or self.root / "cuda_intercept.so"

    @property
    def stubs(self) -> Path:
        return self.root / "stubs"

    def prog(self, name: str) -> Path:
        return self.root / "progs" / name


@functools.cache
def built(sanitizers: bool = False) -> Build:
    """`make -C shim` into a temporary directory (once per session and flavour)."""
    root = Path(tempfile.mkdtemp(prefix="shim-build-"))
    atexit.register(shutil.rmtree, root, True)
    targets = ["all", "stubs", "progs"] + (["sanitizers"] if sanitizers else [])
    proc = subprocess.run(["make", "-s", "-C", str(SHIM), f"BUILD={root}", *targets],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, f"building the shim failed:\n{proc.stdout}\n{proc.stderr}"
    return Build(root)


def prebuilt() -> Build:
    """The library `chaos` ships for this machine's architecture (`make -C shim dist`), with the
    stubs and programs of `built()`: the same behaviour tests prove the shipped bytes."""
    arch = platform.machine()
    if arch not in shimdist.ARCHES:
        pytest.skip(f"no prebuilt shim for this machine's architecture ({arch})")
    return Build(built().root, shimdist.library_path(arch))


def shim_env(build: Build, toggle: Path, **extra: str | int) -> dict[str, str]:
    """A clean environment: the shim preloaded, the stubs on the library path, nothing armed."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CUDA_", "LD_PRELOAD"))}
    env.update({
        "LD_PRELOAD": str(build.lib),
        "LD_LIBRARY_PATH": str(build.stubs),
        "CUDA_FAULT_TOGGLE_FILE": str(toggle),
    })
    env.update({k: str(v) for k, v in extra.items()})
    return env


_LINE = re.compile(r"^(?P<op>\S+) rc=(?P<rc>-?\d+|notfound)(?: out=(?P<out>-?\d+) via=(?P<via>\w+))?")


@dataclass(frozen=True)
class Result:
    op: str
    rc: int | None  # None: the program could not obtain the function
    out: int | None
    via: str | None


def parse(stdout: str) -> list[Result]:
    results = []
    for line in stdout.splitlines():
        m = _LINE.match(line)
        if m:
            rc = None if m["rc"] == "notfound" else int(m["rc"])
            results.append(Result(m["op"], rc, int(m["out"]) if m["out"] else None, m["via"]))
    return results


def run(build: Build, prog: str, ops: list[str], env: dict[str, str],
        timeout: float = 30) -> tuple[list[Result], str]:
    """Run a path program; returns its parsed results and its stderr."""
    proc = subprocess.run([str(build.prog(prog)), *ops], env=env, capture_output=True, text=True,
                          timeout=timeout, check=False)
    assert proc.returncode == 0, proc.stderr
    return parse(proc.stdout), proc.stderr


class Interactive:
    """A path program in `--stdin` mode: the test acts (rewrites the toggle file) between calls."""

    def __init__(self, build: Build, prog: str, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen([str(build.prog(prog)), "--stdin"], env=env, text=True,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)

    def call(self, op: str) -> Result:
        assert self.proc.stdin is not None
        assert self.proc.stdout is not None
        self.proc.stdin.write(op + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        results = parse(line)
        assert results, f"unexpected output {line!r}"
        return results[0]

    def close(self) -> str:
        _, err = self.proc.communicate(timeout=30)
        return err


def write_toggle(path: Path, text: str) -> None:
    """Replace the toggle file atomically, as the runner does."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
