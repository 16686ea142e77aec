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
};

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
static int c_ucount(void *fn, long *o) { unsigned c = 0; int rc = F(int (*)(unsigned *))(&c); *o = c; return rc; }
static int c_handle(void *fn, long *o) { void *d = NULL; int rc = F(int (*)(unsigned, void **))(0, &d); *o = (long)d; return rc; }

#define PT STUB_PER_THREAD_FLAG
static const struct op ops[] = {
    {"cudaGetDeviceCount", NULL, 0, RT, c_count},
    {"cudaSetDevice", NULL, 0, RT, c_int0},
    {"cudaGetDeviceProperties", NULL, 0, RT, c_props},
    {"cudaGetDeviceProperties_v2", NULL, 0, RT, c_props},
    {"cudaMalloc", NULL, 0, RT, c_malloc},
    {"cudaFree", NULL, 0, RT, c_free},
    {"cudaMemcpy", NULL, 0, RT, c_memcpy},
    {"cudaMemcpyAsync", NULL, 0, RT, c_memcpya},
    {"cudaLaunchKernel", NULL, 0, RT, c_launch},
    {"cudaGraphLaunch", NULL, 0, RT, c_ptr2},
    {"cudaDeviceSynchronize", NULL, 0, RT, c_void},
    {"cudaStreamSynchronize", NULL, 0, RT, c_ptr0},
    {"cudaDeviceEnablePeerAccess", NULL, 0, RT, c_peer},
    {"cudaGetLastError", NULL, 0, RT, c_void},
    {"cudaPeekAtLastError", NULL, 0, RT, c_void},
    {"cuInit", "cuInit", 0, DRV, c_uint0},
    {"cuDeviceGet", "cuDeviceGet", 0, DRV, c_dev},
    {"cuDeviceGetCount", "cuDeviceGetCount", 0, DRV, c_count},
    {"cuCtxCreate_v2", "cuCtxCreate", 0, DRV, c_ctx},
    {"cuMemAlloc_v2", "cuMemAlloc", 0, DRV, c_dalloc},
    {"cuMemAllocManaged", "cuMemAllocManaged", 0, DRV, c_dalloc_m},
    {"cuMemFree_v2", "cuMemFree", 0, DRV, c_dfree},
    {"cuMemcpyHtoD_v2", "cuMemcpyHtoD", 0, DRV, c_htod},
    {"cuMemcpyDtoH_v2", "cuMemcpyDtoH", 0, DRV, c_dtoh},
    {"cuLaunchKernel", "cuLaunchKernel", 0, DRV, c_culaunch},
    {"cuLaunchKernel_ptsz", "cuLaunchKernel", PT, DRV, c_culaunch},
    {"cuLaunchKernelEx", "cuLaunchKernelEx", 0, DRV, c_culaunchex},
    {"cuGraphLaunch", "cuGraphLaunch", 0, DRV, c_ptr2},
    {"cuStreamSynchronize", "cuStreamSynchronize", 0, DRV, c_ptr0},
    {"cuStreamSynchronize_ptsz", "cuStreamSynchronize", PT, DRV, c_ptr0},
    {"cuCtxSynchronize", "cuCtxSynchronize", 0, DRV, c_void},
    {"cuCtxEnablePeerAccess", "cuCtxEnablePeerAccess", 0, DRV, c_ctxpeer},
    {"cuMemcpyPeer", "cuMemcpyPeer", 0, DRV, c_cupeer},
    {"cuGetExportTable", "cuGetExportTable", 0, DRV, c_export},
    {"nvmlInit_v2", NULL, 0, NVML, c_void},
    {"nvmlDeviceGetCount_v2", NULL, 0, NVML, c_ucount},
    {"nvmlDeviceGetHandleByIndex_v2", NULL, 0, NVML, c_handle},
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
