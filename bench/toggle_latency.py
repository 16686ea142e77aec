"""Arm-to-first-fault latency of `settings.toggle-via: hostPath` and `configmap` (run by hand).

    PYTHONPATH=. python bench/toggle_latency.py [--runs 3] [--time-scale 0.1]

Runs `scenarios/xid79.yaml` through the real CLI on the embedded cluster, as it is (toggle-via
hostPath: a helper pod writes the node's toggle file) and with `settings.toggle-via: configmap`
(a patch of the node's key in the run's fault map, which reaches the pods at their kubelet's next
sync after its ConfigMap cache expires). Prints, per mode and run, from the run's report.json:
seconds from the toggle step's start to `first-injection` (the first `[XID 79 SIM]` line: what a
user waits, the helper pod included), from `fault-armed` (the write done) to it, the toggle step's
own time and the whole run's; then the medians, their ratio, and the same latency
scaled to a real cluster (divided by the time scale: the embedded kubelet's sync period and cache
TTL are multiplied by it, a helper pod's start is not, so hostPath scales less than this says).
It asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
BASE = REPO / "scenarios" / "xid79.yaml"
MODES = ("hostPath", "configmap")


def scenario(tmp: Path, mode: str, time_scale: float | None) -> Path:
    data = yaml.safe_load(BASE.read_text())
    settings = data["settings"]
    settings["toggle-via"] = mode
    settings.pop("fault-expiry", None)  # the mode's default
    if time_scale is not None:
        settings["sim"]["time-scale"] = time_scale
    settings["sim"]["manifests"] = [str(REPO / "scenarios" / m) for m in settings["sim"]["manifests"]]
    path = tmp / f"xid79-{mode}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def first(timeline: list[dict[str, Any]], kind: str) -> float | None:
    return next((float(e["at"]) for e in timeline if e["kind"] == kind), None)


def one_run(path: Path, run_dir: Path) -> dict[str, float]:
    began = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "runner", "run", str(path), "--cluster", "sim",
                           "--report-dir", str(run_dir)], cwd=REPO, capture_output=True, text=True,
                          check=False, timeout=900)
    wall = time.monotonic() - began
    report = json.loads((run_dir / "report.json").read_text())
    if done.returncode != 0:
        raise SystemExit(f"{path.name}: exit {done.returncode} ({report.get('reason')})")
    armed, hit = first(report["timeline"], "fault-armed"), first(report["timeline"], "first-injection")
    assert armed is not None
    assert hit is not None
    toggle = next(s for s in report["steps"] if s["kind"] == "toggle")
    began_at = float(toggle["started_at"])
    return {"latency": hit - began_at, "written": hit - armed,
            "toggle": float(toggle["finished_at"]) - began_at, "run": wall}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--time-scale", type=float, default=None,
                        help="override settings.sim.time-scale (xid79.yaml: 0.1)")
    args = parser.parse_args()
    scale = args.time_scale if args.time_scale is not None else float(
        yaml.safe_load(BASE.read_text())["settings"]["sim"]["time-scale"])
    results: dict[str, list[dict[str, float]]] = {m: [] for m in MODES}
    with tempfile.TemporaryDirectory(prefix="chaos-toggle-bench-") as tmp:
        for i in range(args.runs):
            for mode in MODES:  # interleaved, so load on the machine hits both alike
                got = one_run(scenario(Path(tmp), mode, args.time_scale), Path(tmp) / f"{mode}-{i}")
                results[mode].append(got)
                print(f"{mode:>9} run {i + 1}: arm -> first fault {got['latency']:6.2f} s "
                      f"(written -> first fault {got['written']:6.2f} s)   toggle step "
                      f"{got['toggle']:6.2f} s   whole run {got['run']:6.1f} s", flush=True)
    keys = ("latency", "written", "toggle", "run")
    medians = {m: {k: statistics.median(r[k] for r in results[m]) for k in keys} for m in MODES}
    print(f"\nmedians over {args.runs} run(s), time scale {scale}:")
    for mode in MODES:
        md = medians[mode]
        print(f"{mode:>9}: arm -> first fault {md['latency']:6.2f} s (written -> first fault "
              f"{md['written']:6.2f} s, x 1/{scale:g} = {md['written'] / scale:6.1f} s unscaled)   "
              f"toggle step {md['toggle']:6.2f} s   whole run {md['run']:6.1f} s")
    hp, cm = medians["hostPath"]["latency"], medians["configmap"]["latency"]
    print(f"configmap / hostPath arm -> first fault: {cm / hp if hp else float('inf'):.1f}x")


if __name__ == "__main__":
    main()
