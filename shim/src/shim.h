/*
 * shim.h - shared state API and wrapper macros of cuda_intercept.so.
 *
 * Why: every intercepted CUDA/NVML function has the same shape (ask the fault state whether
 * this call fails, else call the real function), so the shape lives here once and each API
 * family file (runtime.c, driver.c, nvml.c) is a list of signatures.
 * Must not: include any CUDA or NVIDIA header (the library links against libc only and is
 * compiled by an init container that has nothing but gcc), or do any work at load time.
 */
#ifndef CUDA_INTERCEPT_SHIM_H
#define CUDA_INTERCEPT_SHIM_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define SHIM_LIKELY(x) __builtin_expect(!!(x), 1)
#define SHIM_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define SHIM_EXPORT __attribute__((visibility("default")))
/* dlsym runs inside sanitizer runtimes before they are initialised (they look up the functions
 * they intercept): the dlsym path must not be instrumented in the ASan/TSan test builds. */
#define SHIM_NO_SANITIZE __attribute__((no_sanitize_address, no_sanitize_undefined, no_sanitize_thread))

/* API families: decide which error spelling a call gets and how a missing symbol reads. */
enum shim_family { SHIM_RUNTIME = 0, SHIM_DRIVER = 1, SHIM_NVML = 2 };

/* Call classes: what a call does, so `apis=` and the XID's scope can pick which calls fail. */
enum shim_class {
    SHIM_C_DISCOVERY = 1u << 0, /* cuInit, device count/handles: fail only when the GPU is gone */
    SHIM_C_CONTEXT = 1u << 1,   /* context creation, cudaSetDevice: fail for node-scoped XIDs */
    SHIM_C_ALLOC = 1u << 2,
    SHIM_C_LAUNCH = 1u << 3,
    SHIM_C_SYNC = 1u << 4,
    SHIM_C_MEMCPY = 1u << 5,
    SHIM_C_PEER = 1u << 6,
    SHIM_C_ERRQ = 1u << 7,      /* cudaGetLastError/PeekAtLastError: report only a latched fault */
    SHIM_C_NVML = 1u << 8,      /* NVML device queries: GPU_IS_LOST while a GPU-lost XID is armed */
    SHIM_C_LOOKUP = 1u << 9,    /* dlsym/cuGetProcAddress/entry points: never fail */
};
#define SHIM_C_WORK (SHIM_C_ALLOC | SHIM_C_LAUNCH | SHIM_C_SYNC | SHIM_C_MEMCPY | SHIM_C_PEER)

/* One intercepted symbol: its name, our wrapper and the real function (resolved once). */
typedef struct shim_sym {
    const char *name;
    void *wrapper;
    _Atomic(void *) real;
    atomic_int resolved;
    pthread_once_t once;
    unsigned short family;
    unsigned short cls;
} shim_sym_t;

/*
 * The hot word: zero while this process may call straight through (disarmed, nothing latched,
 * a poller thread keeps the state fresh). Any bit sends calls to the slow path: armed, latched,
 * or SLOW (not yet initialised, or polling the toggle file from calls because there is no poller
 * thread: CUDA_FAULT_POLL_MS=0, a forked child, or a failed pthread_create). A disarmed call
 * costs one relaxed atomic load.
 */
#define SHIM_HOT_ARMED 1u
#define SHIM_HOT_LATCHED 2u
#define SHIM_HOT_SLOW 4u
extern _Atomic uint64_t shim_hot;

#define SHIM_DEFAULT_TOGGLE_FILE "/host-fault/cuda_fault_enabled"
#define SHIM_PROB_ONE 1000000u                 /* probabilities are kept in parts per million */
#define SHIM_CUDA_ERROR_SYMBOL_NOT_FOUND 500   /* cudaErrorSymbolNotFound */
#define SHIM_CUDA_ERROR_NOT_FOUND 500          /* CUDA_ERROR_NOT_FOUND */
#define SHIM_NVML_ERROR_FUNCTION_NOT_FOUND 13  /* NVML_ERROR_FUNCTION_NOT_FOUND */

int shim_fault_slow(shim_sym_t *sym);
int shim_is_ours(const void *p);
void *shim_resolve(shim_sym_t *sym);
int shim_missing(shim_sym_t *sym);

/* The coarse clock: a vDSO read with no syscall; used to pace polls made from calls. */
static inline uint64_t shim_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* 0: let the call through; otherwise the error code this call must return. */
static inline int shim_fault(shim_sym_t *sym) {
    if (SHIM_LIKELY(atomic_load_explicit(&shim_hot, memory_order_relaxed) == 0)) return 0;
    return shim_fault_slow(sym);
}

static inline void *shim_real(shim_sym_t *sym) {
    void *p = atomic_load_explicit(&sym->real, memory_order_acquire);
    if (SHIM_LIKELY(p != NULL)) return p;
    return shim_resolve(sym);
}

/* Lookup paths (lookup.c) use these to swap a real function pointer for our wrapper. */
shim_sym_t *shim_find(const char *name);
void *shim_wrap_pfn(const char *requested, void *pfn);
void *shim_real_dlsym(void *handle, const char *name);
int shim_disabled(void);

/* Per-family symbol tables, NULL-terminated. */
extern shim_sym_t *const shim_runtime_syms[];
extern shim_sym_t *const shim_driver_syms[];
extern shim_sym_t *const shim_nvml_syms[];
extern shim_sym_t *const shim_lookup_syms[];

/*
 * SHIM_WRAP(family, class, name, params, args): define the exported wrapper `name` and its table
 * entry `shim_sym_<name>`. Arguments are passed to the real function untouched (never read), so
 * NULL and invalid arguments get the real function's own answer.
 */
#define SHIM_WRAP(fam, klass, fname, params, args)                                                \
    SHIM_EXPORT int fname params;                                                                 \
    shim_sym_t shim_sym_##fname = {#fname, (void *)fname, NULL, 0, PTHREAD_ONCE_INIT, fam, klass}; \
    SHIM_EXPORT int fname params {                                                                \
        typedef int (*shim_fn_t) params;                                                          \
        int shim_err = shim_fault(&shim_sym_##fname);                                             \
        if (SHIM_UNLIKELY(shim_err != 0)) return shim_err;                                        \
        shim_fn_t shim_fn = (shim_fn_t)shim_real(&shim_sym_##fname);                              \
        if (SHIM_UNLIKELY(shim_fn == NULL)) return shim_missing(&shim_sym_##fname);               \
        return shim_fn args;                                                                      \
    }

#define SHIM_ENTRY(fname) &shim_sym_##fname,

#endif
