/*
 * runtime.c - the CUDA runtime API (libcudart.so) entry points a real program calls directly.
 *
 * Why: programs linked against the shared cudart (PyTorch, most frameworks) call these symbols;
 * preloading puts ours first. Programs with the static cudart never reach this file: they are
 * caught in driver.c through cuGetProcAddress (see lookup.c).
 * Must not: include CUDA headers (types are spelled as opaque pointers and ints here) or read
 * any argument: every argument goes to the real function untouched.
 */
/* Hundreds of small wrappers: at -O1 (with tail calls, and shim.h's inline hot path inlined)
 * they build in a third of the time of -O2, with the same hot-path instructions (bench/shim). */
#ifndef __clang__ /* gcc only (the init container's build); zig cc builds `make dist` at -O2 */
#pragma GCC optimize("O1", "optimize-sibling-calls")
#endif
#include "shim.h"

typedef struct { unsigned x, y, z; } shim_dim3; /* dim3 is passed by value */
typedef void *stream_t;

/* X(class, name, params, args) is a call on the current device; D(class, name, params, args,
 * device, post) names the device it is about and a statement run after it succeeded. */
#define R(cls, name, params, args) SHIM_WRAP(SHIM_RUNTIME, cls, name, params, args)
#define RD(cls, name, params, args, dev, post) SHIM_WRAP_DEV(SHIM_RUNTIME, cls, name, params, args, dev, post)
#define RUNTIME_SYMS(X, D)                                                                          \
    D(SHIM_C_DISCOVERY, cudaGetDeviceCount, (int *count), (count), SHIM_DEV_NONE, (void)0)        \
    D(SHIM_C_DISCOVERY, cudaGetDeviceProperties, (void *prop, int dev), (prop, dev), dev, (void)0) \
    D(SHIM_C_DISCOVERY, cudaGetDeviceProperties_v2, (void *prop, int dev), (prop, dev), dev, (void)0) \
    D(SHIM_C_DISCOVERY, cudaDeviceGetAttribute, (int *v, int attr, int dev), (v, attr, dev), dev, (void)0) \
    D(SHIM_C_CONTEXT, cudaSetDevice, (int dev), (dev), dev, shim_note_runtime_device(dev))        \
    D(SHIM_C_CONTEXT, cudaInitDevice, (int dev, unsigned f1, unsigned f2), (dev, f1, f2), dev, (void)0) \
    X(SHIM_C_ALLOC, cudaFree, (void *p), (p))                                                     \
    X(SHIM_C_ALLOC, cudaMalloc, (void **p, size_t n), (p, n))                                     \
    X(SHIM_C_ALLOC, cudaMallocManaged, (void **p, size_t n, unsigned f), (p, n, f))               \
    X(SHIM_C_ALLOC, cudaMallocHost, (void **p, size_t n), (p, n))                                 \
    X(SHIM_C_ALLOC, cudaHostAlloc, (void **p, size_t n, unsigned f), (p, n, f))                   \
    X(SHIM_C_ALLOC, cudaMallocPitch, (void **p, size_t *pitch, size_t w, size_t h), (p, pitch, w, h)) \
    X(SHIM_C_ALLOC, cudaMallocAsync, (void **p, size_t n, stream_t s), (p, n, s))                 \
    X(SHIM_C_ALLOC, cudaMallocAsync_ptsz, (void **p, size_t n, stream_t s), (p, n, s))            \
    X(SHIM_C_ALLOC, cudaFreeAsync, (void *p, stream_t s), (p, s))                                 \
    X(SHIM_C_ALLOC, cudaFreeAsync_ptsz, (void *p, stream_t s), (p, s))                            \
    X(SHIM_C_ALLOC, cudaFreeHost, (void *p), (p))                                                 \
    X(SHIM_C_ALLOC, cudaMemGetInfo, (size_t *f, size_t *t), (f, t))                               \
    X(SHIM_C_ALLOC, cudaMallocFromPoolAsync, (void **p, size_t n, void *pool, stream_t s), (p, n, pool, s)) \
    X(SHIM_C_ALLOC, cudaHostRegister, (void *p, size_t n, unsigned f), (p, n, f))                 \
    X(SHIM_C_ALLOC, cudaHostUnregister, (void *p), (p))                                           \
    X(SHIM_C_MEMCPY, cudaMemcpy, (void *d, const void *s, size_t n, int k), (d, s, n, k))          \
    X(SHIM_C_MEMCPY, cudaMemcpy_ptds, (void *d, const void *s, size_t n, int k), (d, s, n, k))     \
    X(SHIM_C_MEMCPY, cudaMemcpyAsync, (void *d, const void *s, size_t n, int k, stream_t st), (d, s, n, k, st)) \
    X(SHIM_C_MEMCPY, cudaMemcpyAsync_ptsz, (void *d, const void *s, size_t n, int k, stream_t st), (d, s, n, k, st)) \
    X(SHIM_C_MEMCPY, cudaMemcpy2D, (void *d, size_t dp, const void *s, size_t sp, size_t w, size_t h, int k), (d, dp, s, sp, w, h, k)) \
    X(SHIM_C_MEMCPY, cudaMemset, (void *d, int v, size_t n), (d, v, n))                           \
    X(SHIM_C_MEMCPY, cudaMemsetAsync, (void *d, int v, size_t n, stream_t s), (d, v, n, s))       \
    X(SHIM_C_MEMCPY, cudaMemcpy2DAsync, (void *d, size_t dp, const void *s, size_t sp, size_t w, size_t h, int k, stream_t st), (d, dp, s, sp, w, h, k, st)) \
    X(SHIM_C_MEMCPY, cudaMemcpy3D, (const void *p), (p))                                          \
    X(SHIM_C_MEMCPY, cudaMemcpy3DAsync, (const void *p, stream_t s), (p, s))                      \
    X(SHIM_C_MEMCPY, cudaMemset2D, (void *d, size_t p, int v, size_t w, size_t h), (d, p, v, w, h)) \
    X(SHIM_C_MEMCPY, cudaMemset2DAsync, (void *d, size_t p, int v, size_t w, size_t h, stream_t s), (d, p, v, w, h, s)) \
    D(SHIM_C_PEER, cudaMemcpyPeer, (void *d, int dd, const void *s, int sd, size_t n), (d, dd, s, sd, n), dd, (void)0) \
    D(SHIM_C_PEER, cudaMemcpyPeerAsync, (void *d, int dd, const void *s, int sd, size_t n, stream_t st), (d, dd, s, sd, n, st), dd, (void)0) \
    X(SHIM_C_PEER, cudaDeviceEnablePeerAccess, (int peer, unsigned f), (peer, f))                 \
    D(SHIM_C_PEER, cudaDeviceCanAccessPeer, (int *can, int dev, int peer), (can, dev, peer), dev, (void)0) \
    X(SHIM_C_LAUNCH, cudaLaunchKernel, (const void *f, shim_dim3 g, shim_dim3 b, void **a, size_t sh, stream_t s), (f, g, b, a, sh, s)) \
    X(SHIM_C_LAUNCH, cudaLaunchKernel_ptsz, (const void *f, shim_dim3 g, shim_dim3 b, void **a, size_t sh, stream_t s), (f, g, b, a, sh, s)) \
    X(SHIM_C_LAUNCH, __cudaLaunchKernel, (const void *f, shim_dim3 g, shim_dim3 b, void **a, size_t sh, stream_t s), (f, g, b, a, sh, s)) \
    X(SHIM_C_LAUNCH, __cudaLaunchKernel_ptsz, (const void *f, shim_dim3 g, shim_dim3 b, void **a, size_t sh, stream_t s), (f, g, b, a, sh, s)) \
    X(SHIM_C_LAUNCH, cudaLaunchCooperativeKernel, (const void *f, shim_dim3 g, shim_dim3 b, void **a, size_t sh, stream_t s), (f, g, b, a, sh, s)) \
    X(SHIM_C_LAUNCH, cudaLaunchKernelExC, (const void *cfg, const void *f, void **a), (cfg, f, a)) \
    X(SHIM_C_LAUNCH, cudaLaunchKernelExC_ptsz, (const void *cfg, const void *f, void **a), (cfg, f, a)) \
    X(SHIM_C_LAUNCH, cudaGraphLaunch, (void *g, stream_t s), (g, s))                              \
    X(SHIM_C_LAUNCH, cudaGraphLaunch_ptsz, (void *g, stream_t s), (g, s))                         \
    X(SHIM_C_LAUNCH, cudaGraphUpload, (void *g, stream_t s), (g, s))                              \
    X(SHIM_C_LAUNCH, cudaLaunchHostFunc, (stream_t s, void *fn, void *data), (s, fn, data))       \
    X(SHIM_C_SYNC, cudaDeviceSynchronize, (void), ())                                             \
    X(SHIM_C_SYNC, cudaStreamSynchronize, (stream_t s), (s))                                      \
    X(SHIM_C_SYNC, cudaStreamSynchronize_ptsz, (stream_t s), (s))                                 \
    X(SHIM_C_SYNC, cudaEventSynchronize, (void *e), (e))                                          \
    X(SHIM_C_SYNC, cudaStreamQuery, (stream_t s), (s))                                            \
    X(SHIM_C_SYNC, cudaStreamWaitEvent, (stream_t s, void *e, unsigned f), (s, e, f))             \
    X(SHIM_C_SYNC, cudaEventRecord, (void *e, stream_t s), (e, s))                                \
    X(SHIM_C_SYNC, cudaEventQuery, (void *e), (e))                                                \
    X(SHIM_C_ERRQ, cudaGetLastError, (void), ())                                                  \
    X(SHIM_C_ERRQ, cudaPeekAtLastError, (void), ())

RUNTIME_SYMS(R, RD)

shim_sym_t *const shim_runtime_syms[] = {
#define E(cls, name, params, args) SHIM_ENTRY(name)
#define ED(cls, name, params, args, dev, post) SHIM_ENTRY(name)
    RUNTIME_SYMS(E, ED)
#undef E
#undef ED
    NULL};
