"""Run directories 0700 and report files 0600, whatever the umask (DESIGN.md §4)."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

import tests.unit.report.report_samples as report_samples
from runner.report import REPORT_FILES, private, write_reports


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


@pytest.fixture(params=[0o000, 0o022, 0o077], ids=["umask-000", "umask-022", "umask-077"])
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    old = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(old)


def test_write_reports_makes_a_private_run_directory(tmp_path: Path, umask: int) -> None:
    run_dir = tmp_path / "reports" / "20260101-000000-xid79"
    paths = write_reports(report_samples.passed(), run_dir)
    assert _mode(run_dir) == 0o700
    assert [p.name for p in paths] == list(REPORT_FILES)
    for path in paths:
        assert _mode(path) == 0o600, path.name
    assert sorted(os.listdir(run_dir)) == sorted(REPORT_FILES)  # no temporary file left behind


def test_an_existing_report_file_is_replaced_private(tmp_path: Path) -> None:
    (tmp_path / "report.json").write_text("old")
    os.chmod(tmp_path / "report.json", 0o644)
    path = private.write_text(tmp_path / "report.json", "new")
    assert path.read_text() == "new"
    assert _mode(path) == 0o600


def test_a_symlink_at_the_name_is_replaced_not_followed(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    target.write_text("keep me")
    os.chmod(target, 0o644)
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "junit.xml").symlink_to(target)
    private.write_text(run_dir / "junit.xml", "<testsuites/>")
    assert not (run_dir / "junit.xml").is_symlink()
    assert target.read_text() == "keep me"
    assert _mode(target) == 0o644


def test_an_existing_run_directory_is_made_private(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    os.chmod(run_dir, 0o755)
    for name in ("journal.jsonl", "journal.20250101-000000-aaaaaa.jsonl", "report.json"):
        (run_dir / name).write_text("{}")
    write_reports(report_samples.passed(), run_dir)
    assert _mode(run_dir) == 0o700


def test_a_directory_holding_other_things_keeps_its_mode(tmp_path: Path) -> None:
    """`--report-dir .` or a shared directory: the files are private, the directory is not ours."""
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o755)
    (shared / "notes.txt").write_text("not chaos's")
    for path in write_reports(report_samples.passed(), shared):
        assert _mode(path) == 0o600
    assert _mode(shared) == 0o755
    assert not private.is_run_dir(shared)


def test_a_write_that_fails_leaves_no_temporary_file(tmp_path: Path) -> None:
    with pytest.raises(UnicodeEncodeError):
        private.write_text(tmp_path / "summary.md", "\udcff")  # a lone surrogate cannot be UTF-8
    assert os.listdir(tmp_path) == []
