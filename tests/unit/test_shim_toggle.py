"""Toggle files, environment and build command as `runner.shim` (over `runner.shimwire`) writes them."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from runner import shim, shimwire
from runner import xid as xidcat


@given(
    armed=st.booleans(),
    number=st.none() | st.sampled_from(xidcat.supported()),
    expires=st.none() | st.integers(min_value=0, max_value=2**40),
    probability=st.none() | st.sampled_from([0.0, 0.25, 0.5, 1.0]),
    after=st.none() | st.integers(min_value=0, max_value=10**6),
    apis=st.lists(st.sampled_from(shimwire.SHIM_API_CLASSES), unique=True, max_size=3),
)
def test_render_then_parse_round_trips(armed: bool, number: int | None, expires: int | None,
                                       probability: float | None, after: int | None, apis: list[str]) -> None:
    text = shim.render_toggle(armed, number, expires, probability=probability, after_calls=after, apis=apis)
    assert text[0] == ("1" if armed else "0")
    state = shim.parse_toggle(text)
    assert (state.armed, state.xid, state.expires, state.probability, state.after_calls, state.apis) == (
        armed, number, expires, probability, after, tuple(apis))


def test_write_toggle_replaces_atomically(tmp_path: Path) -> None:
    target = tmp_path / "host-fault" / "cuda_fault_enabled"
    shim.write_toggle(target, True, 48, 123)
    shim.write_toggle(target, False)
    assert target.read_text() == "0\n"
    assert sorted(p.name for p in target.parent.iterdir()) == ["cuda_fault_enabled"]  # no temp file left


def test_expiry_is_a_dead_man_switch() -> None:
    now = time.time()
    assert shim.ToggleState(armed=True, expires=int(now) + 60).active(now)
    assert not shim.ToggleState(armed=True, expires=int(now) - 1).active(now)
    assert not shim.ToggleState(armed=False).active(now)


@pytest.mark.parametrize(("text", "seconds"), [("90s", 90), ("30s", 30), ("10m", 600), ("2h", 7200),
                                               ("1h30m", 5400), ("500ms", 1)])
def test_parse_duration(text: str, seconds: int) -> None:
    assert shim.parse_duration(text) == seconds


def test_bad_inputs_are_refused() -> None:
    with pytest.raises(shim.ShimInputError):
        shim.shim_env(12)
    with pytest.raises(shim.ShimInputError):
        shim.render_toggle(True, probability=1.5)
    with pytest.raises(shim.ShimInputError):
        shim.render_toggle(True, apis=["everything"])
    with pytest.raises(shim.ShimInputError):
        shim.parse_duration("soon")
    with pytest.raises(shim.ShimInputError, match="not a duration"):
        shim.parse_duration("90")  # one grammar with scenarios: a unit is required


def test_shim_env() -> None:
    env = shim.shim_env(94, True, "/t", library="/lib/cuda_intercept.so", poll_ms=50, apis=["alloc"])
    assert env == {"CUDA_XID_TYPE": "94", "CUDA_FAULT_INJECTION_ENABLED": "1", "CUDA_FAULT_TOGGLE_FILE": "/t",
                   "LD_PRELOAD": "/lib/cuda_intercept.so", "CUDA_FAULT_POLL_MS": "50",
                   "CUDA_FAULT_APIS": "alloc"}


def test_source_files_are_flat_configmap_keys() -> None:
    files = shim.source_files()
    assert {"shim.h", "xid_table.h", "core.c", "runtime.c", "driver.c", "lookup.c", "nvml.c",
            shim.MAP_NAME} <= set(files)
    assert all("/" not in name for name in files)


def test_compile_command_is_one_gcc_over_the_flat_directory() -> None:
    cmd = shim.compile_command("/src", "/out/cuda_intercept.so")
    assert cmd.startswith("gcc ")
    assert cmd.count("gcc") == 1
    assert "/src/*.c" in cmd
    assert "-Wl,--version-script=/src/cuda_intercept.map" in cmd
