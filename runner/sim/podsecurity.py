"""Pod Security admission as kube-apiserver runs it: the baseline and restricted Pod Security
Standards, chosen per namespace by its `pod-security.kubernetes.io/<mode>[-version]` labels.

A pod that violates its namespace's `enforce` level is refused (403, `violates PodSecurity
"restricted:latest": <reason> (<detail>), ...`); one that violates the `warn` level is admitted with a
`would violate PodSecurity ...` warning. Objects with a pod template (Deployments, ReplicaSets,
StatefulSets) are never refused: a template that violates the enforce or warn level earns the warning
(the pods are refused when the controller creates them). Namespace labels are validated (422), and
changing a namespace's enforce level warns about the existing pods that would violate it.

Checks, reasons and details follow k8s.io/pod-security-admission/policy (the checks of v1.32, in
its order: baseline ones by ID, then restricted ones by ID; restricted overrides the baseline
capabilities and hostPath checks). `audit` is validated and otherwise ignored: there is no audit log.
Not modelled: exemptions, Windows-specific relaxations, user-namespace relaxations, the
per-version differences older than v1.19/v1.22 beyond the two checks that came then.
It must not know about HTTP or the store.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

Obj = dict[str, Any]
Violation = tuple[str, str]  # (forbidden reason, detail)

PREFIX = "pod-security.kubernetes.io/"
MODES = ("enforce", "audit", "warn")
LEVELS = ("privileged", "baseline", "restricted")
_VERSION_RE = re.compile(r"^v1\.(0|[1-9][0-9]*)$")
SERVER_MINOR = 32

_CAPS_BASELINE = frozenset({"AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD",
                            "NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT"})
_SYSCTLS = {0: {"kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.tcp_syncookies",
                "net.ipv4.ping_group_range", "net.ipv4.ip_unprivileged_port_start"},
            27: {"net.ipv4.ip_local_reserved_ports"},
            29: {"net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl",
                 "net.ipv4.tcp_keepalive_probes"},
            32: {"net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem"}}
_SELINUX_TYPES = frozenset({"", "container_t", "container_init_t", "container_kvm_t"})
_RESTRICTED_VOLUME_OK = ("configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim",
                         "projected", "secret")
_VOLUME_TYPES = ("hostPath", "gcePersistentDisk", "awsElasticBlockStore", "gitRepo", "nfs", "iscsi",
                 "glusterfs", "rbd", "flexVolume", "cinder", "cephfs", "flocker", "fc", "azureFile",
                 "vsphereVolume", "quobyte", "azureDisk", "photonPersistentDisk", "portworxVolume", "scaleIO",
                 "storageos")
_APPARMOR_ANNOTATION = "container.apparmor.security.beta.kubernetes.io/"


@dataclass(frozen=True)
class Policy:
    level: str
    version: str  # "latest" or "v1.N", as the label says

    def __str__(self) -> str:
        return f"{self.level}:{self.version}"

    @property
    def minor(self) -> int:
        if self.version == "latest":
            return SERVER_MINOR
        return min(int(self.version[3:]), SERVER_MINOR)


PRIVILEGED = Policy("privileged", "latest")


def _q(names: list[str] | set[str]) -> str:
    return ", ".join(f'"{n}"' for n in names)


def _plural(singular: str, plural: str, n: int) -> str:
    return singular if n == 1 else plural


def _containers(spec: Obj) -> Iterator[Obj]:
    for key in ("initContainers", "containers", "ephemeralContainers"):
        for c in spec.get(key) or []:
            if isinstance(c, dict):
                yield c


def _sc(obj: Obj) -> Obj:
    sc = obj.get("securityContext")
    return sc if isinstance(sc, dict) else {}


def _who(pod_bad: bool, containers: list[str]) -> list[str]:
    setters = ["pod"] if pod_bad else []
    if containers:
        setters.append(f"{_plural('container', 'containers', len(containers))} {_q(containers)}")
    return setters


# --- baseline ------------------------------------------------------------------------------------

def _app_armor(meta: Obj, spec: Obj, p: Policy) -> Violation | None:
    bad_values: set[str] = set()
    pod_type = (_sc(spec).get("appArmorProfile") or {}).get("type")
    pod_bad = pod_type is not None and pod_type not in ("RuntimeDefault", "Localhost")
    if pod_bad:
        bad_values.add(str(pod_type))
    bad = []
    for c in _containers(spec):
        t = (_sc(c).get("appArmorProfile") or {}).get("type")
        if t is not None and t not in ("RuntimeDefault", "Localhost"):
            bad.append(str(c.get("name")))
            bad_values.add(str(t))
    values = sorted(bad_values)
    setters = _who(pod_bad, bad)
    annotations = sorted(f'{k}="{v}"' for k, v in (meta.get("annotations") or {}).items()
                         if k.startswith(_APPARMOR_ANNOTATION) and v
                         and v != "runtime/default" and not str(v).startswith("localhost/"))
    if annotations:
        values += annotations
        setters.append(_plural("annotation", "annotations", len(annotations)))
    if not setters:
        return None
    return (_plural("forbidden AppArmor profile", "forbidden AppArmor profiles", len(values)),
            f"{' and '.join(setters)} must not set AppArmor profile type to {_q(values)}")


def _capabilities_baseline(meta: Obj, spec: Obj, p: Policy) -> Violation | None:
    bad, caps = [], set()
    for c in _containers(spec):
        added = [str(x) for x in (_sc(c).get("capabilities") or {}).get("add") or []]
        extra = {x for x in added if x not in _CAPS_BASELINE}
        if extra:
            bad.append(str(c.get("name")))
            caps |= extra
    if not bad:
        return None
    return ("non-default capabilities", f"{_plural('container', 'containers', len(bad))} {_q(bad)} must not "
            f"include {_q(sorted(caps))} in securityContext.capabilities.add")


def _host_namespaces(meta: Obj, spec: Obj, p: Policy) -> Violation | None:
    used = sorted(f"{k}=true" for k in ("hostNetwork", "hostPID", "hostIPC") if spec.get(k) is True)
    return ("host namespaces", ", ".join(used)) if used else None


def _host_path_volumes(meta: Obj, spec: Obj, p: Policy) -> Violation | None:
    names = [str(v.get("name")) for v in spec.get("volumes") or []
             if isinstance(v, dict) and v.get("hostPath") is not None]
    if not names:
        return None
    return ("hostPath volumes", f"{_plural('volume', 'volumes', len(names))} {_q(names)}")


def _host_ports(meta: Obj, spec: Obj, p: Policy) -> Violation | None:
    bad, ports = [], set()
    for c in _containers(spec):
        used = {int(x["hostPort"]) for x in c.get("ports") or []
                if isinstance(x, dict) and x.get("hostPort")}
        if used:
            bad.append(str(c.get("name")))
            ports |= used
    if not bad:
        return None
    listed = ", ".join(sorted(str(x) for x in ports))  # a sorted string set, as sets.NewString().List()
    return ("hostPort", f"{_plural('container', 'containers', len(bad))} {_q(bad)} "
            f"{_plural('uses', 'use', len(bad))} {_plural('hostPort', 'hostPorts', len(ports))} {listed}")


def _privileged(meta: Obj, spec: Obj, p: Policy) -> Violation | None:
    bad = [str(c.get("name")) for c in _containers(spec) if _sc(c).get("privileged") is True]
    if not bad:
        return None
    return ("privileged", f"{_plural('container', 'containers', len(bad))} {_q(bad)} must not set "
            "securityContext.privileged=true")


def _proc_mount(meta: Obj, spec: Obj, p: Policy) -> Violation | None:
    bad, values = [], set()
    for c in _containers(spec):
        pm = _sc(c).get("procMount")
        if pm not in (None, "", "Default"):
            bad.append(str(c.get("name")))
            values.add(str(pm))
    if not bad:
        return None
    return ("procMount", f"{_plural('container', 'containers', len(bad))} {_q(bad)} must not set "
            f"securityContext.procMount to {_q(sorted(values))}")


def _se_linux(meta: Obj, spec: Obj, p: Policy) -> Violation | None:
    bad_types: set[str] = set()
    flags = {"user": False, "role": False}

    def valid(opts: Any) -> bool:
        if not isinstance(opts, dict):
            return True
        ok = True
        if str(opts.get("type") or "") not in _SELINUX_TYPES:
            ok = False
            bad_types.add(str(opts.get("type")))
        for key in ("user", "role"):
            if opts.get(key):
                ok = False
                flags[key] = True
        return ok

    pod_bad = not valid(_sc(spec).get("seLinuxOptions"))
    bad = [str(c.get("name")) for c in _containers(spec) if not valid(_sc(c).get("seLinuxOptions"))]
    setters = _who(pod_bad, bad)
    if not setters:
        return None
    data = []
    if bad_types:  # as upstream: user/role are only named beside a bad type
        data.append(f"{_plural('type', 'types', len(bad_types))} {_q(sorted(bad_types))}")
        data += [f"{k} may not be set" for k in ("user", "role") if flags[k]]
    return ("seLinuxOptions", f"{' and '.join(setters)} set forbidden securityContext.seLinuxOptions: "
            f"{'; '.join(data)}")


def _seccomp_baseline(meta: Obj, spec: Obj, p: Policy) -> Violation | None:
    pod_bad = (_sc(spec).get("seccompProfile") or {}).get("type") == "Unconfined"
    bad = [str(c.get("name")) for c in _containers(spec)
           if (_sc(c).get("seccompProfile") or {}).get("type") == "Unconfined"]
    setters = _who(pod_bad, bad)
    if not setters:
        return None
    return ("seccompProfile", f'{" and ".join(setters)} must not set securityContext.seccompProfile.type to '
            '"Unconfined"')


def _sysctls(meta: Obj, spec: Obj, p: Policy) -> Violation | None:
    allowed = set().union(*(names for since, names in _SYSCTLS.items() if since <= p.minor))
    bad = [str(s.get("name")) for s in _sc(spec).get("sysctls") or [] if isinstance(s, dict)
           and s.get("name") not in allowed]
    return ("forbidden sysctls", ", ".join(bad)) if bad else None


def _host_process(meta: Obj, spec: Obj, p: Policy) -> Violation | None:
    pod_bad = (_sc(spec).get("windowsOptions") or {}).get("hostProcess") is True
    bad = [str(c.get("name")) for c in _containers(spec)
           if (_sc(c).get("windowsOptions") or {}).get("hostProcess") is True]
    setters = _who(pod_bad, bad)
    if not setters:
        return None
    return ("hostProcess",
            f"{' and '.join(setters)} must not set securityContext.windowsOptions.hostProcess=true")


# --- restricted ----------------------------------------------------------------------------------

def _allow_privilege_escalation(meta: Obj, spec: Obj, p: Policy) -> Violation | None:
    bad = [str(c.get("name")) for c in _containers(spec)
           if _sc(c).get("allowPrivilegeEscalation") is not False]
    if not bad:
        return None
    return ("allowPrivilegeEscalation != false", f"{_plural('container', 'containers', len(bad))} {_q(bad)} "
            "must set securityContext.allowPrivilegeEscalation=false")


def _capabilities_restricted(meta: Obj, spec: Obj, p: Policy) -> Violation | None:
    missing, adding, caps = [], [], set()
    for c in _containers(spec):
        capabilities = _sc(c).get("capabilities")
        if not isinstance(capabilities, dict):
            missing.append(str(c.get("name")))
            continue
        if "ALL" not in (capabilities.get("drop") or []):
            missing.append(str(c.get("name")))
        extra = {str(x) for x in capabilities.get("add") or [] if x != "NET_BIND_SERVICE"}
        if extra:
            adding.append(str(c.get("name")))
            caps |= extra
    details = []
    if missing:
        details.append(f"{_plural('container', 'containers', len(missing))} {_q(missing)} must set "
                       'securityContext.capabilities.drop=["ALL"]')
    if adding:
        details.append(f"{_plural('container', 'containers', len(adding))} {_q(adding)} must not include "
                       f"{_q(sorted(caps))} in securityContext.capabilities.add")
    return ("unrestricted capabilities", "; ".join(details)) if details else None


def _restricted_volumes(meta: Obj, spec: Obj, p: Policy) -> Violation | None:
    bad, types = [], set()
    for v in spec.get("volumes") or []:
        if not isinstance(v, dict) or any(v.get(k) is not None for k in _RESTRICTED_VOLUME_OK):
            continue
        bad.append(str(v.get("name")))
        types.add(next((t for t in _VOLUME_TYPES if v.get(t) is not None), "unknown"))
    if not bad:
        return None
    return ("restricted volume types", f"{_plural('volume', 'volumes', len(bad))} {_q(bad)} "
            f"{_plural('uses', 'use', len(bad))} "
            f"{_plural('restricted volume type', 'restricted volume types', len(types))} {_q(sorted(types))}")


def _run_as_non_root(meta: Obj, spec: Obj, p: Policy) -> Violation | None:
    pod_value = _sc(spec).get("runAsNonRoot")
    explicit, implicit = [], []
    for c in _containers(spec):
        value = _sc(c).get("runAsNonRoot")
        if value is not None:
            if value is False:
                explicit.append(str(c.get("name")))
        elif pod_value is not True:
            implicit.append(str(c.get("name")))
    setters = _who(pod_value is False, explicit)
    if setters:
        return ("runAsNonRoot != true",
                f"{' and '.join(setters)} must not set securityContext.runAsNonRoot=false")
    if implicit:
        return ("runAsNonRoot != true", f"pod or {_plural('container', 'containers', len(implicit))} "
                f"{_q(implicit)} must set securityContext.runAsNonRoot=true")
    return None


def _run_as_user(meta: Obj, spec: Obj, p: Policy) -> Violation | None:
    bad = [str(c.get("name")) for c in _containers(spec) if _sc(c).get("runAsUser") == 0]
    setters = _who(_sc(spec).get("runAsUser") == 0, bad)
    return ("runAsUser=0", f"{' and '.join(setters)} must not set runAsUser=0") if setters else None


def _seccomp_restricted(meta: Obj, spec: Obj, p: Policy) -> Violation | None:
    ok = ("RuntimeDefault", "Localhost")
    bad_values: set[str] = set()
    pod_profile = _sc(spec).get("seccompProfile")
    pod_bad = isinstance(pod_profile, dict) and pod_profile.get("type") not in ok
    if pod_bad and isinstance(pod_profile, dict):
        bad_values.add(str(pod_profile.get("type")))
    pod_set = isinstance(pod_profile, dict) and not pod_bad
    explicit, implicit = [], []
    for c in _containers(spec):
        profile = _sc(c).get("seccompProfile")
        if isinstance(profile, dict):
            if profile.get("type") not in ok:
                explicit.append(str(c.get("name")))
                bad_values.add(str(profile.get("type")))
        elif not pod_set:
            implicit.append(str(c.get("name")))
    setters = _who(pod_bad, explicit)
    if setters:
        return ("seccompProfile", f"{' and '.join(setters)} must not set securityContext.seccompProfile.type "
                f"to {_q(sorted(bad_values))}")
    if implicit:
        return ("seccompProfile", f"pod or {_plural('container', 'containers', len(implicit))} "
                f"{_q(implicit)} must set securityContext.seccompProfile.type to "
                '"RuntimeDefault" or "Localhost"')
    return None


Check = Callable[[Obj, Obj, Policy], "Violation | None"]
# (id, minimum minor version, check); upstream's order: by level, then by ID
BASELINE: tuple[tuple[str, int, Check], ...] = (
    ("appArmorProfile", 0, _app_armor), ("capabilities_baseline", 0, _capabilities_baseline),
    ("hostNamespaces", 0, _host_namespaces), ("hostPathVolumes", 0, _host_path_volumes),
    ("hostPorts", 0, _host_ports), ("privileged", 0, _privileged), ("procMount", 0, _proc_mount),
    ("seLinuxOptions", 0, _se_linux), ("seccompProfile_baseline", 0, _seccomp_baseline),
    ("sysctls", 0, _sysctls), ("windowsHostProcess", 0, _host_process),
)
RESTRICTED: tuple[tuple[str, int, Check], ...] = (
    ("allowPrivilegeEscalation", 8, _allow_privilege_escalation),
    ("capabilities_restricted", 22, _capabilities_restricted),
    ("restrictedVolumes", 0, _restricted_volumes), ("runAsNonRoot", 0, _run_as_non_root),
    ("runAsUser", 23, _run_as_user), ("seccompProfile_restricted", 19, _seccomp_restricted),
)
_OVERRIDDEN_BY_RESTRICTED = {"capabilities_baseline": 22, "hostPathVolumes": 0}


def evaluate(policy: Policy, meta: Obj, spec: Obj) -> list[Violation]:
    """The violations of `policy` by a pod's metadata and spec, in upstream's order."""
    if policy.level == "privileged":
        return []
    checks = list(BASELINE)
    if policy.level == "restricted":
        checks = [c for c in checks if not (c[0] in _OVERRIDDEN_BY_RESTRICTED
                                            and policy.minor >= _OVERRIDDEN_BY_RESTRICTED[c[0]])]
        checks += RESTRICTED
    out = []
    for _, since, check in checks:
        if policy.minor >= since:
            found = check(meta, spec, policy)
            if found is not None:
                out.append(found)
    return out


def describe(violations: list[Violation]) -> str:
    return ", ".join(f"{reason} ({detail})" if detail else reason for reason, detail in violations)


def label_errors(labels: dict[str, str] | None) -> list[str]:
    """Field errors for invalid Pod Security labels (a real server refuses such a namespace with 422)."""
    errors = []
    for mode in MODES:
        level = (labels or {}).get(PREFIX + mode)
        if level is not None and level not in LEVELS:
            errors.append(f'metadata.labels[{PREFIX}{mode}]: Invalid value: "{level}": must be one of '
                          f"{', '.join(LEVELS)}")
        version = (labels or {}).get(f"{PREFIX}{mode}-version")
        if version is not None and version != "latest" and not _VERSION_RE.match(version):
            errors.append(f'metadata.labels[{PREFIX}{mode}-version]: Invalid value: "{version}": must be '
                          '"latest" or "v1.x"')
    return errors


def policy(labels: dict[str, str] | None, mode: str) -> Policy:
    """The namespace's policy for `mode`; unset is privileged, an invalid label the most restrictive."""
    labels = labels or {}
    level = labels.get(PREFIX + mode, "privileged")
    version = labels.get(f"{PREFIX}{mode}-version", "latest")
    if level not in LEVELS:
        level = "restricted"
    if version != "latest" and not _VERSION_RE.match(version):
        version = "latest"
    return Policy(level, version)


@dataclass(frozen=True)
class Decision:
    forbidden: str  # "" when admitted: else the message after `pods "name" is forbidden: `
    warnings: tuple[str, ...]


def admit_pod(labels: dict[str, str] | None, pod: Obj) -> Decision:
    meta, spec = pod.get("metadata") or {}, pod.get("spec") or {}
    enforce, warn = policy(labels, "enforce"), policy(labels, "warn")
    forbidden = ""
    found = evaluate(enforce, meta, spec)
    if found:
        forbidden = f'violates PodSecurity "{enforce}": {describe(found)}'
    warnings: list[str] = []
    if warn != enforce:
        found = evaluate(warn, meta, spec)
        if found:
            warnings.append(f'would violate PodSecurity "{warn}": {describe(found)}')
    return Decision(forbidden, tuple(warnings))


def template_warnings(labels: dict[str, str] | None, template: Obj) -> list[str]:
    """Warnings for an object with a pod template (never refused: the pods will be)."""
    meta, spec = template.get("metadata") or {}, template.get("spec") or {}
    out = []
    seen: list[Policy] = []
    for mode in ("enforce", "warn"):
        p = policy(labels, mode)
        if p in seen:
            continue
        seen.append(p)
        found = evaluate(p, meta, spec)
        if found:
            out.append(f'would violate PodSecurity "{p}": {describe(found)}')
    return out


def existing_pods_warnings(namespace: str, labels: dict[str, str] | None, pods: list[Obj]) -> list[str]:
    """What a real server warns when a namespace's enforce level changes and existing pods break it."""
    enforce = policy(labels, "enforce")
    by_reasons: dict[str, list[str]] = {}
    for pod in pods:
        found = evaluate(enforce, pod.get("metadata") or {}, pod.get("spec") or {})
        if found:
            key = ", ".join(reason for reason, _ in found)
            by_reasons.setdefault(key, []).append(str((pod.get("metadata") or {}).get("name")))
    if not by_reasons:
        return []
    out = [f'existing pods in namespace "{namespace}" violate the new PodSecurity enforce level "{enforce}"']
    for reasons, names in by_reasons.items():
        who = names[0] if len(names) == 1 else f"{names[0]} (and {len(names) - 1} other pods)"
        out.append(f"{who}: {reasons}")
    return out
