"""Pod Security levels as a run needs them: what its steps would create, against what the target
namespace enforces.

Why it exists: Pod Security admission checks pods, never templates. A Deployment whose template
gains a hostPath volume is accepted, and then every pod its ReplicaSet creates is refused: the
workload drains away mid-run. So the run predicts, offline, the strictest level each thing it
would create still passes (`PodSecurityNeed`), and preflight compares that with the namespace's
`pod-security.kubernetes.io/enforce` label (refusing, exit 3, before anything changes) and its
`warn` label (a warning). Step kinds that create pods or change a pod template say what they need
through an optional `pod_security(step, scenario)` method on their implementation
(`PodSecurityAware`); the engine asks each step and never imports a step kind.

`level_needed` is the part of the Pod Security Standards a run's own pods and template additions
can trip (host namespaces, hostPath and other non-restricted volume types, host ports,
privileged, added capabilities, seccomp, privilege escalation, non-root): the embedded cluster's
full admission (runner/sim/podsecurity.py) is what the tests hold it to. Pure: no cluster, no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from runner.scenario.model import Scenario, StepBase

PREFIX = "pod-security.kubernetes.io/"
ENFORCE_LABEL = PREFIX + "enforce"
WARN_LABEL = PREFIX + "warn"
LEVELS = ("restricted", "baseline", "privileged")  # strictest first; unlabelled is privileged
PRIVILEGED, BASELINE, RESTRICTED = "privileged", "baseline", "restricted"

_BASELINE_CAPS = frozenset({"AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD",
                            "NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT"})
_RESTRICTED_VOLUMES = ("configMap", "csi", "downwardAPI", "emptyDir", "ephemeral",
                       "persistentVolumeClaim", "projected", "secret")
_SECCOMP_OK = ("RuntimeDefault", "Localhost")


@dataclass(frozen=True)
class PodSecurityNeed:
    """One thing a run would create and the strictest Pod Security level that still admits it."""

    level: str  # restricted, baseline or privileged
    what: str  # "the toggle step's helper pods"
    why: str = ""  # 'hostPath volume "chaos-toggle"'
    option: str = ""  # what works instead: "use settings.toggle-via: configmap"

    def admitted_by(self, level: str) -> bool:
        return LEVELS.index(self.level) <= LEVELS.index(level)


class PodSecurityAware(Protocol):
    """A step implementation that creates pods or changes a pod template."""

    def pod_security(self, step: Any, scenario: Scenario) -> list[PodSecurityNeed]: ...


def scenario_needs(scenario: Scenario, impls: Iterable[tuple[StepBase, object]]) -> list[PodSecurityNeed]:
    """Every step's needs, in step order (steps whose implementation says nothing need nothing)."""
    out: list[PodSecurityNeed] = []
    for step, impl in impls:
        ask = getattr(impl, "pod_security", None)
        if ask is not None:
            out.extend(ask(step, scenario))
    return out


# --- the level a pod spec needs --------------------------------------------------------------


def _sc(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    sc = obj.get("securityContext")
    return sc if isinstance(sc, Mapping) else {}


def _containers(spec: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    for key in ("initContainers", "containers", "ephemeralContainers"):
        for c in spec.get(key) or []:
            if isinstance(c, Mapping):
                yield c


def _baseline_violations(spec: Mapping[str, Any]) -> Iterator[str]:
    for key in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(key) is True:
            yield f"{key}=true"
    for v in spec.get("volumes") or []:
        if isinstance(v, Mapping) and v.get("hostPath") is not None:
            yield f'hostPath volume "{v.get("name")}" ({(v.get("hostPath") or {}).get("path")})'
    if (_sc(spec).get("seccompProfile") or {}).get("type") == "Unconfined":
        yield "pod seccompProfile Unconfined"
    for c in _containers(spec):
        name, sc = c.get("name"), _sc(c)
        if sc.get("privileged") is True:
            yield f'privileged container "{name}"'
        if any(p.get("hostPort") for p in c.get("ports") or [] if isinstance(p, Mapping)):
            yield f'host port in container "{name}"'
        extra = sorted(str(x) for x in (sc.get("capabilities") or {}).get("add") or []
                       if x not in _BASELINE_CAPS)
        if extra:
            yield f'capabilities {", ".join(extra)} added in container "{name}"'
        if (sc.get("seccompProfile") or {}).get("type") == "Unconfined":
            yield f'seccompProfile Unconfined in container "{name}"'


def _restricted_violations(spec: Mapping[str, Any]) -> Iterator[str]:
    for v in spec.get("volumes") or []:
        if isinstance(v, Mapping) and not any(v.get(k) is not None for k in _RESTRICTED_VOLUMES):
            yield f'volume "{v.get("name")}" of a restricted type'
    pod = _sc(spec)
    pod_seccomp = (pod.get("seccompProfile") or {}).get("type") in _SECCOMP_OK
    if pod.get("runAsUser") == 0:
        yield "pod runAsUser=0"
    for c in _containers(spec):
        name, sc = c.get("name"), _sc(c)
        if sc.get("allowPrivilegeEscalation") is not False:
            yield f'container "{name}" without allowPrivilegeEscalation=false'
        caps = sc.get("capabilities") or {}
        added = caps.get("add") or []
        if "ALL" not in (caps.get("drop") or []) or any(x != "NET_BIND_SERVICE" for x in added):
            yield f'container "{name}" without capabilities.drop=["ALL"]'
        non_root = sc.get("runAsNonRoot")
        if non_root is False or (non_root is None and pod.get("runAsNonRoot") is not True):
            yield f'container "{name}" without runAsNonRoot=true'
        if sc.get("runAsUser") == 0:
            yield f'container "{name}" with runAsUser=0'
        profile = sc.get("seccompProfile")
        if (profile.get("type") not in _SECCOMP_OK) if isinstance(profile, Mapping) else not pod_seccomp:
            yield f'container "{name}" without seccompProfile RuntimeDefault'


def level_needed(spec: Mapping[str, Any]) -> tuple[str, list[str]]:
    """The strictest level that admits a pod with this spec, and why no stricter one does."""
    baseline = list(_baseline_violations(spec))
    if baseline:
        return PRIVILEGED, baseline
    restricted = list(_restricted_violations(spec))
    return (BASELINE, restricted) if restricted else (RESTRICTED, [])


def need_of(spec: Mapping[str, Any], what: str, option: str = "") -> PodSecurityNeed:
    level, why = level_needed(spec)
    return PodSecurityNeed(level, what, "; ".join(why), option if level != RESTRICTED else "")


# --- the namespace's levels -------------------------------------------------------------------


def level_of(labels: Mapping[str, str] | None, label: str) -> str:
    """The level a label sets: unset is privileged; a value the server does not know reads as the
    strictest (as the API server's admission treats it)."""
    value = (labels or {}).get(label)
    if value is None:
        return PRIVILEGED
    return value if value in LEVELS else RESTRICTED


@dataclass(frozen=True)
class Verdict:
    refusal: str  # "" when the enforce level admits everything
    warnings: tuple[str, ...]


def _explain(namespace: str, verb: str, level: str, label: str, needs: Sequence[PodSecurityNeed]) -> str:
    parts, options = [], []
    for need in needs:
        text = f"{need.what} need{'' if need.what.endswith('s') else 's'} {need.level}"
        parts.append(text + (f" ({need.why})" if need.why else ""))
        if need.option and need.option not in options:
            options.append(need.option)
    return (f'namespace {namespace} {verb} Pod Security "{level}" (label {label}): '
            + ", ".join(parts) + "".join(f"; {o}" for o in options))


def judge(namespace: str, labels: Mapping[str, str] | None,
          needs: Sequence[PodSecurityNeed]) -> Verdict:
    """What preflight says about `needs` in a namespace with these labels."""
    enforce, warn = level_of(labels, ENFORCE_LABEL), level_of(labels, WARN_LABEL)
    refused = [n for n in needs if not n.admitted_by(enforce)]
    refusal = _explain(namespace, "enforces", enforce, ENFORCE_LABEL, refused) if refused else ""
    warned = [n for n in needs if n.admitted_by(enforce) and not n.admitted_by(warn)]
    warnings = (_explain(namespace, "warns at", warn, WARN_LABEL, warned),) if warned else ()
    return Verdict(refusal, warnings)
