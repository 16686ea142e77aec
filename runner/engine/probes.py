"""A run's background probes: every `probes:` entry sends its request at its own interval from
before the first step until the rollback is finished, and never changes anything.

Why it exists: the steps prove the mechanics (crash, cordon, Ready elsewhere); the probes measure
what chaos engineering is for, what the service's callers saw. Each probe is one `Clock.every` task
(a thread of its own on the real clock, timers on the fake one): due at start + k * interval, a slot
that passed while a request was still in flight is skipped and counted, so one slow answer never
shifts the rest, and the executor never waits on a request. Every sample is appended to
`probes.jsonl` in the run directory as it comes (0600, like the journal), with the phase it was
sent in as the executor stamped the boundaries so far (`PhaseClock`); `results()` turns the
samples into ProbeResults (runner/engine/probe_stats.py). The probe's header values and body never
reach the file (runner/kernel/probing.py scrubs them; report writing redacts the file once more).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import IO

from runner.cluster.protocol import Cluster
from runner.engine.journal import _open_private
from runner.engine.probe_result import ProbeResult
from runner.engine.probe_stats import Marks, summarize
from runner.kernel.clock import Clock, Repeating
from runner.kernel.probing import Sample, send, target_text
from runner.scenario.model import Probe

log = logging.getLogger("chaos.engine")
SAMPLES_FILE = "probes.jsonl"


class PhaseClock:
    """The phase boundaries as the run reaches them (the executor stamps them; probe threads read)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._marks = Marks()

    @property
    def marks(self) -> Marks:
        with self._lock:
            return self._marks

    def _stamp(self, name: str, at: float) -> None:
        with self._lock:
            if getattr(self._marks, name) is None:
                self._marks = dataclasses.replace(self._marks, **{name: at})

    def armed(self, at: float) -> None:
        """The fault was armed (the first `fault-armed` point)."""
        self._stamp("armed_at", at)

    def recovered(self, at: float) -> None:
        """The recovery step ended (only once armed)."""
        if self.marks.armed_at is not None:
            self._stamp("recovered_at", at)

    def rollback(self, at: float) -> None:
        """Cleanup or rollback began (the first of them)."""
        self._stamp("rollback_at", at)


def sample_line(probe: str, sample: Sample, phase: str) -> str:
    """One line of probes.jsonl."""
    data: dict[str, object] = {"probe": probe, "at": round(sample.at, 6), "phase": phase,
                               "ok": sample.ok, "status": sample.status,
                               "latency_ms": round(sample.latency_s * 1000, 3)}
    if sample.endpoint:
        data["endpoint"] = sample.endpoint
    if sample.error:
        data["error"] = sample.error
    if sample.ttfb_s is not None:
        data["ttfb_ms"] = round(sample.ttfb_s * 1000, 3)
        data["chunk_gaps_ms"] = [round(g * 1000, 3) for g in sample.chunk_gaps_s]
    return json.dumps(data, ensure_ascii=False) + "\n"


class ProbeRunner:
    """Runs `probes` against `cluster` (Services in `namespace`) from `start()` to `stop()`."""

    def __init__(self, probes: Sequence[Probe], cluster: Cluster, namespace: str, clock: Clock,
                 run_dir: Path | None, phases: PhaseClock) -> None:
        self.probes = tuple(probes)
        self.cluster = cluster
        self.namespace = namespace
        self.clock = clock
        self.phases = phases
        self.path = run_dir / SAMPLES_FILE if run_dir is not None else None
        self.samples: dict[str, list[Sample]] = {p.name: [] for p in self.probes}
        self._tasks: dict[str, Repeating] = {}
        self._lock = threading.Lock()
        self._file: IO[str] | None = None
        self._stopping = threading.Event()
        self.started_at: float | None = None
        self.stopped_at: float | None = None

    def start(self) -> None:
        """Start every probe (the first request of each comes one interval from now)."""
        if not self.probes or self.started_at is not None:
            return
        self.started_at = self.clock.time()
        if self.path is not None:
            try:
                self._file = _open_private(self.path, "a")
            except OSError as exc:  # the samples stay in memory; the report still has them
                log.warning("cannot write %s: %s", self.path, exc)
        for probe in self.probes:
            self._tasks[probe.name] = self.clock.every(probe.interval.seconds,
                                                       functools.partial(self._tick, probe))

    def _tick(self, probe: Probe) -> None:
        if self._stopping.is_set():
            return
        sample = send(self.cluster, self.namespace, probe, self.clock)
        phase = self.phases.marks.phase_of(sample.at).value
        with self._lock:
            self.samples[probe.name].append(sample)
            if self._file is not None:
                try:
                    self._file.write(sample_line(probe.name, sample, phase))
                    self._file.flush()
                except (OSError, ValueError) as exc:
                    log.warning("cannot write %s: %s", self.path, exc)
                    self._file = None

    def stop(self) -> None:
        """Stop every probe (idempotent): no request starts after, the ones in flight finish."""
        if self.started_at is None or self.stopped_at is not None:
            return
        self._stopping.set()
        for task in self._tasks.values():
            task.stop()
        self.stopped_at = self.clock.time()
        with self._lock:
            if self._file is not None:
                try:
                    self._file.close()
                except OSError as exc:
                    log.warning("cannot close %s: %s", self.path, exc)
                self._file = None

    def results(self) -> tuple[ProbeResult, ...]:
        """One ProbeResult per probe (stop() first); none when the probes never started."""
        if self.started_at is None:
            return ()
        stopped = self.stopped_at if self.stopped_at is not None else self.clock.time()
        marks = self.phases.marks
        with self._lock:
            samples = {name: list(found) for name, found in self.samples.items()}
        return tuple(summarize(p, target_text(p, self.namespace), samples[p.name], marks,
                               self.started_at, stopped, self._missed(p.name))
                     for p in self.probes)

    def _missed(self, name: str) -> int:
        task = self._tasks.get(name)
        return task.missed if task is not None else 0
