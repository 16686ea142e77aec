/* Stub CUDA driver (libcuda.so.1) for tests and the stub worker; contract in stub.h. */
#include <stddef.h>
#include <string.h>

#include "stub.h"

#define API __attribute__((visibility("default")))
typedef unsigned long long dptr_t;
typedef void *h_t;

API long cuda_stub_calls;
#define BUMP() __atomic_add_fetch(&cuda_stub_calls, 1, __ATOMIC_RELAXED)
#define OK(decl) API int decl { BUMP(); return 0; }

OK(cuInit(unsigned f))
API int cuDeviceGet(int *d, int o) { (void)o; BUMP(); if (d) *d = 0; return 0; }
API int cuDeviceGetCount(int *c) { BUMP(); if (c) *c = STUB_DEVICE_COUNT; return 0; }
API int cuCtxCreate_v2(h_t *c, unsigned f, int d) { (void)f; (void)d; BUMP(); if (c) *c = (h_t)STUB_CTX; return 0; }
API int cuCtxCreate_v3(h_t *c, void *p, int n, unsigned f, int d) { (void)p; (void)n; (void)f; (void)d; BUMP(); if (c) *c = (h_t)STUB_CTX; return 0; }
API int cuCtxCreate_v4(h_t *c, void *p, unsigned f, int d) { (void)p; (void)f; (void)d; BUMP(); if (c) *c = (h_t)STUB_CTX; return 0; }
API int cuDevicePrimaryCtxRetain(h_t *c, int d) { (void)d; BUMP(); if (c) *c = (h_t)STUB_CTX; return 0; }
API int cuMemAlloc_v2(dptr_t *p, size_t n) { (void)n; BUMP(); if (p) *p = STUB_DRV_DEVICE_PTR; return 0; }
OK(cuMemFree_v2(dptr_t p))
OK(cuMemcpyHtoD_v2(dptr_t d, const void *s, size_t n))
OK(cuMemcpyDtoH_v2(void *d, dptr_t s, size_t n))
OK(cuMemcpyHtoDAsync_v2(dptr_t d, const void *s, size_t n, h_t st))
OK(cuMemcpyPeer(dptr_t d, h_t dc, dptr_t s, h_t sc, size_t n))
OK(cuCtxEnablePeerAccess(h_t c, unsigned f))
OK(cuLaunchKernel(h_t f, unsigned a, unsigned b, unsigned c, unsigned d, unsigned e, unsigned g, unsigned s, h_t st, void **p, void **x))
OK(cuLaunchKernel_ptsz(h_t f, unsigned a, unsigned b, unsigned c, unsigned d, unsigned e, unsigned g, unsigned s, h_t st, void **p, void **x))
OK(cuLaunchKernelEx(const void *c, h_t f, void **p, void **x))
OK(cuLaunchKernelEx_ptsz(const void *c, h_t f, void **p, void **x))
OK(cuGraphLaunch(h_t g, h_t s))
OK(cuGraphLaunch_ptsz(h_t g, h_t s))
OK(cuStreamSynchronize(h_t s))
OK(cuStreamSynchronize_ptsz(h_t s))
OK(cuCtxSynchronize(void))
API int cuGetExportTable(const void **t, const void *id) { (void)id; BUMP(); if (t) *t = (const void *)STUB_EXPORT_TABLE; return 0; }

API int cuGetProcAddress(const char *s, void **pfn, int v, unsigned long long f);
API int cuGetProcAddress_v2(const char *s, void **pfn, int v, unsigned long long f, int *st);

/* base name -> exported function (default and per-thread-stream versions), as the driver does */
static const struct { const char *base; void *fn; void *ptsz; } table[] = {
    {"cuInit", (void *)cuInit, NULL},
    {"cuDeviceGet", (void *)cuDeviceGet, NULL},
    {"cuDeviceGetCount", (void *)cuDeviceGetCount, NULL},
    {"cuCtxCreate", (void *)cuCtxCreate_v2, NULL},
    {"cuDevicePrimaryCtxRetain", (void *)cuDevicePrimaryCtxRetain, NULL},
    {"cuMemAlloc", (void *)cuMemAlloc_v2, NULL},
    {"cuMemFree", (void *)cuMemFree_v2, NULL},
    {"cuMemcpyHtoD", (void *)cuMemcpyHtoD_v2, NULL},
    {"cuMemcpyDtoH", (void *)cuMemcpyDtoH_v2, NULL},
    {"cuMemcpyHtoDAsync", (void *)cuMemcpyHtoDAsync_v2, NULL},
    {"cuMemcpyPeer", (void *)cuMemcpyPeer, NULL},
    {"cuCtxEnablePeerAccess", (void *)cuCtxEnablePeerAccess, NULL},
    {"cuLaunchKernel", (void *)cuLaunchKernel, (void *)cuLaunchKernel_ptsz},
    {"cuLaunchKernelEx", (void *)cuLaunchKernelEx, (void *)cuLaunchKernelEx_ptsz},
    {"cuGraphLaunch", (void *)cuGraphLaunch, (void *)cuGraphLaunch_ptsz},
    {"cuStreamSynchronize", (void *)cuStreamSynchronize, (void *)cuStreamSynchronize_ptsz},
    {"cuCtxSynchronize", (void *)cuCtxSynchronize, NULL},
    {"cuGetExportTable", (void *)cuGetExportTable, NULL},
    {"cuGetProcAddress", (void *)cuGetProcAddress_v2, NULL},
};

API int cuGetProcAddress_v2(const char *s, void **pfn, int v, unsigned long long f, int *st) {
    (void)v;
    BUMP();
    if (!s || !pfn) return 1; /* CUDA_ERROR_INVALID_VALUE */
    for (size_t i = 0; i < sizeof table / sizeof *table; i++) {
        if (strcmp(table[i].base, s) == 0) {
            *pfn = (f & STUB_PER_THREAD_FLAG) && table[i].ptsz ? table[i].ptsz : table[i].fn;
            if (st) *st = 0; /* CU_GET_PROC_ADDRESS_SUCCESS */
            return 0;
        }
    }
    *pfn = NULL;
    if (st) *st = 1; /* CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND */
    return 500;      /* CUDA_ERROR_NOT_FOUND */
}

API int cuGetProcAddress(const char *s, void **pfn, int v, unsigned long long f) {
    return cuGetProcAddress_v2(s, pfn, v, f, NULL);
}
