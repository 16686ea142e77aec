"""`chaos shim ...` end to end through the real CLI (subprocess), against real files; systemd and
doctor run only under --root (a fake filesystem), never against this machine's /etc."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from subprocess import CompletedProcess

import pytest

from runner import shim
from tests.integration.shim_support import built

Chaos = Callable[..., CompletedProcess[str]]


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return {"XDG_CACHE_HOME": str(tmp_path_factory.mktemp("xdg"))}


def test_build_prints_the_library(chaos: Chaos, cache: dict[str, str]) -> None:
    res = chaos(["shim", "build"], env=cache)
    assert res.returncode == 0, res.stderr
    lib = Path(res.stdout.strip())
    assert lib.name == "cuda_intercept.so"
    assert lib.is_file()


def test_run_arms_a_private_toggle_and_returns_the_exit_code(chaos: Chaos, cache: dict[str, str]) -> None:
    b = built()
    env = {**cache, "LD_LIBRARY_PATH": str(b.stubs)}
    prog = str(b.prog("rt_direct"))
    res = chaos(["shim", "run", "--xid", "48", "--armed", "--", prog, "cudaMalloc"], env=env)
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("cudaMalloc rc=214 ")
    assert "[XID 48 SIM] cudaMalloc -> cudaErrorECCUncorrectable (214)" in res.stderr
    res = chaos(["shim", "run", "--xid", "48", "--", str(b.prog("rt_direct")), "cudaMalloc"], env=env)
    assert res.stdout.startswith("cudaMalloc rc=0 ")
    res = chaos(["shim", "run", "--", "sh", "-c", "exit 7"], env=env)
    assert res.returncode == 7


def test_run_refuses_an_unknown_xid(chaos: Chaos, cache: dict[str, str]) -> None:
    res = chaos(["shim", "run", "--xid", "12", "--", "true"], env=cache)
    assert res.returncode == 2
    assert "XID 12 is not simulated" in res.stderr
    assert "Traceback" not in res.stderr


def test_arm_and_disarm_write_the_toggle_file(chaos: Chaos, tmp_path: Path) -> None:
    toggle = tmp_path / "cuda_fault_enabled"
    res = chaos(["shim", "arm", "--file", str(toggle), "--xid", "94", "--expires-in", "10m",
                 "--apis", "launch"])
    assert res.returncode == 0, res.stderr
    state = shim.parse_toggle(toggle.read_text())
    assert (state.armed, state.xid, state.apis) == (True, 94, ("launch",))
    assert state.expires is not None
    assert 590 <= state.expires - time.time() <= 600
    assert chaos(["shim", "disarm", "--file", str(toggle)]).returncode == 0
    assert shim.parse_toggle(toggle.read_text()).armed is False


def test_systemd_install_and_uninstall_under_root(chaos: Chaos, tmp_path: Path) -> None:
    root = tmp_path / "root"
    res = chaos(["shim", "systemd", "install", "ollama", "--root", str(root), "--xid", "48",
                 "--library", "/opt/chaos/cuda_intercept.so"])
    assert res.returncode == 0, res.stderr
    dropin = root / "etc/systemd/system/ollama.service.d/chaos-cuda-fault.conf"
    text = dropin.read_text()
    assert 'Environment="LD_PRELOAD=/opt/chaos/cuda_intercept.so"' in text
    assert 'Environment="CUDA_XID_TYPE=48"' in text
    assert "skipped `systemctl daemon-reload`" in res.stdout
    assert "rm /etc/systemd/system/ollama.service.d/chaos-cuda-fault.conf" in res.stdout
    assert not (root / "etc/ld.so.preload").exists()  # never system-wide
    doctor = chaos(["shim", "doctor", "--root", str(root)])
    assert doctor.returncode == 0
    assert "warning:" in doctor.stdout
    assert "ollama" in doctor.stdout
    res = chaos(["shim", "systemd", "uninstall", "ollama", "--root", str(root)])
    assert res.returncode == 0
    assert not dropin.exists()
    assert chaos(["shim", "doctor", "--root", str(root)]).stdout.startswith("ok:")


def test_doctor_reports_then_fixes_a_system_wide_preload(chaos: Chaos, tmp_path: Path) -> None:
    root = tmp_path / "root"
    preload = root / "etc" / "ld.so.preload"
    preload.parent.mkdir(parents=True)
    original = "/usr/lib/libother.so\n/cuda-fault/cuda_intercept.so\n"
    preload.write_text(original)
    (root / "etc" / "environment").write_text('PATH="/usr/bin"\nCUDA_XID_TYPE=79\n')
    res = chaos(["shim", "doctor", "--root", str(root)])
    assert res.returncode == 1
    assert f"critical: {preload}:2: /cuda-fault/cuda_intercept.so" in res.stdout
    assert "--fix" in res.stdout
    assert preload.read_text() == original  # read-only without --fix
    res = chaos(["shim", "doctor", "--fix", "--root", str(root)])
    assert res.returncode == 0, res.stdout
    assert preload.read_text() == "/usr/lib/libother.so\n"
    backups = list(preload.parent.glob("ld.so.preload.chaos-backup-*"))
    assert len(backups) == 1
    assert backups[0].read_text() == original
    assert "CUDA_XID_TYPE=79" in (root / "etc" / "environment").read_text()  # env files are only reported
