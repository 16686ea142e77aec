/* A fake CUDA runtime (libcudart.so) for the embedded cluster's inference worker.
 *
 * It exists so that a real, dynamically linked program calls real CUDA runtime symbols that the
 * fault-injection shim (LD_PRELOAD) can interpose, on machines without a GPU. Every call succeeds
 * with plausible behaviour: device memory is host memory, kernels do nothing, one device exists.
 * It must not fail on its own: faults come only from the shim. Error names come from
 * cuda_errors.h, generated from runner/xid.py at build time (the single source of truth).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuda_errors.h"

typedef int cudaError_t;
typedef void *cudaStream_t;
typedef struct { unsigned int x, y, z; } dim3;

static __thread cudaError_t last_error = 0;
static unsigned long kernels_launched = 0;

const char *cudaGetErrorName(cudaError_t err) {
    for (size_t i = 0; i < sizeof(CHAOS_CUDA_ERRORS) / sizeof(CHAOS_CUDA_ERRORS[0]); i++) {
        if (CHAOS_CUDA_ERRORS[i].code == err) return CHAOS_CUDA_ERRORS[i].name;
    }
    return err == 0 ? "cudaSuccess" : "cudaErrorUnknown";
}

const char *cudaGetErrorString(cudaError_t err) {
    return err == 0 ? "no error" : cudaGetErrorName(err);
}

cudaError_t cudaGetLastError(void) {
    cudaError_t e = last_error;
    last_error = 0;
    return e;
}

cudaError_t cudaPeekAtLastError(void) { return last_error; }

cudaError_t cudaGetDeviceCount(int *count) {
    if (count == NULL) return 1; /* cudaErrorInvalidValue */
    *count = 1;
    return 0;
}

cudaError_t cudaGetDevice(int *device) {
    if (device == NULL) return 1;
    *device = 0;
    return 0;
}

cudaError_t cudaSetDevice(int device) { return device == 0 ? 0 : 101; /* cudaErrorInvalidDevice */ }

cudaError_t cudaDriverGetVersion(int *version) {
    if (version == NULL) return 1;
    *version = 12040;
    return 0;
}

cudaError_t cudaRuntimeGetVersion(int *version) {
    if (version == NULL) return 1;
    *version = 12040;
    return 0;
}

cudaError_t cudaMalloc(void **ptr, size_t size) {
    if (ptr == NULL) return 1;
    *ptr = malloc(size ? size : 1);
    return *ptr ? 0 : 2; /* cudaErrorMemoryAllocation */
}

cudaError_t cudaFree(void *ptr) {
    free(ptr);
    return 0;
}

cudaError_t cudaMemcpy(void *dst, const void *src, size_t count, int kind) {
    (void)kind;
    if (count && (dst == NULL || src == NULL)) return 1;
    if (count) memmove(dst, src, count);
    return 0;
}

cudaError_t cudaMemset(void *ptr, int value, size_t count) {
    if (count && ptr == NULL) return 1;
    if (count) memset(ptr, value, count);
    return 0;
}

cudaError_t cudaLaunchKernel(const void *func, dim3 grid, dim3 block, void **args, size_t shared,
                             cudaStream_t stream) {
    (void)func; (void)args; (void)shared; (void)stream;
    if (grid.x == 0 || block.x == 0) return 9; /* cudaErrorInvalidConfiguration */
    kernels_launched++;
    return 0;
}

cudaError_t cudaStreamCreate(cudaStream_t *stream) {
    if (stream == NULL) return 1;
    *stream = (cudaStream_t)&kernels_launched;
    return 0;
}

cudaError_t cudaStreamSynchronize(cudaStream_t stream) {
    (void)stream;
    return 0;
}

cudaError_t cudaStreamDestroy(cudaStream_t stream) {
    (void)stream;
    return 0;
}

cudaError_t cudaDeviceSynchronize(void) { return 0; }

cudaError_t cudaDeviceReset(void) { return 0; }
