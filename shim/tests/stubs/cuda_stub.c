/* Stub CUDA driver (libcuda.so.1) for tests and the stub worker; contract in stub.h.
 * cuda_stub_gen.c adds a weak, always-succeeding export for every function of the shim's
 * driver table; this file has the functions whose answers tests read, the devices, the
 * contexts, and cuGetProcAddress in its two behaviours (exported or internal functions). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "stub.h"
#include "stub_driver.h"

API long cuda_stub_calls;

/* --- the request log (STUB_CUDA_LOG=path): one write per line, so threads and forks interleave
 * whole lines --------------------------------------------------------------------------------- */
static int log_fd(void) {
    static int fd = -2;
    if (fd == -2) {
        const char *p = getenv("STUB_CUDA_LOG");
        fd = p && p[0] ? open(p, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644) : -1;
    }
    return fd;
}

void stub_log(const char *what, const char *name, int version, unsigned long long flags, int with_version) {
    int fd = log_fd();
    if (fd < 0) return;
    char line[320];
    int n = with_version ? snprintf(line, sizeof line, "%s %s %d %llu\n", what, name, version, flags)
                         : snprintf(line, sizeof line, "%s %s\n", what, name);
    if (n > 0 && (size_t)n < sizeof line) {
        ssize_t rc = write(fd, line, (size_t)n);
        (void)rc;
    }
}

/* --- devices: STUB_CUDA_DEVICES (default 4) with STUB_CUDA_UUIDS (comma-separated) ----------- */
static int device_count(void) {
    const char *v = getenv("STUB_CUDA_DEVICES");
    int n = v && *v ? atoi(v) : STUB_DEVICE_COUNT;
    return n < 0 ? 0 : n > 64 ? 64 : n;
}

/* The UUID of device `dev` as 16 bytes: from STUB_CUDA_UUIDS, else STUB_UUID_BYTE(dev) x 16. */
int stub_uuid(int dev, unsigned char out[16]) {
    if (dev < 0 || dev >= device_count()) return 0;
    memset(out, STUB_UUID_BYTE(dev), 16);
    const char *v = getenv("STUB_CUDA_UUIDS");
    for (int i = 0; v && *v && i < dev; i++) {
        v = strchr(v, ',');
        if (v) v++;
    }
    if (!v || !*v) return 1;
    if (strncmp(v, "GPU-", 4) == 0 || strncmp(v, "MIG-", 4) == 0) v += 4;
    int k = 0;
    for (; *v && *v != ',' && k < 32; v++) {
        int d = *v >= '0' && *v <= '9' ? *v - '0' : *v >= 'a' && *v <= 'f' ? *v - 'a' + 10
                : *v >= 'A' && *v <= 'F' ? *v - 'A' + 10 : -1;
        if (d < 0) continue; /* dashes */
        out[k / 2] = (unsigned char)(k % 2 ? (out[k / 2] & 0xF0) | d : d << 4);
        k++;
    }
    return 1;
}

#define BAD_DEVICE 101  /* CUDA_ERROR_INVALID_DEVICE */
#define NO_CONTEXT 201  /* CUDA_ERROR_INVALID_CONTEXT */
#define CALL(name) do { __atomic_add_fetch(&cuda_stub_calls, 1, __ATOMIC_RELAXED); stub_log("CALL", name, 0, 0, 0); } while (0)

/* contexts encode their device: STUB_CTX + 0x10000 * dev */
#define CTX_OF(dev) ((h_t)(unsigned long)(STUB_CTX + 0x10000ul * (unsigned)(dev)))
static int dev_of(h_t ctx) {
    unsigned long v = (unsigned long)ctx;
    if (v < STUB_CTX || (v - STUB_CTX) % 0x10000ul) return -1;
    return (int)((v - STUB_CTX) / 0x10000ul);
}
static __thread h_t t_stack[16];
static __thread int t_depth;

API int cuInit(unsigned f) { (void)f; CALL("cuInit"); return 0; }
API int cuDriverGetVersion(int *v) { CALL("cuDriverGetVersion"); if (v) *v = STUB_DRIVER_VERSION; return 0; }
API int cuDeviceGet(int *d, int o) {
    CALL("cuDeviceGet");
    if (o < 0 || o >= device_count()) return BAD_DEVICE;
    if (d) *d = o;
    return 0;
}
API int cuDeviceGetCount(int *c) { CALL("cuDeviceGetCount"); if (c) *c = device_count(); return 0; }
API int cuDeviceGetName(char *name, int len, int dev) {
    CALL("cuDeviceGetName");
    if (dev < 0 || dev >= device_count()) return BAD_DEVICE;
    if (name && len > 0) snprintf(name, (size_t)len, "stub-gpu-%d", dev);
    return 0;
}
API int cuDeviceGetAttribute(int *v, int a, int dev) {
    (void)a;
    CALL("cuDeviceGetAttribute");
    if (dev < 0 || dev >= device_count()) return BAD_DEVICE;
    if (v) *v = 7;
    return 0;
}
static int get_uuid(void *uuid, int dev) {
    unsigned char b[16];
    if (!stub_uuid(dev, b)) return BAD_DEVICE;
    if (uuid) memcpy(uuid, b, 16);
    return 0;
}
API int cuDeviceGetUuid(void *uuid, int dev) { CALL("cuDeviceGetUuid"); return get_uuid(uuid, dev); }
API int cuDeviceGetUuid_v2(void *uuid, int dev) { CALL("cuDeviceGetUuid_v2"); return get_uuid(uuid, dev); }
API int cuDeviceTotalMem_v2(size_t *b, int dev) {
    CALL("cuDeviceTotalMem_v2");
    if (dev < 0 || dev >= device_count()) return BAD_DEVICE;
    if (b) *b = 16ull << 30;
    return 0;
}
API int cuDevicePrimaryCtxRetain(h_t *c, int d) {
    CALL("cuDevicePrimaryCtxRetain");
    if (d < 0 || d >= device_count()) return BAD_DEVICE;
    if (c) *c = CTX_OF(d);
    return 0;
}
static int create(h_t *c, int d) {
    if (d < 0 || d >= device_count()) return BAD_DEVICE;
    if (c) *c = CTX_OF(d);
    if (t_depth < 16) t_stack[t_depth++] = CTX_OF(d);
    return 0;
}
API int cuCtxCreate_v2(h_t *c, unsigned f, int d) { (void)f; CALL("cuCtxCreate_v2"); return create(c, d); }
API int cuCtxCreate_v3(h_t *c, void *p, int n, unsigned f, int d) { (void)p; (void)n; (void)f; CALL("cuCtxCreate_v3"); return create(c, d); }
API int cuCtxCreate_v4(h_t *c, void *p, unsigned f, int d) { (void)p; (void)f; CALL("cuCtxCreate_v4"); return create(c, d); }
API int cuCtxSetCurrent(h_t c) {
    CALL("cuCtxSetCurrent");
    if (c && dev_of(c) < 0) return NO_CONTEXT;
    if (t_depth == 0 && c) t_depth = 1;
    if (t_depth > 0) t_stack[t_depth - 1] = c;
    if (!c && t_depth > 0) t_depth--;
    return 0;
}
API int cuCtxGetCurrent(h_t *c) { CALL("cuCtxGetCurrent"); if (c) *c = t_depth ? t_stack[t_depth - 1] : NULL; return 0; }
API int cuCtxPushCurrent_v2(h_t c) {
    CALL("cuCtxPushCurrent_v2");
    if (!c || dev_of(c) < 0) return NO_CONTEXT;
    if (t_depth >= 16) return 2; /* CUDA_ERROR_OUT_OF_MEMORY */
    t_stack[t_depth++] = c;
    return 0;
}
API int cuCtxPopCurrent_v2(h_t *c) {
    CALL("cuCtxPopCurrent_v2");
    if (t_depth == 0) return NO_CONTEXT;
    h_t top = t_stack[--t_depth];
    if (c) *c = top;
    return 0;
}
API int cuCtxGetDevice(int *d) {
    CALL("cuCtxGetDevice");
    if (t_depth == 0 || !t_stack[t_depth - 1]) return NO_CONTEXT;
    if (d) *d = dev_of(t_stack[t_depth - 1]);
    return 0;
}
API int cuMemAlloc_v2(dptr_t *p, size_t n) { (void)n; CALL("cuMemAlloc_v2"); if (p) *p = STUB_DRV_DEVICE_PTR; return 0; }
API int cuMemGetInfo_v2(size_t *f, size_t *t) { CALL("cuMemGetInfo_v2"); if (f) *f = 1ull << 30; if (t) *t = 2ull << 30; return 0; }
API int cuDeviceCanAccessPeer(int *can, int d, int p) {
    CALL("cuDeviceCanAccessPeer");
    if (d < 0 || d >= device_count() || p < 0 || p >= device_count()) return BAD_DEVICE;
    if (can) *can = d != p;
    return 0;
}
/* The tests' programs ask with a NULL id and get a recognisable table; a real cudart asks for its
 * private tables by UUID, which no stub can provide: it gets CUDA_ERROR_NOT_FOUND and gives up
 * with its own error (after cuInit and its ~420 lookups). */
API int cuGetExportTable(const void **t, const void *id) {
    CALL("cuGetExportTable");
    if (id) {
        if (t) *t = NULL;
        return 500;
    }
    if (t) *t = (const void *)STUB_EXPORT_TABLE;
    return 0;
}
/* what cuGetProcAddress hands out for a name the stub does not know: succeeds, reads nothing */
API int cuda_stub_generic(void) { CALL("?"); return 0; }
static int internal_generic(void) { CALL("?"); return 0; }

API int cuGetProcAddress(const char *s, void **pfn, int v, unsigned long long f);
API int cuGetProcAddress_v2(const char *s, void **pfn, int v, unsigned long long f, int *st);
static int internal_gpa1(const char *s, void **pfn, int v, unsigned long long f) { return cuGetProcAddress(s, pfn, v, f); }
static int internal_gpa2(const char *s, void **pfn, int v, unsigned long long f, int *st) {
    return cuGetProcAddress_v2(s, pfn, v, f, st);
}

/* Twins of the functions above that are not in the shim's table, for the internal behaviour. */
#define TWIN(ret, name, params, args) static ret internal_##name params { return name args; }
TWIN(int, cuDriverGetVersion, (int *v), (v))
TWIN(int, cuCtxGetCurrent, (h_t *c), (c))
TWIN(int, cuCtxGetDevice, (int *d), (d))
TWIN(int, cuGetExportTable, (const void **t, const void *id), (t, id))

static const stub_entry_t extra[] = {
    {"cuDriverGetVersion", 2020, 0, (void *)cuDriverGetVersion, (void *)internal_cuDriverGetVersion},
    {"cuCtxGetCurrent", 4000, 0, (void *)cuCtxGetCurrent, (void *)internal_cuCtxGetCurrent},
    {"cuCtxGetDevice", 2000, 0, (void *)cuCtxGetDevice, (void *)internal_cuCtxGetDevice},
    {"cuGetExportTable", 3000, 0, (void *)cuGetExportTable, (void *)internal_cuGetExportTable},
    {"cuGetProcAddress", 11030, 0, (void *)cuGetProcAddress, (void *)internal_gpa1},
    {"cuGetProcAddress", 12000, 0, (void *)cuGetProcAddress_v2, (void *)internal_gpa2},
    {NULL, 0, 0, NULL, NULL}};

/* Like the driver: the newest variant not above the version asked, per-thread when asked. */
static const stub_entry_t *pick(const stub_entry_t *tab, const char *s, int v, unsigned long long f, int *known) {
    const stub_entry_t *legacy = NULL, *pt = NULL;
    for (const stub_entry_t *e = tab; e->base; e++) {
        if (strcmp(e->base, s) != 0) continue;
        *known = 1;
        if (e->version > v) continue;
        if (e->per_thread) { if (!pt || e->version > pt->version) pt = e; }
        else if (!legacy || e->version > legacy->version) legacy = e;
    }
    return (f & STUB_PER_THREAD_FLAG) && pt ? pt : legacy;
}

API int cuGetProcAddress_v2(const char *s, void **pfn, int v, unsigned long long f, int *st) {
    __atomic_add_fetch(&cuda_stub_calls, 1, __ATOMIC_RELAXED);
    if (!s || !pfn) return 1; /* CUDA_ERROR_INVALID_VALUE */
    stub_log("GPA", s, v, f, 1);
    const char *mode = getenv("STUB_CUDA_PROC");
    int internal = mode && strcmp(mode, "internal") == 0;
    int known = 0;
    const stub_entry_t *e = pick(stub_driver_table, s, v, f, &known);
    if (!e) e = pick(extra, s, v, f, &known);
    if (e) {
        *pfn = internal ? e->internal : e->exported;
    } else if (known) { /* a function newer than the version asked for */
        *pfn = NULL;
        if (st) *st = 2; /* CU_GET_PROC_ADDRESS_VERSION_NOT_SUFFICIENT */
        return 500;
    } else {
        *pfn = internal ? (void *)internal_generic : (void *)cuda_stub_generic;
    }
    if (st) *st = 0; /* CU_GET_PROC_ADDRESS_SUCCESS */
    return 0;
}

API int cuGetProcAddress(const char *s, void **pfn, int v, unsigned long long f) {
    return cuGetProcAddress_v2(s, pfn, v, f, NULL);
}
