"""The typed scenario model: frozen objects built once from validated YAML.

Everything past the loader works with these classes, never with raw dicts (DESIGN.md §7, "parse
once"). Enum values are the wire strings of the YAML format; a test keeps them equal to the
schema's enums. This module holds data only: no I/O, no validation logic, no cluster access.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from types import MappingProxyType

from runner import xid as xid_catalogue
from runner.shimwire import DEFAULT_LOG_LIMIT

# ---------------------------------------------------------------------------------------------
# Durations
# ---------------------------------------------------------------------------------------------

# The one duration grammar: scenarios, CLI flags and shim helpers all parse with Duration.parse,
# and the JSON Schema's pattern is this one without the group names (a test keeps them equal).
# ASCII digits only: JSON Schema patterns are ECMA-262, where \d means [0-9].
DURATION_RE = re.compile(
    r"^(?:(?P<h>[0-9]+)h)?(?:(?P<m>[0-9]+)m(?!s))?(?:(?P<s>[0-9]+(?:\.[0-9]+)?)s)?(?:(?P<ms>[0-9]+)ms)?$"
)


@dataclass(frozen=True, order=True)
class Duration:
    """A length of time as written in a scenario (`90s`, `5m`, `1h30m`, `250ms`)."""

    seconds: float
    text: str = field(compare=False, default="")

    @classmethod
    def parse(cls, text: str) -> Duration:
        """Parse `text`; raises ValueError with a readable message when it is not a duration."""
        match = DURATION_RE.match(text.strip()) if text else None
        if not match or not any(match.groupdict().values()):
            raise ValueError(f"{text!r} is not a duration (examples: 500ms, 30s, 5m, 1h30m)")
        parts = match.groupdict()
        seconds = (int(parts["h"] or 0) * 3600 + int(parts["m"] or 0) * 60 + float(parts["s"] or 0)
                   + int(parts["ms"] or 0) / 1000)
        return cls(seconds, text.strip())

    @classmethod
    def of(cls, seconds: float) -> Duration:
        """A duration from seconds, with a canonical text."""
        return cls(seconds, format_seconds(seconds))

    def __str__(self) -> str:
        return self.text or format_seconds(self.seconds)


def format_seconds(seconds: float) -> str:
    """Canonical short text for a number of seconds (`1h30m`, `90s` → `1m30s`, `0.5s` → `500ms`)."""
    if seconds < 1 and seconds > 0:
        return f"{round(seconds * 1000)}ms"
    whole = int(seconds)
    h, rest = divmod(whole, 3600)
    m, s = divmod(rest, 60)
    return (f"{h}h" if h else "") + (f"{m}m" if m else "") + (f"{s}s" if s or whole == 0 else "")


# ---------------------------------------------------------------------------------------------
# Enums (values are the YAML spellings)
# ---------------------------------------------------------------------------------------------


class WorkloadKind(str, Enum):
    DEPLOYMENT = "Deployment"
    STATEFULSET = "StatefulSet"
    DYNAMO = "DynamoGraphDeployment"


class StepKind(str, Enum):
    PATCH = "patch"
    WAIT = "wait"
    TOGGLE = "toggle"
    ASSERT_RESCHEDULE = "assert-reschedule"
    CLEANUP = "cleanup"
    CORDON = "cordon"
    UNCORDON = "uncordon"
    DELETE_PODS = "delete-pods"
    PROBE = "probe"
    ASSERT = "assert"
    PAUSE = "pause"
    NODE_XID = "node-xid"


class FaultMode(str, Enum):
    TOGGLE = "toggle"  # the shim loads disarmed (passthrough); a toggle step arms it at run time
    IMMEDIATE = "immediate"  # armed from process start through CUDA_FAULT_INJECTION_ENABLED=1


class ApiClass(str, Enum):
    ALLOC = "alloc"
    LAUNCH = "launch"
    SYNC = "sync"
    MEMCPY = "memcpy"
    PEER = "peer"


class RollbackPolicy(str, Enum):
    ON_FAILURE = "on-failure"  # undo on failure/interrupt; a passing run's cleanup step did the rest
    ALWAYS = "always"  # undo every recorded change at the end, whatever happened
    NEVER = "never"  # keep the broken state for debugging (said loudly; `chaos recover` undoes)


class ClusterChoice(str, Enum):
    SIM = "sim"  # the embedded cluster, started for the run
    KUBE = "kube"  # the current kubeconfig context (or --context)


class PinMode(str, Enum):
    HARD = "hard"  # required node affinity: pods may only run on the target node
    PREFERRED = "preferred"  # preferred node affinity: pods may run elsewhere when it is gone
    NONE = "none"


class ShimSource(str, Enum):
    PREBUILT = "prebuilt"  # the shipped libraries (x86_64, aarch64) as ConfigMap binaryData, mounted
    COMPILE = "compile"  # shim source in a ConfigMap, compiled by an init container
    CONFIGMAP = "configmap"  # the old name of compile, still accepted (chaos validate warns: CH043)
    IMAGE = "image"  # an init container image that already holds the built shim
    HOST_PATH = "hostPath"  # a prebuilt shim already present on every node

    @property
    def canonical(self) -> ShimSource:
        """The source this one means (`configmap` is `compile`)."""
        return ShimSource.COMPILE if self is ShimSource.CONFIGMAP else self


class ToggleVia(str, Enum):
    """How the node's fault state reaches the shim in the target pods."""

    HOST_PATH = "hostPath"  # a file in a node directory (hostPath), written by helper pods: fastest
    CONFIGMAP = "configmap"  # a ConfigMap key per node, mounted as a directory: no pods, no hostPath


class ToggleMethod(str, Enum):
    HELPER_POD = "helper-pod"  # a short-lived pod pinned to the node writes the hostPath file
    EXEC = "exec"  # exec into a running workload pod (fails while it crash-loops)


class WaitFor(str, Enum):
    PODS_READY = "pods-ready"  # all desired replicas Running and Ready
    ROLLOUT_COMPLETE = "rollout-complete"  # the workload's rollout finished (updated == desired)
    NODE_CONDITION = "node-condition"  # a node condition has a given status
    POD_RESTARTS = "pod-restarts"  # some target pod restarted at least N times
    LOG_LINE = "log-line"  # a target pod's log contains a pattern
    PODS = "pods"  # at least `count` target pods match `where`
    NODES = "nodes"  # at least `count` nodes match `where`


# ---------------------------------------------------------------------------------------------
# Scenario parts
# ---------------------------------------------------------------------------------------------

TARGET_NODE = "target"  # node reference meaning "the node the fault is injected on"
AUTO_NODE = "auto"  # target.node value: preflight picks a node running a target pod


def frozen_map(items: Mapping[str, str] | None = None) -> Mapping[str, str]:
    """An immutable mapping, so frozen dataclasses stay truly immutable."""
    return MappingProxyType(dict(items or {}))


@dataclass(frozen=True)
class Metadata:
    name: str
    description: str = ""
    labels: Mapping[str, str] = field(default_factory=frozen_map)


@dataclass(frozen=True)
class WorkloadRef:
    kind: WorkloadKind
    name: str
    services: tuple[str, ...] = ()  # DynamoGraphDeployment worker services to inject (empty: all)


@dataclass(frozen=True)
class Target:
    namespace: str
    workload: WorkloadRef
    node: str = AUTO_NODE  # `auto` or a node name
    containers: tuple[str, ...] = ()  # containers to inject (empty: every container of the template)


@dataclass(frozen=True)
class Fault:
    xid: int = xid_catalogue.DEFAULT_XID
    mode: FaultMode = FaultMode.TOGGLE
    probability: float = 1.0  # share of eligible calls that fail once armed
    after_calls: int = 0  # eligible calls that still succeed after arming
    apis: tuple[ApiClass, ...] = ()  # API classes that fail (empty: all)
    log_limit: int = DEFAULT_LOG_LIMIT  # first N injections per process logged as `[XID n SIM] ...`
    # The GPUs of the node the fault hits (indexes as nvidia-smi numbers them, or GPU UUIDs); empty:
    # every GPU. Only processes using one of them fail; the rest keep serving until remediation.
    gpus: tuple[int | str, ...] = ()

    @property
    def entry(self) -> xid_catalogue.Xid | None:
        return xid_catalogue.lookup(self.xid)


SYSTEM_NAMESPACES = ("kube-system", "kube-public", "kube-node-lease", "gpu-operator",
                     "nvidia-gpu-operator", "network-operator", "cert-manager", "monitoring")


@dataclass(frozen=True)
class Guardrails:
    allow_namespaces: tuple[str, ...] = ()  # when non-empty, only these namespaces may be targeted
    deny_namespaces: tuple[str, ...] = SYSTEM_NAMESPACES  # never targeted unless also allowed
    max_nodes: int = 1  # nodes the run may affect (fault, cordon, delete)
    max_pods: int = 10  # pods the run may affect
    allow_last_replica: bool = False  # may the run take the last healthy replica (or pass --yes)
    allow_node_xid: bool = False  # opt-in for the privileged node-xid step


@dataclass(frozen=True)
class SimNode:
    """One node (or a group of alike nodes) of an embedded cluster."""

    count: int = 3
    gpus: int = 1
    product: str = "NVIDIA-H100-80GB-HBM3"
    labels: Mapping[str, str] = field(default_factory=frozen_map)  # on each node (e.g. a pool)


@dataclass(frozen=True)
class SimSettings:
    """The embedded cluster a scenario runs on when the cluster is `sim`."""

    nodes: tuple[SimNode, ...] = (SimNode(),)
    manifests: tuple[str, ...] = ()  # files (relative to the scenario) applied before the run
    health_agent: bool = True  # the NVSentinel stand-in that cordons nodes on node-scoped XIDs
    time_scale: float = 1.0  # <1 speeds up kubelet backoff and waits inside the embedded cluster


DEFAULT_EXPIRY: Mapping[ToggleVia, Duration] = MappingProxyType({
    ToggleVia.HOST_PATH: Duration(120.0, "2m"), ToggleVia.CONFIGMAP: Duration(600.0, "10m")})
CONFIGMAP_RENEW_S = 60.0
EXPIRY_HEADROOM = 0.75  # a renewal plus its propagation must land within this share of the expiry


@dataclass(frozen=True)
class Settings:
    timeout: Duration = Duration(900.0, "15m")
    rollback: RollbackPolicy = RollbackPolicy.ON_FAILURE
    guardrails: Guardrails = Guardrails()
    cluster: ClusterChoice | None = None  # None: the embedded cluster, unless a flag or env names one
    # dead-man switch: armed faults lapse unless renewed; None: the toggle-via mode's default (`expiry`)
    fault_expiry: Duration | None = None
    sim: SimSettings = SimSettings()
    # where journals' cluster copies and the runs' Leases live (one namespace: one place to look)
    state_namespace: str = "chaos-system"
    rollback_timeout: Duration = Duration(120.0, "2m")  # the rollback's own budget after the steps
    toggle_via: ToggleVia = ToggleVia.HOST_PATH  # how the node's fault state reaches the pods
    # configmap: how long a ConfigMap update may take to reach a pod's mounted files (the kubelet's
    # sync period, 1m jittered up to 1m30s, plus its ConfigMap cache TTL, 1m, with some margin)
    configmap_delay: Duration = Duration(150.0, "2m30s")

    @property
    def expiry(self) -> Duration:
        """The effective fault expiry: `fault_expiry`, else the mode's default (a ConfigMap update
        takes up to `configmap_delay` to land, so that mode needs a longer one)."""
        if self.fault_expiry is not None:
            return self.fault_expiry
        return DEFAULT_EXPIRY[self.toggle_via]

    @property
    def renew_every(self) -> float:
        """Seconds between renewals of an armed fault's expiry: a third of it (a helper pod per
        renewal); with a ConfigMap (a cheap patch, but slow to land) at most a minute as well."""
        third = self.expiry.seconds / 3
        return min(third, CONFIGMAP_RENEW_S) if self.toggle_via is ToggleVia.CONFIGMAP else third

    @property
    def propagation_delay(self) -> float:
        """Seconds a write of the fault state may take to reach the pods."""
        return self.configmap_delay.seconds if self.toggle_via is ToggleVia.CONFIGMAP else 0.0


# ---------------------------------------------------------------------------------------------
# Steps: one parameter class per kind, all sharing StepBase fields
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StepBase:
    kind: StepKind
    name: str  # unique in the scenario; defaults to "<index>-<kind>" when the YAML gives none
    line: int = 0  # where the step starts in the scenario file (for messages)
    timeout: Duration | None = None  # per-step deadline (None: what remains of the scenario's)


@dataclass(frozen=True)
class PatchStep(StepBase):
    passthrough: bool = True  # load the shim disarmed; a toggle step arms it
    pin: PinMode = PinMode.PREFERRED  # hard would keep replacements off every other node
    source: ShimSource = ShimSource.PREBUILT
    compiler_image: str = "gcc:13"  # for source=compile
    image: str = ""  # for source=image: image holding /cuda-fault/cuda_intercept.so
    host_path: str = ""  # for source=hostPath: directory on the node holding cuda_intercept.so
    toggle_dir: str = "/var/lib/cuda-fault"  # node directory for the toggle file (hostPath)
    restart: bool = True  # restart pods so they pick the shim up


@dataclass(frozen=True)
class WaitStep(StepBase):
    for_: WaitFor = WaitFor.PODS_READY
    node: str = TARGET_NODE  # for node-condition / pods on a node
    condition: str = ""  # node condition type, e.g. GpuXidError or Ready
    status: str = "True"
    min_restarts: int = 1
    pattern: str = ""  # log-line: a regular expression
    where: Mapping[str, str] = field(default_factory=frozen_map)  # dotted field path -> value
    count: int = 1


@dataclass(frozen=True)
class ToggleStep(StepBase):
    enabled: bool = True
    node: str = TARGET_NODE
    method: ToggleMethod = ToggleMethod.HELPER_POD
    xid: int | None = None  # override the scenario's fault.xid for this arming


@dataclass(frozen=True)
class AssertRescheduleStep(StepBase):
    within: Duration = Duration(600.0, "10m")
    node: str = TARGET_NODE  # the faulty node pods must leave
    expect_cordon: bool = True  # the faulty node must end up cordoned (by remediation)


@dataclass(frozen=True)
class CleanupStep(StepBase):
    verify: bool = True  # check the workload spec equals the original and nothing of ours is left


@dataclass(frozen=True)
class CordonStep(StepBase):
    node: str = TARGET_NODE


@dataclass(frozen=True)
class UncordonStep(StepBase):
    node: str = TARGET_NODE


@dataclass(frozen=True)
class DeletePodsStep(StepBase):
    node: str = ""  # only pods on this node ("" = any node)
    count: int = 0  # at most this many (0 = all matching)
    grace_period: int = 0


@dataclass(frozen=True)
class ServiceRef:
    """A Service reached through the API server's service proxy (`services/{name}:{port}/proxy`)."""

    name: str
    port: int | str  # the Service port's number, or its name


@dataclass(frozen=True)
class ProbeStep(StepBase):
    url: str = ""  # direct; `{pod}` means each Ready target pod in turn
    service: ServiceRef | None = None  # or through the API server's service proxy
    path: str = ""  # appended to the url, or the path behind the service proxy
    method: str = "GET"
    body: str = ""
    headers: Mapping[str, str] = field(default_factory=frozen_map)
    stream: bool = False  # Server-Sent Events: time to first byte and between chunks are recorded
    duration: Duration = Duration(30.0, "30s")
    interval: Duration = Duration(1.0, "1s")
    expect_status: int = 200
    min_success_rate: float = 0.99
    max_p95_latency: Duration | None = None
    request_timeout: Duration = Duration(5.0, "5s")


@dataclass(frozen=True)
class PodExpectation:
    node: str = ""  # only pods on this node ("" = any)
    ready: int | None = None  # exactly this many Ready pods
    min_ready: int | None = None
    min_restarts: int | None = None  # some pod restarted at least this often
    max_restarts: int | None = None  # no pod restarted more than this
    phase: str = ""  # every selected pod is in this phase


@dataclass(frozen=True)
class NodeExpectation:
    node: str = TARGET_NODE
    cordoned: bool | None = None
    condition: str = ""
    status: str = "True"


@dataclass(frozen=True)
class LogExpectation:
    pattern: str = ""  # regular expression searched in the target pods' logs (current and previous)
    min_count: int = 1


@dataclass(frozen=True)
class AssertStep(StepBase):
    pods: PodExpectation | None = None
    node: NodeExpectation | None = None
    logs: LogExpectation | None = None
    within: Duration | None = None  # None: must hold now; else must come to hold within this


@dataclass(frozen=True)
class PauseStep(StepBase):
    duration: Duration = Duration(10.0, "10s")


@dataclass(frozen=True)
class NodeXidStep(StepBase):
    """Opt-in, privileged: write a kernel-log XID line on the node (for real health agents)."""

    node: str = TARGET_NODE
    xid: int | None = None
    message: str = ""


Step = (PatchStep | WaitStep | ToggleStep | AssertRescheduleStep | CleanupStep | CordonStep
        | UncordonStep | DeletePodsStep | ProbeStep | AssertStep | PauseStep | NodeXidStep)

STEP_CLASSES: Mapping[StepKind, type[StepBase]] = MappingProxyType({
    StepKind.PATCH: PatchStep,
    StepKind.WAIT: WaitStep,
    StepKind.TOGGLE: ToggleStep,
    StepKind.ASSERT_RESCHEDULE: AssertRescheduleStep,
    StepKind.CLEANUP: CleanupStep,
    StepKind.CORDON: CordonStep,
    StepKind.UNCORDON: UncordonStep,
    StepKind.DELETE_PODS: DeletePodsStep,
    StepKind.PROBE: ProbeStep,
    StepKind.ASSERT: AssertStep,
    StepKind.PAUSE: PauseStep,
    StepKind.NODE_XID: NodeXidStep,
})


# ---------------------------------------------------------------------------------------------
# Probes: what the service's callers see, in the background for the whole run
# ---------------------------------------------------------------------------------------------


class ProbePhase(str, Enum):
    """When a request was sent, relative to the fault (report.json spells them so)."""

    SETUP = "setup"  # run start until the fault is armed
    FAULT = "fault"  # armed until the last step after arming (pauses aside) ends
    RECOVERED = "recovered"  # from then until cleanup or rollback starts
    ROLLBACK = "rollback"  # cleanup / rollback until the end of the run


@dataclass(frozen=True)
class PhaseSlo:
    """What one phase must show; None: not checked."""

    min_success_rate: float | None = None
    max_outage: Duration | None = None  # the longest span from a failed request to the next success
    max_p50_latency: Duration | None = None
    max_p95_latency: Duration | None = None
    max_p99_latency: Duration | None = None


@dataclass(frozen=True)
class ProbeSlo:
    setup: PhaseSlo | None = None  # missed: the run is inconclusive (unhealthy before the fault)
    fault: PhaseSlo | None = None  # missed in fault, recovered or rollback: the run fails
    recovered: PhaseSlo | None = None
    rollback: PhaseSlo | None = None

    def of(self, phase: ProbePhase) -> PhaseSlo | None:
        found: PhaseSlo | None = getattr(self, phase.value)
        return found


@dataclass(frozen=True)
class Probe:
    """One background probe: the `probe` step's request keys, an interval, SLOs per phase."""

    name: str
    url: str = ""  # sent directly (when the runner can reach it)
    service: ServiceRef | None = None  # or through the API server's service proxy
    path: str = ""
    method: str = "GET"
    headers: Mapping[str, str] = field(default_factory=frozen_map)
    body: str = ""
    stream: bool = False
    interval: Duration = Duration(1.0, "1s")
    request_timeout: Duration = Duration(5.0, "5s")
    expect_status: int = 200
    slo: ProbeSlo = ProbeSlo()


@dataclass(frozen=True)
class Scenario:
    metadata: Metadata
    target: Target
    fault: Fault
    settings: Settings
    steps: tuple[StepBase, ...]
    path: str = ""  # the file it was loaded from ("" when built in code)
    api_version: str = "chaos/v1"
    probes: tuple[Probe, ...] = ()  # run in the background from before the first step to the end
