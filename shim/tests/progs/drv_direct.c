/* Path: the driver's symbols called directly (the program links libcuda.so.1). */
#include "common.h"

#define DRV_SYMS(X) X(cuInit) X(cuDeviceGet) X(cuDeviceGetCount) X(cuCtxCreate_v2) X(cuMemAlloc_v2) \
    X(cuMemFree_v2) X(cuMemcpyHtoD_v2) X(cuMemcpyDtoH_v2) X(cuLaunchKernel) X(cuLaunchKernel_ptsz) \
    X(cuLaunchKernelEx) X(cuGraphLaunch) X(cuStreamSynchronize) X(cuStreamSynchronize_ptsz) \
    X(cuCtxSynchronize) X(cuCtxEnablePeerAccess) X(cuMemcpyPeer) X(cuGetExportTable) \
    X(cuMemAlloc) X(cuCtxCreate_v3) X(cuCtxCreate_v4) X(cuDeviceGetUuid) X(cuDeviceGetUuid_v2) X(cuCtxSetCurrent) \
    X(cuMemcpyDtoD_v2_ptds) X(cuMemcpy2DUnaligned_v2) X(cuMemcpy2DUnaligned_v2_ptds) X(cuMemcpy3D_v2_ptds) \
    X(cuMemsetD8_v2_ptds) X(cuMemsetD32Async_ptsz) X(cuMemsetD2D8_v2) X(cuMemcpyPeerAsync_ptsz) \
    X(cuMemAllocFromPoolAsync_ptsz) X(cuMemPrefetchAsync) X(cuMemPrefetchAsync_v2_ptsz) X(cuMemHostRegister) \
    X(cuMemHostRegister_v2) X(cuMemFreeHost) X(cuStreamWaitEvent_ptsz) X(cuEventRecord_ptsz) X(cuEventQuery) \
    X(cuLaunchHostFunc_ptsz) X(cuGraphUpload)
#define DECL(n) extern int n();
DRV_SYMS(DECL)

static void *resolve(const struct op *op) {
#define CASE(n) if (strcmp(op->name, #n) == 0) return (void *)n;
    DRV_SYMS(CASE)
    return NULL;
}
