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
#if defined(__clang__) /* the prebuilt libraries are built by zig cc (clang): `make dist` */
#define SHIM_NO_SANITIZE __attribute__((no_sanitize("address", "undefined", "thread")))
#else
#define SHIM_NO_SANITIZE __attribute__((no_sanitize_address, no_sanitize_undefined, no_sanitize_thread))
#endif

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
    SHIM_C_NVML = 1u << 8,      /* NVML device queries: GPU_IS_LOST for a GPU-lost XID (latched) */
    SHIM_C_LOOKUP = 1u << 9,    /* dlsym/cuGetProcAddress/entry points: never fail */
    SHIM_C_STATE = 1u << 10,    /* cuCtxSetCurrent/Push/Pop: tracked, fail only when latched */
};
#define SHIM_C_WORK (SHIM_C_ALLOC | SHIM_C_LAUNCH | SHIM_C_SYNC | SHIM_C_MEMCPY | SHIM_C_PEER)

/* Distinct real functions one wrapper can stand for: the exported symbol (primary) plus up to
 * SHIM_ALTS other pointers a lookup handed out for the same variant (an internal, non-exported
 * function of the driver, another copy of the library). Each has its own wrapper; every one
 * more costs a copy of all ~320 wrappers, i.e. build time in the init container. */
#define SHIM_ALTS 1

/* One intercepted symbol: its name, our wrappers and the real functions (resolved once). */
typedef struct shim_sym {
    const char *name;
    void *wrapper;
    _Atomic(void *) real;       /* the exported symbol of that name, resolved on first use */
    atomic_int resolved;
    pthread_once_t once;
    unsigned short family;
    unsigned short cls;
    void *alt_wrapper[SHIM_ALTS];
    _Atomic(void *) alt_real[SHIM_ALTS]; /* bound by lookups (shim_bind), never changed after */
} shim_sym_t;

/* One driver function variant: what cuGetProcAddress(base, version, flags) may hand out. */
typedef struct shim_variant {
    const char *base;    /* the name cuGetProcAddress is asked for: "cuMemAlloc" */
    int version;         /* the first CUDA version (1000 * major + 10 * minor) with this variant */
    int per_thread;      /* 1: the per-thread default stream variant (_ptds / _ptsz) */
    shim_sym_t *sym;     /* the exported name: cuMemAlloc_v2 */
} shim_variant_t;

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

/* Which GPU a call is about (per-GPU faults, `gpus=`): a device ordinal as the process numbers it
 * (CUdevice and the runtime's int device), or one of these. */
#define SHIM_DEV_CUR (-1)   /* the calling thread's current device */
#define SHIM_DEV_NONE (-2)  /* no device: cuInit, counts, NVML init (fail only if every GPU is faulty) */

int shim_fault_slow(shim_sym_t *sym, int dev);
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
static inline int shim_fault(shim_sym_t *sym, int dev) {
    if (SHIM_LIKELY(atomic_load_explicit(&shim_hot, memory_order_relaxed) == 0)) return 0;
    return shim_fault_slow(sym, dev);
}

static inline void *shim_real(shim_sym_t *sym) {
    void *p = atomic_load_explicit(&sym->real, memory_order_acquire);
    if (SHIM_LIKELY(p != NULL)) return p;
    return shim_resolve(sym);
}

/* Lookup paths (lookup.c) use these to swap a real function pointer for our wrapper. */
shim_sym_t *shim_find(const char *name);
void *shim_bind(shim_sym_t *sym, void *pfn);
void *shim_wrap_name(const char *name, void *pfn);
void *shim_wrap_proc(const char *base, int version, unsigned long long flags, void *pfn);
void *shim_real_dlsym(void *handle, const char *name);
int shim_disabled(void);
#define SHIM_PER_THREAD_FLAG 2ull   /* CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM */
#define SHIM_VERSION_NEWEST 0x7fffffff

/* --- per-GPU faults (devices.c) ----------------------------------------------------------- */
#define SHIM_MAX_GPUS 64 /* entries of gpus=, devices of a process, tracked contexts and handles */
enum { SHIM_SEL_NODE = 0, SHIM_SEL_SUBSET = 1 };  /* gpus= absent/empty/all, or a list */
enum { SHIM_P_ALL = 0, SHIM_P_HEALTHY = 1, SHIM_P_MIXED = 2 }; /* a process's GPUs vs the list */
enum { SHIM_DEV_PASS = 0, SHIM_DEV_FAULT = 1, SHIM_DEV_FAULT_ONE = 2, SHIM_DEV_DEFER = 3 };
typedef struct shim_gpusel {
    int mode, n_idx, n_uuid, n_bad;
    int idx[SHIM_MAX_GPUS];                      /* node indexes (nvidia-smi numbering) */
    uint64_t hi[SHIM_MAX_GPUS], lo[SHIM_MAX_GPUS]; /* UUIDs, 16 bytes each */
} shim_gpusel_t;
void shim_gpus_parse(const char *s, size_t len, shim_gpusel_t *out);
void shim_devices_init(void);
void shim_devices_publish(const shim_gpusel_t *sel);
int shim_devices_subset(void);
int shim_devices_untouched(void);
int shim_devices_decide(const shim_sym_t *sym, int dev, int *which);
void shim_devices_latch(int dev);
int shim_devices_latched(const shim_sym_t *sym, int dev);
int shim_devices_nvml_decide(int index, const char *uuid, void *handle, int *which, int *slot);
void shim_devices_nvml_latch(int index, int slot);
int shim_devices_nvml_latched(int index, const char *uuid, void *handle);
int shim_devices_any_latched(void);
void *shim_real_driver_fn(const char *name);
extern shim_sym_t shim_sym_nvmlDeviceGetUUID;

/* Device tracking hooks (devices.c), called by the few wrappers that change or reveal it. */
void shim_note_init(void);
void shim_note_ctx(void *ctx, int dev);
void shim_note_current(void *ctx);
void shim_note_push(void *ctx);
void shim_note_pop(void);
void shim_note_runtime_device(int dev);
void shim_note_nvml_init(void);
void shim_note_nvml_handle(void *handle, int index, const char *uuid);
int shim_nvml_fault(shim_sym_t *sym, int index, const char *uuid, void *handle, int final);

/* Per-family symbol tables, NULL-terminated; driver variants (the one table), {NULL}-terminated. */
extern shim_sym_t *const shim_runtime_syms[];
extern shim_sym_t *const shim_driver_syms[];
extern shim_sym_t *const shim_nvml_syms[];
extern shim_sym_t *const shim_lookup_syms[];
extern const shim_variant_t shim_driver_variants[];
extern const shim_variant_t shim_lookup_variants[];

static inline void *shim_alt(shim_sym_t *sym, int k) {
    return atomic_load_explicit(&sym->alt_real[k], memory_order_acquire);
}

/*
 * SHIM_DEFINE(fname, params, BODY, extra...): the exported wrapper `fname`, its SHIM_ALTS
 * alternates (static: same body, another real function) and the declaration of its table entry.
 * BODY(fname, REAL, extra...) is the function body; REAL is the expression giving the real
 * function for that copy. SHIM_SYM(...) then defines the table entry.
 */
#define SHIM_DEFINE(fname, params, BODY, ...)                                                     \
    extern shim_sym_t shim_sym_##fname;                                                           \
    SHIM_EXPORT int fname params;                                                                 \
    SHIM_EXPORT int fname params BODY(fname, shim_real(&shim_sym_##fname), __VA_ARGS__)           \
    static int fname##__alt0 params BODY(fname, shim_alt(&shim_sym_##fname, 0), __VA_ARGS__)     \


#define SHIM_SYM(fam, klass, fname)                                                               \
    shim_sym_t shim_sym_##fname = {#fname, (void *)fname, NULL, 0, PTHREAD_ONCE_INIT, fam, klass,   \
                                   {(void *)fname##__alt0}, {NULL}};

/* The body of a plain wrapper: fault check (for device `dev`), real call, then `post` on success.
 * Arguments go to the real function untouched; only device ordinals passed by value are read
 * (`dev`), and `post` reads an out-parameter only after the real call succeeded. */
#define SHIM_BODY(fname, REAL, params, args, dev, post)                                           \
    {                                                                                             \
        typedef int (*shim_fn_t) params;                                                          \
        int shim_err = shim_fault(&shim_sym_##fname, (dev));                                      \
        if (SHIM_UNLIKELY(shim_err != 0)) return shim_err;                                        \
        shim_fn_t shim_fn = (shim_fn_t)(REAL);                                                    \
        if (SHIM_UNLIKELY(shim_fn == NULL)) return shim_missing(&shim_sym_##fname);               \
        int shim_rc = shim_fn args;                                                               \
        if (shim_rc == 0) { post; }                                                               \
        return shim_rc;                                                                           \
    }

/*
 * SHIM_WRAP(family, class, name, params, args): define the exported wrapper `name`, its
 * alternates and its table entry `shim_sym_<name>`, for a call on the current device.
 * SHIM_WRAP_DEV adds the device the call is about and a statement run after a successful call.
 * Arguments are passed to the real function untouched (never read), so NULL and invalid
 * arguments get the real function's own answer.
 */
#define SHIM_WRAP_DEV(fam, klass, fname, params, args, dev, post)                                 \
    SHIM_DEFINE(fname, params, SHIM_BODY, params, args, dev, post)                                \
    SHIM_SYM(fam, klass, fname)
#define SHIM_WRAP(fam, klass, fname, params, args) \
    SHIM_WRAP_DEV(fam, klass, fname, params, args, SHIM_DEV_CUR, (void)0)

#define SHIM_ENTRY(fname) &shim_sym_##fname,

#endif
