"""Secrets never reach a report: every format is written from a redacted result."""

from __future__ import annotations

import dataclasses
import io
from pathlib import Path
from types import SimpleNamespace

import pytest

import tests.unit.report.report_samples as report_samples
from runner.engine.result import Evidence, TimelineEvent, UndoOutcome
from runner.report import terminal, write_reports
from runner.report.live import LiveView
from runner.report.redact import REDACTED, redact_text, redact_value

SECRETS = ["s3cr3t-bearer-value", "hunter2-password", "LS0tLS1CRUdJTi1LRVk=", "Q0VSVElGSUNBVEU=",
           "kubeconfig-token-123", "qs-token-456", "basic-dXNlcjpwYXNz",
           "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW0ifQ.c2lnbmF0dXJl"]


def _leaky():
    base = report_samples.failed()
    kubeconfig = {"users": [{"name": "admin", "user": {
        "client-key-data": SECRETS[2], "client-certificate-data": SECRETS[3], "token": SECRETS[4]}}]}
    step = dataclasses.replace(
        base.steps[3],
        message=f"probe got 401 with Authorization: Bearer {SECRETS[0]}",
        evidence=(
            Evidence("object", "kubeconfig used", kubeconfig),
            Evidence("probe", f"GET /v1/models?token={SECRETS[5]} -> 401",
                     {"headers": {"Authorization": f"Basic {SECRETS[6]}"}}),
            Evidence("log", f"connecting with password={SECRETS[1]}", {"line": f"sa token {SECRETS[7]}"}),
        ))
    rollback = dataclasses.replace(base.rollback, undone=(
        UndoOutcome("restore Deployment", False, f"client-key-data: {SECRETS[2]}"),))
    timeline = (*base.timeline, TimelineEvent(base.started_at + 1, "note", f"bearer {SECRETS[0]}"))
    return dataclasses.replace(base, steps=(*base.steps[:3], step, *base.steps[4:]), rollback=rollback,
                               timeline=timeline, reason=f"failed; token: {SECRETS[4]}")


def test_no_secret_in_any_written_file(tmp_path: Path) -> None:
    paths = write_reports(_leaky(), tmp_path)
    assert len(paths) == 4
    for path in paths:
        text = path.read_text()
        for secret in SECRETS:
            assert secret not in text, (path.name, secret)
        assert "REDACTED" in text, path.name  # Markdown shows it as \\[REDACTED\\]


def test_terminal_and_live_view_redact() -> None:
    result = _leaky()
    out = terminal.render_text(result)
    for secret in SECRETS:
        assert secret not in out
    buf = io.StringIO()
    view = LiveView(buf, plain=True)
    view.run_started(SimpleNamespace(metadata=SimpleNamespace(name="x")), "r", "/tmp", "sim")
    view.step_progress(None, f"calling with Authorization: Bearer {SECRETS[0]}", {})
    view.step_finished(result.steps[3])
    assert SECRETS[0] not in buf.getvalue()
    assert REDACTED in buf.getvalue()


@pytest.mark.parametrize(("text", "kept"), [
    ("tokens=3 per request", "tokens=3 per request"),
    ("password policy is fine", "password policy is fine"),
    ("the Bearer of bad news", "the Bearer [REDACTED] bad news"),  # over-redacts, on purpose
])
def test_ordinary_words(text: str, kept: str) -> None:
    assert redact_text(text) == kept


def test_redact_value_blanks_secret_keys_but_keeps_shape() -> None:
    value = {"token": "abc", "nested": [{"password": "p", "name": "n"}], "count": 3, "empty-token": ""}
    assert redact_value(value) == {"token": REDACTED, "nested": [{"password": REDACTED, "name": "n"}],
                                   "count": 3, "empty-token": ""}
