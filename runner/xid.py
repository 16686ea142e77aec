"""The XID catalogue: the one source of truth for what each simulated XID does.

Validation, steps, reports and the shim's C table all come from (or are checked against) this
table, so the semantics of an XID are written down exactly once (DESIGN.md §5).
This module must stay free of I/O and third-party imports: the shim's table generator and
`chaos validate` both import it on their fast paths.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Scope(str, Enum):
    """How far a fault reaches once it has happened."""

    NODE = "node"  # every process on the node fails until the GPU is reset
    PROCESS = "process"  # only the faulted process; a restarted process recovers once disarmed


class Outcome(str, Enum):
    """What a healthy system is expected to do about the fault."""

    RESCHEDULE = "reschedule"  # pods crash, the node is taken out, pods come back elsewhere
    RESTART_IN_PLACE = "restart-in-place"  # the container restarts on the same node and recovers


@dataclass(frozen=True)
class CudaError:
    """One CUDA error as both APIs spell it."""

    code: int
    runtime_name: str
    driver_name: str


@dataclass(frozen=True)
class Xid:
    """One simulated XID and the errors a real one produces."""

    number: int
    title: str
    error: CudaError  # what every intercepted call returns
    peer_error: CudaError | None  # peer-access calls return this instead, where it differs
    scope: Scope
    outcome: Outcome
    nvml_gpu_lost: bool  # NVML reports NVML_ERROR_GPU_IS_LOST while armed
    after_fault: str

    @property
    def runtime_code(self) -> int:
        return self.error.code

    @property
    def driver_code(self) -> int:
        return self.error.code


NO_DEVICE = CudaError(100, "cudaErrorNoDevice", "CUDA_ERROR_NO_DEVICE")
ECC_UNCORRECTABLE = CudaError(214, "cudaErrorECCUncorrectable", "CUDA_ERROR_ECC_UNCORRECTABLE")
UNKNOWN = CudaError(999, "cudaErrorUnknown", "CUDA_ERROR_UNKNOWN")
LAUNCH_TIMEOUT = CudaError(702, "cudaErrorLaunchTimeout", "CUDA_ERROR_LAUNCH_TIMEOUT")
NVLINK_UNCORRECTABLE = CudaError(220, "cudaErrorNvlinkUncorrectable", "CUDA_ERROR_NVLINK_UNCORRECTABLE")
PEER_ACCESS_UNSUPPORTED = CudaError(217, "cudaErrorPeerAccessUnsupported",
                                    "CUDA_ERROR_PEER_ACCESS_UNSUPPORTED")

NVML_ERROR_GPU_IS_LOST = 15

CATALOGUE: dict[int, Xid] = {
    x.number: x
    for x in (
        Xid(79, "GPU fell off the bus", NO_DEVICE, None, Scope.NODE, Outcome.RESCHEDULE, True,
            "pods crash; the node must be taken out; workers reschedule elsewhere"),
        Xid(48, "Double-bit ECC error", ECC_UNCORRECTABLE, None, Scope.NODE, Outcome.RESCHEDULE, False,
            "pods crash until the GPU is reset; workers reschedule elsewhere"),
        Xid(94, "Contained ECC error", ECC_UNCORRECTABLE, None, Scope.PROCESS, Outcome.RESTART_IN_PLACE,
            False, "only the faulted process dies; a restart in place recovers"),
        Xid(95, "Uncontained ECC error", UNKNOWN, None, Scope.NODE, Outcome.RESCHEDULE, False,
            "every process on the GPU is affected until reset; workers reschedule elsewhere"),
        Xid(43, "GPU stopped responding", LAUNCH_TIMEOUT, None, Scope.PROCESS, Outcome.RESTART_IN_PLACE,
            False, "the hung process is killed; a restart in place recovers"),
        Xid(74, "NVLink error", NVLINK_UNCORRECTABLE, PEER_ACCESS_UNSUPPORTED, Scope.NODE,
            Outcome.RESCHEDULE, False, "peer traffic fails until reset; workers reschedule elsewhere"),
    )
}

DEFAULT_XID = 79


def lookup(number: int) -> Xid | None:
    """The catalogue entry for `number`, or None for an XID we do not simulate."""
    return CATALOGUE.get(number)


def supported() -> list[int]:
    """Supported XID numbers in catalogue order."""
    return list(CATALOGUE)
