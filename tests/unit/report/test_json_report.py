"""report.json: valid against schema/report.schema.json, round-trips, and loads back."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import jsonschema
import pytest

from runner.engine.result import RunResult, StepStatus, TimelineEvent, Verdict
from runner.errors import ChaosError
from runner.report import load_result, write_reports

SCHEMA_PATH = Path(__file__).resolve().parents[3] / "schema" / "report.schema.json"


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(SCHEMA_PATH.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$id"]
    return jsonschema.Draft202012Validator(schema)


def test_written_report_validates_and_round_trips(written: tuple[RunResult, Path, list[Path]],
                                                  validator: jsonschema.Draft202012Validator) -> None:
    result, run_dir, paths = written
    assert [p.name for p in paths] == ["report.json", "junit.xml", "summary.md", "report.html"]
    assert all(p.parent == run_dir and p.stat().st_size > 0 for p in paths)
    data = json.loads((run_dir / "report.json").read_text())
    errors = sorted(validator.iter_errors(data), key=str)
    assert not errors, [e.message for e in errors]
    assert RunResult.from_json(result.to_json()) == result
    # nothing in the samples needed redacting; an empty run_dir is filled in
    assert load_result(run_dir) == dataclasses.replace(result, run_dir=result.run_dir or str(run_dir))


def test_schema_describes_exactly_to_json(sample: RunResult) -> None:
    schema = json.loads(SCHEMA_PATH.read_text())
    data = sample.to_json()
    assert set(schema["properties"]) == set(data) == set(schema["required"])
    defs = schema["$defs"]
    assert set(defs["step"]["properties"]) == set(data["steps"][0])
    assert set(defs["rollback"]["properties"]) == set(data["rollback"])
    assert set(defs["fault"]["properties"]) == set(data["fault"])
    assert set(defs["event"]["properties"]) == {f.name for f in dataclasses.fields(TimelineEvent)}
    assert defs["step"]["properties"]["status"]["enum"] == [s.value for s in StepStatus]
    assert schema["properties"]["verdict"]["enum"] == [v.value for v in Verdict]


@pytest.mark.parametrize("breakage", ["extra-top", "extra-step", "bad-verdict", "missing-fault"])
def test_schema_rejects_what_to_json_never_produces(breakage: str,
                                                    written: tuple[RunResult, Path, list[Path]],
                                                    validator: jsonschema.Draft202012Validator) -> None:
    _, run_dir, _ = written
    data = json.loads((run_dir / "report.json").read_text())
    if breakage == "extra-top":
        data["surprise"] = 1
    elif breakage == "extra-step":
        data["steps"][0]["surprise"] = 1
    elif breakage == "bad-verdict":
        data["verdict"] = "mostly-fine"
    else:
        del data["fault"]
    assert list(validator.iter_errors(data))


def test_load_result_errors_are_clear(tmp_path: Path) -> None:
    with pytest.raises(ChaosError, match=r"no report\.json"):
        load_result(tmp_path)
    (tmp_path / "report.json").write_text("{ not json")
    with pytest.raises(ChaosError, match="cannot be read as JSON"):
        load_result(tmp_path)
    (tmp_path / "report.json").write_text("[1, 2]")
    with pytest.raises(ChaosError, match="expected a JSON object"):
        load_result(tmp_path)
    (tmp_path / "report.json").write_text('{"run_id": "x"}')
    with pytest.raises(ChaosError, match="not a valid run report"):
        load_result(tmp_path)


def test_load_result_accepts_the_file_itself(tmp_path: Path) -> None:
    import tests.unit.report.report_samples as report_samples

    result = report_samples.passed()
    write_reports(result, tmp_path)
    assert load_result(tmp_path / "report.json") == result


def test_exit_code_follows_the_verdict(sample: RunResult, validator: jsonschema.Draft202012Validator) -> None:
    data = sample.to_json()
    assert data["exit_code"] == sample.verdict.exit_code == sample.exit_code
    keys = list(data)
    assert keys[keys.index("verdict") + 1] == "exit_code"  # read together
    assert RunResult.from_json(data) == sample
    wrong = {**data, "exit_code": 2 if sample.exit_code != 2 else 0}
    with pytest.raises(ValueError, match="does not match verdict"):
        RunResult.from_json(wrong)
    assert list(validator.iter_errors(wrong))  # the schema says the same
    legacy = {k: v for k, v in data.items() if k != "exit_code"}
    assert RunResult.from_json(legacy) == sample


def test_the_packaged_schema_is_the_published_file() -> None:
    from runner.report import json_report

    assert json_report.schema() == json.loads(SCHEMA_PATH.read_text())
    packaged = Path(json_report.__file__).resolve().parents[1] / "data" / "report.schema.json"
    assert packaged.read_text() == SCHEMA_PATH.read_text()


def test_load_result_checks_the_schema(tmp_path: Path) -> None:
    import tests.unit.report.report_samples as report_samples

    write_reports(report_samples.passed(), tmp_path)
    path = tmp_path / "report.json"
    data = json.loads(path.read_text())
    data["steps"][2]["line"] = "sixteen"
    path.write_text(json.dumps(data))
    with pytest.raises(ChaosError, match=r"report\.json is not a valid run report: field steps\[2\]\.line: "
                                         r"\"sixteen\" is a string, expected integer"):
        load_result(tmp_path)
