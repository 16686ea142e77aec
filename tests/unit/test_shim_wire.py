"""The shim's wire contract: what `runner.shimwire` says must be what `shim/src` reads and writes.

Each test reads the C sources, so a variable, a toggle-file key, an API class or a default that
changes on one side only fails here, before a pod ever runs with a setting the shim ignores.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from runner import shimwire
from runner.scenario.model import ApiClass, Fault
from runner.steps.patch import fault_env

SRC = Path(__file__).resolve().parents[2] / "shim" / "src"


def c_sources() -> str:
    return "\n".join(p.read_text() for p in sorted(SRC.glob("*.[ch]")))


def c_function(name: str) -> str:
    """The body of one C function of core.c (from its signature to the closing brace at column 0)."""
    text = (SRC / "core.c").read_text()
    match = re.search(rf"^[^\n;]*\b{name}\([^)]*\)\s*\{{(.*?)^\}}", text, re.M | re.S)
    assert match, f"{name} not found in core.c"
    return match.group(1)


def test_every_environment_variable_is_read_by_the_shim_and_no_other() -> None:
    read = set(re.findall(r'getenv\("([A-Z_]+)"\)', c_sources())) - set(shimwire.DEVICE_ENV)
    ours = set(shimwire.SHIM_ENV_VARS) - {shimwire.ENV_PRELOAD}  # the loader reads LD_PRELOAD
    assert ours - read == set(), "variables Python sets that the shim never reads"
    assert {v for v in read if v.startswith("CUDA_")} - ours == set(), \
        "variables the shim reads that runner/shimwire.py does not know"


def test_toggle_file_keys_are_the_ones_the_shim_parses() -> None:
    parsed = set(re.findall(r'word_is\(line, k, "(\w+)"\)', c_sources()))
    assert parsed == set(shimwire.TOGGLE_KEYS)


def test_api_classes_are_the_ones_the_shim_parses() -> None:
    parsed = re.findall(r'word_is\(s, n, "(\w+)"\)', c_function("parse_apis"))
    assert tuple(parsed) == shimwire.SHIM_API_CLASSES


def test_the_scenario_api_classes_map_onto_the_shims_through_one_table() -> None:
    assert {a.value for a in ApiClass} == set(shimwire.SCENARIO_API_CLASSES)
    assert set(shimwire.SCENARIO_API_CLASSES.values()) <= set(shimwire.SHIM_API_CLASSES)
    env = fault_env(Fault(apis=tuple(ApiClass)), armed=False, toggle_file="/t")
    assert env[shimwire.ENV_APIS].split(",") == [shimwire.SCENARIO_API_CLASSES[a.value] for a in ApiClass]


def test_defaults_agree_with_the_c_side() -> None:
    text = c_sources()
    poll = re.search(r"static uint64_t g_poll_ms = (\d+);", text)
    limit = re.search(r"static int g_log_limit = (\d+);", text)
    toggle = re.search(r'#define SHIM_DEFAULT_TOGGLE_FILE "([^"]+)"', text)
    assert poll is not None
    assert limit is not None
    assert toggle is not None
    assert int(poll.group(1)) == shimwire.DEFAULT_POLL_MS
    assert int(limit.group(1)) == shimwire.DEFAULT_LOG_LIMIT
    assert toggle.group(1) == shimwire.DEFAULT_TOGGLE_FILE
    assert Fault().log_limit == shimwire.DEFAULT_LOG_LIMIT


def test_the_log_line_python_looks_for_is_the_one_the_shim_writes() -> None:
    text = c_sources()
    assert 'put_s(&l, "[XID ");' in text
    assert 'put_s(&l, " SIM] ");' in text
    assert shimwire.xid_lines("noise\n[XID 79 SIM] cudaMalloc -> cudaErrorNoDevice (100)\nmore") == [
        "[XID 79 SIM] cudaMalloc -> cudaErrorNoDevice (100)"]


@pytest.mark.parametrize(("probability", "text"), [(0.5, "0.500000"), (1e-05, "0.000010"),
                                                   (1e-06, "0.000001"), (1.0, "1.000000")])
def test_probability_is_written_as_the_shim_parses_it(probability: float, text: str) -> None:
    """The shim's parser knows no exponent: `1e-05` would read as 1, a 100 % fault."""
    assert shimwire.format_probability(probability) == text
    env = fault_env(Fault(probability=probability), armed=False, toggle_file="/t")
    if probability != 1.0:
        assert env[shimwire.ENV_PROBABILITY] == text
    assert f"probability={text}" in shimwire.render_toggle(True, probability=probability)


def test_fault_env_sets_only_what_differs_from_the_shims_defaults() -> None:
    env = fault_env(Fault(xid=48), armed=True, toggle_file="/host-fault/cuda_fault_enabled")
    assert env == {"LD_PRELOAD": "/cuda-fault/cuda_intercept.so", "CUDA_XID_TYPE": "48",
                   "CUDA_FAULT_INJECTION_ENABLED": "1",
                   "CUDA_FAULT_TOGGLE_FILE": "/host-fault/cuda_fault_enabled"}
    env = fault_env(Fault(log_limit=3, after_calls=5), armed=False, toggle_file="/t")
    assert env["CUDA_FAULT_LOG_LIMIT"] == "3"
    assert env["CUDA_FAULT_AFTER_CALLS"] == "5"


def test_gpus_travel_by_index_or_uuid_and_junk_is_refused_before_the_shim_ignores_it() -> None:
    uuid = "GPU-3f5c1a2b-9d4e-4c6f-8a7b-1e2d3c4b5a69"
    text = shimwire.render_toggle(True, 79, 100, gpus=[2, uuid])
    assert "gpus=2," + uuid in text
    assert shimwire.parse_toggle(text).gpus == ("2", uuid)
    assert shimwire.parse_toggle("1\ngpus=all\n").gpus == ()  # all: the whole node, as the shim reads it
    assert shimwire.shim_env(79, gpus=["0", "1"])[shimwire.ENV_GPUS] == "0,1"
    for bad in (["gpu2"], ["-1"], ["GPU-123"], [str(i) for i in range(shimwire.MAX_GPUS + 1)]):
        with pytest.raises(shimwire.ShimInputError):
            shimwire.check_gpus(bad)


def test_the_gpu_grammar_is_the_shims() -> None:
    found = re.search(r"#define SHIM_MAX_GPUS (\d+)", c_sources())
    assert found is not None
    assert int(found.group(1)) == shimwire.MAX_GPUS  # entries the shim keeps
    assert shimwire.GPU_UUID.fullmatch("MIG-" + "a" * 32)
    assert shimwire.GPU_UUID.fullmatch("gpu-3F5C1A2B9D4E4C6F8A7B1E2D3C4B5A69")
