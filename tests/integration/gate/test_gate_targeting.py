"""Real clusters only when named, and exit codes that tell the truth, through the real CLI.

A second `chaos sim up` stands in for "the cluster in your kubeconfig": the quick start must leave
it untouched, a named one is said on the first line, an unreachable or unauthorized one is
inconclusive (3, nothing changed), never "rollback incomplete" (5).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO, cli_env
from tests.integration.safety.support import KubeReader, sim_up, token_kubeconfig, wait_until

SCENARIO = REPO / "scenarios" / "xid79.yaml"
NAMESPACE, WORKLOAD = "inference", "vllm-worker"

pytestmark = pytest.mark.slow


def chaos(args: list[str], env: dict[str, str], timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "runner", *args], cwd=REPO, env=cli_env(env),
                          capture_output=True, text=True, timeout=timeout, check=False)


@pytest.fixture(scope="module")
def other(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    """A second embedded cluster, as its own process, with an admin and a token kubeconfig."""
    tmp = tmp_path_factory.mktemp("other")
    with sim_up(tmp, SCENARIO, ["--token", "s3cret"]) as sim:
        reader = KubeReader(sim.kubeconfig)  # settled first: its own rollout is not a run's change
        wait_until("the seeded workload to settle", lambda: reader.settled(NAMESPACE, WORKLOAD), 60)
        yield tmp, sim.url


def fingerprint(kubeconfig: Path) -> dict[str, object]:
    """What a run would change, read with the official client: the workload's version and spec,
    everything labelled as ours, every ConfigMap."""
    reader = KubeReader(kubeconfig)
    dep = reader.apps.read_namespaced_deployment(WORKLOAD, NAMESPACE)
    managed = "app.kubernetes.io/managed-by=chaos"
    return {
        "resourceVersion": dep.metadata.resource_version, "generation": dep.metadata.generation,
        "spec": reader.plain(dep.spec),
        "ours": sorted(p.metadata.name for p in reader.core.list_pod_for_all_namespaces(
            label_selector=managed).items) + sorted(c.metadata.name for c in
            reader.core.list_config_map_for_all_namespaces(label_selector=managed).items),
        "configmaps": sorted(c.metadata.name for c in reader.core.list_config_map_for_all_namespaces().items),
    }


def admin(tmp: Path, url: str) -> Path:
    return token_kubeconfig(tmp / "admin-token.kubeconfig", url, "s3cret")


def test_the_quick_start_never_touches_the_cluster_in_your_kubeconfig(other: tuple[Path, str],
                                                                        tmp_path: Path) -> None:
    tmp, url = other
    kubeconfig = admin(tmp, url)
    home = tmp_path / "home"
    (home / ".kube").mkdir(parents=True)
    (home / ".kube" / "config").write_text(kubeconfig.read_text())
    before = fingerprint(kubeconfig)
    env = {"HOME": str(home), "KUBECONFIG": str(kubeconfig)}
    proc = chaos(["run", "scenarios/xid79.yaml", "--report-dir", str(tmp_path / "run")], env)
    first = proc.stdout.splitlines()[0]
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert first.startswith("cluster: embedded cluster at http://127.0.0.1:"), first
    assert "no real cluster was named" in first
    assert url not in proc.stdout
    assert fingerprint(kubeconfig) == before


def test_a_named_cluster_is_said_on_the_first_line(other: tuple[Path, str], tmp_path: Path) -> None:
    tmp, url = other
    kubeconfig = admin(tmp, url)
    env = {"HOME": str(tmp_path), "KUBECONFIG": str(kubeconfig)}
    proc = chaos(["run", "scenarios/xid79.yaml", "--cluster", "kube", "--dry-run"], env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    first = proc.stdout.splitlines()[0]
    assert first == f"cluster: context restricted ({url}); named by --cluster", first
    proc = chaos(["run", "scenarios/xid79.yaml", "--kubeconfig", str(kubeconfig), "--dry-run",
                  "-o", "json"], env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.splitlines()[0] == f"cluster: context restricted ({url}); named by --kubeconfig"


def test_an_unreachable_cluster_is_inconclusive_and_changes_nothing(tmp_path: Path) -> None:
    dead = REPO / "tests" / "integration" / "hostile" / "corpus" / "kubeconfigs" / "unreachable.yaml"
    run = tmp_path / "run"
    proc = chaos(["run", "scenarios/xid79.yaml", "--kubeconfig", str(dead), "--report-dir", str(run)],
                 {"HOME": str(tmp_path)})
    out = proc.stdout + proc.stderr
    assert proc.returncode == 3, out[-3000:]
    assert "Traceback" not in out
    report = json.loads((run / "report.json").read_text())
    assert report["verdict"] == "inconclusive"
    assert "rollback incomplete" not in report["reason"]
    entries = [json.loads(line) for line in (run / "journal.jsonl").read_text().splitlines()]
    assert [e["type"] for e in entries] == ["run-start", "run-end"]  # nothing was ever changed


def test_a_wrong_token_is_inconclusive(other: tuple[Path, str], tmp_path: Path) -> None:
    tmp, url = other
    wrong = token_kubeconfig(tmp_path / "wrong.kubeconfig", url, "not-the-token")
    before = fingerprint(admin(tmp, url))
    proc = chaos(["run", "scenarios/xid79.yaml", "--kubeconfig", str(wrong), "--report-dir",
                  str(tmp_path / "run")], {"HOME": str(tmp_path)})
    assert proc.returncode == 3, proc.stdout[-3000:] + proc.stderr
    assert fingerprint(admin(tmp, url)) == before


def test_recover_says_which_cluster_and_an_unknown_run_is_invalid_input(other: tuple[Path, str],
                                                                         tmp_path: Path) -> None:
    tmp, url = other
    kubeconfig = admin(tmp, url)
    proc = chaos(["recover", "--run", "20990101-000000-abcdef"], {"HOME": str(tmp_path),
                                                                   "KUBECONFIG": str(kubeconfig)})
    lines = proc.stdout.splitlines()
    assert lines[0] == (f"cluster: context restricted ({url}); from KUBECONFIG={kubeconfig}, its "
                        "current context, as kubectl would (--context/--kubeconfig choose another)")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "no journal of run 20990101-000000-abcdef" in proc.stderr
