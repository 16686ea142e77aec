/* A fake CUDA runtime (libcudart.so, with the driver-level device queries) for the embedded
 * cluster's inference worker.
 *
 * It exists so that a real, dynamically linked program calls real CUDA symbols that the
 * fault-injection shim (LD_PRELOAD) can interpose, on machines without a GPU. Every call succeeds
 * with plausible behaviour: device memory is host memory, kernels do nothing. The devices are the
 * node's GPUs the container may see, as the NVIDIA container runtime and CUDA decide it:
 *   CHAOS_SIM_GPUS            the node's GPUs, `UUID@PCI-bus-id,...` in index order (the kubelet
 *                             sets it, as the driver knows them; unset: one default GPU);
 *   CHAOS_SIM_GPU_NAME, CHAOS_SIM_GPU_MEMORY_MIB, CHAOS_SIM_GPU_CC (`9.0`)   the product;
 *   NVIDIA_VISIBLE_DEVICES    which of them the container got: UUIDs or indexes, `all`, or
 *                             `void`/`none`/empty for none (unset: all, as outside a container),
 *                             enumerated in the node's order as the driver does;
 *   CUDA_VISIBLE_DEVICES      then narrows and orders them: indexes into that list or UUID
 *                             prefixes, stopping at the first entry that names nothing.
 * cudaGetDeviceCount, cudaGetDeviceProperties (uuid, pciBusID, ...), cudaDeviceGetAttribute,
 * cudaDeviceGetPCIBusId and the driver's cuDeviceGet* report exactly those devices.
 * It must not fail on its own: faults come only from the shim. Error names come from
 * cuda_errors.h, generated from runner/xid.py at build time (the single source of truth).
 */
#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cuda_errors.h"
#include "fake_cuda.h"

#define MAX_GPUS 64
#define DEFAULT_GPUS "GPU-4d3b3c1e-5a0f-5c6e-9b8a-000000000000@00000000:18:00.0"

typedef struct {
    char uuid[48];
    unsigned char bytes[16];
    unsigned domain, bus, device;
} gpu_t;

static gpu_t node_gpus[MAX_GPUS];
static int node_count = 0;
static gpu_t gpus[MAX_GPUS]; /* the visible ones, in CUDA's order */
static int gpu_count = 0;
static char product[256] = "NVIDIA H100 80GB HBM3";
static size_t memory_bytes = (size_t)81559 << 20;
static int cc_major = 9, cc_minor = 0;
static pthread_once_t loaded = PTHREAD_ONCE_INIT;

static __thread cudaError_t last_error = 0;
static __thread int current = 0;
static unsigned long kernels_launched = 0;

static int parse_uuid(const char *text, unsigned char out[16]) {
    const char *p = text;
    int n = 0;
    if (strncasecmp(p, "GPU-", 4) == 0) p += 4;
    while (*p && n < 32) {
        if (*p == '-') {
            p++;
            continue;
        }
        if (!isxdigit((unsigned char)p[0])) return -1;
        int v = isdigit((unsigned char)*p) ? *p - '0' : (tolower((unsigned char)*p) - 'a' + 10);
        if (n % 2 == 0) out[n / 2] = (unsigned char)(v << 4);
        else out[n / 2] |= (unsigned char)v;
        n++;
        p++;
    }
    return n == 32 ? 0 : -1;
}

/* One `UUID@DOMAIN:BUS:DEVICE.FUNCTION` entry of CHAOS_SIM_GPUS. */
static int parse_gpu(const char *entry, gpu_t *g) {
    const char *at = strchr(entry, '@');
    size_t len = at ? (size_t)(at - entry) : strlen(entry);
    memset(g, 0, sizeof *g);
    if (len == 0 || len >= sizeof g->uuid) return -1;
    memcpy(g->uuid, entry, len);
    if (parse_uuid(g->uuid, g->bytes) != 0) return -1;
    if (at && sscanf(at + 1, "%x:%x:%x", &g->domain, &g->bus, &g->device) != 3) return -1;
    return 0;
}

static char *next_token(char **cursor) {
    char *tok = *cursor;
    if (tok == NULL) return NULL;
    char *comma = strchr(tok, ',');
    *cursor = comma ? comma + 1 : NULL;
    if (comma) *comma = '\0';
    while (isspace((unsigned char)*tok)) tok++;
    char *end = tok + strlen(tok);
    while (end > tok && isspace((unsigned char)end[-1])) *--end = '\0';
    return tok;
}

static int all_digits(const char *s) {
    if (!*s) return 0;
    for (; *s; s++)
        if (!isdigit((unsigned char)*s)) return 0;
    return 1;
}

/* The first of `list` whose UUID starts with `prefix` (case-insensitive), or -1. */
static int find_uuid(const gpu_t *list, int n, const char *prefix) {
    size_t len = strlen(prefix);
    for (int i = 0; i < n; i++)
        if (len && strncasecmp(list[i].uuid, prefix, len) == 0) return i;
    return -1;
}

static void load(void) {
    const char *env = getenv("CHAOS_SIM_GPUS");
    char buf[8192];
    snprintf(buf, sizeof buf, "%s", env && *env ? env : DEFAULT_GPUS);
    char *cursor = buf, *tok;
    while ((tok = next_token(&cursor)) != NULL && node_count < MAX_GPUS)
        if (*tok && parse_gpu(tok, &node_gpus[node_count]) == 0) node_count++;
    if ((env = getenv("CHAOS_SIM_GPU_NAME")) != NULL && *env) snprintf(product, sizeof product, "%s", env);
    if ((env = getenv("CHAOS_SIM_GPU_MEMORY_MIB")) != NULL && atol(env) > 0) memory_bytes = (size_t)atol(env) << 20;
    if ((env = getenv("CHAOS_SIM_GPU_CC")) != NULL) sscanf(env, "%d.%d", &cc_major, &cc_minor);

    /* NVIDIA_VISIBLE_DEVICES: which GPUs the container runtime gives the container; CUDA
     * enumerates them in the driver's (PCI) order, whatever order the variable lists them in */
    gpu_t given[MAX_GPUS];
    int given_count = 0, mounted[MAX_GPUS] = {0};
    const char *nvd = getenv("NVIDIA_VISIBLE_DEVICES");
    if (nvd == NULL || strcmp(nvd, "all") == 0) {
        for (int i = 0; i < node_count; i++) mounted[i] = 1;
    } else if (strcmp(nvd, "void") != 0 && strcmp(nvd, "none") != 0) {
        snprintf(buf, sizeof buf, "%s", nvd);
        cursor = buf;
        while ((tok = next_token(&cursor)) != NULL) {
            int i = all_digits(tok) ? atoi(tok) : find_uuid(node_gpus, node_count, tok);
            if (i >= 0 && i < node_count && (all_digits(tok) || strcasecmp(node_gpus[i].uuid, tok) == 0))
                mounted[i] = 1;
        }
    }
    for (int i = 0; i < node_count; i++)
        if (mounted[i]) given[given_count++] = node_gpus[i];
    /* CUDA_VISIBLE_DEVICES: what CUDA enumerates of those */
    const char *cvd = getenv("CUDA_VISIBLE_DEVICES");
    if (cvd == NULL) {
        memcpy(gpus, given, sizeof given);
        gpu_count = given_count;
        return;
    }
    snprintf(buf, sizeof buf, "%s", cvd);
    cursor = buf;
    int taken[MAX_GPUS] = {0};
    while ((tok = next_token(&cursor)) != NULL && gpu_count < MAX_GPUS) {
        int i = all_digits(tok) ? atoi(tok) : find_uuid(given, given_count, tok);
        if (i < 0 || i >= given_count || taken[i]) break; /* CUDA stops at the first bad entry */
        taken[i] = 1;
        gpus[gpu_count++] = given[i];
    }
}

static int devices(void) {
    pthread_once(&loaded, load);
    return gpu_count;
}

static const gpu_t *gpu(int device) {
    return device >= 0 && device < devices() ? &gpus[device] : NULL;
}

static cudaError_t fail(cudaError_t err) {
    last_error = err;
    return err;
}

/* --- errors --------------------------------------------------------------------------------- */

const char *cudaGetErrorName(cudaError_t err) {
    for (size_t i = 0; i < sizeof(CHAOS_CUDA_ERRORS) / sizeof(CHAOS_CUDA_ERRORS[0]); i++) {
        if (CHAOS_CUDA_ERRORS[i].code == err) return CHAOS_CUDA_ERRORS[i].name;
    }
    switch (err) {
    case cudaSuccess: return "cudaSuccess";
    case cudaErrorInvalidValue: return "cudaErrorInvalidValue";
    case cudaErrorMemoryAllocation: return "cudaErrorMemoryAllocation";
    case cudaErrorInvalidConfiguration: return "cudaErrorInvalidConfiguration";
    case cudaErrorInvalidDevice: return "cudaErrorInvalidDevice";
    default: return "cudaErrorUnknown";
    }
}

const char *cudaGetErrorString(cudaError_t err) {
    return err == 0 ? "no error" : cudaGetErrorName(err);
}

cudaError_t cudaGetLastError(void) {
    cudaError_t e = last_error;
    last_error = 0;
    return e;
}

cudaError_t cudaPeekAtLastError(void) { return last_error; }

/* --- devices -------------------------------------------------------------------------------- */

cudaError_t cudaGetDeviceCount(int *count) {
    if (count == NULL) return fail(cudaErrorInvalidValue);
    *count = devices();
    return *count ? cudaSuccess : fail(cudaErrorNoDevice);
}

cudaError_t cudaGetDevice(int *device) {
    if (device == NULL) return fail(cudaErrorInvalidValue);
    if (devices() == 0) return fail(cudaErrorNoDevice);
    *device = current;
    return cudaSuccess;
}

cudaError_t cudaSetDevice(int device) {
    if (devices() == 0) return fail(cudaErrorNoDevice);
    if (gpu(device) == NULL) return fail(cudaErrorInvalidDevice);
    current = device;
    return cudaSuccess;
}

static void fill_props(struct cudaDeviceProp *p, const gpu_t *g) {
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "%s", product);
    memcpy(p->uuid.bytes, g->bytes, sizeof p->uuid.bytes);
    p->totalGlobalMem = memory_bytes;
    p->sharedMemPerBlock = 48 * 1024;
    p->regsPerBlock = 65536;
    p->warpSize = 32;
    p->maxThreadsPerBlock = 1024;
    p->maxThreadsDim[0] = p->maxThreadsDim[1] = 1024;
    p->maxThreadsDim[2] = 64;
    p->maxGridSize[0] = 2147483647;
    p->maxGridSize[1] = p->maxGridSize[2] = 65535;
    p->major = cc_major;
    p->minor = cc_minor;
    p->multiProcessorCount = 132;
    p->concurrentKernels = 1;
    p->ECCEnabled = 1;
    p->pciBusID = (int)g->bus;
    p->pciDeviceID = (int)g->device;
    p->pciDomainID = (int)g->domain;
    p->asyncEngineCount = 3;
    p->unifiedAddressing = 1;
    p->memoryBusWidth = 5120;
    p->l2CacheSize = 50 * 1024 * 1024;
    p->maxThreadsPerMultiProcessor = 2048;
    p->managedMemory = 1;
    p->isMultiGpuBoard = 0;
}

cudaError_t cudaGetDeviceProperties_v2(struct cudaDeviceProp *prop, int device) {
    const gpu_t *g = gpu(device);
    if (prop == NULL) return fail(cudaErrorInvalidValue);
    if (g == NULL) return fail(devices() ? cudaErrorInvalidDevice : cudaErrorNoDevice);
    fill_props(prop, g);
    return cudaSuccess;
}

cudaError_t cudaGetDeviceProperties(struct cudaDeviceProp *prop, int device) {
    return cudaGetDeviceProperties_v2(prop, device);
}

static int attribute(const gpu_t *g, int attr, int *value) {
    switch (attr) {
    case cudaDevAttrMaxThreadsPerBlock: *value = 1024; return 0;
    case cudaDevAttrWarpSize: *value = 32; return 0;
    case cudaDevAttrMultiProcessorCount: *value = 132; return 0;
    case cudaDevAttrPciBusId: *value = (int)g->bus; return 0;
    case cudaDevAttrPciDeviceId: *value = (int)g->device; return 0;
    case cudaDevAttrPciDomainId: *value = (int)g->domain; return 0;
    case cudaDevAttrComputeCapabilityMajor: *value = cc_major; return 0;
    case cudaDevAttrComputeCapabilityMinor: *value = cc_minor; return 0;
    default: return -1;
    }
}

cudaError_t cudaDeviceGetAttribute(int *value, int attr, int device) {
    const gpu_t *g = gpu(device);
    if (value == NULL) return fail(cudaErrorInvalidValue);
    if (g == NULL) return fail(cudaErrorInvalidDevice);
    return attribute(g, attr, value) == 0 ? cudaSuccess : fail(cudaErrorInvalidValue);
}

static int format_bus_id(char *out, int len, const gpu_t *g) {
    if (out == NULL || len <= 0) return -1;
    snprintf(out, (size_t)len, "%04X:%02X:%02X.0", g->domain, g->bus, g->device);
    return 0;
}

cudaError_t cudaDeviceGetPCIBusId(char *pci_bus_id, int len, int device) {
    const gpu_t *g = gpu(device);
    if (g == NULL) return fail(cudaErrorInvalidDevice);
    return format_bus_id(pci_bus_id, len, g) == 0 ? cudaSuccess : fail(cudaErrorInvalidValue);
}

cudaError_t cudaDeviceGetByPCIBusId(int *device, const char *pci_bus_id) {
    unsigned domain, bus, dev;
    if (device == NULL || pci_bus_id == NULL) return fail(cudaErrorInvalidValue);
    if (sscanf(pci_bus_id, "%x:%x:%x", &domain, &bus, &dev) != 3) {
        domain = 0;
        if (sscanf(pci_bus_id, "%x:%x", &bus, &dev) != 2) return fail(cudaErrorInvalidValue);
    }
    for (int i = 0; i < devices(); i++) {
        if (gpus[i].domain == domain && gpus[i].bus == bus && gpus[i].device == dev) {
            *device = i;
            return cudaSuccess;
        }
    }
    return fail(cudaErrorInvalidDevice);
}

cudaError_t cudaDriverGetVersion(int *version) {
    if (version == NULL) return fail(cudaErrorInvalidValue);
    *version = 12040;
    return cudaSuccess;
}

cudaError_t cudaRuntimeGetVersion(int *version) {
    if (version == NULL) return fail(cudaErrorInvalidValue);
    *version = 12040;
    return cudaSuccess;
}

cudaError_t cudaMemGetInfo(size_t *free_bytes, size_t *total_bytes) {
    if (free_bytes == NULL || total_bytes == NULL) return fail(cudaErrorInvalidValue);
    if (devices() == 0) return fail(cudaErrorNoDevice);
    *total_bytes = memory_bytes;
    *free_bytes = memory_bytes - memory_bytes / 10;
    return cudaSuccess;
}

/* --- memory, kernels, synchronisation -------------------------------------------------------- */

cudaError_t cudaMalloc(void **ptr, size_t size) {
    if (ptr == NULL) return fail(cudaErrorInvalidValue);
    if (devices() == 0) return fail(cudaErrorNoDevice);
    *ptr = malloc(size ? size : 1);
    return *ptr ? cudaSuccess : fail(cudaErrorMemoryAllocation);
}

cudaError_t cudaFree(void *ptr) {
    free(ptr);
    return cudaSuccess;
}

cudaError_t cudaMemcpy(void *dst, const void *src, size_t count, int kind) {
    (void)kind;
    if (count && (dst == NULL || src == NULL)) return fail(cudaErrorInvalidValue);
    if (count) memmove(dst, src, count);
    return cudaSuccess;
}

cudaError_t cudaMemset(void *ptr, int value, size_t count) {
    if (count && ptr == NULL) return fail(cudaErrorInvalidValue);
    if (count) memset(ptr, value, count);
    return cudaSuccess;
}

cudaError_t cudaLaunchKernel(const void *func, dim3 grid, dim3 block, void **args, size_t shared,
                             cudaStream_t stream) {
    (void)func; (void)args; (void)shared; (void)stream;
    if (grid.x == 0 || block.x == 0) return fail(cudaErrorInvalidConfiguration);
    __atomic_add_fetch(&kernels_launched, 1, __ATOMIC_RELAXED);
    return cudaSuccess;
}

cudaError_t cudaStreamCreate(cudaStream_t *stream) {
    if (stream == NULL) return fail(cudaErrorInvalidValue);
    *stream = (cudaStream_t)&kernels_launched;
    return cudaSuccess;
}

cudaError_t cudaStreamSynchronize(cudaStream_t stream) {
    (void)stream;
    return cudaSuccess;
}

cudaError_t cudaStreamDestroy(cudaStream_t stream) {
    (void)stream;
    return cudaSuccess;
}

cudaError_t cudaDeviceSynchronize(void) { return cudaSuccess; }

cudaError_t cudaDeviceReset(void) { return cudaSuccess; }

/* --- the driver's device queries (libcuda.so.1's, for programs that ask the driver) ---------- */

CUresult cuInit(unsigned int flags) {
    (void)flags;
    return devices() ? cudaSuccess : cudaErrorNoDevice; /* CUDA_ERROR_NO_DEVICE */
}

CUresult cuDriverGetVersion(int *version) {
    if (version == NULL) return cudaErrorInvalidValue;
    *version = 12040;
    return cudaSuccess;
}

CUresult cuDeviceGetCount(int *count) {
    if (count == NULL) return cudaErrorInvalidValue;
    *count = devices();
    return cudaSuccess;
}

CUresult cuDeviceGet(CUdevice *device, int ordinal) {
    if (device == NULL) return cudaErrorInvalidValue;
    if (gpu(ordinal) == NULL) return cudaErrorInvalidDevice; /* CUDA_ERROR_INVALID_DEVICE */
    *device = ordinal;
    return cudaSuccess;
}

CUresult cuDeviceGetName(char *name, int len, CUdevice device) {
    if (name == NULL || len <= 0) return cudaErrorInvalidValue;
    if (gpu(device) == NULL) return cudaErrorInvalidDevice;
    snprintf(name, (size_t)len, "%s", product);
    return cudaSuccess;
}

CUresult cuDeviceGetUuid_v2(CUuuid *uuid, CUdevice device) {
    const gpu_t *g = gpu(device);
    if (uuid == NULL) return cudaErrorInvalidValue;
    if (g == NULL) return cudaErrorInvalidDevice;
    memcpy(uuid->bytes, g->bytes, sizeof uuid->bytes);
    return cudaSuccess;
}

CUresult cuDeviceGetUuid(CUuuid *uuid, CUdevice device) { return cuDeviceGetUuid_v2(uuid, device); }

CUresult cuDeviceGetPCIBusId(char *pci_bus_id, int len, CUdevice device) {
    const gpu_t *g = gpu(device);
    if (g == NULL) return cudaErrorInvalidDevice;
    return format_bus_id(pci_bus_id, len, g) == 0 ? cudaSuccess : cudaErrorInvalidValue;
}

CUresult cuDeviceTotalMem_v2(size_t *bytes, CUdevice device) {
    if (bytes == NULL) return cudaErrorInvalidValue;
    if (gpu(device) == NULL) return cudaErrorInvalidDevice;
    *bytes = memory_bytes;
    return cudaSuccess;
}

CUresult cuDeviceGetAttribute(int *value, int attr, CUdevice device) {
    const gpu_t *g = gpu(device);
    if (value == NULL) return cudaErrorInvalidValue;
    if (g == NULL) return cudaErrorInvalidDevice;
    return attribute(g, attr, value) == 0 ? cudaSuccess : cudaErrorInvalidValue;
}
