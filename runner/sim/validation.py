"""Per-kind rules the real API server applies to the kinds added after the first cut: Leases (and
their MicroTime fields), so the store's generic checks stay generic.

Each rule takes the object the store is about to keep (a private copy it may normalise in place) and
raises the real server's error: 400 BadRequest for a body that would not decode (a MicroTime without
its six fractional digits), 422 Invalid with the field path for one that decodes but breaks a rule.
It must not know about HTTP or the store's internals.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from runner.errors import ClusterError, Invalid

Obj = dict[str, Any]

RFC3339_MICRO = "2006-01-02T15:04:05.000000Z07:00"  # Go's layout, quoted in decode errors
_MICRO_RE = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(\.\d{6})?(Z|[+-]\d{2}:\d{2})?$")


def qualified_kind(kind: str, group: str) -> str:
    """`Lease.coordination.k8s.io`, `Pod`: how the real server names a kind in its messages."""
    return f"{kind}.{group}" if group else kind


def invalid(kind: str, group: str, name: str, *details: str) -> Invalid:
    return Invalid(f'{qualified_kind(kind, group)} "{name}" is invalid: {", ".join(details)}', status=422,
                   reason="Invalid")


def micro_time(value: Any, kind: str, version: str) -> str:
    """A metav1.MicroTime as the real server reads and writes it: RFC 3339 with exactly six
    fractional digits and a zone on input (Go's time.Parse with RFC3339Micro), UTC with six digits
    on output. Anything else is the decode error a real server answers with 400."""
    def fail(detail: str) -> ClusterError:
        return ClusterError(f'{kind} in version "{version}" cannot be handled as a {kind}: parsing time '
                            f'"{value}" as "{RFC3339_MICRO}": {detail}', status=400, reason="BadRequest")

    if not isinstance(value, str):
        raise ClusterError(f'{kind} in version "{version}" cannot be handled as a {kind}: MicroTime must '
                           f"be a string, not {value!r}", status=400, reason="BadRequest")
    m = _MICRO_RE.match(value)
    if m is None:
        raise fail(f'cannot parse "{value}" as "{RFC3339_MICRO}"')
    base, frac, zone = m.groups()
    if frac is None:
        raise fail(f'cannot parse "{value[len(base):]}" as ".000000"')
    if zone is None:
        raise fail('cannot parse "" as "Z07:00"')
    try:
        parsed = dt.datetime.fromisoformat(base + frac + ("+00:00" if zone == "Z" else zone))
    except ValueError as exc:
        raise fail(f"{exc}") from exc
    return parsed.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def lease(obj: Obj, name: str) -> None:
    """coordination.k8s.io/v1 Lease: MicroTimes normalised, ValidateLeaseSpec's rules."""
    spec = obj.get("spec")
    if spec is None:
        return
    if not isinstance(spec, dict):
        raise ClusterError('Lease in version "v1" cannot be handled as a Lease: spec must be an object',
                           status=400, reason="BadRequest")
    for key in ("acquireTime", "renewTime"):
        if spec.get(key) is not None:
            spec[key] = micro_time(spec[key], "Lease", "v1")
    errors: list[str] = []
    duration = spec.get("leaseDurationSeconds")
    if duration is not None and (not isinstance(duration, int) or duration <= 0):
        errors.append(f"spec.leaseDurationSeconds: Invalid value: {duration}: must be greater than 0")
    transitions = spec.get("leaseTransitions")
    if transitions is not None and (not isinstance(transitions, int) or transitions < 0):
        errors.append(f"spec.leaseTransitions: Invalid value: {transitions}: "
                      "must be greater than or equal to 0")
    strategy = spec.get("strategy")
    if strategy not in (None, "", "OldestEmulationVersion"):
        errors.append(f'spec.strategy: Unsupported value: "{strategy}": supported values: '
                      '"OldestEmulationVersion"')
    if spec.get("preferredHolder") and not strategy:
        errors.append("spec.preferredHolder: Forbidden: may only be specified if `strategy` is defined")
    if errors:
        raise invalid("Lease", "coordination.k8s.io", name, *errors)
