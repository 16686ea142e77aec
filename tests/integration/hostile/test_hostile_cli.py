"""Hostile inputs through the real CLI: every one is a clear error with the right exit code, never
a traceback and never a hang, and nothing is changed.

Files that can be committed live in `corpus/` (kubeconfigs, journals); what cannot (FIFOs,
directories where files belong, binary junk, paths under /proc and /etc/passwd) is made here.
Each case names the command, what it is given, the exit code and a fragment of the message.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import REPO, cli_env

CORPUS = Path(__file__).resolve().parent / "corpus"
SCENARIO = str(REPO / "scenarios" / "xid79.yaml")
KUBECONFIGS = CORPUS / "kubeconfigs"
JOURNALS = CORPUS / "journals"
RULES = CORPUS / "rules"


@dataclass(frozen=True)
class Case:
    name: str
    args: Callable[[Path], list[str]]  # given a scratch directory
    exit_code: int
    says: str  # a fragment of the one-paragraph error
    env: tuple[tuple[str, str], ...] = ()


def fifo(tmp: Path, name: str = "fifo") -> str:
    path = tmp / name
    os.mkfifo(path)
    return str(path)


def binary(tmp: Path, name: str) -> str:
    path = tmp / name
    path.write_bytes(bytes(range(256)) * 4)
    return str(path)


def run_dir_with(tmp: Path, journal: Path | None = None, *, special: str = "") -> str:
    """A run directory whose journal.jsonl is a corpus file, a FIFO, a directory or binary."""
    run = tmp / "run"
    run.mkdir()
    target = run / "journal.jsonl"
    if journal is not None:
        shutil.copy(journal, target)
    elif special == "fifo":
        os.mkfifo(target)
    elif special == "dir":
        target.mkdir()
    elif special == "binary":
        target.write_bytes(b"\xff\xfe\x00junk" * 100)
    return str(run)


def report_dir_with(tmp: Path, *, text: str | None = None, special: str = "") -> str:
    """A run directory whose report.json is the given text, or a FIFO, a directory or binary."""
    run = tmp / "reported"
    run.mkdir()
    target = run / "report.json"
    if text is not None:
        target.write_text(text)
    elif special == "fifo":
        os.mkfifo(target)
    elif special == "dir":
        target.mkdir()
    elif special == "binary":
        target.write_bytes(b"\x00\xff" * 64)
    return str(run)


def wrong_types() -> str:
    """A real report with one field of the wrong type (what an edited or foreign file looks like)."""
    import json

    sample = json.loads((CORPUS / "report.json").read_text())
    sample["started_at"] = "yesterday"
    return json.dumps(sample)


def report_case(fmt: str) -> Case:
    return Case(f"report -o {fmt} of a started_at: yesterday",
                lambda t: ["report", report_dir_with(t, text=wrong_types()), "-o", fmt], 2, "started_at")


def regular_file(tmp: Path) -> str:
    path = tmp / "a-file"
    path.write_text("not a directory\n")
    return str(path)


def rules_case(path: Path) -> Case:
    """`chaos sim up --rules` of a malformed RBAC file: exit 2, the message names the file."""
    return Case(f"sim up --rules {path.stem}",
                lambda t: ["sim", "up", "--token", "a", "--restricted-token", "b", "--rules", str(path),
                           "--kubeconfig", str(t / "k")], 2, str(path))


DEAD = str(KUBECONFIGS / "unreachable.yaml")  # recover reads the journal before any API call


def kubeconfig_case(path: Path) -> Case:
    return Case(f"kubeconfig {path.stem}",
                lambda t: ["run", SCENARIO, "--kubeconfig", str(path), "--dry-run"], 2, str(path))


def journal_case(path: Path) -> Case:
    return Case(f"recover journal {path.stem}",
                lambda t: ["recover", run_dir_with(t, path), "--kubeconfig", DEAD], 2, "journal")

CASES = [
    # --- scenarios (validate, plan, run) ---
    Case("validate a FIFO", lambda t: ["validate", fifo(t)], 2, "not a regular file"),
    Case("plan a FIFO", lambda t: ["plan", fifo(t)], 2, "not a regular file"),
    Case("run a FIFO", lambda t: ["run", fifo(t)], 2, "not a regular file"),
    Case("run a missing file", lambda t: ["run", str(t / "nope.yaml")], 2, "nope.yaml"),
    Case("run a directory", lambda t: ["run", str(t)], 2, "is a directory"),
    Case("run binary junk", lambda t: ["run", binary(t, "junk.yaml")], 2, "junk.yaml"),
    # --- flags and settings ---
    Case("--cluster bogus", lambda t: ["run", SCENARIO, "--cluster", "bogus"], 2, "bogus"),
    Case("-o bogus", lambda t: ["run", SCENARIO, "-o", "bogus"], 2, "bogus"),
    Case("--context with --cluster sim", lambda t: ["run", SCENARIO, "--cluster", "sim", "--context", "x"],
         2, "--cluster sim"),
    Case("CHAOS_TIMEOUT not a duration", lambda t: ["run", SCENARIO, "--dry-run"], 2, "CHAOS_TIMEOUT",
         env=(("CHAOS_TIMEOUT", "soon"),)),
    Case("CHAOS_ROLLBACK unknown", lambda t: ["run", SCENARIO, "--dry-run"], 2, "CHAOS_ROLLBACK",
         env=(("CHAOS_ROLLBACK", "sometimes"),)),
    # --- run directories ---
    Case("--report-dir under a file", lambda t: ["run", SCENARIO, "--report-dir", "/etc/passwd/sub"], 2,
         "cannot use /etc/passwd/sub as the run directory"),
    Case("--report-dir under /proc", lambda t: ["run", SCENARIO, "--report-dir", "/proc/chaos-run"], 2,
         "as the run directory"),
    Case("--report-dir under /sys", lambda t: ["run", SCENARIO, "--report-dir", "/sys/chaos-run"], 2,
         "as the run directory"),
    Case("--report-dir is a file", lambda t: ["run", SCENARIO, "--report-dir", regular_file(t)], 2,
         "as the run directory"),
    # --- kubeconfigs and contexts ---
    *[kubeconfig_case(p) for p in sorted(KUBECONFIGS.glob("*.yaml")) if p.stem != "unreachable"],
    Case("kubeconfig FIFO", lambda t: ["run", SCENARIO, "--kubeconfig", fifo(t)], 2, "not a regular file"),
    Case("kubeconfig directory", lambda t: ["run", SCENARIO, "--kubeconfig", str(t)], 2, "is a directory"),
    Case("kubeconfig binary", lambda t: ["run", SCENARIO, "--kubeconfig", binary(t, "k")], 2, "kubeconfig"),
    Case("kubeconfig missing", lambda t: ["run", SCENARIO, "--kubeconfig", str(t / "none")], 2,
         "cannot read kubeconfig"),
    Case("--context not in the kubeconfig", lambda t: ["run", SCENARIO, "--kubeconfig", DEAD,
                                                       "--context", "nope", "--dry-run"], 2,
         "context 'nope' is not in kubeconfig"),
    Case("recover with a FIFO kubeconfig", lambda t: ["recover", "--all", "--kubeconfig", fifo(t)], 2,
         "not a regular file"),
    # --- journals ---
    Case("recover with nothing named", lambda t: ["recover", "--kubeconfig", DEAD], 2, "say which run"),
    Case("recover a directory without a journal", lambda t: ["recover", str(t), "--kubeconfig", DEAD], 2,
         "no journal at"),
    *[journal_case(p) for p in sorted(JOURNALS.glob("*.jsonl"))],
    Case("recover a FIFO journal", lambda t: ["recover", run_dir_with(t, special="fifo"), "--kubeconfig",
                                              DEAD], 2, "not a regular file"),
    Case("recover a journal that is a directory", lambda t: ["recover", run_dir_with(t, special="dir"),
                                                             "--kubeconfig", DEAD], 2, "not a regular file"),
    Case("recover a binary journal", lambda t: ["recover", run_dir_with(t, special="binary"),
                                                "--kubeconfig", DEAD], 2, "not text"),
    # --- report files ---
    *[report_case(fmt) for fmt in ("text", "json", "md", "html")],
    Case("report a FIFO", lambda t: ["report", report_dir_with(t, special="fifo")], 2, "report.json"),
    Case("report a directory", lambda t: ["report", report_dir_with(t, special="dir")], 2, "report.json"),
    Case("report binary", lambda t: ["report", report_dir_with(t, special="binary")], 2, "report.json"),
    Case("report empty", lambda t: ["report", report_dir_with(t, text="")], 2, "report.json"),
    Case("report missing", lambda t: ["report", str(t)], 2, "report.json"),
    # --- the embedded cluster ---
    Case("sim up --from a FIFO", lambda t: ["sim", "up", "--from", fifo(t), "--kubeconfig",
                                            str(t / "k")], 2, "not a regular file"),
    Case("sim up --from a missing file", lambda t: ["sim", "up", "--from", str(t / "nope.yaml"),
                                                    "--kubeconfig", str(t / "k")], 2, "nope.yaml"),
    Case("sim up --rules malformed", lambda t: ["sim", "up", "--token", "a", "--restricted-token", "b",
                                                "--rules", str(KUBECONFIGS / "malformed-yaml.yaml"),
                                                "--kubeconfig", str(t / "k")], 2, "not valid YAML"),
    Case("sim up --rules a FIFO", lambda t: ["sim", "up", "--token", "a", "--restricted-token", "b",
                                             "--rules", fifo(t), "--kubeconfig", str(t / "k")], 2,
         "not a regular file"),
    *[rules_case(p) for p in sorted(RULES.glob("*.yaml"))],
    Case("sim up --rules binary", lambda t: [
        "sim", "up", "--token", "a", "--restricted-token", "b", "--rules", binary(t, "rules.yaml"),
        "--kubeconfig", str(t / "k")], 2, "not text"),
    Case("sim up --rules one good, one missing", lambda t: [
        "sim", "up", "--token", "a", "--restricted-token", "b", "--rules", str(REPO / "deploy" / "rbac.yaml"),
        "--rules", str(t / "gone.yaml"), "--kubeconfig", str(t / "k")], 2, "gone.yaml"),
    Case("sim up --kubeconfig under a file", lambda t: ["sim", "up", "--nodes", "1", "--kubeconfig",
                                                        "/etc/passwd/k"], 2, "/etc/passwd/k"),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_hostile_input_is_a_clear_error(case: Case, tmp_path: Path) -> None:
    env = cli_env({"HOME": str(tmp_path / "home"), **dict(case.env)})
    env.pop("KUBECONFIG", None)
    try:
        proc = subprocess.run([sys.executable, "-m", "runner", *case.args(tmp_path)], cwd=REPO, env=env,
                              capture_output=True, text=True, timeout=60, check=False)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{case.name}: the command hung (no answer in 60 s)")
    out = proc.stdout + proc.stderr
    assert "Traceback" not in out, out[-3000:]
    assert proc.returncode == case.exit_code, out[-2000:]
    assert case.says in out, out[-2000:]
    assert not (tmp_path / "home").exists() or not any((tmp_path / "home").iterdir())
