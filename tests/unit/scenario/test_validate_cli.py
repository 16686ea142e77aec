"""`chaos validate`, `chaos schema`, `chaos xids` through the real CLI: formats, exit codes, imports."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from xml.etree import ElementTree as ET

from runner import __version__, xid
from runner.scenario.problems import CODES
from tests.conftest import REPO, cli_env

Chaos = Callable[..., subprocess.CompletedProcess[str]]
INVALID = "tests/unit/scenario/invalid"


def test_version(chaos: Chaos) -> None:
    proc = chaos(["--version"])
    assert (proc.returncode, proc.stdout.strip()) == (0, f"chaos {__version__}")


def test_validate_never_imports_kubernetes_or_rich_in_process() -> None:
    code = (
        "import sys\n"
        "from runner.cli import app\n"
        "try:\n"
        "    app(['validate', 'scenarios', '-o', 'junit'], prog_name='chaos')\n"
        "except SystemExit as exc:\n"
        "    assert exc.code == 0, exc.code\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('kubernetes', 'rich', 'urllib3'))\n"
        "print('LOADED', loaded)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=cli_env(), capture_output=True,
                          text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "LOADED []"


def test_junit_has_one_case_per_problem_and_per_valid_file(chaos: Chaos) -> None:
    proc = chaos(["validate", "-o", "junit", "scenarios/xid79.yaml", f"{INVALID}/unknown-xid.yaml",
                  f"{INVALID}/duplicate-step-names.yaml"])
    assert proc.returncode == 2
    root = ET.fromstring(proc.stdout)
    cases = root.findall("./testsuite/testcase")
    names = [c.get("name") or "" for c in cases]
    assert names[0] == "scenarios/xid79.yaml"
    assert names[1].startswith(f"{INVALID}/unknown-xid.yaml:")
    assert names[2].startswith(f"{INVALID}/duplicate-step-names.yaml:")
    assert cases[0].find("failure") is None
    assert [f.get("type") for f in cases[1].findall("failure")] == ["CH020"]
    assert [f.get("type") for f in cases[2].findall("failure")] == ["CH027"]
    assert root.get("tests") == "3"
    assert root.get("failures") == "2"


def test_github_annotations(chaos: Chaos) -> None:
    proc = chaos(["validate", "-o", "github", f"{INVALID}/unknown-step-key-typo.yaml"])
    assert proc.returncode == 2
    first = proc.stdout.splitlines()[0]
    assert first.startswith(f"::error file={INVALID}/unknown-step-key-typo.yaml,line=16,col=14,title=CH010::"
                            "steps[2].toggle.enabeld: unknown key 'enabeld'")
    assert "did you mean 'enabled'?" in first
    assert "%0A" in first  # the hint travels on a second annotation line, escaped
    assert proc.stdout.splitlines()[-1] == "1 file, 1 error, 0 warnings"


def test_unknown_xid_is_one_message(chaos: Chaos) -> None:
    proc = chaos(["validate", "-o", "json", f"{INVALID}/unknown-xid.yaml"])
    problems = json.loads(proc.stdout)["files"][0]["problems"]
    assert [p["code"] for p in problems] == ["CH020"]
    for number in xid.supported():
        assert f"{number} ({xid.CATALOGUE[number].title})" in problems[0]["message"]


def test_bad_output_format_is_a_usage_error(chaos: Chaos) -> None:
    proc = chaos(["validate", "-o", "xml"])
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "xml" in proc.stderr


def test_manifest_directories_are_skipped(tmp_path: Path, chaos: Chaos) -> None:
    (tmp_path / "manifests").mkdir()
    (tmp_path / "manifests" / "deploy.yaml").write_text("apiVersion: apps/v1\nkind: Deployment\n")
    (tmp_path / "nested").mkdir()
    (tmp_path / "nested" / "s.yml").write_text((REPO / "scenarios/xid43.yaml").read_text()
                                               .replace("manifests: [manifests/vllm-worker.yaml]", ""))
    proc = chaos(["validate", "-o", "json", str(tmp_path)])
    assert proc.returncode == 0, proc.stdout
    assert [Path(f["path"]).name for f in json.loads(proc.stdout)["files"]] == ["s.yml"]


def test_schema_command_prints_the_published_schema(chaos: Chaos) -> None:
    proc = chaos(["schema"])
    assert proc.returncode == 0
    assert proc.stdout == (REPO / "schema/scenario.schema.json").read_text(encoding="utf-8")


def test_xids_json_and_table(chaos: Chaos) -> None:
    rows = json.loads(chaos(["xids", "-o", "json"]).stdout)
    assert [r["xid"] for r in rows] == xid.supported()
    assert rows[-1]["peer_error"] == "cudaErrorPeerAccessUnsupported (217)"
    table = chaos(["xids"])
    assert table.returncode == 0
    for entry in xid.CATALOGUE.values():
        assert re.search(rf"\b{entry.number}\b", table.stdout)


def test_readme_documents_every_code() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    rows = dict(re.findall(r"^\| `(CH\d{3})` \| (error|warning|info) \|", readme, re.MULTILINE))
    assert rows == {code: c.severity.value for code, c in CODES.items()}


def test_readme_example_is_a_valid_scenario(tmp_path: Path, chaos: Chaos) -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    example = re.search(r"```yaml\n(.*?)```", readme, re.DOTALL)
    assert example is not None
    path = tmp_path / "example.yaml"
    path.write_text(example.group(1))
    proc = chaos(["validate", "--strict", str(path)])
    assert proc.returncode == 0, proc.stdout
