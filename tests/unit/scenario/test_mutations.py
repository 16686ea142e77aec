"""Property: any mutation of a valid scenario yields problems or a scenario, never a crash.

Mutations work on the parsed data (delete, rename, retype, change values, insert junk) and on
the raw text (splice junk characters in). Whatever comes out, validation returns a FileResult
whose problems carry known codes and real places; nothing but ScenarioError may escape.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runner.errors import ScenarioError
from runner.scenario.problems import CODES
from runner.scenario.validate import FileResult, validate_text

REPO = Path(__file__).resolve().parents[3]
TEXTS = [p.read_text(encoding="utf-8") for p in sorted((REPO / "scenarios").glob("*.yaml"))]
JUNK: Any = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=True),
                      st.text(max_size=20), st.lists(st.integers(), max_size=3),
                      st.dictionaries(st.text(max_size=8), st.integers(), max_size=3))


def paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            out += paths(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            out += paths(value, (*prefix, i))
    return out


def get(node: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        node = node[part]
    return node


@st.composite
def mutated(draw: st.DrawFn) -> str:
    data = yaml.safe_load(draw(st.sampled_from(TEXTS)))
    for _ in range(draw(st.integers(1, 3))):
        where = draw(st.sampled_from(paths(data)))
        if not where:
            continue
        parent, last = get(data, where[:-1]), where[-1]
        action = draw(st.sampled_from(["delete", "rename", "replace", "insert", "swap"]))
        if action == "delete":
            del parent[last]
        elif action == "rename" and isinstance(parent, dict):
            parent[draw(st.text(min_size=1, max_size=12))] = parent.pop(last)
        elif action == "insert" and isinstance(parent, dict):
            parent[draw(st.text(max_size=12))] = draw(JUNK)
        elif action == "swap":
            value = parent[last]
            parent[last] = [value] if not isinstance(value, list) else {"x": value}
        else:
            parent[last] = draw(JUNK)
        if not isinstance(data, dict):
            break
    return yaml.safe_dump(data, allow_unicode=True)


def assert_clean(result: FileResult) -> None:
    assert isinstance(result, FileResult)
    for problem in result.problems:
        assert problem.code in CODES
        assert problem.line >= 1
        assert problem.column >= 1
        assert problem.message


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_data_mutations_never_crash(text: str) -> None:
    assert_clean(validate_text(text, "m.yaml"))


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(TEXTS), st.integers(0, 4000), st.integers(0, 40),
       st.text(alphabet=st.characters(codec="utf-8"), max_size=12))
def test_text_splices_never_crash(text: str, at: int, cut: int, junk: str) -> None:
    at = min(at, len(text))
    spliced = text[:at] + junk + text[at + cut:]
    try:
        result = validate_text(spliced, "m.yaml")
    except ScenarioError:  # allowed by contract, though validate_text reports instead of raising
        return
    assert_clean(result)
