/* Path: the driver's symbols called directly (the program links libcuda.so.1). */
#include "common.h"

#define DRV_SYMS(X) X(cuInit) X(cuDeviceGet) X(cuDeviceGetCount) X(cuCtxCreate_v2) X(cuMemAlloc_v2) \
    X(cuMemFree_v2) X(cuMemcpyHtoD_v2) X(cuMemcpyDtoH_v2) X(cuLaunchKernel) X(cuLaunchKernel_ptsz) \
    X(cuLaunchKernelEx) X(cuGraphLaunch) X(cuStreamSynchronize) X(cuStreamSynchronize_ptsz) \
    X(cuCtxSynchronize) X(cuCtxEnablePeerAccess) X(cuMemcpyPeer) X(cuGetExportTable)
#define DECL(n) extern int n();
DRV_SYMS(DECL)

static void *resolve(const struct op *op) {
#define CASE(n) if (strcmp(op->name, #n) == 0) return (void *)n;
    DRV_SYMS(CASE)
    return NULL;
}
