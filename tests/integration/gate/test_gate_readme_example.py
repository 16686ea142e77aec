"""README's pytest-plugin example, run exactly as written (its two code blocks, from the README)."""

from __future__ import annotations

import os
import re
import shutil

import pytest

from tests.integration.gate.gate_support import REPO, plugin_args
from tests.integration.gate.sim_support import MISSING, SKIP_REASON

pytestmark = [pytest.mark.skipif(bool(MISSING), reason=SKIP_REASON), pytest.mark.slow]


def readme_blocks(section: str) -> dict[str, str]:
    """The fenced code blocks of one README section, keyed by the file name in their first line."""
    text = (REPO / "README.md").read_text()
    body = text.split(f"## {section}\n", 1)[1].split("\n## ", 1)[0]
    blocks = {}
    for code in re.findall(r"```\w*\n(.*?)```", body, re.S):
        first, _, rest = code.partition("\n")
        blocks[first.lstrip("# ").strip()] = rest
    return blocks


def test_the_readme_pytest_example_runs_as_written(pytester: pytest.Pytester,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    blocks = readme_blocks("pytest plugin")
    assert set(blocks) == {"pytest.ini", "test_recovery.py"}
    shutil.copytree(REPO / "scenarios", pytester.path / "scenarios")
    pytester.makefile(".ini", pytest=blocks["pytest.ini"])
    pytester.makepyfile(test_recovery=blocks["test_recovery.py"])
    monkeypatch.setenv("PYTHONPATH", str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    result = pytester.runpytest_subprocess(*plugin_args(), "-p", "no:cacheprovider", "-q",
                                           timeout=280)
    result.assert_outcomes(passed=2)
