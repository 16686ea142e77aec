"""Fixtures for step tests: a seeded FakeCluster on a FakeClock, node disks that really run helper
pods' shell commands, and a recording StepContext that checks each undo is journaled before its
change (the object it describes must still be unchanged when it is recorded)."""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from runner.cluster.protocol import KubeObject, ObjectRef
from runner.errors import NotFound
from runner.jsonpointer import get as resolve_pointer
from runner.kernel.signals import InterruptGate
from runner.kernel.step import JsonValue, RunState, UndoReport
from runner.kernel.undo import MISSING, DeleteObject, RestoreJson, RevertPaths, SetUnschedulable, UndoAction
from runner.scenario.model import (
    Duration,
    Fault,
    Metadata,
    PatchStep,
    Scenario,
    Settings,
    StepBase,
    StepKind,
    Target,
    ToggleVia,
    WorkloadKind,
    WorkloadRef,
)
from runner.steps.faultmap import DisarmNodeKey
from runner.steps.toggle import DisarmNode
from tests.fakes.clock import FakeClock
from tests.fakes.cluster import FakeCluster

NS = "ns"
RUN_ID = "20260101-000000-abc123"


class NodeDisks:
    """Each node's disk is a directory; a helper pod (label chaos.dev/role) created on a node runs
    its `sh -c` command for real with hostPath mounts mapped into that directory."""

    def __init__(self, root: Path, cluster: FakeCluster) -> None:
        self.root = root
        self.cluster = cluster
        self.ran: list[tuple[str, str]] = []  # (node, pod name)
        self.fail_nodes: set[str] = set()
        cluster.on_change(self._react)

    def path(self, node: str, host_path: str) -> Path:
        return self.root / node / host_path.lstrip("/")

    def read(self, node: str, host_path: str) -> str | None:
        p = self.path(node, host_path)
        return p.read_text() if p.exists() else None

    def _react(self, event: str, obj: KubeObject) -> None:
        labels = obj.get("metadata", {}).get("labels") or {}
        if event != "ADDED" or obj.get("kind") != "Pod" or "chaos.dev/role" not in labels:
            return
        spec = obj["spec"]
        node, name = spec["nodeName"], obj["metadata"]["name"]
        container = spec["containers"][0]
        command = container["command"][2]
        env = {**os.environ, **{e["name"]: e["value"] for e in container.get("env") or []}}
        volumes = {v["name"]: v["hostPath"]["path"] for v in spec.get("volumes", [])}
        for mount in container.get("volumeMounts", []):
            host = self.path(node, volumes[mount["name"]])
            host.mkdir(parents=True, exist_ok=True)
            command = command.replace(mount["mountPath"], str(host))
        self.ran.append((node, name))
        if node in self.fail_nodes:
            proc = subprocess.run(["sh", "-c", "echo node broken >&2; exit 1"], capture_output=True,
                                  text=True, check=False)
        else:
            proc = subprocess.run(["sh", "-c", command], capture_output=True, text=True, check=False,
                                  env=env)
        self.cluster.set_log(NS, name, proc.stdout + proc.stderr)
        self.cluster.set_pod_phase(NS, name, "Succeeded" if proc.returncode == 0 else "Failed",
                                   ready=False)


def unchanged_problem(action: UndoAction, cluster: FakeCluster, disks: NodeDisks) -> str | None:
    """Why `action` was recorded too late (its change already made), or None."""
    if isinstance(action, RevertPaths):
        try:
            obj = cluster.get(action.ref)
        except NotFound:
            return None
        for path in action.paths:
            current = resolve_pointer(obj, path.pointer)
            if json.dumps(current, sort_keys=True) != json.dumps(path.before, sort_keys=True):
                return f"{action.ref} {path.pointer} already changed when its undo was recorded"
    elif isinstance(action, RestoreJson):
        try:
            current = resolve_pointer(cluster.get(action.ref), action.pointer)
        except NotFound:
            return None
        if json.dumps(current, sort_keys=True) != json.dumps(action.original, sort_keys=True):
            return f"{action.ref} {action.pointer} already changed when its undo was recorded"
    elif isinstance(action, DeleteObject):
        try:
            cluster.get(action.ref)
        except NotFound:
            return None
        return f"{action.ref} already existed when its undo was recorded"
    elif isinstance(action, SetUnschedulable):
        node = cluster.get(ObjectRef("v1", "Node", None, action.node))
        if bool(node.get("spec", {}).get("unschedulable", False)) != action.value:
            return f"node {action.node} already changed when its undo was recorded"
    elif isinstance(action, DisarmNodeKey):
        try:
            content = (cluster.get(action.ref).get("data") or {}).get(action.node)
        except NotFound:
            return None
        if content is not None and str(content).startswith("1"):
            return f"node {action.node} already armed in {action.ref} when its undo was recorded"
    elif isinstance(action, DisarmNode):
        content = disks.read(action.node, action.toggle_dir + "/cuda_fault_enabled")
        if content is not None and content.startswith("1"):
            return f"node {action.node} already armed when its undo was recorded"
    return None


@dataclass
class Ctx:
    """A StepContext test double that journals in memory and checks write-ahead order."""

    cluster: FakeCluster
    scenario: Scenario
    clock: FakeClock
    disks: NodeDisks
    run_id: str = RUN_ID
    state: RunState = field(default_factory=lambda: RunState(target_node="n1", selector="app=w"))
    budget: float = 600.0
    gate: InterruptGate = field(default_factory=InterruptGate)
    journal: list[UndoAction] = field(default_factory=list)
    undone: set[int] = field(default_factory=set)
    progress_calls: list[tuple[str, dict[str, JsonValue]]] = field(default_factory=list)
    timeline_points: list[tuple[str, str, str, str]] = field(default_factory=list)
    record_writes: list[int] = field(default_factory=list)  # writes made before each record
    held_nodes: list[str] = field(default_factory=list)  # nodes whose Lease a step asked for

    def __post_init__(self) -> None:
        self.deadline = self.clock.monotonic() + self.budget

    def record_undo(self, action: UndoAction) -> int:
        problem = unchanged_problem(action, self.cluster, self.disks)
        assert problem is None, problem
        json.dumps(action.to_json())  # journal form must serialise
        self.journal.append(action)
        self.record_writes.append(len(self.cluster.writes()))
        return len(self.journal) - 1

    def hold_node(self, node: str) -> None:
        self.held_nodes.append(node)

    def record_applied(self, recorded: int, action: UndoAction) -> None:
        json.dumps(action.to_json())
        self.journal[recorded] = action

    def progress(self, message: str, **data: JsonValue) -> None:
        self.progress_calls.append((message, data))

    def timeline(self, kind: str, message: str = "", *, node: str = "", pod: str = "") -> None:
        self.timeline_points.append((kind, message, node, pod))

    def undo_recorded(self) -> UndoReport:
        self.state.stop_background()
        undone = []
        for i in reversed(range(len(self.journal))):
            if i not in self.undone:
                self.journal[i].apply(self.cluster, self.clock)
                self.undone.add(i)
                undone.append(self.journal[i].describe())
        return UndoReport(tuple(undone),
                          tuple(msg for action in self.journal for msg in action.verify(self.cluster)))

    def kinds(self) -> list[str]:
        return [a.kind for a in self.journal]

    def points(self) -> list[str]:
        return [p[0] for p in self.timeline_points]


def make_scenario(steps: tuple[StepBase, ...] = (), *, kind: WorkloadKind = WorkloadKind.DEPLOYMENT,
                  name: str = "w", services: tuple[str, ...] = (), fault: Fault | None = None,
                  expiry: float | None = 120.0, containers: tuple[str, ...] = (),
                  toggle_via: ToggleVia = ToggleVia.HOST_PATH) -> Scenario:
    return Scenario(Metadata("steps-test"), Target(NS, WorkloadRef(kind, name, services), "n1",
                                                   containers),
                    fault or Fault(), Settings(fault_expiry=None if expiry is None else Duration.of(expiry),
                                               toggle_via=toggle_via),
                    steps or (PatchStep(StepKind.PATCH, "1-patch"),), path="steps-test.yaml")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def cluster(clock: FakeClock) -> FakeCluster:
    c = FakeCluster(clock=clock)
    for node in ("n1", "n2", "n3"):
        c.add_node(node)
    c.add_namespace(NS)
    c.add_deployment("w", NS, replicas=2, nodes=["n1", "n2"])
    return c


@pytest.fixture
def disks(tmp_path: Path, cluster: FakeCluster) -> NodeDisks:
    return NodeDisks(tmp_path / "nodes", cluster)


@pytest.fixture
def make_ctx(cluster: FakeCluster, clock: FakeClock, disks: NodeDisks) -> Callable[..., Ctx]:
    def make(scenario: Scenario | None = None, **kwargs: Any) -> Ctx:
        return Ctx(cluster, scenario or make_scenario(), clock, disks, **kwargs)
    return make


class StandInShim:
    """Stands in for runner/shim.py and runner/shimdist.py: two libraries, two source files and a
    gcc command."""

    def __init__(self, libraries: dict[str, bytes] | None = None) -> None:
        self.libraries = libraries or {"x86_64": b"\x7fELF x86_64 shim", "aarch64": b"\x7fELF aarch64 shim"}

    def prebuilt_libraries(self) -> dict[str, bytes]:
        return dict(self.libraries)

    def source_files(self) -> dict[str, str]:
        return {"cuda_intercept.c": "int x;\n", "shim.h": "#pragma once\n"}

    def compile_command(self, src_dir: str, out_path: str) -> str:
        return f"gcc -shared -fPIC -o {out_path} {src_dir}/cuda_intercept.c"


def pod_names(cluster: FakeCluster) -> list[str]:
    return sorted(p["metadata"]["name"] for p in cluster.objects("Pod", NS))


def only(pattern: str, items: list[str]) -> list[str]:
    return [i for i in items if re.search(pattern, i)]


MISSING_VALUE = MISSING
