/* Path: NVML's symbols called directly (the program links libnvidia-ml.so.1). */
#include "common.h"

#define NVML_SYMS(X) X(nvmlInit_v2) X(nvmlDeviceGetCount_v2) X(nvmlDeviceGetHandleByIndex_v2)
#define DECL(n) extern int n();
NVML_SYMS(DECL)

static void *resolve(const struct op *op) {
#define CASE(n) if (strcmp(op->name, #n) == 0) return (void *)n;
    NVML_SYMS(CASE)
    return NULL;
}
