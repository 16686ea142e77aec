/* "Is CUDA loaded?" probes: dlsym(RTLD_DEFAULT, name) must answer as it would without the shim
 * (NULL before libcuda is loaded, the function once it is loaded globally). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv) {
    if (argc != 2) return 2;
    void *before = dlsym(RTLD_DEFAULT, argv[1]);
    void *h = dlopen("libcuda.so.1", RTLD_NOW | RTLD_GLOBAL);
    void *after = dlsym(RTLD_DEFAULT, argv[1]);
    Dl_info info;
    const char *where = after && dladdr(after, &info) && strstr(info.dli_fname, "cuda_intercept") ? "shim" : "real";
    printf("before=%s after=%s via=%s\n", before ? "found" : "null", after ? "found" : "null", h ? where : "none");
    return 0;
}
