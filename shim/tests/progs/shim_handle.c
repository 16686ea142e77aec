/* Path: a symbol taken from the shim itself (dlopen of the preloaded library): lets a test call
 * a wrapper whose real function the stub does not have (the "missing real symbol" case). */
#include "common.h"

static void *resolve(const struct op *op) {
    const char *pre = getenv("LD_PRELOAD");
    char path[1024];
    if (!pre) return NULL;
    snprintf(path, sizeof path, "%s", pre);
    char *last = strrchr(path, ' ') ? strrchr(path, ' ') + 1 : strrchr(path, ':') ? strrchr(path, ':') + 1 : path;
    void *h = dlopen(last, RTLD_NOW | RTLD_NOLOAD);
    return h ? dlsym(h, op->name) : NULL;
}
