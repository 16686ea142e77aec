/*
 * common.h - the one test driver every path program shares.
 *
 * Why: each program differs only in HOW it obtains a CUDA function (direct symbol, dlsym,
 * cuGetProcAddress, cudaGetDriverEntryPoint, ...); calling it and printing what came back is
 * the same everywhere, so pytest can run one declarative table of cases over every path.
 * Usage: PROG OP...            call each op once, print "<op> rc=<rc> out=<out>"
 *        PROG --stdin          read ops from stdin, one per line (lets a test act in between)
 *        PROG --until-fail OP MS   call OP until it fails or MS pass: "<op> rc= after_ms= calls="
 *        PROG --until-ok OP MS     call OP until it succeeds or MS pass (same output)
 *        PROG --fork-until-fail OP MS [CHILD_OP]   call OP once, fork, --until-fail in the child
 * Each program defines: static void *resolve(const struct op *op) (NULL: not found).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "stub.h"

enum fam { RT, DRV, NVML };
typedef int (*call_fn)(void *fn, long *out);
struct op {
    const char *name;    /* exported symbol */
    const char *request; /* what a lookup API is asked for */
    unsigned long long flags;
    enum fam fam;
    call_fn call;
    int version; /* the CUDA version a lookup asks for; 0: 12000 */
};
#define VERSION(op) ((op)->version ? (op)->version : 12000)

typedef struct { unsigned x, y, z; } dim3_t;
static char hostbuf[64];

#define F(t) ((t)fn)
static int c_count(void *fn, long *o) { int c = -1; int rc = F(int (*)(int *))(&c); *o = c; return rc; }
static int c_int0(void *fn, long *o) { (void)o; return F(int (*)(int))(0); }
static int c_uint0(void *fn, long *o) { (void)o; return F(int (*)(unsigned))(0); }
static int c_void(void *fn, long *o) { (void)o; return F(int (*)(void))(); }
static int c_ptr0(void *fn, long *o) { (void)o; return F(int (*)(void *))(NULL); }
static int c_props(void *fn, long *o) { char b[4096] = {0}; int rc = F(int (*)(void *, int))(b, 0); *o = strcmp(b, "stub-gpu") == 0; return rc; }
static int c_malloc(void *fn, long *o) { void *p = NULL; int rc = F(int (*)(void **, size_t))(&p, 256); *o = (long)p; return rc; }
static int c_free(void *fn, long *o) { (void)o; return F(int (*)(void *))((void *)STUB_DEVICE_PTR); }
static int c_memcpy(void *fn, long *o) { (void)o; return F(int (*)(void *, const void *, size_t, int))(hostbuf, hostbuf + 32, 16, 1); }
static int c_memcpya(void *fn, long *o) { (void)o; return F(int (*)(void *, const void *, size_t, int, void *))(hostbuf, hostbuf + 32, 16, 1, NULL); }
static int c_launch(void *fn, long *o) { dim3_t g = {1, 1, 1}; (void)o; return F(int (*)(const void *, dim3_t, dim3_t, void **, size_t, void *))(hostbuf, g, g, NULL, 0, NULL); }
static int c_ptr2(void *fn, long *o) { (void)o; return F(int (*)(void *, void *))(NULL, NULL); }
static int c_peer(void *fn, long *o) { (void)o; return F(int (*)(int, unsigned))(1, 0); }
static int c_dev(void *fn, long *o) { int d = -1; int rc = F(int (*)(int *, int))(&d, 0); *o = d; return rc; }
static int c_ctx(void *fn, long *o) { void *c = NULL; int rc = F(int (*)(void **, unsigned, int))(&c, 0, 0); *o = (long)c; return rc; }
static int c_dalloc(void *fn, long *o) { unsigned long long p = 0; int rc = F(int (*)(unsigned long long *, size_t))(&p, 256); *o = (long)p; return rc; }
static int c_dalloc_m(void *fn, long *o) { unsigned long long p = 0; int rc = F(int (*)(unsigned long long *, size_t, unsigned))(&p, 256, 1); *o = (long)p; return rc; }
static int c_dfree(void *fn, long *o) { (void)o; return F(int (*)(unsigned long long))(STUB_DRV_DEVICE_PTR); }
static int c_htod(void *fn, long *o) { (void)o; return F(int (*)(unsigned long long, const void *, size_t))(STUB_DRV_DEVICE_PTR, hostbuf, 16); }
static int c_dtoh(void *fn, long *o) { (void)o; return F(int (*)(void *, unsigned long long, size_t))(hostbuf, STUB_DRV_DEVICE_PTR, 16); }
static int c_culaunch(void *fn, long *o) { (void)o; return F(int (*)(void *, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, void *, void **, void **))(NULL, 1, 1, 1, 1, 1, 1, 0, NULL, NULL, NULL); }
static int c_culaunchex(void *fn, long *o) { (void)o; return F(int (*)(const void *, void *, void **, void **))(NULL, NULL, NULL, NULL); }
static int c_ctxpeer(void *fn, long *o) { (void)o; return F(int (*)(void *, unsigned))(NULL, 0); }
static int c_cupeer(void *fn, long *o) { (void)o; return F(int (*)(unsigned long long, void *, unsigned long long, void *, size_t))(STUB_DRV_DEVICE_PTR, NULL, STUB_DRV_DEVICE_PTR, NULL, 16); }
static int c_export(void *fn, long *o) { const void *t = NULL; int rc = F(int (*)(const void **, const void *))(&t, NULL); *o = (long)t; return rc; }
typedef unsigned long long dp_t;
static int c_dalloc32(void *fn, long *o) { unsigned p = 0; int rc = F(int (*)(unsigned *, unsigned))(&p, 256); *o = (long)p; return rc; }
static int c_ctx3(void *fn, long *o) { void *c = NULL; int rc = F(int (*)(void **, void *, int, unsigned, int))(&c, NULL, 0, 0, 0); *o = (long)c; return rc; }
static int c_ctx4(void *fn, long *o) { void *c = NULL; int rc = F(int (*)(void **, void *, unsigned, int))(&c, NULL, 0, 0); *o = (long)c; return rc; }
static int c_memset(void *fn, long *o) { (void)o; return F(int (*)(dp_t, unsigned char, size_t))(STUB_DRV_DEVICE_PTR, 1, 16); }
static int c_memset32a(void *fn, long *o) { (void)o; return F(int (*)(dp_t, unsigned, size_t, void *))(STUB_DRV_DEVICE_PTR, 1, 16, NULL); }
static int c_memset2d(void *fn, long *o) { (void)o; return F(int (*)(dp_t, size_t, unsigned char, size_t, size_t))(STUB_DRV_DEVICE_PTR, 64, 1, 16, 2); }
static int c_dtod(void *fn, long *o) { (void)o; return F(int (*)(dp_t, dp_t, size_t))(STUB_DRV_DEVICE_PTR, STUB_DRV_DEVICE_PTR, 16); }
static int c_cupeera(void *fn, long *o) { (void)o; return F(int (*)(dp_t, void *, dp_t, void *, size_t, void *))(STUB_DRV_DEVICE_PTR, NULL, STUB_DRV_DEVICE_PTR, NULL, 16, NULL); }
static int c_pool(void *fn, long *o) { dp_t p = 0; int rc = F(int (*)(dp_t *, size_t, void *, void *))(&p, 256, NULL, NULL); *o = (long)p; return rc; }
static int c_prefetch(void *fn, long *o) { (void)o; return F(int (*)(dp_t, size_t, int, void *))(STUB_DRV_DEVICE_PTR, 16, 0, NULL); }
typedef struct { int type, id; } loc_t;
static int c_prefetch2(void *fn, long *o) { loc_t l = {1, 0}; (void)o; return F(int (*)(dp_t, size_t, loc_t, unsigned, void *))(STUB_DRV_DEVICE_PTR, 16, l, 0, NULL); }
static int c_hostreg(void *fn, long *o) { (void)o; return F(int (*)(void *, size_t, unsigned))(hostbuf, sizeof hostbuf, 0); }
static int c_wait(void *fn, long *o) { (void)o; return F(int (*)(void *, void *, unsigned))(NULL, NULL, 0); }
static int c_hostfn(void *fn, long *o) { (void)o; return F(int (*)(void *, void *, void *))(NULL, NULL, NULL); }
static int c_uuid(void *fn, long *o) { unsigned char u[16] = {0}; int rc = F(int (*)(void *, int))(u, 0); *o = u[0] | u[15] << 8; return rc; }
static int c_setcur(void *fn, long *o) { (void)o; return F(int (*)(void *))((void *)STUB_CTX); }
static int c_ucount(void *fn, long *o) { unsigned c = 0; int rc = F(int (*)(unsigned *))(&c); *o = c; return rc; }
static int c_handle(void *fn, long *o) { void *d = NULL; int rc = F(int (*)(unsigned, void **))(0, &d); *o = (long)d; return rc; }

#define PT STUB_PER_THREAD_FLAG
static const struct op ops[] = {
    {"cudaGetDeviceCount", NULL, 0, RT, c_count, 0},
    {"cudaSetDevice", NULL, 0, RT, c_int0, 0},
    {"cudaGetDeviceProperties", NULL, 0, RT, c_props, 0},
    {"cudaGetDeviceProperties_v2", NULL, 0, RT, c_props, 0},
    {"cudaMalloc", NULL, 0, RT, c_malloc, 0},
    {"cudaFree", NULL, 0, RT, c_free, 0},
    {"cudaMemcpy", NULL, 0, RT, c_memcpy, 0},
    {"cudaMemcpyAsync", NULL, 0, RT, c_memcpya, 0},
    {"cudaLaunchKernel", NULL, 0, RT, c_launch, 0},
    {"cudaGraphLaunch", NULL, 0, RT, c_ptr2, 0},
    {"cudaDeviceSynchronize", NULL, 0, RT, c_void, 0},
    {"cudaStreamSynchronize", NULL, 0, RT, c_ptr0, 0},
    {"cudaDeviceEnablePeerAccess", NULL, 0, RT, c_peer, 0},
    {"cudaGetLastError", NULL, 0, RT, c_void, 0},
    {"cudaPeekAtLastError", NULL, 0, RT, c_void, 0},
    {"cuInit", "cuInit", 0, DRV, c_uint0, 0},
    {"cuDeviceGet", "cuDeviceGet", 0, DRV, c_dev, 0},
    {"cuDeviceGetCount", "cuDeviceGetCount", 0, DRV, c_count, 0},
    {"cuCtxCreate_v2", "cuCtxCreate", 0, DRV, c_ctx, 0},
    {"cuMemAlloc_v2", "cuMemAlloc", 0, DRV, c_dalloc, 0},
    {"cuMemAllocManaged", "cuMemAllocManaged", 0, DRV, c_dalloc_m, 0},
    {"cuMemFree_v2", "cuMemFree", 0, DRV, c_dfree, 0},
    {"cuMemcpyHtoD_v2", "cuMemcpyHtoD", 0, DRV, c_htod, 0},
    {"cuMemcpyDtoH_v2", "cuMemcpyDtoH", 0, DRV, c_dtoh, 0},
    {"cuLaunchKernel", "cuLaunchKernel", 0, DRV, c_culaunch, 0},
    {"cuLaunchKernel_ptsz", "cuLaunchKernel", PT, DRV, c_culaunch, 0},
    {"cuLaunchKernelEx", "cuLaunchKernelEx", 0, DRV, c_culaunchex, 0},
    {"cuGraphLaunch", "cuGraphLaunch", 0, DRV, c_ptr2, 0},
    {"cuStreamSynchronize", "cuStreamSynchronize", 0, DRV, c_ptr0, 0},
    {"cuStreamSynchronize_ptsz", "cuStreamSynchronize", PT, DRV, c_ptr0, 0},
    {"cuCtxSynchronize", "cuCtxSynchronize", 0, DRV, c_void, 0},
    {"cuCtxEnablePeerAccess", "cuCtxEnablePeerAccess", 0, DRV, c_ctxpeer, 0},
    {"cuMemcpyPeer", "cuMemcpyPeer", 0, DRV, c_cupeer, 0},
    {"cuGetExportTable", "cuGetExportTable", 0, DRV, c_export, 0},
    /* variants chosen by version and stream flag (the driver table's 2D/3D copies, memsets,
     * pools, prefetches, host registration, events and stream waits) */
    {"cuMemAlloc", "cuMemAlloc", 0, DRV, c_dalloc32, 2000},
    {"cuCtxCreate_v3", "cuCtxCreate", 0, DRV, c_ctx3, 11040},
    {"cuCtxCreate_v4", "cuCtxCreate", 0, DRV, c_ctx4, 12050},
    {"cuDeviceGetUuid", "cuDeviceGetUuid", 0, DRV, c_uuid, 9020},
    {"cuDeviceGetUuid_v2", "cuDeviceGetUuid", 0, DRV, c_uuid, 11040},
    {"cuCtxSetCurrent", "cuCtxSetCurrent", 0, DRV, c_setcur, 4000},
    {"cuMemcpyDtoD_v2_ptds", "cuMemcpyDtoD", PT, DRV, c_dtod, 7000},
    {"cuMemcpy2DUnaligned_v2", "cuMemcpy2DUnaligned", 0, DRV, c_ptr0, 3020},
    {"cuMemcpy2DUnaligned_v2_ptds", "cuMemcpy2DUnaligned", PT, DRV, c_ptr0, 7000},
    {"cuMemcpy3D_v2_ptds", "cuMemcpy3D", PT, DRV, c_ptr0, 7000},
    {"cuMemsetD8_v2_ptds", "cuMemsetD8", PT, DRV, c_memset, 7000},
    {"cuMemsetD32Async_ptsz", "cuMemsetD32Async", PT, DRV, c_memset32a, 7000},
    {"cuMemsetD2D8_v2", "cuMemsetD2D8", 0, DRV, c_memset2d, 3020},
    {"cuMemcpyPeerAsync_ptsz", "cuMemcpyPeerAsync", PT, DRV, c_cupeera, 7000},
    {"cuMemAllocFromPoolAsync_ptsz", "cuMemAllocFromPoolAsync", PT, DRV, c_pool, 11020},
    {"cuMemPrefetchAsync", "cuMemPrefetchAsync", 0, DRV, c_prefetch, 12000},
    {"cuMemPrefetchAsync_v2_ptsz", "cuMemPrefetchAsync", PT, DRV, c_prefetch2, 12020},
    {"cuMemHostRegister", "cuMemHostRegister", 0, DRV, c_hostreg, 4000},
    {"cuMemHostRegister_v2", "cuMemHostRegister", 0, DRV, c_hostreg, 6050},
    {"cuMemFreeHost", "cuMemFreeHost", 0, DRV, c_ptr0, 2000},
    {"cuStreamWaitEvent_ptsz", "cuStreamWaitEvent", PT, DRV, c_wait, 7000},
    {"cuEventRecord_ptsz", "cuEventRecord", PT, DRV, c_ptr2, 7000},
    {"cuEventQuery", "cuEventQuery", 0, DRV, c_ptr0, 2000},
    {"cuLaunchHostFunc_ptsz", "cuLaunchHostFunc", PT, DRV, c_hostfn, 10000},
    {"cuGraphUpload", "cuGraphUpload", 0, DRV, c_ptr2, 11010},
    {"nvmlInit_v2", NULL, 0, NVML, c_void, 0},
    {"nvmlDeviceGetCount_v2", NULL, 0, NVML, c_ucount, 0},
    {"nvmlDeviceGetHandleByIndex_v2", NULL, 0, NVML, c_handle, 0},
};

static void *resolve(const struct op *op);

static const struct op *find_op(const char *name) {
    for (size_t i = 0; i < sizeof ops / sizeof *ops; i++)
        if (strcmp(ops[i].name, name) == 0) return &ops[i];
    return NULL;
}

/* Where fn lives: "shim" when the lookup handed out the shim's wrapper. */
static const char *owner(void *fn) {
    Dl_info info;
    if (!fn || !dladdr(fn, &info) || !info.dli_fname) return "none";
    return strstr(info.dli_fname, "cuda_intercept") ? "shim" : "real";
}

static int run_op(const char *name, long *out, int quiet) {
    const struct op *op = find_op(name);
    if (!op) { printf("%s unknown-op\n", name); fflush(stdout); return -1; }
    void *fn = resolve(op);
    if (!fn) { printf("%s rc=notfound\n", name); fflush(stdout); return -2; }
    *out = 0;
    int rc = op->call(fn, out);
    if (!quiet) { printf("%s rc=%d out=%ld via=%s\n", name, rc, *out, owner(fn)); fflush(stdout); }
    return rc;
}

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

int main(int argc, char **argv) {
    long out;
    if ((argc == 4 || argc == 5) && strcmp(argv[1], "--fork-until-fail") == 0) {
        run_op(argv[2], &out, 1); /* the parent's first call starts the shim's poller thread */
        fflush(stdout);
        pid_t pid = fork();
        if (pid < 0) return 1;
        if (pid > 0) { int st = 0; waitpid(pid, &st, 0); return WIFEXITED(st) ? WEXITSTATUS(st) : 1; }
        argv[1] = "--until-fail"; /* the child has no poller thread: it must still see the toggle */
        if (argc == 5) argv[2] = argv[4];
        argc = 4;
    }
    if (argc == 4 && (strcmp(argv[1], "--until-fail") == 0 || strcmp(argv[1], "--until-ok") == 0)) {
        int want_fail = strcmp(argv[1], "--until-fail") == 0;
        double start = now_ms(), limit = atof(argv[3]);
        long calls = 0;
        int rc = 0;
        do { rc = run_op(argv[2], &out, 1); calls++; } while ((rc == 0) == want_fail && now_ms() - start < limit);
        printf("%s rc=%d after_ms=%.1f calls=%ld\n", argv[2], rc, now_ms() - start, calls);
        return 0;
    }
    if (argc == 2 && strcmp(argv[1], "--stdin") == 0) {
        char line[256];
        while (fgets(line, sizeof line, stdin)) {
            line[strcspn(line, "\r\n")] = 0;
            if (line[0]) run_op(line, &out, 0);
        }
        return 0;
    }
    for (int i = 1; i < argc; i++) run_op(argv[i], &out, 0);
    return 0;
}
