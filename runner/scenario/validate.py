"""Validation as a library: file -> load -> schema (every error, placed) -> model -> semantic checks.

`chaos validate`, `chaos run` and tests all come through here; the CLI only renders the results.
The schema validator is compiled once per process (1,000 files in well under a second), and every
jsonschema error is translated into one `Problem` with a code, the offending node's line and
column and a dotted field path. Nothing here prints, and nothing here touches a cluster.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runner import xid as xids
from runner.errors import Position, ScenarioError
from runner.scenario import loader
from runner.scenario.build import build_scenario, dotted
from runner.scenario.checks import run_checks, unknown_xid_message
from runner.scenario.model import Duration, Scenario
from runner.scenario.problems import Problem, Severity

if TYPE_CHECKING:
    from jsonschema import ValidationError
    from jsonschema.protocols import Validator

SCENARIO_SUFFIXES = (".yaml", ".yml")
SKIPPED_DIRS = frozenset({"manifests"})  # Kubernetes manifests that scenarios apply, not scenarios


@dataclass(frozen=True)
class FileResult:
    """Everything validation found in one file; `scenario` is set when it is usable."""

    path: str
    problems: tuple[Problem, ...]
    scenario: Scenario | None = None

    def count(self, severity: Severity) -> int:
        return sum(1 for p in self.problems if p.severity is severity)

    @property
    def errors(self) -> int:
        return self.count(Severity.ERROR)

    @property
    def warnings(self) -> int:
        return self.count(Severity.WARNING)

    def passed(self, strict: bool = False) -> bool:
        return self.errors == 0 and not (strict and self.warnings)


class ScenarioInvalid(ScenarioError):
    """A scenario with errors; carries every problem, reports the first."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        first = problems[0]
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        position = Position(first.file, first.line, first.column)  # line 0: the whole file
        super().__init__(first.message + more, position, first.code, first.field)
        self.problems = tuple(problems)


# --- the schema ------------------------------------------------------------------------------


def schema_text() -> str:
    """The scenario JSON Schema as shipped in the package (same bytes as schema/ in the repo)."""
    return resources.files("runner").joinpath("data/scenario.schema.json").read_text("utf-8")


@cache
def schema() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(schema_text())
    return loaded


# keywords jsonschema would look at on every visit for nothing (annotations) or that we inline
_NOT_VALIDATED = frozenset({"$ref", "$defs", "examples", "description", "default", "title"})


def _inline(node: Any, defs: dict[str, Any]) -> Any:
    """`node` with every local `$ref` replaced by its target, annotations dropped.

    jsonschema resolves a `$ref` on every visit; a ref-free, annotation-free copy validates about
    twice as fast. The schema has no recursive definitions, so this terminates. Property names
    (under `properties`) are kept as they are: `description` is a scenario key too.
    """
    if isinstance(node, list):
        return [_inline(item, defs) for item in node]
    if not isinstance(node, dict):
        return node
    out = {k: ({name: _inline(sub, defs) for name, sub in v.items()} if k == "properties"
               else _inline(v, defs))
           for k, v in node.items() if k not in _NOT_VALIDATED}
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        return {**_inline(defs[ref.removeprefix("#/$defs/")], defs), **out}
    return out


@cache
def _validator() -> Validator:
    from jsonschema import Draft202012Validator  # imported on first use: `chaos --help` stays fast

    full = schema()
    return Draft202012Validator(_inline(full, full["$defs"]))


# --- entry points ----------------------------------------------------------------------------


def validate_file(path: str | Path, display: str | None = None) -> FileResult:
    """Validate one scenario file; never raises for anything wrong with the file."""
    name = display or str(path)
    try:
        text = loader.read_text(path, name)
    except ScenarioError as exc:
        return FileResult(name, (_from_error(exc, name),))
    return validate_text(text, name)


def validate_text(text: str, file: str = "<string>") -> FileResult:
    """Validate scenario text (the file name is only used in messages and for relative paths)."""
    try:
        doc = loader.parse(text, file)
    except ScenarioError as exc:
        return FileResult(file, (_from_error(exc, file),))
    problems = schema_problems(doc)
    if problems:
        return FileResult(file, tuple(problems))
    try:
        scenario = build_scenario(doc)
    except ScenarioError as exc:
        return FileResult(file, (_from_error(exc, file),))
    return FileResult(file, tuple(run_checks(scenario, doc)), scenario)


def load_scenario(path: str | Path) -> Scenario:
    """The scenario in `path`, or ScenarioInvalid (a ScenarioError) listing every error."""
    result = validate_file(path)
    errors = [p for p in result.problems if p.severity is Severity.ERROR]
    if errors or result.scenario is None:
        raise ScenarioInvalid(errors or list(result.problems))
    return result.scenario


def expand_paths(paths: Iterable[str | Path]) -> Iterator[Path]:
    """Files as given; directories -> their *.yaml/*.yml files, recursively, sorted, minus manifests/."""
    for raw in paths:
        path = Path(raw)
        if not path.is_dir():
            yield path
            continue
        for found in sorted(path.rglob("*")):
            relative = found.relative_to(path).parts[:-1]
            if found.suffix in SCENARIO_SUFFIXES and found.is_file() and not SKIPPED_DIRS & set(relative):
                yield found


def _from_error(exc: ScenarioError, file: str) -> Problem:
    pos = exc.position or Position(file, 0, 0)
    return Problem.make(exc.code, exc.message, file=pos.file, line=pos.line, column=pos.column,
                        field=exc.field)


# --- schema errors -> problems ---------------------------------------------------------------


def schema_problems(doc: loader.Document) -> list[Problem]:
    """Every schema violation in `doc`, one placed problem each, in file order."""
    found: dict[tuple[str, str, str], Problem] = {}
    for error in _validator().iter_errors(doc.data):
        for problem in _translate(error, doc):
            found.setdefault((problem.code, problem.field, problem.message), problem)
    return sorted(found.values(), key=lambda p: (p.line, p.column, p.field))


def _kind_of(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return f"a number ({value})"
    if isinstance(value, str):
        return f"text ({value!r})"
    return "a list" if isinstance(value, list) else "a mapping"


_TYPE_NAMES = {"object": "a mapping", "array": "a list", "string": "text", "integer": "an integer",
               "number": "a number", "boolean": "true or false", "null": "nothing"}


def _suggest(word: str, options: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}? " if close else ""


def _is_duration(error: ValidationError) -> bool:
    pattern = schema()["$defs"]["duration"]["pattern"]
    return isinstance(error.schema, dict) and error.schema.get("pattern") == pattern


def _translate(error: ValidationError, doc: loader.Document) -> Iterator[Problem]:
    path: tuple[str | int, ...] = tuple(error.absolute_path)
    kind = str(error.validator)
    value: Any = error.instance
    rule: Any = error.validator_value
    sub: dict[str, Any] = error.schema if isinstance(error.schema, dict) else {}

    def at(code: str, message: str, where: tuple[str | int, ...] = path, *, key: bool = False,
           hint: str | None = None) -> Problem:
        pos = doc.position(where, key=key)
        return Problem.make(code, message, file=doc.file, line=pos.line, column=pos.column,
                            field=dotted(where), hint=hint)

    is_step = len(path) == 2 and path[0] == "steps"
    if "propertyNames" in error.absolute_schema_path:
        return  # the same unknown key is reported (with a suggestion) by additionalProperties
    if kind == "additionalProperties":
        allowed = list(sub.get("properties", {}))
        for key in [k for k in value if k not in allowed]:
            what = "step kind" if is_step else "key"
            owner = f" in {dotted(path)}" if path else ""
            yield at("CH010", f"unknown {what} {key!r}{owner}; {_suggest(key, allowed)}"
                     f"allowed: {', '.join(allowed)}", (*path, key), key=True)
    elif kind == "required":
        for key in [k for k in rule if k not in value]:
            owner = dotted(path) or "the scenario"
            yield at("CH011", f"{owner} needs {key!r}", (*path, key), hint=f"add `{key}:` here")
    elif kind in ("minProperties", "maxProperties") and is_step:
        keys = ", ".join(value) or "nothing"
        yield at("CH015", f"a step names exactly one kind; this one has {keys}")
    elif kind == "type":
        wanted = [rule] if isinstance(rule, str) else list(rule)
        if _is_duration(error):
            yield at("CH014", f"expected a duration such as 30s or 5m, got {_kind_of(value)}",
                     hint="durations are text with a unit: 30s, 5m, 1h30m")
            return
        names = " or ".join(_TYPE_NAMES.get(w, w) for w in wanted if w != "null") or "nothing"
        hint = None
        if "string" in wanted and isinstance(value, bool | int | float):
            hint = f"quote it to make it text: \"{value if not isinstance(value, bool) else str(value)}\""
        elif "boolean" in wanted and isinstance(value, str) and value.lower() in _YAML11_BOOLS:
            meant = "true" if _YAML11_BOOLS[value.lower()] else "false"
            hint = (f"YAML 1.2, which the schema and editors read, has no {value!r} boolean: "
                    f"write {meant}")
        yield at("CH012", f"expected {names}, got {_kind_of(value)}", hint=hint)
    elif kind == "enum" and path and path[-1] == "xid":
        yield at("CH020", unknown_xid_message(value) if isinstance(value, int) else
                 f"XID must be one of {', '.join(map(str, xids.supported()))}, got {_kind_of(value)}")
    elif kind == "enum":
        options = [str(o) for o in rule]
        shown = ", ".join(repr(o) for o in options)
        yield at("CH013", f"{_kind_of(value)} is not allowed; {_suggest(str(value), options)}"
                 f"use one of: {shown}")
    elif kind == "const":
        yield at("CH013", f"must be {rule!r}, got {_kind_of(value)}")
    elif kind == "pattern" and _is_duration(error):
        try:
            Duration.parse(value)
            message = f"{value!r} is not a duration"
        except ValueError as exc:
            message = str(exc)
        yield at("CH014", message)
    elif kind == "pattern":
        yield at("CH013", f"{value!r} must be lower-case letters, digits and '-', starting and ending "
                 "with a letter or digit")
    else:
        yield at("CH013", _range_message(kind, rule, value))


# YAML 1.1 booleans: text under YAML 1.2's core schema; what each one meant, for the hint
_YAML11_BOOLS = {"yes": True, "y": True, "on": True, "no": False, "n": False, "off": False}


def _range_message(kind: str, rule: Any, value: Any) -> str:
    messages = {
        "minimum": f"must be at least {rule}, got {value}",
        "maximum": f"must be at most {rule}, got {value}",
        "exclusiveMinimum": f"must be more than {rule}, got {value}",
        "minLength": "must not be empty" if rule == 1 else f"must be at least {rule} characters",
        "maxLength": f"must be at most {rule} characters",
        "minItems": "must not be empty" if rule == 1 else f"needs at least {rule} items",
        "uniqueItems": "has duplicate items",
    }
    return messages.get(kind, f"not allowed here ({kind})")
