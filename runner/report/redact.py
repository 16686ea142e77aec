"""Keep secrets out of every report.

Reports are uploaded as CI artefacts and pasted into tickets, and their strings come from places we
do not control (pod logs, probe responses, error messages that quote a kubeconfig). One pass here
runs over every string of a result before any format is rendered, so no renderer has to remember.
This module must not know about any report format; it works on plain strings and JSON values.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

REDACTED = "[REDACTED]"

# Keys whose values are secrets whatever they look like (kubeconfig users, HTTP headers, env).
SECRET_KEYS = frozenset({
    "token", "id-token", "id_token", "refresh-token", "refresh_token", "access-token", "access_token",
    "password", "passwd", "secret", "api-key", "api_key", "apikey", "authorization",
    "client-key-data", "client-certificate-data", "client-key", "proxy-authorization",
})

_KEY_ALTS = "|".join(sorted((re.escape(k) for k in SECRET_KEYS), key=len, reverse=True))

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # "Authorization: Bearer abc", "authorization=Basic abc", '"Authorization": "abc"'
    (re.compile(r"(?i)(\b(?:proxy-)?authorization\b[\"']?\s*[:=]\s*[\"']?)"
                r"(?:(?:bearer|basic|token|negotiate|digest)\s+)?[^\s\"',;}&]+"), r"\1" + REDACTED),
    # a bare "Bearer abc" anywhere else
    (re.compile(r"(?i)\b(bearer)\s+(?!\[REDACTED\])[A-Za-z0-9\-._~+/]+=*"), r"\1 " + REDACTED),
    # token=abc, password: abc, client-key-data: LS0t..., "token": "abc"
    (re.compile(r"(?i)(?<![\w-])((?:" + _KEY_ALTS + r")[\"']?\s*[:=]\s*[\"']?)(?!\[REDACTED\])"
                r"[^\s\"',;}&]+"), r"\1" + REDACTED),
    # a JSON Web Token on its own (service-account tokens look like this)
    (re.compile(r"\beyJ[A-Za-z0-9_-]{6,}\.[A-Za-z0-9_-]{6,}\.[A-Za-z0-9_-]*"), REDACTED),
)


def redact_text(text: str) -> str:
    """`text` with every secret-looking value replaced by [REDACTED]."""
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def redact_value(value: Any) -> Any:
    """A copy of a JSON value with every string redacted and secret-named keys blanked."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if isinstance(key, str) and key.lower() in SECRET_KEYS and item not in (None, "", {}, []):
                out[key] = REDACTED
            else:
                out[key] = redact_value(item)
        return out
    if isinstance(value, list | tuple):
        return [redact_value(v) for v in value]
    return value
