"""Render `chaos validate` results as text, JSON, GitHub annotations or JUnit XML.

Pure functions from `FileResult`s to strings: the CLI picks one and prints it, CI parses the
machine formats (the PR gate reads JUnit). No Rich here (colour is the CLI's business, and only on
a terminal), so rendering 1,000 results costs nothing to import.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from runner.scenario.problems import Problem, Severity
from runner.scenario.validate import FileResult


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def summary(results: Sequence[FileResult]) -> str:
    """`3 files, 1 error, 2 warnings` (hints only when there are any)."""
    errors = sum(r.errors for r in results)
    warnings = sum(r.warnings for r in results)
    infos = sum(r.count(Severity.INFO) for r in results)
    text = f"{_plural(len(results), 'file')}, {_plural(errors, 'error')}, {_plural(warnings, 'warning')}"
    return text + (f", {_plural(infos, 'hint')}" if infos else "")


def problem_line(p: Problem) -> str:
    """`file:line:col  CODE  field  severity: message` (the grep- and editor-friendly form)."""
    where = f"{p.file}:{p.line}:{p.column}" if p.line else p.file
    return f"{where}  {p.code}  {p.field or '-'}  {p.severity.value}: {p.message}"


def text_lines(results: Sequence[FileResult]) -> list[tuple[str, Severity | None]]:
    """Lines of the text report with the severity that colours each (None: plain)."""
    lines: list[tuple[str, Severity | None]] = []
    for result in results:
        for p in result.problems:
            lines.append((problem_line(p), p.severity))
            if p.hint:
                lines.append((f"    hint: {p.hint}", None))
    lines.append((summary(results), None))
    return lines


def render_text(results: Sequence[FileResult]) -> str:
    return "\n".join(line for line, _ in text_lines(results)) + "\n"


def render_json(results: Sequence[FileResult], strict: bool = False) -> str:
    files = [{
        "path": r.path,
        "valid": r.passed(strict),
        "problems": [{"code": p.code, "severity": p.severity.value, "message": p.message, "file": p.file,
                      "line": p.line, "column": p.column, "field": p.field, "hint": p.hint}
                     for p in r.problems],
    } for r in results]
    total = {
        "files": len(results),
        "errors": sum(r.errors for r in results),
        "warnings": sum(r.warnings for r in results),
        "infos": sum(r.count(Severity.INFO) for r in results),
        "valid": all(r.passed(strict) for r in results),
    }
    return json.dumps({"files": files, "summary": total}, indent=2) + "\n"


_GITHUB_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "notice"}


def _gh_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _gh_property(text: str) -> str:
    return _gh_data(text).replace(":", "%3A").replace(",", "%2C")


def render_github(results: Sequence[FileResult]) -> str:
    """GitHub Actions workflow commands: one `::error file=...` annotation per problem."""
    out = []
    for r in results:
        for p in r.problems:
            props = [f"file={_gh_property(p.file)}"]
            if p.line:
                props += [f"line={p.line}", f"col={p.column}"]
            props.append(f"title={_gh_property(p.code)}")
            field = f"{p.field}: " if p.field else ""
            hint = f"\n{p.hint}" if p.hint else ""
            message = _gh_data(field + p.message + hint)
            out.append(f"::{_GITHUB_LEVEL[p.severity]} {','.join(props)}::{message}")
    out.append(summary(results))
    return "\n".join(out) + "\n"


def render_junit(results: Sequence[FileResult], strict: bool = False) -> str:
    """A JUnit XML document: one test case per file, one failure per problem that fails it."""
    from xml.etree import ElementTree as ET  # only this format needs it

    failing = {Severity.ERROR, Severity.WARNING} if strict else {Severity.ERROR}
    failures = sum(1 for r in results if not r.passed(strict))
    suites = ET.Element("testsuites", name="chaos validate", tests=str(len(results)),
                        failures=str(failures), errors="0")
    suite = ET.SubElement(suites, "testsuite", name="chaos validate", tests=str(len(results)),
                          failures=str(failures), errors="0", skipped="0")
    for r in results:
        case = ET.SubElement(suite, "testcase", classname="chaos.validate", name=r.path, file=r.path)
        notes = []
        for p in r.problems:
            detail = problem_line(p) + (f"\n    hint: {p.hint}" if p.hint else "")
            if p.severity in failing:
                failure = ET.SubElement(case, "failure", type=p.code, message=f"{p.code} {p.message}")
                failure.text = detail
            else:
                notes.append(detail)
        if notes:
            ET.SubElement(case, "system-out").text = "\n".join(notes)
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"
