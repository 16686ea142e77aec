"""Warnings and hints from the semantic checks, and how severity decides the exit code."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from runner.scenario.problems import Severity
from runner.scenario.validate import FileResult, ScenarioInvalid, load_scenario, validate_text

HEAD = """apiVersion: chaos/v1
kind: Scenario
metadata: {name: t}
target:
  namespace: inference
  workload: {kind: Deployment, name: vllm-worker}
"""


def check(text: str) -> FileResult:
    return validate_text(HEAD + text, "t.yaml")


def found(result: FileResult) -> list[tuple[str, Severity, str]]:
    return [(p.code, p.severity, p.field) for p in result.problems]


def test_reschedule_for_process_scoped_xid_warns_once() -> None:
    result = check("fault: {xid: 94}\nsteps:\n  - patch: {pin: preferred}\n  - toggle: {}\n"
                   "  - assert-reschedule: {}\n  - cleanup: {}\n")
    # file order: the hint points at the step list, the warning at the step
    assert found(result) == [("CH023", Severity.INFO, "steps"),
                             ("CH022", Severity.WARNING, "steps[2]")]
    assert result.passed()
    assert not result.passed(strict=True)


def test_restart_evidence_silences_the_hint() -> None:
    result = check("fault: {xid: 43}\nsteps:\n  - patch: {}\n  - toggle: {}\n"
                   "  - assert: {pods: {min-restarts: 1}, within: 1m}\n  - cleanup: {}\n")
    assert found(result) == []


def test_missing_cleanup_warns() -> None:
    result = check("steps:\n  - patch: {pin: preferred}\n  - toggle: {}\n  - pause: {duration: 5s}\n")
    assert found(result) == [("CH024", Severity.WARNING, "steps")]
    assert result.problems[0].line == 7  # the `steps:` key


def test_hard_pin_with_reschedule_warns() -> None:
    result = check("steps:\n  - patch: {pin: hard}\n  - toggle: {}\n  - assert-reschedule: {}\n"
                   "  - cleanup: {}\n")
    assert found(result) == [("CH037", Severity.WARNING, "steps[0].patch")]


def test_waiting_before_arming_warns_unless_immediate() -> None:
    steps = "steps:\n  - patch: {pin: preferred}\n  - wait: {for: pod-restarts}\n  - cleanup: {}\n"
    assert found(check(steps)) == [("CH039", Severity.WARNING, "steps[1]")]
    assert found(check("fault: {mode: immediate}\n" + steps)) == []


def test_zero_probability_warns() -> None:
    result = check("fault: {probability: 0}\nsteps:\n  - patch: {pin: preferred}\n  - toggle: {}\n"
                   "  - cleanup: {}\n")
    assert found(result) == [("CH038", Severity.WARNING, "fault.probability")]


def test_opt_ins_and_allow_lists() -> None:
    ok = check("settings:\n  guardrails: {allow-node-xid: true}\nsteps:\n  - patch: {pin: preferred}\n"
               "  - node-xid: {}\n  - cleanup: {}\n")
    assert found(ok) == []
    refused = check("settings:\n  guardrails: {allow-namespaces: [other]}\nsteps:\n  - cleanup: {}\n")
    assert found(refused) == [("CH029", Severity.ERROR, "target.namespace")]
    allowed = validate_text(HEAD.replace("inference", "monitoring")
                            + "settings:\n  guardrails: {allow-namespaces: [monitoring]}\n"
                            "steps:\n  - cleanup: {}\n", "t.yaml")
    assert found(allowed) == []


def test_patch_source_needs_its_location() -> None:
    result = check("steps:\n  - patch: {source: image}\n  - patch: {source: hostPath, name: p2}\n"
                   "  - cleanup: {}\n")
    assert [p.code for p in result.problems] == ["CH032", "CH032"]


def test_configmap_source_warns_it_is_the_old_name_of_compile() -> None:
    from runner.scenario.model import ShimSource

    result = check("steps:\n  - patch: {source: configmap}\n  - patch: {source: compile, name: p2}\n"
                   "  - patch: {name: p3}\n  - cleanup: {}\n")
    assert found(result) == [("CH043", Severity.WARNING, "steps[0].patch.source")]
    assert result.problems[0].line == 8
    assert "old name of `compile`" in result.problems[0].message
    assert result.passed()
    assert not result.passed(strict=True)
    assert result.scenario is not None
    sources = [getattr(s, "source", None) for s in result.scenario.steps[:3]]
    assert sources == [ShimSource.CONFIGMAP, ShimSource.COMPILE, ShimSource.PREBUILT]  # prebuilt: the default
    assert [s.canonical for s in sources] == [ShimSource.COMPILE, ShimSource.COMPILE, ShimSource.PREBUILT]


def test_default_step_names_and_for_key() -> None:
    result = check("steps:\n  - patch:\n  - wait: {for: log-line, pattern: 'x'}\n  - cleanup: {name: done}\n")
    assert result.scenario is not None
    assert [s.name for s in result.scenario.steps] == ["1-patch", "2-wait", "done"]
    assert [s.line for s in result.scenario.steps] == [8, 9, 10]


def test_missing_manifest_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(HEAD + "settings:\n  sim: {manifests: [nope.yaml]}\nsteps:\n  - cleanup: {}\n")
    with pytest.raises(ScenarioInvalid) as info:
        load_scenario(path)
    assert info.value.code == "CH036"
    assert info.value.field == "settings.sim.manifests[0]"
    (tmp_path / "nope.yaml").write_text("kind: List\n")
    assert load_scenario(path).settings.sim.manifests == ("nope.yaml",)


def test_strict_turns_warnings_into_exit_2(tmp_path: Path,
                                           chaos: Callable[..., subprocess.CompletedProcess[str]]) -> None:
    path = tmp_path / "warn.yaml"
    path.write_text(HEAD + "steps:\n  - patch: {pin: preferred}\n  - toggle: {}\n")
    relaxed = chaos(["validate", str(path)])
    assert relaxed.returncode == 0
    assert relaxed.stdout.splitlines()[-1] == "1 file, 0 errors, 1 warning"
    assert f"{path}:7:1  CH024  steps  warning: " in relaxed.stdout
    strict = chaos(["validate", "--strict", str(path)])
    assert strict.returncode == 2


def test_configmap_toggles_need_an_expiry_that_outlasts_renewal_plus_propagation() -> None:
    steps = "steps:\n  - patch: {pin: preferred}\n  - toggle: {}\n  - cleanup: {}\n"
    assert found(check("settings: {toggle-via: configmap}\n" + steps)) == []  # the mode's 10m default
    assert found(check("settings: {fault-expiry: 1m}\n" + steps)) == []  # hostPath lands at once
    assert found(check("settings: {toggle-via: configmap, fault-expiry: 4m40s}\n" + steps)) == []
    assert found(check("settings: {toggle-via: configmap, fault-expiry: 4m39s}\n" + steps)) == [
        ("CH041", Severity.ERROR, "settings.fault-expiry")]
    slow = check("settings: {toggle-via: configmap, configmap-delay: 8m}\n" + steps)
    assert found(slow) == [("CH041", Severity.ERROR, "settings.configmap-delay")]
    assert "use at least 12m" in slow.problems[0].message
