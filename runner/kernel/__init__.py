"""kernel: what the engine and the step kinds share, so neither imports the other.

- step.py     StepImpl[S], StepContext (absolute deadline), RunState, StepTable, outcomes, evidence
- undo.py     UndoAction, the core undo kinds, UndoKinds (how journals are decoded)
- clock.py    Clock (time, sleep, every), SystemClock, FakeClock
- watch.py    wait_for: the one list-then-watch loop, on the injected clock and interrupt gate
- signals.py  InterruptGate: SIGINT/SIGTERM become Interrupted at safe points only
- labels.py   the labels on everything a run creates

It never imports the engine, a step kind, the kubernetes client or a renderer.
"""
