/* Path: the runtime's symbols called directly (the program links libcudart.so). */
#include "common.h"

#define RT_SYMS(X) X(cudaGetDeviceCount) X(cudaSetDevice) X(cudaGetDeviceProperties) \
    X(cudaGetDeviceProperties_v2) X(cudaMalloc) X(cudaFree) X(cudaMemcpy) X(cudaMemcpyAsync) \
    X(cudaLaunchKernel) X(cudaGraphLaunch) X(cudaDeviceSynchronize) X(cudaStreamSynchronize) \
    X(cudaDeviceEnablePeerAccess) X(cudaGetLastError) X(cudaPeekAtLastError)
#define DECL(n) extern int n();
RT_SYMS(DECL)

static void *resolve(const struct op *op) {
#define CASE(n) if (strcmp(op->name, #n) == 0) return (void *)n;
    RT_SYMS(CASE)
    return NULL;
}
