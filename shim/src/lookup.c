/*
 * lookup.c - the ways a program asks for a function pointer instead of calling a symbol:
 * dlsym, cuGetProcAddress / cuGetProcAddress_v2 (how every cudart since CUDA 11.3, static or
 * shared, reaches the driver) and cudaGetDriverEntryPoint* (how PyTorch reaches the driver).
 *
 * Why: without these, a program that looks its functions up would bypass every wrapper.
 * Each asks the real lookup first and only then swaps the answer for our wrapper of the same
 * function, so versions, per-thread-stream variants and failures stay the real library's. The
 * swap holds whatever the driver hands out: an exported symbol or an internal function (the
 * wrapper's real call is bound to the pointer it returned, see shim_bind), and a request for
 * cuGetProcAddress itself returns our own resolver.
 * Must not: touch cuGetExportTable (passed through untouched: it is not ours), start the fault
 * state for names that are not CUDA's (dlsym is called by every program), or fail a lookup.
 */
/* Hundreds of small wrappers: at -O1 (with tail calls, and shim.h's inline hot path inlined)
 * they build in a third of the time of -O2, with the same hot-path instructions (bench/shim). */
#ifndef __clang__ /* gcc only (the init container's build); zig cc builds `make dist` at -O2 */
#pragma GCC optimize("O1", "optimize-sibling-calls")
#endif
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
        return next ? shim_wrap_name(name, next) : NULL;
    }
    return shim_wrap_name(name, p);
}

/* The body of every lookup function (and of its alternates): ask the real lookup, then swap the
 * answer for our wrapper of what was asked for (base name, version, stream flag). */
#define LOOKUP_BODY(fname, REAL, params, args, sym_arg, pfn_arg, ver_expr, flags_expr)            \
    {                                                                                             \
        typedef int (*fn_t) params;                                                               \
        fn_t real = (fn_t)(REAL);                                                                 \
        if (!real) return shim_missing(&shim_sym_##fname);                                        \
        int rc = real args;                                                                       \
        if (rc == 0 && pfn_arg) *pfn_arg = shim_wrap_proc(sym_arg, ver_expr, flags_expr, *pfn_arg); \
        return rc;                                                                                \
    }
#define LOOKUP(fam, fname, params, args, sym_arg, pfn_arg, ver_expr, flags_expr)                  \
    SHIM_DEFINE(fname, params, LOOKUP_BODY, params, args, sym_arg, pfn_arg, ver_expr, flags_expr) \
    SHIM_SYM(fam, SHIM_C_LOOKUP, fname)

/* The _ptsz spellings default to the per-thread default stream, as cuda.h's inline does. */
#define PT_DEFAULT(f) (((f) & 3u) == 0 ? (f) | SHIM_PER_THREAD_FLAG : (f))

LOOKUP(SHIM_DRIVER, cuGetProcAddress, (const char *symbol, void **pfn, int ver, u64 flags),
       (symbol, pfn, ver, flags), symbol, pfn, ver, flags)
LOOKUP(SHIM_DRIVER, cuGetProcAddress_v2, (const char *symbol, void **pfn, int ver, u64 flags, void *status),
       (symbol, pfn, ver, flags, status), symbol, pfn, ver, flags)
LOOKUP(SHIM_DRIVER, cuGetProcAddress_v2_ptsz, (const char *symbol, void **pfn, int ver, u64 flags, void *status),
       (symbol, pfn, ver, flags, status), symbol, pfn, ver, PT_DEFAULT(flags))
/* cudart asks the driver with its own version; a pointer that is not ours by then (cudart's
 * lookup went around us) is wrapped as the newest variant. */
LOOKUP(SHIM_RUNTIME, cudaGetDriverEntryPoint, (const char *symbol, void **fn, u64 flags, void *status),
       (symbol, fn, flags, status), symbol, fn, SHIM_VERSION_NEWEST, flags)
LOOKUP(SHIM_RUNTIME, cudaGetDriverEntryPoint_ptsz, (const char *symbol, void **fn, u64 flags, void *status),
       (symbol, fn, flags, status), symbol, fn, SHIM_VERSION_NEWEST, PT_DEFAULT(flags))
LOOKUP(SHIM_RUNTIME, cudaGetDriverEntryPointByVersion,
       (const char *symbol, void **fn, unsigned ver, u64 flags, void *status),
       (symbol, fn, ver, flags, status), symbol, fn, (int)ver, flags)
LOOKUP(SHIM_RUNTIME, cudaGetDriverEntryPointByVersion_ptsz,
       (const char *symbol, void **fn, unsigned ver, u64 flags, void *status),
       (symbol, fn, ver, flags, status), symbol, fn, (int)ver, PT_DEFAULT(flags))

shim_sym_t *const shim_lookup_syms[] = {
    &shim_sym_cuGetProcAddress, &shim_sym_cuGetProcAddress_v2, &shim_sym_cuGetProcAddress_v2_ptsz,
    &shim_sym_cudaGetDriverEntryPoint, &shim_sym_cudaGetDriverEntryPoint_ptsz,
    &shim_sym_cudaGetDriverEntryPointByVersion, &shim_sym_cudaGetDriverEntryPointByVersion_ptsz, NULL};

/* Asked for "cuGetProcAddress" itself, the driver's answer is bound to our resolver of the form
 * that version implies (4 arguments below CUDA 12.0, 5 from 12.0), so every later lookup made
 * through the returned pointer comes through here too. */
const shim_variant_t shim_lookup_variants[] = {
    {"cuGetProcAddress", 11030, 0, &shim_sym_cuGetProcAddress},
    {"cuGetProcAddress", 12000, 0, &shim_sym_cuGetProcAddress_v2},
    {NULL, 0, 0, NULL}};
