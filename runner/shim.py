"""Find, build and operate the CUDA fault-injection shim (`cuda_intercept.so`) from Python.

Why: the runner ships the shim's C sources into pods (a ConfigMap plus a one-command gcc build in
an init container), builds it locally for `chaos shim run` and the tests, writes the toggle file
that arms it, installs it for a single systemd unit, and audits a machine for leftovers
(`doctor`). The C table of XIDs is generated here from `runner.xid`, the one catalogue. What the
environment and the toggle file say is `runner.shimwire`'s business; this module does the I/O.

Must not: import Typer, Rich or the kubernetes client (the CLI renders); write
`/etc/ld.so.preload` (the seed incident: a system-wide preload broke whole machines) except to
*remove* our own entry with an explicit `fix=True`; or leave a half-written toggle file behind.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from runner import xid as xidcat
from runner.errors import ChaosError
from runner.scenario.model import Duration
from runner.shimwire import (
    DEFAULT_TOGGLE_FILE,
    LIBRARY_NAME,
    SHIM_ENV_VARS,
    ShimInputError,
    ToggleState,
    parse_toggle,
    render_toggle,
    shim_env,
)

__all__ = ["DEFAULT_TOGGLE_FILE", "LIBRARY_NAME", "SHIM_ENV_VARS", "ShimError", "ShimInputError",
           "ToggleState", "build", "compile_command", "doctor", "doctor_fix", "parse_duration",
           "parse_toggle", "read_toggle", "render_toggle", "run_under_shim", "shim_env",
           "source_files", "systemd_install", "systemd_uninstall", "write_toggle"]

MAP_NAME = "cuda_intercept.map"
HEADER_NAME = "xid_table.h"
DROPIN_NAME = "chaos-cuda-fault.conf"


class ShimError(ChaosError):
    """The shim could not be found, built, installed or configured."""

    exit_code = 1


# --- sources -----------------------------------------------------------------------------------


# In a checkout this is a symbolic link to shim/src; a wheel holds the files themselves (beside
# the prebuilt libraries, `runner.shimdist`).
PACKAGE_DATA = Path(__file__).resolve().parent / "data" / "shim" / "src"


def shim_dir() -> Path:
    """The repository's `shim/` directory (sources, Makefile, tests)."""
    here = Path(__file__).resolve().parent.parent / "shim"
    if (here / "src" / "shim.h").is_file():
        return here
    raise ShimError(f"shim sources not found at {here}/src; run from a source checkout of chaos")


def source_dir() -> Path:
    return shim_dir() / "src"


def _repo_source_files() -> dict[str, str] | None:
    try:
        src = source_dir()
    except ShimError:
        return None
    return {p.name: p.read_text() for p in sorted(src.iterdir())
            if p.suffix in (".c", ".h") or p.name == MAP_NAME}


def source_files() -> dict[str, str]:
    """Flat name -> content of everything the one-command build needs (ConfigMap keys).
    From the checkout's `shim/` when there is one, else from the copy packaged in the wheel."""
    files = _repo_source_files()
    if files is None:
        if not (PACKAGE_DATA / "shim.h").is_file():
            raise ShimError(f"shim sources found neither in a checkout nor at {PACKAGE_DATA}")
        files = {p.name: p.read_text() for p in sorted(PACKAGE_DATA.iterdir()) if p.is_file()}
    for name in files:
        if "/" in name or not re.fullmatch(r"[-._a-zA-Z0-9]+", name):
            raise ShimError(f"shim source name {name!r} cannot be a ConfigMap key")
    return files


def compile_args(src_dir: str, output: str, sources: Sequence[str]) -> list[str]:
    """The gcc argument list for one build over a flat directory of sources."""
    return ["gcc", "-O2", "-std=gnu11", "-shared", "-fPIC", "-o", output, *sources,
            "-ldl", "-lpthread", f"-Wl,--version-script={src_dir}/{MAP_NAME}"]


def compile_command(src_dir: str = "/cuda-fault-src", output: str = f"/cuda-fault/{LIBRARY_NAME}") -> str:
    """The one gcc command line (a shell string) an init container with only gcc runs."""
    quoted = shlex.quote(src_dir)
    args = compile_args(quoted, shlex.quote(output), [f"{quoted}/*.c"])
    args[-1] = f"-Wl,--version-script={quoted}/{MAP_NAME}"
    return " ".join(args)


def sources_hash(files: Mapping[str, str] | None = None) -> str:
    files = source_files() if files is None else files
    h = hashlib.sha256()
    for name in sorted(files):
        h.update(name.encode() + b"\0" + files[name].encode() + b"\0")
    return h.hexdigest()[:16]


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "chaos" / "shim"


def build(cache_dir: Path | None = None) -> Path:
    """Compile the shim into `<cache>/<content hash>/cuda_intercept.so`, reusing a previous build."""
    files = source_files()
    out_dir = (cache_dir or default_cache_dir()) / sources_hash(files)
    lib = out_dir / LIBRARY_NAME
    if lib.is_file():
        return lib
    if shutil.which("gcc") is None:
        raise ShimError("gcc is not on PATH; it is needed to build the shim")
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="shim-src-", dir=out_dir) as tmp:
        for name, text in files.items():
            (Path(tmp) / name).write_text(text)
        partial = Path(tmp) / LIBRARY_NAME
        sources = sorted(str(Path(tmp) / n) for n in files if n.endswith(".c"))
        proc = subprocess.run(compile_args(tmp, str(partial), sources), capture_output=True, text=True,
                              check=False)
        if proc.returncode != 0:
            raise ShimError(f"building the shim failed:\n{proc.stderr.strip()}")
        os.replace(partial, lib)  # atomic: a concurrent build sees either nothing or a whole file
    return lib


# --- the generated C table ---------------------------------------------------------------------


def gen_header() -> str:
    """The C XID table (`shim/src/xid_table.h`), generated from `runner.xid.CATALOGUE`."""
    rows = []
    for x in xidcat.CATALOGUE.values():
        peer = x.peer_error or x.error
        rows.append(
            f'    {{{x.number}, {x.error.code}, "{x.error.runtime_name}", "{x.error.driver_name}", '
            f'{peer.code if x.peer_error else 0}, "{peer.runtime_name}", "{peer.driver_name}", '
            f"{int(x.scope is xidcat.Scope.NODE)}, {int(x.nvml_gpu_lost)}}}, /* {x.title} */"
        )
    return "\n".join([
        "/* GENERATED by `python -m runner.shim gen-header` from runner/xid.py: do not edit.",
        " * tests/unit/test_shim_header.py fails when this file and the catalogue disagree. */",
        "#ifndef CUDA_INTERCEPT_XID_TABLE_H",
        "#define CUDA_INTERCEPT_XID_TABLE_H",
        "",
        "typedef struct shim_xid {",
        "    int xid;",
        "    int code;                  /* what every intercepted call returns */",
        "    const char *rt_name;",
        "    const char *drv_name;",
        "    int peer_code;             /* peer-access calls return this instead; 0: same as code */",
        "    const char *peer_rt_name;",
        "    const char *peer_drv_name;",
        "    int node_scope;            /* 1: node until reset; 0: the faulted process only */",
        "    int gpu_lost;              /* NVML and device discovery report the GPU lost */",
        "} shim_xid_t;",
        "",
        f"#define SHIM_XID_COUNT {len(rows)}",
        f"#define SHIM_XID_DEFAULT {xidcat.DEFAULT_XID}",
        f"#define SHIM_NVML_ERROR_GPU_IS_LOST {xidcat.NVML_ERROR_GPU_IS_LOST}",
        "",
        "static const shim_xid_t shim_xid_table[SHIM_XID_COUNT] = {",
        *rows,
        "};",
        "",
        "#endif",
        "",
    ])


# --- environment and toggle file ---------------------------------------------------------------


def write_toggle(path: Path | str, armed: bool, xid: int | None = None, expires: int | None = None, *,
                 probability: float | None = None, after_calls: int | None = None,
                 apis: Sequence[str] | None = None) -> Path:
    """Write the toggle file atomically (temp file + rename: a reader never sees half a file)."""
    target = Path(path)
    text = render_toggle(armed, xid, expires, probability=probability, after_calls=after_calls, apis=apis)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def read_toggle(path: Path | str) -> ToggleState | None:
    try:
        return parse_toggle(Path(path).read_text())
    except FileNotFoundError:
        return None


def parse_duration(text: str) -> int:
    """`30s`, `10m`, `1h30m` -> whole seconds, in the one duration grammar of scenarios and flags
    (`runner.scenario.model.Duration`); ShimInputError otherwise."""
    try:
        return math.ceil(Duration.parse(text).seconds)
    except ValueError as exc:
        raise ShimInputError(str(exc)) from None


# --- running a local command under the shim ----------------------------------------------------


def run_under_shim(cmd: Sequence[str], *, xid: int = xidcat.DEFAULT_XID, armed: bool = False,
                   toggle_file: Path | None = None, library: Path | None = None) -> int:
    """Run `cmd` with the shim preloaded; returns its exit code. A private toggle file is used
    (in a temporary directory) unless one is given, so nothing outside the run is armed."""
    if not cmd:
        raise ShimInputError("no command given to run under the shim")
    lib = library or build()
    with tempfile.TemporaryDirectory(prefix="chaos-shim-run-") as tmp:
        toggle = toggle_file or Path(tmp) / "cuda_fault_enabled"
        if toggle_file is None:
            write_toggle(toggle, armed, xid)
        env = dict(os.environ)
        earlier = env.get("LD_PRELOAD", "")
        env.update(shim_env(xid, armed, str(toggle), library=str(lib)))
        if earlier:  # keep what the caller preloads; ours goes first
            env["LD_PRELOAD"] = f"{lib} {earlier}"
        try:
            return subprocess.run(list(cmd), env=env, check=False).returncode
        except FileNotFoundError as e:
            raise ShimInputError(f"command not found: {cmd[0]}") from e


# --- systemd drop-ins --------------------------------------------------------------------------


def _under(root: Path | None, path: str) -> Path:
    return Path(path) if root is None else root / path.lstrip("/")


def dropin_path(unit: str, root: Path | None = None) -> Path:
    if not re.fullmatch(r"[-_.@a-zA-Z0-9]+", unit):
        raise ShimInputError(f"{unit!r} is not a systemd unit name")
    name = unit if "." in unit else f"{unit}.service"
    return _under(root, f"/etc/systemd/system/{name}.d/{DROPIN_NAME}")


@dataclass(frozen=True)
class SystemdResult:
    """What a systemd install/uninstall did, and how a person undoes it from a console."""

    path: Path
    actions: list[str]
    undo: list[str]


def _daemon_reload(root: Path | None, actions: list[str]) -> None:
    if root is not None or shutil.which("systemctl") is None:
        actions.append("skipped `systemctl daemon-reload` (" +
                       ("--root given" if root is not None else "systemctl not found") + ")")
        return
    proc = subprocess.run(["systemctl", "daemon-reload"], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise ShimError(f"systemctl daemon-reload failed: {proc.stderr.strip()}")
    actions.append("ran `systemctl daemon-reload`")


def systemd_install(unit: str, library: Path | str, *, xid: int = xidcat.DEFAULT_XID, armed: bool = False,
                    toggle_file: str = DEFAULT_TOGGLE_FILE, root: Path | None = None) -> SystemdResult:
    """Preload the shim into ONE unit through a drop-in (never system-wide)."""
    path = dropin_path(unit, root)
    env = shim_env(xid, armed, toggle_file, library=str(library))
    body = ["# Written by `chaos shim systemd install`; remove with `chaos shim systemd uninstall`.",
            "[Service]"]
    body += [f'Environment="{k}={v}"' for k, v in env.items()]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(body) + "\n")
    actions = [f"wrote {path}"]
    _daemon_reload(root, actions)
    real = dropin_path(unit)
    undo = [f"rm {real}", "systemctl daemon-reload", f"systemctl restart {real.parent.name[:-2]}"]
    return SystemdResult(path, actions, undo)


def systemd_uninstall(unit: str, root: Path | None = None) -> SystemdResult:
    path = dropin_path(unit, root)
    actions: list[str] = []
    if path.exists():
        path.unlink()
        actions.append(f"removed {path}")
        if path.parent.is_dir() and not any(path.parent.iterdir()):
            path.parent.rmdir()
            actions.append(f"removed empty {path.parent}")
        _daemon_reload(root, actions)
    else:
        actions.append(f"nothing to remove at {path}")
    real = dropin_path(unit)
    return SystemdResult(path, actions, [f"systemctl restart {real.parent.name[:-2]}"])


# --- doctor ------------------------------------------------------------------------------------

PRELOAD_FILE = "/etc/ld.so.preload"
ENV_FILES = ("/etc/environment", "/etc/profile", "/etc/bash.bashrc", "/etc/default/ollama")
ENV_DIRS = ("/etc/environment.d", "/etc/profile.d", "/etc/systemd/system.conf.d", "/etc/systemd/user.conf.d")
_OURS = re.compile(r"cuda_intercept|CUDA_FAULT_|CUDA_XID_TYPE")


@dataclass(frozen=True)
class Finding:
    """One place where the shim is configured outside a single process."""

    path: Path
    line: int
    text: str
    risk: str
    severity: str  # "critical" (every process on the machine) or "warning" (one unit or login)
    fixable: bool


def _scan(path: Path, severity: str, risk: str, fixable: bool) -> list[Finding]:
    try:
        lines = path.read_text(errors="replace").splitlines()
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError, PermissionError):
        return []
    return [Finding(path, i, line.strip(), risk, severity, fixable)
            for i, line in enumerate(lines, 1) if _OURS.search(line)]


def doctor(root: Path | None = None) -> list[Finding]:
    """Find the shim configured beyond one process (read-only)."""
    found = _scan(_under(root, PRELOAD_FILE), "critical",
                  "every process on this machine (systemd, sshd, ...) loads the shim; a broken or missing "
                  "library there can stop the machine from booting or anyone from logging in", True)
    for name in ENV_FILES:
        found += _scan(_under(root, name), "warning",
                       "every login shell or service reading this file runs with the shim", False)
    for d in ENV_DIRS:
        base = _under(root, d)
        if base.is_dir():
            for p in sorted(base.iterdir()):
                found += _scan(p, "warning", "processes reading this file run with the shim", False)
    sysd = _under(root, "/etc/systemd/system")
    if sysd.is_dir():
        for p in sorted(sysd.glob("*.d/*.conf")):
            found += _scan(p, "warning", f"unit {p.parent.name[:-2]} runs with the shim "
                           "(remove with `chaos shim systemd uninstall`)", False)
    return found


def doctor_fix(findings: Sequence[Finding]) -> list[str]:
    """Remove our entries from preload files, keeping a timestamped backup beside each file.
    The only write doctor ever makes; everything else it only reports."""
    actions: list[str] = []
    for path in sorted({f.path for f in findings if f.fixable}):
        text = path.read_text()
        kept = [ln for ln in text.splitlines(keepends=True) if not _OURS.search(ln)]
        backup = path.with_name(f"{path.name}.chaos-backup-{time.strftime('%Y%m%dT%H%M%S')}")
        shutil.copy2(path, backup)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        with os.fdopen(fd, "w") as f:
            f.write("".join(kept))
        os.chmod(tmp, path.stat().st_mode & 0o7777)
        os.replace(tmp, path)
        actions.append(f"removed {len(text.splitlines()) - len(kept)} line(s) from {path} (backup: {backup})")
    return actions


# --- `python -m runner.shim gen-header [--check]` ---------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] != ["gen-header"]:
        print("usage: python -m runner.shim gen-header [--check]", file=sys.stderr)
        return 2
    target = source_dir() / HEADER_NAME
    text = gen_header()
    if "--check" in args:
        if target.read_text() != text:
            print(f"{target} is stale: run `python -m runner.shim gen-header`", file=sys.stderr)
            return 1
        return 0
    target.write_text(text)
    print(target)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
