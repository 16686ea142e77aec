"""engine layer: runs a scenario safely and decides what its ending means.

- executor.py   Executor (whole runs and step-at-a-time), run_with_signals / run_scenario,
                plan_scenario, dry_run
- preflight.py  guardrails, target resolution, workload health (read-only)
- journal.py    the write-ahead journal (journal.jsonl + its ConfigMap mirror)
- rollback.py   undo recorded changes in reverse, verify nothing is left
- recover.py    `chaos recover`: finish a dead run's rollback from its journal
- events.py     RunListener (no-op defaults) and SafeListener
- result.py     RunResult and friends (what reports render)

It builds on runner.kernel (steps, undo, clock, watch, signals) and gets the step table from its
caller. The engine never imports a step kind, the kubernetes client, Rich or Typer, and never reads
os.environ.
"""
