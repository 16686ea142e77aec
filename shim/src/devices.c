/*
 * devices.c - which GPUs a process has, which of them a fault names (`gpus=`), and which GPU a
 * call is about: one GPU of a node fails, not the whole node.
 *
 * Why: real GPU nodes have 4-8 GPUs and an XID happens on one; only the processes using that GPU
 * fail. A process's GPUs come from NVIDIA_VISIBLE_DEVICES (what the container runtime exposed:
 * UUIDs, node indexes, `all`; `void`/`none`/empty: no GPU; a device path: unknown) and
 * CUDA_VISIBLE_DEVICES (indexes into those, or UUIDs). A process whose GPUs are all faulty (or
 * cannot be told apart) fails as with a whole-node fault; one whose GPUs are all healthy is left
 * alone; one with several fails only calls on a faulty device: a device argument, or the
 * calling thread's current device (tracked from cudaSetDevice, cuCtxSetCurrent/Push/Pop and the
 * contexts cuDevicePrimaryCtxRetain/cuCtxCreate return).
 * Must not: run at load time; read anything but the environment, by-value device arguments and
 * out-parameters of successful calls; call the driver (cuCtxGetDevice, cuDeviceGetUuid) or NVML
 * (nvmlDeviceGetUUID) except inside a call the program made, after it initialised them itself,
 * while a fault is armed for a subset of GPUs; parse anything without a bound.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

#include "shim.h"

enum { VIEW_ALL, VIEW_LIST, VIEW_NONE, VIEW_UNKNOWN };
enum { V_HEALTHY, V_FAULTY, V_UNDECIDED };
#define DEV_UNKNOWN (-1)
#define DEV_NOCTX (-3)
#define SCAN_LIMIT 16384 /* characters of one environment value or toggle line ever looked at */

typedef struct {
    int idx;      /* node index (nvidia-smi numbering); -1 unknown */
    int has_uuid; /* 1: hi/lo hold the 16 bytes of its UUID */
    uint64_t hi, lo;
} ident_t;

/* --- views: set once by shim_devices_init (inside the first intercepted call's pthread_once) -- */
static int v_kind = VIEW_ALL;
static ident_t v_nvd[SHIM_MAX_GPUS]; /* container device k (NVIDIA_VISIBLE_DEVICES order) */
static int v_nvd_n = -1;             /* -1: not listed (all of the node's GPUs) */
static ident_t v_cuda[SHIM_MAX_GPUS];/* CUDA ordinal j */
static int v_cuda_n = -1;            /* -1: unknown count, ordinal j is node GPU j */
/* What each ordinal / NVML index is taken to be: the lists above, except that with several GPUs
 * the UUID at a position is not trusted (CUDA and NVML number devices by PCI bus, not in the
 * order of NVIDIA_VISIBLE_DEVICES): it is asked of the driver instead. Which GPUs the process has
 * (the set, for its verdict) does not depend on the order. */
static ident_t v_cuda_pos[SHIM_MAX_GPUS], v_nvd_pos[SHIM_MAX_GPUS];

/* --- tokens and identities ----------------------------------------------------------------- */
static int hexval(char c) {
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

static int has_prefix(const char *s, size_t n, const char *p) {
    size_t k = strlen(p);
    if (n < k) return 0;
    for (size_t i = 0; i < k; i++)
        if ((s[i] | 0x20) != (p[i] | 0x20)) return 0;
    return 1;
}

/* "GPU-xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" (or MIG-, or bare): exactly 32 hex digits. */
static int parse_uuid(const char *s, size_t n, uint64_t *hi, uint64_t *lo) {
    if (has_prefix(s, n, "GPU-") || has_prefix(s, n, "MIG-")) { s += 4; n -= 4; }
    uint64_t h = 0, l = 0;
    int digits = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '-') continue;
        int d = hexval(s[i]);
        if (d < 0 || digits == 32) return 0;
        if (digits < 16) h = h << 4 | (uint64_t)d;
        else l = l << 4 | (uint64_t)d;
        digits++;
    }
    if (digits != 32) return 0;
    *hi = h;
    *lo = l;
    return 1;
}

static int parse_index(const char *s, size_t n, int *out) {
    if (n == 0 || n > 6) return 0;
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return 0;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 1;
}

/* Calls fn for each comma-separated token of s[0..len) (spaces trimmed), at most `max` tokens;
 * stops early when fn returns 0. */
typedef int (*token_fn)(const char *tok, size_t n, void *ctx);
static void tokens(const char *s, size_t len, int max, token_fn fn, void *ctx) {
    if (len > SCAN_LIMIT) len = SCAN_LIMIT;
    const char *end = s + len;
    for (int k = 0; s < end && k < max; k++) {
        const char *e = s;
        while (e < end && *e != ',') e++;
        const char *a = s, *b = e;
        while (a < b && (*a == ' ' || *a == '\t')) a++;
        while (b > a && (b[-1] == ' ' || b[-1] == '\t' || b[-1] == '\r')) b--;
        if (!fn(a, (size_t)(b - a), ctx)) return;
        s = e < end ? e + 1 : e;
    }
}

/* --- gpus= / CUDA_FAULT_GPUS ---------------------------------------------------------------- */
static int sel_token(const char *t, size_t n, void *ctx) {
    shim_gpusel_t *s = ctx;
    int idx;
    uint64_t hi, lo;
    if (n == 3 && memcmp(t, "all", 3) == 0) s->mode = SHIM_SEL_NODE;
    else if (n == 0) {}
    else if (parse_index(t, n, &idx)) {
        if (s->n_idx < SHIM_MAX_GPUS) s->idx[s->n_idx++] = idx;
        else s->n_bad++; /* past the 64th: ignored, never a bigger blast radius */
    } else if (parse_uuid(t, n, &hi, &lo)) {
        if (s->n_uuid < SHIM_MAX_GPUS) {
            s->hi[s->n_uuid] = hi;
            s->lo[s->n_uuid++] = lo;
        } else s->n_bad++;
    } else s->n_bad++;
    return 1;
}

void shim_gpus_parse(const char *s, size_t len, shim_gpusel_t *out) {
    memset(out, 0, sizeof *out);
    out->mode = SHIM_SEL_SUBSET;
    size_t n = 0;
    while (n < len && n < SCAN_LIMIT && s[n] && s[n] != '\n') n++;
    int blank = 1;
    for (size_t i = 0; i < n; i++) blank &= s[i] == ' ' || s[i] == '\t' || s[i] == '\r';
    if (blank) { out->mode = SHIM_SEL_NODE; return; } /* absent or empty: every GPU */
    tokens(s, n, 4 * SHIM_MAX_GPUS, sel_token, out);
}

/* --- the process's GPUs ----------------------------------------------------------------------- */
typedef struct { ident_t *list; int n, bad, stop, cvd; } view_ctx_t;

static int view_token(const char *t, size_t n, void *ctx) {
    view_ctx_t *v = ctx;
    ident_t id = {-1, 0, 0, 0};
    int k;
    if (v->n >= SHIM_MAX_GPUS) { v->bad = 1; return 0; }
    if (parse_index(t, n, &k)) {
        if (v->cvd) { /* an index into the container's devices */
            if (v_nvd_n >= 0 && k >= v_nvd_n) { v->stop = 1; return 0; } /* CUDA stops at a bad one */
            if (v_nvd_n >= 0) id = v_nvd[k];
            else id.idx = k;
        } else {
            id.idx = k;
        }
    } else if (parse_uuid(t, n, &id.hi, &id.lo)) {
        id.has_uuid = 1;
    } else if (has_prefix(t, n, "GPU-") || has_prefix(t, n, "MIG-")) {
        /* a UUID prefix, an old MIG name: a GPU we can only tell by asking its UUID */
    } else {
        if (v->cvd) v->stop = 1; /* "-1", garbage: CUDA sees no device from here on */
        else v->bad = 1;         /* a device path, garbage: we cannot tell which GPUs */
        return 0;
    }
    v->list[v->n++] = id;
    return 1;
}

static int word(const char *s, const char *w) { return strcmp(s, w) == 0; }

void shim_devices_init(void) {
    const char *nvd = getenv("NVIDIA_VISIBLE_DEVICES");
    if (!nvd || word(nvd, "all")) {
        v_kind = VIEW_ALL;
    } else if (!nvd[0] || word(nvd, "void") || word(nvd, "none")) {
        v_kind = VIEW_NONE;
    } else {
        view_ctx_t v = {v_nvd, 0, 0, 0, 0};
        tokens(nvd, strlen(nvd), SHIM_MAX_GPUS + 1, view_token, &v);
        v_kind = v.bad ? VIEW_UNKNOWN : VIEW_LIST;
        v_nvd_n = v.n;
    }
    const char *cvd = getenv("CUDA_VISIBLE_DEVICES");
    if (v_kind == VIEW_NONE) {
        v_cuda_n = 0;
    } else if (!cvd) {
        v_cuda_n = v_nvd_n;
        if (v_nvd_n > 0) memcpy(v_cuda, v_nvd, sizeof v_nvd);
    } else {
        view_ctx_t v = {v_cuda, 0, 0, 0, 1};
        tokens(cvd, strlen(cvd), SHIM_MAX_GPUS + 1, view_token, &v);
        v_cuda_n = v.n;
        if (v.bad) v_kind = VIEW_UNKNOWN;
    }
    for (int j = 0; j < SHIM_MAX_GPUS; j++) {
        v_cuda_pos[j] = v_cuda[j];
        v_nvd_pos[j] = v_nvd[j];
        if (v_cuda_n > 1) v_cuda_pos[j].has_uuid = 0;
        if (v_nvd_n > 1) v_nvd_pos[j].has_uuid = 0;
    }
}

/* --- the published selection (poller writes, calls read; a seqlock over atomics) --------------- */
static atomic_uint p_seq;
static atomic_int p_mode = SHIM_SEL_NODE;
static atomic_int p_n_uuid, p_has_idx;
static _Atomic uint64_t p_hi[SHIM_MAX_GPUS], p_lo[SHIM_MAX_GPUS];
static _Atomic uint64_t p_cuda_faulty, p_cuda_undec, p_nvml_faulty, p_nvml_undec;
static atomic_int p_cuda_verdict, p_nvml_verdict; /* SHIM_P_* */

typedef struct {
    int mode, n_uuid, has_idx, cuda_verdict, nvml_verdict;
    uint64_t hi[SHIM_MAX_GPUS], lo[SHIM_MAX_GPUS];
    uint64_t cuda_faulty, cuda_undec, nvml_faulty, nvml_undec;
} snap_t;

static void read_snap(snap_t *s) {
    for (int tries = 0; tries < 4; tries++) {
        unsigned a = atomic_load_explicit(&p_seq, memory_order_acquire);
        if (a & 1u) continue;
        s->mode = atomic_load_explicit(&p_mode, memory_order_relaxed);
        s->n_uuid = atomic_load_explicit(&p_n_uuid, memory_order_relaxed);
        s->has_idx = atomic_load_explicit(&p_has_idx, memory_order_relaxed);
        s->cuda_verdict = atomic_load_explicit(&p_cuda_verdict, memory_order_relaxed);
        s->nvml_verdict = atomic_load_explicit(&p_nvml_verdict, memory_order_relaxed);
        s->cuda_faulty = atomic_load_explicit(&p_cuda_faulty, memory_order_relaxed);
        s->cuda_undec = atomic_load_explicit(&p_cuda_undec, memory_order_relaxed);
        s->nvml_faulty = atomic_load_explicit(&p_nvml_faulty, memory_order_relaxed);
        s->nvml_undec = atomic_load_explicit(&p_nvml_undec, memory_order_relaxed);
        if (s->n_uuid > SHIM_MAX_GPUS) s->n_uuid = SHIM_MAX_GPUS;
        for (int i = 0; i < s->n_uuid; i++) {
            s->hi[i] = atomic_load_explicit(&p_hi[i], memory_order_relaxed);
            s->lo[i] = atomic_load_explicit(&p_lo[i], memory_order_relaxed);
        }
        atomic_thread_fence(memory_order_acquire);
        if (atomic_load_explicit(&p_seq, memory_order_relaxed) == a) return;
    }
    /* the poller kept rewriting: use what was read (at worst one call sees a half-old selection) */
}

/* Does GPU `id` match the selection: V_FAULTY, V_HEALTHY, or V_UNDECIDED (the selection names
 * GPUs in a form this identity does not carry: a UUID for an index, or the other way round). */
static int match(const shim_gpusel_t *sel, const ident_t *id) {
    int undecided = 0;
    for (int i = 0; i < sel->n_idx; i++) {
        if (id->idx < 0) undecided = 1;
        else if (id->idx == sel->idx[i]) return V_FAULTY;
    }
    for (int i = 0; i < sel->n_uuid; i++) {
        if (!id->has_uuid) undecided = 1;
        else if (id->hi == sel->hi[i] && id->lo == sel->lo[i]) return V_FAULTY;
    }
    return undecided ? V_UNDECIDED : V_HEALTHY;
}

/* The verdicts of a view: bit j faulty / undecided (from `pos`, what position j is taken to
 * be), and the process's verdict (from `set`, the GPUs it has, in any order). */
static void view_masks(const shim_gpusel_t *sel, const ident_t *set, const ident_t *pos, int n, uint64_t *faulty,
                       uint64_t *undec, int *verdict) {
    *faulty = *undec = 0;
    int limit = n < 0 ? SHIM_MAX_GPUS : n, hit = 0;
    for (int j = 0; j < limit; j++) {
        ident_t id = {j, 0, 0, 0};
        int m = match(sel, n < 0 ? &id : &pos[j]);
        if (m == V_FAULTY) *faulty |= 1ull << j;
        else if (m == V_UNDECIDED) *undec |= 1ull << j;
        hit += (n < 0 ? m : match(sel, &set[j])) != V_HEALTHY;
    }
    if (v_kind == VIEW_UNKNOWN) *verdict = SHIM_P_ALL;
    else if (n == 0 || hit == 0) *verdict = SHIM_P_HEALTHY;
    else if (n > 0 && hit == n) *verdict = SHIM_P_ALL;
    else *verdict = SHIM_P_MIXED;
}

void shim_devices_publish(const shim_gpusel_t *sel) {
    uint64_t cf = 0, cu = 0, nf = 0, nu = 0;
    int cv = SHIM_P_ALL, nv = SHIM_P_ALL;
    if (sel->mode == SHIM_SEL_SUBSET) {
        view_masks(sel, v_cuda, v_cuda_pos, v_cuda_n, &cf, &cu, &cv);
        view_masks(sel, v_nvd, v_nvd_pos, v_kind == VIEW_NONE ? 0 : v_nvd_n, &nf, &nu, &nv);
    }
    atomic_fetch_add_explicit(&p_seq, 1, memory_order_acq_rel);
    atomic_thread_fence(memory_order_release);
    atomic_store_explicit(&p_mode, sel->mode, memory_order_relaxed);
    atomic_store_explicit(&p_n_uuid, sel->n_uuid, memory_order_relaxed);
    atomic_store_explicit(&p_has_idx, sel->n_idx > 0, memory_order_relaxed);
    for (int i = 0; i < sel->n_uuid; i++) {
        atomic_store_explicit(&p_hi[i], sel->hi[i], memory_order_relaxed);
        atomic_store_explicit(&p_lo[i], sel->lo[i], memory_order_relaxed);
    }
    atomic_store_explicit(&p_cuda_faulty, cf, memory_order_relaxed);
    atomic_store_explicit(&p_cuda_undec, cu, memory_order_relaxed);
    atomic_store_explicit(&p_cuda_verdict, cv, memory_order_relaxed);
    atomic_store_explicit(&p_nvml_faulty, nf, memory_order_relaxed);
    atomic_store_explicit(&p_nvml_undec, nu, memory_order_relaxed);
    atomic_store_explicit(&p_nvml_verdict, nv, memory_order_relaxed);
    atomic_fetch_add_explicit(&p_seq, 1, memory_order_release);
}

int shim_devices_subset(void) { return atomic_load_explicit(&p_mode, memory_order_relaxed) == SHIM_SEL_SUBSET; }

/* Armed for GPUs none of which this process has (CUDA and NVML alike): it is not faulted at all. */
int shim_devices_untouched(void) {
    return shim_devices_subset() && atomic_load(&p_cuda_verdict) == SHIM_P_HEALTHY &&
           atomic_load(&p_nvml_verdict) == SHIM_P_HEALTHY;
}

/* --- what the process has seen: contexts, the current device, learned UUIDs, latches -------- */
static atomic_int g_cu_inited, g_nvml_inited;
static _Atomic(void *) c_ptr[SHIM_MAX_GPUS * 2];
static atomic_int c_dev[SHIM_MAX_GPUS * 2];
static atomic_int l_state[SHIM_MAX_GPUS]; /* 0 unknown, 1 learned, 2 could not learn */
static _Atomic uint64_t l_hi[SHIM_MAX_GPUS], l_lo[SHIM_MAX_GPUS];
static _Atomic uint64_t g_cuda_latched, g_nvml_latched;
/* NVML handles -> the device they are (index from GetHandleByIndex, UUID from ByUUID/asking) */
static _Atomic(void *) h_ptr[SHIM_MAX_GPUS];
static atomic_int h_idx[SHIM_MAX_GPUS], h_uuid_state[SHIM_MAX_GPUS], h_latched[SHIM_MAX_GPUS];
static _Atomic uint64_t h_hi[SHIM_MAX_GPUS], h_lo[SHIM_MAX_GPUS];
static atomic_int lu_n; /* UUIDs of NVML devices latched lost */
static _Atomic uint64_t lu_hi[SHIM_MAX_GPUS], lu_lo[SHIM_MAX_GPUS];

/* per thread, offset so that zero (the initial value) means "unknown" / "never set" */
#define TLS __thread __attribute__((tls_model("initial-exec")))
static TLS int t_cur;        /* 0 unknown, 1 no context, d + 2: CUDA ordinal d */
static TLS int t_rt;         /* 0 never set, d + 1: the runtime's device d (cudaSetDevice) */
static TLS int t_stack[8];   /* t_cur values under pushed contexts */
static TLS int t_depth;      /* pushes seen; beyond 8 the values are unknown */

void shim_note_init(void) { atomic_store_explicit(&g_cu_inited, 1, memory_order_relaxed); }
void shim_note_nvml_init(void) { atomic_store_explicit(&g_nvml_inited, 1, memory_order_relaxed); }

void shim_note_ctx(void *ctx, int dev) {
    if (!ctx || dev < 0) return;
    for (int i = 0; i < SHIM_MAX_GPUS * 2; i++) {
        void *cur = atomic_load_explicit(&c_ptr[i], memory_order_acquire);
        if (cur == ctx) { atomic_store_explicit(&c_dev[i], dev, memory_order_relaxed); return; }
        if (cur == NULL) {
            atomic_store_explicit(&c_dev[i], dev, memory_order_relaxed);
            void *expected = NULL;
            if (atomic_compare_exchange_strong(&c_ptr[i], &expected, ctx) || expected == ctx) return;
        }
    }
}

static int ctx_dev_raw(void *ctx) {
    if (!ctx) return 1;
    for (int i = 0; i < SHIM_MAX_GPUS * 2; i++) {
        void *cur = atomic_load_explicit(&c_ptr[i], memory_order_acquire);
        if (cur == NULL) break;
        if (cur == ctx) return atomic_load_explicit(&c_dev[i], memory_order_relaxed) + 2;
    }
    return 0;
}

void shim_note_current(void *ctx) { t_cur = ctx_dev_raw(ctx); }
void shim_note_push(void *ctx) {
    if (t_depth < 8) t_stack[t_depth] = t_cur;
    t_depth++;
    t_cur = ctx_dev_raw(ctx);
}
void shim_note_pop(void) {
    if (t_depth == 0) { t_cur = 0; return; }
    t_depth--;
    t_cur = t_depth < 8 ? t_stack[t_depth] : 0;
}
void shim_note_runtime_device(int dev) {
    if (dev < 0) return;
    t_rt = dev + 1;
    t_cur = dev + 2;
}

/* The driver's own function `name`, never ours (exported symbols only: dlsym is no CUDA call). */
static void *driver_fn(_Atomic(void *) *cache, const char *name) {
    void *p = atomic_load_explicit(cache, memory_order_acquire);
    if (p) return p;
    p = shim_real_driver_fn(name);
    if (p) atomic_store_explicit(cache, p, memory_order_release);
    return p;
}

static int may_ask(void) { return shim_devices_subset() && atomic_load(&g_cu_inited); }

/* The calling thread's current device for a call of `sym`'s family. */
static int current_device(const shim_sym_t *sym) {
    static _Atomic(void *) ctx_get_device;
    if (may_ask()) {
        typedef int (*fn_t)(int *);
        fn_t fn = (fn_t)driver_fn(&ctx_get_device, "cuCtxGetDevice");
        int d = -1;
        if (fn && fn(&d) == 0 && d >= 0) { t_cur = d + 2; return d; }
        if (fn) t_cur = 1; /* no current context */
    }
    if (t_cur >= 2) return t_cur - 2;
    if (sym->family == SHIM_RUNTIME) return t_rt ? t_rt - 1 : 0; /* the runtime's default device */
    return t_cur == 1 ? DEV_NOCTX : DEV_UNKNOWN;
}

/* The UUID of CUDA ordinal j, asked of the driver once (only where asking is allowed). */
static int cuda_uuid(int j, uint64_t *hi, uint64_t *lo) {
    static _Atomic(void *) get_uuid_v2, get_uuid;
    if (j < 0 || j >= SHIM_MAX_GPUS) return 0;
    int st = atomic_load_explicit(&l_state[j], memory_order_acquire);
    if (st == 0 && may_ask()) {
        typedef int (*fn_t)(unsigned char *, int);
        fn_t fn = (fn_t)driver_fn(&get_uuid_v2, "cuDeviceGetUuid_v2");
        if (!fn) fn = (fn_t)driver_fn(&get_uuid, "cuDeviceGetUuid");
        unsigned char b[16];
        if (fn && fn(b, j) == 0) { /* CUdevice is the ordinal */
            uint64_t h = 0, l = 0;
            for (int i = 0; i < 8; i++) { h = h << 8 | b[i]; l = l << 8 | b[i + 8]; }
            atomic_store_explicit(&l_hi[j], h, memory_order_relaxed);
            atomic_store_explicit(&l_lo[j], l, memory_order_relaxed);
            st = 1;
        } else {
            st = 2;
        }
        atomic_store_explicit(&l_state[j], st, memory_order_release);
    }
    if (st != 1) return 0;
    *hi = atomic_load_explicit(&l_hi[j], memory_order_relaxed);
    *lo = atomic_load_explicit(&l_lo[j], memory_order_relaxed);
    return 1;
}

static int uuid_in(const snap_t *s, uint64_t hi, uint64_t lo) {
    for (int i = 0; i < s->n_uuid; i++)
        if (s->hi[i] == hi && s->lo[i] == lo) return 1;
    return 0;
}

/* Is CUDA ordinal j faulty: from the view, else by its UUID (asked), else undecided. */
static int ordinal_verdict(const snap_t *s, int j) {
    if (j < 0 || j >= SHIM_MAX_GPUS) return V_UNDECIDED;
    if (v_cuda_n >= 0 && j >= v_cuda_n) return V_HEALTHY; /* not a device of this process */
    uint64_t bit = 1ull << j;
    if (s->cuda_faulty & bit) return V_FAULTY;
    if (!(s->cuda_undec & bit)) return V_HEALTHY;
    uint64_t hi, lo;
    if (s->n_uuid > 0 && cuda_uuid(j, &hi, &lo)) {
        if (uuid_in(s, hi, lo)) return V_FAULTY;
        int idx = v_cuda_n < 0 ? j : v_cuda_pos[j].idx;
        return s->has_idx && idx < 0 ? V_UNDECIDED : V_HEALTHY;
    }
    return V_UNDECIDED;
}

int shim_devices_decide(const shim_sym_t *sym, int dev, int *which) {
    snap_t s;
    read_snap(&s);
    if (s.mode != SHIM_SEL_SUBSET || s.cuda_verdict == SHIM_P_ALL) return SHIM_DEV_FAULT;
    if (s.cuda_verdict == SHIM_P_HEALTHY || dev == SHIM_DEV_NONE) return SHIM_DEV_PASS;
    if (dev == SHIM_DEV_CUR) {
        dev = current_device(sym);
        if (dev == DEV_NOCTX) return SHIM_DEV_PASS; /* the driver answers for itself */
        if (dev == DEV_UNKNOWN) return SHIM_DEV_FAULT;
    }
    if (ordinal_verdict(&s, dev) == V_HEALTHY) return SHIM_DEV_PASS;
    if (dev >= SHIM_MAX_GPUS) return SHIM_DEV_FAULT;
    *which = dev;
    return SHIM_DEV_FAULT_ONE;
}

void shim_devices_latch(int dev) {
    if (dev >= 0 && dev < SHIM_MAX_GPUS) atomic_fetch_or(&g_cuda_latched, 1ull << dev);
}

int shim_devices_latched(const shim_sym_t *sym, int dev) {
    uint64_t m = atomic_load_explicit(&g_cuda_latched, memory_order_relaxed);
    if (!m || dev == SHIM_DEV_NONE) return 0;
    if (dev == SHIM_DEV_CUR) {
        dev = current_device(sym);
        if (dev == DEV_NOCTX) return 0;
        if (dev == DEV_UNKNOWN) return 1; /* it may be the lost one */
    }
    return dev >= 0 && dev < SHIM_MAX_GPUS && (m >> dev & 1u);
}

/* --- NVML: indexes are the container's devices (NVIDIA_VISIBLE_DEVICES), not CUDA's ---------- */
void shim_note_nvml_handle(void *handle, int index, const char *uuid) {
    if (!handle) return;
    uint64_t hi = 0, lo = 0;
    int has = uuid && parse_uuid(uuid, strnlen(uuid, 96), &hi, &lo);
    for (int i = 0; i < SHIM_MAX_GPUS; i++) {
        void *cur = atomic_load_explicit(&h_ptr[i], memory_order_acquire);
        if (cur == NULL) {
            atomic_store_explicit(&h_idx[i], index + 1, memory_order_relaxed);
            if (has) {
                atomic_store_explicit(&h_hi[i], hi, memory_order_relaxed);
                atomic_store_explicit(&h_lo[i], lo, memory_order_relaxed);
                atomic_store_explicit(&h_uuid_state[i], 1, memory_order_release);
            }
            void *expected = NULL;
            if (atomic_compare_exchange_strong(&h_ptr[i], &expected, handle)) return;
            cur = expected;
        }
        if (cur == handle) {
            if (index >= 0) atomic_store_explicit(&h_idx[i], index + 1, memory_order_relaxed);
            return;
        }
    }
}

static int handle_slot(void *handle) {
    for (int i = 0; i < SHIM_MAX_GPUS && handle; i++) {
        void *cur = atomic_load_explicit(&h_ptr[i], memory_order_acquire);
        if (cur == NULL) break;
        if (cur == handle) return i;
    }
    return -1;
}

/* The UUID of an NVML handle: recorded, or asked of NVML once (only where asking is allowed). */
static int handle_uuid(int slot, void *handle, uint64_t *hi, uint64_t *lo) {
    int st = slot >= 0 ? atomic_load_explicit(&h_uuid_state[slot], memory_order_acquire) : 0;
    if (st == 0 && handle && shim_devices_subset() && atomic_load(&g_nvml_inited)) {
        typedef int (*fn_t)(void *, char *, unsigned);
        fn_t fn = (fn_t)shim_real(&shim_sym_nvmlDeviceGetUUID);
        char buf[96] = {0};
        int ok = fn && fn(handle, buf, sizeof buf - 1) == 0 && parse_uuid(buf, strnlen(buf, sizeof buf), hi, lo);
        if (slot < 0) return ok;
        if (ok) {
            atomic_store_explicit(&h_hi[slot], *hi, memory_order_relaxed);
            atomic_store_explicit(&h_lo[slot], *lo, memory_order_relaxed);
        }
        st = ok ? 1 : 2;
        atomic_store_explicit(&h_uuid_state[slot], st, memory_order_release);
    }
    if (st != 1) return 0;
    *hi = atomic_load_explicit(&h_hi[slot], memory_order_relaxed);
    *lo = atomic_load_explicit(&h_lo[slot], memory_order_relaxed);
    return 1;
}

/* Is NVML device `index` faulty, by the view alone. */
static int index_verdict(const snap_t *s, int index) {
    if (index < 0 || index >= SHIM_MAX_GPUS) return V_UNDECIDED;
    if (v_nvd_n >= 0 && index >= v_nvd_n) return V_HEALTHY; /* not one of the container's */
    if (s->nvml_faulty >> index & 1u) return V_FAULTY;
    return s->nvml_undec >> index & 1u ? V_UNDECIDED : V_HEALTHY;
}

/* `handle` NULL before the real call of nvmlDeviceGetHandleBy*: SHIM_DEV_DEFER asks to decide
 * again once the handle is known (its UUID may settle it). */
int shim_devices_nvml_decide(int index, const char *uuid, void *handle, int *which, int *slot) {
    snap_t s;
    read_snap(&s);
    *which = -1;
    *slot = handle_slot(handle);
    if (s.mode != SHIM_SEL_SUBSET || s.nvml_verdict == SHIM_P_ALL) return SHIM_DEV_FAULT;
    if (s.nvml_verdict == SHIM_P_HEALTHY || (index < 0 && !uuid && !handle)) return SHIM_DEV_PASS;
    if (*slot >= 0) {
        int raw = atomic_load_explicit(&h_idx[*slot], memory_order_relaxed);
        if (raw > 0) index = raw - 1;
    }
    uint64_t hi = 0, lo = 0;
    int has = uuid && parse_uuid(uuid, strnlen(uuid, 96), &hi, &lo);
    int v = index_verdict(&s, index);
    if (v == V_UNDECIDED) {
        if (!has && handle) has = handle_uuid(*slot, handle, &hi, &lo);
        if (has && uuid_in(&s, hi, lo)) {
            v = V_FAULTY;
        } else if (has) { /* not a named UUID: undecided only if an index entry cannot be matched */
            int idx = index < 0 || index >= SHIM_MAX_GPUS ? -1
                      : v_nvd_n < 0 ? index : index < v_nvd_n ? v_nvd_pos[index].idx : -1;
            v = s.has_idx && idx < 0 ? V_UNDECIDED : V_HEALTHY;
        } else if (!handle && atomic_load(&g_nvml_inited)) {
            return SHIM_DEV_DEFER;
        }
    }
    if (v == V_HEALTHY) return SHIM_DEV_PASS;
    *which = index;
    if (!has && handle) has = handle_uuid(*slot, handle, &hi, &lo);
    if (has) { /* latched by UUID too: nvmlDeviceGetHandleByUUID and other handles of that GPU */
        int k = atomic_fetch_add(&lu_n, 1);
        if (k < SHIM_MAX_GPUS) {
            atomic_store_explicit(&lu_hi[k], hi, memory_order_relaxed);
            atomic_store_explicit(&lu_lo[k], lo, memory_order_release);
        }
    }
    return SHIM_DEV_FAULT_ONE;
}

void shim_devices_nvml_latch(int index, int slot) {
    if (index >= 0 && index < SHIM_MAX_GPUS) atomic_fetch_or(&g_nvml_latched, 1ull << index);
    if (slot >= 0 && slot < SHIM_MAX_GPUS) atomic_store(&h_latched[slot], 1);
}

static int uuid_latched(uint64_t hi, uint64_t lo) {
    int n = atomic_load(&lu_n);
    for (int k = 0; k < n && k < SHIM_MAX_GPUS; k++)
        if (atomic_load_explicit(&lu_lo[k], memory_order_acquire) == lo &&
            atomic_load_explicit(&lu_hi[k], memory_order_relaxed) == hi)
            return 1;
    return 0;
}

int shim_devices_nvml_latched(int index, const char *uuid, void *handle) {
    uint64_t m = atomic_load_explicit(&g_nvml_latched, memory_order_relaxed);
    int slot = handle_slot(handle);
    uint64_t hi, lo;
    if (slot >= 0) {
        if (atomic_load(&h_latched[slot])) return 1;
        int raw = atomic_load_explicit(&h_idx[slot], memory_order_relaxed);
        if (raw > 0) index = raw - 1;
        if (atomic_load_explicit(&h_uuid_state[slot], memory_order_acquire) == 1 &&
            uuid_latched(atomic_load(&h_hi[slot]), atomic_load(&h_lo[slot])))
            return 1;
    }
    if (uuid && parse_uuid(uuid, strnlen(uuid, 96), &hi, &lo) && uuid_latched(hi, lo)) return 1;
    return index >= 0 && index < SHIM_MAX_GPUS && (m >> index & 1u);
}

int shim_devices_any_latched(void) {
    return atomic_load_explicit(&g_cuda_latched, memory_order_relaxed) != 0 ||
           atomic_load_explicit(&g_nvml_latched, memory_order_relaxed) != 0;
}
