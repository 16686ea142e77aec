"""Redaction that knows Kubernetes shapes, one rule at a time, with what must stay beside it.

Each rule has a positive example (the secret is gone) and a negative one (what a reader needs is
still there: env var names, the patch's shape, which container, harmless text such as
LOG_LEVEL=info). The end of the file checks the whole path: a patch step's evidence as the engine
records it, through every report file, the terminal, the live view and the JSON stdout form.
"""

from __future__ import annotations

import dataclasses
import io
import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

import tests.unit.report.report_samples as report_samples
from runner.engine.result import Evidence, RunResult
from runner.report import json_report, redacted, terminal, write_reports
from runner.report.live import LiveView
from runner.report.redact import REDACTED, is_secret_name, redact_text, redact_value

HF = "hf_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"
DB = "dbpass-7f3a9c"
AWS = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
API = "sk-live-apikey-4242"
SECRETS = (HF, DB, AWS, API)
CONTAINERS = "/spec/template/spec/containers"


def _env(*pairs: tuple[str, str]) -> list[dict[str, str]]:
    return [{"name": n, "value": v} for n, v in pairs]


# --- text rules ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    # NAME=value where the NAME is secret-like, even when the value looks harmless
    (f"HF_TOKEN={HF}", "HF_TOKEN=[REDACTED]"),
    ("DB_PASSWORD=1234", "DB_PASSWORD=[REDACTED]"),
    (f"export AWS_SECRET_ACCESS_KEY='{AWS}'", "export AWS_SECRET_ACCESS_KEY='[REDACTED]'"),
    ('{"OPENAI_API_KEY": "abc"}', '{"OPENAI_API_KEY": "[REDACTED]"}'),
    ("clientSecret: abc", "clientSecret: [REDACTED]"),
    ("GET /v1/models?token=abc&x=1", "GET /v1/models?token=[REDACTED]&x=1"),
    # credential flags, joined or separate, quoted or not
    (f"serve --api-key={API} --port 8000", "serve --api-key=[REDACTED] --port 8000"),
    ("serve --token abc --port 8000", "serve --token [REDACTED] --port 8000"),
    ('run --password "two words"', 'run --password "[REDACTED]"'),
    ("login --secret=s --client-secret c --hf-token h", "login --secret=[REDACTED] "
     "--client-secret [REDACTED] --hf-token [REDACTED]"),
    # bearer tokens, URL passwords, AWS key ids, tokens by their prefix
    ("curl -H 'Authorization: Bearer abc.def'", "curl -H 'Authorization: [REDACTED]'"),
    ("got bearer abc123 back", "got bearer [REDACTED] back"),
    ("postgres://app:pw123@db:5432/x", "postgres://app:[REDACTED]@db:5432/x"),
    ("key AKIAIOSFODNN7EXAMPLE in use", "key [REDACTED] in use"),
    (f"downloading with {HF}", "downloading with [REDACTED]"),
    ("ghp_0123456789abcdefghijABCDEFGHIJ works", "[REDACTED] works"),
    # env entries quoted in messages (JSON, Go's %+v) and the API server's validation error
    (f'{{"name": "HF_TOKEN", "value": "{HF}"}}', '{"name": "HF_TOKEN", "value": "[REDACTED]"}'),
    ("{Name:LOG_LEVEL,Value:debug,ValueFrom:nil}", "{Name:LOG_LEVEL,Value:[REDACTED],ValueFrom:nil}"),
    ('containers[0].env[1].value: Invalid value: "a b": bad', 'containers[0].env[1].value: '
     'Invalid value: "[REDACTED]": bad'),
])
def test_text_rule_hides_the_value(text: str, expected: str) -> None:
    assert redact_text(text) == expected
    assert redact_text(expected) == expected  # twice changes nothing


@pytest.mark.parametrize("text", [
    "LOG_LEVEL=info",
    "MODEL=meta-llama/Llama-3-8B PORT=8000",
    "cuda-worker --token-ms 5 --model tiny --idle-work-ms 50",  # --token-ms is not a token
    "serve --password-file /run/secrets/db",  # a path to a secret, not the secret
    "max_tokens: 16, tokens=3 per request",
    "http://vllm-worker.inference:8000/v1/completions",
    '{"name": "CUDA_XID_TYPE", "value": "79"}',  # the shim's own variable
    "secretKeyRef hf-creds/token",
    "step 2/6 started: 2-wait at 12:30:01",
    "pod vllm-worker-b95e55f06e-ec315 logged: [XID 79 SIM] cudaMalloc -> cudaErrorNoDevice (100)",
])
def test_text_rule_keeps_harmless_text(text: str) -> None:
    assert redact_text(text) == text


@pytest.mark.parametrize(("name", "secret"), [
    ("HF_TOKEN", True), ("DB_PASSWORD", True), ("AWS_SECRET_ACCESS_KEY", True), ("x-api-key", True),
    ("clientSecret", True), ("accessToken", True), ("BASIC_AUTH", True), ("GOOGLE_CREDENTIALS", True),
    ("token", True), ("client-key-data", True),
    ("LOG_LEVEL", False), ("key", False), ("secretKeyRef", False), ("secretName", False),
    ("max_tokens", False), ("tokenizer", False), ("passthrough", False), ("AWS_REGION", False),
])
def test_secret_names(name: str, secret: bool) -> None:
    assert is_secret_name(name) is secret


# --- shapes --------------------------------------------------------------------------------------

def test_env_values_hidden_names_kept_wherever_a_container_appears() -> None:
    pod = {"spec": {"initContainers": [{"name": "init", "env": _env(("DB_PASSWORD", DB))}],
                    "containers": [{"name": "worker", "image": "vllm",
                                    "env": [*_env(("HF_TOKEN", HF), ("LOG_LEVEL", "info")),
                                            {"name": "FROM_SECRET", "valueFrom": {
                                                "secretKeyRef": {"name": "hf", "key": "token"}}},
                                            {"name": "EMPTY", "value": ""}]}]}}
    out = redact_value(pod)
    worker = out["spec"]["containers"][0]
    assert worker["name"] == "worker"
    assert worker["image"] == "vllm"
    assert worker["env"] == [
        {"name": "HF_TOKEN", "value": REDACTED},
        {"name": "LOG_LEVEL", "value": REDACTED},  # any env value can be a credential
        {"name": "FROM_SECRET", "valueFrom": {"secretKeyRef": {"name": "hf", "key": "token"}}},
        {"name": "EMPTY", "value": ""},
    ]
    assert out["spec"]["initContainers"][0]["env"] == [{"name": "DB_PASSWORD", "value": REDACTED}]


def test_env_as_a_name_to_value_map() -> None:
    assert redact_value({"env": {"HF_TOKEN": HF, "LD_PRELOAD": "/cuda-fault/cuda_intercept.so"}}) == {
        "env": {"HF_TOKEN": REDACTED, "LD_PRELOAD": "/cuda-fault/cuda_intercept.so"}}


def test_patch_ops_are_judged_by_their_path() -> None:
    patch: list[dict[str, Any]] = [
        {"op": "test", "path": "/metadata/resourceVersion", "value": "38"},
        {"op": "test", "path": f"{CONTAINERS}/0/env", "value": _env(("HF_TOKEN", HF), ("LOG_LEVEL", "info"))},
        {"op": "add", "path": f"{CONTAINERS}/0/env/-", "value": {"name": "CUDA_XID_TYPE", "value": "79"}},
        {"op": "add", "path": f"{CONTAINERS}/0/env/-", "value": {"name": "EXTRA", "value": DB}},
        {"op": "replace", "path": f"{CONTAINERS}/0/env/1", "value": {"name": "LD_PRELOAD",
                                                                    "value": "/cuda-fault/x.so"}},
        {"op": "replace", "path": f"{CONTAINERS}/0/env/0/value", "value": AWS},
        {"op": "test", "path": f"{CONTAINERS}/1/args", "value": ["--api-key", API, "--port", "8000"]},
        {"op": "test", "path": "/spec/template/spec/initContainers", "value": [
            {"name": "warm", "command": ["sh", "-c", f"fetch --hf-token {HF}"], "env": _env(("PW", DB))}]},
        {"op": "add", "path": "/spec/template/metadata/labels/chaos.dev~1run-id", "value": "r1"},
    ]
    out = redact_value(patch)
    assert [(op["op"], op["path"]) for op in out] == [(op["op"], op["path"]) for op in patch]  # shape
    assert out[0]["value"] == "38"
    assert out[1]["value"] == _env(("HF_TOKEN", REDACTED), ("LOG_LEVEL", REDACTED))
    assert out[2]["value"] == {"name": "CUDA_XID_TYPE", "value": "79"}  # chaos wrote it
    assert out[3]["value"] == {"name": "EXTRA", "value": REDACTED}
    assert out[4]["value"] == {"name": "LD_PRELOAD", "value": "/cuda-fault/x.so"}
    assert out[5]["value"] == REDACTED
    assert out[6]["value"] == ["--api-key", REDACTED, "--port", "8000"]
    assert out[7]["value"] == [{"name": "warm", "command": ["sh", "-c", "fetch --hf-token [REDACTED]"],
                                "env": [{"name": "PW", "value": REDACTED}]}]
    assert out[8]["value"] == "r1"


@pytest.mark.parametrize(("argv", "expected"), [
    (["serve", "--api-key", API], ["serve", "--api-key", REDACTED]),
    (["serve", f"--api-key={API}"], ["serve", "--api-key=[REDACTED]"]),
    (["serve", "--token", "--verbose"], ["serve", "--token", "--verbose"]),  # no value to hide
    (["cuda-worker", "--token-ms", "5", "--model", "tiny"], ["cuda-worker", "--token-ms", "5", "--model",
                                                              "tiny"]),
    (["sh", "-c", f"AWS_SECRET_ACCESS_KEY={AWS} exec app"], ["sh", "-c",
                                                            "AWS_SECRET_ACCESS_KEY=[REDACTED] exec app"]),
])
def test_command_and_args(argv: list[str], expected: list[str]) -> None:
    assert redact_value({"containers": [{"name": "c", "args": argv}]}) == {
        "containers": [{"name": "c", "args": expected}]}


def test_configmap_and_secret_data_keys_kept_values_hidden() -> None:
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "hf"}, "type": "Opaque",
              "data": {"token": "aGZfc2VjcmV0"}, "stringData": {"extra": "plain"}}
    configmap = {"kind": "ConfigMap", "metadata": {"name": "app-config"},
                 "data": {"app.yaml": f"db: {DB}"}, "binaryData": {"blob": "AAEC"}}
    listed = {"metadata": {"name": "no-kind"}, "data": {"k": "v"}}  # a list item has no kind
    assert redact_value(secret) == {**secret, "data": {"token": REDACTED}, "stringData": {"extra": REDACTED}}
    assert redact_value(configmap) == {**configmap, "data": {"app.yaml": REDACTED},
                                       "binaryData": {"blob": REDACTED}}
    assert redact_value({"items": [listed]}) == {"items": [{**listed, "data": {"k": REDACTED}}]}


def test_a_configmap_chaos_created_stays_but_a_secret_labelled_ours_does_not() -> None:
    ours = {"app.kubernetes.io/managed-by": "chaos", "chaos.dev/run-id": "r1"}
    shim = {"kind": "ConfigMap", "metadata": {"name": "chaos-shim-r1", "labels": ours},
            "data": {"core.c": "int main(void) { return 0; }"}}
    secret = {"kind": "Secret", "metadata": {"name": "s", "labels": ours}, "data": {"k": "dg=="}}
    assert redact_value(shim) == shim
    assert redact_value(secret)["data"] == {"k": REDACTED}


def test_objects_that_are_not_configmaps_keep_their_data_and_references() -> None:
    evidence = {"data": {"pods": [{"name": "p", "node": "n"}]},
                "volumes": [{"name": "creds", "secret": {"secretName": "hf-creds"}},
                            {"name": "cfg", "configMap": {"name": "app-config"}}]}
    assert redact_value(evidence) == evidence


def test_last_applied_configuration_repeats_the_whole_object() -> None:
    annotations = {"kubectl.kubernetes.io/last-applied-configuration": json.dumps(
        {"spec": {"template": {"spec": {"containers": [{"env": _env(("LOG_LEVEL", "info"))}]}}}}),
        "team": "inference"}
    out = redact_value({"metadata": {"annotations": annotations}})
    assert out["metadata"]["annotations"] == {
        "kubectl.kubernetes.io/last-applied-configuration": REDACTED, "team": "inference"}


def test_secret_named_keys_and_what_stays_beside_them() -> None:
    value = {"headers": {"x-api-key": API, "Content-Type": "application/json"},
             "password": {"value": DB, "length": 6}, "token": 5, "max_tokens": 16, "tokens": "3",
             "credentials": [{"user": "u", "pass": DB}], "secretName": "hf-creds", "enabled": True}
    assert redact_value(value) == {
        "headers": {"x-api-key": REDACTED, "Content-Type": "application/json"},
        "password": {"value": REDACTED, "length": 6}, "token": REDACTED, "max_tokens": 16,
        "tokens": "3", "credentials": [{"user": REDACTED, "pass": REDACTED}],
        "secretName": "hf-creds", "enabled": True}


# --- the whole path: a patch step's evidence into every output ------------------------------------

def _patch_evidence() -> dict[str, Any]:
    env = _env(("HF_TOKEN", HF), ("DB_PASSWORD", DB), ("AWS_SECRET_ACCESS_KEY", AWS), ("LOG_LEVEL", "info"))
    return {"patches": [[
        {"op": "test", "path": "/metadata/resourceVersion", "value": "38"},
        {"op": "test", "path": f"{CONTAINERS}/0/env", "value": env},
        {"op": "add", "path": f"{CONTAINERS}/0/env/-", "value": {"name": "CUDA_XID_TYPE", "value": "79"}},
        {"op": "test", "path": "/spec/template/spec/initContainers", "value": [
            {"name": "fetch", "args": ["--api-key", API]}]},
    ]]}


def _leaky() -> RunResult:
    base = report_samples.failed()
    patch = dataclasses.replace(
        base.steps[0], kind="patch",
        message=f"patch rejected: spec.template.spec.containers[0].env[0].value: Invalid value: \"{HF}\"",
        evidence=(Evidence("object", "JSON patch applied to Deployment inference/vllm-worker",
                           _patch_evidence()),
                  Evidence("log", f"worker started with --api-key={API}", {"line": f"DB_PASSWORD={DB}"})))
    return dataclasses.replace(base, steps=(patch, *base.steps[1:]))


def _no_secret(text: str, where: str) -> None:
    for secret in SECRETS:
        assert secret not in text, (where, secret)


def test_every_report_file_and_re_rendering(tmp_path: Path) -> None:
    for path in write_reports(_leaky(), tmp_path / "run"):
        text = path.read_text()
        _no_secret(text, path.name)
        if path.name != "summary.md":  # the summary shows no evidence; the others keep the names
            for name in ("HF_TOKEN", "DB_PASSWORD", "AWS_SECRET_ACCESS_KEY"):
                assert name in text, (path.name, name)
    saved = json.loads((tmp_path / "run" / "report.json").read_text())
    ops = saved["steps"][0]["evidence"][0]["data"]["patches"][0]
    assert [op["op"] for op in ops] == ["test", "test", "add", "test"]
    assert ops[1]["path"] == f"{CONTAINERS}/0/env"
    assert ops[2]["value"] == {"name": "CUDA_XID_TYPE", "value": "79"}


def test_stdout_forms_terminal_live_and_json() -> None:
    result = _leaky()
    _no_secret(terminal.render_text(result), "terminal")
    _no_secret(json.dumps(redacted(result).to_json()), "chaos run -o json")
    _no_secret(json_report.dumps(redacted(result)), "chaos report -o json")
    buf = io.StringIO()
    view = LiveView(buf, plain=True)
    view.run_started(SimpleNamespace(metadata=SimpleNamespace(name="x")), "r", "/tmp", "sim")
    view.step_progress(None, f"starting worker with HF_TOKEN={HF} --api-key {API}", {})
    view.step_finished(result.steps[0])
    _no_secret(buf.getvalue(), "live view")
    assert "HF_TOKEN=[REDACTED]" in buf.getvalue()


def test_redacting_is_idempotent_on_a_whole_result() -> None:
    once = redacted(_leaky())
    assert redacted(once) == once
