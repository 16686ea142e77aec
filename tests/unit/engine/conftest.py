"""Fixtures for engine tests: a seeded FakeCluster, a FakeClock, the test step kit."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from runner.engine.executor import run_scenario
from runner.engine.result import RunResult
from runner.scenario.model import Scenario
from runner.settings import RunOptions
from tests.fakes.clock import FakeClock
from tests.fakes.cluster import FakeCluster
from tests.unit.engine.stepkit import Kit, seed


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def cluster(clock: FakeClock) -> FakeCluster:
    return seed(FakeCluster(clock=clock))


@pytest.fixture
def kit() -> Kit:
    return Kit()


@pytest.fixture
def run(cluster: FakeCluster, clock: FakeClock, kit: Kit, tmp_path: Path) -> Callable[..., RunResult]:
    """`run(scenario, **executor_kwargs)` runs the engine with the test steps into tmp_path/run."""

    def go(scenario: Scenario, **kwargs: Any) -> RunResult:
        options = kwargs.pop("options", None) or RunOptions(run_dir=tmp_path / "run",
                                                            yes=kwargs.pop("yes", False))
        kwargs.setdefault("steps", kit.registry())
        return run_scenario(scenario, kwargs.pop("cluster", cluster), options, clock=clock, **kwargs)

    return go
