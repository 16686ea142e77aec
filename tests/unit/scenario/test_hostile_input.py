"""Hostile files are refused fast, cleanly and in bounded memory, before parsing can blow up.

Generated here because their size or bytes make checked-in files silly: a 20 MB file, binary junk,
non-UTF-8, deep nesting, an alias bomb large enough to exhaust memory if it were ever expanded.
Each runs through the real CLI in a subprocess with an address-space cap.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, cli_env

MEMORY_CAP = 1024 * 1024 * 1024  # address space; the bomb expanded would need terabytes


def _cap_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))


def run_capped(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "runner", "validate", "-o", "json", str(path)],
                          cwd=REPO, env=cli_env(), capture_output=True, text=True, timeout=60,
                          preexec_fn=_cap_memory, check=False)


def first_problem(proc: subprocess.CompletedProcess[str]) -> dict[str, object]:
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    problem: dict[str, object] = json.loads(proc.stdout)["files"][0]["problems"][0]
    return problem


def bomb(levels: int) -> str:
    lines = ["apiVersion: chaos/v1", "kind: Scenario", "a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, levels):
        refs = ", ".join([f"*a{i - 1}"] * 10)
        lines.append(f"a{i}: &a{i} [{refs}]")
    return "\n".join(lines) + "\n"


def test_billion_laughs_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bomb.yaml"
    path.write_text(bomb(30))  # 10**30 nodes if expanded
    problem = first_problem(run_capped(path))
    assert problem["code"] == "CH008"
    assert "aliases count in full" in str(problem["message"])


def test_twenty_megabyte_file_is_refused_unread(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    with path.open("w") as handle:
        handle.write("apiVersion: chaos/v1\nkind: Scenario\nsteps:\n")
        handle.write("  - pause: {duration: 1s}\n" * (20 * 1024 * 1024 // 26))
    assert path.stat().st_size > 20_000_000
    problem = first_problem(run_capped(path))
    assert problem["code"] == "CH002"
    assert "1024 KiB" in str(problem["message"])


def test_binary_junk_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "junk.yaml"
    path.write_bytes(bytes(range(256)) * 64)
    problem = first_problem(run_capped(path))
    assert problem["code"] == "CH003"
    assert "NUL" in str(problem["message"])


def test_non_utf8_is_refused_with_its_place(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes("apiVersion: chaos/v1\nmetadata:\n  description: caf\u00e9\n".encode("latin-1"))
    problem = first_problem(run_capped(path))
    assert (problem["code"], problem["line"], problem["column"]) == ("CH003", 3, 19)
    assert "0xe9" in str(problem["message"])


def test_deep_nesting_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "deep.yaml"
    path.write_text("a: " + "[" * 200_000 + "]" * 200_000 + "\n")
    problem = first_problem(run_capped(path))
    assert problem["code"] == "CH008"
    assert "nesting" in str(problem["message"])


def test_many_nodes_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "wide.yaml"
    path.write_text("a: [" + ", ".join(["1"] * 100_000) + "]\n")
    assert first_problem(run_capped(path))["code"] == "CH008"


@pytest.mark.parametrize(("name", "code"), [("missing.yaml", "CH001"), (".", "CH001")])
def test_unreadable_paths(tmp_path: Path, name: str, code: str) -> None:
    target = tmp_path / name
    if name == ".":  # a directory with no scenarios in it
        proc = subprocess.run([sys.executable, "-m", "runner", "validate", str(target)], cwd=REPO,
                              env=cli_env(), capture_output=True, text=True, timeout=60, check=False)
        assert proc.returncode == 2
        assert "no scenario files" in proc.stderr
        return
    assert first_problem(run_capped(target))["code"] == code
