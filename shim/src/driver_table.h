/*
 * driver_table.h - THE table of intercepted CUDA driver functions (the one place a new CUDA
 * release is added): for each base name cuGetProcAddress is asked for, every variant with its
 * first CUDA version, whether it is the per-thread default stream one, the exported name, the
 * fault class, the parameters and, for a few, the device the call is about.
 *
 * Why a header of its own: driver.c expands it into the wrappers, their table entries and the
 * variant table lookup.c resolves requests with; the test stub driver (shim/tests/stubs)
 * expands it into the functions a driver exports, so both sides of every test name the same
 * functions. tests/unit/test_shim_variants.py checks it against the real cudaTypedefs.h and
 * cuda.h; tests/integration/test_shim_recorded.py against what cudart and cuda-bindings ask for.
 * Must not: include any CUDA header, or define anything but types and the DRIVER_SYMS macro.
 */
#ifndef CUDA_INTERCEPT_DRIVER_TABLE_H
#define CUDA_INTERCEPT_DRIVER_TABLE_H

#include <stddef.h>

typedef unsigned long long dptr_t; /* CUdeviceptr (CUdeviceptr_v2) */
typedef unsigned u32;              /* CUdeviceptr_v1 and the 32-bit sizes of the CUDA 2.0 API */
typedef void *h_t;                 /* any opaque CUDA handle (context, stream, function, ...) */
typedef struct { int type, id; } loc_t; /* CUmemLocation, passed by value */

#define LAUNCH_PARAMS (h_t f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz, \
                       unsigned sh, h_t s, void **p, void **e)
#define LAUNCH_ARGS (f, gx, gy, gz, bx, by, bz, sh, s, p, e)
#define COOP_PARAMS (h_t f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz, \
                     unsigned sh, h_t s, void **p)
#define COOP_ARGS (f, gx, gy, gz, bx, by, bz, sh, s, p)
#define BATCH_PARAMS (dptr_t *d, dptr_t *s, size_t *sz, size_t n, void *at, size_t *ai, size_t na, size_t *fi, h_t st)
#define BATCH_ARGS (d, s, sz, n, at, ai, na, fi, st)
#define SET2D_PARAMS(T) (dptr_t d, size_t p, T v, size_t w, size_t h)
#define SET2DA_PARAMS(T) (dptr_t d, size_t p, T v, size_t w, size_t h, h_t s)
#define SET2D1_PARAMS(T) (u32 d, u32 p, T v, u32 w, u32 h)

#define C_DISC SHIM_C_DISCOVERY
#define C_CTX SHIM_C_CONTEXT
#define C_ALLOC SHIM_C_ALLOC
#define C_COPY SHIM_C_MEMCPY
#define C_PEER SHIM_C_PEER
#define C_LAUNCH SHIM_C_LAUNCH
#define C_SYNC SHIM_C_SYNC
#define C_STATE SHIM_C_STATE
#define NODEV SHIM_DEV_NONE
#define NOPOST (void)0

/*
 * The table. V(class, base, first version, per-thread, exported name, params, args) is a call on
 * the current device; W(... , device, post) names the device the call is about and a statement
 * run after it succeeded. Versions are those of cudaTypedefs.h (PFN_<base>_v<version>[_pt*]).
 */
#define DRIVER_SYMS(V, W)                                                                           \
    W(C_DISC, cuInit, 2000, 0, cuInit, (unsigned flags), (flags), NODEV, shim_note_init())        \
    W(C_DISC, cuDeviceGet, 2000, 0, cuDeviceGet, (int *dev, int ordinal), (dev, ordinal), ordinal, NOPOST) \
    W(C_DISC, cuDeviceGetCount, 2000, 0, cuDeviceGetCount, (int *count), (count), NODEV, NOPOST)  \
    W(C_DISC, cuDeviceGetName, 2000, 0, cuDeviceGetName, (char *name, int len, int dev), (name, len, dev), dev, NOPOST) \
    W(C_DISC, cuDeviceGetAttribute, 2000, 0, cuDeviceGetAttribute, (int *v, int attr, int dev), (v, attr, dev), dev, NOPOST) \
    W(C_DISC, cuDeviceGetUuid, 9020, 0, cuDeviceGetUuid, (void *uuid, int dev), (uuid, dev), dev, NOPOST) \
    W(C_DISC, cuDeviceGetUuid, 11040, 0, cuDeviceGetUuid_v2, (void *uuid, int dev), (uuid, dev), dev, NOPOST) \
    W(C_DISC, cuDeviceTotalMem, 2000, 0, cuDeviceTotalMem, (u32 *bytes, int dev), (bytes, dev), dev, NOPOST) \
    W(C_DISC, cuDeviceTotalMem, 3020, 0, cuDeviceTotalMem_v2, (size_t *bytes, int dev), (bytes, dev), dev, NOPOST) \
    W(C_DISC, cuDeviceComputeCapability, 2000, 0, cuDeviceComputeCapability, (int *major, int *minor, int dev), (major, minor, dev), dev, NOPOST) \
    W(C_DISC, cuDeviceGetPCIBusId, 4010, 0, cuDeviceGetPCIBusId, (char *bus, int len, int dev), (bus, len, dev), dev, NOPOST) \
    W(C_DISC, cuDeviceGetByPCIBusId, 4010, 0, cuDeviceGetByPCIBusId, (int *dev, const char *bus), (dev, bus), NODEV, NOPOST) \
    W(C_CTX, cuDevicePrimaryCtxRetain, 7000, 0, cuDevicePrimaryCtxRetain, (h_t *ctx, int dev), (ctx, dev), dev, \
      if (ctx) shim_note_ctx(*ctx, dev))                                                           \
    W(C_CTX, cuCtxCreate, 2000, 0, cuCtxCreate, (h_t *ctx, unsigned f, int dev), (ctx, f, dev), dev, \
      if (ctx) { shim_note_ctx(*ctx, dev); shim_note_push(*ctx); })                                \
    W(C_CTX, cuCtxCreate, 3020, 0, cuCtxCreate_v2, (h_t *ctx, unsigned f, int dev), (ctx, f, dev), dev, \
      if (ctx) { shim_note_ctx(*ctx, dev); shim_note_push(*ctx); })                                \
    W(C_CTX, cuCtxCreate, 11040, 0, cuCtxCreate_v3, (h_t *ctx, void *p, int n, unsigned f, int dev), (ctx, p, n, f, dev), \
      dev, if (ctx) { shim_note_ctx(*ctx, dev); shim_note_push(*ctx); })                           \
    W(C_CTX, cuCtxCreate, 12050, 0, cuCtxCreate_v4, (h_t *ctx, void *p, unsigned f, int dev), (ctx, p, f, dev), dev, \
      if (ctx) { shim_note_ctx(*ctx, dev); shim_note_push(*ctx); })                                \
    W(C_STATE, cuCtxSetCurrent, 4000, 0, cuCtxSetCurrent, (h_t ctx), (ctx), NODEV, shim_note_current(ctx)) \
    W(C_STATE, cuCtxPushCurrent, 2000, 0, cuCtxPushCurrent, (h_t ctx), (ctx), NODEV, shim_note_push(ctx)) \
    W(C_STATE, cuCtxPushCurrent, 4000, 0, cuCtxPushCurrent_v2, (h_t ctx), (ctx), NODEV, shim_note_push(ctx)) \
    W(C_STATE, cuCtxPopCurrent, 2000, 0, cuCtxPopCurrent, (h_t *ctx), (ctx), NODEV, shim_note_pop()) \
    W(C_STATE, cuCtxPopCurrent, 4000, 0, cuCtxPopCurrent_v2, (h_t *ctx), (ctx), NODEV, shim_note_pop()) \
    V(C_ALLOC, cuMemAlloc, 2000, 0, cuMemAlloc, (u32 *p, u32 n), (p, n))                          \
    V(C_ALLOC, cuMemAlloc, 3020, 0, cuMemAlloc_v2, (dptr_t *p, size_t n), (p, n))                 \
    V(C_ALLOC, cuMemAllocManaged, 6000, 0, cuMemAllocManaged, (dptr_t *p, size_t n, unsigned f), (p, n, f)) \
    V(C_ALLOC, cuMemAllocPitch, 2000, 0, cuMemAllocPitch, (u32 *p, u32 *pitch, u32 w, u32 h, unsigned e), \
      (p, pitch, w, h, e))                                                                         \
    V(C_ALLOC, cuMemAllocPitch, 3020, 0, cuMemAllocPitch_v2, (dptr_t *p, size_t *pitch, size_t w, size_t h, unsigned e), \
      (p, pitch, w, h, e))                                                                         \
    V(C_ALLOC, cuMemAllocAsync, 11020, 0, cuMemAllocAsync, (dptr_t *p, size_t n, h_t s), (p, n, s)) \
    V(C_ALLOC, cuMemAllocAsync, 11020, 1, cuMemAllocAsync_ptsz, (dptr_t *p, size_t n, h_t s), (p, n, s)) \
    V(C_ALLOC, cuMemAllocFromPoolAsync, 11020, 0, cuMemAllocFromPoolAsync, (dptr_t *p, size_t n, h_t pl, h_t s), \
      (p, n, pl, s))                                                                               \
    V(C_ALLOC, cuMemAllocFromPoolAsync, 11020, 1, cuMemAllocFromPoolAsync_ptsz, (dptr_t *p, size_t n, h_t pl, h_t s), \
      (p, n, pl, s))                                                                               \
    V(C_ALLOC, cuMemAllocHost, 2000, 0, cuMemAllocHost, (void **p, u32 n), (p, n))                \
    V(C_ALLOC, cuMemAllocHost, 3020, 0, cuMemAllocHost_v2, (void **p, size_t n), (p, n))          \
    V(C_ALLOC, cuMemHostAlloc, 2020, 0, cuMemHostAlloc, (void **p, size_t n, unsigned f), (p, n, f)) \
    V(C_ALLOC, cuMemHostRegister, 4000, 0, cuMemHostRegister, (void *p, size_t n, unsigned f), (p, n, f)) \
    V(C_ALLOC, cuMemHostRegister, 6050, 0, cuMemHostRegister_v2, (void *p, size_t n, unsigned f), (p, n, f)) \
    V(C_ALLOC, cuMemHostUnregister, 4000, 0, cuMemHostUnregister, (void *p), (p))                 \
    V(C_ALLOC, cuMemFreeHost, 2000, 0, cuMemFreeHost, (void *p), (p))                             \
    V(C_ALLOC, cuMemCreate, 10020, 0, cuMemCreate, (void *h, size_t n, const void *prop, unsigned long long f), \
      (h, n, prop, f))                                                                             \
    V(C_ALLOC, cuMemFree, 2000, 0, cuMemFree, (u32 p), (p))                                       \
    V(C_ALLOC, cuMemFree, 3020, 0, cuMemFree_v2, (dptr_t p), (p))                                 \
    V(C_ALLOC, cuMemFreeAsync, 11020, 0, cuMemFreeAsync, (dptr_t p, h_t s), (p, s))               \
    V(C_ALLOC, cuMemFreeAsync, 11020, 1, cuMemFreeAsync_ptsz, (dptr_t p, h_t s), (p, s))          \
    V(C_ALLOC, cuMemGetInfo, 2000, 0, cuMemGetInfo, (u32 *f, u32 *t), (f, t))                     \
    V(C_ALLOC, cuMemGetInfo, 3020, 0, cuMemGetInfo_v2, (size_t *f, size_t *t), (f, t))            \
    V(C_ALLOC, cuMemPrefetchAsync, 8000, 0, cuMemPrefetchAsync, (dptr_t p, size_t n, int d, h_t s), (p, n, d, s)) \
    V(C_ALLOC, cuMemPrefetchAsync, 8000, 1, cuMemPrefetchAsync_ptsz, (dptr_t p, size_t n, int d, h_t s), (p, n, d, s)) \
    V(C_ALLOC, cuMemPrefetchAsync, 12020, 0, cuMemPrefetchAsync_v2, (dptr_t p, size_t n, loc_t l, unsigned f, h_t s), \
      (p, n, l, f, s))                                                                             \
    V(C_ALLOC, cuMemPrefetchAsync, 12020, 1, cuMemPrefetchAsync_v2_ptsz, (dptr_t p, size_t n, loc_t l, unsigned f, h_t s), \
      (p, n, l, f, s))                                                                             \
    V(C_ALLOC, cuMemAddressReserve, 10020, 0, cuMemAddressReserve, (dptr_t *p, size_t n, size_t al, dptr_t a, unsigned long long f), (p, n, al, a, f)) \
    V(C_ALLOC, cuMemMap, 10020, 0, cuMemMap, (dptr_t p, size_t n, size_t off, unsigned long long h, unsigned long long f), (p, n, off, h, f)) \
    V(C_ALLOC, cuMemSetAccess, 10020, 0, cuMemSetAccess, (dptr_t p, size_t n, const void *desc, size_t c), (p, n, desc, c)) \
    V(C_COPY, cuMemcpy, 4000, 0, cuMemcpy, (dptr_t d, dptr_t s, size_t n), (d, s, n))             \
    V(C_COPY, cuMemcpy, 7000, 1, cuMemcpy_ptds, (dptr_t d, dptr_t s, size_t n), (d, s, n))        \
    V(C_COPY, cuMemcpyAsync, 4000, 0, cuMemcpyAsync, (dptr_t d, dptr_t s, size_t n, h_t st), (d, s, n, st)) \
    V(C_COPY, cuMemcpyAsync, 7000, 1, cuMemcpyAsync_ptsz, (dptr_t d, dptr_t s, size_t n, h_t st), (d, s, n, st)) \
    V(C_COPY, cuMemcpyHtoD, 2000, 0, cuMemcpyHtoD, (u32 d, const void *s, u32 n), (d, s, n))      \
    V(C_COPY, cuMemcpyHtoD, 3020, 0, cuMemcpyHtoD_v2, (dptr_t d, const void *s, size_t n), (d, s, n)) \
    V(C_COPY, cuMemcpyHtoD, 7000, 1, cuMemcpyHtoD_v2_ptds, (dptr_t d, const void *s, size_t n), (d, s, n)) \
    V(C_COPY, cuMemcpyDtoH, 2000, 0, cuMemcpyDtoH, (void *d, u32 s, u32 n), (d, s, n))            \
    V(C_COPY, cuMemcpyDtoH, 3020, 0, cuMemcpyDtoH_v2, (void *d, dptr_t s, size_t n), (d, s, n))   \
    V(C_COPY, cuMemcpyDtoH, 7000, 1, cuMemcpyDtoH_v2_ptds, (void *d, dptr_t s, size_t n), (d, s, n)) \
    V(C_COPY, cuMemcpyDtoD, 2000, 0, cuMemcpyDtoD, (u32 d, u32 s, u32 n), (d, s, n))              \
    V(C_COPY, cuMemcpyDtoD, 3020, 0, cuMemcpyDtoD_v2, (dptr_t d, dptr_t s, size_t n), (d, s, n))  \
    V(C_COPY, cuMemcpyDtoD, 7000, 1, cuMemcpyDtoD_v2_ptds, (dptr_t d, dptr_t s, size_t n), (d, s, n)) \
    V(C_COPY, cuMemcpyHtoDAsync, 2000, 0, cuMemcpyHtoDAsync, (u32 d, const void *s, u32 n, h_t st), (d, s, n, st)) \
    V(C_COPY, cuMemcpyHtoDAsync, 3020, 0, cuMemcpyHtoDAsync_v2, (dptr_t d, const void *s, size_t n, h_t st), \
      (d, s, n, st))                                                                               \
    V(C_COPY, cuMemcpyHtoDAsync, 7000, 1, cuMemcpyHtoDAsync_v2_ptsz, (dptr_t d, const void *s, size_t n, h_t st), \
      (d, s, n, st))                                                                               \
    V(C_COPY, cuMemcpyDtoHAsync, 2000, 0, cuMemcpyDtoHAsync, (void *d, u32 s, u32 n, h_t st), (d, s, n, st)) \
    V(C_COPY, cuMemcpyDtoHAsync, 3020, 0, cuMemcpyDtoHAsync_v2, (void *d, dptr_t s, size_t n, h_t st), (d, s, n, st)) \
    V(C_COPY, cuMemcpyDtoHAsync, 7000, 1, cuMemcpyDtoHAsync_v2_ptsz, (void *d, dptr_t s, size_t n, h_t st), \
      (d, s, n, st))                                                                               \
    V(C_COPY, cuMemcpyDtoDAsync, 3000, 0, cuMemcpyDtoDAsync, (u32 d, u32 s, u32 n, h_t st), (d, s, n, st)) \
    V(C_COPY, cuMemcpyDtoDAsync, 3020, 0, cuMemcpyDtoDAsync_v2, (dptr_t d, dptr_t s, size_t n, h_t st), (d, s, n, st)) \
    V(C_COPY, cuMemcpyDtoDAsync, 7000, 1, cuMemcpyDtoDAsync_v2_ptsz, (dptr_t d, dptr_t s, size_t n, h_t st), \
      (d, s, n, st))                                                                               \
    V(C_COPY, cuMemcpy2D, 2000, 0, cuMemcpy2D, (const void *p), (p))                              \
    V(C_COPY, cuMemcpy2D, 3020, 0, cuMemcpy2D_v2, (const void *p), (p))                           \
    V(C_COPY, cuMemcpy2D, 7000, 1, cuMemcpy2D_v2_ptds, (const void *p), (p))                      \
    V(C_COPY, cuMemcpy2DUnaligned, 2000, 0, cuMemcpy2DUnaligned, (const void *p), (p))            \
    V(C_COPY, cuMemcpy2DUnaligned, 3020, 0, cuMemcpy2DUnaligned_v2, (const void *p), (p))         \
    V(C_COPY, cuMemcpy2DUnaligned, 7000, 1, cuMemcpy2DUnaligned_v2_ptds, (const void *p), (p))    \
    V(C_COPY, cuMemcpy2DAsync, 2000, 0, cuMemcpy2DAsync, (const void *p, h_t s), (p, s))          \
    V(C_COPY, cuMemcpy2DAsync, 3020, 0, cuMemcpy2DAsync_v2, (const void *p, h_t s), (p, s))       \
    V(C_COPY, cuMemcpy2DAsync, 7000, 1, cuMemcpy2DAsync_v2_ptsz, (const void *p, h_t s), (p, s))  \
    V(C_COPY, cuMemcpy3D, 2000, 0, cuMemcpy3D, (const void *p), (p))                              \
    V(C_COPY, cuMemcpy3D, 3020, 0, cuMemcpy3D_v2, (const void *p), (p))                           \
    V(C_COPY, cuMemcpy3D, 7000, 1, cuMemcpy3D_v2_ptds, (const void *p), (p))                      \
    V(C_COPY, cuMemcpy3DAsync, 2000, 0, cuMemcpy3DAsync, (const void *p, h_t s), (p, s))          \
    V(C_COPY, cuMemcpy3DAsync, 3020, 0, cuMemcpy3DAsync_v2, (const void *p, h_t s), (p, s))       \
    V(C_COPY, cuMemcpy3DAsync, 7000, 1, cuMemcpy3DAsync_v2_ptsz, (const void *p, h_t s), (p, s))  \
    V(C_COPY, cuMemcpyBatchAsync, 12080, 0, cuMemcpyBatchAsync, BATCH_PARAMS, BATCH_ARGS)         \
    V(C_COPY, cuMemcpyBatchAsync, 12080, 1, cuMemcpyBatchAsync_ptsz, BATCH_PARAMS, BATCH_ARGS)    \
    V(C_COPY, cuMemcpy3DBatchAsync, 12080, 0, cuMemcpy3DBatchAsync, (size_t n, void *ops, size_t *fi, \
      unsigned long long f, h_t s), (n, ops, fi, f, s))                                            \
    V(C_COPY, cuMemcpy3DBatchAsync, 12080, 1, cuMemcpy3DBatchAsync_ptsz, (size_t n, void *ops, size_t *fi, \
      unsigned long long f, h_t s), (n, ops, fi, f, s))                                            \
    V(C_COPY, cuMemsetD8, 2000, 0, cuMemsetD8, (u32 d, unsigned char v, u32 n), (d, v, n))        \
    V(C_COPY, cuMemsetD8, 3020, 0, cuMemsetD8_v2, (dptr_t d, unsigned char v, size_t n), (d, v, n)) \
    V(C_COPY, cuMemsetD8, 7000, 1, cuMemsetD8_v2_ptds, (dptr_t d, unsigned char v, size_t n), (d, v, n)) \
    V(C_COPY, cuMemsetD16, 2000, 0, cuMemsetD16, (u32 d, unsigned short v, u32 n), (d, v, n))     \
    V(C_COPY, cuMemsetD16, 3020, 0, cuMemsetD16_v2, (dptr_t d, unsigned short v, size_t n), (d, v, n)) \
    V(C_COPY, cuMemsetD16, 7000, 1, cuMemsetD16_v2_ptds, (dptr_t d, unsigned short v, size_t n), (d, v, n)) \
    V(C_COPY, cuMemsetD32, 2000, 0, cuMemsetD32, (u32 d, unsigned v, u32 n), (d, v, n))           \
    V(C_COPY, cuMemsetD32, 3020, 0, cuMemsetD32_v2, (dptr_t d, unsigned v, size_t n), (d, v, n))  \
    V(C_COPY, cuMemsetD32, 7000, 1, cuMemsetD32_v2_ptds, (dptr_t d, unsigned v, size_t n), (d, v, n)) \
    V(C_COPY, cuMemsetD8Async, 3020, 0, cuMemsetD8Async, (dptr_t d, unsigned char v, size_t n, h_t s), (d, v, n, s)) \
    V(C_COPY, cuMemsetD8Async, 7000, 1, cuMemsetD8Async_ptsz, (dptr_t d, unsigned char v, size_t n, h_t s), \
      (d, v, n, s))                                                                                \
    V(C_COPY, cuMemsetD16Async, 3020, 0, cuMemsetD16Async, (dptr_t d, unsigned short v, size_t n, h_t s), \
      (d, v, n, s))                                                                                \
    V(C_COPY, cuMemsetD16Async, 7000, 1, cuMemsetD16Async_ptsz, (dptr_t d, unsigned short v, size_t n, h_t s), \
      (d, v, n, s))                                                                                \
    V(C_COPY, cuMemsetD32Async, 3020, 0, cuMemsetD32Async, (dptr_t d, unsigned v, size_t n, h_t s), (d, v, n, s)) \
    V(C_COPY, cuMemsetD32Async, 7000, 1, cuMemsetD32Async_ptsz, (dptr_t d, unsigned v, size_t n, h_t s), \
      (d, v, n, s))                                                                                \
    V(C_COPY, cuMemsetD2D8, 2000, 0, cuMemsetD2D8, SET2D1_PARAMS(unsigned char), (d, p, v, w, h)) \
    V(C_COPY, cuMemsetD2D8, 3020, 0, cuMemsetD2D8_v2, SET2D_PARAMS(unsigned char), (d, p, v, w, h)) \
    V(C_COPY, cuMemsetD2D8, 7000, 1, cuMemsetD2D8_v2_ptds, SET2D_PARAMS(unsigned char), (d, p, v, w, h)) \
    V(C_COPY, cuMemsetD2D16, 2000, 0, cuMemsetD2D16, SET2D1_PARAMS(unsigned short), (d, p, v, w, h)) \
    V(C_COPY, cuMemsetD2D16, 3020, 0, cuMemsetD2D16_v2, SET2D_PARAMS(unsigned short), (d, p, v, w, h)) \
    V(C_COPY, cuMemsetD2D16, 7000, 1, cuMemsetD2D16_v2_ptds, SET2D_PARAMS(unsigned short), (d, p, v, w, h)) \
    V(C_COPY, cuMemsetD2D32, 2000, 0, cuMemsetD2D32, SET2D1_PARAMS(unsigned), (d, p, v, w, h))    \
    V(C_COPY, cuMemsetD2D32, 3020, 0, cuMemsetD2D32_v2, SET2D_PARAMS(unsigned), (d, p, v, w, h))  \
    V(C_COPY, cuMemsetD2D32, 7000, 1, cuMemsetD2D32_v2_ptds, SET2D_PARAMS(unsigned), (d, p, v, w, h)) \
    V(C_COPY, cuMemsetD2D8Async, 3020, 0, cuMemsetD2D8Async, SET2DA_PARAMS(unsigned char), (d, p, v, w, h, s)) \
    V(C_COPY, cuMemsetD2D8Async, 7000, 1, cuMemsetD2D8Async_ptsz, SET2DA_PARAMS(unsigned char), (d, p, v, w, h, s)) \
    V(C_COPY, cuMemsetD2D16Async, 3020, 0, cuMemsetD2D16Async, SET2DA_PARAMS(unsigned short), (d, p, v, w, h, s)) \
    V(C_COPY, cuMemsetD2D16Async, 7000, 1, cuMemsetD2D16Async_ptsz, SET2DA_PARAMS(unsigned short), (d, p, v, w, h, s)) \
    V(C_COPY, cuMemsetD2D32Async, 3020, 0, cuMemsetD2D32Async, SET2DA_PARAMS(unsigned), (d, p, v, w, h, s)) \
    V(C_COPY, cuMemsetD2D32Async, 7000, 1, cuMemsetD2D32Async_ptsz, SET2DA_PARAMS(unsigned), (d, p, v, w, h, s)) \
    V(C_COPY, cuMemcpyAtoA, 2000, 0, cuMemcpyAtoA, (h_t d, u32 doff, h_t s, u32 soff, u32 n), (d, doff, s, soff, n)) \
    V(C_COPY, cuMemcpyAtoA, 3020, 0, cuMemcpyAtoA_v2, (h_t d, size_t doff, h_t s, size_t soff, size_t n), (d, doff, s, soff, n)) \
    V(C_COPY, cuMemcpyAtoA, 7000, 1, cuMemcpyAtoA_v2_ptds, (h_t d, size_t doff, h_t s, size_t soff, size_t n), (d, doff, s, soff, n)) \
    V(C_COPY, cuMemcpyAtoD, 2000, 0, cuMemcpyAtoD, (u32 d, h_t s, u32 soff, u32 n), (d, s, soff, n)) \
    V(C_COPY, cuMemcpyAtoD, 3020, 0, cuMemcpyAtoD_v2, (dptr_t d, h_t s, size_t soff, size_t n), (d, s, soff, n)) \
    V(C_COPY, cuMemcpyAtoD, 7000, 1, cuMemcpyAtoD_v2_ptds, (dptr_t d, h_t s, size_t soff, size_t n), (d, s, soff, n)) \
    V(C_COPY, cuMemcpyAtoH, 2000, 0, cuMemcpyAtoH, (void *d, h_t s, u32 soff, u32 n), (d, s, soff, n)) \
    V(C_COPY, cuMemcpyAtoH, 3020, 0, cuMemcpyAtoH_v2, (void *d, h_t s, size_t soff, size_t n), (d, s, soff, n)) \
    V(C_COPY, cuMemcpyAtoH, 7000, 1, cuMemcpyAtoH_v2_ptds, (void *d, h_t s, size_t soff, size_t n), (d, s, soff, n)) \
    V(C_COPY, cuMemcpyAtoHAsync, 2000, 0, cuMemcpyAtoHAsync, (void *d, h_t s, u32 soff, u32 n, h_t st), (d, s, soff, n, st)) \
    V(C_COPY, cuMemcpyAtoHAsync, 3020, 0, cuMemcpyAtoHAsync_v2, (void *d, h_t s, size_t soff, size_t n, h_t st), (d, s, soff, n, st)) \
    V(C_COPY, cuMemcpyAtoHAsync, 7000, 1, cuMemcpyAtoHAsync_v2_ptsz, (void *d, h_t s, size_t soff, size_t n, h_t st), (d, s, soff, n, st)) \
    V(C_COPY, cuMemcpyDtoA, 2000, 0, cuMemcpyDtoA, (h_t d, u32 doff, u32 s, u32 n), (d, doff, s, n)) \
    V(C_COPY, cuMemcpyDtoA, 3020, 0, cuMemcpyDtoA_v2, (h_t d, size_t doff, dptr_t s, size_t n), (d, doff, s, n)) \
    V(C_COPY, cuMemcpyDtoA, 7000, 1, cuMemcpyDtoA_v2_ptds, (h_t d, size_t doff, dptr_t s, size_t n), (d, doff, s, n)) \
    V(C_COPY, cuMemcpyHtoA, 2000, 0, cuMemcpyHtoA, (h_t d, u32 doff, const void *s, u32 n), (d, doff, s, n)) \
    V(C_COPY, cuMemcpyHtoA, 3020, 0, cuMemcpyHtoA_v2, (h_t d, size_t doff, const void *s, size_t n), (d, doff, s, n)) \
    V(C_COPY, cuMemcpyHtoA, 7000, 1, cuMemcpyHtoA_v2_ptds, (h_t d, size_t doff, const void *s, size_t n), (d, doff, s, n)) \
    V(C_COPY, cuMemcpyHtoAAsync, 2000, 0, cuMemcpyHtoAAsync, (h_t d, u32 doff, const void *s, u32 n, h_t st), (d, doff, s, n, st)) \
    V(C_COPY, cuMemcpyHtoAAsync, 3020, 0, cuMemcpyHtoAAsync_v2, (h_t d, size_t doff, const void *s, size_t n, h_t st), (d, doff, s, n, st)) \
    V(C_COPY, cuMemcpyHtoAAsync, 7000, 1, cuMemcpyHtoAAsync_v2_ptsz, (h_t d, size_t doff, const void *s, size_t n, h_t st), (d, doff, s, n, st)) \
    V(C_SYNC, cuStreamWaitValue32, 8000, 0, cuStreamWaitValue32, (h_t s, dptr_t a, unsigned v, unsigned f), (s, a, v, f)) \
    V(C_SYNC, cuStreamWaitValue32, 8000, 1, cuStreamWaitValue32_ptsz, (h_t s, dptr_t a, unsigned v, unsigned f), (s, a, v, f)) \
    V(C_SYNC, cuStreamWaitValue32, 11070, 0, cuStreamWaitValue32_v2, (h_t s, dptr_t a, unsigned v, unsigned f), (s, a, v, f)) \
    V(C_SYNC, cuStreamWaitValue32, 11070, 1, cuStreamWaitValue32_v2_ptsz, (h_t s, dptr_t a, unsigned v, unsigned f), (s, a, v, f)) \
    V(C_SYNC, cuStreamWaitValue64, 9000, 0, cuStreamWaitValue64, (h_t s, dptr_t a, unsigned long long v, unsigned f), (s, a, v, f)) \
    V(C_SYNC, cuStreamWaitValue64, 9000, 1, cuStreamWaitValue64_ptsz, (h_t s, dptr_t a, unsigned long long v, unsigned f), (s, a, v, f)) \
    V(C_SYNC, cuStreamWaitValue64, 11070, 0, cuStreamWaitValue64_v2, (h_t s, dptr_t a, unsigned long long v, unsigned f), (s, a, v, f)) \
    V(C_SYNC, cuStreamWaitValue64, 11070, 1, cuStreamWaitValue64_v2_ptsz, (h_t s, dptr_t a, unsigned long long v, unsigned f), (s, a, v, f)) \
    V(C_COPY, cuStreamWriteValue32, 8000, 0, cuStreamWriteValue32, (h_t s, dptr_t a, unsigned v, unsigned f), (s, a, v, f)) \
    V(C_COPY, cuStreamWriteValue32, 8000, 1, cuStreamWriteValue32_ptsz, (h_t s, dptr_t a, unsigned v, unsigned f), (s, a, v, f)) \
    V(C_COPY, cuStreamWriteValue32, 11070, 0, cuStreamWriteValue32_v2, (h_t s, dptr_t a, unsigned v, unsigned f), (s, a, v, f)) \
    V(C_COPY, cuStreamWriteValue32, 11070, 1, cuStreamWriteValue32_v2_ptsz, (h_t s, dptr_t a, unsigned v, unsigned f), (s, a, v, f)) \
    V(C_COPY, cuStreamWriteValue64, 9000, 0, cuStreamWriteValue64, (h_t s, dptr_t a, unsigned long long v, unsigned f), (s, a, v, f)) \
    V(C_COPY, cuStreamWriteValue64, 9000, 1, cuStreamWriteValue64_ptsz, (h_t s, dptr_t a, unsigned long long v, unsigned f), (s, a, v, f)) \
    V(C_COPY, cuStreamWriteValue64, 11070, 0, cuStreamWriteValue64_v2, (h_t s, dptr_t a, unsigned long long v, unsigned f), (s, a, v, f)) \
    V(C_COPY, cuStreamWriteValue64, 11070, 1, cuStreamWriteValue64_v2_ptsz, (h_t s, dptr_t a, unsigned long long v, unsigned f), (s, a, v, f)) \
    V(C_SYNC, cuStreamBatchMemOp, 8000, 0, cuStreamBatchMemOp, (h_t s, unsigned n, void *ops, unsigned f), (s, n, ops, f)) \
    V(C_SYNC, cuStreamBatchMemOp, 8000, 1, cuStreamBatchMemOp_ptsz, (h_t s, unsigned n, void *ops, unsigned f), (s, n, ops, f)) \
    V(C_SYNC, cuStreamBatchMemOp, 11070, 0, cuStreamBatchMemOp_v2, (h_t s, unsigned n, void *ops, unsigned f), (s, n, ops, f)) \
    V(C_SYNC, cuStreamBatchMemOp, 11070, 1, cuStreamBatchMemOp_v2_ptsz, (h_t s, unsigned n, void *ops, unsigned f), (s, n, ops, f)) \
    V(C_PEER, cuCtxEnablePeerAccess, 4000, 0, cuCtxEnablePeerAccess, (h_t ctx, unsigned f), (ctx, f)) \
    W(C_PEER, cuDeviceCanAccessPeer, 4000, 0, cuDeviceCanAccessPeer, (int *can, int dev, int peer), (can, dev, peer), \
      dev, NOPOST)                                                                                 \
    V(C_PEER, cuMemcpyPeer, 4000, 0, cuMemcpyPeer, (dptr_t d, h_t dc, dptr_t s, h_t sc, size_t n), (d, dc, s, sc, n)) \
    V(C_PEER, cuMemcpyPeer, 7000, 1, cuMemcpyPeer_ptds, (dptr_t d, h_t dc, dptr_t s, h_t sc, size_t n), \
      (d, dc, s, sc, n))                                                                           \
    V(C_PEER, cuMemcpyPeerAsync, 4000, 0, cuMemcpyPeerAsync, (dptr_t d, h_t dc, dptr_t s, h_t sc, size_t n, h_t st), \
      (d, dc, s, sc, n, st))                                                                       \
    V(C_PEER, cuMemcpyPeerAsync, 7000, 1, cuMemcpyPeerAsync_ptsz, (dptr_t d, h_t dc, dptr_t s, h_t sc, size_t n, \
      h_t st), (d, dc, s, sc, n, st))                                                              \
    V(C_PEER, cuMemcpy3DPeer, 4000, 0, cuMemcpy3DPeer, (const void *p), (p))                      \
    V(C_PEER, cuMemcpy3DPeer, 7000, 1, cuMemcpy3DPeer_ptds, (const void *p), (p))                 \
    V(C_PEER, cuMemcpy3DPeerAsync, 4000, 0, cuMemcpy3DPeerAsync, (const void *p, h_t s), (p, s))  \
    V(C_PEER, cuMemcpy3DPeerAsync, 7000, 1, cuMemcpy3DPeerAsync_ptsz, (const void *p, h_t s), (p, s)) \
    V(C_LAUNCH, cuLaunchKernel, 4000, 0, cuLaunchKernel, LAUNCH_PARAMS, LAUNCH_ARGS)              \
    V(C_LAUNCH, cuLaunchKernel, 7000, 1, cuLaunchKernel_ptsz, LAUNCH_PARAMS, LAUNCH_ARGS)         \
    V(C_LAUNCH, cuLaunchCooperativeKernel, 9000, 0, cuLaunchCooperativeKernel, COOP_PARAMS, COOP_ARGS) \
    V(C_LAUNCH, cuLaunchCooperativeKernel, 9000, 1, cuLaunchCooperativeKernel_ptsz, COOP_PARAMS, COOP_ARGS) \
    V(C_LAUNCH, cuLaunchKernelEx, 11060, 0, cuLaunchKernelEx, (const void *cfg, h_t f, void **p, void **e), \
      (cfg, f, p, e))                                                                              \
    V(C_LAUNCH, cuLaunchKernelEx, 11060, 1, cuLaunchKernelEx_ptsz, (const void *cfg, h_t f, void **p, void **e), \
      (cfg, f, p, e))                                                                              \
    V(C_LAUNCH, cuLaunchHostFunc, 10000, 0, cuLaunchHostFunc, (h_t s, void *fn, void *data), (s, fn, data)) \
    V(C_LAUNCH, cuLaunchHostFunc, 10000, 1, cuLaunchHostFunc_ptsz, (h_t s, void *fn, void *data), (s, fn, data)) \
    V(C_LAUNCH, cuGraphLaunch, 10000, 0, cuGraphLaunch, (h_t g, h_t s), (g, s))                   \
    V(C_LAUNCH, cuGraphLaunch, 10000, 1, cuGraphLaunch_ptsz, (h_t g, h_t s), (g, s))              \
    V(C_LAUNCH, cuGraphUpload, 11010, 0, cuGraphUpload, (h_t g, h_t s), (g, s))                   \
    V(C_LAUNCH, cuGraphUpload, 11010, 1, cuGraphUpload_ptsz, (h_t g, h_t s), (g, s))              \
    V(C_LAUNCH, cuLaunch, 2000, 0, cuLaunch, (h_t f), (f)) \
    V(C_LAUNCH, cuLaunchGrid, 2000, 0, cuLaunchGrid, (h_t f, int w, int h), (f, w, h)) \
    V(C_LAUNCH, cuLaunchGridAsync, 2000, 0, cuLaunchGridAsync, (h_t f, int w, int h, h_t s), (f, w, h, s)) \
    V(C_LAUNCH, cuLaunchCooperativeKernelMultiDevice, 9000, 0, cuLaunchCooperativeKernelMultiDevice, (void *l, unsigned n, unsigned f), (l, n, f)) \
    V(C_LAUNCH, cuStreamAddCallback, 5000, 0, cuStreamAddCallback, (h_t s, void *cb, void *data, unsigned f), (s, cb, data, f)) \
    V(C_LAUNCH, cuStreamAddCallback, 7000, 1, cuStreamAddCallback_ptsz, (h_t s, void *cb, void *data, unsigned f), (s, cb, data, f)) \
    V(C_SYNC, cuCtxSynchronize, 2000, 0, cuCtxSynchronize, (void), ())                            \
    V(C_SYNC, cuCtxSynchronize, 13000, 0, cuCtxSynchronize_v2, (h_t ctx), (ctx))                  \
    V(C_SYNC, cuStreamSynchronize, 2000, 0, cuStreamSynchronize, (h_t s), (s))                    \
    V(C_SYNC, cuStreamSynchronize, 7000, 1, cuStreamSynchronize_ptsz, (h_t s), (s))               \
    V(C_SYNC, cuStreamQuery, 2000, 0, cuStreamQuery, (h_t s), (s))                                \
    V(C_SYNC, cuStreamQuery, 7000, 1, cuStreamQuery_ptsz, (h_t s), (s))                           \
    V(C_SYNC, cuStreamWaitEvent, 3020, 0, cuStreamWaitEvent, (h_t s, h_t e, unsigned f), (s, e, f)) \
    V(C_SYNC, cuStreamWaitEvent, 7000, 1, cuStreamWaitEvent_ptsz, (h_t s, h_t e, unsigned f), (s, e, f)) \
    V(C_SYNC, cuEventRecord, 2000, 0, cuEventRecord, (h_t e, h_t s), (e, s))                      \
    V(C_SYNC, cuEventRecord, 7000, 1, cuEventRecord_ptsz, (h_t e, h_t s), (e, s))                 \
    V(C_SYNC, cuEventRecordWithFlags, 11010, 0, cuEventRecordWithFlags, (h_t e, h_t s, unsigned f), (e, s, f)) \
    V(C_SYNC, cuEventRecordWithFlags, 11010, 1, cuEventRecordWithFlags_ptsz, (h_t e, h_t s, unsigned f), (e, s, f)) \
    V(C_SYNC, cuEventQuery, 2000, 0, cuEventQuery, (h_t e), (e))                                  \
    V(C_SYNC, cuEventSynchronize, 2000, 0, cuEventSynchronize, (h_t e), (e))

#endif
