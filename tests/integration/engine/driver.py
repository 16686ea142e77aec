"""A test driver: runs the engine (or recover) in its own process against a file-backed fake cluster.

Why: signals and SIGKILL need a real process. `run` seeds nothing (the test seeds the state file),
runs the test-step scenario through `run_with_signals` with a real clock, prints
"started <step>" / "changed <step>" lines on stdout as steps go (the test waits for them before
signalling), blocks in the step named by --block (a watch-driven wait) and exits with the run's
exit code. `recover` runs `runner.engine.recover.recover` on a run directory and prints its lines.

    python -m tests.integration.engine.driver run STATE RUN_DIR [--block STEP]
    python -m tests.integration.engine.driver recover STATE RUN_DIR
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from runner.engine.executor import run_with_signals
from runner.engine.leases import ENGINE_UNDO_KINDS
from runner.engine.recover import recover
from runner.kernel.undo import CORE_UNDO_KINDS, UndoKinds
from runner.settings import RunOptions
from tests.fakes.cluster import FileBackedFakeCluster
from tests.unit.engine.stepkit import Kit, make_scenario

KINDS = UndoKinds(CORE_UNDO_KINDS).including(*ENGINE_UNDO_KINDS)  # what the test runs journal


def say(line: str) -> None:
    print(line, flush=True)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=["run", "recover"])
    parser.add_argument("state", type=Path)
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--block", default="")
    args = parser.parse_args(argv)
    cluster = FileBackedFakeCluster(args.state)
    if args.command == "recover":
        recovered = recover(cluster, KINDS, run_dir=args.run_dir)
        for line in recovered.lines():
            say(line)
        return recovered.exit_code
    kit = Kit(announce=say, modes={args.block: "block"} if args.block else {})
    result = run_with_signals(make_scenario(), cluster, RunOptions(run_dir=args.run_dir),
                              steps=kit.registry(),
                              echo=lambda line: print(line, file=sys.stderr, flush=True))
    say(f"verdict {result.verdict.value} {result.reason}")
    return result.exit_code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
