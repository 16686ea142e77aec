"""One settings tree per run: defaults < scenario < CHAOS_* environment < flags, built once."""

from __future__ import annotations

import ast
import dataclasses
import re
from pathlib import Path
from typing import Any

import pytest

from runner import settings as settings_module
from runner.errors import ScenarioError
from runner.scenario.model import ClusterChoice, Duration, RollbackPolicy, Scenario, Settings
from runner.scenario.validate import load_scenario
from runner.settings import ENV_VARS, Flags, resolve

REPO = Path(__file__).resolve().parents[2]
SCENARIO = load_scenario(REPO / "scenarios" / "xid79.yaml")


def with_settings(**changes: Any) -> Scenario:
    return dataclasses.replace(SCENARIO, settings=dataclasses.replace(SCENARIO.settings, **changes))


def test_each_layer_overrides_the_one_below(tmp_path: Path) -> None:
    assert Settings().timeout.seconds == 900  # the default, which xid79.yaml overrides with 10m
    assert resolve(SCENARIO, env={}, flags=Flags()).settings.timeout.seconds == 600
    scenario = with_settings(timeout=Duration.parse("20m"))
    assert resolve(scenario, env={}, flags=Flags()).settings.timeout.seconds == 1200
    env = {"CHAOS_TIMEOUT": "30m", "CHAOS_ROLLBACK": "always", "CHAOS_FAULT_EXPIRY": "90s"}
    got = resolve(scenario, env=env, flags=Flags())
    assert got.settings.timeout.seconds == 1800
    assert got.settings.rollback is RollbackPolicy.ALWAYS
    assert got.settings.expiry.seconds == 90
    assert got.apply(SCENARIO).settings == got.settings
    assert got.apply(SCENARIO).steps == SCENARIO.steps


def test_cluster_flag_beats_the_environment_which_beats_the_scenario(tmp_path: Path) -> None:
    kube_scenario = with_settings(cluster=ClusterChoice.KUBE)
    got = resolve(kube_scenario, env={}, flags=Flags())
    assert got.cluster is ClusterChoice.KUBE
    assert got.cluster_reason == "named by the scenario's settings.cluster"
    got = resolve(kube_scenario, env={"CHAOS_CLUSTER": "sim"}, flags=Flags())
    assert (got.cluster, got.cluster_reason) == (ClusterChoice.SIM, "named by CHAOS_CLUSTER")
    got = resolve(kube_scenario, env={"CHAOS_CLUSTER": "sim"}, flags=Flags(cluster="kube"),
                  )
    assert (got.cluster, got.cluster_reason) == (ClusterChoice.KUBE, "named by --cluster")


def test_context_and_reports_dir_from_the_environment(tmp_path: Path) -> None:
    env = {"CHAOS_CONTEXT": "staging", "CHAOS_REPORTS_DIR": str(tmp_path / "out")}
    got = resolve(SCENARIO, env=env, flags=Flags())
    assert got.context == "staging"
    assert got.options.reports_root == tmp_path / "out"
    assert resolve(SCENARIO, env=env, flags=Flags(context="prod")).context == "prod"


@pytest.mark.parametrize(("name", "value"), [("CHAOS_TIMEOUT", "soon"), ("CHAOS_ROLLBACK", "sometimes"),
                                             ("CHAOS_CLUSTER", "prod"), ("CHAOS_FAULT_EXPIRY", "-1")])
def test_a_bad_value_names_the_variable(tmp_path: Path, name: str, value: str) -> None:
    with pytest.raises(ScenarioError, match=name) as caught:
        resolve(SCENARIO, env={name: value}, flags=Flags())
    assert caught.value.exit_code == 2


def test_other_chaos_variables_are_reported_as_ignored(tmp_path: Path) -> None:
    got = resolve(SCENARIO, env={"CHAOS_TIMOUT": "1m", "CHAOS_E2E_CONTEXT": "x", "HOME": "/"},
                  flags=Flags())
    assert got.ignored_env == ("CHAOS_TIMOUT",)


def test_the_documented_list_is_the_list() -> None:
    documented = re.findall(r"^\| (CHAOS_[A-Z_]+) ", settings_module.__doc__ or "", re.M)
    assert tuple(sorted(documented)) == tuple(sorted(ENV_VARS))
    readme = (REPO / "README.md").read_text()
    assert tuple(sorted(set(re.findall(r"^\| `(CHAOS_[A-Z_]+)` ", readme, re.M)))) == tuple(sorted(ENV_VARS))


def test_the_engine_never_reads_the_environment() -> None:
    for path in sorted((REPO / "runner" / "engine").glob("*.py")):
        tree = ast.parse(path.read_text())
        reads = [n.lineno for n in ast.walk(tree)
                 if isinstance(n, ast.Attribute) and n.attr in ("environ", "getenv")]
        assert reads == [], f"{path} reads the environment at lines {reads}"
