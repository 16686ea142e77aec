"""RFC 6901 JSON pointers over plain JSON values: the one reader every layer shares.

Why it exists: undo actions, workload facts and patches all address parts of Kubernetes objects by
pointer; one reader means one answer to "what is at /spec/template". Pure functions, no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

MISSING = "__chaos_missing__"  # "nothing is there" (the journal form: undo removes such a path)


def escape(token: str) -> str:
    """One reference token, escaped (`~` -> `~0`, `/` -> `~1`)."""
    return token.replace("~", "~0").replace("/", "~1")


def unescape(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")


def get(obj: Any, pointer: str, default: Any = MISSING) -> Any:
    """The value at `pointer`, or `default` when any part of the path is absent."""
    current = obj
    for raw in pointer.split("/")[1:] if pointer else []:
        token = unescape(raw)
        if isinstance(current, Mapping) and token in current:
            current = current[token]
        elif isinstance(current, list) and token.isdigit() and int(token) < len(current):
            current = current[int(token)]
        else:
            return default
    return current
