"""engine layer: runs a scenario safely and decides what its ending means.

- executor.py   RunOptions, run_with_signals / run_scenario, plan_scenario, dry_run (the entry points)
- preflight.py  guardrails, target resolution, workload health (read-only)
- targets.py    "which pods are the target" and node choice, shared with the step kinds
- wait.py       wait_for: list + watch until a condition holds, on an injected clock
- journal.py    the write-ahead journal (journal.jsonl + its ConfigMap mirror)
- rollback.py   undo recorded changes in reverse, verify nothing is left
- recover.py    `chaos recover`: finish a dead run's rollback from its journal
- signals.py    SIGINT/SIGTERM -> Interrupted at safe points; never abort a rollback
- events.py     RunListener (no-op defaults) and SafeListener
- result.py     RunResult and friends (what reports render)

The engine never imports the kubernetes client, Rich or Typer and never reads os.environ.
"""
