"""Checks that a JUnit file reads the way CI reads it: valid against the Jenkins JUnit XSD (with
xmllint) and counted by junitparser exactly as its own attributes say.

The XSD is not kept in this repository: pytest ships it in its source distribution as
`testing/example_scripts/junit-10.xsd` (pytest tests its own junitxml output against it), so it is
fetched once per session with `pip download` of the installed pytest's sdist. When it cannot be
fetched, or xmllint is missing, the check fails with a message saying what to do; it never skips.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import junitparser
import pytest

XSD_MEMBER = "testing/example_scripts/junit-10.xsd"
_cached: Path | None = None


def junit_xsd(cache_dir: Path) -> Path:
    """The path of junit-10.xsd, fetched into `cache_dir` on first use (once per session)."""
    global _cached
    if _cached is not None and _cached.is_file():
        return _cached
    target = cache_dir / f"junit-10-pytest-{pytest.__version__}.xsd"
    if not target.is_file():
        _fetch(target)
    _cached = target
    return target


def _fetch(target: Path) -> None:
    version = pytest.__version__
    download = target.parent / f"sdist-{version}"
    download.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:",
           f"pytest=={version}", "-d", str(download)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        pytest.fail(f"cannot fetch the JUnit XSD: `{' '.join(cmd)}` did not finish: {exc}", pytrace=False)
    sdists = sorted(download.glob(f"pytest-{version}.tar.gz"))
    if proc.returncode != 0 or not sdists:
        tail = "\n".join((proc.stderr or proc.stdout).splitlines()[-8:])
        pytest.fail(f"cannot fetch the JUnit XSD: `{' '.join(cmd)}` exited {proc.returncode} without "
                    f"pytest-{version}.tar.gz. The XSD check needs a pip index that holds the pytest "
                    f"sdist (it ships {XSD_MEMBER}).\n{tail}", pytrace=False)
    with tarfile.open(sdists[0]) as tar:
        name = f"pytest-{version}/{XSD_MEMBER}"
        try:
            member = tar.extractfile(name)
        except KeyError:
            member = None
        if member is None:
            pytest.fail(f"cannot fetch the JUnit XSD: {sdists[0].name} has no {name}", pytrace=False)
        data = member.read()
    partial = target.with_suffix(".part")
    partial.write_bytes(data)
    partial.replace(target)


def xmllint() -> str:
    path = shutil.which("xmllint")
    if path is None:
        pytest.fail("xmllint is not installed: apt-get install -y libxml2-utils (listed in "
                    ".ci/apt-packages)", pytrace=False)
    return path


def schema_errors(junit_file: Path, xsd: Path) -> str:
    """xmllint's complaints about `junit_file` against the XSD; '' when it validates."""
    proc = subprocess.run([xmllint(), "--noout", "--schema", str(xsd), str(junit_file)],
                          capture_output=True, text=True, timeout=60, check=False)
    return "" if proc.returncode == 0 else (proc.stderr or f"xmllint exited {proc.returncode}")


def assert_reads_right(junit_file: Path, xsd: Path) -> junitparser.JUnitXml:
    """Valid against the XSD; at most one outcome element per test case; every count attribute
    equal to what junitparser counts. Returns the parsed file."""
    errors = schema_errors(junit_file, xsd)
    assert not errors, f"{junit_file} is not valid JUnit (Jenkins XSD):\n{errors}"
    xml = junitparser.JUnitXml.fromfile(str(junit_file))
    assert isinstance(xml, junitparser.JUnitXml)
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for suite in xml:
        counted = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
        for case in suite:
            counted["tests"] += 1
            outcomes = list(case.result)
            assert len(outcomes) <= 1, f"test case {case.name!r} carries {len(outcomes)} outcomes"
            for outcome in outcomes:
                key = {junitparser.Failure: "failures", junitparser.Error: "errors",
                       junitparser.Skipped: "skipped"}[type(outcome)]
                counted[key] += 1
        said = {"tests": suite.tests, "failures": suite.failures, "errors": suite.errors,
                "skipped": suite.skipped or 0}
        assert said == counted, f"suite {suite.name!r}: attributes {said}, test cases {counted}"
        for key, n in counted.items():
            totals[key] += n
    said_total = {"tests": xml.tests, "failures": xml.failures, "errors": xml.errors}
    assert said_total == {k: totals[k] for k in said_total}, (said_total, totals)
    return xml


@pytest.fixture(scope="session")
def junit_xsd_path(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """junit-10.xsd, fetched once per session (kept in the pytest cache when it is enabled)."""
    cache = getattr(request.config, "cache", None)
    base = cache.mkdir("chaos-junit-xsd") if cache is not None else tmp_path_factory.mktemp("junit-xsd")
    return junit_xsd(Path(base))
