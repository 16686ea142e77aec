"""Kubernetes protobuf request bodies, decoded into the JSON objects the same request would carry.

client-go (kubectl >= 1.31 for built-in kinds, Go controllers) sends `Content-Type:
application/vnd.kubernetes.protobuf`: the `k8s\\0` magic, a `runtime.Unknown` envelope (typeMeta,
raw, contentEncoding, contentType) and the kind's message in `raw`. The decoder is driven by the
table in runner/sim/protoschema.py (message -> field number -> name and type), with the special
messages mapped to their JSON forms: Time/MicroTime (RFC 3339; an empty one is null), Duration (Go's
`1h2m3s`), IntOrString, Quantity, RawExtension and FieldsV1 (embedded JSON), bytes as base64. Field
presence follows Go's encoder: a non-pointer scalar is always on the wire and is dropped when zero (as
JSON's omitempty would), a pointer one (marked `?`) is kept whatever its value; embedded structs
(marked `^`) are inlined. Unknown fields are skipped, as Go's unmarshaller skips them. Answers stay
JSON (client-go reads them). It must not know about HTTP or the store.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from dataclasses import dataclass
from functools import cache
from typing import Any

from runner.sim import protoschema

MAGIC = b"k8s\x00"
CONTENT_TYPE = "application/vnd.kubernetes.protobuf"
Obj = dict[str, Any]

# (apiVersion, kind) of the envelope -> the message in `raw`
KINDS: dict[tuple[str, str], str] = {
    ("v1", "Namespace"): "core.Namespace", ("v1", "Node"): "core.Node", ("v1", "Pod"): "core.Pod",
    ("v1", "ConfigMap"): "core.ConfigMap", ("v1", "Secret"): "core.Secret",
    ("v1", "ServiceAccount"): "core.ServiceAccount", ("v1", "Service"): "core.Service",
    ("v1", "Endpoints"): "core.Endpoints", ("v1", "Event"): "core.Event", ("v1", "Binding"): "core.Binding",
    ("v1", "DeleteOptions"): "meta.DeleteOptions",
    ("meta.k8s.io/v1", "DeleteOptions"): "meta.DeleteOptions",
    ("apps/v1", "Deployment"): "apps.Deployment", ("apps/v1", "ReplicaSet"): "apps.ReplicaSet",
    ("apps/v1", "StatefulSet"): "apps.StatefulSet",
    ("coordination.k8s.io/v1", "Lease"): "coord.Lease",
    ("discovery.k8s.io/v1", "EndpointSlice"): "disc.EndpointSlice",
    ("events.k8s.io/v1", "Event"): "events.Event",
    ("policy/v1", "Eviction"): "policy.Eviction",
    ("policy/v1", "PodDisruptionBudget"): "policy.PodDisruptionBudget",
    ("autoscaling/v1", "Scale"): "autoscaling.Scale",
}


@dataclass(frozen=True)
class Field:
    name: str
    type: str  # scalar code or message name (without [] / {} / marks)
    repeated: bool = False
    map: bool = False
    pointer: bool = False
    inline: bool = False


@cache
def schema() -> dict[str, dict[int, Field]]:
    """The parsed table (once)."""
    out: dict[str, dict[int, Field]] = {}
    for entry in protoschema.TABLE.replace("\n    ", " ").splitlines():
        if not entry.strip():
            continue
        name, _, body = entry.partition(": ")
        fields: dict[int, Field] = {}
        for spec in body.split("; "):
            number, fname, typ = spec.split(" ")
            pointer, inline = typ.endswith("?"), typ.endswith("^")
            typ = typ.rstrip("?^")
            repeated, is_map = typ.startswith("[]"), typ.startswith("{}")
            fields[int(number)] = Field(fname, typ[2:] if repeated or is_map else typ, repeated, is_map,
                                        pointer, inline)
        out[name] = fields
    return out


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
        if shift > 70:
            raise ValueError("varint too long")


def fields(buf: bytes) -> list[tuple[int, int | bytes]]:
    """(field number, value) pairs: varints as int, length-delimited as bytes, fixed widths as bytes."""
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
            if pos + length > len(buf):
                raise ValueError("truncated length-delimited field")
            out.append((number, buf[pos:pos + length]))
            pos += length
        elif wire == 1:
            out.append((number, buf[pos:pos + 8]))
            pos += 8
        elif wire == 5:
            out.append((number, buf[pos:pos + 4]))
            pos += 4
        else:
            raise ValueError(f"unsupported wire type {wire}")
    return out


def _signed(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


def _go_duration(ns: int) -> str:
    """time.Duration.String()."""
    if ns == 0:
        return "0s"
    sign = "-" if ns < 0 else ""
    ns = abs(ns)
    if ns < 1_000_000_000:
        for unit, size in (("ms", 1_000_000), ("µs", 1_000), ("ns", 1)):
            if ns >= size:
                return f"{sign}{ns / size:g}{unit}"
    hours, rest = divmod(ns, 3_600_000_000_000)
    minutes, rest = divmod(rest, 60_000_000_000)
    seconds = f"{rest / 1e9:.9f}".rstrip("0").rstrip(".")
    out = (f"{hours}h" if hours else "") + (f"{minutes}m" if hours or minutes else "") + f"{seconds}s"
    return sign + out


def _time(raw: bytes, micro: bool) -> str | None:
    if not raw:
        return None  # a zero Time marshals to nothing; JSON says null
    values = dict(fields(raw))
    seconds = _signed(_num(values.get(1, 0)))
    nanos = _num(values.get(2, 0))
    epoch = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
    when = epoch + dt.timedelta(seconds=seconds, microseconds=nanos // 1000)
    return when.strftime("%Y-%m-%dT%H:%M:%S.%fZ" if micro else "%Y-%m-%dT%H:%M:%SZ")


def _special(name: str, raw: bytes) -> Any:
    if name == "meta.Time":
        return _time(raw, micro=False)
    if name == "meta.MicroTime":
        return _time(raw, micro=True)
    values = dict(fields(raw))
    if name == "intstr.IntOrString":
        if _num(values.get(1, 0)) == 1:
            return _bytes(values.get(3, b"")).decode()
        value = _num(values.get(2, 0))
        return value - (1 << 64) if value >= 1 << 63 else value
    if name == "resource.Quantity":
        return _bytes(values.get(1, b"")).decode()
    if name == "meta.Duration":
        return _go_duration(_signed(_num(values.get(1, 0))))
    if name in ("runtime.RawExtension", "meta.FieldsV1"):
        data = _bytes(values.get(1, b""))
        return json.loads(data) if data else None
    raise KeyError(name)


_SPECIAL = frozenset({"meta.Time", "meta.MicroTime", "intstr.IntOrString", "resource.Quantity",
                      "meta.Duration", "runtime.RawExtension", "meta.FieldsV1"})


def _num(value: int | bytes) -> int:
    if not isinstance(value, int):
        raise ValueError("expected a varint field")
    return value


def _bytes(value: int | bytes) -> bytes:
    if not isinstance(value, bytes):
        raise ValueError("expected a length-delimited field")
    return value


def _scalar(code: str, value: int | bytes) -> Any:
    if code == "s":
        return _bytes(value).decode()
    if code == "by":
        return base64.b64encode(_bytes(value)).decode()
    if isinstance(value, bytes):
        raise ValueError(f"expected a varint for {code}")
    if code == "b":
        return bool(value)
    if code in ("i32", "i64"):
        return _signed(value)
    return value


def _zero(value: Any) -> bool:
    return value in ("", 0, False)


def _value(f: Field, raw: int | bytes) -> Any:
    if f.type in _SPECIAL:
        return _special(f.type, _bytes(raw))
    if f.type in schema():
        return decode(f.type, _bytes(raw))
    return _scalar(f.type, raw)


def decode(message: str, buf: bytes) -> Obj:
    """One message as its JSON object."""
    table = schema()[message]
    out: Obj = {}
    for number, raw in fields(buf):
        f = table.get(number)
        if f is None:
            continue  # unknown to v1.32: skipped, as Go's unmarshaller does
        if f.map:
            entry = dict(fields(_bytes(raw)))
            key = _scalar("s", entry.get(1, b""))
            val_field = Field("value", f.type)
            out.setdefault(f.name, {})[key] = _value(val_field, entry.get(2, b"" if f.type != "b" else 0))
        elif f.repeated:
            items = out.setdefault(f.name, [])
            if isinstance(raw, bytes) and f.type in ("b", "i32", "i64", "u32", "u64"):  # packed
                pos = 0
                while pos < len(raw):
                    v, pos = _varint(raw, pos)
                    items.append(_scalar(f.type, v))
            else:
                items.append(_value(f, raw))
        elif f.inline:
            out.update(decode(f.type, _bytes(raw)))
        else:
            value = _value(f, raw)
            if f.type not in schema() and f.type not in _SPECIAL and not f.pointer and _zero(value):
                out.pop(f.name, None)  # a non-pointer zero: what JSON's omitempty leaves out
                continue
            out[f.name] = value
    return out


def decode_object(body: bytes) -> Obj:
    """A `k8s\\0` body as the JSON object (with apiVersion and kind from its envelope).
    ValueError when it is not a Kubernetes protobuf body; LookupError for a kind not in the table."""
    if not body.startswith(MAGIC):
        raise ValueError("not a Kubernetes protobuf body (no k8s\\0 magic)")
    envelope = dict(fields(body[len(MAGIC):]))
    type_meta = dict(fields(_bytes(envelope.get(1, b""))))
    api_version = _scalar("s", type_meta.get(1, b""))
    kind = _scalar("s", type_meta.get(2, b""))
    encoding = _scalar("s", envelope.get(3, b""))
    if encoding:
        raise ValueError(f"unsupported contentEncoding {encoding!r}")
    message = KINDS.get((api_version, kind))
    if message is None:
        raise LookupError(f"no protobuf decoding for {kind} in {api_version}")
    obj = decode(message, _bytes(envelope.get(2, b"")))
    return {"apiVersion": api_version, "kind": kind, **obj}


def delete_options(body: bytes) -> Obj:
    """A protobuf DeleteOptions (kubectl delete, drain) as the equivalent JSON object, whatever
    group its envelope names (clients send v1 or meta.k8s.io/v1)."""
    if not body.startswith(MAGIC):
        raise ValueError("not a Kubernetes protobuf body (no k8s\\0 magic)")
    envelope = dict(fields(body[len(MAGIC):]))
    return decode("meta.DeleteOptions", _bytes(envelope.get(2, b"")))
