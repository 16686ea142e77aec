/* Stub CUDA runtime (libcudart.so) for tests and the stub worker; contract in stub.h. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "stub.h"

#define API __attribute__((visibility("default")))
typedef struct { unsigned x, y, z; } dim3_t;
typedef void *st_t;

API long cudart_stub_calls;
#define BUMP() __atomic_add_fetch(&cudart_stub_calls, 1, __ATOMIC_RELAXED)
#define OK(decl) API int decl { BUMP(); return 0; }

/* devices: STUB_CUDA_DEVICES (default 4), as the stub driver's; the current one per thread */
static int device_count(void) {
    const char *v = getenv("STUB_CUDA_DEVICES");
    int n = v && *v ? atoi(v) : STUB_DEVICE_COUNT;
    return n < 0 ? 0 : n;
}
static __thread int t_device;
API int cudaGetDeviceCount(int *c) { BUMP(); if (c) *c = device_count(); return 0; }
API int cudaSetDevice(int d) {
    BUMP();
    if (d < 0 || d >= device_count()) return 101; /* cudaErrorInvalidDevice */
    t_device = d;
    return 0;
}
API int cudaGetDevice(int *d) { BUMP(); if (d) *d = t_device; return 0; }
OK(cudaInitDevice(int d, unsigned a, unsigned b))
API int cudaDeviceGetAttribute(int *v, int a, int d) { (void)a; (void)d; BUMP(); if (v) *v = 7; return 0; }
API int cudaGetDeviceProperties(void *p, int d) { (void)d; BUMP(); if (p) memcpy(p, "stub-gpu", 9); return 0; }
API int cudaGetDeviceProperties_v2(void *p, int d) { (void)d; BUMP(); if (p) memcpy(p, "stub-gpu", 9); return 0; }
API int cudaMalloc(void **p, size_t n) { (void)n; BUMP(); if (p) *p = (void *)STUB_DEVICE_PTR; return 0; }
API int cudaMallocManaged(void **p, size_t n, unsigned f) { (void)n; (void)f; BUMP(); if (p) *p = (void *)STUB_DEVICE_PTR; return 0; }
API int cudaMallocHost(void **p, size_t n) { (void)n; BUMP(); if (p) *p = (void *)STUB_DEVICE_PTR; return 0; }
API int cudaHostAlloc(void **p, size_t n, unsigned f) { (void)n; (void)f; BUMP(); if (p) *p = (void *)STUB_DEVICE_PTR; return 0; }
API int cudaMallocAsync(void **p, size_t n, st_t s) { (void)n; (void)s; BUMP(); if (p) *p = (void *)STUB_DEVICE_PTR; return 0; }
OK(cudaFree(void *p))
OK(cudaFreeAsync(void *p, st_t s))
OK(cudaFreeHost(void *p))
API int cudaMemGetInfo(size_t *f, size_t *t) { BUMP(); if (f) *f = 1ull << 30; if (t) *t = 2ull << 30; return 0; }
OK(cudaMemcpy(void *d, const void *s, size_t n, int k))
OK(cudaMemcpyAsync(void *d, const void *s, size_t n, int k, st_t st))
OK(cudaMemset(void *d, int v, size_t n))
OK(cudaMemsetAsync(void *d, int v, size_t n, st_t s))
OK(cudaMemcpyPeer(void *d, int dd, const void *s, int sd, size_t n))
OK(cudaLaunchKernel(const void *f, dim3_t g, dim3_t b, void **a, size_t sh, st_t s))
OK(cudaLaunchCooperativeKernel(const void *f, dim3_t g, dim3_t b, void **a, size_t sh, st_t s))
OK(cudaLaunchKernelExC(const void *c, const void *f, void **a))
OK(cudaGraphLaunch(void *g, st_t s))
OK(cudaDeviceSynchronize(void))
OK(cudaStreamSynchronize(st_t s))
OK(cudaEventSynchronize(void *e))
OK(cudaStreamQuery(st_t s))
OK(cudaDeviceEnablePeerAccess(int p, unsigned f))
API int cudaDeviceCanAccessPeer(int *c, int d, int p) { (void)d; (void)p; BUMP(); if (c) *c = 1; return 0; }
OK(cudaGetLastError(void))
OK(cudaPeekAtLastError(void))

/* Like the real cudart: reach the driver through cuGetProcAddress_v2 found by dlsym. */
API int cudaGetDriverEntryPoint(const char *sym, void **fn, unsigned long long flags, int *status) {
    typedef int (*gpa_t)(const char *, void **, int, unsigned long long, int *);
    BUMP();
    void *h = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
    gpa_t gpa = h ? (gpa_t)dlsym(h, "cuGetProcAddress_v2") : NULL;
    if (!gpa) return 500; /* cudaErrorSymbolNotFound */
    return gpa(sym, fn, 12000, flags, status);
}

API int cudaGetDriverEntryPointByVersion(const char *sym, void **fn, unsigned ver, unsigned long long flags,
                                         int *status) {
    typedef int (*gpa_t)(const char *, void **, int, unsigned long long, int *);
    BUMP();
    void *h = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
    gpa_t gpa = h ? (gpa_t)dlsym(h, "cuGetProcAddress_v2") : NULL;
    if (!gpa) return 500;
    return gpa(sym, fn, (int)ver, flags, status);
}
