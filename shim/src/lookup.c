/*
 * lookup.c - the ways a program asks for a function pointer instead of calling a symbol:
 * dlsym, cuGetProcAddress / cuGetProcAddress_v2 (how every cudart since CUDA 11.3, static or
 * shared, reaches the driver) and cudaGetDriverEntryPoint* (how PyTorch reaches the driver).
 *
 * Why: without these, a program that looks its functions up would bypass every wrapper.
 * Each asks the real lookup first and only then swaps the answer for our wrapper of the same
 * function, so versions, per-thread-stream variants and failures stay the real library's.
 * Must not: touch cuGetExportTable (passed through untouched: it is not ours), start the fault
 * state for names that are not CUDA's (dlsym is called by every program), or fail a lookup.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <string.h>

#include "shim.h"

typedef unsigned long long u64;

SHIM_NO_SANITIZE static int is_cuda_name(const char *name) {
    return name && ((name[0] == 'c' && name[1] == 'u') || (name[0] == '_' && name[1] == '_' && name[2] == 'c') ||
                    strncmp(name, "nvml", 4) == 0);
}

SHIM_NO_SANITIZE SHIM_EXPORT void *dlsym(void *handle, const char *name) {
    if (handle == RTLD_NEXT || !is_cuda_name(name)) return shim_real_dlsym(handle, name);
    void *p = shim_real_dlsym(handle, name);
    if (!p) return p;
    if (shim_is_ours(p)) {
        if (handle != RTLD_DEFAULT) return p; /* a handle to this library itself */
        /* RTLD_DEFAULT found our export: answer only if the real library is there behind us,
         * so "is CUDA loaded?" probes keep their answer. */
        void *next = shim_real_dlsym(RTLD_NEXT, name);
        return next ? shim_wrap_pfn(name, next) : NULL;
    }
    return shim_wrap_pfn(name, p);
}

#define LOOKUP_SYM(fam, fname)                                                                    \
    shim_sym_t shim_sym_##fname = {#fname, (void *)fname, NULL, 0, PTHREAD_ONCE_INIT, fam, SHIM_C_LOOKUP};

#define GETPROC(fname, params, args, sym_arg, pfn_arg)                                            \
    SHIM_EXPORT int fname params;                                                                 \
    LOOKUP_SYM(SHIM_DRIVER, fname)                                                                \
    SHIM_EXPORT int fname params {                                                                \
        typedef int (*fn_t) params;                                                               \
        fn_t real = (fn_t)shim_real(&shim_sym_##fname);                                           \
        if (!real) return shim_missing(&shim_sym_##fname);                                        \
        int rc = real args;                                                                       \
        if (rc == 0 && pfn_arg) *pfn_arg = shim_wrap_pfn(sym_arg, *pfn_arg);                       \
        return rc;                                                                                \
    }

#define ENTRYPOINT(fname, params, args, sym_arg, pfn_arg)                                         \
    SHIM_EXPORT int fname params;                                                                 \
    LOOKUP_SYM(SHIM_RUNTIME, fname)                                                               \
    SHIM_EXPORT int fname params {                                                                \
        typedef int (*fn_t) params;                                                               \
        fn_t real = (fn_t)shim_real(&shim_sym_##fname);                                           \
        if (!real) return shim_missing(&shim_sym_##fname);                                        \
        int rc = real args;                                                                       \
        if (rc == 0 && pfn_arg) *pfn_arg = shim_wrap_pfn(sym_arg, *pfn_arg);                       \
        return rc;                                                                                \
    }

GETPROC(cuGetProcAddress, (const char *symbol, void **pfn, int ver, u64 flags), (symbol, pfn, ver, flags),
        symbol, pfn)
GETPROC(cuGetProcAddress_v2, (const char *symbol, void **pfn, int ver, u64 flags, void *status),
        (symbol, pfn, ver, flags, status), symbol, pfn)
GETPROC(cuGetProcAddress_v2_ptsz, (const char *symbol, void **pfn, int ver, u64 flags, void *status),
        (symbol, pfn, ver, flags, status), symbol, pfn)
ENTRYPOINT(cudaGetDriverEntryPoint, (const char *symbol, void **fn, u64 flags, void *status),
           (symbol, fn, flags, status), symbol, fn)
ENTRYPOINT(cudaGetDriverEntryPoint_ptsz, (const char *symbol, void **fn, u64 flags, void *status),
           (symbol, fn, flags, status), symbol, fn)
ENTRYPOINT(cudaGetDriverEntryPointByVersion,
           (const char *symbol, void **fn, unsigned ver, u64 flags, void *status),
           (symbol, fn, ver, flags, status), symbol, fn)
ENTRYPOINT(cudaGetDriverEntryPointByVersion_ptsz,
           (const char *symbol, void **fn, unsigned ver, u64 flags, void *status),
           (symbol, fn, ver, flags, status), symbol, fn)

shim_sym_t *const shim_lookup_syms[] = {
    &shim_sym_cuGetProcAddress, &shim_sym_cuGetProcAddress_v2, &shim_sym_cuGetProcAddress_v2_ptsz,
    &shim_sym_cudaGetDriverEntryPoint, &shim_sym_cudaGetDriverEntryPoint_ptsz,
    &shim_sym_cudaGetDriverEntryPointByVersion, &shim_sym_cudaGetDriverEntryPointByVersion_ptsz, NULL};
