"""`report.json`: the machine-readable result, and the way back from it.

The file is exactly `RunResult.to_json()` (after redaction) so that `chaos report DIR` and other
tools rebuild the same result; `schema/report.schema.json` describes it (a copy ships in the
package as `runner/data/report.schema.json`). Reading one back checks it against that schema before
anything renders it, so a wrong type is one clear message naming the file and the field, never a
traceback in a renderer. The file is read only when it is a regular file (a FIFO would block).
This module must not render anything for people.
"""

from __future__ import annotations

import json
import math
import os
import stat
from collections.abc import Iterable
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runner.engine.result import RunResult, Verdict
from runner.errors import ChaosError
from runner.report import private

if TYPE_CHECKING:
    from jsonschema.exceptions import ValidationError

FILENAME = "report.json"
SCHEMA_RESOURCE = "data/report.schema.json"
MAX_BYTES = 256 * 1024 * 1024  # far above any real report; a bound on what `chaos report` reads


def dumps(result: RunResult) -> str:
    """The report as JSON text (stable key order, UTF-8 kept readable)."""
    return json.dumps(result.to_json(), indent=2, ensure_ascii=False) + "\n"


def write(result: RunResult, run_dir: Path) -> Path:
    path = run_dir / FILENAME
    return private.write_text(path, dumps(result))  # 0600: see runner.report.private


def schema() -> dict[str, Any]:
    """The report schema (the packaged copy of schema/report.schema.json)."""
    data: dict[str, Any] = json.loads(resources.files("runner").joinpath(SCHEMA_RESOURCE)
                                      .read_text("utf-8"))
    return data


def report_path(run_dir: Path) -> Path:
    """`run_dir/report.json` for a run directory; the path itself otherwise (the file was named)."""
    run_dir = Path(run_dir)
    if run_dir.is_dir() and (run_dir.name != FILENAME or (run_dir / FILENAME).exists()):
        return run_dir / FILENAME
    return run_dir


def load(run_dir: Path) -> RunResult:
    """The RunResult saved in `run_dir` (or given as the report.json path itself).

    ChaosError (exit 2) with one paragraph naming the file, and the field when one is wrong, for
    anything that is not a report as `chaos run` writes it."""
    path = report_path(run_dir)
    data = _parse(path, _read(path, Path(run_dir)))
    if not isinstance(data, dict):
        raise ChaosError(f"{path} is not a run report: expected a JSON object, found "
                         f"{_json_type(data)}.")
    if "exit_code" not in data and data.get("verdict") in {v.value for v in Verdict}:
        # written before report.json carried it; it follows from the verdict
        data = {**data, "exit_code": Verdict(data["verdict"]).exit_code}
    if "probes" not in data:  # written before runs had background probes: they had none
        data = {**data, "probes": []}
    problem = _schema_problem(data)
    if problem:
        raise ChaosError(f"{path} is not a valid run report: {problem}. `chaos report` reads the "
                         f"report.json that `chaos run` writes (schema/report.schema.json).")
    try:
        return RunResult.from_json(data)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:  # the schema should have caught it
        raise ChaosError(f"{path} is not a valid run report: {exc}.") from exc


def _read(path: Path, given: Path) -> bytes:
    try:
        info = os.stat(path)
    except FileNotFoundError:
        if path != given or given.suffix != ".json":
            raise ChaosError(f"no {FILENAME} in {given}: is this a run directory?") from None
        raise ChaosError(f"{path} does not exist: give a run directory or its {FILENAME}.") from None
    except OSError as exc:
        raise ChaosError(f"{path} cannot be read: {exc.strerror or exc}.") from exc
    if not stat.S_ISREG(info.st_mode):
        raise ChaosError(f"{path} is not a regular file ({_file_kind(info.st_mode)}): a run report is "
                         f"the {FILENAME} file `chaos run` writes.")
    try:
        # O_NONBLOCK: should the path turn into a FIFO after the check above, open does not wait
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise ChaosError(f"{path} cannot be read: {exc.strerror or exc}.") from exc
    try:
        opened = os.fstat(fd)
        if not stat.S_ISREG(opened.st_mode):
            raise ChaosError(f"{path} is not a regular file ({_file_kind(opened.st_mode)}).")
        if opened.st_size > MAX_BYTES:
            raise ChaosError(f"{path} is {opened.st_size} bytes, more than any run report "
                             f"({MAX_BYTES} at most): not reading it.")
        with os.fdopen(fd, "rb", closefd=True) as stream:
            fd = -1
            data = stream.read(MAX_BYTES + 1)
    except OSError as exc:
        raise ChaosError(f"{path} cannot be read: {exc.strerror or exc}.") from exc
    finally:
        if fd >= 0:
            os.close(fd)
    if not data:
        raise ChaosError(f"{path} is empty: the run may have been stopped while writing it; its "
                         f"junit.xml, summary.md and report.html may still be there.")
    return data


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text} is out of range")
    return value


def _parse(path: Path, raw: bytes) -> Any:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ChaosError(f"{path} is not a run report: it is not UTF-8 text (byte {exc.start} is "
                         f"0x{raw[exc.start]:02x}); is it a binary file?") from None
    try:
        return json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float)
    except json.JSONDecodeError as exc:
        raise ChaosError(f"{path} cannot be read as JSON: {exc.msg} at line {exc.lineno} column "
                         f"{exc.colno}.") from None
    except ValueError as exc:
        raise ChaosError(f"{path} cannot be read as JSON: {exc}.") from None
    except RecursionError:
        raise ChaosError(f"{path} cannot be read as JSON: nested too deeply.") from None


def _schema_problem(data: dict[str, Any]) -> str:
    """'' when `data` is valid; else the most relevant problem as `field: what is wrong`, with a
    count of the others."""
    import jsonschema  # only `chaos report` needs it; `chaos run` only writes

    validator = jsonschema.Draft202012Validator(schema())
    errors = list(validator.iter_errors(data))
    if not errors:
        return ""
    best = jsonschema.exceptions.best_match(errors)
    assert best is not None
    others = len(errors) - 1
    more = f" (and {others} more problem{'s' if others != 1 else ''})" if others else ""
    return _describe(best, data) + more


def _describe(error: ValidationError, data: dict[str, Any]) -> str:
    field = _field(error.absolute_path)
    if error.validator == "const" and field == "exit_code":
        verdict = Verdict(data["verdict"])
        return (f"field exit_code: {error.instance!r} does not match verdict {verdict.value!r} "
                f"(exit {verdict.exit_code})")
    prefix = f"{field}." if field else ""
    if error.validator == "required" and isinstance(error.instance, dict):
        required = error.validator_value if isinstance(error.validator_value, list) else []
        missing = [k for k in required if k not in error.instance]
        return ", ".join(f"field {prefix}{k}" for k in missing) + " is missing"
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        known = error.schema.get("properties", {}) if isinstance(error.schema, dict) else {}
        extra = [k for k in error.instance if k not in known]
        return ", ".join(f"field {prefix}{k}" for k in extra) + " is not part of a run report"
    return f"field {field or '(top level)'}: {_short(error)}"


def _short(error: ValidationError) -> str:
    """jsonschema's message, without echoing a huge instance back."""
    if error.validator == "type":
        expected = error.validator_value
        names = " or ".join(expected) if isinstance(expected, list) else str(expected)
        return f"{_preview(error.instance)} is {_json_type(error.instance)}, expected {names}"
    if error.validator == "enum" and isinstance(error.validator_value, list):
        allowed = ", ".join(json.dumps(v) for v in error.validator_value)
        return f"{_preview(error.instance)} is not one of {allowed}"
    return error.message if len(error.message) <= 300 else error.message[:299] + "…"


def _preview(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 60 else text[:59] + "…"


def _field(path: Iterable[str | int]) -> str:
    """`steps[0].status` from jsonschema's path parts."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _file_kind(mode: int) -> str:
    for test, kind in ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"),
                       (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device")):
        if test(mode):
            return kind
    return "not a file"
