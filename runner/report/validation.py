"""Render `chaos validate` results as text, JSON, GitHub annotations, JUnit XML or Markdown.

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


def junit_case_name(p: Problem, path: str) -> str:
    """`file:line:col CODE field`: the test case of one problem (where first, as `problem_line`)."""
    file = p.file or path
    where = f"{file}:{p.line}:{p.column}" if p.line else file
    return f"{where} {p.code}" + (f" {p.field}" if p.field else "")


def render_junit(results: Sequence[FileResult], strict: bool = False) -> str:
    """A JUnit XML document CI tools count right: one test case per problem, failing (one
    <failure>) when the problem fails validation (errors; warnings too with `strict`), passing
    otherwise; one passing test case per file without problems. File, line and column are in the
    test case name and its text (the Jenkins JUnit XSD has no `file`/`line` on a test case)."""
    from xml.etree import ElementTree as ET  # only this format needs it

    failing = {Severity.ERROR, Severity.WARNING} if strict else {Severity.ERROR}
    tests = sum(max(1, len(r.problems)) for r in results)
    failures = sum(1 for r in results for p in r.problems if p.severity in failing)
    suites = ET.Element("testsuites", name="chaos validate", tests=str(tests), failures=str(failures),
                        errors="0")
    suite = ET.SubElement(suites, "testsuite", name="chaos validate", tests=str(tests),
                          failures=str(failures), errors="0", skipped="0")
    props = ET.SubElement(suite, "properties")
    ET.SubElement(props, "property", name="strict", value=str(strict).lower())
    ET.SubElement(props, "property", name="files", value=str(len(results)))
    for r in results:
        if not r.problems:
            case = ET.SubElement(suite, "testcase", classname="chaos.validate", name=r.path)
            ET.SubElement(case, "system-out").text = f"{r.path}: valid"
        for p in r.problems:
            case = ET.SubElement(suite, "testcase", classname="chaos.validate",
                                 name=junit_case_name(p, r.path))
            detail = problem_line(p) + (f"\n    hint: {p.hint}" if p.hint else "")
            if p.severity in failing:
                field = f" {p.field}" if p.field else ""
                ET.SubElement(case, "failure", type=p.code,
                              message=f"{p.code}{field}: {p.message}").text = detail
            else:
                note = " (fails with --strict)" if p.severity is Severity.WARNING else ""
                ET.SubElement(case, "system-out").text = f"{detail}\n{p.severity.value}{note}"
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"


def _md_cell(text: str) -> str:
    """Text safe inside one Markdown table cell (pipes escaped, newlines flattened)."""
    return text.replace("|", "\\|").replace("\r", " ").replace("\n", " ")


def render_markdown(results: Sequence[FileResult], strict: bool = False) -> str:
    """A GitHub-flavoured Markdown summary (for `$GITHUB_STEP_SUMMARY`): one row per file, then one
    row per problem, so a reviewer sees what failed without opening the log."""
    ok = all(r.passed(strict) for r in results)
    lines = [f"### chaos validate: {'passed' if ok else 'failed'}", "", summary(results), "",
             "| File | Result | Errors | Warnings |", "| --- | --- | ---: | ---: |"]
    for r in results:
        mark = "✅ valid" if r.passed(strict) else "❌ invalid"
        lines.append(f"| `{_md_cell(r.path)}` | {mark} | {r.errors} | {r.warnings} |")
    problems = [p for r in results for p in r.problems]
    if problems:
        lines += ["", "| Where | Code | Severity | Problem |", "| --- | --- | --- | --- |"]
        for p in problems:
            where = f"{p.file}:{p.line}:{p.column}" if p.line else p.file
            field = f"`{_md_cell(p.field)}`: " if p.field else ""
            lines.append(f"| `{_md_cell(where)}` | {p.code} | {p.severity.value} | "
                         f"{field}{_md_cell(p.message)} |")
    return "\n".join(lines) + "\n"
