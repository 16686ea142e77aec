"""Reports: a RunResult rendered for people and machines, and read back.

`write_reports(result, run_dir)` is what the engine calls at the end of a run: it redacts secrets
once (`redacted`: also what `chaos run -o json` and `chaos report` print), then writes report.json,
junit.xml, summary.md and report.html, 0600 in a 0700 run directory. `load_result(run_dir)` is the
way back for `chaos report DIR`. The terminal renderer and the live view live in `terminal` and
`live` (they pull in Rich); `validation` renders `chaos validate` results. Nothing here decides a
verdict or touches a cluster.

The names below load `runner.report.files` on first use, so `chaos validate`, which imports only
`runner.report.validation`, does not pay for the run-report machinery at start-up.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from runner.report.files import REPORT_FILES, load_result, redacted, write_reports

__all__ = ["REPORT_FILES", "load_result", "redacted", "write_reports"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from runner.report import files

        return getattr(files, name)
    raise AttributeError(f"module 'runner.report' has no attribute {name!r}")
