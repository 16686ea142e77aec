/* Path: dlopen the family's library (RTLD_LOCAL, as Python and Triton do) and dlsym each name. */
#include "common.h"

static void *resolve(const struct op *op) {
    static const char *const libs[] = {"libcudart.so", "libcuda.so.1", "libnvidia-ml.so.1"};
    void *h = dlopen(libs[op->fam], RTLD_NOW | RTLD_LOCAL);
    return h ? dlsym(h, op->name) : NULL;
}
