"""Helpers for the safety proofs: the real CLI as a live process whose plain output lines are read
as they come (signals are sent on a line, never after a sleep), the embedded cluster as its own
`chaos sim up` process, and a snapshot of a cluster taken with the official kubernetes client.

The snapshot helpers are shared with tests/e2e (a real cluster): they only speak the Kubernetes
API, plus the embedded cluster's node directories when a sim root is given.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.conftest import REPO, cli_env

MANAGED = "app.kubernetes.io/managed-by=chaos"
HEALTH_LABEL = "chaos.dev/gpu-health"  # set by the embedded cluster's NVSentinel stand-in
TOGGLE = Path("var/lib/cuda-fault/cuda_fault_enabled")  # under <sim root>/nodes/<node>/


def wait_until(what: str, check: Callable[[], Any], timeout: float = 30.0, every: float = 0.1) -> Any:
    """Poll `check` until it returns something truthy; fail with `what` at the deadline."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(every)  # polling interval of a bounded condition wait, not synchronisation
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


class LiveCli:
    """`python -m runner ARGS` with stdout+stderr read line by line on a thread."""

    def __init__(self, args: Sequence[str], env: dict[str, str] | None = None) -> None:
        self.args = list(args)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "runner", *args], cwd=REPO, env=cli_env(env),
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1)
        self.lines: list[str] = []
        self._cond = threading.Condition()
        self._eof = False
        self._hooks: list[tuple[re.Pattern[str], Callable[[str], None]]] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            line = line.rstrip("\n")
            with self._cond:
                self.lines.append(line)
                hooks = [h for h in self._hooks if h[0].search(line)]
                self._cond.notify_all()
            for pattern, hook in hooks:  # called on the reader thread, as soon as the line is read
                self._hooks.remove((pattern, hook))
                hook(line)
        with self._cond:
            self._eof = True
            self._cond.notify_all()

    def on_line(self, pattern: str, hook: Callable[[str], None]) -> None:
        """Call `hook(line)` once, on the first line after now that matches `pattern`."""
        with self._cond:
            self._hooks.append((re.compile(pattern), hook))

    def signal_on(self, pattern: str, sig: int) -> None:
        self.on_line(pattern, lambda _line: self.proc.send_signal(sig))

    def wait_line(self, pattern: str, timeout: float = 60.0) -> str:
        """Block until a line matching `pattern` has been printed (bounded); return it."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for line in self.lines:
                    if rx.search(line):
                        return line
                left = deadline - time.monotonic()
                if self._eof or left <= 0:
                    raise AssertionError(f"no line matching {pattern!r} from chaos {' '.join(self.args)}; "
                                         f"output:\n{self.text[-4000:]}")
                self._cond.wait(left)

    def finish(self, timeout: float = 120.0) -> int:
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise
        self._reader.join(timeout)
        return rc

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()

    @property
    def text(self) -> str:
        with self._cond:
            return "\n".join(self.lines)


def chaos_cli(args: Sequence[str], timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "runner", *args], cwd=REPO, env=cli_env(),
                          capture_output=True, text=True, timeout=timeout, check=False)


@dataclass
class SimProcess:
    """A `chaos sim up` process and what it wrote: its URL and an unrestricted kubeconfig."""

    cli: LiveCli
    url: str
    kubeconfig: Path
    root: Path


@contextmanager
def sim_up(tmp: Path, scenario: Path, extra: Sequence[str] = ()) -> Iterator[SimProcess]:
    """Start the embedded cluster as its own process; SIGTERM it at the end."""
    kubeconfig, root = tmp / "admin.kubeconfig", tmp / "sim"
    cli = LiveCli(["sim", "up", "--from", str(scenario), "--kubeconfig", str(kubeconfig),
                   "--root", str(root), *extra])
    try:
        url = cli.wait_line(r"chaos-sim API server: ", timeout=90).split(": ", 1)[1].strip()
        cli.wait_line(r"Ctrl-C to stop")
        yield SimProcess(cli, url, kubeconfig, root)
    finally:
        if cli.proc.poll() is None:
            cli.proc.send_signal(signal.SIGTERM)
            try:
                cli.finish(30)
            except subprocess.TimeoutExpired:
                cli.kill()


def token_kubeconfig(path: Path, url: str, token: str) -> Path:
    """A kubectl-style kubeconfig whose user is a bearer token (plain HTTP: the embedded cluster)."""
    config = {
        "apiVersion": "v1", "kind": "Config", "current-context": "restricted", "preferences": {},
        "clusters": [{"name": "sim", "cluster": {"server": url}}],
        "users": [{"name": "chaos-runner", "user": {"token": token}}],
        "contexts": [{"name": "restricted", "context": {"cluster": "sim", "user": "chaos-runner"}}],
    }
    path.write_text(json.dumps(config, indent=2))  # JSON is YAML
    return path


# --- snapshots with the official client -----------------------------------------------------

@dataclass
class Snapshot:
    deployment_spec: dict[str, Any]
    configmaps: list[str]  # namespace/name, every namespace
    pod_owners: list[str]  # kind/name of each target pod's controller, sorted
    managed_pods: list[str]
    managed_configmaps: list[str]
    unschedulable: dict[str, bool]
    quarantined: list[str]  # nodes the cluster's own remediation cordoned (not a chaos change)
    toggles: dict[str, str] = field(default_factory=dict)  # node -> first char of its toggle file

    def comparable(self) -> dict[str, Any]:
        """Everything a run may change and `chaos recover` must put back (the toggle file: not
        armed; absent before the first run, "0" after a disarm)."""
        return {"deployment_spec": self.deployment_spec, "configmaps": self.configmaps,
                "pod_owners": self.pod_owners, "managed_pods": self.managed_pods,
                "managed_configmaps": self.managed_configmaps, "unschedulable": self.unschedulable,
                "quarantined": self.quarantined,
                "toggles_armed": sorted(n for n, c in self.toggles.items() if c == "1")}


class KubeReader:
    """Reads a cluster through the official kubernetes client (not through runner/)."""

    def __init__(self, kubeconfig: Path | None = None, context: str | None = None) -> None:
        from kubernetes import client, config

        api = config.new_client_from_config(config_file=str(kubeconfig) if kubeconfig else None,
                                            context=context)
        self._api = api
        self.core = client.CoreV1Api(api)
        self.apps = client.AppsV1Api(api)

    def plain(self, obj: Any) -> Any:
        return self._api.sanitize_for_serialization(obj)

    def snapshot(self, namespace: str, deployment: str, sim_root: Path | None = None) -> Snapshot:
        dep = self.apps.read_namespaced_deployment(deployment, namespace)
        spec = self.plain(dep.spec)
        selector = ",".join(f"{k}={v}" for k, v in sorted(dep.spec.selector.match_labels.items()))
        pods = self.core.list_namespaced_pod(namespace, label_selector=selector).items
        owners = sorted(f"{o.kind}/{o.name}" for p in pods if p.metadata.deletion_timestamp is None
                        for o in (p.metadata.owner_references or []) if o.controller)
        cms = self.core.list_config_map_for_all_namespaces().items
        managed_cms = self.core.list_config_map_for_all_namespaces(label_selector=MANAGED).items
        managed_pods = self.core.list_pod_for_all_namespaces(label_selector=MANAGED).items
        nodes = self.core.list_node().items
        toggles: dict[str, str] = {}
        if sim_root is not None:
            for node in nodes:
                path = sim_root / "nodes" / node.metadata.name / TOGGLE
                toggles[node.metadata.name] = path.read_text()[:1] if path.exists() else ""
        return Snapshot(
            deployment_spec=spec,
            configmaps=sorted(f"{c.metadata.namespace}/{c.metadata.name}" for c in cms),
            pod_owners=owners,
            managed_pods=sorted(f"{p.metadata.namespace}/{p.metadata.name}" for p in managed_pods
                                if p.metadata.deletion_timestamp is None),
            managed_configmaps=sorted(f"{c.metadata.namespace}/{c.metadata.name}" for c in managed_cms),
            unschedulable={n.metadata.name: bool(n.spec.unschedulable) for n in nodes},
            quarantined=sorted(n.metadata.name for n in nodes
                               if (n.metadata.labels or {}).get(HEALTH_LABEL) == "unhealthy"),
            toggles=toggles,
        )

    def reset_gpu(self, node: str) -> None:
        """What an operator does once a quarantined node's GPU is reset: uncordon it. The embedded
        NVSentinel stand-in then clears its condition and label. Not a chaos change: the
        remediation cordoned the node, so neither rollback nor recover may uncordon it."""
        self.core.patch_node(node, {"spec": {"unschedulable": None}})

    def settled(self, namespace: str, deployment: str) -> bool:
        """Every replica of the Deployment Ready and no pod of it on its way out."""
        dep = self.apps.read_namespaced_deployment(deployment, namespace)
        want = dep.spec.replicas or 0
        st = dep.status
        if not st or (st.ready_replicas or 0) != want or (st.updated_replicas or 0) != want:
            return False
        selector = ",".join(f"{k}={v}" for k, v in sorted(dep.spec.selector.match_labels.items()))
        pods = self.core.list_namespaced_pod(namespace, label_selector=selector).items
        return len(pods) == want and all(p.metadata.deletion_timestamp is None for p in pods)


def same_as(reader: KubeReader, before: Snapshot, namespace: str, deployment: str,
            sim_root: Path | None = None, timeout: float = 60.0) -> Snapshot:
    """Wait (bounded) until the cluster compares equal to `before` and the workload has settled
    (restored pods take a moment to be recreated); fail with the difference."""
    latest: list[Snapshot] = []

    def check() -> bool:
        now = reader.snapshot(namespace, deployment, sim_root)
        latest[:] = [now]
        return now.comparable() == before.comparable() and reader.settled(namespace, deployment)

    try:
        wait_until("the cluster to be as before the run", check, timeout)
    except AssertionError:
        now, was = latest[0].comparable(), before.comparable()
        diff = {k: {"before": was[k], "now": now[k]} for k in was if was[k] != now[k]}
        raise AssertionError(f"cluster differs from before the run: {json.dumps(diff, indent=1)}") from None
    return latest[0]


def report(run_dir: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((run_dir / "report.json").read_text())
    return data


def no_traceback(text: str) -> None:
    assert "Traceback" not in text, text[-4000:]


@dataclass
class Setup:
    """A `chaos sim up` whose seeded workload has settled, a reader, and the cluster as it began."""

    sim: SimProcess
    reader: KubeReader
    before: Snapshot


@contextmanager
def settled_sim(tmp: Path, scenario: Path, namespace: str, deployment: str) -> Iterator[Setup]:
    """`sim_up` from `scenario`, once its Deployment is settled; `before` is taken then."""
    with sim_up(tmp, scenario) as sim:
        reader = KubeReader(sim.kubeconfig)
        wait_until("the seeded workload to settle", lambda: reader.settled(namespace, deployment), 60)
        yield Setup(sim, reader, reader.snapshot(namespace, deployment, sim.root))
