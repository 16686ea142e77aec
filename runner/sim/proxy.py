"""Where the `services/proxy` and `pods/proxy` subresources of the embedded API server send a request.

`services/{[scheme:]name[:port]}/proxy/...` resolves as kube-apiserver's ResourceLocation does: a port
number is turned into the Service port's name (503 `no service port N found for service "x"` when
none), then the legacy Endpoints object of the Service gives the Ready addresses for that port name
(404 when the Endpoints object does not exist, 503 `no endpoints available for service "x"` when no
address has the port; a bare name matches only an unnamed port, as upstream). Addresses are taken in
turn (round robin; upstream picks at random). `pods/{[scheme:]name[:port]}/proxy/...` goes to the pod's
IP and the given port, or its first containerPort.

Embedded pods all have 127.0.0.1 as IP and listen on the loopback host ports their
`chaos.dev/sim-ports` annotation records (containerPort -> host port; runner/sim/kubelet.py writes
it); the target is that host port when the map has the port, else the address as given. The error
texts for a target that cannot be reached are those of apimachinery's proxy transport (`error trying
to reach service: dial tcp ...: connect: connection refused`). It must not know about HTTP handlers.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass

from runner.errors import ClusterError, NotFound
from runner.sim.resources import ENDPOINTS, PODS, SERVICES
from runner.sim.store import Obj, Store

PORTS_ANNOTATION = "chaos.dev/sim-ports"


@dataclass(frozen=True)
class Target:
    scheme: str  # "http" or "https"
    host: str  # what is dialled
    port: int
    address: str  # how upstream names the endpoint (ip:port) in its errors


def unavailable(message: str) -> ClusterError:
    err = ClusterError(message, status=503, reason="ServiceUnavailable")
    err.status_details = {}  # type: ignore[attr-defined]  # upstream's NewServiceUnavailable has none
    return err


def split_scheme_name_port(segment: str) -> tuple[str, str, str] | None:
    """utilnet.SplitSchemeNamePort: `name`, `name:port` or `scheme:name:port` (scheme http/https/"")."""
    parts = segment.split(":")
    if len(parts) == 1:
        scheme, name, port = "", parts[0], ""
    elif len(parts) == 2:
        scheme, name, port = "", parts[0], parts[1]
    elif len(parts) == 3:
        scheme, name, port = parts
    else:
        return None
    if not name or scheme not in ("", "http", "https"):
        return None
    return scheme, name, port


def _port_map(pod: Obj | None) -> dict[str, int]:
    """A simulated pod's containerPort -> loopback host port map ({} when it has none)."""
    annotations = ((pod or {}).get("metadata") or {}).get("annotations") or {}
    try:
        return {str(k): int(v) for k, v in json.loads(annotations.get(PORTS_ANNOTATION) or "{}").items()}
    except (ValueError, AttributeError, TypeError):
        return {}


def _host_port(mapping: dict[str, int], ip: str, port: int) -> tuple[str, int]:
    """The loopback host port the simulated pod listens on for `port`, when its map has it."""
    if str(port) in mapping:
        return "127.0.0.1", mapping[str(port)]
    return ip, port


GONE_KEPT_S = 120.0  # how long the port map of a deleted pod is remembered


class Resolver:
    """Resolves proxy targets against the store; keeps the round-robin position per Service port.

    It remembers the port maps of pods deleted a moment ago: the store deletes a pod at once while
    its processes may still serve (a preStop sleep, the grace period) and the Endpoints object may
    still list it for a moment, so the proxy dials the port that pod really listens on, as
    upstream dials a terminating pod's IP."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._next: dict[tuple[str, str, str], int] = {}
        self._lock = threading.Lock()
        self._ports: dict[tuple[str, str, str], dict[str, int]] = {}  # (ns, pod, uid) -> port map
        self._gone: dict[tuple[str, str, str], float] = {}  # deleted pods: when
        store.add_listener(self._note)

    def _note(self, type_: str, gvr: object, obj: Obj) -> None:
        if gvr != PODS:
            return
        meta = obj.get("metadata") or {}
        key = (str(meta.get("namespace") or ""), str(meta.get("name") or ""), str(meta.get("uid") or ""))
        mapping = _port_map(obj)
        now = time.monotonic()
        with self._lock:
            if mapping:
                self._ports[key] = mapping
            if type_ == "DELETED":
                self._gone[key] = now
            for old in [k for k, at in self._gone.items() if now - at > GONE_KEPT_S]:
                self._gone.pop(old, None)
                self._ports.pop(old, None)

    def _ports_of(self, namespace: str, ref: Obj) -> dict[str, int]:
        """The port map of an endpoint's pod: as stored, or as remembered when it was just deleted."""
        if ref.get("kind") != "Pod" or not ref.get("name"):
            return {}
        ns = str(ref.get("namespace") or namespace)
        try:
            pod = self.store.get(PODS, ns, str(ref["name"]))
        except NotFound:
            pod = None
        if pod is not None and (not ref.get("uid") or pod["metadata"].get("uid") == ref.get("uid")):
            return _port_map(pod)
        with self._lock:
            return dict(self._ports.get((ns, str(ref["name"]), str(ref.get("uid") or "")), {}))

    def service(self, namespace: str, segment: str) -> Target:
        parsed = split_scheme_name_port(segment)
        if parsed is None:
            raise ClusterError(f'invalid service request "{segment}"', status=400, reason="BadRequest")
        scheme, name, port_name = parsed
        if port_name.isdigit():
            svc = self.store.get(SERVICES, namespace, name)
            match = next((p for p in (svc.get("spec") or {}).get("ports") or []
                          if p.get("port") == int(port_name)), None)
            if match is None:
                raise unavailable(f'no service port {int(port_name)} found for service "{name}"')
            port_name = str(match.get("name") or "")
        try:
            eps = self.store.get(ENDPOINTS, namespace, name)
        except NotFound:
            self.store.get(SERVICES, namespace, name)  # 404 for the Service first, like upstream's order
            raise
        candidates: list[tuple[Obj, int]] = []
        for subset in eps.get("subsets") or []:
            for p in subset.get("ports") or []:
                if str(p.get("name") or "") == port_name:
                    candidates.extend((a, int(p["port"])) for a in subset.get("addresses") or [])
        if not candidates:
            raise unavailable(f'no endpoints available for service "{name}"')
        with self._lock:
            key = (namespace, name, port_name)
            i = self._next.get(key, 0) % len(candidates)
            self._next[key] = i + 1
        address, port = candidates[i]
        ip = str(address.get("ip", ""))
        host, host_port = _host_port(self._ports_of(namespace, address.get("targetRef") or {}), ip, port)
        return Target(scheme or "http", host, host_port, f"{ip}:{port}")

    def pod(self, namespace: str, segment: str) -> Target:
        parsed = split_scheme_name_port(segment)
        if parsed is None:
            raise ClusterError(f'invalid pod request "{segment}"', status=400, reason="BadRequest")
        scheme, name, port_text = parsed
        pod = self.store.get(PODS, namespace, name)
        spec = pod.get("spec") or {}
        port: int | None = None
        if port_text.isdigit():
            port = int(port_text)
        elif port_text:  # a containerPort name (upstream would try to dial it as a service name)
            port = next((int(p["containerPort"]) for c in spec.get("containers") or []
                         for p in c.get("ports") or [] if p.get("name") == port_text), None)
            if port is None:
                raise ClusterError(f'invalid pod request "{segment}"', status=400, reason="BadRequest")
        else:
            port = next((int(c["ports"][0]["containerPort"]) for c in spec.get("containers") or []
                         if c.get("ports")), None)
        ip = str((pod.get("status") or {}).get("podIP") or "")
        if not ip:
            raise ClusterError("address not allowed", status=400, reason="BadRequest")
        port = port or (443 if scheme == "https" else 80)
        host, host_port = _host_port(_port_map(pod), ip, port)
        return Target(scheme or "http", host, host_port, f"{ip}:{port}")
