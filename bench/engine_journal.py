"""What write-ahead costs: journal entries per second, fsync'd, with and without the cluster mirror.

Prints figures and ratios against a baseline measured in the same run (a plain buffered append of
the same lines). Run: PYTHONPATH=. python bench/engine_journal.py [N]
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

from runner.cluster.protocol import ObjectRef
from runner.engine.journal import Journal, Mirror
from runner.kernel.clock import SystemClock
from runner.kernel.undo import CORE_UNDO_KINDS, RestoreJson, UndoKinds
from tests.fakes.cluster import FakeCluster


def main(n: int) -> None:
    action = RestoreJson(ObjectRef("apps/v1", "Deployment", "ns", "w"), "/spec/template",
                         {"metadata": {"labels": {"app": "w"}}, "spec": {"containers": [{"name": "m"}]}})
    clock = SystemClock()
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        line = json.dumps({"seq": 1, "type": "undo", "action": action.to_json()}) + "\n"
        t0 = time.perf_counter()
        with open(base / "plain.jsonl", "a") as fh:
            for _ in range(n):
                fh.write(line)
        plain = (time.perf_counter() - t0) / n

        journal = Journal(base / "a" / "journal.jsonl", "bench", clock, UndoKinds(CORE_UNDO_KINDS))
        t0 = time.perf_counter()
        for _ in range(n):
            journal.record_undo(action, "step")
        fsynced = (time.perf_counter() - t0) / n

        cluster = FakeCluster()
        mirror = Mirror(cluster, "bench", "ns")
        journal = Journal(base / "b" / "journal.jsonl", "bench", clock, UndoKinds(CORE_UNDO_KINDS), mirror)
        t0 = time.perf_counter()
        for _ in range(n):
            journal.record_undo(action, "step")
        mirrored = (time.perf_counter() - t0) / n

    print(f"entries: {n}")
    print(f"plain buffered append (baseline): {plain * 1e6:9.1f} us/entry")
    print(f"journal, fsync'd:                 {fsynced * 1e6:9.1f} us/entry  "
          f"({fsynced / plain:7.1f}x baseline)")
    print(f"journal, fsync'd + fake mirror:   {mirrored * 1e6:9.1f} us/entry  "
          f"({mirrored / plain:7.1f}x baseline)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200)
