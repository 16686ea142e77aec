"""The wire contract with the C shim, on the Python side: its environment, its toggle file, its log.

Why it exists: the shim (`shim/src/core.c`) reads a few environment variables and a small toggle
file, and writes `[XID n SIM] ...` lines; the patch and toggle steps, the CLI's `chaos shim`
commands, the embedded cluster's health agent and the Python API all speak that language. This is
the one place it is spelt, and `tests/unit/test_shim_wire.py` reads `shim/src` and fails when the
two sides disagree (names, keys, API classes, defaults).

Pure data and text: no I/O, no cluster, no scenario types (the scenario model imports the defaults
from here, so this module sits below it).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

from runner import xid as xidcat
from runner.errors import ChaosError

LIBRARY_NAME = "cuda_intercept.so"
TOGGLE_FILE_NAME = "cuda_fault_enabled"
DEFAULT_TOGGLE_FILE = f"/host-fault/{TOGGLE_FILE_NAME}"  # SHIM_DEFAULT_TOGGLE_FILE in shim.h
DEFAULT_POLL_MS = 100  # how often the shim's poller re-reads the toggle file
DEFAULT_LOG_LIMIT = 10  # injections logged per process as `[XID n SIM] ...`
DEFAULT_XID = xidcat.DEFAULT_XID

# --- environment -----------------------------------------------------------------------------

ENV_PRELOAD = "LD_PRELOAD"
ENV_ENABLED = "CUDA_FAULT_INJECTION_ENABLED"  # 1: armed from process start
ENV_XID = "CUDA_XID_TYPE"
ENV_TOGGLE_FILE = "CUDA_FAULT_TOGGLE_FILE"
ENV_POLL_MS = "CUDA_FAULT_POLL_MS"
ENV_LOG_LIMIT = "CUDA_FAULT_LOG_LIMIT"
ENV_PROBABILITY = "CUDA_FAULT_PROBABILITY"
ENV_AFTER_CALLS = "CUDA_FAULT_AFTER_CALLS"
ENV_APIS = "CUDA_FAULT_APIS"
ENV_DISABLE = "CUDA_FAULT_INJECTION_DISABLE"  # the kill switch: 1 and the shim does nothing
ENV_GPUS = "CUDA_FAULT_GPUS"  # the GPUs a fault concerns (the toggle file's gpus= wins over it)
ENV_LOG_LOOKUPS = "CUDA_FAULT_LOG_LOOKUPS"  # 1: one stderr line per symbol lookup (diagnosis)

# What the shim reads of the container's own environment, which chaos never sets: the GPUs the
# device plugin (NVIDIA_VISIBLE_DEVICES) and the program (CUDA_VISIBLE_DEVICES) give the process.
DEVICE_ENV = ("NVIDIA_VISIBLE_DEVICES", "CUDA_VISIBLE_DEVICES")

SHIM_ENV_VARS = (ENV_PRELOAD, ENV_ENABLED, ENV_XID, ENV_TOGGLE_FILE, ENV_POLL_MS, ENV_LOG_LIMIT,
                 ENV_PROBABILITY, ENV_AFTER_CALLS, ENV_APIS, ENV_DISABLE, ENV_GPUS, ENV_LOG_LOOKUPS)

# --- API classes ------------------------------------------------------------------------------

# What `apis=` / CUDA_FAULT_APIS accept (parse_apis in core.c): the call classes that fail.
SHIM_API_CLASSES = ("alloc", "launch", "sync", "memcpy", "peer", "context", "discovery", "all")
# The scenario's `fault.apis` names (runner.scenario.model.ApiClass) and the shim class each means.
# The scenario offers the classes a workload's work goes through; context and discovery calls fail
# with every XID regardless (a lost GPU cannot be opened), so they are not offered there.
SCENARIO_API_CLASSES: Mapping[str, str] = MappingProxyType({
    "alloc": "alloc", "launch": "launch", "sync": "sync", "memcpy": "memcpy", "peer": "peer",
})

# --- the log ----------------------------------------------------------------------------------

XID_LINE = re.compile(r"\[XID (\d+) SIM\][^\n]*")  # what the shim logs on each injected failure


def xid_lines(text: str) -> list[str]:
    """Every `[XID n SIM] ...` line in `text`."""
    return [m.group(0) for m in XID_LINE.finditer(text)]


class ShimInputError(ChaosError):
    """A value cannot be said to the shim (unknown XID or API class, probability out of range)."""

    exit_code = 2


def check_xid(xid: int) -> int:
    if xidcat.lookup(xid) is None:
        raise ShimInputError(f"XID {xid} is not simulated; choose one of {xidcat.supported()}")
    return xid


def check_apis(apis: Sequence[str]) -> str:
    """The comma-separated list the shim reads; ShimInputError for a name it does not know."""
    bad = [a for a in apis if a not in SHIM_API_CLASSES]
    if bad:
        raise ShimInputError(f"unknown API class {', '.join(bad)}; choose from {', '.join(SHIM_API_CLASSES)}")
    return ",".join(apis)


# gpus= entries (shim/src/devices.c): a node-level index as nvidia-smi numbers GPUs, or a UUID
# (GPU- or MIG- and 32 hex digits, dashes anywhere, any case); absent or `all`: every GPU.
MAX_GPUS = 64
GPU_UUID = re.compile(r"(?i)(?:GPU|MIG)-(?:-*[0-9a-f]){32}-*")


def check_gpus(gpus: Sequence[str | int]) -> str:
    """The comma-separated `gpus=` value; ShimInputError for an entry the shim would ignore."""
    entries = [str(g).strip() for g in gpus]
    bad = [e for e in entries if not (e.isdigit() or GPU_UUID.fullmatch(e))]
    if bad:
        raise ShimInputError(f"GPU {', '.join(map(repr, bad))} is neither an index (0, 1, ...) nor "
                             "a GPU UUID (GPU-xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)")
    if len(entries) > MAX_GPUS:
        raise ShimInputError(f"at most {MAX_GPUS} GPUs can be named, not {len(entries)}")
    return ",".join(entries)


def format_probability(p: float) -> str:
    """Six decimals: the shim's parser has no exponent (`1e-05` would read as 1) and keeps 1e-6."""
    if not 0.0 <= p <= 1.0:
        raise ShimInputError(f"probability {p} is not between 0 and 1")
    return f"{p:.6f}"


def shim_env(xid: int = DEFAULT_XID, armed: bool = False, toggle_file: str = DEFAULT_TOGGLE_FILE, *,
             library: str | None = None, poll_ms: int | None = None, log_limit: int | None = None,
             probability: float | None = None, after_calls: int | None = None,
             apis: Sequence[str] | None = None, gpus: Sequence[str | int] | None = None) -> dict[str, str]:
    """The environment that loads and configures the shim in a process or a pod's container.
    Values left at the shim's own defaults (None, or no GPUs: all of them) are not set."""
    env = {ENV_XID: str(check_xid(xid)), ENV_ENABLED: "1" if armed else "0",
           ENV_TOGGLE_FILE: toggle_file}
    if library is not None:
        env[ENV_PRELOAD] = library
    if poll_ms is not None:
        env[ENV_POLL_MS] = str(poll_ms)
    if log_limit is not None:
        env[ENV_LOG_LIMIT] = str(log_limit)
    if probability is not None:
        env[ENV_PROBABILITY] = format_probability(probability)
    if after_calls is not None:
        env[ENV_AFTER_CALLS] = str(after_calls)
    if apis:
        env[ENV_APIS] = check_apis(apis)
    if gpus:
        env[ENV_GPUS] = check_gpus(gpus)
    return env


# --- the toggle file --------------------------------------------------------------------------

TOGGLE_KEYS = ("xid", "expires", "probability", "after_calls", "apis", "gpus")  # read_toggle in core.c


@dataclass(frozen=True)
class ToggleState:
    """What a toggle file says (only what it says: the environment fills the gaps in the shim)."""

    armed: bool | None = None
    xid: int | None = None
    expires: int | None = None
    probability: float | None = None
    after_calls: int | None = None
    apis: tuple[str, ...] = ()
    gpus: tuple[str, ...] = ()  # GPU indexes or UUIDs; empty: every GPU of the node
    extra: Mapping[str, str] = field(default_factory=dict)

    def active(self, now: float) -> bool:
        """Armed and not past its expiry (the dead-man switch)."""
        return bool(self.armed) and (self.expires is None or now < self.expires)


def render_toggle(armed: bool, xid: int | None = None, expires: int | None = None, *,
                  probability: float | None = None, after_calls: int | None = None,
                  apis: Sequence[str] | None = None, gpus: Sequence[str | int] | None = None) -> str:
    """The toggle file: first character 1/0, then a `key=value` line for each option given
    (DESIGN.md §5). Callers give none when disarming: disarming must not depend on parsing them."""
    lines = ["1" if armed else "0"]
    if xid is not None:
        lines.append(f"xid={check_xid(xid)}")
    if expires is not None:
        lines.append(f"expires={int(expires)}")
    if probability is not None:
        lines.append(f"probability={format_probability(probability)}")
    if after_calls is not None:
        if after_calls < 0:
            raise ShimInputError("after_calls must not be negative")
        lines.append(f"after_calls={after_calls}")
    if apis:
        lines.append(f"apis={check_apis(apis)}")
    if gpus:
        lines.append(f"gpus={check_gpus(gpus)}")
    return "\n".join(lines) + "\n"


def parse_toggle(text: str) -> ToggleState:
    """Parse a toggle file the way the shim does (first character, then key=value lines)."""
    lines = text.split("\n")
    first = lines[0][:1]
    armed = True if first == "1" else False if first == "0" else None
    kv: dict[str, str] = {}
    for line in lines[1:]:
        key, sep, value = line.partition("=")
        if sep:
            kv[key.strip()] = value.strip()

    def as_int(key: str) -> int | None:
        v = kv.pop(key, None)
        return int(v) if v is not None and re.fullmatch(r"-?\d+", v) else None

    xid = as_int("xid")
    expires = as_int("expires")
    after = as_int("after_calls")
    prob_text = kv.pop("probability", None)
    probability = float(prob_text) if prob_text and re.fullmatch(r"\d*\.?\d+", prob_text) else None
    apis = tuple(a.strip() for a in kv.pop("apis", "").split(",") if a.strip())
    gpus = tuple(g.strip() for g in kv.pop("gpus", "").split(",") if g.strip() and g.strip() != "all")
    return ToggleState(armed, xid, expires, probability, after, apis, gpus, MappingProxyType(kv))
