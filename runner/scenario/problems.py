"""What validation reports: one `Problem` per finding, with a stable code, a severity and a place.

Every code `chaos validate` can print is listed once in `CODES` (README's table is checked
against it), so a code never changes meaning. This module holds data only: no YAML, no schema,
no rendering.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Severity(str, Enum):
    ERROR = "error"  # the scenario cannot run as written; `chaos validate` exits 2
    WARNING = "warning"  # it runs, but probably not as meant; exits 2 only with --strict
    INFO = "info"  # a hint; never changes the exit code


@dataclass(frozen=True)
class Code:
    """One documented problem code."""

    code: str
    severity: Severity
    title: str
    hint: str = ""


def _codes(*codes: Code) -> dict[str, Code]:
    return {c.code: c for c in codes}


ERR, WARN, INFO = Severity.ERROR, Severity.WARNING, Severity.INFO

CODES: dict[str, Code] = _codes(
    # --- reading and parsing the file -------------------------------------------------------
    Code("CH001", ERR, "file cannot be read", "check the path and its permissions"),
    Code("CH002", ERR, "file too large", "a scenario is a few kilobytes; split it or remove generated data"),
    Code("CH003", ERR, "not UTF-8 text",
         "save the file as UTF-8 text (binary data and NUL bytes are refused)"),
    Code("CH004", ERR, "YAML syntax error", "fix the YAML syntax at the place shown"),
    Code("CH005", ERR, "tab used as indentation", "YAML indents with spaces only; replace the tabs"),
    Code("CH006", ERR, "duplicate key", "each key may appear once per mapping; remove one of them"),
    Code("CH007", ERR, "tag not allowed",
         "scenarios are plain data: remove the `!tag` (only standard YAML types are accepted)"),
    Code("CH008", ERR, "document too complex",
         "too many nodes, aliases or nesting levels (an alias bomb?); write the data out plainly"),
    Code("CH009", ERR, "not a scenario document",
         "a scenario is one YAML mapping starting with `apiVersion: chaos/v1` and `kind: Scenario`"),
    # --- schema -----------------------------------------------------------------------------
    Code("CH010", ERR, "unknown key", "remove the key or fix its spelling; see the allowed keys"),
    Code("CH011", ERR, "missing required key", "add the key shown"),
    Code("CH012", ERR, "wrong type", "change the value to the type shown"),
    Code("CH013", ERR, "value not allowed", "use one of the values or the range shown"),
    Code("CH014", ERR, "bad duration", "write durations as text like 500ms, 30s, 5m or 1h30m"),
    Code("CH015", ERR, "step is not one kind",
         "write each step as a one-key mapping: `- toggle: {enabled: true}`"),
    # --- semantics --------------------------------------------------------------------------
    Code("CH020", ERR, "unknown XID", "use one of the supported XIDs (`chaos xids` lists them)"),
    Code("CH021", ERR, "toggle before patch",
         "the shim is only present after a patch step; put `- patch: {}` before the first toggle"),
    Code("CH022", WARN, "reschedule expected for a per-process XID",
         "this XID recovers by restarting in place; assert restarts on the same node instead"),
    Code("CH023", INFO, "no restart-in-place evidence",
         "add `- wait: {for: pod-restarts}` or `- assert: {pods: {min-restarts: 1}}` to prove recovery"),
    Code("CH024", WARN, "no cleanup step",
         "end the scenario with `- cleanup: {}` so the workload is restored"),
    Code("CH025", ERR, "zero duration", "a zero duration can never be met; give a positive length"),
    Code("CH026", ERR, "duration exceeds the scenario timeout",
         "shorten it or raise settings.timeout; the run would be cut off first"),
    Code("CH027", ERR, "duplicate step name", "give every step a unique name"),
    Code("CH028", ERR, "workload option does not fit the kind",
         "`services` applies to DynamoGraphDeployment only"),
    Code("CH029", ERR, "guardrail: namespace refused",
         "target another namespace, or list it in settings.guardrails.allow-namespaces on purpose"),
    Code("CH030", ERR, "node-xid step without opt-in",
         "node-xid is privileged; set settings.guardrails.allow-node-xid: true to opt in"),
    Code("CH031", ERR, "probe without url or service",
         "give the probe a `service: {name: ..., port: ...}` (through the API server) or a `url`"),
    Code("CH032", ERR, "patch source incomplete",
         "source: image needs `image`; source: hostPath needs `host-path`"),
    Code("CH033", ERR, "bad regular expression", "fix the pattern (Python `re` syntax)"),
    Code("CH034", ERR, "wait is missing its condition",
         "log-line needs `pattern`; node-condition needs `condition`; pods/nodes need `where`"),
    Code("CH035", ERR, "assert checks nothing", "give the assert step `pods`, `node` or `logs`"),
    Code("CH036", ERR, "manifest not found",
         "paths in settings.sim.manifests are relative to the scenario file"),
    Code("CH037", WARN, "hard pin prevents reschedule",
         "pods under a required node affinity cannot leave the faulty node; use `pin: preferred`"),
    Code("CH038", WARN, "fault can never fire", "probability 0 injects nothing; raise fault.probability"),
    Code("CH039", WARN, "waiting on the fault before it is armed",
         "with fault.mode toggle nothing fails before `- toggle: {enabled: true}`; move the step after it"),
    Code("CH040", WARN, "GPU index beyond the embedded cluster's nodes",
         "settings.sim.nodes[].gpus says how many GPUs each embedded node has; name one of those"),
    Code("CH041", ERR, "fault expiry too short for its renewals",
         "raise settings.fault-expiry (or leave it unset for the mode's default: 2m with hostPath, "
         "10m with configmap)"),
    Code("CH042", ERR, "toggle method does not fit toggle-via",
         "drop `method: exec`: with settings.toggle-via: configmap the toggle step patches a ConfigMap"),
    Code("CH043", WARN, "old name of a patch source",
         "`source: configmap` is now `source: compile` (same behaviour); the default `prebuilt` "
         "needs no init container or image"),
    Code("CH044", ERR, "probe with both service and url",
         "a probe goes through the service proxy (`service`) or straight to a `url`: keep one"),
    Code("CH045", ERR, "duplicate probe name", "give every probe a unique name"),
    Code("CH046", ERR, "probe path not absolute", "write the path from its first `/`: /v1/completions"),
    Code("CH047", WARN, "nothing separates the last assertion from cleanup",
         "a `recovered` SLO needs requests after the last check: add `- pause: {duration: 10s}` "
         "before cleanup"),
    Code("CH048", WARN, "SLO on a phase the scenario never reaches",
         "nothing arms the fault, so the fault and recovered phases stay empty; remove the SLO or "
         "arm the fault"),
    Code("CH049", WARN, "Authorization header through the service proxy",
         "the API server does not pass a caller's Authorization header on to the service: a service "
         "behind an API key needs the `url` form"),
)


@dataclass(frozen=True)
class Problem:
    """One finding in one file."""

    code: str
    message: str
    file: str = ""
    line: int = 0  # 1-based; 0 when the problem has no place (unreadable file)
    column: int = 0
    field: str = ""  # dotted path such as `steps[2].toggle.enabled`
    hint: str = ""
    severity: Severity = Severity.ERROR

    @classmethod
    def make(cls, code: str, message: str, *, file: str = "", line: int = 0, column: int = 0,
             field: str = "", hint: str | None = None) -> Problem:
        """A problem whose severity and default hint come from the code table."""
        entry = CODES[code]
        return cls(code, message, file, line, column, field,
                   entry.hint if hint is None else hint, entry.severity)
