/* Path: cudaGetDriverEntryPointByVersion (PyTorch since CUDA 12.5), the version per op. */
#include "common.h"

extern int cudaGetDriverEntryPointByVersion(const char *, void **, unsigned, unsigned long long, int *);

static void *resolve(const struct op *op) {
    void *fn = NULL;
    int status = -1;
    if (op->fam != DRV ||
        cudaGetDriverEntryPointByVersion(op->request, &fn, (unsigned)VERSION(op), op->flags, &status) != 0)
        return NULL;
    return fn;
}
