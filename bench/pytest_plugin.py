"""What the chaos pytest plugin costs a test session that does not use it, and what a fault costs one
that does.

Run by hand from the repository root: `python bench/pytest_plugin.py` (PYTHONPATH is set for the
child processes). Prints, from one run, medians of BENCH_RUNS runs (default 5):
- a 20-test pytest session without the plugin (`-p no:chaos`) and with it (`-p runner.pytest_plugin`)
  and the ratio: the goal is ~1.0x (the plugin imports nothing heavy until a test asks for it);
- with the embedded cluster available, one `gpu_fault` round trip on it (install, arm, rollback,
  settle) through runner.api.FaultInjector, beside the cost of starting that cluster.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
RUNS = int(os.environ.get("BENCH_RUNS", "5"))


def session(directory: Path, plugin: list[str]) -> float:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    samples = []
    for _ in range(RUNS):
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *plugin],
                              cwd=directory, env=env, capture_output=True, text=True, check=False)
        samples.append(time.perf_counter() - start)
        if proc.returncode != 0:
            sys.exit(f"pytest {plugin} failed: {proc.stdout[-800:]}")
    return statistics.median(samples)


def plugin_overhead() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tests = "\n".join(f"def test_{i}():\n    assert {i} + 1 > {i}\n" for i in range(20))
        Path(tmp, "test_plain.py").write_text(tests)
        without = session(Path(tmp), ["-p", "no:chaos"])
        with_plugin = session(Path(tmp), ["-p", "runner.pytest_plugin"])
    print(f"20-test session without the plugin: {without * 1000:7.1f} ms (median of {RUNS})")
    print(f"20-test session with the plugin:    {with_plugin * 1000:7.1f} ms")
    print(f"ratio with/without:                 {with_plugin / without:7.2f}x   (goal ~1.0x)")


def fault_round_trip() -> None:
    sys.path.insert(0, str(REPO))
    try:
        from runner import api
        from runner.cluster.connect import connect_url
        from runner.sim.seed import running, sim_settings_from_file
    except ImportError as exc:
        print(f"fault round trip: skipped ({exc})")
        return
    scenario = REPO / "scenarios" / "xid79.yaml"
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        with running(sim_settings_from_file(scenario), scenario.parent, Path(tmp, "sim")) as sim:
            started = time.perf_counter() - start
            cluster = connect_url(sim.url, name="embedded cluster")
            samples = []
            for i in range(RUNS):
                t0 = time.perf_counter()
                with api.FaultInjector(cluster, "inference", "vllm-worker", xid=94, settle=True,
                                       run_dir=Path(tmp, f"run{i}")) as fault:
                    fault.install()
                    fault.arm()
                samples.append(time.perf_counter() - t0)
    print(f"embedded cluster start (seeded, Ready): {started * 1000:7.1f} ms")
    print(f"gpu_fault round trip (install, arm, rollback, settle): "
          f"{statistics.median(samples) * 1000:7.1f} ms (median of {RUNS}); "
          f"{statistics.median(samples) / started:.1f}x the cluster start")


if __name__ == "__main__":
    plugin_overhead()
    fault_round_trip()
