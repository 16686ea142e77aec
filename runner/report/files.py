"""Writing and reading the report files of a run (re-exported by `runner.report`).

`write_reports(result, run_dir)` is what the engine calls at the end of a run: it redacts secrets
once (`runner.report.redact`), then writes report.json, junit.xml, summary.md and report.html,
each 0600, into a run directory that is 0700 (`runner.report.private`), and passes the probes'
samples (probes.jsonl) through the same redaction. `load_result(run_dir)` is
the way back for `chaos report DIR`. The terminal renderer and the live view live in `terminal` and
`live` (imported on demand: they pull in Rich). Nothing here decides a verdict or touches a cluster.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from runner.engine.probes import SAMPLES_FILE
from runner.engine.result import RunResult
from runner.report import html, json_report, junit, markdown, private
from runner.report.redact import redact_text, redact_value, redacted

__all__ = ["REPORT_FILES", "load_result", "redacted", "write_reports"]

REPORT_FILES = (json_report.FILENAME, junit.FILENAME, markdown.FILENAME, html.FILENAME)


def write_reports(result: RunResult, run_dir: Path) -> list[Path]:
    """Write every report file into `run_dir` (created 0700 if needed); return their paths in order.

    Secrets are redacted first; an empty `result.run_dir` is filled in with `run_dir`. Each file
    is 0600; an existing run directory holding only a run's files is made 0700."""
    run_dir = private.run_dir(Path(run_dir))
    clean = redacted(result)
    if not clean.run_dir:  # the recovery hint needs it; the engine may not have filled it in
        clean = dataclasses.replace(clean, run_dir=str(run_dir))
    names = list(REPORT_FILES)
    written = [
        json_report.write(clean, run_dir),
        junit.write(clean, run_dir),
        markdown.write(clean, run_dir, names),
        html.write(clean, run_dir, names),
    ]
    samples = redact_samples(run_dir)
    return written + ([samples] if samples is not None else [])


def redact_samples(run_dir: Path) -> Path | None:
    """probes.jsonl (every probe sample, written by the engine as they came) through the same
    redaction as every report, rewritten in place (0600); None when the run has none."""
    path = Path(run_dir) / SAMPLES_FILE
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return None
    lines = []
    for line in text.splitlines():
        try:
            lines.append(json.dumps(redact_value(json.loads(line)), ensure_ascii=False))
        except ValueError:  # a line cut short by a killed run: its text, redacted
            lines.append(redact_text(line))
    return private.write_text(path, "".join(f"{line}\n" for line in lines))


def load_result(run_dir: Path) -> RunResult:
    """The result saved in `run_dir/report.json`; ChaosError when missing or corrupt."""
    return json_report.load(Path(run_dir))
