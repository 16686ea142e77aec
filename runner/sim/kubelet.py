"""The embedded cluster's kubelet: runs the pods bound to one node as real local processes.

One `Kubelet` per node (a thread) starts a `PodWorker` thread per pod. A worker prepares the pod's
volumes (runner/sim/volumes.py), allocates a loopback port per declared containerPort (given to the
container as `PORT` and `CHAOS_PORT_<containerPort>`, used by probes, recorded in the pod
annotation `chaos.dev/sim-ports`), runs the init containers in order, each to completion, then the
containers, each in its own process group under `chaos-init`, which ends everything the container
started when it exits or when the cluster's process dies (runner/sim/procs.py), with stdout+stderr
written to `<root>/logs/<ns>/<pod>/<container>/<restartCount>.log` (runner/sim/logs.py serves them).
A numeric probe port that no containerPort declares gets a loopback port too (the same way).

Restart policy Always/OnFailure/Never as in Kubernetes; a restart waits a CrashLoopBackOff delay of
10 s doubling to 300 s (the n-th consecutive restart waits min(10*2^(n-1), 300) s), reset when a
run lasted 10 minutes; every duration here (backoff, reset, grace period, probe delays and periods)
is multiplied by `time_scale` so a story that takes minutes on a real cluster takes seconds. Status
(phase, conditions, container states, restartCount, lastState) goes through the status subresource.
Deleting a pod runs its containers' `lifecycle.preStop` sleep actions (`sleep: {seconds: N}`, scaled,
within the grace period; the processes keep serving meanwhile), then SIGTERMs its process groups
and SIGKILLs them after what is left of the (scaled) grace period.
Each pod resyncs every sync period (60 s jittered by up to half, scaled; and when a container
restarts): its configMap and secret volumes are re-projected from the kubelet's object cache (TTL:
the node's `node.alpha.kubernetes.io/ttl` annotation, else 60 s, scaled), so an update reaches a
running container after up to sync period x 1.5 + TTL, as on a real node (runner/sim/volumes.py).
The environment: env/envFrom from ConfigMaps and Secrets (a missing one that is not optional
holds the container in CreateContainerConfigError), the downward API (fieldRef: metadata.name,
namespace, uid, labels['k'], annotations['k'], spec.nodeName, spec.serviceAccountName,
status.podIP(s), status.hostIP(s); resourceFieldRef), and `$(VAR)` expansion in env values (of
the variables before them) and in command/args, exactly as Kubernetes expands them.
GPUs: at admission the `DeviceManager` gives each container that requests `nvidia.com/gpu` specific
GPUs of the node (never one to two running containers; held until the pod has ended) and the
container gets `NVIDIA_VISIBLE_DEVICES=<their UUIDs>`, as from the NVIDIA device plugin; others get
`void`. Every container also gets the node's GPU table (`CHAOS_SIM_GPUS`, ...) for the fake CUDA
runtime, which reports the visible ones. A pod that asks for more GPUs than the node has fails with
UnexpectedAdmissionError. The assignment is published in the node's pod-resources file.
Not simulated: startup probes, resource limits, image pulls (runner/sim/images.py is the table),
ephemeral containers, pod-level restarts on spec changes.
It must not schedule pods or touch objects other than its own node's pods and its own Node (whose
GPU identity it publishes when missing, as the device plugin and GPU Feature Discovery do).
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import os
import random
import re
import shutil
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from runner.errors import ChaosError, ClusterError, Conflict, NotFound
from runner.sim import events, procs
from runner.sim.images import ImageError, WorkerBuild, launch
from runner.sim.logs import PodLogs
from runner.sim.loop import Loop
from runner.sim.nodes import (
    DEFAULT_PRODUCT,
    PRODUCT_LABEL,
    GpuDevice,
    gpus_of,
    node_dir,
    product_info,
    publish_gpus,
    write_pod_resources,
)
from runner.sim.podstatus import get_condition, set_condition
from runner.sim.resources import CONFIGMAPS, NODES, PODS
from runner.sim.scheduling import container_gpus, gpu_request
from runner.sim.store import Obj, Store, now_rfc3339
from runner.sim.volumes import SECRETS, ObjectCache, PathMap, VolumeError, prepare, refresh, subpath_snapshots

log = logging.getLogger(__name__)

PORTS_ANNOTATION = "chaos.dev/sim-ports"
POD_IP = "127.0.0.1"  # every pod and node of the embedded cluster is on loopback
TICK_S = 0.05
BACKOFF_START_S = 10.0
BACKOFF_MAX_S = 300.0
BACKOFF_RESET_S = 600.0
SYNC_PERIOD_S = 60.0  # the kubelet's --sync-frequency
SYNC_JITTER = 0.5  # each pod worker resyncs after wait.Jitter(period, 0.5): period * [1, 1.5)
CACHE_TTL_S = 60.0  # the kubelet's ConfigMap/Secret cache TTL when the node sets none
NODE_TTL_ANNOTATION = "node.alpha.kubernetes.io/ttl"  # where a node sets it (seconds)
CONFIG_ERROR_RETRY_S = 10.0  # a pod worker's back-off after a sync error


@dataclass(frozen=True)
class KubeletSettings:
    time_scale: float = 1.0  # multiplies every kubelet duration (backoff, grace, probe timings, sync)
    tick_s: float = TICK_S
    sync_period_s: float = SYNC_PERIOD_S
    cache_ttl_s: float | None = None  # None: the node's ttl annotation, else CACHE_TTL_S

    def scaled(self, seconds: float) -> float:
        return seconds * self.time_scale


class ConfigError(ChaosError):
    """A container's configuration cannot be built (a missing ConfigMap key for its env)."""


class AdmissionError(ChaosError):
    """The node can never run the pod (it asks for more GPUs than the node has)."""


VISIBLE_DEVICES = "NVIDIA_VISIBLE_DEVICES"
NO_DEVICES = "void"  # what containers without a GPU get (the NVIDIA container runtime: none mounted)


class DeviceManager:
    """The kubelet's device manager with the NVIDIA device plugin behind it: assigns specific GPUs
    of the node to each container that requests `nvidia.com/gpu`, at pod admission, and holds them
    until the pod has ended (its processes gone, or terminated), so no GPU is shared between
    running containers. Init containers reuse the pod's GPUs, as in Kubernetes. The assignment
    is published in the node's pod-resources file (runner/sim/nodes.py). Thread-safe."""

    def __init__(self, node_root: Path, gpus: list[GpuDevice]) -> None:
        self.node_root = node_root
        self.gpus = gpus
        self._lock = threading.Lock()
        self._owner: dict[int, str] = {}  # GPU index -> pod uid
        self._pods: dict[str, tuple[Obj, dict[str, list[GpuDevice]]]] = {}  # uid -> (meta, per container)
        self._publish()

    def admit(self, pod: Obj) -> dict[str, list[GpuDevice]] | None:
        """Container name -> its GPUs; None while too few are free (a pod still ending holds its
        own), AdmissionError when the node could never satisfy the pod."""
        uid = str(pod["metadata"]["uid"])
        need = gpu_request(pod)
        with self._lock:
            if uid in self._pods:
                return self._pods[uid][1]
            if need > len(self.gpus):
                raise AdmissionError(f"Allocate failed due to requested number of devices unavailable for "
                                     f"nvidia.com/gpu. Requested: {need}, Available: {len(self.gpus)}, "
                                     "which is unexpected")
            free = [g for g in self.gpus if g.index not in self._owner]
            if len(free) < need:
                return None
            pool = free[:need]
            for g in pool:
                self._owner[g.index] = uid
            spec = pod.get("spec") or {}
            per: dict[str, list[GpuDevice]] = {}
            at = 0
            for c in spec.get("containers") or []:
                n = container_gpus(c)
                per[str(c.get("name", ""))] = pool[at:at + n]
                at += n
            for c in spec.get("initContainers") or []:
                per[str(c.get("name", ""))] = pool[:container_gpus(c)]
            meta = pod["metadata"]
            self._pods[uid] = ({"name": meta["name"], "namespace": meta["namespace"], "uid": uid}, per)
        self._publish()
        return per

    def release(self, uid: str) -> None:
        with self._lock:
            if self._pods.pop(uid, None) is None:
                return
            for index in [i for i, owner in self._owner.items() if owner == uid]:
                del self._owner[index]
        self._publish()

    def _publish(self) -> None:
        with self._lock:
            pods = [{**meta, "containers": [
                {"name": name, "devices": [{"resource_name": "nvidia.com/gpu",
                                             "device_ids": [g.uuid for g in gpus]}] if gpus else []}
                for name, gpus in per.items()]} for meta, per in self._pods.values()]
            try:
                write_pod_resources(self.node_root, pods)
            except OSError:
                log.warning("cannot write the pod-resources file under %s", self.node_root, exc_info=True)


def free_port() -> int:
    """A loopback port nobody listens on right now (the container binds it shortly after)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def backoff_delay(consecutive: int) -> float:
    """Seconds (unscaled) before the n-th consecutive restart."""
    if consecutive <= 0:
        return 0.0
    return min(BACKOFF_START_S * float(2 ** (consecutive - 1)), BACKOFF_MAX_S)


def container_ports(spec: Obj) -> list[int]:
    """Declared containerPorts, then numeric probe ports not declared (a server listens on them too)."""
    ports = [int(p.get("containerPort", 0)) for p in spec.get("ports") or [] if p.get("containerPort")]
    for key in ("readinessProbe", "livenessProbe", "startupProbe"):
        probe = spec.get(key) or {}
        port = (probe.get("httpGet") or probe.get("tcpSocket") or {}).get("port")
        if isinstance(port, str) and port.isdigit():
            port = int(port)
        if isinstance(port, int) and port not in ports:
            ports.append(port)
    return ports


def expand(text: str, env: dict[str, str]) -> str:
    """Kubernetes `$(VAR)` expansion (k8s.io/kubernetes third_party/forked/golang/expansion):
    `$(NAME)` becomes NAME's value, or stays as written when NAME is not defined; `$$` is one `$`
    (so `$$(NAME)` is the literal `$(NAME)`); any other `$` and an unclosed `$(` stay as written."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch != "$" or i + 1 >= n:
            out.append(ch)
            i += 1
            continue
        nxt = text[i + 1]
        if nxt == "$":
            out.append("$")
            i += 2
        elif nxt == "(":
            close = text.find(")", i + 2)
            if close < 0:
                out.append("$(")
                i += 2
            else:
                name = text[i + 2:close]
                out.append(env.get(name, f"$({name})"))
                i = close + 1
        else:
            out.append("$" + nxt)
            i += 2
    return "".join(out)


def _string_data(gvr: Any, obj: Obj) -> dict[str, str]:
    """A ConfigMap's `data` or a Secret's decoded `data`, as environment values."""
    if gvr != SECRETS:
        return {k: str(v) for k, v in (obj.get("data") or {}).items()}
    out: dict[str, str] = {}
    for k, v in (obj.get("data") or {}).items():
        try:
            out[k] = base64.b64decode(str(v)).decode(errors="replace")
        except (binascii.Error, ValueError):
            continue
    out.update({k: str(v) for k, v in (obj.get("stringData") or {}).items()})
    return out


_SUFFIXES = {"": Decimal(1), "m": Decimal("0.001"), "k": Decimal(10**3), "M": Decimal(10**6),
             "G": Decimal(10**9), "T": Decimal(10**12), "P": Decimal(10**15), "E": Decimal(10**18),
             "Ki": Decimal(2**10), "Mi": Decimal(2**20), "Gi": Decimal(2**30), "Ti": Decimal(2**40),
             "Pi": Decimal(2**50), "Ei": Decimal(2**60)}
NODE_ALLOCATABLE = {"cpu": "64", "memory": "1056Gi", "ephemeral-storage": "1Ti"}  # as nodes register


def quantity(text: str) -> Decimal:
    """A Kubernetes quantity (`500m`, `2Gi`, `1e3`) as an exact number; ValueError when it is not one."""
    m = re.fullmatch(r"([+-]?[0-9.]+(?:[eE][+-]?[0-9]+)?)([a-zA-Z]*)", text.strip())
    if not m or m.group(2) not in _SUFFIXES:
        raise ValueError(f"not a quantity: {text!r}")
    try:
        return Decimal(m.group(1)) * _SUFFIXES[m.group(2)]
    except InvalidOperation as exc:
        raise ValueError(f"not a quantity: {text!r}") from exc


def resource_value(container: Obj, ref: Obj) -> str | None:
    """The downward API's resourceFieldRef: `limits.cpu`, `requests.memory`, ... divided by
    `divisor` and rounded up, as the kubelet does; a limit not set reads as the node's
    allocatable, a request not set as its limit (or 0)."""
    kind, _, resource = str(ref.get("resource") or "").partition(".")
    if kind not in ("limits", "requests") or not resource:
        return None
    res = container.get("resources") or {}
    value = (res.get(kind) or {}).get(resource)
    if value is None and kind == "requests":
        value = (res.get("limits") or {}).get(resource, "0")
    if value is None:
        value = NODE_ALLOCATABLE.get(resource)
    if value is None:
        return None
    try:
        divisor = quantity(str(ref.get("divisor") or "1"))
        if not divisor:
            return None
        return str(int((quantity(str(value)) / divisor).to_integral_value(ROUND_CEILING)))
    except ValueError:
        return None


@dataclass
class Probe:
    spec: Obj
    successes: int = 0
    failures: int = 0
    next_at: float = 0.0


TERMINATION_MESSAGE_BYTES = 2048  # the kubelet's limits for FallbackToLogsOnError
TERMINATION_MESSAGE_LINES = 80


@dataclass
class Container:
    spec: Obj
    init: bool
    proc: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    started_ts: str = ""
    restart_count: int = 0
    consecutive: int = 0
    next_start: float = 0.0
    state: Obj = field(default_factory=lambda: {"waiting": {"reason": "ContainerCreating"}})
    last_state: Obj = field(default_factory=dict)
    ready: bool = False
    done: bool = False  # terminated and will not restart
    exit_code: int | None = None
    readiness: Probe | None = None
    liveness: Probe | None = None
    ports: dict[int, int] = field(default_factory=dict)  # containerPort -> host port
    pmap: PathMap | None = None  # the mounts as this run of the container saw them at its start

    @property
    def name(self) -> str:
        return str(self.spec.get("name", ""))


class PodWorker:
    """Runs one pod until it is deleted or the kubelet stops."""

    def __init__(self, kubelet: Kubelet, pod: Obj) -> None:
        self.k = kubelet
        self.pod = pod
        meta = pod["metadata"]
        self.ns = str(meta["namespace"])
        self.name = str(meta["name"])
        self.uid = str(meta["uid"])
        self.dir = kubelet.root / "pods" / f"{self.ns}_{self.name}_{self.uid}"
        spec = pod.get("spec") or {}
        self.policy = str(spec.get("restartPolicy") or "Always")
        self.grace = float(spec.get("terminationGracePeriodSeconds", 30) or 0)
        self.inits = [Container(c, True) for c in spec.get("initContainers") or []]
        self.mains = [Container(c, False) for c in spec.get("containers") or []]
        self.volumes: dict[str, Path] | None = None
        self.volume_error = ""
        self.next_volume_try = 0.0
        self.next_sync = 0.0  # the periodic pod sync: configMap/secret volumes are re-projected
        self.failed_init = False
        self.gpus: dict[str, list[GpuDevice]] | None = None  # container -> its GPUs, once admitted
        self.rejected = ""  # why the node cannot run the pod (phase Failed)
        self.start_ts = now_rfc3339()
        self.deleted = threading.Event()
        self.stopping = threading.Event()
        self._written: Obj | None = None
        self.thread = threading.Thread(target=self._run, name=f"chaos-sim-pod-{self.name}", daemon=True)

    # --- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        self.thread.start()

    def _run(self) -> None:
        try:
            try:
                self._setup_ports()
            except (NotFound, Conflict):
                # deleted (or replaced under the same name) before its worker started, e.g. by a
                # rollback right after a rollout: nothing to run, and no traceback for the user
                self.deleted.set()
                return
            while not self.deleted.is_set() and not self.stopping.is_set():
                try:
                    self._step()
                    self._write_status()
                except ClusterError:  # a transient API error must not tear the pod's processes down
                    log.warning("pod worker %s/%s: retrying after an API error", self.ns, self.name,
                                exc_info=True)
                self.deleted.wait(self.k.settings.tick_s)
        except Exception:
            log.exception("pod worker %s/%s failed", self.ns, self.name)
        finally:
            # Stopping the cluster is not a deletion: do not wait out long grace periods.
            grace = self.k.settings.scaled(self.grace)
            if self.stopping.is_set():
                grace = min(grace, 1.0)
            else:
                grace -= self._pre_stop(grace)
            self._kill_all(max(grace, 0.0))
            self.k.devices.release(self.uid)
            if self.deleted.is_set():
                shutil.rmtree(self.dir, ignore_errors=True)

    def _pre_stop(self, grace: float) -> float:
        """A deleted pod's `lifecycle.preStop` sleep actions (the native `sleep: {seconds: N}`),
        before any SIGTERM and within the grace period, as the kubelet runs them: the containers
        keep serving meanwhile, so callers whose endpoints have not caught up yet still get an
        answer. Returns the (scaled) seconds waited."""
        seconds = 0.0
        for c in self.mains:
            if c.proc is None or c.proc.poll() is not None:
                continue
            sleep = (((c.spec.get("lifecycle") or {}).get("preStop") or {}).get("sleep") or {})
            try:
                seconds = max(seconds, float(sleep.get("seconds") or 0))
            except (TypeError, ValueError):
                continue
        wait = min(self.k.settings.scaled(seconds), max(grace, 0.0))
        if wait <= 0:
            return 0.0
        started = time.monotonic()
        self.stopping.wait(wait)  # stopping the cluster cuts it short
        return time.monotonic() - started

    def _kill_all(self, grace: float) -> None:
        for c in self.inits + self.mains:
            if c.proc is not None:
                procs.end_group(c.proc, grace)
                c.proc = None

    # --- ports -----------------------------------------------------------------------------

    def _setup_ports(self) -> None:
        mapping: dict[str, int] = {}
        existing = (self.pod["metadata"].get("annotations") or {}).get(PORTS_ANNOTATION)
        try:
            known = {str(k): int(v) for k, v in json.loads(existing).items()} if existing else {}
        except (ValueError, AttributeError):
            known = {}
        for c in self.inits + self.mains:
            for cp in container_ports(c.spec):
                host = known.get(str(cp)) or mapping.get(str(cp)) or free_port()
                mapping[str(cp)] = host
                c.ports[cp] = host
        if mapping and mapping != known:
            self.k.store.patch(PODS, self.ns, self.name, "application/merge-patch+json",
                               {"metadata": {"uid": self.uid,
                                             "annotations": {PORTS_ANNOTATION: json.dumps(mapping)}}})

    # --- the state machine -----------------------------------------------------------------

    def _step(self) -> None:
        now = time.monotonic()
        if self.rejected:
            return
        if self.gpus is None:
            try:
                self.gpus = self.k.devices.admit(self.pod)
            except AdmissionError as exc:
                self.rejected = str(exc)
                self._event("UnexpectedAdmissionError", str(exc), "Warning")
                return
            if self.gpus is None:
                return  # the GPUs it needs are still held by a pod that is ending
        if self.volumes is None:
            if now < self.next_volume_try:
                return
            try:
                self.volumes = prepare(self.k.store, self.pod, self.dir, node_dir(self.k.root, self.k.node),
                                       self.k.cache)
                self.volume_error = ""
                self.next_sync = now + self._sync_interval()
            except VolumeError as exc:
                if str(exc) != self.volume_error:
                    self._event("FailedMount", str(exc), "Warning")
                self.volume_error = str(exc)
                self.next_volume_try = now + 1.0
                return
        if now >= self.next_sync:
            self._sync_volumes()
            self.next_sync = now + self._sync_interval()
        if self.failed_init:
            return
        for c in self.inits:
            if c.done and c.exit_code == 0:
                continue
            self._drive(c, now)
            return  # init containers run one at a time, in order
        for c in self.mains:
            self._drive(c, now)

    def _sync_interval(self) -> float:
        """Seconds to the pod's next periodic sync, jittered as the kubelet's pod workers are."""
        period = self.k.settings.scaled(self.k.settings.sync_period_s)
        return period * (1.0 + SYNC_JITTER * random.random())  # noqa: S311 - timing jitter, not security

    def _sync_volumes(self) -> None:
        """What a pod sync does to its volumes: configMap and secret content is re-projected
        (through the kubelet's object cache); subPath mounts keep what their container started with."""
        assert self.volumes is not None
        _, errors = refresh(self.k.cache, self.pod, self.volumes)
        for error in errors:
            if error != self.volume_error:
                self._event("FailedMount", error, "Warning")
            self.volume_error = error

    def _drive(self, c: Container, now: float) -> None:
        if c.done:
            return
        if c.proc is None:
            if now >= c.next_start:
                self._start(c, now)
            return
        code = c.proc.poll()
        if code is None:
            self._probe(c, now)
            return
        self._exited(c, code, now)

    def _start(self, c: Container, now: float) -> None:
        assert self.volumes is not None
        try:
            image_launch = launch(c.spec, self.k.build)
        except ImageError as exc:
            if c.state.get("waiting", {}).get("message") != str(exc):
                self._event("Failed", f"Failed to pull image \"{c.spec.get('image')}\": {exc}", "Warning")
            c.state = {"waiting": {"reason": exc.reason, "message": str(exc)}}
            c.next_start = now + 5.0
            return
        if c.restart_count:
            self._sync_volumes()  # a container's exit syncs its pod, as the kubelet's PLEG does
        try:
            snapshots = subpath_snapshots(self.pod, c.spec, self.volumes, self.dir)
            pmap = PathMap.build(c.spec, self.volumes, snapshots)
            env = self._env(c, image_launch.path_prefix, pmap)
        except (ConfigError, OSError) as exc:
            if c.state.get("waiting", {}).get("message") != str(exc):
                self._event("Failed", f"Error: {exc}", "Warning")
            c.state = {"waiting": {"reason": "CreateContainerConfigError", "message": str(exc)}}
            c.next_start = now + self.k.settings.scaled(CONFIG_ERROR_RETRY_S)
            return
        c.pmap = pmap
        argv = [pmap.apply(expand(a, env)) for a in image_launch.argv]
        workdir = c.spec.get("workingDir")
        cwd = Path(pmap.apply(str(workdir))) if workdir else self.dir
        if not cwd.is_dir():
            cwd = self.dir
        self.dir.mkdir(parents=True, exist_ok=True)
        log_path = self.k.logs.path(self.ns, self.name, c.name, c.restart_count)
        try:
            c.proc = procs.spawn(argv, env, cwd, log_path, init=self.k.init())
        except OSError as exc:
            with log_path.open("ab") as fh:
                fh.write(f"chaos-sim: cannot start {argv[0]!r}: {exc}\n".encode())
            c.state = {"waiting": {"reason": "RunContainerError", "message": str(exc)}}
            self._exited(c, 128, now, started=False)
            return
        c.started_at = now
        c.started_ts = now_rfc3339()
        c.state = {"running": {"startedAt": c.started_ts}}
        rp = c.spec.get("readinessProbe")
        lp = c.spec.get("livenessProbe")
        scaled = self.k.settings.scaled
        c.readiness = Probe(rp, next_at=now + scaled(float(rp.get("initialDelaySeconds", 0)))) if rp else None
        c.liveness = Probe(lp, next_at=now + scaled(float(lp.get("initialDelaySeconds", 0)))) if lp else None
        c.ready = rp is None and not c.init
        self._event("Started", f"Started container {c.name}")

    def _termination_message(self, c: Container, code: int) -> str:
        """`terminationMessagePolicy: FallbackToLogsOnError`, as the kubelet does it: a container
        that failed and wrote no termination file gets its log's tail (80 lines, 2 KiB at most) as
        `terminated.message`, so the reason survives in the pod status after the logs are gone."""
        if code == 0 or c.spec.get("terminationMessagePolicy") != "FallbackToLogsOnError":
            return ""
        path = self.k.logs.path(self.ns, self.name, c.name, c.restart_count)
        try:
            data = path.read_bytes()[-TERMINATION_MESSAGE_BYTES:]
        except OSError:
            return ""
        lines = data.decode("utf-8", "replace").splitlines()[-TERMINATION_MESSAGE_LINES:]
        return "\n".join(lines)

    def _exited(self, c: Container, code: int, now: float, started: bool = True) -> None:
        if c.proc is not None:
            procs.reap(c.proc)
            c.proc = None
        if code < 0:  # killed by a signal: report as a shell would
            code = 128 - code
        term = {"exitCode": code, "reason": "Completed" if code == 0 else "Error",
                "startedAt": c.started_ts or now_rfc3339(), "finishedAt": now_rfc3339(),
                "containerID": f"chaos-sim://{self.uid[:8]}-{c.name}-{c.restart_count}"}
        message = self._termination_message(c, code)
        if message:
            term["message"] = message
        c.ready = False
        c.exit_code = code
        restart = self.policy == "Always" or (self.policy == "OnFailure" and code != 0)
        if c.init:
            restart = code != 0 and self.policy != "Never"
            if code != 0 and self.policy == "Never":
                self.failed_init = True
        if not restart:
            c.state = {"terminated": term}
            c.done = True
            return
        if started and now - c.started_at >= self.k.settings.scaled(BACKOFF_RESET_S):
            c.consecutive = 0
        c.consecutive += 1
        delay = self.k.settings.scaled(backoff_delay(c.consecutive))
        c.last_state = {"terminated": term}
        c.restart_count += 1
        c.next_start = now + delay
        c.state = {"waiting": {"reason": "CrashLoopBackOff",
                               "message": f"back-off {backoff_delay(c.consecutive):.0f}s restarting failed "
                                          f"container={c.name} pod={self.name}_{self.ns}({self.uid})"}}
        if code != 0:
            self._event("BackOff", "Back-off restarting failed container", "Warning")

    # --- probes ----------------------------------------------------------------------------

    def _probe(self, c: Container, now: float) -> None:
        for probe, kind in ((c.readiness, "Readiness"), (c.liveness, "Liveness")):
            if probe is None or now < probe.next_at:
                continue
            spec = probe.spec
            probe.next_at = now + self.k.settings.scaled(float(spec.get("periodSeconds", 10)))
            ok, why = self._run_probe(c, spec)
            if ok:
                probe.successes += 1
                probe.failures = 0
            else:
                probe.failures += 1
                probe.successes = 0
            if kind == "Readiness":
                if ok and probe.successes >= int(spec.get("successThreshold", 1)):
                    c.ready = True
                elif not ok and probe.failures >= int(spec.get("failureThreshold", 3)):
                    c.ready = False
                if not ok and c.ready is False and probe.failures == 1:
                    self._event("Unhealthy", f"Readiness probe failed: {why}", "Warning")
            elif not ok and probe.failures >= int(spec.get("failureThreshold", 3)):
                self._event("Unhealthy", f"Liveness probe failed: {why}", "Warning")
                self._event("Killing", f"Container {c.name} failed liveness probe, will be restarted")
                if c.proc is not None:
                    code = procs.end_group(c.proc, self.k.settings.scaled(self.grace))
                    c.proc = None
                    self._exited(c, code if code is not None else 137, now)
                return

    def _run_probe(self, c: Container, spec: Obj) -> tuple[bool, str]:
        timeout = max(float(spec.get("timeoutSeconds", 1)), 0.2)
        if "httpGet" in spec:
            http = spec["httpGet"] or {}
            port = self._port_of(c, http.get("port"))
            if port is None:
                return False, f"unknown port {http.get('port')!r}"
            path = str(http.get("path") or "/")
            url = f"http://127.0.0.1:{port}{path if path.startswith('/') else '/' + path}"
            try:
                with urllib.request.urlopen(url, timeout=timeout) as resp:
                    return 200 <= resp.status < 400, f"HTTP probe failed with statuscode: {resp.status}"
            except urllib.error.HTTPError as exc:
                return False, f"HTTP probe failed with statuscode: {exc.code}"
            except (OSError, ValueError) as exc:
                return False, f'Get "{url}": {exc}'
        if "tcpSocket" in spec:
            port = self._port_of(c, (spec["tcpSocket"] or {}).get("port"))
            if port is None:
                return False, "unknown port"
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=timeout):
                    return True, ""
            except OSError as exc:
                return False, str(exc)
        if "exec" in spec:
            assert self.volumes is not None
            pmap = c.pmap or PathMap.build(c.spec, self.volumes)
            try:
                env = self._env(c, (), pmap)
            except ConfigError as exc:
                return False, str(exc)
            argv = [pmap.apply(expand(str(a), env)) for a in (spec["exec"] or {}).get("command") or []]
            if not argv:
                return False, "no command"
            try:
                code, out = procs.run(argv, env, self.dir, timeout, init=self.k.init())
            except (OSError, subprocess.TimeoutExpired) as exc:
                return False, str(exc)
            return code == 0, out.decode(errors="replace").strip()
        return True, ""

    @staticmethod
    def _port_of(c: Container, port: Any) -> int | None:
        if isinstance(port, str) and not port.isdigit():
            for p in c.spec.get("ports") or []:
                if p.get("name") == port:
                    port = p.get("containerPort")
                    break
            else:
                return None
        try:
            number = int(port)
        except (TypeError, ValueError):
            return None
        return c.ports.get(number, number)

    # --- environment -----------------------------------------------------------------------

    def _env(self, c: Container, path_prefix: tuple[str, ...], pmap: PathMap) -> dict[str, str]:
        host_path = os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin")
        env: dict[str, str] = {
            "PATH": os.pathsep.join([*path_prefix, host_path]),
            "HOME": str(self.dir),
            "HOSTNAME": self.name,
            "LANG": os.environ.get("LANG", "C.UTF-8"),
            "KUBERNETES_SERVICE_HOST": "127.0.0.1",
        }
        env.update(self.k.driver_env)
        if c.ports:
            first = next(iter(c.ports.values()))
            env["PORT"] = str(first)
            for cp, hp in c.ports.items():
                env[f"CHAOS_PORT_{cp}"] = str(hp)
        for src in c.spec.get("envFrom") or []:
            for key, gvr, word in (("configMapRef", CONFIGMAPS, "configmap"),
                                   ("secretRef", SECRETS, "secret")):
                ref = src.get(key) or {}
                if not ref.get("name"):
                    continue
                obj = self._object(gvr, word, str(ref["name"]), bool(ref.get("optional")))
                if obj is None:
                    continue
                prefix = str(src.get("prefix") or "")
                env.update({prefix + k: v for k, v in _string_data(gvr, obj).items()})
        for e in c.spec.get("env") or []:
            name = str(e.get("name", ""))
            if e.get("valueFrom"):
                value = self._value_from(c, e["valueFrom"])
                if value is not None:
                    env[name] = value
            else:  # `value`, expanded with the variables defined before it
                env[name] = pmap.apply(expand(str(e.get("value") or ""), env))
        gpus = (self.gpus or {}).get(c.name) or []
        if gpus:  # the device plugin's Allocate answer: these GPUs, whatever the spec says
            env[VISIBLE_DEVICES] = ",".join(g.uuid for g in gpus)
        else:
            env.setdefault(VISIBLE_DEVICES, NO_DEVICES)
        return env

    def _object(self, gvr: Any, word: str, name: str, optional: bool) -> Obj | None:
        """A ConfigMap or Secret for the environment (through the kubelet's cache); None when it is
        absent and optional, ConfigError (CreateContainerConfigError) when it is absent."""
        try:
            return self.k.cache.get(gvr, self.ns, name)
        except NotFound as exc:
            if optional:
                return None
            raise ConfigError(f'{word} "{name}" not found') from exc

    def _value_from(self, c: Container, src: Obj) -> str | None:
        """`valueFrom`: the downward API (fieldRef, resourceFieldRef), configMapKeyRef, secretKeyRef."""
        field_ref = (src.get("fieldRef") or {}).get("fieldPath")
        if field_ref:
            return self._field(str(field_ref))
        resource_ref = src.get("resourceFieldRef")
        if resource_ref:
            return resource_value(c.spec, resource_ref)
        for key, gvr, word, kind in (("configMapKeyRef", CONFIGMAPS, "configmap", "ConfigMap"),
                                     ("secretKeyRef", SECRETS, "secret", "Secret")):
            ref = src.get(key)
            if not ref:
                continue
            optional = bool(ref.get("optional"))
            obj = self._object(gvr, word, str(ref.get("name")), optional)
            if obj is None:
                return None
            value = _string_data(gvr, obj).get(str(ref.get("key")))
            if value is None and not optional:
                raise ConfigError(f"couldn't find key {ref.get('key')} in {kind} {self.ns}/{ref.get('name')}")
            return value
        return None

    def _field(self, path: str) -> str | None:
        """The downward API's fieldRef paths a container's env may use."""
        meta = self.pod.get("metadata") or {}
        m = re.fullmatch(r"metadata\.(labels|annotations)\['([^']*)'\]", path)
        if m:
            value = (meta.get(m.group(1)) or {}).get(m.group(2))
            return None if value is None else str(value)
        values = {"metadata.name": self.name, "metadata.namespace": self.ns, "metadata.uid": self.uid,
                  "spec.nodeName": self.k.node, "status.podIP": POD_IP, "status.podIPs": POD_IP,
                  "status.hostIP": POD_IP, "status.hostIPs": POD_IP,
                  "spec.serviceAccountName": str((self.pod.get("spec") or {}).get("serviceAccountName")
                                                 or "default")}
        return values.get(path)

    # --- status ----------------------------------------------------------------------------

    def _event(self, reason: str, message: str, type_: str = "Normal") -> None:
        events.emit(self.k.store, self.pod, reason, message, "kubelet", type_, host=self.k.node)

    def _container_status(self, c: Container) -> Obj:
        image = str(c.spec.get("image", ""))
        out: Obj = {"name": c.name, "image": image, "imageID": f"chaos-sim://{image}",
                    "ready": c.ready, "restartCount": c.restart_count, "state": dict(c.state),
                    "lastState": dict(c.last_state), "started": c.proc is not None}
        if c.proc is not None:
            out["containerID"] = f"chaos-sim://{self.uid[:8]}-{c.name}-{c.restart_count}"
        return out

    def _phase(self) -> str:
        if self.failed_init or self.rejected:
            return "Failed"
        if any(not (c.done and c.exit_code == 0) for c in self.inits):
            return "Pending"
        if all(c.done for c in self.mains):
            return "Succeeded" if all(c.exit_code == 0 for c in self.mains) else "Failed"
        if all(c.proc is not None or c.restart_count > 0 or c.done for c in self.mains):
            return "Running"
        return "Pending"

    def _status(self) -> Obj:
        inits_done = all(c.done and c.exit_code == 0 for c in self.inits)
        if not inits_done:
            for c in self.mains:
                if c.proc is None and not c.restart_count:
                    c.state = {"waiting": {"reason": "PodInitializing"}}
        all_ready = inits_done and all(c.ready for c in self.mains)
        phase = self._phase()
        if phase in ("Succeeded", "Failed"):
            self.k.devices.release(self.uid)  # a terminated pod holds no devices
        extra = {"reason": "UnexpectedAdmissionError", "message": self.rejected} if self.rejected else {}
        return {
            **extra,
            "phase": phase,
            "hostIP": "127.0.0.1", "hostIPs": [{"ip": "127.0.0.1"}],
            "podIP": POD_IP, "podIPs": [{"ip": POD_IP}],
            "startTime": self.start_ts,
            "initContainerStatuses": [self._container_status(c) for c in self.inits],
            "containerStatuses": [self._container_status(c) for c in self.mains],
            "_conditions": {
                "Initialized": "True" if inits_done else "False",
                "ContainersReady": "True" if all_ready else "False",
                "Ready": "True" if all_ready else "False",
            },
        }

    def _write_status(self) -> None:
        st = self._status()
        if st == self._written:
            return
        for _ in range(5):
            try:
                current = self.k.store.get(PODS, self.ns, self.name)
            except NotFound:
                self.deleted.set()
                return
            if current["metadata"]["uid"] != self.uid:
                self.deleted.set()
                return
            status = current.setdefault("status", {})
            for key, value in st.items():
                if key == "_conditions":
                    continue
                if key == "initContainerStatuses" and not value:
                    status.pop(key, None)
                    continue
                status[key] = value
            for type_, value in st["_conditions"].items():
                reason = "" if value == "True" else (
                    "PodCompleted" if status["phase"] in ("Succeeded", "Failed") else
                    "ContainersNotInitialized" if type_ == "Initialized" else "ContainersNotReady")
                set_condition(status, type_, value, reason)
            order = ["PodScheduled", "Initialized", "ContainersReady", "Ready"]
            status["conditions"] = sorted(status.get("conditions") or [],
                                          key=lambda x: order.index(x["type"]) if x["type"] in order else 9)
            if get_condition(status, "PodScheduled") is None:
                set_condition(status, "PodScheduled", "True")
            try:
                self.k.store.update(PODS, current, subresource="status")
                self._written = st
                return
            except ClusterError as exc:
                if exc.status != 409:
                    raise


class Kubelet(Loop):
    """Keeps a PodWorker running for every pod bound to `node`."""

    watches = (PODS,)

    def __init__(self, store: Store, logs: PodLogs, root: Path, node: str, build: WorkerBuild,
                 settings: KubeletSettings | None = None) -> None:
        super().__init__(store)
        self.name = f"kubelet-{node}"
        self.logs = logs
        self.root = Path(root)
        self.node = node
        self.build = build
        self.settings = settings or KubeletSettings()
        self.workers: dict[str, PodWorker] = {}
        self._lock = threading.Lock()
        self._init: Path | None = None
        self._init_checked = False
        self.cache = ObjectCache(store, self.settings.scaled(self._cache_ttl()))
        node_root = node_dir(self.root, node)
        node_root.mkdir(parents=True, exist_ok=True)
        node_obj = self._publish_node()
        gpus = gpus_of(node_obj) if node_obj is not None else []
        self.devices = DeviceManager(node_root, gpus)
        product = str(((node_obj or {}).get("metadata", {}).get("labels") or {}).get(PRODUCT_LABEL)
                      or DEFAULT_PRODUCT)
        info = product_info(product)
        # What the node's driver knows, for the fake CUDA runtime (images/fake_cudart.c): every GPU
        # of the node; NVIDIA_VISIBLE_DEVICES then says which ones a container sees.
        self.driver_env = {"CHAOS_SIM_GPUS": ",".join(f"{g.uuid}@{g.pci_bus_id}" for g in gpus),
                           "CHAOS_SIM_GPU_NAME": product.replace("-", " "),
                           "CHAOS_SIM_GPU_MEMORY_MIB": str(info.memory_mib),
                           "CHAOS_SIM_GPU_CC": f"{info.compute[0]}.{info.compute[1]}"}

    def _publish_node(self) -> Obj | None:
        """The node's GPU identity, published if missing (the device plugin and GFD's part)."""
        try:
            publish_gpus(self.store, self.node)
            return self.store.get(NODES, None, self.node)
        except ClusterError:
            return None

    def _cache_ttl(self) -> float:
        """The object cache's TTL: the settings', else the node's ttl annotation (which the
        TTL controller sets on real clusters), else the kubelet's default of one minute."""
        if self.settings.cache_ttl_s is not None:
            return self.settings.cache_ttl_s
        try:
            node = self.store.get(NODES, None, self.node)
            return float((node["metadata"].get("annotations") or {})[NODE_TTL_ANNOTATION])
        except (NotFound, KeyError, ValueError):
            return CACHE_TTL_S

    def init(self) -> Path | None:
        """chaos-init (runner/sim/procs.py), built once; None (with one warning) when it cannot be:
        containers then run without the guard that ends them if the cluster's process dies."""
        with self._lock:
            if not self._init_checked:
                self._init_checked = True
                try:
                    self._init = self.build.init_path()
                except ImageError as exc:
                    log.warning("%s: containers will not die with a killed cluster: %s", self.name, exc)
            return self._init

    def reconcile(self) -> None:
        pods, _ = self.store.list(PODS, field_selector=f"spec.nodeName={self.node}")
        seen = set()
        with self._lock:
            if self.stopping:
                return
            for pod in pods:
                uid = pod["metadata"]["uid"]
                seen.add(uid)
                if uid not in self.workers:
                    worker = PodWorker(self, pod)
                    self.workers[uid] = worker
                    worker.start()
            for uid, worker in list(self.workers.items()):
                if uid not in seen:
                    worker.deleted.set()
                if not worker.thread.is_alive():
                    del self.workers[uid]

    def stop(self) -> None:
        super().stop()
        with self._lock:
            workers = list(self.workers.values())
            self.workers.clear()
        for w in workers:
            w.stopping.set()
            w.deleted.set()
        for w in workers:
            w.thread.join(timeout=30)
