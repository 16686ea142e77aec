/* Path: cudaGetDriverEntryPoint (how PyTorch reaches the driver). */
#include "common.h"

extern int cudaGetDriverEntryPoint(const char *, void **, unsigned long long, int *);

static void *resolve(const struct op *op) {
    void *fn = NULL;
    int status = -1;
    if (op->fam != DRV || cudaGetDriverEntryPoint(op->request, &fn, op->flags, &status) != 0) return NULL;
    return fn;
}
