"""`summary.md`: the run in a few screens of Markdown, sized for a CI job's step summary
(e.g. appended to $GITHUB_STEP_SUMMARY).

Everything from the result is escaped so a pod name or log line cannot break the table or inject
HTML. This module must not read files or the cluster.
"""

from __future__ import annotations

import html
from pathlib import Path

from runner.engine.result import RunResult, StepStatus, Verdict
from runner.report import private
from runner.report.probes_view import PHASE_COLUMNS, headline, phase_rows, slo_rows, stream_rows
from runner.report.timings import (
    counts,
    crash_text,
    disarm,
    disarm_text,
    fault_window,
    fmt_duration,
    fmt_time,
    key_timings,
)

FILENAME = "summary.md"

VERDICT_EMOJI = {
    Verdict.PASSED: "✅", Verdict.FAILED: "❌", Verdict.INCONCLUSIVE: "⚠️",
    Verdict.INTERRUPTED: "⏹️", Verdict.ROLLBACK_INCOMPLETE: "🚨",
}
SLO_EMOJI = {"passed": "✅", "MISSED": "❌"}
STATUS_EMOJI = {
    StepStatus.PASSED: "✅", StepStatus.FAILED: "❌", StepStatus.ERROR: "💥",
    StepStatus.SKIPPED: "⏭️", StepStatus.INTERRUPTED: "⏹️",
}


def md(text: str, limit: int = 300) -> str:
    """Inline text safe in a table cell: one line, HTML-escaped, Markdown punctuation escaped."""
    flat = " ".join(text.split())
    if len(flat) > limit:
        flat = flat[: limit - 1] + "…"
    out = html.escape(flat.replace("\\", "\\\\"), quote=False)
    for ch in "|`*_[]":  # keep Markdown from reading user text as table cells or formatting
        out = out.replace(ch, "\\" + ch)
    return out


def render(result: RunResult, files: list[str] | None = None) -> str:
    f = result.fault
    armed, disarmed = fault_window(result)
    c = counts(result)
    lines = [
        f"## {VERDICT_EMOJI[result.verdict]} chaos: {md(result.scenario_name)} — "
        f"**{result.verdict.value.upper()}** (exit {result.exit_code})",
        "",
        f"> {md(result.reason, 1000)}",
        "",
        "| | |",
        "|---|---|",
        f"| Scenario | {md(result.scenario_name)} ({md(result.scenario_path)}) |",
        f"| Cluster | {md(result.cluster)} |",
        f"| Run | {md(result.run_id)} · {fmt_time(result.started_at)} · "
        f"{fmt_duration(result.finished_at - result.started_at)} |",
        f"| Fault | XID {f.xid} — {md(f.title)} (scope {md(f.scope)}, expected {md(f.expected_outcome)}) |",
        f"| Node | {md(f.node) or '—'} |",
        f"| Armed / disarmed | {fmt_time(armed)} / {_disarmed(result)} |",
        f"| Injections seen | {f.injections_seen} |",
        f"| Pod crashes | {md(crash_text(result))} |",
        f"| Steps | {c['passed']} passed, {c['failed']} failed, {c['error']} error, "
        f"{c['skipped']} skipped, {c['interrupted']} interrupted |",
        "",
        "### Steps",
        "",
        "| | Step | Kind | Duration | Message |",
        "|---|---|---|---:|---|",
    ]
    for s in result.steps:
        started = s.started_at > 0
        lines.append(f"| {STATUS_EMOJI[s.status]} {s.status.value} | {md(s.name)} | {md(s.kind)} | "
                     f"{fmt_duration(s.duration) if started else '—'} | {md(s.message)} |")
    lines += ["", "### Key timings", "", "| Event | When | After arming |", "|---|---|---:|"]
    for t in key_timings(result):
        since = fmt_duration(t.since_armed) if t.since_armed is not None else "—"
        lines.append(f"| {t.label} | {fmt_time(t.at) if t.at is not None else 'did not happen'} | {since} |")
    if disarmed is not None and armed is not None:
        lines += ["", f"Fault window: {fmt_duration(disarmed - armed)}."]

    lines += _probes(result)

    rb = result.rollback
    lines += ["", "### Rollback", ""]
    if not rb.ran:
        lines.append(f"Rollback did not run (policy {md(rb.policy)}).")
    else:
        state = "complete ✅" if rb.complete else "INCOMPLETE 🚨"
        lines.append(f"Policy {md(rb.policy)} — {state}; after-check "
                     f"{'verified' if rb.verified else 'not verified'}.")
    if rb.undone:
        lines += [""] + [f"- {'✅' if u.ok else '❌'} {md(u.description)}"
                         + (f" — {md(u.message)}" if u.message else "") for u in rb.undone]
    if rb.leftovers or result.verdict is Verdict.ROLLBACK_INCOMPLETE or (rb.policy == "never" and rb.undone):
        lines += ["", "**The cluster is not as it was.** Still changed:", ""]
        lines += [f"- {md(x)}" for x in rb.leftovers] or ["- (see the journal)"]
        lines += ["", "To recover, from a machine with access to the cluster:", "", "```sh",
                  f"chaos recover {result.run_dir or '<run dir>'}", "```",
                  "", f"or, without the run directory: chaos recover --run {md(result.run_id)}."]
    if files:
        lines += ["", "<sub>Files: " + ", ".join(md(x) for x in files) + "</sub>"]
    return "\n".join(lines) + "\n"


def _probes(result: RunResult) -> list[str]:
    """### Service impact: per probe a table of phases, then a table of its SLO checks."""
    if not result.probes:
        return []
    lines = ["", "### Service impact", ""]
    for probe in result.probes:
        lines += [f"**{md(headline(probe), 500)}**", "",
                  "| " + " | ".join(PHASE_COLUMNS) + " |",
                  "|" + "|".join(["---"] + ["---:"] * (len(PHASE_COLUMNS) - 1)) + "|"]
        for row in phase_rows(probe, result.started_at):
            lines.append("| " + " | ".join(md(c) for c in row.cells) + " |")
        streams = stream_rows(probe)
        if streams:
            lines += ["", "| phase | time to first byte p50 / p95 | between chunks p50 / p95 |",
                      "|---|---:|---:|"]
            lines += [f"| {md(a)} | {md(b)} | {md(c)} |" for a, b, c in streams]
        if probe.slo:
            lines += ["", "| SLO | phase | check | threshold | observed |", "|---|---|---|---:|---:|"]
            for phase, check, threshold, observed, verdict in slo_rows(probe):
                mark = SLO_EMOJI.get(verdict, "➖")
                lines.append(f"| {mark} {md(verdict)} | {md(phase)} | {md(check)} | {md(threshold)} "
                             f"| {md(observed)} |")
        lines.append("")
    lines.append("<sub>Every request is in probes.jsonl in the run directory.</sub>")
    return lines


def _disarmed(result: RunResult) -> str:
    """'disarmed by rollback at ...', 'not disarmed (still armed at the end)' or '—'."""
    if disarm(result).at is None:
        return disarm_text(result).replace("never", "not disarmed")
    return "disarmed " + md(disarm_text(result))


def write(result: RunResult, run_dir: Path, files: list[str] | None = None) -> Path:
    path = run_dir / FILENAME
    return private.write_text(path, render(result, files))  # 0600: see runner.report.private
