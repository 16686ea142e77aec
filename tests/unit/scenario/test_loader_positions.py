"""The loader keeps a line and column for every node and key, and reads only plain YAML data."""

from __future__ import annotations

import pytest

from runner.errors import ScenarioError
from runner.scenario import loader


def test_positions_of_values_and_keys() -> None:
    doc = loader.parse("a: 1\nb:\n  - x\n  - {c: yes, d: 1.5}\n", "f.yaml")
    assert doc.data == {"a": 1, "b": ["x", {"c": "yes", "d": 1.5}]}
    assert doc.values[("a",)] == (1, 4)
    assert doc.values[("b", 0)] == (3, 5)
    assert doc.values[("b", 1, "d")] == (4, 17)
    assert doc.keys[("b", 1, "d")] == (4, 14)
    assert str(doc.position(("b", 1, "c"), key=True)) == "f.yaml:4:6"


def test_position_inside_alias_falls_back_to_alias() -> None:
    doc = loader.parse("base: &b {x: 1}\ncopy: *b\n")
    assert doc.data["copy"] == {"x": 1}
    assert doc.position(("copy", "x")).line == 2


def test_keys_are_text_as_written_and_dates_stay_text() -> None:
    doc = loader.parse("yes: 2024-01-01\n79: on\nnull: ~\n")
    assert doc.data == {"yes": "2024-01-01", "79": "on", "null": None}


def test_bom_and_crlf_are_fine() -> None:
    doc = loader.parse(loader.decode(b"\xef\xbb\xbfa: 1\r\nb: 2\r\n", "f"), "f")
    assert doc.data == {"a": 1, "b": 2}
    assert doc.values[("b",)] == (2, 4)


@pytest.mark.parametrize(("text", "code"), [
    ("a: !!binary aGVsbG8=", "CH007"),
    ("a: !!set {x}", "CH007"),
    ("!!python/name:os.system a", "CH007"),
    ("a: !!int nope", "CH004"),
    ("? [x]\n: 1", "CH004"),
    ("a: &x [*x]", "CH008"),
    ("&k a: 1", "CH007"),
    ("b: 1\n*k : 2", "CH007"),
])
def test_refused_constructs(text: str, code: str) -> None:
    with pytest.raises(ScenarioError) as info:
        loader.parse(text)
    assert info.value.code == code


def test_text_size_is_bounded_too() -> None:
    with pytest.raises(ScenarioError) as info:
        loader.parse("a: " + "x" * (loader.MAX_BYTES + 1))
    assert info.value.code == "CH002"


@pytest.mark.parametrize(("text", "value"), [
    ("yes", "yes"), ("on", "on"), ("No", "No"), ("off", "off"), ("y", "y"),  # YAML 1.1 booleans
    ("true", True), ("False", False), ("TRUE", True),
    ("010", 10), ("0o17", 15), ("0x1F", 31), ("1_000", "1_000"), ("1:30", "1:30"),  # no octal 010,
    ("1e3", 1000.0), ("-.5", -0.5), (".inf", float("inf")), ("~", None), ("", None),  # no sexagesimal
    ("'true'", "true"), ('"010"', "010"),
])
def test_plain_scalars_follow_the_yaml_1_2_core_schema(text: str, value: object) -> None:
    """What the published JSON Schema and editors (yaml-language-server) read: one YAML."""
    assert loader.parse(f"k: {text}\n").data == {"k": value}


def test_an_explicit_tag_must_fit_the_core_schema() -> None:
    with pytest.raises(ScenarioError, match="cannot be read as bool"):
        loader.parse("k: !!bool yes\n")
