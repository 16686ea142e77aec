"""The one error root of `chaos` and its branches.

Every failure the tool expects is a `ChaosError`; the CLI turns each branch into a clear message
and an exit code (DESIGN.md §6), never a traceback. Client exceptions are translated where they
arise (`raise ... from`), so nothing above the adapter sees a `kubernetes` or `urllib3` type.
A failed assertion is a step *result*, not an exception.
"""

from __future__ import annotations

from dataclasses import dataclass


class ChaosError(Exception):
    """Root of every error `chaos` raises on purpose."""

    exit_code: int = 1


# --- scenario input -------------------------------------------------------------------------


@dataclass(frozen=True)
class Position:
    """Where something is in a source file (1-based line and column)."""

    file: str
    line: int
    column: int

    def __str__(self) -> str:
        if self.line <= 0:
            return self.file  # the file as a whole (cannot be read at all)
        return f"{self.file}:{self.line}:{self.column}"


class InputError(ChaosError):
    """Something the user gave cannot be used (a flag, a kubeconfig or context, a run directory,
    a journal, a report file); nothing was changed. The message names it and says what to do."""

    exit_code = 2


class ScenarioError(InputError):
    """The scenario (or another input file) is unusable; nothing was changed."""

    exit_code = 2

    def __init__(self, message: str, position: Position | None = None, code: str = "CH000",
                 field: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.position = position
        self.code = code
        self.field = field

    def __str__(self) -> str:
        where = f"{self.position}  " if self.position else ""
        field = f"{self.field}  " if self.field else ""
        return f"{where}{self.code}  {field}{self.message}"


# --- steps and the run ----------------------------------------------------------------------


class StepError(ChaosError):
    """A step could not do its job (as opposed to an assertion that did not hold)."""


class PreflightError(ChaosError):
    """Preflight refused the run (guardrails, target not found, shim unavailable)."""

    exit_code = 3


class DeadlineExceeded(StepError):
    """A step or the whole scenario ran past its deadline."""


class Interrupted(ChaosError):
    """SIGINT or SIGTERM arrived; the engine rolls back and exits 4."""

    exit_code = 4


# --- cluster access -------------------------------------------------------------------------


class KubeconfigError(InputError):
    """The kubeconfig or context named cannot be used (missing, unreadable, malformed, no such
    context); nothing was contacted."""


class ClusterError(ChaosError):
    """The cluster answered with an error or could not be reached."""

    def __init__(self, message: str, status: int | None = None, reason: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason


class NotFound(ClusterError):
    """404: the object does not exist."""


class Conflict(ClusterError):
    """409: stale resourceVersion, already exists, or a failed JSON Patch `test`."""


class Gone(ClusterError):
    """410: the watch resourceVersion is too old; re-list and watch again."""


class Forbidden(ClusterError):
    """401/403: the credentials lack a permission (see deploy/rbac.yaml)."""


class Invalid(ClusterError):
    """422 or 415: the server refused the object or the patch type."""


class Unavailable(ClusterError):
    """429, 5xx or a connection error after the adapter's bounded retries."""


class CallTimeout(Unavailable):
    """No answer before the call's deadline (the step's, what is left of the rollback's budget, a
    renewal's): the API server is slow or not answering. The call may or may not have landed."""


# --- rollback -------------------------------------------------------------------------------


class RollbackError(ChaosError):
    """Some recorded change could not be undone; `chaos recover` must finish the job."""

    exit_code = 5
