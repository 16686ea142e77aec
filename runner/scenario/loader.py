"""Safe, bounded YAML loading that remembers where every node came from.

Scenario files come from users, editors and pull requests, so reading one must never run code,
never explode in time or memory, and every later complaint must point at a line and column.
This module reads bytes (size-capped), decodes strict UTF-8, and builds plain values directly from
the parser's event stream (never `yaml.load`): only the standard YAML types exist, any other tag
is refused, duplicate keys are errors, and aliases are charged their full expanded size, so an
alias bomb is refused after a handful of events. Plain scalars resolve by the YAML 1.2 core schema,
as the published JSON Schema and editors (yaml-language-server) read them: `yes`, `on`, `no` and
`off` are text, not booleans; `010` is ten; `1:30` is text. It knows nothing about scenarios.
"""

from __future__ import annotations

import math
import os
import re
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from runner.errors import Position, ScenarioError

try:  # the C parser is several times faster; PyYAML without libyaml still works
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

MAX_BYTES = 1024 * 1024  # a scenario is a few KiB; 1 MiB leaves room and bounds everything after
MAX_NODES = 20_000  # expanded nodes (aliases count their whole subtree)
MAX_DEPTH = 64  # nesting levels

PathKey = tuple[str | int, ...]

_YAML = "tag:yaml.org,2002:"
_SCALAR_TAGS = {_YAML + t for t in ("str", "int", "float", "bool", "null", "timestamp", "value")}
_COLLECTION_TAGS = {_YAML + "map", _YAML + "seq"}
_TAB_INDENT = re.compile(r"^( *)\t", re.MULTILINE)


def _float(text: str) -> float:
    lowered = text.lower()
    if lowered.endswith(".inf"):
        return -math.inf if lowered.startswith("-") else math.inf
    if lowered == ".nan":
        return math.nan
    return float(text)


def _int(text: str) -> int:
    if text.startswith("0o"):
        return int(text[2:], 8)
    if text.startswith("0x"):
        return int(text[2:], 16)
    return int(text)


# The YAML 1.2 core schema's tag resolution (yaml.org/spec/1.2.2, 10.3.2), in order: what a plain
# scalar means, and how to build it. Anything else is a string.
_CORE: tuple[tuple[str, re.Pattern[str], Callable[[str], Any]], ...] = (
    ("null", re.compile(r"(?:~|null|Null|NULL|)\Z"), lambda _text: None),
    ("bool", re.compile(r"(?:true|True|TRUE|false|False|FALSE)\Z"), lambda text: text.lower() == "true"),
    ("int", re.compile(r"(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)\Z"), _int),
    ("float", re.compile(r"(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
                         r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))\Z"), _float),
)
_CORE_BY_TAG = {_YAML + name: (pattern, build) for name, pattern, build in _CORE}


@dataclass(frozen=True)
class Document:
    """A loaded YAML document: plain values plus the position of every node and key."""

    file: str
    data: Any
    values: dict[PathKey, tuple[int, int]]  # path -> (line, column) of the value, 1-based
    keys: dict[PathKey, tuple[int, int]]  # path -> (line, column) of the mapping key naming it

    def position(self, path: PathKey, *, key: bool = False) -> Position:
        """Where `path` is; falls back to the nearest ancestor known (e.g. inside an alias)."""
        probe = tuple(path)
        while True:
            where = (self.keys.get(probe) if key else None) or self.values.get(probe)
            if where is not None:
                return Position(self.file, *where)
            if not probe:
                return Position(self.file, 1, 1)
            probe = probe[:-1]


def read_text(path: str | Path, display: str | None = None) -> str:
    """The file's text, refusing what is too large, binary or not UTF-8 (ScenarioError)."""
    name = display or str(path)
    try:
        mode = os.stat(path).st_mode
        if stat.S_ISDIR(mode):
            raise ScenarioError("is a directory, not a scenario file", Position(name, 0, 0), "CH001")
        if not stat.S_ISREG(mode):  # a FIFO or a device would block the read, or never end
            raise ScenarioError("is not a regular file (a FIFO, socket or device); a scenario is a "
                                "file", Position(name, 0, 0), "CH001")
        with open(path, "rb") as handle:
            raw = handle.read(MAX_BYTES + 1)  # never read a 20 MB file whole
    except OSError as exc:
        raise ScenarioError(f"cannot read the file: {exc.strerror or exc}", Position(name, 0, 0),
                            "CH001") from None
    return decode(raw, name)


def decode(raw: bytes, name: str) -> str:
    """Strict UTF-8 decoding with the size, NUL and encoding checks of `read_text`."""
    if len(raw) > MAX_BYTES:
        raise ScenarioError(f"file is larger than {MAX_BYTES // 1024} KiB; refusing to parse it",
                            Position(name, 1, 1), "CH002")
    nul = raw.find(b"\x00")
    if nul >= 0:
        line, column = _place(raw, nul)
        raise ScenarioError("binary data (NUL byte) in the file; a scenario is UTF-8 text",
                            Position(name, line, column), "CH003")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line, column = _place(raw, exc.start)
        raise ScenarioError(f"not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start})",
                            Position(name, line, column), "CH003") from None
    return text.removeprefix("\ufeff")


def _place(raw: bytes, offset: int) -> tuple[int, int]:
    line = raw.count(b"\n", 0, offset) + 1
    column = offset - (raw.rfind(b"\n", 0, offset) + 1) + 1
    return line, column


def load_file(path: str | Path, display: str | None = None) -> Document:
    """Read and parse one YAML file (see `read_text` and `parse`)."""
    name = display or str(path)
    return parse(read_text(path, name), name)


def parse(text: str, file: str = "<string>") -> Document:
    """Parse exactly one YAML document from `text`; any problem raises ScenarioError."""
    if len(text) > MAX_BYTES:  # text handed in directly (not through read_text)
        raise ScenarioError(f"document is larger than {MAX_BYTES // 1024} KiB; refusing to parse it",
                            Position(file, 1, 1), "CH002")
    builder = _Builder(file)
    try:
        for event in _events(text):
            builder.feed(event)
    except yaml.MarkedYAMLError as exc:
        raise _syntax_error(exc, text, file) from None
    except yaml.YAMLError as exc:
        raise ScenarioError(f"YAML error: {exc}", Position(file, 1, 1), "CH004") from None
    return builder.document()


def _events(text: str) -> Iterator[yaml.Event]:
    loader = _Loader(text)
    try:
        while loader.check_event():  # (check, get) is the one API both parsers share
            event = loader.get_event()
            if event is not None:
                yield event
    finally:
        loader.dispose()


def _syntax_error(exc: yaml.MarkedYAMLError, text: str, file: str) -> ScenarioError:
    mark = exc.problem_mark or exc.context_mark
    line, column = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
    tab = _TAB_INDENT.search(text)
    if tab is not None:
        tab_line = text.count("\n", 0, tab.start()) + 1
        if tab_line <= line:
            return ScenarioError("tab character used as indentation; YAML indents with spaces only",
                                 Position(file, tab_line, len(tab.group(1)) + 1), "CH005")
    what = exc.problem or exc.context or "invalid YAML"
    if "nesting depth" in what:  # libyaml's own depth limit can trip before ours
        return ScenarioError(f"nesting too deep ({what}); refusing it", Position(file, line, column), "CH008")
    context = f" ({exc.context})" if exc.context and exc.problem else ""
    return ScenarioError(f"YAML syntax error: {what}{context}", Position(file, line, column), "CH004")


class _Frame:
    """An open mapping or sequence while its events arrive."""

    __slots__ = ("anchor", "key", "key_mark", "nodes_before", "path", "value")

    def __init__(self, value: dict[str, Any] | list[Any], path: PathKey, anchor: str | None,
                 nodes_before: int) -> None:
        self.value = value
        self.path = path
        self.anchor = anchor
        self.nodes_before = nodes_before
        self.key: str | None = None  # for mappings: the key whose value comes next
        self.key_mark: tuple[int, int] = (0, 0)


class _Builder:
    """Turns parser events into plain values and position maps, within the limits."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.stack: list[_Frame] = []
        self.values: dict[PathKey, tuple[int, int]] = {}
        self.keys: dict[PathKey, tuple[int, int]] = {}
        self.anchors: dict[str, tuple[Any, int]] = {}  # anchor -> (value, expanded node count)
        self.nodes = 0
        self.documents = 0
        self.root: Any = None

    def fail(self, code: str, message: str, mark: Any) -> ScenarioError:
        line, column = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
        return ScenarioError(message, Position(self.file, line, column), code)

    def feed(self, event: yaml.Event) -> None:
        kind = type(event)
        if kind is yaml.ScalarEvent:  # most events: test it first
            self.scalar(event)  # type: ignore[arg-type]
        elif kind is yaml.MappingStartEvent or kind is yaml.SequenceStartEvent:
            self.start(event)  # type: ignore[arg-type]
        elif kind is yaml.MappingEndEvent or kind is yaml.SequenceEndEvent:
            self.end()
        elif kind is yaml.AliasEvent:
            self.alias(event)  # type: ignore[arg-type]
        elif kind is yaml.DocumentStartEvent:
            self.documents += 1
            if self.documents > 1:
                raise self.fail("CH009", "more than one YAML document (`---`); a scenario file holds one",
                                event.start_mark)

    def count(self, added: int, mark: Any) -> None:
        self.nodes += added
        if self.nodes > MAX_NODES:
            raise self.fail("CH008", f"document expands to more than {MAX_NODES} nodes "
                            "(aliases count in full); refusing it", mark)

    def where(self, mark: Any) -> tuple[int, int]:
        return mark.line + 1, mark.column + 1

    def scalar(self, event: yaml.ScalarEvent) -> None:
        frame = self.stack[-1] if self.stack else None
        if frame is not None and isinstance(frame.value, dict) and frame.key is None:
            # a mapping key: keys are always text, taken as written (`yes:` is the key "yes")
            if event.anchor is not None:
                raise self.fail("CH007", "anchors on mapping keys are not supported", event.start_mark)
            self.check_tag(event.tag, _SCALAR_TAGS, event.start_mark)
            key = event.value
            if key in frame.value:
                first = self.keys.get((*frame.path, key), (0, 0))[0]
                raise self.fail("CH006", f"duplicate key {key!r} (first given on line {first})",
                                event.start_mark)
            frame.key = key
            frame.key_mark = self.where(event.start_mark)
            return
        self.count(1, event.start_mark)
        value = self.scalar_value(event)
        self.place(value, event.start_mark)
        if event.anchor is not None:
            self.anchors[event.anchor] = (value, 1)

    def scalar_value(self, event: yaml.ScalarEvent) -> Any:
        tag = event.tag
        if tag is None or tag == "!":
            if not event.implicit[0]:  # quoted: always text
                return event.value
            for _name, pattern, build in _CORE:
                if pattern.match(event.value):
                    return build(event.value)
            return event.value
        self.check_tag(tag, _SCALAR_TAGS, event.start_mark)
        if tag not in _CORE_BY_TAG:
            return event.value  # !!str; timestamps stay text: nothing in a scenario is a date
        pattern, build = _CORE_BY_TAG[tag]
        if not pattern.match(event.value):
            kind = tag.rsplit(":", 1)[-1]
            raise self.fail("CH004", f"{event.value!r} cannot be read as {kind} (YAML 1.2 core "
                            "schema)", event.start_mark)
        return build(event.value)

    def check_tag(self, tag: str | None, allowed: set[str], mark: Any) -> None:
        if tag is None or tag == "!" or tag in allowed:
            return
        shown = "!!" + tag[len(_YAML):] if tag.startswith(_YAML) else tag
        raise self.fail("CH007", f"tag {shown} is not allowed; scenarios hold plain data only", mark)

    def start(self, event: yaml.MappingStartEvent | yaml.SequenceStartEvent) -> None:
        self.check_tag(event.tag, _COLLECTION_TAGS, event.start_mark)
        if len(self.stack) >= MAX_DEPTH:
            raise self.fail("CH008", f"nesting deeper than {MAX_DEPTH} levels; refusing it",
                            event.start_mark)
        self.count(1, event.start_mark)
        value: dict[str, Any] | list[Any] = {} if isinstance(event, yaml.MappingStartEvent) else []
        path = self.place(value, event.start_mark)
        self.stack.append(_Frame(value, path, event.anchor, self.nodes))

    def end(self) -> None:
        frame = self.stack.pop()
        if frame.anchor is not None:
            self.anchors[frame.anchor] = (frame.value, self.nodes - frame.nodes_before + 1)

    def alias(self, event: yaml.AliasEvent) -> None:
        frame = self.stack[-1] if self.stack else None
        if frame is not None and isinstance(frame.value, dict) and frame.key is None:
            raise self.fail("CH007", "aliases as mapping keys are not supported", event.start_mark)
        anchor = event.anchor or ""
        if anchor not in self.anchors:  # also a recursive alias into a still-open collection
            raise self.fail("CH008", f"alias *{anchor} refers to an anchor that is not complete here",
                            event.start_mark)
        value, size = self.anchors[anchor]
        self.count(size, event.start_mark)  # charged in full, so nested aliases grow fast
        self.place(value, event.start_mark)

    def place(self, value: Any, mark: Any) -> PathKey:
        """Attach `value` to the open collection (or as the root); returns its path."""
        if not self.stack:
            self.root = value
            path: PathKey = ()
        else:
            frame = self.stack[-1]
            if isinstance(frame.value, dict):
                if frame.key is None:  # a collection used as a key
                    raise self.fail("CH004", "mapping keys must be plain text", mark)
                path = (*frame.path, frame.key)
                frame.value[frame.key] = value
                self.keys[path] = frame.key_mark
                frame.key = None
            else:
                path = (*frame.path, len(frame.value))
                frame.value.append(value)
        self.values[path] = self.where(mark)
        return path

    def document(self) -> Document:
        if self.documents == 0 or self.root is None:
            raise ScenarioError("the file is empty; a scenario is a YAML mapping",
                                Position(self.file, 1, 1), "CH009")
        if not isinstance(self.root, dict):
            kind = "a list" if isinstance(self.root, list) else f"a {type(self.root).__name__}"
            raise ScenarioError(f"the document is {kind}; a scenario is a mapping of keys "
                                "(apiVersion, kind, metadata, ...)",
                                Position(self.file, *self.values.get((), (1, 1))), "CH009")
        return Document(self.file, self.root, self.values, self.keys)
