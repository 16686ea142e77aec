"""One GPU of a node, not the whole node: `gpus=` in the toggle file (CUDA_FAULT_GPUS in the
environment) names GPUs by node index or UUID; a process is hit according to the GPUs its
container was given (NVIDIA_VISIBLE_DEVICES) and it selected (CUDA_VISIBLE_DEVICES), and in a
process with several GPUs only calls on a faulty device fail. Real processes under the shim,
over stub libraries with several devices (STUB_CUDA_DEVICES, default 4, UUIDs per device)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from runner import xid as xidcat
from tests.integration.shim_support import Build, Interactive, built, parse, shim_env, write_toggle

NO_DEV, ECC, LOST = xidcat.NO_DEVICE.code, xidcat.ECC_UNCORRECTABLE.code, xidcat.NVML_ERROR_GPU_IS_LOST


def uuid(dev: int) -> str:
    """The stub's UUID of device `dev` (stub.h: byte 0x10 + dev, 16 times)."""
    h = f"{0x10 + dev:02x}" * 16
    return f"GPU-{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def gpus_run(b: Build, ops: list[str], toggle: Path, **env: str | int) -> tuple[list[int | None], str]:
    run_env = shim_env(b, toggle, **{"CUDA_FAULT_LOG_LIMIT": 0, **env})
    proc = subprocess.run([str(b.prog("gpus")), *ops], env=run_env, capture_output=True, text=True,
                          timeout=30, check=False)
    assert proc.returncode == 0, proc.stderr
    results = parse(proc.stdout)
    assert [r.op for r in results] == ops
    return [r.rc for r in results], proc.stderr


# NVIDIA_VISIBLE_DEVICES, CUDA_VISIBLE_DEVICES (None: unset), gpus=, then what cuInit and a
# cudaMalloc on the process's device 0 return with XID 79 armed
FORMS = [
    ("all of the node, one named", "all", None, "1", [0, 0]),
    ("unset: all of the node", None, None, "0", [0, NO_DEV]),
    ("void: no GPU", "void", None, "0", [0, 0]),
    ("none: no GPU", "none", None, "0", [0, 0]),
    ("empty: no GPU", "", None, "0", [0, 0]),
    ("device path: unknown, as today", "/dev/nvidia1", None, "0", [NO_DEV, NO_DEV]),
    ("garbage: unknown, as today", "gpu one", None, "0", [NO_DEV, NO_DEV]),
    ("its UUID named", uuid(1), None, uuid(1), [NO_DEV, NO_DEV]),
    ("another UUID named", uuid(2), None, f"{uuid(1)},{uuid(3)}", [0, 0]),
    ("its index named", "2", None, "2", [NO_DEV, NO_DEV]),
    ("another index named", "2", None, "1", [0, 0]),
    ("UUIDs, CUDA picks the healthy one", f"{uuid(1)},{uuid(2)}", "1", uuid(1), [0, 0]),
    ("UUIDs, CUDA picks the faulty one", f"{uuid(1)},{uuid(2)}", "1", uuid(2), [NO_DEV, NO_DEV]),
    ("indexes, device 0 healthy", "0,3", None, "3", [0, 0]),
    ("indexes, CUDA picks the faulty one", "0,3", "1", "3", [NO_DEV, NO_DEV]),
    ("CUDA sees no device", "0,3", "-1", "3", [0, 0]),
    ("a UUID in CUDA_VISIBLE_DEVICES", "all", uuid(1), uuid(1), [NO_DEV, NO_DEV]),
    ("index named, container lists UUIDs: cannot tell, as today", uuid(1), None, "1", [NO_DEV, NO_DEV]),
    ("gpus=all: the whole node", uuid(2), None, "all", [NO_DEV, NO_DEV]),
    ("no gpus=: the whole node, even without a GPU", "void", None, None, [NO_DEV, NO_DEV]),
]


@pytest.mark.parametrize(("nvd", "cvd", "gpus", "want"), [f[1:] for f in FORMS], ids=[f[0] for f in FORMS])
def test_visible_devices_decide_whether_a_process_is_hit(nvd: str | None, cvd: str | None, gpus: str | None,
                                                        want: list[int], tmp_path: Path) -> None:
    b = built()
    toggle = tmp_path / "toggle"
    write_toggle(toggle, "1\nxid=79\n" + (f"gpus={gpus}\n" if gpus is not None else ""))
    env: dict[str, str] = {}
    if nvd is not None:
        env["NVIDIA_VISIBLE_DEVICES"] = nvd
    if cvd is not None:
        env["CUDA_VISIBLE_DEVICES"] = cvd
    rcs, _ = gpus_run(b, ["drv:init", "rt:malloc"], toggle, **env)
    assert rcs == want


def test_device_order_comes_from_the_driver_not_the_list(tmp_path: Path) -> None:
    """NVIDIA_VISIBLE_DEVICES lists GPU 1 before GPU 0, but CUDA and NVML number devices by PCI bus
    (the stubs: ordinal/index d is GPU d): with several GPUs the shim asks which UUID an ordinal
    (cuDeviceGetUuid) or a handle (nvmlDeviceGetUUID) is, instead of trusting the list's order."""
    b = built()
    toggle = tmp_path / "toggle"
    write_toggle(toggle, f"1\nxid=79\ngpus={uuid(1)}\n")
    env: dict[str, str | int] = {"NVIDIA_VISIBLE_DEVICES": f"{uuid(1)},{uuid(0)}", "STUB_CUDA_DEVICES": 2}
    ops = ["drv:init", "drv:count", "drv:get:0", "drv:get:1", "rt:set:0", "rt:malloc", "rt:set:1",
           "nvml:init", "nvml:handle:0", "nvml:handle:1", "nvml:name:0"]
    rcs, _ = gpus_run(b, ops, toggle, **env)
    assert rcs == [0, 0, 0, NO_DEV, 0, 0, NO_DEV, 0, 0, LOST, 0]


def test_the_environment_names_gpus_too(tmp_path: Path) -> None:
    b = built()
    env: dict[str, str | int] = {"CUDA_FAULT_INJECTION_ENABLED": 1, "NVIDIA_VISIBLE_DEVICES": uuid(1)}
    assert gpus_run(b, ["rt:malloc"], tmp_path / "toggle", CUDA_FAULT_GPUS=uuid(1), **env)[0] == [NO_DEV]
    assert gpus_run(b, ["rt:malloc"], tmp_path / "toggle", CUDA_FAULT_GPUS=uuid(0), **env)[0] == [0]
    write_toggle(tmp_path / "toggle", f"1\ngpus={uuid(1)}\n")  # the file's key wins over the variable
    assert gpus_run(b, ["rt:malloc"], tmp_path / "toggle", CUDA_FAULT_GPUS=uuid(0), **env)[0] == [NO_DEV]


def test_a_multi_gpu_process_fails_only_on_the_faulty_device(tmp_path: Path) -> None:
    b = built()
    toggle = tmp_path / "toggle"
    write_toggle(toggle, "1\nxid=94\ngpus=1\n")  # process-scoped: cudaSetDevice itself passes
    ops = ["drv:init", "drv:count", "rt:set:0", "rt:malloc", "rt:set:1", "rt:malloc", "rt:set:0", "rt:malloc"]
    rcs, err = gpus_run(b, ops, toggle, CUDA_FAULT_LOG_LIMIT=10)
    assert rcs == [0, 0, 0, 0, 0, ECC, 0, 0]
    assert err.splitlines() == ["[XID 94 SIM] cudaMalloc -> cudaErrorECCUncorrectable (214)"]


def test_node_scoped_xid_fails_the_faulty_device_s_discovery_and_context(tmp_path: Path) -> None:
    b = built()
    toggle = tmp_path / "toggle"
    write_toggle(toggle, "1\nxid=79\ngpus=2\n")
    ops = ["drv:init", "drv:count", "drv:get:1", "drv:get:2", "drv:attr:2", "drv:attr:3", "drv:retain:2",
           "drv:retain:1", "rt:set:2", "rt:set:3", "rt:malloc"]
    rcs, _ = gpus_run(b, ops, toggle)
    assert rcs == [0, 0, 0, NO_DEV, NO_DEV, 0, NO_DEV, 0, NO_DEV, 0, 0]


@pytest.mark.parametrize("mode", ["exported", "internal"])
@pytest.mark.parametrize("via", ["direct", "getproc"])
def test_driver_contexts_decide_the_current_device(via: str, mode: str, tmp_path: Path) -> None:
    b = built()
    toggle = tmp_path / "toggle"
    write_toggle(toggle, "1\nxid=94\ngpus=1\n")
    ops = ["drv:init", "drv:retain:0", "drv:retain:1", "drv:set:0", "drv:alloc", "drv:set:1", "drv:alloc",
           "drv:set:0", "drv:alloc", "drv:push:1", "drv:sync", "drv:pop", "drv:sync"]
    rcs, _ = gpus_run(b, ops, toggle, GPUS_VIA=via, STUB_CUDA_PROC=mode)
    assert rcs == [0, 0, 0, 0, 0, 0, ECC, 0, 0, 0, ECC, 0, 0]


def test_the_shim_asks_the_driver_only_while_armed_for_some_gpus(tmp_path: Path) -> None:
    """A context the shim never saw created: only the driver can tell its device (cuCtxGetDevice)
    and that device's UUID (cuDeviceGetUuid). Asked inside the program's own calls, after its
    cuInit, only while armed for a subset; never when disarmed or for a whole-node fault."""
    b = built()
    toggle, log = tmp_path / "toggle", tmp_path / "driver.log"
    ops = ["drv:init", "drv:setraw:0", "drv:alloc", "drv:setraw:1", "drv:alloc", "drv:setraw:0", "drv:alloc"]

    def asked(text: str) -> list[int | None]:
        write_toggle(toggle, text)
        log.unlink(missing_ok=True)
        rcs, _ = gpus_run(b, ops, toggle, STUB_CUDA_LOG=str(log))
        calls = log.read_text().splitlines()
        return [*rcs, sum(c in ("CALL cuCtxGetDevice", "CALL cuDeviceGetUuid_v2") for c in calls)]

    assert asked("0\n") == [0] * 7 + [0]
    assert asked(f"0\ngpus={uuid(1)}\n") == [0] * 7 + [0]
    assert asked("1\nxid=94\n") == [0, 0] + [ECC] * 5 + [0]  # the whole process, latched
    *rcs, n = asked(f"1\nxid=94\ngpus={uuid(1)}\n")
    assert rcs == [0, 0, 0, 0, ECC, 0, 0]
    assert n is not None
    assert n >= 3
    # without the program's own cuInit the shim may not ask: it cannot tell, so it fails the call
    write_toggle(toggle, f"1\nxid=94\ngpus={uuid(1)}\n")
    log.unlink()
    rcs, _ = gpus_run(b, ["drv:setraw:0", "drv:alloc"], toggle, STUB_CUDA_LOG=str(log))
    assert rcs == [0, ECC]
    assert "CALL cuCtxGetDevice" not in log.read_text().splitlines()


def test_a_lost_device_stays_lost_for_the_process_after_the_disarm(tmp_path: Path) -> None:
    b = built()
    toggle = tmp_path / "toggle"
    write_toggle(toggle, f"1\nxid=79\ngpus={uuid(1)}\n")
    p = Interactive(b, "gpus", shim_env(b, toggle, CUDA_FAULT_POLL_MS=0, CUDA_FAULT_LOG_LIMIT=0))
    assert [p.call(op).rc for op in ("drv:init", "rt:set:1", "rt:set:0", "rt:malloc")] == [0, NO_DEV, 0, 0]
    write_toggle(toggle, "0\n")
    after = [p.call(op).rc for op in ("rt:set:1", "drv:attr:1", "rt:malloc", "drv:attr:0")]
    assert after == [NO_DEV, NO_DEV, 0, 0]
    p.close()
    fresh, _ = gpus_run(b, ["rt:set:1", "rt:malloc"], toggle)
    assert fresh == [0, 0]


def test_nvml_reports_only_the_lost_device_gone(tmp_path: Path) -> None:
    b = built()
    toggle = tmp_path / "toggle"
    write_toggle(toggle, "1\nxid=79\ngpus=1\n")
    ops = ["nvml:init", "nvml:count", "nvml:handle:0", "nvml:handle:1", "nvml:name:0"]
    assert gpus_run(b, ops, toggle)[0] == [0, 0, 0, LOST, 0]
    write_toggle(toggle, "1\nxid=48\ngpus=1\n")  # not a GPU-lost XID: NVML answers
    assert gpus_run(b, ops, toggle)[0] == [0, 0, 0, 0, 0]
    write_toggle(toggle, f"1\nxid=79\ngpus={uuid(0)},{uuid(1)}\n")  # every GPU of the container
    assert gpus_run(b, ops, toggle, NVIDIA_VISIBLE_DEVICES=f"{uuid(0)},{uuid(1)}")[0] == [LOST] * 5


def test_nvml_handles_taken_before_the_fault_fail_on_the_lost_device_only(tmp_path: Path) -> None:
    b = built()
    toggle = tmp_path / "toggle"
    write_toggle(toggle, "0\n")
    p = Interactive(b, "gpus", shim_env(b, toggle, CUDA_FAULT_POLL_MS=0, CUDA_FAULT_LOG_LIMIT=0))
    assert [p.call(op).rc for op in ("nvml:init", "nvml:handle:0", "nvml:handle:1")] == [0, 0, 0]
    write_toggle(toggle, f"1\nxid=79\ngpus={uuid(1)}\n")
    assert [p.call(op).rc for op in ("nvml:name:0", "nvml:name:1", f"nvml:byuuid:{uuid(1)}",
                                     f"nvml:byuuid:{uuid(0)}")] == [0, LOST, LOST, 0]
    write_toggle(toggle, "0\n")
    assert [p.call(op).rc for op in ("nvml:name:1", "nvml:handle:1", "nvml:name:0")] == [LOST, LOST, 0]
    p.close()


HOSTILE = [
    ("long garbage", "x" * 5000, [0, 0]),
    ("only commas", ",,,," * 1000, [0, 0]),
    ("thousands of entries, the first 64 kept", ",".join(["1"] * 3000), [0, NO_DEV]),
    ("a named GPU past the 64th entry is not kept", ",".join(["3"] * 64 + ["1"]), [0, 0]),
    ("a truncated UUID", uuid(1)[:-3], [0, 0]),
    ("a UUID with a bad digit", uuid(1)[:-1] + "g", [0, 0]),
    ("an overlong index", "1" * 40, [0, 0]),
    ("negative, spaces and tabs around", " -1 ,\t1\t", [0, NO_DEV]),
    ("control bytes", "\x01\x02\x7f1", [0, 0]),
    ("past the 4 KiB the shim reads", "2," * 2100 + "1", [0, 0]),
]


@pytest.mark.parametrize(("value", "want"), [h[1:] for h in HOSTILE], ids=[h[0] for h in HOSTILE])
def test_hostile_gpus_values_are_bounded_and_name_no_gpu_by_accident(value: str, want: list[int],
                                                                     tmp_path: Path) -> None:
    b = built()
    toggle = tmp_path / "toggle"
    write_toggle(toggle, f"1\nxid=79\ngpus={value}\nprobability=1\n")
    rcs, err = gpus_run(b, ["rt:set:0", "rt:set:1"], toggle, CUDA_FAULT_LOG_LIMIT=10)
    assert rcs == want
    assert "Sanitizer" not in err


def test_garbage_only_gpus_warns_once_and_keeps_faults_off(tmp_path: Path) -> None:
    b = built()
    toggle = tmp_path / "toggle"
    write_toggle(toggle, "1\nxid=79\ngpus=first,second\n")
    rcs, err = gpus_run(b, ["drv:init", "rt:set:1", "rt:malloc"], toggle, CUDA_FAULT_LOG_LIMIT=10)
    assert rcs == [0, 0, 0]
    assert err.splitlines() == [
        "[cuda-intercept] gpus: 2 entries ignored (neither a GPU index nor a GPU UUID, or past the 64th);"
        " it names no GPU, faults stay off"]


@pytest.mark.parametrize(("name", "value", "want"), [
    # more devices than the shim tracks (64): it cannot tell which, so it fails as today
    ("NVIDIA_VISIBLE_DEVICES", "GPU-," * 20000, [NO_DEV, NO_DEV]),
    ("NVIDIA_VISIBLE_DEVICES", "0," * 50000, [NO_DEV, NO_DEV]),
    ("CUDA_VISIBLE_DEVICES", "0," * 50000, [NO_DEV, NO_DEV]),
    ("CUDA_VISIBLE_DEVICES", "\x7f" * 100000, [0, 0]),  # CUDA sees no device
    ("CUDA_FAULT_GPUS", "1," * 50000, [0, NO_DEV]),
])
def test_hostile_environment_is_bounded(name: str, value: str, want: list[int], tmp_path: Path) -> None:
    b = built()
    env = {name: value, "CUDA_FAULT_INJECTION_ENABLED": "1"}
    if name != "CUDA_FAULT_GPUS":
        env["CUDA_FAULT_GPUS"] = "1"
    rcs, _ = gpus_run(b, ["rt:set:0", "rt:set:1"], tmp_path / "toggle", **env)
    assert rcs == want
