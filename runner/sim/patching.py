"""The three patch formats a Kubernetes API server accepts, applied to plain JSON documents.

JSON Patch (RFC 6902, including `test`), JSON merge patch (RFC 7386) and strategic merge patch
(lists merged by their merge keys, `$patch: delete|replace` directives, `$deleteFromPrimitiveList`,
`$retainKeys` ignored). Errors follow the real server: an undecodable patch is 400 BadRequest, a
patch that cannot be applied (failed `test`, missing path) is 422 Invalid with the server's
message. Functions never mutate their inputs. It must not know about storage or HTTP.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from runner.errors import ClusterError, Invalid
from runner.sim.resources import STRATEGIC_MERGE_KEYS, STRATEGIC_SET_LISTS

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"
PATCH_TYPES = (JSON_PATCH, MERGE_PATCH, STRATEGIC_MERGE_PATCH)


def _bad(message: str) -> ClusterError:
    return ClusterError(message, status=400, reason="BadRequest")


class PatchFailed(Invalid):
    """A patch that cannot be applied. The real server wraps every such error (a failed JSON Patch
    `test` included) in a 422 whose reason is Invalid, with no details naming the object; its
    message is the fixed one below (we append the cause)."""

    status_details: dict[str, Any] = {}  # noqa: RUF012 - read-only marker: send an empty details


class TestFailed(PatchFailed):
    """A JSON Patch `test` op that did not hold (the same 422 on the wire; in-process callers such
    as the unit-test fake cluster tell it apart to report a stale read as Conflict)."""


def _unprocessable(detail: str) -> Invalid:
    return PatchFailed(f"the server rejected our request due to an error in our request: {detail}",
                       status=422, reason="Invalid")


# --- JSON Patch (RFC 6902) ----------------------------------------------------------------------


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise _unprocessable(f"invalid JSON pointer {path!r}")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _index(container: list[Any], step: str, *, allow_end: bool) -> int:
    if step == "-" and allow_end:
        return len(container)
    if not step.isdigit() or (step != "0" and step.startswith("0")):
        raise _unprocessable(f"invalid array index {step!r}")
    idx = int(step)
    if idx > len(container) or (idx == len(container) and not allow_end):
        raise _unprocessable(f"array index {idx} out of bounds")
    return idx


def _parent(doc: Any, tokens: list[str], path: str) -> Any:
    cur = doc
    for token in tokens[:-1]:
        if isinstance(cur, dict):
            if token not in cur:
                raise _unprocessable(f"doc is missing path: \"{path}\": missing value")
            cur = cur[token]
        elif isinstance(cur, list):
            cur = cur[_index(cur, token, allow_end=False)]
        else:
            raise _unprocessable(f"doc is missing path: \"{path}\": missing value")
    return cur


def _get(doc: Any, path: str) -> Any:
    tokens = _pointer(path)
    if not tokens:
        return doc
    parent = _parent(doc, tokens, path)
    last = tokens[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise _unprocessable(f"doc is missing path: \"{path}\": missing value")
        return parent[last]
    if isinstance(parent, list):
        return parent[_index(parent, last, allow_end=False)]
    raise _unprocessable(f"doc is missing path: \"{path}\": missing value")


def _add(doc: Any, path: str, value: Any) -> Any:
    tokens = _pointer(path)
    if not tokens:
        return value
    parent = _parent(doc, tokens, path)
    last = tokens[-1]
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list):
        parent.insert(_index(parent, last, allow_end=True), value)
    else:
        raise _unprocessable(f"doc is missing path: \"{path}\": missing value")
    return doc


def _remove(doc: Any, path: str) -> tuple[Any, Any]:
    tokens = _pointer(path)
    if not tokens:
        raise _unprocessable("cannot remove the whole document")
    parent = _parent(doc, tokens, path)
    last = tokens[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise _unprocessable(f"Unable to remove nonexistent key: {last}: missing value")
        return doc, parent.pop(last)
    if isinstance(parent, list):
        return doc, parent.pop(_index(parent, last, allow_end=False))
    raise _unprocessable(f"doc is missing path: \"{path}\": missing value")


def apply_json_patch(doc: Any, ops: Any) -> Any:
    if not isinstance(ops, list):
        raise _bad("json: cannot unmarshal object into Go value of type jsonpatch.Patch")
    out = copy.deepcopy(doc)
    for op in ops:
        if not isinstance(op, dict) or "op" not in op or "path" not in op:
            raise _bad("invalid JSON Patch operation: each needs 'op' and 'path'")
        kind, path = op["op"], str(op["path"])
        if kind in ("add", "replace", "test") and "value" not in op:
            raise _unprocessable(f"missing value for {kind} operation at {path!r}")
        if kind == "add":
            out = _add(out, path, copy.deepcopy(op["value"]))
        elif kind == "remove":
            out, _ = _remove(out, path)
        elif kind == "replace":
            _get(out, path)  # must exist
            out, _ = _remove(out, path) if _pointer(path) else (out, None)
            out = _add(out, path, copy.deepcopy(op["value"]))
        elif kind == "move":
            src = str(op.get("from", ""))
            out, value = _remove(out, src)
            out = _add(out, path, value)
        elif kind == "copy":
            value = copy.deepcopy(_get(out, str(op.get("from", ""))))
            out = _add(out, path, value)
        elif kind == "test":
            if _get(out, path) != op["value"]:
                raise TestFailed("the server rejected our request due to an error in our request: "
                                 f"testing value {path} failed: test failed", status=422, reason="Invalid")
        else:
            raise _unprocessable(f"Unexpected kind: {kind}")
    return out


# --- JSON merge patch (RFC 7386) ----------------------------------------------------------------


def apply_merge_patch(doc: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = copy.deepcopy(doc) if isinstance(doc, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = apply_merge_patch(out.get(key), value)
    return out


# --- strategic merge patch ----------------------------------------------------------------------


def _merge_list(field: str, current: list[Any], patch: list[Any]) -> list[Any]:
    key = STRATEGIC_MERGE_KEYS.get(field)
    if any(isinstance(p, dict) and p.get("$patch") == "replace" for p in patch):
        return [copy.deepcopy(p) for p in patch if not (isinstance(p, dict) and "$patch" in p)]
    if field in STRATEGIC_SET_LISTS:
        out = list(current)
        for item in patch:
            if item not in out:
                out.append(copy.deepcopy(item))
        return out
    if key is None or not all(isinstance(p, dict) for p in patch):
        return copy.deepcopy(patch)  # no merge key: the list is replaced, as the real server does
    out = copy.deepcopy(current)
    for item in patch:
        if key not in item:
            raise _bad(f"map: {item} does not contain declared merge key: {key}")
        idx = next((i for i, c in enumerate(out) if isinstance(c, dict) and c.get(key) == item[key]), None)
        if item.get("$patch") == "delete":
            if idx is not None:
                out.pop(idx)
            continue
        if idx is None:
            out.append(_strategic(None, item))
        else:
            out[idx] = _strategic(out[idx], item)
    return out


def _strategic(current: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if patch.get("$patch") == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
    if patch.get("$patch") == "delete":
        return None
    out: dict[str, Any] = copy.deepcopy(current) if isinstance(current, dict) else {}
    for key, value in patch.items():
        if key in ("$patch", "$retainKeys"):
            continue
        if key.startswith("$setElementOrder/"):
            continue
        if key.startswith("$deleteFromPrimitiveList/"):
            field = key.split("/", 1)[1]
            if isinstance(out.get(field), list) and isinstance(value, list):
                out[field] = [v for v in out[field] if v not in value]
            continue
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict):
            if value.get("$patch") == "delete":
                out.pop(key, None)
            else:
                out[key] = _strategic(out.get(key), value)
        elif isinstance(value, list):
            cur = out.get(key)
            out[key] = _merge_list(key, cur if isinstance(cur, list) else [], value)
        else:
            out[key] = value
    return out


def apply_strategic_merge_patch(doc: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        raise _bad("strategic merge patch must be a JSON object")
    return _strategic(doc, patch)


def apply_patch(doc: dict[str, Any], patch_type: str, body: bytes | str | Any) -> dict[str, Any]:
    """Apply `body` (raw bytes/str, or an already decoded value) of `patch_type` to `doc`."""
    if isinstance(body, (bytes, str)):
        try:
            decoded = json.loads(body or b"null")
        except ValueError as exc:
            raise _bad(f"error decoding patch: {exc}") from exc
    else:
        decoded = body
    if patch_type == JSON_PATCH:
        result = apply_json_patch(doc, decoded)
    elif patch_type == MERGE_PATCH:
        result = apply_merge_patch(doc, decoded)
    elif patch_type == STRATEGIC_MERGE_PATCH:
        result = apply_strategic_merge_patch(doc, decoded)
    else:
        raise Invalid(f"the body of the request was in an unknown format - accepted media types "
                      f"include: {', '.join(PATCH_TYPES)}", status=415, reason="UnsupportedMediaType")
    if not isinstance(result, dict):
        raise _unprocessable("the patch turned the object into something other than an object")
    return result
