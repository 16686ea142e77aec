"""Schema-valid YAML data -> the frozen model objects of `runner.scenario.model`.

Runs only after the schema accepted the data, so it converts rather than checks. One rule maps
every model field to its YAML key (`after_calls` -> `after-calls`, `for_` -> `for`), driven by the
dataclasses' own type hints, so a field added to the model is read without touching this file
(and the schema sync test notices the schema lacks it). No I/O, no semantic checks here.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from enum import Enum
from functools import cache
from typing import Any

from runner.errors import ScenarioError
from runner.scenario import model as m
from runner.scenario.loader import Document, PathKey

STEP_NOT_IN_YAML = frozenset({"kind", "line"})  # StepBase fields the builder fills itself
SCENARIO_NOT_IN_YAML = frozenset({"path", "api_version", "steps"})


def yaml_key(field_name: str) -> str:
    """The YAML spelling of a model field: kebab-case, trailing `_` dropped (`for_` -> `for`)."""
    return field_name.rstrip("_").replace("_", "-")


def dotted(path: PathKey) -> str:
    """`("steps", 2, "toggle", "enabled")` -> `steps[2].toggle.enabled`."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def yaml_fields(cls: type, skip: frozenset[str] = frozenset()) -> dict[str, str]:
    """YAML key -> model field name for a model dataclass."""
    return {yaml_key(f.name): f.name for f in dataclasses.fields(cls) if f.name not in skip}


def build_scenario(doc: Document) -> m.Scenario:
    """The Scenario for a schema-valid document; ScenarioError (with position) on a bad value."""
    data: dict[str, Any] = doc.data
    return m.Scenario(
        metadata=_build(m.Metadata, data["metadata"], ("metadata",), doc),
        target=_build(m.Target, data["target"], ("target",), doc),
        fault=_build(m.Fault, data.get("fault") or {}, ("fault",), doc),
        settings=_build(m.Settings, data.get("settings") or {}, ("settings",), doc),
        steps=tuple(_step(i, item, doc) for i, item in enumerate(data["steps"])),
        path=doc.file,
        api_version=data["apiVersion"],
        probes=tuple(_build(m.Probe, item, ("probes", i), doc)
                     for i, item in enumerate(data.get("probes") or [])),
    )


def _step(index: int, item: dict[str, Any], doc: Document) -> m.StepBase:
    (key, body), = item.items()
    kind = m.StepKind(key)
    body = body or {}
    path: PathKey = ("steps", index, key)
    step_cls = m.STEP_CLASSES[kind]
    kwargs = _fields(step_cls, body, path, doc, STEP_NOT_IN_YAML)
    kwargs.setdefault("name", f"{index + 1}-{kind.value}")
    return step_cls(kind=kind, line=doc.position(("steps", index)).line, **kwargs)


def _build(cls: type[Any], data: Mapping[str, Any], path: PathKey, doc: Document) -> Any:
    return cls(**_fields(cls, data, path, doc))


@cache
def _plan(cls: type, skip: frozenset[str]) -> tuple[tuple[str, str, Any], ...]:
    """(YAML key, field name, type hint) for each field: worked out once per class."""
    hints = _hints(cls)
    return tuple((key, name, hints[name]) for key, name in yaml_fields(cls, skip).items())


def _fields(cls: type, data: Mapping[str, Any], path: PathKey, doc: Document,
            skip: frozenset[str] = frozenset()) -> dict[str, Any]:
    kwargs: dict[str, Any] = {}
    for key, name, hint in _plan(cls, skip):
        if key in data:
            kwargs[name] = _convert(hint, data[key], (*path, key), doc)
    return kwargs


def _convert(hint: Any, value: Any, path: PathKey, doc: Document) -> Any:
    if hint is str or hint is bool or hint is int:
        return value  # the schema already checked the type
    origin = typing.get_origin(hint)
    if origin in (types.UnionType, typing.Union):  # `X | None`, or plain values (`int | str`)
        if value is None:
            return None
        arms = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(arms) > 1:
            return value  # the schema already checked it is one of them
        return _convert(arms[0], value, path, doc)
    if origin is tuple:
        item = typing.get_args(hint)[0]
        return tuple(_convert(item, v, (*path, i), doc) for i, v in enumerate(value))
    if origin is Mapping:
        return m.frozen_map({str(k): str(v) for k, v in value.items()})
    if hint is m.Duration:
        try:
            return m.Duration.parse(value)
        except ValueError as exc:
            raise ScenarioError(str(exc), doc.position(path), "CH014", dotted(path)) from None
    if isinstance(hint, type) and issubclass(hint, Enum):
        return hint(value)
    if dataclasses.is_dataclass(hint):
        return _build(typing.cast(type, hint), value, path, doc)
    if hint is float:
        return float(value)
    return value  # str, int, bool: the schema already checked the type
