"""One frozen settings tree per run, built once by the entry point: defaults < scenario < CHAOS_*
environment < command-line flags.

Why it exists: a value such as the scenario's timeout or where reports go can come from four
places, and the rule for which wins must live in one function, not in every command. The CLI, the
Python API and the pytest plugin call `resolve()`; the engine receives the result (`RunOptions` and
a scenario whose `settings` are the effective ones) and never reads `os.environ` itself: the
environment is passed in as a mapping.

The CHAOS_* variables, the whole list (README "Settings"):

| variable            | sets                     | example   |
|---------------------|--------------------------|-----------|
| CHAOS_CLUSTER       | the cluster: sim or kube | `kube`    |
| CHAOS_CONTEXT       | the kubeconfig context   | `staging` |
| CHAOS_REPORTS_DIR   | where run directories go | `out/`    |
| CHAOS_TIMEOUT       | settings.timeout         | `20m`     |
| CHAOS_ROLLBACK      | settings.rollback        | `always`  |
| CHAOS_FAULT_EXPIRY  | settings.fault-expiry    | `3m`      |
| CHAOS_ROLLBACK_TIMEOUT | settings.rollback-timeout | `5m`   |
| CHAOS_STATE_NAMESPACE | settings.state-namespace | `chaos` |

Any other CHAOS_* variable is ignored (and `chaos run` says so once), so a typo cannot silently
look like a setting that took effect.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from runner.errors import InputError, ScenarioError
from runner.scenario.model import ClusterChoice, Duration, RollbackPolicy, Scenario, Settings


@dataclass(frozen=True)
class RunOptions:
    """What a run needs beyond the scenario, resolved once (the engine's input)."""

    scenario_path: str = ""
    run_dir: Path | None = None  # exact run directory (--report-dir); None: under reports_root
    reports_root: Path = Path("reports")
    yes: bool = False  # allow taking the last healthy replica
    allow_privileged: bool = False  # allow privileged steps (node-xid writes the node's kernel log)
    tool_version: str = ""


@dataclass(frozen=True)
class Flags:
    """What the command line said (None: not given)."""

    cluster: str | None = None
    context: str | None = None
    kubeconfig: str | None = None
    report_dir: Path | None = None
    yes: bool = False
    allow_privileged: bool = False


@dataclass(frozen=True)
class RunSettings:
    """The effective settings of one run, and where the cluster choice came from."""

    settings: Settings
    options: RunOptions
    cluster: ClusterChoice
    cluster_reason: str
    context: str | None = None
    kubeconfig: str | None = None
    ignored_env: tuple[str, ...] = ()  # CHAOS_* variables that are not settings

    def apply(self, scenario: Scenario) -> Scenario:
        """`scenario` with the effective settings (what the engine runs)."""
        return dataclasses.replace(scenario, settings=self.settings)


def _duration(name: str, text: str) -> Duration:
    try:
        return Duration.parse(text)
    except ValueError as exc:
        raise ScenarioError(f"{name}={text!r}: {exc}", code="ENV001", field=name) from None


def _namespace(name: str, text: str) -> str:
    if not re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", text) or len(text) > 63:
        raise ScenarioError(f"{name}={text!r} is not a namespace name (lower-case letters, digits "
                            "and '-', at most 63)", code="ENV001", field=name)
    return text


def _choice(name: str, text: str, enum: type[ClusterChoice] | type[RollbackPolicy]) -> str:
    allowed = [e.value for e in enum]
    if text not in allowed:
        raise ScenarioError(f"{name}={text!r} must be one of {', '.join(allowed)}", code="ENV001",
                            field=name)
    return text


# CHAOS_* variable -> how it changes the scenario-level settings.
_SETTINGS_ENV: Mapping[str, Callable[[Settings, str, str], Settings]] = MappingProxyType({
    "CHAOS_TIMEOUT": lambda s, n, v: dataclasses.replace(s, timeout=_duration(n, v)),
    "CHAOS_ROLLBACK": lambda s, n, v: dataclasses.replace(
        s, rollback=RollbackPolicy(_choice(n, v, RollbackPolicy))),
    "CHAOS_FAULT_EXPIRY": lambda s, n, v: dataclasses.replace(s, fault_expiry=_duration(n, v)),
    "CHAOS_ROLLBACK_TIMEOUT": lambda s, n, v: dataclasses.replace(s, rollback_timeout=_duration(n, v)),
    "CHAOS_STATE_NAMESPACE": lambda s, n, v: dataclasses.replace(s, state_namespace=_namespace(n, v)),
})
RUN_ENV = ("CHAOS_CLUSTER", "CHAOS_CONTEXT", "CHAOS_REPORTS_DIR")
ENV_VARS: tuple[str, ...] = (*RUN_ENV, *_SETTINGS_ENV)


NOT_NAMED = ("no real cluster was named (--cluster kube, --context, --kubeconfig, the scenario's "
             "settings.cluster or CHAOS_CONTEXT would name one)")


def _cluster(scenario: Scenario, env: Mapping[str, str], flags: Flags) -> tuple[ClusterChoice, str]:
    """Which cluster a run uses and why (the first line of a run says both). A real cluster is
    used only when something names it: an ambient KUBECONFIG or ~/.kube/config never does."""
    if flags.cluster:
        choice = ClusterChoice(_cluster_flag(flags.cluster))
        if choice is ClusterChoice.SIM and (flags.context or flags.kubeconfig):
            raise InputError("--context and --kubeconfig name a real cluster, but --cluster sim asks "
                             "for the embedded one; drop one of them")
        return choice, "named by --cluster"
    if flags.context:
        return ClusterChoice.KUBE, "named by --context"
    if flags.kubeconfig:
        return ClusterChoice.KUBE, "named by --kubeconfig"
    if env.get("CHAOS_CLUSTER"):
        value = _choice("CHAOS_CLUSTER", env["CHAOS_CLUSTER"], ClusterChoice)
        return ClusterChoice(value), "named by CHAOS_CLUSTER"
    if env.get("CHAOS_CONTEXT"):
        return ClusterChoice.KUBE, "named by CHAOS_CONTEXT"
    if scenario.settings.cluster is not None:
        return scenario.settings.cluster, "named by the scenario's settings.cluster"
    return ClusterChoice.SIM, NOT_NAMED


def _cluster_flag(value: str) -> str:
    if value not in [c.value for c in ClusterChoice]:
        raise InputError(f"--cluster must be sim or kube, not {value!r}")
    return value


def resolve(scenario: Scenario, *, env: Mapping[str, str], flags: Flags,
            tool_version: str = "") -> RunSettings:
    """Layer defaults < scenario < CHAOS_* env < flags into one frozen tree. A bad value in the
    environment is a ScenarioError naming the variable (exit 2); nothing has been touched yet."""
    settings = scenario.settings
    for name, change in _SETTINGS_ENV.items():
        if env.get(name):
            settings = change(settings, name, env[name])
    cluster, reason = _cluster(scenario, env, flags)
    context = (flags.context or env.get("CHAOS_CONTEXT") or None) if cluster is ClusterChoice.KUBE else None
    reports_root = Path(env["CHAOS_REPORTS_DIR"]) if env.get("CHAOS_REPORTS_DIR") else Path("reports")
    options = RunOptions(scenario_path=scenario.path, run_dir=flags.report_dir,
                         reports_root=reports_root, yes=flags.yes,
                         allow_privileged=flags.allow_privileged, tool_version=tool_version)
    ignored = tuple(sorted(k for k in env if k.startswith("CHAOS_") and k not in ENV_VARS
                           and not k.startswith("CHAOS_E2E_")))
    return RunSettings(settings, options, cluster, reason, context, flags.kubeconfig, ignored)
