/* A process with several GPUs: switches devices and contexts and calls on each, to test
 * per-GPU faults (gpus=). Ops (argv, or one per line with --stdin), each printing "<op> rc=<rc>":
 *   rt:set:D rt:malloc rt:count                      runtime (cudaSetDevice, cudaMalloc, ...)
 *   drv:init drv:count drv:get:D drv:attr:D drv:uuid:D  driver discovery, device D
 *   drv:retain:D drv:set:D drv:setraw:D drv:push:D drv:pop   contexts (setraw: one the shim never
 *                                                    saw created, so it must ask the driver)
 *   drv:alloc drv:sync                               work on the current context
 *   nvml:init nvml:count nvml:handle:I nvml:name:I nvml:byuuid:UUID   NVML (handles kept per I)
 * With GPUS_VIA=getproc the driver's functions come from cuGetProcAddress asked for itself
 * (cudart's way; with STUB_CUDA_PROC=internal, internal functions), else from direct links. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stub.h"

extern int cudaSetDevice(int);
extern int cudaMalloc(void **, size_t);
extern int cudaGetDeviceCount(int *);
extern int nvmlInit_v2(void);
extern int nvmlDeviceGetCount_v2(unsigned *);
extern int nvmlDeviceGetHandleByIndex_v2(unsigned, void **);
extern int nvmlDeviceGetHandleByUUID(const char *, void **);
extern int nvmlDeviceGetName(void *, char *, unsigned);
extern int cuInit(unsigned);
extern int cuDeviceGetCount(int *);
extern int cuDeviceGet(int *, int);
extern int cuDeviceGetAttribute(int *, int, int);
extern int cuDeviceGetUuid_v2(void *, int);
extern int cuDevicePrimaryCtxRetain(void **, int);
extern int cuCtxSetCurrent(void *);
extern int cuCtxPushCurrent_v2(void *);
extern int cuCtxPopCurrent_v2(void **);
extern int cuMemAlloc_v2(unsigned long long *, size_t);
extern int cuCtxSynchronize(void);

static struct {
    int (*init)(unsigned); int (*count)(int *); int (*get)(int *, int); int (*attr)(int *, int, int);
    int (*uuid)(void *, int); int (*retain)(void **, int); int (*set)(void *); int (*push)(void *);
    int (*pop)(void **); int (*alloc)(unsigned long long *, size_t); int (*sync)(void);
} drv;

typedef int (*gpa2_t)(const char *, void **, int, unsigned long long, int *);
static void *lookup(gpa2_t self, const char *name, int version) {
    void *fn = NULL;
    int st = 0;
    return self(name, &fn, version, 0, &st) == 0 ? fn : NULL;
}

static void resolve(void) {
    const char *via = getenv("GPUS_VIA");
    if (via && strcmp(via, "getproc") == 0) {
        void *h = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
        gpa2_t gpa = h ? (gpa2_t)dlsym(h, "cuGetProcAddress_v2") : NULL;
        void *self = gpa ? lookup(gpa, "cuGetProcAddress", 12000) : NULL;
        if (!self) { printf("no cuGetProcAddress\n"); exit(3); }
        gpa2_t s = (gpa2_t)self;
#define L(field, name, ver) *(void **)&drv.field = lookup(s, name, ver);
        L(init, "cuInit", 2000) L(count, "cuDeviceGetCount", 2000) L(get, "cuDeviceGet", 2000)
        L(attr, "cuDeviceGetAttribute", 2000) L(uuid, "cuDeviceGetUuid", 11040)
        L(retain, "cuDevicePrimaryCtxRetain", 7000) L(set, "cuCtxSetCurrent", 4000)
        L(push, "cuCtxPushCurrent", 4000) L(pop, "cuCtxPopCurrent", 4000) L(alloc, "cuMemAlloc", 3020)
        L(sync, "cuCtxSynchronize", 2000)
        return;
    }
    drv.init = cuInit; drv.count = cuDeviceGetCount; drv.get = cuDeviceGet; drv.attr = cuDeviceGetAttribute;
    drv.uuid = cuDeviceGetUuid_v2; drv.retain = cuDevicePrimaryCtxRetain; drv.set = cuCtxSetCurrent;
    drv.push = cuCtxPushCurrent_v2; drv.pop = cuCtxPopCurrent_v2; drv.alloc = cuMemAlloc_v2;
    drv.sync = cuCtxSynchronize;
}

static void *ctx[64], *handle[64];

static int run(const char *op) {
    char a[16] = {0}, b[16] = {0}, arg[128] = {0};
    sscanf(op, "%15[^:]:%15[^:]:%127s", a, b, arg);
    int d = atoi(arg), v = 0;
    unsigned u = 0;
    void *p = NULL;
    unsigned long long dp = 0;
    char name[64];
    unsigned char uuid[16];
    if (d < 0 || d >= 64) d = 0;
    if (!strcmp(a, "rt")) {
        if (!strcmp(b, "set")) return cudaSetDevice(d);
        if (!strcmp(b, "malloc")) return cudaMalloc(&p, 16);
        if (!strcmp(b, "count")) return cudaGetDeviceCount(&v);
    } else if (!strcmp(a, "drv")) {
        if (!strcmp(b, "init")) return drv.init(0);
        if (!strcmp(b, "count")) return drv.count(&v);
        if (!strcmp(b, "get")) return drv.get(&v, d);
        if (!strcmp(b, "attr")) return drv.attr(&v, 1, d);
        if (!strcmp(b, "uuid")) return drv.uuid(uuid, d);
        if (!strcmp(b, "retain")) return drv.retain(&ctx[d], d);
        if (!strcmp(b, "set")) return drv.set(ctx[d]);
        if (!strcmp(b, "setraw")) return drv.set((void *)(unsigned long)(STUB_CTX + 0x10000ul * (unsigned)d));
        if (!strcmp(b, "push")) return drv.push(ctx[d]);
        if (!strcmp(b, "pop")) return drv.pop(&p);
        if (!strcmp(b, "alloc")) return drv.alloc(&dp, 16);
        if (!strcmp(b, "sync")) return drv.sync();
    } else if (!strcmp(a, "nvml")) {
        if (!strcmp(b, "init")) return nvmlInit_v2();
        if (!strcmp(b, "count")) return nvmlDeviceGetCount_v2(&u);
        if (!strcmp(b, "handle")) return nvmlDeviceGetHandleByIndex_v2((unsigned)d, &handle[d]);
        if (!strcmp(b, "name")) return nvmlDeviceGetName(handle[d], name, sizeof name);
        if (!strcmp(b, "byuuid")) return nvmlDeviceGetHandleByUUID(arg, &p);
    }
    return -100;
}

static void one(const char *op) {
    printf("%s rc=%d\n", op, run(op));
    fflush(stdout);
}

int main(int argc, char **argv) {
    resolve();
    if (argc == 2 && strcmp(argv[1], "--stdin") == 0) {
        char line[256];
        while (fgets(line, sizeof line, stdin)) {
            line[strcspn(line, "\r\n")] = 0;
            if (line[0]) one(line);
        }
        return 0;
    }
    for (int i = 1; i < argc; i++) one(argv[i]);
    return 0;
}
