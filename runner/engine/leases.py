"""One run per target, proven by the cluster: `coordination.k8s.io/v1` Leases on the workload and
the nodes a run touches, taken before its first change, renewed while it lives, released at the end.

Why it exists: two runs on one workload corrupt it (the second journals the first one's patched
template as its "original"), and two runs on one node share its toggle file. A Lease is created
(409: someone holds it), never assumed. Expiry is judged without comparing clocks across machines:
a lease whose `renewTime` does not change for its whole duration, as timed here, is expired; one
that changes is alive. An expired lease whose run left undone changes is not taken over (its
journal must be recovered first). Leases live in the state namespace beside the journals.
Renewals run in the background with a short deadline of their own (RENEW_DEADLINE_S for all of
them): a slow or frozen API server costs a missed renewal, never a renewer that holds the run.

This module never imports a step kind or the kubernetes client.
"""

from __future__ import annotations

import hashlib
import socket
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from runner.cluster.deadline import until
from runner.cluster.protocol import Cluster, KubeObject, ObjectRef
from runner.errors import ClusterError, Conflict, NotFound, PreflightError
from runner.kernel.clock import Clock, Repeating
from runner.kernel.labels import ROLE_LABEL, run_labels
from runner.kernel.step import JsonValue

LEASE_API = "coordination.k8s.io/v1"
LEASE_SECONDS = 30  # a dead run's lease lapses this long after its last renewal
RENEW_EVERY_S = LEASE_SECONDS / 3
RENEW_DEADLINE_S = 5.0  # one round of renewals; stopping the renewer waits at most this long
HOST_ANNOTATION = "chaos.dev/host"
STARTED_ANNOTATION = "chaos.dev/started-at"
TARGET_ANNOTATION = "chaos.dev/target"


class TargetHeld(PreflightError):
    """Another run holds the target (or left it changed): this run refuses and changes nothing."""


def micro_time(unix: float) -> str:
    """A Kubernetes MicroTime: always six fractional digits (a real API server refuses fewer)."""
    seconds, micros = divmod(round(unix * 1_000_000), 1_000_000)  # round: 0.000001 % 1 is not exact
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{micros:06d}Z"


def _name(prefix: str, *parts: str) -> str:
    readable = "-".join(p.lower() for p in parts if p)
    digest = hashlib.sha256("/".join(parts).encode()).hexdigest()[:10]
    cleaned = "".join(c if c.isalnum() or c == "-" else "-" for c in readable).strip("-")
    return f"{prefix}-{cleaned[: 63 - len(prefix) - 12].rstrip('-')}-{digest}"


def workload_lease(namespace: str, kind: str, name: str) -> str:
    return _name("chaos-target", namespace, kind, name)


def node_lease(node: str) -> str:
    return _name("chaos-node", node)


@dataclass(frozen=True)
class ReleaseLease:
    """Delete a Lease this run holds (and only while it holds it: a lease another run took over
    after this one died is left alone)."""

    kind: ClassVar[str] = "release-lease"
    ref: ObjectRef
    holder: str  # this run's id

    def describe(self) -> str:
        return f"release Lease {self.ref.namespace}/{self.ref.name}"

    def to_json(self) -> dict[str, JsonValue]:
        return {"kind": self.kind, "ref": self.ref.to_json(), "holder": self.holder}

    def _held(self, cluster: Cluster) -> KubeObject | None:
        try:
            lease = cluster.get(self.ref)
        except NotFound:
            return None
        return lease if (lease.get("spec") or {}).get("holderIdentity") == self.holder else None

    def apply(self, cluster: Cluster, clock: Clock) -> bool:
        if self._held(cluster) is None:
            return False
        try:
            cluster.delete(self.ref)
        except NotFound:
            return False
        return True

    def verify(self, cluster: Cluster) -> list[str]:
        return [] if self._held(cluster) is None else [f"Lease {self.ref.namespace}/{self.ref.name} "
                                                        f"is still held by run {self.holder}"]


@dataclass(frozen=True)
class Holder:
    run_id: str
    host: str
    started: str

    def says(self) -> str:
        return f"run {self.run_id} on host {self.host or '?'} since {self.started or '?'}"


def holder_of(lease: Mapping[str, Any]) -> Holder:
    notes = (lease.get("metadata") or {}).get("annotations") or {}
    return Holder(str((lease.get("spec") or {}).get("holderIdentity") or ""),
                  str(notes.get(HOST_ANNOTATION, "")), str(notes.get(STARTED_ANNOTATION, "")))


def held_by_another(cluster: Cluster, namespace: str, name: str, run_id: str) -> Holder | None:
    """Who holds Lease `name`, when it is another run (None: free, ours, or unreadable). Read only:
    a refusal for another reason (a workload mid-rollout) can then say why it really is busy."""
    try:
        lease = cluster.get(ObjectRef(LEASE_API, "Lease", namespace, name))
    except ClusterError:
        return None
    holder = holder_of(lease)
    return holder if holder.run_id and holder.run_id != run_id else None


class Leases:
    """The leases of one run: acquire (in preflight, before any change), renew, release."""

    def __init__(self, cluster: Cluster, clock: Clock, namespace: str, run_id: str, *,
                 journal: Callable[[ReleaseLease], int], applied: Callable[[int, ReleaseLease], None],
                 left_changed: Callable[[str], bool], host: str | None = None) -> None:
        self.cluster = cluster
        self.clock = clock
        self.namespace = namespace
        self.run_id = run_id
        self.host = host or socket.gethostname()
        self._journal = journal  # write-ahead: the release is journaled before the lease exists
        self._applied = applied
        self._left_changed = left_changed  # did that (dead) run leave undone changes?
        self.held: list[ObjectRef] = []
        self.lost: list[str] = []  # leases another run took while this one lived
        self._renewer: Repeating | None = None
        self.started = micro_time(clock.time())

    def ref(self, name: str) -> ObjectRef:
        return ObjectRef(LEASE_API, "Lease", self.namespace, name)

    def _manifest(self, name: str, what: str) -> KubeObject:
        now = micro_time(self.clock.time())
        return {"apiVersion": LEASE_API, "kind": "Lease",
                "metadata": {"name": name, "namespace": self.namespace,
                             "labels": {**run_labels(self.run_id), ROLE_LABEL: "lease"},
                             "annotations": {HOST_ANNOTATION: self.host, STARTED_ANNOTATION: self.started,
                                             TARGET_ANNOTATION: what}},
                "spec": {"holderIdentity": self.run_id, "leaseDurationSeconds": LEASE_SECONDS,
                         "acquireTime": now, "renewTime": now}}

    def acquire(self, wanted: Sequence[tuple[str, str]]) -> None:
        """Take every lease in `wanted` ((name, what it guards)), or raise TargetHeld. A lease that
        is held is watched for up to its duration: renewed means its run lives (refused at once),
        unchanged means expired (taken over, unless its run left changes undone)."""
        for name, what in wanted:
            ref = self.ref(name)
            seq = self._journal(ReleaseLease(ref, self.run_id))
            try:
                self.cluster.create(self._manifest(name, what))
            except Conflict:
                self._take_over(ref, name, what)
            self.held.append(ref)
            self._applied(seq, ReleaseLease(ref, self.run_id))

    def _take_over(self, ref: ObjectRef, name: str, what: str) -> KubeObject:
        lease = self.cluster.get(ref)
        holder = holder_of(lease)
        if holder.run_id == self.run_id:
            return lease  # ours already (a retried acquire)
        seen = (lease.get("spec") or {}).get("renewTime")
        deadline = self.clock.monotonic() + float((lease.get("spec") or {}).get("leaseDurationSeconds")
                                                  or LEASE_SECONDS)
        while self.clock.monotonic() < deadline:
            self.clock.sleep(min(1.0, max(0.0, deadline - self.clock.monotonic())))
            try:
                lease = self.cluster.get(ref)
            except NotFound:  # released meanwhile: it is free
                return self.cluster.create(self._manifest(name, what))
            now_holder = holder_of(lease)
            if now_holder.run_id != holder.run_id or (lease.get("spec") or {}).get("renewTime") != seen:
                raise TargetHeld(f"{what} is held by {now_holder.says()}: one run per target. Wait for "
                                 "that run to end; nothing was changed")
        if self._left_changed(holder.run_id):
            raise TargetHeld(f"{what} was held by {holder.says()}, which stopped renewing its Lease "
                             f"and left changes undone: run `chaos recover --run {holder.run_id}` "
                             "first; nothing was changed")
        version = (lease.get("metadata") or {}).get("resourceVersion")
        fresh = self._manifest(name, what)
        try:
            return self.cluster.json_patch(ref, [
                {"op": "test", "path": "/metadata/resourceVersion", "value": version},
                {"op": "replace", "path": "/spec", "value": fresh["spec"]},
                # add, not replace: the lease of another tool may have no labels (add replaces too)
                {"op": "add", "path": "/metadata/labels", "value": fresh["metadata"]["labels"]},
                {"op": "add", "path": "/metadata/annotations", "value": fresh["metadata"]["annotations"]},
            ])
        except Conflict:
            raise TargetHeld(f"{what}: another run took the expired Lease {name} first; nothing was "
                             "changed") from None

    def keep(self) -> None:
        """Renew every held lease every RENEW_EVERY_S on the run's clock until `stop()`."""
        if self.held and self._renewer is None:
            self._renewer = self.clock.every(RENEW_EVERY_S, self.renew)

    def renew(self) -> None:
        now = micro_time(self.clock.time())
        deadline = self.clock.monotonic() + RENEW_DEADLINE_S
        with self.cluster.deadline(until(deadline, self.clock.monotonic), "a Lease renewal"):
            for ref in list(self.held):
                try:
                    self.cluster.json_patch(ref, [
                        {"op": "test", "path": "/spec/holderIdentity", "value": self.run_id},
                        {"op": "replace", "path": "/spec/renewTime", "value": now}])
                except (Conflict, NotFound):
                    self.held.remove(ref)
                    self.lost.append(f"Lease {ref.namespace}/{ref.name}")
                except ClusterError:
                    continue  # a missed renewal is survivable: the lease lasts 3 renewals

    def stop(self, *, wait: bool = True) -> None:
        """Stop renewing. `wait=False` leaves a renewal in flight to end on its own (its deadline is
        short): for a run that keeps its Leases anyway, a late renewal changes nothing that matters."""
        if self._renewer is not None:
            self._renewer.stop(wait=wait)
            self._renewer = None


ENGINE_UNDO_KINDS: tuple[type[Any], ...] = (ReleaseLease,)  # what journals hold besides the steps' kinds
