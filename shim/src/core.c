/*
 * core.c - fault state, toggle file, sticky latch, logging and real-symbol resolution.
 *
 * Why: one place decides whether a call fails, so every interception path (direct symbols,
 * dlsym, cuGetProcAddress, entry points) fails the same way for the same XID.
 * The toggle file is re-read by one detached poller thread (started on the first intercepted
 * call, all signals blocked) every CUDA_FAULT_POLL_MS (default 100 ms), so a disarmed call costs
 * one relaxed atomic load. Without that thread (CUDA_FAULT_POLL_MS=0, a forked child, or
 * pthread_create refused) calls poll instead, paced by CLOCK_MONOTONIC_COARSE.
 * Must not: do anything at load time (no constructor: the library may be preloaded into
 * processes that never touch CUDA), call cuInit or any CUDA function on its own, use stdio,
 * or read the toggle file more often than the poll interval.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <link.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shim.h"
#include "xid_table.h"

_Atomic uint64_t shim_hot = SHIM_HOT_SLOW; /* the first intercepted call initialises */

/* --- settings read once from the environment (first intercepted call) ------------------- */
static pthread_once_t g_init_once = PTHREAD_ONCE_INIT;
static int g_disabled;
static int g_env_armed;
static int g_env_xid = SHIM_XID_DEFAULT;
static char g_toggle_path[1024] = SHIM_DEFAULT_TOGGLE_FILE;
static uint64_t g_poll_ms = 100;
static int g_log_limit = 10;
static int g_log_lookups;
static long g_env_after;
static uint32_t g_env_prob = SHIM_PROB_ONE;
static unsigned g_env_mask;
static shim_gpusel_t g_env_gpus;   /* CUDA_FAULT_GPUS: the default of the toggle file's gpus= */

/* --- the current effective state (written by the poller, read by every slow-path call) ---- */
static atomic_int g_armed;
static atomic_int g_xid_index = -1;
static atomic_long g_after;
static atomic_uint g_prob = SHIM_PROB_ONE;
static atomic_uint g_mask;         /* 0: derive from the XID's scope */
static atomic_int g_latched = -1;  /* XID table index of the fault this process has latched */
static atomic_long g_eligible;     /* calls seen while armed, for after_calls */
static atomic_int g_logged;
static atomic_int g_polling;
static _Atomic uint64_t g_next_poll_ms; /* when polling from calls: the coarse-clock deadline */
static atomic_int g_sync_poll;          /* 1: no poller thread in this process; calls poll */
static pthread_once_t g_poller_once = PTHREAD_ONCE_INIT;
static atomic_int g_warned_xid, g_warned_gpus;
static atomic_int g_dev_xid = -1;  /* XID table index of the faults latched on single devices */
static _Atomic uint64_t g_rng;

/* --- stderr lines, built without stdio (async-signal and fork friendly) ------------------- */
typedef struct { char b[256]; size_t n; } line_t;

static void put_s(line_t *l, const char *s) {
    while (s && *s && l->n < sizeof l->b - 1) l->b[l->n++] = *s++;
}

static void put_i(line_t *l, long v) {
    char tmp[24];
    int i = 0;
    unsigned long u = v < 0 ? (unsigned long)(-v) : (unsigned long)v;
    do { tmp[i++] = (char)('0' + u % 10); u /= 10; } while (u && i < 23);
    if (v < 0) tmp[i++] = '-';
    while (i > 0 && l->n < sizeof l->b - 1) l->b[l->n++] = tmp[--i];
}

static void emit(line_t *l) {
    l->b[l->n++] = '\n';
    ssize_t rc = write(2, l->b, l->n);
    (void)rc; /* nothing sensible to do if stderr is gone */
}

/* --- small parsers (no strtod: it depends on the process's locale) ------------------------ */
static int parse_long(const char *s, long *out) {
    long v = 0;
    int neg = 0, digits = 0;
    while (*s == ' ' || *s == '\t') s++;
    if (*s == '-') { neg = 1; s++; }
    for (; *s >= '0' && *s <= '9'; s++, digits++) {
        if (v > (long)(__LONG_MAX__ / 10 - 10)) return 0;
        v = v * 10 + (*s - '0');
    }
    if (!digits) return 0;
    *out = neg ? -v : v;
    return 1;
}

/* "0.25" -> 250000 (parts per million); clamps to [0, 1]. */
static int parse_prob(const char *s, uint32_t *out) {
    uint64_t whole = 0, frac = 0, scale = 1;
    int digits = 0;
    while (*s == ' ' || *s == '\t') s++;
    for (; *s >= '0' && *s <= '9'; s++, digits++) whole = whole * 10 + (uint64_t)(*s - '0');
    if (*s == '.') {
        for (s++; *s >= '0' && *s <= '9'; s++, digits++) {
            if (scale < 1000000) { frac = frac * 10 + (uint64_t)(*s - '0'); scale *= 10; }
        }
    }
    if (!digits) return 0;
    uint64_t ppm = whole >= 1 ? SHIM_PROB_ONE : frac * (SHIM_PROB_ONE / scale);
    *out = (uint32_t)(ppm > SHIM_PROB_ONE ? SHIM_PROB_ONE : ppm);
    return 1;
}

static int word_is(const char *s, size_t n, const char *w) {
    return strlen(w) == n && strncmp(s, w, n) == 0;
}

static unsigned parse_apis(const char *s) {
    unsigned mask = 0;
    while (*s && *s != '\n' && *s != '\r') {
        const char *e = s;
        while (*e && *e != ',' && *e != '\n' && *e != '\r') e++;
        while (s < e && *s == ' ') s++;
        size_t n = (size_t)(e - s);
        while (n && s[n - 1] == ' ') n--;
        if (word_is(s, n, "alloc")) mask |= SHIM_C_ALLOC;
        else if (word_is(s, n, "launch")) mask |= SHIM_C_LAUNCH;
        else if (word_is(s, n, "sync")) mask |= SHIM_C_SYNC;
        else if (word_is(s, n, "memcpy")) mask |= SHIM_C_MEMCPY;
        else if (word_is(s, n, "peer")) mask |= SHIM_C_PEER;
        else if (word_is(s, n, "context")) mask |= SHIM_C_CONTEXT;
        else if (word_is(s, n, "discovery")) mask |= SHIM_C_DISCOVERY;
        else if (word_is(s, n, "all")) mask |= SHIM_C_WORK | SHIM_C_CONTEXT | SHIM_C_DISCOVERY;
        s = *e == ',' ? e + 1 : e;
    }
    return mask;
}

static int xid_index(int xid) {
    for (int i = 0; i < SHIM_XID_COUNT; i++)
        if (shim_xid_table[i].xid == xid) return i;
    return -1;
}

/* The calls an XID fails by default: work always; contexts for node scope; discovery if lost. */
static unsigned default_mask(int idx) {
    unsigned m = SHIM_C_WORK;
    if (shim_xid_table[idx].node_scope) m |= SHIM_C_CONTEXT;
    if (shim_xid_table[idx].gpu_lost) m |= SHIM_C_DISCOVERY;
    return m;
}

/* --- one-time setup, on the first intercepted call ---------------------------------------- */
static void after_fork_child(void) {
    /* A child is a new process: its own log budget, counters and poller. The latch stays. */
    atomic_store(&g_polling, 0);
    atomic_store(&g_logged, 0);
    atomic_store(&g_eligible, 0);
    /* threads do not survive fork: the child polls from its calls instead */
    atomic_store(&g_sync_poll, 1);
    atomic_store(&g_next_poll_ms, 0);
    atomic_fetch_or(&shim_hot, (uint64_t)SHIM_HOT_SLOW);
}

static void init_once(void) {
    const char *v;
    long n;
    v = getenv("CUDA_FAULT_INJECTION_DISABLE");
    g_disabled = v && v[0] == '1';
    v = getenv("CUDA_FAULT_INJECTION_ENABLED");
    g_env_armed = v && v[0] == '1';
    if ((v = getenv("CUDA_XID_TYPE")) && parse_long(v, &n)) g_env_xid = (int)n;
    if ((v = getenv("CUDA_FAULT_TOGGLE_FILE")) && v[0] && strlen(v) < sizeof g_toggle_path)
        memcpy(g_toggle_path, v, strlen(v) + 1);
    if ((v = getenv("CUDA_FAULT_POLL_MS")) && parse_long(v, &n) && n >= 0) g_poll_ms = (uint64_t)n;
    if ((v = getenv("CUDA_FAULT_LOG_LIMIT")) && parse_long(v, &n) && n >= 0) g_log_limit = (int)n;
    if ((v = getenv("CUDA_FAULT_AFTER_CALLS")) && parse_long(v, &n) && n >= 0) g_env_after = n;
    if ((v = getenv("CUDA_FAULT_PROBABILITY"))) parse_prob(v, &g_env_prob);
    if ((v = getenv("CUDA_FAULT_APIS"))) g_env_mask = parse_apis(v);
    v = getenv("CUDA_FAULT_LOG_LOOKUPS");
    g_log_lookups = v && v[0] == '1';
    v = getenv("CUDA_FAULT_GPUS");
    shim_gpus_parse(v ? v : "", v ? strlen(v) : 0, &g_env_gpus);
    shim_devices_init();
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    atomic_store(&g_rng, (uint64_t)ts.tv_nsec * 0x9E3779B97F4A7C15ull ^ (uint64_t)getpid());
    if (g_disabled) {
        atomic_store(&shim_hot, 0); /* pure pass-through: no thread, no file, no faults */
        return;
    }
    pthread_atfork(NULL, NULL, after_fork_child);
}

static void ensure_init(void) { pthread_once(&g_init_once, init_once); }

int shim_disabled(void) {
    ensure_init();
    return g_disabled;
}

/* --- the toggle file --------------------------------------------------------------------- */
typedef struct {
    int armed, xid;
    long expires, after;
    uint32_t prob;
    unsigned mask;
    shim_gpusel_t gpus;
} settings_t;

static void parse_toggle(const char *buf, settings_t *s) {
    if (buf[0] == '1') s->armed = 1;
    else if (buf[0] == '0') s->armed = 0;
    const char *line = strchr(buf, '\n');
    while (line) {
        line++;
        const char *eq = strchr(line, '=');
        const char *nl = strchr(line, '\n');
        if (eq && (!nl || eq < nl)) {
            size_t k = (size_t)(eq - line);
            const char *val = eq + 1;
            long n;
            if (word_is(line, k, "xid") && parse_long(val, &n)) s->xid = (int)n;
            else if (word_is(line, k, "expires") && parse_long(val, &n)) s->expires = n;
            else if (word_is(line, k, "after_calls") && parse_long(val, &n) && n >= 0) s->after = n;
            else if (word_is(line, k, "probability")) parse_prob(val, &s->prob);
            else if (word_is(line, k, "apis")) s->mask = parse_apis(val);
            else if (word_is(line, k, "gpus")) shim_gpus_parse(val, nl ? (size_t)(nl - val) : strlen(val), &s->gpus);
        }
        line = nl;
    }
}

static void publish_hot(int armed) {
    uint64_t old = atomic_load_explicit(&shim_hot, memory_order_relaxed), nw;
    do {
        nw = (armed ? SHIM_HOT_ARMED : 0) | (old & SHIM_HOT_LATCHED) |
             (atomic_load(&g_sync_poll) ? SHIM_HOT_SLOW : 0);
    } while (!atomic_compare_exchange_weak(&shim_hot, &old, nw));
}

/* Re-read the toggle file (by content, every time: mtime lies on some volumes). */
static void poll_toggle(uint64_t now) {
    if (atomic_exchange(&g_polling, 1)) return; /* another thread is at it; use current state */
    static settings_t s; /* only one poller at a time (g_polling); too big for a call's stack */
    s = (settings_t){g_env_armed, g_env_xid, 0, g_env_after, g_env_prob, g_env_mask, g_env_gpus};
    char buf[4096];
    int fd = open(g_toggle_path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd >= 0) {
        ssize_t total = 0, r;
        while (total < (ssize_t)sizeof buf - 1 &&
               ((r = read(fd, buf + total, sizeof buf - 1 - (size_t)total)) > 0 || (r < 0 && errno == EINTR)))
            if (r > 0) total += r;
        close(fd);
        buf[total] = '\0';
        if (total > 0) parse_toggle(buf, &s);
    }
    if (s.expires > 0 && (long)time(NULL) >= s.expires) s.armed = 0; /* the dead-man switch */
    int idx = xid_index(s.xid);
    if (idx < 0) {
        if (s.armed && !atomic_exchange(&g_warned_xid, 1)) {
            line_t l = {.n = 0};
            put_s(&l, "[cuda-intercept] XID ");
            put_i(&l, s.xid);
            put_s(&l, " is not simulated; faults stay off");
            emit(&l);
        }
        s.armed = 0;
    }
    if (s.armed && s.gpus.mode == SHIM_SEL_SUBSET && (s.gpus.n_bad || !(s.gpus.n_idx + s.gpus.n_uuid)) &&
        !atomic_exchange(&g_warned_gpus, 1)) {
        line_t l = {.n = 0};
        put_s(&l, "[cuda-intercept] gpus: ");
        put_i(&l, s.gpus.n_bad);
        put_s(&l, " entries ignored (neither a GPU index nor a GPU UUID, or past the 64th)");
        if (!(s.gpus.n_idx + s.gpus.n_uuid)) put_s(&l, "; it names no GPU, faults stay off");
        emit(&l);
    }
    shim_devices_publish(&s.gpus); /* before arming: a call that sees armed sees the GPUs */
    atomic_store(&g_xid_index, idx);
    atomic_store(&g_after, s.after);
    atomic_store(&g_prob, s.prob);
    atomic_store(&g_mask, s.mask);
    atomic_store(&g_armed, s.armed);
    atomic_store(&g_next_poll_ms, now + g_poll_ms);
    /* a process none of whose GPUs the fault names keeps the one-load hot path */
    publish_hot(s.armed && !shim_devices_untouched());
    atomic_store(&g_polling, 0);
}

/* --- deciding and reporting a fault -------------------------------------------------------- */
static int code_for(int idx, const shim_sym_t *sym, int log) {
    const shim_xid_t *x = &shim_xid_table[idx];
    int code;
    const char *name;
    if (sym->cls == SHIM_C_NVML) {
        if (!x->gpu_lost) return 0;
        code = SHIM_NVML_ERROR_GPU_IS_LOST;
        name = "NVML_ERROR_GPU_IS_LOST";
    } else if (sym->cls == SHIM_C_PEER && x->peer_code) {
        code = x->peer_code;
        name = sym->family == SHIM_RUNTIME ? x->peer_rt_name : x->peer_drv_name;
    } else {
        code = x->code;
        name = sym->family == SHIM_RUNTIME ? x->rt_name : x->drv_name;
    }
    if (log && g_log_limit > 0 && atomic_fetch_add(&g_logged, 1) < g_log_limit) {
        line_t l = {.n = 0};
        put_s(&l, "[XID ");
        put_i(&l, x->xid);
        put_s(&l, " SIM] ");
        put_s(&l, sym->name);
        put_s(&l, " -> ");
        put_s(&l, name);
        put_s(&l, " (");
        put_i(&l, code);
        put_s(&l, ")");
        emit(&l);
    }
    return code;
}

static uint32_t next_random_ppm(void) {
    uint64_t z = atomic_fetch_add(&g_rng, 0x9E3779B97F4A7C15ull) + 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return (uint32_t)(z % SHIM_PROB_ONE);
}

/* The poller: re-reads the toggle file every poll interval, so that calls never have to. */
static void *poller_main(void *arg) {
    (void)arg;
    for (;;) {
        struct timespec ts = {(time_t)(g_poll_ms / 1000), (long)(g_poll_ms % 1000) * 1000000L};
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
        poll_toggle(shim_now_ms());
    }
    return NULL;
}

static void start_poller(void) {
    poll_toggle(shim_now_ms()); /* the first read is synchronous: the first call sees the truth */
    int started = 0;
    if (g_poll_ms > 0) {
        pthread_attr_t attr;
        pthread_t tid;
        sigset_t all, old;
        sigfillset(&all);
        /* the poller must never take a signal meant for the program */
        pthread_sigmask(SIG_SETMASK, &all, &old);
        if (pthread_attr_init(&attr) == 0) {
            pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
            pthread_attr_setstacksize(&attr, 64 * 1024);
            started = pthread_create(&tid, &attr, poller_main, NULL) == 0;
            pthread_attr_destroy(&attr);
        }
        pthread_sigmask(SIG_SETMASK, &old, NULL);
    }
    atomic_store(&g_sync_poll, !started);
    publish_hot(atomic_load(&g_armed) && !shim_devices_untouched());
}

/* Common to every slow path: settings read, poller started, the toggle file fresh. */
static int slow_prologue(void) {
    ensure_init();
    if (g_disabled) return 0;
    pthread_once(&g_poller_once, start_poller);
    if (atomic_load(&g_sync_poll)) {
        uint64_t now = shim_now_ms();
        if (now >= atomic_load(&g_next_poll_ms)) poll_toggle(now);
    }
    return 1;
}

static int latch_process(int idx, const shim_sym_t *sym) {
    int expected = -1;
    atomic_compare_exchange_strong(&g_latched, &expected, idx);
    atomic_fetch_or(&shim_hot, (uint64_t)SHIM_HOT_LATCHED);
    return code_for(atomic_load(&g_latched), sym, 1);
}

/* One device latched (`gpus=` in a process with several GPUs): its calls keep failing. */
static int latch_device_xid(int idx, const shim_sym_t *sym) {
    int expected = -1;
    atomic_compare_exchange_strong(&g_dev_xid, &expected, idx);
    atomic_fetch_or(&shim_hot, (uint64_t)SHIM_HOT_LATCHED);
    return code_for(atomic_load(&g_dev_xid), sym, 1);
}

int shim_fault_slow(shim_sym_t *sym, int dev) {
    if (!slow_prologue()) return 0;
    if (sym->cls == SHIM_C_NVML) return shim_nvml_fault(sym, -1, NULL, NULL, 1);
    int latched = atomic_load(&g_latched);
    if (latched >= 0) return code_for(latched, sym, 1); /* real hardware does not heal */
    int dev_xid = atomic_load(&g_dev_xid);
    if (dev_xid >= 0 && shim_devices_latched(sym, dev)) return code_for(dev_xid, sym, 1);
    if (!atomic_load(&g_armed)) return 0;
    int idx = atomic_load(&g_xid_index);
    if (idx < 0) return 0;
    unsigned mask = atomic_load(&g_mask);
    if (!mask) mask = default_mask(idx);
    if (!(sym->cls & mask)) return 0;
    int which = -1, where = shim_devices_subset() ? shim_devices_decide(sym, dev, &which) : SHIM_DEV_FAULT;
    if (where == SHIM_DEV_PASS) return 0; /* a healthy GPU, or no GPU of the fault's */
    long after = atomic_load(&g_after);
    if (after > 0 && atomic_fetch_add(&g_eligible, 1) < after) return 0;
    uint32_t prob = atomic_load(&g_prob);
    if (prob < SHIM_PROB_ONE && next_random_ppm() >= prob) return 0;
    if (where == SHIM_DEV_FAULT_ONE) {
        shim_devices_latch(which);
        return latch_device_xid(idx, sym);
    }
    return latch_process(idx, sym);
}

/* NVML: a GPU-lost XID makes its device report NVML_ERROR_GPU_IS_LOST, and the process that
 * heard it keeps hearing it (latched), also after the fault is disarmed. `final` 0: a handle
 * lookup before its real call (-1: decide again once the handle is known). */
int shim_nvml_fault(shim_sym_t *sym, int index, const char *uuid, void *handle, int final) {
    if (!slow_prologue()) return 0;
    int latched = atomic_load(&g_latched);
    if (latched >= 0) return code_for(latched, sym, 1);
    int dev_xid = atomic_load(&g_dev_xid);
    if (dev_xid >= 0 && shim_devices_nvml_latched(index, uuid, handle)) return code_for(dev_xid, sym, 1);
    if (!atomic_load(&g_armed)) return 0;
    int idx = atomic_load(&g_xid_index);
    if (idx < 0 || !shim_xid_table[idx].gpu_lost) return 0;
    int which = -1, slot = -1;
    int where = shim_devices_subset() ? shim_devices_nvml_decide(index, uuid, handle, &which, &slot) : SHIM_DEV_FAULT;
    if (where == SHIM_DEV_PASS) return 0;
    if (where == SHIM_DEV_DEFER) return final ? latch_process(idx, sym) : -1;
    if (where == SHIM_DEV_FAULT_ONE) {
        shim_devices_nvml_latch(which, slot);
        return latch_device_xid(idx, sym);
    }
    return latch_process(idx, sym);
}

/* --- real-symbol resolution (once per symbol) -------------------------------------------- */
typedef void *(*dlsym_fn)(void *, const char *);
static _Atomic(dlsym_fn) g_real_dlsym;
static _Atomic(void *) g_self_base;

/* Our own exported dlsym shadows libc's, so the real one is found by version. Not pthread_once:
 * its futex wake would be a syscall the program does not make without us, and every program
 * calls dlsym. Two threads racing here compute the same answer, so a plain atomic is enough. */
SHIM_NO_SANITIZE static dlsym_fn real_dlsym(void) {
    dlsym_fn fn = atomic_load_explicit(&g_real_dlsym, memory_order_acquire);
    if (SHIM_LIKELY(fn != NULL)) return fn;
    static const char *const versions[] = {"GLIBC_2.34", "GLIBC_2.2.5", "GLIBC_2.17", "GLIBC_2.0"};
    for (size_t i = 0; i < sizeof versions / sizeof *versions && !fn; i++)
        fn = (dlsym_fn)dlvsym(RTLD_NEXT, "dlsym", versions[i]);
    Dl_info info;
    if (dladdr((void *)&shim_hot, &info)) atomic_store(&g_self_base, info.dli_fbase);
    atomic_store_explicit(&g_real_dlsym, fn, memory_order_release);
    return fn;
}

SHIM_NO_SANITIZE void *shim_real_dlsym(void *handle, const char *name) {
    dlsym_fn fn = real_dlsym();
    return fn ? fn(handle, name) : NULL;
}

int shim_is_ours(const void *p) {
    Dl_info info;
    real_dlsym();
    return p && dladdr(p, &info) && info.dli_fbase == atomic_load(&g_self_base);
}

struct find_lib { const char *prefix; char path[1024]; };

static int find_lib_cb(struct dl_phdr_info *info, size_t size, void *data) {
    (void)size;
    struct find_lib *f = data;
    const char *name = info->dlpi_name, *base = name ? strrchr(name, '/') : NULL;
    base = base ? base + 1 : name;
    if (base && strncmp(base, f->prefix, strlen(f->prefix)) == 0 && strlen(name) < sizeof f->path) {
        memcpy(f->path, name, strlen(name) + 1);
        return 1;
    }
    return 0;
}

/* The already-loaded library of a family (even one loaded RTLD_LOCAL); never loads anything. */
static void *family_handle(unsigned family) {
    static const char *const prefixes[] = {"libcudart.so", "libcuda.so", "libnvidia-ml.so"};
    struct find_lib f = {prefixes[family], {0}};
    if (!dl_iterate_phdr(find_lib_cb, &f)) return NULL;
    return dlopen(f.path, RTLD_LAZY | RTLD_NOLOAD);
}

/* initial-exec: no __tls_get_addr, so no link to the dynamic loader itself */
static __thread shim_sym_t *t_resolving __attribute__((tls_model("initial-exec")));

static void resolve_current(void) {
    shim_sym_t *sym = t_resolving;
    void *p = shim_real_dlsym(RTLD_NEXT, sym->name);
    if (!p || shim_is_ours(p)) {
        void *h = family_handle(sym->family);
        p = h ? shim_real_dlsym(h, sym->name) : NULL;
    }
    if (p && shim_is_ours(p)) p = NULL; /* never call ourselves */
    void *expected = NULL;
    if (p) atomic_compare_exchange_strong(&sym->real, &expected, p);
    atomic_store(&sym->resolved, 1);
}

void *shim_resolve(shim_sym_t *sym) {
    t_resolving = sym;
    pthread_once(&sym->once, resolve_current);
    return atomic_load_explicit(&sym->real, memory_order_acquire);
}

int shim_missing(shim_sym_t *sym) {
    static const int codes[] = {SHIM_CUDA_ERROR_SYMBOL_NOT_FOUND, SHIM_CUDA_ERROR_NOT_FOUND,
                                SHIM_NVML_ERROR_FUNCTION_NOT_FOUND};
    static const char *const names[] = {"cudaErrorSymbolNotFound", "CUDA_ERROR_NOT_FOUND",
                                        "NVML_ERROR_FUNCTION_NOT_FOUND"};
    if (atomic_exchange(&sym->resolved, 2) != 2) {
        line_t l = {.n = 0};
        put_s(&l, "[cuda-intercept] real ");
        put_s(&l, sym->name);
        put_s(&l, " not found; returning ");
        put_s(&l, names[sym->family]);
        put_s(&l, " (");
        put_i(&l, codes[sym->family]);
        put_s(&l, ")");
        emit(&l);
    }
    return codes[sym->family];
}

/* --- lookup support ------------------------------------------------------------------------ */
shim_sym_t *shim_find(const char *name) {
    shim_sym_t *const *tables[] = {shim_runtime_syms, shim_driver_syms, shim_nvml_syms, shim_lookup_syms};
    for (size_t t = 0; t < sizeof tables / sizeof *tables; t++)
        for (shim_sym_t *const *s = tables[t]; *s; s++)
            if (strcmp((*s)->name, name) == 0) return *s;
    return NULL;
}

static void log_overflow(shim_sym_t *s) {
    static atomic_int warned;
    if (atomic_exchange(&warned, 1)) return;
    line_t l = {.n = 0};
    put_s(&l, "[cuda-intercept] ");
    put_s(&l, s->name);
    put_s(&l, ": more distinct real functions than wrappers; the extra one calls the first");
    emit(&l);
}

/* Our wrapper of `s` whose real call is `pfn`: the exported wrapper when pfn is the exported
 * symbol, else an alternate bound to pfn (claimed once, never rebound), so the pointer a lookup
 * hands out is always ours, whether the driver returned an exported or an internal function. */
void *shim_bind(shim_sym_t *s, void *pfn) {
    if (!pfn || shim_is_ours(pfn)) return pfn;
    if (shim_real(s) == pfn) return s->wrapper;
    for (int k = 0; k < SHIM_ALTS; k++) {
        void *cur = atomic_load_explicit(&s->alt_real[k], memory_order_acquire);
        if (cur == NULL) {
            void *expected = NULL;
            if (atomic_compare_exchange_strong(&s->alt_real[k], &expected, pfn) || expected == pfn)
                return s->alt_wrapper[k];
        } else if (cur == pfn) {
            return s->alt_wrapper[k];
        }
    }
    log_overflow(s);
    return s->wrapper;
}

/* --- lookups ------------------------------------------------------------------------------- */
static const shim_variant_t *const variant_tables[] = {shim_driver_variants, shim_lookup_variants};

/* The variant cuGetProcAddress(base, version, flags) answers: the newest whose first version is
 * not above `version`, per-thread when asked and there is one, else the oldest (a driver that
 * answered a version older than the function: the closest we know). NULL: not a base we know. */
static shim_sym_t *variant_for(const char *base, int version, unsigned long long flags) {
    const shim_variant_t *legacy = NULL, *pt = NULL, *oldest = NULL;
    int want_pt = (flags & SHIM_PER_THREAD_FLAG) != 0;
    for (size_t t = 0; t < sizeof variant_tables / sizeof *variant_tables; t++) {
        for (const shim_variant_t *v = variant_tables[t]; v->base; v++) {
            if (strcmp(v->base, base) != 0) continue;
            if (!oldest || v->version < oldest->version) oldest = v;
            if (v->version > version) continue;
            if (v->per_thread) {
                if (!pt || v->version > pt->version) pt = v;
            } else if (!legacy || v->version > legacy->version) {
                legacy = v;
            }
        }
    }
    const shim_variant_t *v = want_pt && pt ? pt : legacy ? legacy : oldest;
    return v ? v->sym : NULL;
}

/* Is `s` one of the variants of `base`? */
static int is_variant_of(const shim_sym_t *s, const char *base) {
    for (size_t t = 0; t < sizeof variant_tables / sizeof *variant_tables; t++)
        for (const shim_variant_t *v = variant_tables[t]; v->base; v++)
            if (v->sym == s && strcmp(v->base, base) == 0) return 1;
    return 0;
}

static void log_lookup(const char *what, const char *name, int version, unsigned long long flags,
                       const shim_sym_t *s, const void *in, const void *out) {
    if (!g_log_lookups) return;
    line_t l = {.n = 0};
    put_s(&l, "[cuda-intercept] ");
    put_s(&l, what);
    put_s(&l, " ");
    put_s(&l, name);
    if (version >= 0) {
        put_s(&l, " ");
        put_i(&l, version);
        put_s(&l, " ");
        put_i(&l, (long)flags);
    }
    put_s(&l, s ? " -> " : " -> passed");
    if (s) put_s(&l, s->name);
    if (s) put_s(&l, out != in && shim_is_ours(out) ? " (wrapped)" : " (NOT WRAPPED)");
    emit(&l);
}

/* dlsym(handle, name): the function of exactly that name. */
void *shim_wrap_name(const char *name, void *pfn) {
    if (!pfn || !name || shim_disabled() || shim_is_ours(pfn)) return pfn;
    if (strlen(name) > 200) return pfn;
    shim_sym_t *s = shim_find(name);
    void *out = s ? shim_bind(s, pfn) : pfn;
    log_lookup("dlsym", name, -1, 0, s, pfn, out);
    return out;
}

/* cuGetProcAddress*(base, version, flags) and cudaGetDriverEntryPoint*: the exported symbol the
 * pointer is, when it is one we know of that base; else the variant the request implies. */
void *shim_wrap_proc(const char *base, int version, unsigned long long flags, void *pfn) {
    if (!pfn || !base || shim_disabled() || shim_is_ours(pfn)) return pfn;
    if (strlen(base) > 200) return pfn;
    shim_sym_t *s = NULL;
    Dl_info info;
    if (dladdr(pfn, &info) && info.dli_sname && info.dli_saddr == pfn) {
        shim_sym_t *exact = shim_find(info.dli_sname);
        if (exact && (is_variant_of(exact, base) || strcmp(exact->name, base) == 0)) s = exact;
    }
    if (!s) s = variant_for(base, version, flags);
    if (!s) s = shim_find(base); /* asked by its full name (cuMemAlloc_v2, a runtime name) */
    void *out = s ? shim_bind(s, pfn) : pfn;
    log_lookup("lookup", base, version, flags, s, pfn, out);
    return out;
}

/* The driver's exported function `name` (for the per-GPU checks in devices.c), never ours. */
void *shim_real_driver_fn(const char *name) {
    void *p = shim_real_dlsym(RTLD_NEXT, name);
    if (!p || shim_is_ours(p)) {
        void *h = family_handle(SHIM_DRIVER);
        p = h ? shim_real_dlsym(h, name) : NULL;
    }
    return p && !shim_is_ours(p) ? p : NULL;
}
