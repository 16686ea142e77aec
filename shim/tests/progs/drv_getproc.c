/* Path: cuGetProcAddress (v1), found with dlsym on libcuda, as a static cudart does. */
#include "common.h"

typedef int (*gpa_t)(const char *, void **, int, unsigned long long);

static void *resolve(const struct op *op) {
    void *h = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
    gpa_t gpa = h ? (gpa_t)dlsym(h, "cuGetProcAddress") : NULL;
    void *fn = NULL;
    if (!gpa || op->fam != DRV || gpa(op->request, &fn, VERSION(op), op->flags) != 0) return NULL;
    return fn;
}
