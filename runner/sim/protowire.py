"""Just enough of Kubernetes' protobuf encoding to read a DeleteOptions body.

kubectl sends DELETE bodies (drain, delete of built-in kinds) as protobuf: the `k8s\\0` magic, a
`runtime.Unknown` envelope, and the DeleteOptions message inside. Every other body is JSON, and
other protobuf bodies are refused with 415. It must not grow into a general protobuf decoder.
"""

from __future__ import annotations

from typing import Any

MAGIC = b"k8s\x00"


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(buf):
            raise ValueError("truncated varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7


def fields(buf: bytes) -> list[tuple[int, int | bytes]]:
    """(field number, value) pairs: varints as int, length-delimited as bytes; fixed widths skipped."""
    out: list[tuple[int, int | bytes]] = []
    pos = 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
            out.append((number, value))
        elif wire == 2:
            length, pos = _varint(buf, pos)
            out.append((number, buf[pos:pos + length]))
            pos += length
        elif wire == 1:
            pos += 8
        elif wire == 5:
            pos += 4
        else:
            raise ValueError(f"unsupported wire type {wire}")
    return out


def delete_options(body: bytes) -> dict[str, Any]:
    """A protobuf DeleteOptions (inside its `k8s\\0` envelope) as the equivalent JSON object."""
    if not body.startswith(MAGIC):
        raise ValueError("not a Kubernetes protobuf body")
    raw = next((v for n, v in fields(body[len(MAGIC):]) if n == 2 and isinstance(v, bytes)), b"")
    opts: dict[str, Any] = {}
    for number, value in fields(raw):
        if number == 1 and isinstance(value, int):
            opts["gracePeriodSeconds"] = value if value < 1 << 63 else value - (1 << 64)
        elif number == 2 and isinstance(value, bytes):
            pre = {({1: "uid", 2: "resourceVersion"}[n]): v.decode() for n, v in fields(value)
                   if n in (1, 2) and isinstance(v, bytes)}
            opts["preconditions"] = pre
        elif number == 3 and isinstance(value, int):
            opts["orphanDependents"] = bool(value)
        elif number == 4 and isinstance(value, bytes):
            opts["propagationPolicy"] = value.decode()
        elif number == 5 and isinstance(value, bytes):
            opts.setdefault("dryRun", []).append(value.decode())
    return opts
