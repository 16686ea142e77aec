#!/usr/bin/env bash
# Real-GPU check of cuda_intercept.so: run from the repository root on a machine with an NVIDIA
# GPU, PyTorch and nvcc. For XIDs 79 and 48 it runs (1) a PyTorch script (shared cudart:
# allocate, matmul, synchronize) and (2) a CUDA C program built with nvcc's default STATIC cudart
# (reaches the driver only through cuGetProcAddress), each without the shim, with the shim
# disarmed (must work) and armed (must fail with the XID's error). Prints a table; the full log
# goes to $OUT/gpu-check.log.
set -u
OUT=${OUT:-$(mktemp -d)}
mkdir -p "$OUT"
LOG=$OUT/gpu-check.log
exec > >(tee "$LOG") 2>&1
WORK=$(mktemp -d)
ROOT=$(pwd)

echo "== machine"
nvidia-smi -L 2>&1 | head -4
nvcc --version 2>&1 | tail -1
python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda)" 2>&1 | tail -1

echo "== build shim"
make -C shim >/dev/null || { echo "shim build failed"; exit 1; }
SHIM=$ROOT/shim/build/cuda_intercept.so

cat > "$WORK/torch_check.py" <<'PY'
import sys
try:
    import torch
    x = torch.randn(2048, 2048, device="cuda")
    y = x @ x
    torch.cuda.synchronize()
    print(f"RESULT ok sum={float(y.float().abs().sum()):.3e}")
except Exception as e:  # report the error the program saw, first line only
    print(f"RESULT error {type(e).__name__}: {str(e).strip().splitlines()[0][:150]}")
    sys.exit(3)
PY

cat > "$WORK/prog.cu" <<'CU'
#include <cstdio>
#include <cuda_runtime.h>
__global__ void scale(float *p, int n) { int i = blockIdx.x * blockDim.x + threadIdx.x; if (i < n) p[i] *= 2.0f; }
static int report(const char *what, cudaError_t e) {
    printf("  %s -> %s (%d)\n", what, cudaGetErrorName(e), (int)e);
    return e != cudaSuccess;
}
int main() {
    int n = 0, bad = 0;
    float *d = nullptr, h[256];
    for (int i = 0; i < 256; i++) h[i] = 1.0f;
    bad |= report("cudaGetDeviceCount", cudaGetDeviceCount(&n));
    bad |= report("cudaMalloc", cudaMalloc(&d, sizeof h));
    bad |= report("cudaMemcpy H2D", cudaMemcpy(d, h, sizeof h, cudaMemcpyHostToDevice));
    scale<<<1, 256>>>(d, 256);
    bad |= report("kernel launch", cudaGetLastError());
    bad |= report("cudaDeviceSynchronize", cudaDeviceSynchronize());
    bad |= report("cudaMemcpy D2H", cudaMemcpy(h, d, sizeof h, cudaMemcpyDeviceToHost));
    if (!bad) printf("RESULT ok devices=%d h[0]=%.1f\n", n, h[0]);
    else printf("RESULT error first=%s\n", cudaGetErrorName(cudaGetLastError()));
    return bad ? 3 : 0;
}
CU
echo "== build static-cudart program"
nvcc -o "$WORK/prog" "$WORK/prog.cu" || { echo "nvcc failed"; exit 1; }
if ldd "$WORK/prog" | grep -q libcudart; then echo "prog links libcudart.so (expected static)"; else echo "prog: static cudart (no libcudart.so in ldd)"; fi

TABLE=$WORK/table
printf '%-6s %-8s %-9s %-5s %-s\n' PROG XID MODE RC "WHAT IT SAW" > "$TABLE"
run_case() {  # name xid mode cmd...
    local name=$1 xid=$2 mode=$3; shift 3
    local envs=()
    case $mode in
        disarmed) envs=(LD_PRELOAD="$SHIM" CUDA_XID_TYPE="$xid" CUDA_FAULT_INJECTION_ENABLED=0) ;;
        armed) envs=(LD_PRELOAD="$SHIM" CUDA_XID_TYPE="$xid" CUDA_FAULT_INJECTION_ENABLED=1) ;;
    esac
    echo "== $name xid=$xid $mode"
    env "${envs[@]}" CUDA_FAULT_TOGGLE_FILE="$WORK/no-toggle" CUDA_FAULT_LOG_LIMIT=3 timeout 150 "$@" > "$WORK/out" 2>&1
    local rc=$?
    cat "$WORK/out"
    local result sim
    result=$(grep '^RESULT' "$WORK/out" | tail -1 | cut -c8-)
    sim=$(grep -m1 -o '\[XID [0-9]* SIM\] [^ ]* -> [^ ]* ([0-9]*)' "$WORK/out")
    printf '%-6s %-8s %-9s %-5s %s%s\n' "$name" "$xid" "$mode" "$rc" "${result:-no RESULT line}" "${sim:+  | first: $sim}" >> "$TABLE"
}
run_case torch - none python3 "$WORK/torch_check.py"
run_case static - none "$WORK/prog"
for xid in 79 48; do
    for mode in disarmed armed; do
        run_case torch "$xid" "$mode" python3 "$WORK/torch_check.py"
        run_case static "$xid" "$mode" "$WORK/prog"
    done
done
echo
echo "== summary"
cat "$TABLE"
