/* Path: cuGetProcAddress_v2, and the pointer it gives when asked for "cuGetProcAddress" itself
 * (cudart re-resolves the lookup function through itself; that one must be ours too). */
#include "common.h"

typedef int (*gpa2_t)(const char *, void **, int, unsigned long long, int *);

static void *resolve(const struct op *op) {
    void *h = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
    gpa2_t gpa = h ? (gpa2_t)dlsym(h, "cuGetProcAddress_v2") : NULL;
    void *self = NULL, *fn = NULL;
    int status = -1;
    if (!gpa || gpa("cuGetProcAddress", &self, 12000, 0, &status) != 0 || !self) return NULL;
    if (strcmp(owner(self), "shim") != 0) {
        printf("cuGetProcAddress-self via=%s\n", owner(self));
        return NULL;
    }
    if (op->fam != DRV || ((gpa2_t)self)(op->request, &fn, VERSION(op), op->flags, &status) != 0) return NULL;
    return fn;
}
