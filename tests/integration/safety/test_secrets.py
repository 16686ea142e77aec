"""Credentials in the workload never reach a report or stdout, and run directories are private
(DESIGN.md §4), through the real CLI on the embedded cluster.

The workload is scenarios/xid79.yaml's vllm-worker with plain `value:` env entries HF_TOKEN,
DB_PASSWORD and AWS_SECRET_ACCESS_KEY and an `--api-key=...` argument (the worker is started
through `sh -c` so the argument does not reach its strict flag parser). The patch step reads that
container and records the JSON patch it applied, `test` ops with the env list as read included, so
the env values are really in what the run produced: the journal keeps them (undo needs them; the
test checks they are there, so it cannot pass for want of a secret) and nothing else may. The
argument is in no file (undo journals only the paths a patch changes); redacting it in text is
tested in tests/unit/report/test_redact_kube.py. The scenario's probe carries a secret header value
and a secret in its body: they go out with every request and reach no file and no output.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from subprocess import CompletedProcess

import pytest

from tests.conftest import REPO, run_chaos

JOURNAL = "journal.jsonl"
REPORT_FILES = ("report.json", "junit.xml", "summary.md", "report.html")
ENV_SECRETS = {
    "HF_TOKEN": "hf-secret-4c1d9e7a2b",
    "DB_PASSWORD": "db-secret-hunter2-91f0",
    "AWS_SECRET_ACCESS_KEY": "aws-secret-wJalrXUtnFEMI-K7MDENG",
}
API_KEY = "api-secret-sk-live-5e6f"
PROBE_HEADER = "probe-secret-x-api-key-77aa"  # a header value and a body of the scenario's probe
PROBE_BODY = "probe-secret-prompt-31bb"
SECRETS = (*ENV_SECRETS.values(), API_KEY, PROBE_HEADER, PROBE_BODY)
RUN_TIMEOUT = 240.0

Chaos = Callable[..., CompletedProcess[str]]


def _scenario(tmp: Path) -> Path:
    """scenarios/xid79.yaml and its manifest, the worker container given env values and an arg."""
    scenario = (REPO / "scenarios" / "xid79.yaml").read_text()
    headers, prompt = "headers: {Content-Type: application/json}", '"prompt": "hello"'
    assert scenario.count(headers) == scenario.count(prompt) == 1, "the xid79 probe changed shape"
    (tmp / "xid79.yaml").write_text(scenario.replace(headers, headers[:-1] + f", X-Api-Key: {PROBE_HEADER}}}")
                                    .replace(prompt, f'"prompt": "hello {PROBE_BODY}"'))
    (tmp / "manifests").mkdir()
    manifest = (REPO / "scenarios" / "manifests" / "vllm-worker.yaml").read_text()
    image = "          image: chaos/cuda-worker:latest\n"
    assert manifest.count(image) == 1, "the vllm-worker manifest changed shape"
    env = "".join(f"            - {{name: {name}, value: {value}}}\n" for name, value in ENV_SECRETS.items())
    extra = ("          command: [sh, -c, 'exec cuda-worker', cuda-worker]\n"
             f"          args: ['--api-key={API_KEY}']\n"
             "          env:\n" + env + "            - {name: LOG_LEVEL, value: info}\n")
    (tmp / "manifests" / "vllm-worker.yaml").write_text(manifest.replace(image, image + extra))
    return tmp / "xid79.yaml"


@dataclass(frozen=True)
class Run:
    run_dir: Path
    done: CompletedProcess[str]


def _run(scenario: Path, run_dir: Path, *extra: str) -> Run:
    done = run_chaos(["run", str(scenario), "--cluster", "sim", "--report-dir", str(run_dir), *extra],
                     timeout=RUN_TIMEOUT)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "Traceback" not in done.stdout + done.stderr
    return Run(run_dir, done)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Run]:
    """One run with the plain text output and one with `-o json`, each in its own run directory."""
    tmp = tmp_path_factory.mktemp("secrets")
    scenario = _scenario(tmp)
    return {"text": _run(scenario, tmp / "run-text"), "json": _run(scenario, tmp / "run-json", "-o", "json")}


def _leaks(text: str) -> list[str]:
    return [s for s in SECRETS if s in text]


def test_the_values_were_read_and_kept_only_in_the_journal(runs: dict[str, Run]) -> None:
    for kind, run in runs.items():
        journal = (run.run_dir / JOURNAL).read_text()
        # the workload really carried them: the env the patch changes is journaled for undo; the
        # argument is not (undo keeps only the paths a patch changes), so it is in no file at all
        assert sorted(_leaks(journal)) == sorted(ENV_SECRETS.values()), kind
        for path in sorted(run.run_dir.rglob("*")):
            if path.is_file() and path.name != JOURNAL:
                assert not _leaks(path.read_text(errors="replace")), (kind, path.name)


def test_the_probes_headers_and_body_are_in_no_file(runs: dict[str, Run]) -> None:
    for kind, run in runs.items():
        report = json.loads((run.run_dir / "report.json").read_text())
        (probe,) = report["probes"]
        assert probe["requests"] > 0, kind  # it really sent them, the whole run long
        assert probe["headers"] == {"Content-Type": "[REDACTED]", "X-Api-Key": "[REDACTED]"}
        assert probe["body"] == "[REDACTED]"
        samples = (run.run_dir / "probes.jsonl").read_text()
        assert len(samples.splitlines()) == probe["requests"], kind
        assert not _leaks(samples), kind
        assert stat.S_IMODE(os.stat(run.run_dir / "probes.jsonl").st_mode) == 0o600, kind


def test_reports_keep_what_a_reader_needs(runs: dict[str, Run]) -> None:
    report = json.loads((runs["text"].run_dir / "report.json").read_text())
    patch = next(s for s in report["steps"] if s["kind"] == "patch")
    ops = [op for e in patch["evidence"] if e["kind"] == "object"
           for patch_ops in e["data"]["patches"] for op in patch_ops]
    env_test = next(op for op in ops if op["op"] == "test" and op["path"].endswith("/containers/0/env"))
    assert [item["name"] for item in env_test["value"]] == [*ENV_SECRETS, "LOG_LEVEL"]
    assert all(item["value"] == "[REDACTED]" for item in env_test["value"])
    added = {op["value"]["name"]: op["value"]["value"] for op in ops if op["path"].endswith("/env/-")}
    assert added["CUDA_XID_TYPE"] == "79"  # what chaos itself set stays readable


def test_stdout_and_stderr_of_both_output_forms(runs: dict[str, Run]) -> None:
    for kind, run in runs.items():
        assert not _leaks(run.done.stdout), kind
        assert not _leaks(run.done.stderr), kind
    printed = json.loads(runs["json"].done.stdout)  # -o json: the result only, on stdout
    assert printed["verdict"] == "passed"
    assert "HF_TOKEN" in runs["json"].done.stdout


@pytest.mark.parametrize("output", ["text", "json", "md", "html"])
def test_chaos_report_re_renders_without_them(runs: dict[str, Run], output: str) -> None:
    done = run_chaos(["report", str(runs["text"].run_dir), "-o", output])
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert not _leaks(done.stdout + done.stderr)


def test_run_directory_and_report_files_are_private(runs: dict[str, Run]) -> None:
    for kind, run in runs.items():
        assert stat.S_IMODE(os.stat(run.run_dir).st_mode) == 0o700, kind
        for name in REPORT_FILES:
            assert stat.S_IMODE(os.stat(run.run_dir / name).st_mode) == 0o600, (kind, name)
        assert stat.S_IMODE(os.stat(run.run_dir / JOURNAL).st_mode) == 0o600, kind  # env values
