/*
 * driver.c - the CUDA driver API (libcuda.so.1) entry points.
 *
 * Why: programs reach the driver three ways: by linking libcuda directly, through dlsym (Triton
 * and friends dlopen libcuda), and through cuGetProcAddress (every cudart since CUDA 11.3,
 * static or shared). All three end at these wrappers; lookup.c swaps the pointers.
 * Names are the exported, versioned symbols (cuMemAlloc_v2, cuStreamSynchronize_ptsz, ...):
 * cuGetProcAddress hands out those functions, and the swap matches them by address.
 * Must not: call cuInit or anything else on its own, or read any argument.
 */
#include "shim.h"

typedef unsigned long long dptr_t; /* CUdeviceptr */
typedef void *h_t;                 /* any opaque CUDA handle (context, stream, function, ...) */

#define D(cls, name, params, args) SHIM_WRAP(SHIM_DRIVER, cls, name, params, args)
#define LAUNCH_PARAMS (h_t f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz, \
                       unsigned sh, h_t s, void **p, void **e)
#define LAUNCH_ARGS (f, gx, gy, gz, bx, by, bz, sh, s, p, e)
#define COOP_PARAMS (h_t f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz, \
                     unsigned sh, h_t s, void **p)
#define COOP_ARGS (f, gx, gy, gz, bx, by, bz, sh, s, p)

#define DRIVER_SYMS(X)                                                                              \
    X(SHIM_C_DISCOVERY, cuInit, (unsigned flags), (flags))                                        \
    X(SHIM_C_DISCOVERY, cuDeviceGet, (int *dev, int ordinal), (dev, ordinal))                     \
    X(SHIM_C_DISCOVERY, cuDeviceGetCount, (int *count), (count))                                  \
    X(SHIM_C_DISCOVERY, cuDeviceGetName, (char *name, int len, int dev), (name, len, dev))        \
    X(SHIM_C_DISCOVERY, cuDeviceGetAttribute, (int *v, int attr, int dev), (v, attr, dev))        \
    X(SHIM_C_DISCOVERY, cuDeviceGetUuid, (void *uuid, int dev), (uuid, dev))                      \
    X(SHIM_C_DISCOVERY, cuDeviceGetUuid_v2, (void *uuid, int dev), (uuid, dev))                   \
    X(SHIM_C_DISCOVERY, cuDeviceTotalMem_v2, (size_t *bytes, int dev), (bytes, dev))              \
    X(SHIM_C_CONTEXT, cuDevicePrimaryCtxRetain, (h_t *ctx, int dev), (ctx, dev))                  \
    X(SHIM_C_CONTEXT, cuCtxCreate, (h_t *ctx, unsigned f, int dev), (ctx, f, dev))                \
    X(SHIM_C_CONTEXT, cuCtxCreate_v2, (h_t *ctx, unsigned f, int dev), (ctx, f, dev))             \
    X(SHIM_C_CONTEXT, cuCtxCreate_v3, (h_t *ctx, void *p, int n, unsigned f, int dev), (ctx, p, n, f, dev)) \
    X(SHIM_C_CONTEXT, cuCtxCreate_v4, (h_t *ctx, void *p, unsigned f, int dev), (ctx, p, f, dev)) \
    X(SHIM_C_ALLOC, cuMemAlloc, (unsigned *p, unsigned n), (p, n))                                \
    X(SHIM_C_ALLOC, cuMemAlloc_v2, (dptr_t *p, size_t n), (p, n))                                 \
    X(SHIM_C_ALLOC, cuMemAllocManaged, (dptr_t *p, size_t n, unsigned f), (p, n, f))              \
    X(SHIM_C_ALLOC, cuMemAllocPitch_v2, (dptr_t *p, size_t *pitch, size_t w, size_t h, unsigned e), (p, pitch, w, h, e)) \
    X(SHIM_C_ALLOC, cuMemAllocAsync, (dptr_t *p, size_t n, h_t s), (p, n, s))                     \
    X(SHIM_C_ALLOC, cuMemAllocAsync_ptsz, (dptr_t *p, size_t n, h_t s), (p, n, s))                \
    X(SHIM_C_ALLOC, cuMemAllocHost_v2, (void **p, size_t n), (p, n))                              \
    X(SHIM_C_ALLOC, cuMemHostAlloc, (void **p, size_t n, unsigned f), (p, n, f))                  \
    X(SHIM_C_ALLOC, cuMemCreate, (void *h, size_t n, const void *prop, unsigned long long f), (h, n, prop, f)) \
    X(SHIM_C_ALLOC, cuMemFree_v2, (dptr_t p), (p))                                                \
    X(SHIM_C_ALLOC, cuMemFreeAsync, (dptr_t p, h_t s), (p, s))                                    \
    X(SHIM_C_ALLOC, cuMemFreeAsync_ptsz, (dptr_t p, h_t s), (p, s))                               \
    X(SHIM_C_ALLOC, cuMemGetInfo_v2, (size_t *f, size_t *t), (f, t))                              \
    X(SHIM_C_MEMCPY, cuMemcpy, (dptr_t d, dptr_t s, size_t n), (d, s, n))                         \
    X(SHIM_C_MEMCPY, cuMemcpy_ptds, (dptr_t d, dptr_t s, size_t n), (d, s, n))                    \
    X(SHIM_C_MEMCPY, cuMemcpyAsync, (dptr_t d, dptr_t s, size_t n, h_t st), (d, s, n, st))        \
    X(SHIM_C_MEMCPY, cuMemcpyAsync_ptsz, (dptr_t d, dptr_t s, size_t n, h_t st), (d, s, n, st))   \
    X(SHIM_C_MEMCPY, cuMemcpyHtoD_v2, (dptr_t d, const void *s, size_t n), (d, s, n))             \
    X(SHIM_C_MEMCPY, cuMemcpyHtoD_v2_ptds, (dptr_t d, const void *s, size_t n), (d, s, n))        \
    X(SHIM_C_MEMCPY, cuMemcpyDtoH_v2, (void *d, dptr_t s, size_t n), (d, s, n))                   \
    X(SHIM_C_MEMCPY, cuMemcpyDtoH_v2_ptds, (void *d, dptr_t s, size_t n), (d, s, n))              \
    X(SHIM_C_MEMCPY, cuMemcpyDtoD_v2, (dptr_t d, dptr_t s, size_t n), (d, s, n))                  \
    X(SHIM_C_MEMCPY, cuMemcpyHtoDAsync_v2, (dptr_t d, const void *s, size_t n, h_t st), (d, s, n, st)) \
    X(SHIM_C_MEMCPY, cuMemcpyHtoDAsync_v2_ptsz, (dptr_t d, const void *s, size_t n, h_t st), (d, s, n, st)) \
    X(SHIM_C_MEMCPY, cuMemcpyDtoHAsync_v2, (void *d, dptr_t s, size_t n, h_t st), (d, s, n, st))  \
    X(SHIM_C_MEMCPY, cuMemcpyDtoHAsync_v2_ptsz, (void *d, dptr_t s, size_t n, h_t st), (d, s, n, st)) \
    X(SHIM_C_MEMCPY, cuMemcpyDtoDAsync_v2, (dptr_t d, dptr_t s, size_t n, h_t st), (d, s, n, st)) \
    X(SHIM_C_MEMCPY, cuMemsetD8_v2, (dptr_t d, unsigned char v, size_t n), (d, v, n))             \
    X(SHIM_C_MEMCPY, cuMemsetD32_v2, (dptr_t d, unsigned v, size_t n), (d, v, n))                 \
    X(SHIM_C_MEMCPY, cuMemsetD8Async, (dptr_t d, unsigned char v, size_t n, h_t s), (d, v, n, s)) \
    X(SHIM_C_MEMCPY, cuMemsetD32Async, (dptr_t d, unsigned v, size_t n, h_t s), (d, v, n, s))     \
    X(SHIM_C_PEER, cuCtxEnablePeerAccess, (h_t ctx, unsigned f), (ctx, f))                        \
    X(SHIM_C_PEER, cuDeviceCanAccessPeer, (int *can, int dev, int peer), (can, dev, peer))        \
    X(SHIM_C_PEER, cuMemcpyPeer, (dptr_t d, h_t dc, dptr_t s, h_t sc, size_t n), (d, dc, s, sc, n)) \
    X(SHIM_C_PEER, cuMemcpyPeerAsync, (dptr_t d, h_t dc, dptr_t s, h_t sc, size_t n, h_t st), (d, dc, s, sc, n, st)) \
    X(SHIM_C_LAUNCH, cuLaunchKernel, LAUNCH_PARAMS, LAUNCH_ARGS)                                  \
    X(SHIM_C_LAUNCH, cuLaunchKernel_ptsz, LAUNCH_PARAMS, LAUNCH_ARGS)                             \
    X(SHIM_C_LAUNCH, cuLaunchCooperativeKernel, COOP_PARAMS, COOP_ARGS)                           \
    X(SHIM_C_LAUNCH, cuLaunchCooperativeKernel_ptsz, COOP_PARAMS, COOP_ARGS)                      \
    X(SHIM_C_LAUNCH, cuLaunchKernelEx, (const void *cfg, h_t f, void **p, void **e), (cfg, f, p, e)) \
    X(SHIM_C_LAUNCH, cuLaunchKernelEx_ptsz, (const void *cfg, h_t f, void **p, void **e), (cfg, f, p, e)) \
    X(SHIM_C_LAUNCH, cuGraphLaunch, (h_t g, h_t s), (g, s))                                       \
    X(SHIM_C_LAUNCH, cuGraphLaunch_ptsz, (h_t g, h_t s), (g, s))                                  \
    X(SHIM_C_SYNC, cuCtxSynchronize, (void), ())                                                  \
    X(SHIM_C_SYNC, cuCtxSynchronize_v2, (h_t ctx), (ctx))                                         \
    X(SHIM_C_SYNC, cuStreamSynchronize, (h_t s), (s))                                             \
    X(SHIM_C_SYNC, cuStreamSynchronize_ptsz, (h_t s), (s))                                        \
    X(SHIM_C_SYNC, cuStreamQuery, (h_t s), (s))                                                   \
    X(SHIM_C_SYNC, cuStreamQuery_ptsz, (h_t s), (s))                                              \
    X(SHIM_C_SYNC, cuEventSynchronize, (h_t e), (e))

DRIVER_SYMS(D)

shim_sym_t *const shim_driver_syms[] = {
#define E(cls, name, params, args) SHIM_ENTRY(name)
    DRIVER_SYMS(E)
#undef E
    NULL};
