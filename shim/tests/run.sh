#!/bin/sh
# C-level checks behind `make -C shim test`: real processes, the built shim under LD_PRELOAD, the
# stub CUDA libraries. pytest (tests/integration/test_shim_*.py) runs the same paths in depth;
# this script is the quick gate for people working on the C code alone.
# SHIM=path tests another build of the library (the shipped ones: `make test-dist`); SANITIZERS=0
# skips the ASan/TSan runs; EMU="qemu-aarch64 -L /usr/aarch64-linux-gnu" runs every program under
# an emulator (stubs and programs cross-built for its architecture).
set -u
BUILD=${BUILD:-build}
B=$(cd "$BUILD" && pwd)
SHIM=${SHIM:-$B/cuda_intercept.so}
SANITIZERS=${SANITIZERS:-1}
EMU=${EMU:-}
export LD_LIBRARY_PATH="$B/stubs"
# x VAR=value... PROGRAM ARGS...: run a test program with those variables, natively or under $EMU.
# The emulator (itself a host program) must not get LD_PRELOAD: it goes to the emulated program
# through qemu's -E (which splits at commas, so every other variable, lists included, travels in
# the environment qemu passes on).
x() {
    if [ -z "$EMU" ]; then env "$@"; return; fi
    n=$# pre= started=0
    while [ "$n" -gt 0 ]; do
        a=$1; shift; n=$((n - 1))
        if [ "$started" = 0 ]; then
            case "$a" in
                LD_PRELOAD=*) pre=${a#LD_PRELOAD=}; continue ;;
                [A-Za-z_]*=*) set -- "$@" "$a"; continue ;;
            esac
            started=1
            # shellcheck disable=SC2086 # EMU is a command line
            if [ -n "$pre" ]; then set -- "$@" $EMU -E "LD_PRELOAD=$pre"; else set -- "$@" $EMU; fi
        fi
        set -- "$@" "$a"
    done
    env "$@"
}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
TOGGLE=$TMP/toggle
FAILS=0
PASSES=0

ok() { PASSES=$((PASSES + 1)); }
bad() { FAILS=$((FAILS + 1)); echo "FAIL: $*"; }
# expect PROG "ENV..." OP "substring of its output line"
expect() {
    prog=$1; envs=$2; op=$3; want=$4
    out=$(x $envs LD_PRELOAD="$SHIM" CUDA_FAULT_TOGGLE_FILE="$TOGGLE" CUDA_FAULT_LOG_LIMIT=0 \
          "$B/progs/$prog" "$op" 2>&1)
    case "$out" in *"$want"*) ok ;; *) bad "$prog $envs $op: want '$want', got '$out'" ;; esac
}

rm -f "$TOGGLE"
# every path, with the stub driver's cuGetProcAddress handing out exported symbols and internal
# functions: disarmed gives the stub's answer, armed gives each XID's code
for mode in exported internal; do
  m="STUB_CUDA_PROC=$mode"
  for prog in drv_direct any_dlsym drv_getproc drv_getproc_v2 drv_getproc_self11 rt_entrypoint rt_entrypoint_ver; do
    expect $prog "$m" cuMemAlloc_v2 "rc=0 out=53248 via=shim"
    expect $prog "$m CUDA_FAULT_INJECTION_ENABLED=1" cuMemAlloc_v2 "rc=100 "
    expect $prog "$m CUDA_FAULT_INJECTION_ENABLED=1 CUDA_XID_TYPE=48" cuLaunchKernel "rc=214 "
    expect $prog "$m CUDA_FAULT_INJECTION_ENABLED=1 CUDA_XID_TYPE=95" cuStreamSynchronize_ptsz "rc=999 "
    expect $prog "$m CUDA_FAULT_INJECTION_ENABLED=1 CUDA_XID_TYPE=74" cuMemcpyPeer "rc=217 "
    expect $prog "$m CUDA_FAULT_INJECTION_ENABLED=1" cuGetExportTable "rc=0 out=4660 via=real"
    # the variants that used to slip, each in its fault class
    expect $prog "$m CUDA_FAULT_INJECTION_ENABLED=1 CUDA_FAULT_APIS=sync" cuEventRecord_ptsz "rc=100 "
    expect $prog "$m CUDA_FAULT_INJECTION_ENABLED=1 CUDA_FAULT_APIS=sync" cuStreamWaitEvent_ptsz "rc=100 "
    expect $prog "$m CUDA_FAULT_INJECTION_ENABLED=1 CUDA_FAULT_APIS=sync" cuMemsetD8_v2_ptds "rc=0 "
    expect $prog "$m CUDA_FAULT_INJECTION_ENABLED=1 CUDA_FAULT_APIS=memcpy" cuMemcpy2DUnaligned_v2_ptds "rc=100 "
    expect $prog "$m CUDA_FAULT_INJECTION_ENABLED=1 CUDA_FAULT_APIS=memcpy" cuMemsetD32Async_ptsz "rc=100 "
    expect $prog "$m CUDA_FAULT_INJECTION_ENABLED=1 CUDA_FAULT_APIS=alloc" cuMemAllocFromPoolAsync_ptsz "rc=100 "
    expect $prog "$m CUDA_FAULT_INJECTION_ENABLED=1 CUDA_FAULT_APIS=alloc" cuMemHostRegister_v2 "rc=100 "
    expect $prog "$m CUDA_FAULT_INJECTION_ENABLED=1 CUDA_FAULT_APIS=alloc" cuEventQuery "rc=0 "
  done
done
for prog in rt_direct any_dlsym; do
    expect $prog "" cudaGetDeviceCount "rc=0 out=4 "
    expect $prog "CUDA_FAULT_INJECTION_ENABLED=1 CUDA_XID_TYPE=43" cudaLaunchKernel "rc=702 "
    expect $prog "CUDA_FAULT_INJECTION_ENABLED=1 CUDA_XID_TYPE=94" cudaMalloc "rc=214 "
done
expect nvml_direct "CUDA_FAULT_INJECTION_ENABLED=1" nvmlDeviceGetCount_v2 "rc=15 "
expect nvml_direct "CUDA_FAULT_INJECTION_ENABLED=1 CUDA_XID_TYPE=48" nvmlDeviceGetCount_v2 "rc=0 out=2"
# scope: node XIDs fail context creation in a new process, process XIDs do not
expect drv_direct "CUDA_FAULT_INJECTION_ENABLED=1 CUDA_XID_TYPE=48" cuCtxCreate_v2 "rc=214 "
expect drv_direct "CUDA_FAULT_INJECTION_ENABLED=1 CUDA_XID_TYPE=94" cuCtxCreate_v2 "rc=0 out=51143"
# kill switch and a missing real symbol
expect rt_direct "CUDA_FAULT_INJECTION_ENABLED=1 CUDA_FAULT_INJECTION_DISABLE=1" cudaMalloc "rc=0 out=20736"
expect shim_handle "" cuMemAllocManaged "rc=500 "
# toggle file: armed, expired (dead-man switch), apis filter
printf '1\nxid=48\n' > "$TOGGLE"; expect rt_direct "" cudaMalloc "rc=214 "
printf '1\nxid=48\nexpires=1000\n' > "$TOGGLE"; expect rt_direct "" cudaMalloc "rc=0 "
printf '1\napis=launch\n' > "$TOGGLE"; expect rt_direct "" cudaMalloc "rc=0 "
printf '1\napis=launch\n' > "$TOGGLE"; expect rt_direct "" cudaLaunchKernel "rc=100 "
# sticky latch, after-N and toggle latency, in one long-running process each
printf '1\nxid=94\nafter_calls=3\n' > "$TOGGLE"
out=$(x LD_PRELOAD="$SHIM" CUDA_FAULT_TOGGLE_FILE="$TOGGLE" CUDA_FAULT_LOG_LIMIT=0 "$B/progs/rt_direct" \
      cudaMalloc cudaMalloc cudaMalloc cudaMalloc cudaDeviceSynchronize cudaGetLastError)
[ "$(echo "$out" | grep -c 'rc=0 ')" = 3 ] && [ "$(echo "$out" | grep -c 'rc=214 ')" = 3 ] && ok || bad "after_calls: $out"
printf '0\n' > "$TOGGLE"
( sleep 0.3; printf '1\nxid=79\n' > "$TOGGLE.tmp"; mv "$TOGGLE.tmp" "$TOGGLE" ) &
out=$(x LD_PRELOAD="$SHIM" CUDA_FAULT_TOGGLE_FILE="$TOGGLE" "$B/progs/rt_direct" --until-fail cudaStreamSynchronize 5000 2>&1)
wait
case "$out" in *"[XID 79 SIM] cudaStreamSynchronize -> cudaErrorNoDevice (100)"*"rc=100 after_ms"*) ok ;; *) bad "toggle: $out" ;; esac
# sanitizers: the state machine under 16 threads while the file flips (TSan), paths under ASan+UBSan
if [ "$SANITIZERS" = 1 ]; then
  ASAN_RT=$(${CC:-gcc} -print-file-name=libasan.so)
  TSAN_RT=$(${CC:-gcc} -print-file-name=libtsan.so)
  for mode in exported internal; do
    for prog in drv_getproc_v2 drv_getproc_self11 rt_entrypoint_ver; do
      out=$(STUB_CUDA_PROC=$mode LD_PRELOAD="$ASAN_RT $B/asan/cuda_intercept.so" CUDA_FAULT_TOGGLE_FILE="$TOGGLE" \
            ASAN_OPTIONS=detect_leaks=0 UBSAN_OPTIONS=halt_on_error=1 CUDA_FAULT_LOG_LOOKUPS=1 \
            "$B/progs/$prog" cuMemAlloc_v2 cuLaunchKernel cuMemPrefetchAsync_v2_ptsz 2>&1) \
          && case "$out" in *"rc=100"*"rc=100"*"rc=100"*) ok ;; *) bad "asan $mode $prog: $out" ;; esac \
          || bad "asan $mode $prog: $out"
    done
  done
  out=$(LD_PRELOAD="$TSAN_RT $B/tsan/cuda_intercept.so" CUDA_FAULT_TOGGLE_FILE="$TOGGLE" CUDA_FAULT_POLL_MS=1 \
        CUDA_FAULT_LOG_LIMIT=0 TSAN_OPTIONS="halt_on_error=1 exitcode=66" "$B/progs/threads" "$TOGGLE" 40 2>&1) \
      && ok || bad "tsan: $out"
  out=$(LD_PRELOAD="$TSAN_RT $B/tsan/cuda_intercept.so" CUDA_FAULT_TOGGLE_FILE="$TOGGLE" CUDA_FAULT_POLL_MS=1 \
        CUDA_FAULT_LOG_LIMIT=0 STUB_CUDA_PROC=internal TSAN_OPTIONS="halt_on_error=1 exitcode=66" \
        "$B/progs/threads" "$TOGGLE" 40 gpus 2>&1) \
      && case "$out" in *"failures=0"*) bad "tsan gpus: no fault seen: $out" ;; *) ok ;; esac || bad "tsan gpus: $out"
fi
# per-GPU: a process with several GPUs fails only on the faulty one (gpus=), by index and UUID
U1=GPU-11111111-1111-1111-1111-111111111111
printf '1\nxid=94\ngpus=1\n' > "$TOGGLE"
out=$(x LD_PRELOAD="$SHIM" CUDA_FAULT_TOGGLE_FILE="$TOGGLE" CUDA_FAULT_LOG_LIMIT=0 "$B/progs/gpus" \
      rt:set:0 rt:malloc rt:set:1 rt:malloc rt:set:0 rt:malloc | tr '\n' ' ')
[ "$out" = "rt:set:0 rc=0 rt:malloc rc=0 rt:set:1 rc=0 rt:malloc rc=214 rt:set:0 rc=0 rt:malloc rc=0 " ] && ok \
    || bad "gpus switching: $out"
printf '1\nxid=79\ngpus=%s\n' "$U1" > "$TOGGLE"
for mode in exported internal; do
  out=$(x STUB_CUDA_PROC=$mode GPUS_VIA=getproc LD_PRELOAD="$SHIM" CUDA_FAULT_TOGGLE_FILE="$TOGGLE" \
        CUDA_FAULT_LOG_LIMIT=0 "$B/progs/gpus" drv:init drv:setraw:0 drv:alloc drv:setraw:1 drv:alloc | tr '\n' ' ')
  [ "$out" = "drv:init rc=0 drv:setraw:0 rc=0 drv:alloc rc=0 drv:setraw:1 rc=0 drv:alloc rc=100 " ] && ok \
      || bad "gpus $mode uuid: $out"
done
for nvd in "$U1" "1" "/dev/nvidia1"; do
  out=$(x NVIDIA_VISIBLE_DEVICES="$nvd" LD_PRELOAD="$SHIM" CUDA_FAULT_TOGGLE_FILE="$TOGGLE" CUDA_FAULT_LOG_LIMIT=0 \
        "$B/progs/gpus" drv:init | tr '\n' ' ')
  [ "$out" = "drv:init rc=100 " ] && ok || bad "NVIDIA_VISIBLE_DEVICES=$nvd: $out"
done
out=$(x NVIDIA_VISIBLE_DEVICES=GPU-22222222-2222-2222-2222-222222222222 LD_PRELOAD="$SHIM" CUDA_FAULT_TOGGLE_FILE="$TOGGLE" \
      CUDA_FAULT_LOG_LIMIT=0 "$B/progs/gpus" drv:init rt:malloc nvml:count | tr '\n' ' ')
[ "$out" = "drv:init rc=0 rt:malloc rc=0 nvml:count rc=0 " ] && ok || bad "healthy GPU: $out"
# hostile toggle files and environment under ASan+UBSan (SANITIZERS=0: the library under test):
# bounded parsing, no crash, no report
if [ "$SANITIZERS" = 1 ]; then HOSTILE="$ASAN_RT $B/asan/cuda_intercept.so"; else HOSTILE=$SHIM; fi
hostile() { # [VAR=value...]; set name and write "$TOGGLE" first
    out=$(x LD_PRELOAD="$HOSTILE" CUDA_FAULT_TOGGLE_FILE="$TOGGLE" CUDA_FAULT_LOG_LIMIT=0 \
          ASAN_OPTIONS=detect_leaks=0 UBSAN_OPTIONS=halt_on_error=1 "$@" "$B/progs/gpus" \
          drv:init rt:set:1 rt:malloc nvml:handle:1 2>&1)
    rc=$?
    case "$out" in *Sanitizer*|*"runtime error"*) bad "hostile $name: $out" ;; *) [ $rc = 0 ] && ok || bad "hostile $name rc=$rc" ;; esac
}
name=garbage; head -c 8192 /dev/urandom > "$TOGGLE"; hostile
name=long-gpus; { printf '1\ngpus='; head -c 20000 /dev/zero | tr '\0' 'x'; printf '\n'; } > "$TOGGLE"; hostile
name=many-gpus; { printf '1\ngpus='; i=0; while [ $i -lt 3000 ]; do printf '%s,' "$U1"; i=$((i + 1)); done; } > "$TOGGLE"; hostile
name=no-newline; printf '1\nxid=79\ngpus=1,%s' "$U1" > "$TOGGLE"; hostile
name=keys; printf '1\nxid=99999999999999999999999\nprobability=-1\nafter_calls=-5\ngpus\n=\n==\ngpus==1\napis=%0300d\n' 0 > "$TOGGLE"; hostile
name=newlines; { printf '1'; head -c 6000 /dev/zero | tr '\0' '\n'; printf 'gpus=1\n'; } > "$TOGGLE"; hostile
name=env-nvd; printf '1\ngpus=1\n' > "$TOGGLE"; hostile NVIDIA_VISIBLE_DEVICES="$(head -c 100000 /dev/zero | tr '\0' ',')"
name=env-cvd; hostile CUDA_VISIBLE_DEVICES="$(head -c 100000 /dev/urandom | tr -d '\0' | head -c 60000)"
name=env-gpus; hostile CUDA_FAULT_INJECTION_ENABLED=1 CUDA_FAULT_GPUS="$(head -c 100000 /dev/zero | tr '\0' '1')"

echo "shim C tests: $PASSES passed, $FAILS failed"
[ "$FAILS" = 0 ]
