"""Small text helpers every renderer shares: strings safe for XML, and step evidence as lines.

No format-specific escaping lives here (each renderer escapes for its own format).
"""

from __future__ import annotations

import json
import re

from runner.engine.result import StepResult

# XML 1.0 forbids most control characters; pod logs carry ANSI escapes and NULs.
_XML_BAD = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff]")
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")


def clean(text: str) -> str:
    """`text` without ANSI colour codes or characters XML cannot carry."""
    return _XML_BAD.sub("", _ANSI.sub("", text))


def one_line(text: str, limit: int = 200) -> str:
    flat = " ".join(clean(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def evidence_lines(step: StepResult) -> list[str]:
    """The step's message, evidence and changes as plain lines (JUnit system-out, terminal)."""
    lines: list[str] = []
    if step.message:
        lines.append(clean(step.message))
    for ev in step.evidence:
        lines.append(f"[{ev.kind}] {clean(ev.summary)}")
        if ev.data:
            lines.append("  " + clean(json.dumps(dict(ev.data), ensure_ascii=False, sort_keys=True,
                                                  default=str)))
    lines.extend(f"changed: {clean(c)}" for c in step.changes)
    return lines
