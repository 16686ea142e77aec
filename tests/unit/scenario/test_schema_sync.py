"""The published schema and the Python model say the same thing.

Enums equal the Python enums and the XID catalogue; every model field is reachable from the schema
under its YAML key and every schema property maps to a model field; defaults agree; the packaged
copy is the published file byte for byte; every property is described for editors.
"""

from __future__ import annotations

import dataclasses
import json
import typing
from collections.abc import Iterator, Mapping
from enum import Enum
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from runner import xid
from runner.scenario import model as m
from runner.scenario.build import SCENARIO_NOT_IN_YAML, STEP_NOT_IN_YAML, yaml_fields
from runner.scenario.validate import schema, schema_text

REPO = Path(__file__).resolve().parents[3]
SCHEMA: dict[str, Any] = schema()
DEFS = SCHEMA["$defs"]


def resolve(node: dict[str, Any]) -> dict[str, Any]:
    ref = node.get("$ref")
    return {**DEFS[ref.removeprefix("#/$defs/")], **node} if ref else node


def walk(node: Any, where: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(node, dict):
        yield where, node
        for key, value in node.items():
            if key == "properties":
                for name, sub in value.items():
                    yield from walk(sub, f"{where}.{name}")
            elif key in ("items", "additionalProperties") and isinstance(value, dict):
                yield from walk(value, f"{where}[]")
            elif key == "$defs":
                for name, sub in value.items():
                    yield from walk(sub, f"$defs.{name}")


def test_packaged_schema_is_the_published_file() -> None:
    published = (REPO / "schema" / "scenario.schema.json").read_text(encoding="utf-8")
    assert schema_text() == published


def test_schema_is_valid_2020_12_with_id() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert SCHEMA["$id"].startswith("https://")
    validator = jsonschema.Draft202012Validator(SCHEMA)
    for example in SCHEMA["examples"]:
        assert list(validator.iter_errors(example)) == []


def test_every_property_is_described_and_every_object_closed() -> None:
    for where, node in walk(SCHEMA):
        for name, sub in node.get("properties", {}).items():
            assert resolve(sub).get("description"), f"{where}.{name} has no description"
        if node.get("type") in ("object", ["object", "null"]) and "properties" in node:
            assert node.get("additionalProperties") is False, f"{where} accepts unknown keys"


def enum_of(node: dict[str, Any]) -> list[Any]:
    return list(resolve(node)["enum"])


def values(enum: type[Enum]) -> list[Any]:
    return [e.value for e in enum]


def test_xid_enums_are_the_catalogue() -> None:
    expected = xid.supported()
    props = SCHEMA["properties"]
    assert enum_of(props["fault"]["properties"]["xid"]) == expected
    assert DEFS["step-toggle"]["properties"]["xid"]["enum"] == expected
    assert DEFS["step-node-xid"]["properties"]["xid"]["enum"] == expected
    assert props["fault"]["properties"]["xid"]["default"] == xid.DEFAULT_XID


def test_step_kinds_are_the_enum() -> None:
    assert DEFS["stepKind"]["enum"] == values(m.StepKind)
    assert list(DEFS["step"]["properties"]) == values(m.StepKind)
    assert set(m.STEP_CLASSES) == set(m.StepKind)


def object_schema(node: dict[str, Any]) -> dict[str, Any]:
    return resolve(node)


def model_pairs() -> Iterator[tuple[str, type, dict[str, Any], frozenset[str]]]:
    """(where, model class, its schema object, fields the YAML does not carry)."""
    props = SCHEMA["properties"]
    settings = props["settings"]["properties"]
    yield "metadata", m.Metadata, props["metadata"], frozenset()
    yield "target", m.Target, props["target"], frozenset()
    yield "target.workload", m.WorkloadRef, props["target"]["properties"]["workload"], frozenset()
    yield "fault", m.Fault, props["fault"], frozenset()
    yield "settings", m.Settings, props["settings"], frozenset()
    yield "settings.guardrails", m.Guardrails, settings["guardrails"], frozenset()
    yield "settings.sim", m.SimSettings, settings["sim"], frozenset()
    yield "settings.sim.nodes[]", m.SimNode, settings["sim"]["properties"]["nodes"]["items"], frozenset()
    for kind, cls in m.STEP_CLASSES.items():
        yield f"steps[].{kind.value}", cls, DEFS[f"step-{kind.value}"], STEP_NOT_IN_YAML
    yield "probes[]", m.Probe, DEFS["probe"], frozenset()
    yield "probes[].service", m.ServiceRef, DEFS["serviceRef"], frozenset()
    yield "steps[].probe.service", m.ServiceRef, DEFS["step-probe"]["properties"]["service"], frozenset()
    yield "probes[].slo", m.ProbeSlo, DEFS["probeSlo"], frozenset()
    yield "probes[].slo.fault", m.PhaseSlo, DEFS["phaseSlo"], frozenset()
    assert_step = DEFS["step-assert"]["properties"]
    yield "assert.pods", m.PodExpectation, assert_step["pods"], frozenset()
    yield "assert.node", m.NodeExpectation, assert_step["node"], frozenset()
    yield "assert.logs", m.LogExpectation, assert_step["logs"], frozenset()


@pytest.mark.parametrize(("where", "cls", "node", "skip"), list(model_pairs()), ids=lambda v: str(v)
                         if isinstance(v, str) else "")
def test_model_fields_and_schema_properties_match(where: str, cls: type, node: dict[str, Any],
                                                  skip: frozenset[str]) -> None:
    assert set(object_schema(node)["properties"]) == set(yaml_fields(cls, skip)), where


def test_scenario_top_level_matches() -> None:
    top = set(yaml_fields(m.Scenario, SCENARIO_NOT_IN_YAML)) | {"steps", "apiVersion", "kind"}
    assert set(SCHEMA["properties"]) == top
    api_version = m.Scenario.__dataclass_fields__["api_version"].default
    assert SCHEMA["properties"]["apiVersion"]["const"] == api_version


def schema_default_of(value: Any) -> Any:
    """A model default as the YAML would spell it."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, m.Duration):
        return value.text
    if isinstance(value, tuple):
        return [schema_default_of(v) for v in value]
    if isinstance(value, Mapping):
        return dict(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: schema_default_of(getattr(value, f.name)) for f in dataclasses.fields(value)}
    return value


@pytest.mark.parametrize(("where", "cls", "node", "skip"), list(model_pairs()), ids=lambda v: str(v)
                         if isinstance(v, str) else "")
def test_schema_defaults_are_model_defaults(where: str, cls: type, node: dict[str, Any],
                                            skip: frozenset[str]) -> None:
    props = object_schema(node)["properties"]
    hints = typing.get_type_hints(cls)
    for field in dataclasses.fields(cls):
        if field.name in skip or field.name in ("name", "timeout"):
            continue
        key = field.name.rstrip("_").replace("_", "-")
        prop = resolve(props[key])
        if field.default is not dataclasses.MISSING:
            default = field.default
        elif field.default_factory is not dataclasses.MISSING:
            default = field.default_factory()
        else:
            assert "default" not in prop, f"{where}.{key}: required in the model, defaulted in the schema"
            continue
        if default is None or dataclasses.is_dataclass(hints[field.name]):
            continue  # optional parts and nested objects: documented in their own properties
        assert "default" in prop, f"{where}.{key} documents no default"
        expected = schema_default_of(default)
        if key == "nodes":
            expected = [{"count": 3, "gpus": 1}]  # product left out of the example on purpose
            assert [dict(list(n.items())[:2]) for n in schema_default_of(default)] == expected
        assert prop["default"] == expected, f"{where}.{key}"


@pytest.mark.parametrize(("path", "enum"), [
    (("fault", "mode"), m.FaultMode),
    (("settings", "rollback"), m.RollbackPolicy),
    (("settings", "cluster"), m.ClusterChoice),
    (("settings", "toggle-via"), m.ToggleVia),
    (("target", "workload", "kind"), m.WorkloadKind),
])
def test_part_enums_equal_python_enums(path: tuple[str, ...], enum: type[Enum]) -> None:
    node: dict[str, Any] = SCHEMA
    for key in path:
        node = resolve(node["properties"][key])
    assert node["enum"] == values(enum)


@pytest.mark.parametrize(("step", "key", "enum"), [
    ("patch", "pin", m.PinMode), ("patch", "source", m.ShimSource), ("toggle", "method", m.ToggleMethod),
    ("wait", "for", m.WaitFor),
])
def test_step_enums_equal_python_enums(step: str, key: str, enum: type[Enum]) -> None:
    assert DEFS[f"step-{step}"]["properties"][key]["enum"] == values(enum)


def test_api_classes_equal_python_enum() -> None:
    apis = SCHEMA["properties"]["fault"]["properties"]["apis"]
    assert apis["items"]["enum"] == values(m.ApiClass)


def test_duration_pattern_agrees_with_parser() -> None:
    import re

    pattern = re.compile(DEFS["duration"]["pattern"])
    for text in ["500ms", "30s", "5m", "1h30m", "1.5s", "2h", "0s", "1h2m3s", "90s"]:
        assert pattern.match(text)
        assert m.Duration.parse(text).seconds >= 0
    for text in ["5", "5 m", "m", "1d", "-1s", "5M", "1m1h"]:
        assert not pattern.match(text)
        with pytest.raises(ValueError, match="not a duration"):
            m.Duration.parse(text)


def test_schema_json_is_stable_text() -> None:
    # the published file is what `json.dumps(..., indent=2)` writes, so diffs stay readable
    assert schema_text() == json.dumps(SCHEMA, indent=2) + "\n"


def test_one_duration_grammar_in_the_model_and_the_schema() -> None:
    """The published pattern is the model's, without its group names: editors and chaos validate
    accept and refuse the same durations."""
    import re

    from runner.scenario.model import DURATION_RE

    duration = json.loads((REPO / "schema" / "scenario.schema.json").read_text())["$defs"]["duration"]
    unnamed = re.sub(r"\(\?P<\w+>([^()]*(?:\([^()]*\)[^()]*)*)\)", r"\1", DURATION_RE.pattern)
    assert duration["pattern"] == unnamed
    assert "500ms" in duration["patternErrorMessage"]  # what an editor shows instead of the regex


def test_yaml_1_1_booleans_are_the_same_error_for_the_schema_and_for_chaos_validate(tmp_path: Path) -> None:
    import jsonschema
    import yaml

    text = (REPO / "scenarios" / "xid79.yaml").read_text().replace("{enabled: true}", "{enabled: yes}")
    assert "enabled: yes" in text
    # an editor's view: YAML 1.2 (yes is text), then the published schema
    published = json.loads((REPO / "schema" / "scenario.schema.json").read_text())
    data = yaml.load(text, Loader=yaml.BaseLoader)  # no YAML 1.1 resolution at all: every scalar text
    errors = [e for e in jsonschema.Draft202012Validator(published).iter_errors(data)
              if list(e.absolute_path)[-1:] == ["enabled"]]
    assert errors, "the schema accepts 'yes' as a boolean"
    path = tmp_path / "xid79.yaml"
    path.write_text(text)
    from runner.scenario.validate import validate_file

    problems = validate_file(path).problems
    assert [p.field for p in problems if p.severity.value == "error"] == ["steps[3].toggle.enabled"]
