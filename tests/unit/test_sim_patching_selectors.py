"""Patch formats and selectors of the embedded API server, as pure functions (no server)."""

from __future__ import annotations

from typing import Any

import pytest

from runner.errors import ClusterError, Invalid
from runner.sim.patching import (
    JSON_PATCH,
    MERGE_PATCH,
    STRATEGIC_MERGE_PATCH,
    apply_json_patch,
    apply_merge_patch,
    apply_patch,
    apply_strategic_merge_patch,
)
from runner.sim.selectors import FieldSelector, LabelSelector

# RFC 7386, appendix A (target, patch, result).
RFC7386: list[tuple[Any, Any, Any]] = [
    ({"a": "b"}, {"a": "c"}, {"a": "c"}),
    ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
    ({"a": "b"}, {"a": None}, {}),
    ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
    ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
    ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
    ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
    ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
    (["a", "b"], ["c", "d"], ["c", "d"]),
    ({"a": "b"}, ["c"], ["c"]),
    ({"a": "foo"}, None, None),
    ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
    ([1, 2], {"a": "b", "c": None}, {"a": "b"}),
    ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
]


@pytest.mark.parametrize(("target", "patch", "result"), RFC7386)
def test_merge_patch_rfc7386_examples(target: Any, patch: Any, result: Any) -> None:
    assert apply_merge_patch(target, patch) == result


def test_json_patch_operations_and_atomicity() -> None:
    doc = {"a": {"b": [1, 2, 3]}, "x/y": 1, "m~n": 2}
    out = apply_json_patch(doc, [
        {"op": "remove", "path": "/a/b/0"},
        {"op": "add", "path": "/a/b/1", "value": 9},
        {"op": "copy", "from": "/a/b", "path": "/c"},
        {"op": "move", "from": "/x~1y", "path": "/moved"},
        {"op": "test", "path": "/m~0n", "value": 2},
        {"op": "replace", "path": "/m~0n", "value": 3},
    ])
    assert out == {"a": {"b": [2, 9, 3]}, "c": [2, 9, 3], "moved": 1, "m~n": 3}
    assert doc == {"a": {"b": [1, 2, 3]}, "x/y": 1, "m~n": 2}  # input untouched
    with pytest.raises(Invalid) as failed:
        apply_json_patch(doc, [{"op": "test", "path": "/a/b/0", "value": 7}])
    assert failed.value.status == 422
    assert failed.value.reason == "Invalid"
    with pytest.raises(Invalid):
        apply_json_patch(doc, [{"op": "replace", "path": "/missing", "value": 1}])
    with pytest.raises(ClusterError) as bad:
        apply_patch({}, JSON_PATCH, b"{not json")
    assert bad.value.status == 400


def test_strategic_merge_by_keys_and_directives() -> None:
    spec = {"containers": [{"name": "a", "image": "1", "env": [{"name": "X", "value": "1"}]},
                           {"name": "b", "image": "2"}],
            "tolerations": [{"key": "k1", "operator": "Exists"}], "nodeSelector": {"z": "1"}}
    out = apply_strategic_merge_patch(spec, {
        "containers": [{"name": "a", "env": [{"name": "Y", "value": "2"}, {"name": "X", "$patch": "delete"}]},
                       {"name": "b", "$patch": "delete"}, {"name": "c", "image": "3"}],
        "tolerations": [{"key": "k2", "operator": "Exists"}],
        "nodeSelector": {"$patch": "replace", "gpu": "h100"},
    })
    assert out["containers"] == [{"name": "a", "image": "1", "env": [{"name": "Y", "value": "2"}]},
                                 {"name": "c", "image": "3"}]
    assert [t["key"] for t in out["tolerations"]] == ["k1", "k2"]
    assert out["nodeSelector"] == {"gpu": "h100"}
    replaced = apply_strategic_merge_patch(spec, {"containers": [{"name": "only", "image": "x"},
                                                                 {"$patch": "replace"}]})
    assert replaced["containers"] == [{"name": "only", "image": "x"}]
    finalizers = apply_patch({"metadata": {"finalizers": ["a"]}}, STRATEGIC_MERGE_PATCH,
                             b'{"metadata": {"finalizers": ["b", "a"]}}')
    assert finalizers == {"metadata": {"finalizers": ["a", "b"]}}
    assert apply_patch({"a": 1}, MERGE_PATCH, b'{"a": null}') == {}
    with pytest.raises(Invalid) as unknown:
        apply_patch({}, "application/yaml", b"{}")
    assert unknown.value.status == 415


@pytest.mark.parametrize(("selector", "labels", "expected"), [
    ("app=web", {"app": "web"}, True),
    ("app==web", {"app": "db"}, False),
    ("app!=web", {}, True),
    ("env in (prod, staging)", {"env": "staging"}, True),
    ("env notin (prod)", {}, True),
    ("env notin (prod)", {"env": "prod"}, False),
    ("gpu", {"gpu": ""}, True),
    ("!gpu", {"gpu": "1"}, False),
    ("app=web,tier in (a,b),!canary", {"app": "web", "tier": "b"}, True),
    ("", {"anything": "x"}, True),
])
def test_label_selector(selector: str, labels: dict[str, str], expected: bool) -> None:
    assert LabelSelector.parse(selector).matches(labels) is expected


def test_selector_errors_and_fields() -> None:
    with pytest.raises(ClusterError) as bad:
        LabelSelector.parse("a in b")
    assert bad.value.status == 400
    pod = {"metadata": {"name": "p", "namespace": "ns"}, "spec": {"nodeName": "n1"},
           "status": {"phase": "Running"}}
    assert FieldSelector.parse("spec.nodeName=n1,status.phase!=Pending").matches(pod)
    assert not FieldSelector.parse("metadata.namespace==other").matches(pod)
    with pytest.raises(ClusterError):
        FieldSelector.parse("spec.containers=x")
