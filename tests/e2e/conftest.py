"""The real-cluster suite is opt-in: without CHAOS_E2E_CONTEXT every `e2e` test is skipped with a
reason that names the variable, so a plain `pytest` never touches a cluster (README: Real clusters).
"""

from __future__ import annotations

import os

import pytest

CONTEXT_VAR = "CHAOS_E2E_CONTEXT"
SKIP_REASON = (f"real-cluster suite: set {CONTEXT_VAR} to a kubeconfig context to run it "
               "(README.md, 'Real clusters')")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get(CONTEXT_VAR):
        return
    skip = pytest.mark.skip(reason=SKIP_REASON)
    for item in items:
        if item.get_closest_marker("e2e") is not None:
            item.add_marker(skip)
