"""Keep secrets out of every report and off stdout.

Reports are uploaded as CI artefacts and pasted into tickets, and their strings come from places we
do not control: the workload as read from the cluster (its env values, its command line), pod logs,
probe responses, error messages that quote a kubeconfig. One pass here runs over a whole result
before any format is rendered (`redacted`), so no renderer has to remember; the live view runs its
lines through `redact_text`.

Two kinds of rule:
- shapes (`redact_value`): a probe's request header values and body (report.json's `probes[]`,
  and each line of probes.jsonl), Kubernetes objects as JSON, wherever they appear, JSON patches included
  (an op's `value` is judged by its `path`, so the `test` of `/spec/.../containers/0/env` is an env
  list): every `env[].value` (the names stay; the shim's own variables keep their values, chaos
  wrote them), a `command`/`args` item after a credential flag (`--token`, `--api-key`, ...), the
  `data`/`binaryData`/`stringData` of ConfigMaps and Secrets (keys stay; a ConfigMap labelled
  managed-by chaos stays whole), `kubectl.kubernetes.io/last-applied-configuration`, and any key
  whose name is secret-like (`token`, `HF_TOKEN`, `clientSecret`, `x-api-key`, ...);
- text (`redact_text`): `Authorization:` headers, bearer tokens, `NAME=value` / `name: value` for a
  secret-like NAME, credential flags (`--token=X`, `--password X`), passwords in URLs, env entries
  quoted in error messages, JSON Web Tokens, AWS access key ids and well-known token prefixes.

What stays is what a reader needs: env var names, the shape of each patch, which container.
Redacting twice changes nothing. The journal is not written from here: it keeps the values that
undo needs. This module must not know about any report format.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from runner.engine.result import RunResult
from runner.kernel.labels import MANAGED_BY, MANAGED_BY_VALUE
from runner.shimwire import DEVICE_ENV, SHIM_ENV_VARS

__all__ = ["REDACTED", "SECRET_KEYS", "is_secret_name", "redact_text", "redact_value", "redacted"]

REDACTED = "[REDACTED]"

# Keys whose values are secrets whatever they look like (kubeconfig users, HTTP headers, env).
SECRET_KEYS = frozenset({
    "token", "id-token", "id_token", "refresh-token", "refresh_token", "access-token", "access_token",
    "password", "passwd", "secret", "api-key", "api_key", "apikey", "authorization",
    "client-key-data", "client-certificate-data", "client-key", "proxy-authorization",
})

# env values chaos itself writes (the shim's contract) or that only name GPUs: never credentials,
# and a reader of a patch wants to see them
KEEP_ENV_VALUES = frozenset((*SHIM_ENV_VARS, *DEVICE_ENV))

# a name is secret-like when its last part is one of these words (HF_TOKEN, DB_PASSWORD,
# client_secret, x-auth) or it ends in `<something>_key` (AWS_SECRET_ACCESS_KEY, x-api-key); a bare
# `key` (secretKeyRef.key, a node selector's key) is not
_SENSITIVE_WORDS = ("token|password|passwd|passphrase|secret|apikey|auth|authorization|credentials?|"
                 "cookie")
_SECRET_NAME = re.compile(rf"(?:^|[_.-])(?:{_SENSITIVE_WORDS})$|.[_.-]key$")
_CAMEL = re.compile(r"([a-z0-9])([A-Z])")

# objects whose data is anybody's secrets, and the annotation that repeats a whole object
_DATA_KEYS = ("data", "binaryData", "stringData")
_LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
_PATCH_OPS = frozenset({"add", "remove", "replace", "move", "copy", "test"})
_ARGV_KEYS = frozenset({"command", "args"})


def is_secret_name(name: str) -> bool:
    """True for a key or env var name whose value is a secret (HF_TOKEN, clientSecret, api-key)."""
    lower = name.lower()
    if lower in SECRET_KEYS:
        return True
    return bool(_SECRET_NAME.search(_CAMEL.sub(r"\1_\2", name).lower()))


# --- text -------------------------------------------------------------------------------------

_FLAG_NAME = (rf"--?(?:[A-Za-z0-9]+[-_])*(?:{_SENSITIVE_WORDS})|--?(?:[A-Za-z0-9]+[-_])+key")
_BARE_FLAG = re.compile(rf"(?i)(?:{_FLAG_NAME})")  # an argv item whose value is the next item
_QUOTED = r"\"[^\"]*\"|'[^']*'"


def _is_redacted(value: str) -> bool:
    return value.strip("\"'") == REDACTED


def _keep_quotes(value: str) -> str:
    """REDACTED in the quotes `value` had, so JSON-looking text stays JSON-looking."""
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[0] + REDACTED + value[0]
    return REDACTED


def _assignment(match: re.Match[str]) -> str:
    name, sep, value = match.group(1), match.group(2), match.group(3)
    if not is_secret_name(name) or _is_redacted(value):
        return match.group(0)
    return name + sep + REDACTED


def _env_in_text(match: re.Match[str]) -> str:
    if match.group(2) in KEEP_ENV_VALUES or _is_redacted(match.group(3)):
        return match.group(0)
    return match.group(1) + _keep_quotes(match.group(3))


def _flag(match: re.Match[str]) -> str:
    if _is_redacted(match.group(3)):
        return match.group(0)
    return match.group(1) + match.group(2) + _keep_quotes(match.group(3))


_Rule = tuple[re.Pattern[str], str | Callable[[re.Match[str]], str]]
_PATTERNS: tuple[_Rule, ...] = (
    # "Authorization: Bearer abc", "authorization=Basic abc", '"Authorization": "abc"'
    (re.compile(r"(?i)(\b(?:proxy-)?authorization\b[\"']?\s*[:=]\s*[\"']?)(?!\[REDACTED\])"
                r"(?:(?:bearer|basic|token|negotiate|digest)\s+)?[^\s\"',;}&]+"), r"\1" + REDACTED),
    # a bare "Bearer abc" anywhere else
    (re.compile(r"(?i)\b(bearer)\s+(?!\[REDACTED\])[A-Za-z0-9\-._~+/]+=*"), r"\1 " + REDACTED),
    # the password of a URL: postgres://user:pw@db, https://x:tok@github.com
    (re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^\s/:@\"']+:)(?!\[REDACTED\])[^\s/@\"']+@"),
     r"\1" + REDACTED + "@"),
    # an env entry quoted in a message: {"name": "X", "value": "v"}, {Name:X,Value:v,ValueFrom:nil}
    (re.compile(r"(?i)(\bname[\"']?\s*[:=]\s*[\"']?([A-Za-z_][\w.-]*)[\"']?\s*,\s*[\"']?value[\"']?"
                r"\s*[:=]\s*)(?![\"']?\[REDACTED\])(" + _QUOTED + r"|[^\s,}\]]+)"), _env_in_text),
    # the API server's validation error echoes the value: env[0].value: Invalid value: "v"
    (re.compile(r"(\benv\[\d+\]\.value:\s*Invalid value:\s*)(\"(?:[^\"\\]|\\.)*\"|\S+)"),
     lambda m: m.group(1) + _keep_quotes(m.group(2))),
    # credential flags: --token=X, --api-key X, --client-secret "X", -password=X
    (re.compile(rf"(?i)(?<![\w-])({_FLAG_NAME})(=|\s+)(?!-)({_QUOTED}|[^\s\"',;}}&]+)"), _flag),
    # NAME=value, name: value, "name": "value" for a secret-like name (HF_TOKEN=x, ?token=x)
    (re.compile(r"(?<![\w.-])([A-Za-z][\w.-]*)([\"']?\s*[:=]\s*[\"']?)(?![\[{])([^\s\"',;}&)\]>]+)"),
     _assignment),
    # a JSON Web Token on its own (service-account tokens look like this)
    (re.compile(r"\beyJ[A-Za-z0-9_-]{6,}\.[A-Za-z0-9_-]{6,}\.[A-Za-z0-9_-]*"), REDACTED),
    # AWS access key ids, and tokens whose prefix says what they are (Hugging Face, GitHub,
    # GitLab, OpenAI-style, Slack)
    (re.compile(r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[A-Z0-9]{16}\b"), REDACTED),
    (re.compile(r"\b(?:hf_[A-Za-z0-9]{20,}|gh[pousr]_[A-Za-z0-9]{20,}|github_pat_\w{20,}|"
                r"glpat-[\w-]{20,}|sk-[A-Za-z0-9_-]{20,}|xox[abposr]-[\w-]{10,})"), REDACTED),
)


def redact_text(text: str) -> str:
    """`text` with every secret-looking value replaced by [REDACTED]."""
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


# --- JSON values (Kubernetes shapes) ----------------------------------------------------------

Path = tuple[str | int, ...]


def redact_value(value: Any) -> Any:
    """A copy of a JSON value with every string redacted and the Kubernetes shapes that hold
    credentials blanked (see the module docstring); keys, names and shape stay."""
    return _walk(value, ())


def redacted(result: RunResult) -> RunResult:
    """The same result with every secret replaced by [REDACTED] (the one pass before rendering)."""
    return RunResult.from_json(redact_value(result.to_json()))


def _walk(value: Any, path: Path) -> Any:
    if isinstance(value, str):
        if len(path) >= 3 and path[-3] == "env" and path[-1] == "value":  # a patch of /env/N/value
            return _blank(value)
        return redact_text(value)
    if isinstance(value, Mapping):
        if _is_patch_op(value):
            return _patch_op(value)
        if len(path) >= 2 and path[-2] == "env" and _is_env_entry(value, path[-1]):
            return _env_entry(value, path)
        if path and path[-1] == "env":  # env as a name -> value map
            return {k: v if k in KEEP_ENV_VALUES else _blank(v) for k, v in value.items()}
        return _mapping(value, path)
    if isinstance(value, list | tuple):
        if path and path[-1] in _ARGV_KEYS and all(isinstance(v, str) for v in value):
            return _argv(value)
        return [_walk(v, (*path, i)) for i, v in enumerate(value)]
    return value


def _blank(value: Any) -> Any:
    """REDACTED for a non-empty value (an empty one says something and hides nothing)."""
    return REDACTED if value not in (None, "", [], {}) else value


def _deep_blank(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _deep_blank(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_deep_blank(v) for v in value]
    return _blank(value) if isinstance(value, str) else value


def _is_patch_op(value: Mapping[Any, Any]) -> bool:
    return value.get("op") in _PATCH_OPS and isinstance(value.get("path"), str)


def _pointer(pointer: str) -> Path:
    """'/spec/containers/0/env' -> ('spec', 'containers', 0, 'env')."""
    out: list[str | int] = []
    for token in pointer.split("/")[1:]:
        token = token.replace("~1", "/").replace("~0", "~")
        out.append(int(token) if token.isdigit() else token)
    return tuple(out)


def _patch_op(op: Mapping[str, Any]) -> dict[str, Any]:
    """An RFC 6902 op whose `value` is judged as what lives at its `path`."""
    out = {k: _walk(v, (k,)) for k, v in op.items() if k != "value"}
    if "value" in op:
        out["value"] = _walk(op["value"], _pointer(op["path"]))
    return {k: out[k] for k in op}  # the op's own key order


def _is_env_entry(value: Mapping[Any, Any], index: str | int) -> bool:
    return (isinstance(index, int) or index == "-") and isinstance(value.get("name"), str)


def _env_entry(entry: Mapping[str, Any], path: Path) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, item in entry.items():
        if key == "value":
            out[key] = redact_text(item) if entry["name"] in KEEP_ENV_VALUES and isinstance(
                item, str) else _blank(item)
        else:  # name, valueFrom (a reference: which Secret, which key) stay
            out[key] = _walk(item, (*path, key))
    return out


def _argv(argv: Sequence[str]) -> list[str]:
    """command/args: each item redacted as text, and the item after a bare credential flag."""
    out: list[str] = []
    hide_next = False
    for item in argv:
        if hide_next and not item.startswith("-"):
            out.append(_blank(item))
            hide_next = False
            continue
        hide_next = bool(_BARE_FLAG.fullmatch(item))
        out.append(redact_text(item))
    return out


def _is_config_object(value: Mapping[str, Any]) -> bool:
    """A ConfigMap or Secret (by kind, or by shape: metadata and data, no spec, as list items)."""
    if not any(isinstance(value.get(k), Mapping) for k in _DATA_KEYS):
        return False
    kind = value.get("kind")
    if kind is not None:
        return kind in ("ConfigMap", "Secret")
    return isinstance(value.get("metadata"), Mapping) and "spec" not in value


def _ours(obj: Mapping[str, Any]) -> bool:
    """A ConfigMap chaos created (the shim's sources): nothing in it came from anybody else."""
    if obj.get("kind", "ConfigMap") != "ConfigMap" or "type" in obj or "stringData" in obj:
        return False  # a Secret, even one labelled ours
    labels = obj.get("metadata", {}).get("labels")
    return isinstance(labels, Mapping) and labels.get(MANAGED_BY) == MANAGED_BY_VALUE


def _is_probe(path: Path) -> bool:
    """A background probe of report.json (`probes[i]`), whose request headers and body are the
    user's, whatever their names say (an `X-Goog-Api-Key`, a prompt with a key in it)."""
    return len(path) == 2 and path[0] == "probes" and isinstance(path[1], int)


def _mapping(value: Mapping[Any, Any], path: Path) -> dict[Any, Any]:
    if _is_probe(path):
        value = {k: ({h: _blank(v) for h, v in item.items()} if k == "headers" and isinstance(item, Mapping)
                     else _blank(item) if k == "body" and isinstance(item, str) else item)
                 for k, item in value.items()}
    blank_data = _is_config_object(value) and not _ours(value)
    out: dict[Any, Any] = {}
    for key, item in value.items():
        if blank_data and key in _DATA_KEYS and isinstance(item, Mapping):
            out[key] = {k: _blank(v) for k, v in item.items()}
        elif key == _LAST_APPLIED:
            out[key] = _blank(item)
        elif isinstance(key, str) and is_secret_name(key):
            out[key] = _secret_item(key, item, path)
        else:
            out[key] = _walk(item, (*path, key))
    return out


def _secret_item(key: str, item: Any, path: Path) -> Any:
    if isinstance(item, str):
        return _blank(item)
    if isinstance(item, bool) or item is None:
        return item
    if isinstance(item, int | float):
        return REDACTED if key.lower() in SECRET_KEYS else item  # max_tokens stays; "token": 5 not
    if key == "secret" and isinstance(item, Mapping) and "secretName" in item:
        return _walk(item, (*path, key))  # a pod volume's Secret source: a reference, no data
    return _deep_blank(item)
