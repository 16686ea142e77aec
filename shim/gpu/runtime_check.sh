#!/usr/bin/env bash
# Real-GPU check of what check.sh does not cover: arming a RUNNING process through the toggle file
# (the way `chaos` arms pods), its latency, the sticky latch after disarming, a process-scoped XID
# letting a new process recover, NVML agreeing with CUDA for XID 79, and XID 74 on peer access.
# Run from the repository root on a machine with an NVIDIA GPU and PyTorch; log in $OUT.
set -u
OUT=${OUT:-$(mktemp -d)}
mkdir -p "$OUT"
exec > >(tee "$OUT/gpu-runtime-check.log") 2>&1
WORK=$(mktemp -d)
make -C shim >/dev/null || { echo "shim build failed"; exit 1; }
SHIM=$(pwd)/shim/build/cuda_intercept.so
TOGGLE=$WORK/cuda_fault_enabled

cat > "$WORK/loop.py" <<'PY'
# Keeps doing GPU work; arms the toggle file itself after 50 good iterations and reports how long
# the shim took to fail a call, then whether the failure stays after the file is disarmed.
import os, sys, time
import torch
toggle, xid = sys.argv[1], sys.argv[2]
x = torch.randn(1024, 1024, device="cuda")
armed_at = None
for i in range(100000):
    try:
        y = x @ x
        torch.cuda.synchronize()
    except Exception as e:  # the first failure after arming
        seen = time.monotonic()
        print(f"RESULT failed after {(seen - armed_at) * 1000:.1f} ms at iteration {i}: "
              f"{type(e).__name__}: {str(e).splitlines()[0][:120]}")
        with open(toggle, "w") as f:
            f.write("0\n")
        time.sleep(0.3)
        try:
            torch.zeros(1, device="cuda"); torch.cuda.synchronize()
            print("LATCH broken: a call succeeded after disarming")
        except Exception as e2:
            print(f"LATCH held after disarm: {type(e2).__name__}")
        sys.exit(3)
    if i == 50:
        with open(toggle + ".tmp", "w") as f:
            f.write(f"1\nxid={xid}\n")
        os.replace(toggle + ".tmp", toggle)
        armed_at = time.monotonic()
    if armed_at and time.monotonic() - armed_at > 5:
        print("RESULT no failure within 5 s of arming")
        sys.exit(4)
PY

cat > "$WORK/fresh.py" <<'PY'
import torch
try:
    (torch.randn(256, 256, device="cuda") @ torch.randn(256, 256, device="cuda")).sum().item()
    print("RESULT fresh process ok")
except Exception as e:
    print(f"RESULT fresh process failed: {type(e).__name__}: {str(e).splitlines()[0][:120]}")
PY

cat > "$WORK/nvml.py" <<'PY'
import pynvml
try:
    pynvml.nvmlInit()
    print("RESULT nvml ok, devices:", pynvml.nvmlDeviceGetCount())
except pynvml.NVMLError as e:
    print("RESULT nvml error:", e)
PY

cat > "$WORK/peer.py" <<'PY'
import torch
n = torch.cuda.device_count()
try:
    ok = torch.cuda.can_device_access_peer(0, 1) if n > 1 else None
    x = torch.randn(64, device="cuda"); torch.cuda.synchronize()
    print(f"RESULT devices={n} peer={ok} work ok")
except Exception as e:
    print(f"RESULT error {type(e).__name__}: {str(e).splitlines()[0][:120]}")
PY

shim() { env LD_PRELOAD="$SHIM" CUDA_FAULT_TOGGLE_FILE="$TOGGLE" CUDA_FAULT_LOG_LIMIT=2 "$@"; }
for xid in 79 94 43; do
    echo "== running process armed through the toggle file, XID $xid"
    printf '0\n' > "$TOGGLE"
    shim CUDA_XID_TYPE=$xid timeout 60 python3 "$WORK/loop.py" "$TOGGLE" "$xid"
    echo "== a new process after disarming"
    shim CUDA_XID_TYPE=$xid timeout 60 python3 "$WORK/fresh.py"
done
echo "== NVML, XID 79 armed"
printf '1\nxid=79\n' > "$TOGGLE"; shim CUDA_XID_TYPE=79 python3 "$WORK/nvml.py"
echo "== NVML, disarmed"
printf '0\n' > "$TOGGLE"; shim CUDA_XID_TYPE=79 python3 "$WORK/nvml.py"
echo "== XID 74 armed (NVLink): peer access and work"
printf '1\nxid=74\n' > "$TOGGLE"; shim CUDA_XID_TYPE=74 python3 "$WORK/peer.py"
echo "== dead-man switch: armed with an expiry already past"
printf '1\nxid=79\nexpires=%s\n' "$(( $(date +%s) - 10 ))" > "$TOGGLE"; shim CUDA_XID_TYPE=79 python3 "$WORK/fresh.py"
