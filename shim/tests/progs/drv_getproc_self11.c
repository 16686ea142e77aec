/* Path: cuGetProcAddress (v1) asked for "cuGetProcAddress" at CUDA 11.3 (the 4-argument form),
 * then every lookup through the pointer it returned (an older cudart's way). */
#include "common.h"

typedef int (*gpa_t)(const char *, void **, int, unsigned long long);

static void *resolve(const struct op *op) {
    void *h = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
    gpa_t gpa = h ? (gpa_t)dlsym(h, "cuGetProcAddress") : NULL;
    void *self = NULL, *fn = NULL;
    if (!gpa || gpa("cuGetProcAddress", &self, 11030, 0) != 0 || !self) return NULL;
    if (strcmp(owner(self), "shim") != 0) {
        printf("cuGetProcAddress-self via=%s\n", owner(self));
        return NULL;
    }
    if (op->fam != DRV || ((gpa_t)self)(op->request, &fn, VERSION(op), op->flags) != 0) return NULL;
    return fn;
}
