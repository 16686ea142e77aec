/*
 * nvml.c - NVML (libnvidia-ml.so.1) device queries, so in-pod monitoring agrees with CUDA.
 *
 * Why: with XID 79 the GPU is gone; an agent that asks NVML must hear NVML_ERROR_GPU_IS_LOST,
 * not a healthy device, or the simulation contradicts itself. Other XIDs leave NVML alone. A
 * process that heard it keeps hearing it (a lost GPU stays lost for the process that saw it).
 * With `gpus=`, only the lost device is gone: nvmlDeviceGetHandleBy* for it and every
 * per-device query on its handle, while the others answer.
 * Must not: fail anything for an XID whose catalogue entry does not say the GPU is lost; read
 * an argument other than an index or UUID passed in, or a handle returned by a successful call.
 */
/* Hundreds of small wrappers: at -O1 (with tail calls, and shim.h's inline hot path inlined)
 * they build in a third of the time of -O2, with the same hot-path instructions (bench/shim). */
#ifndef __clang__ /* gcc only (the init container's build); zig cc builds `make dist` at -O2 */
#pragma GCC optimize("O1", "optimize-sibling-calls")
#endif
#include "shim.h"

typedef void *nvml_device_t;

/* The body of every NVML wrapper: `index`, `uuid` and `handle` say which device the call is
 * about (-1/NULL: none or not known before the call); `out` is where a handle lookup writes the
 * handle (NULL otherwise): it is recorded and, when only its UUID can tell, decided after. */
#define NVML_BODY(fname, REAL, params, args, index, uuid, handle, out, post)                      \
    {                                                                                             \
        typedef int (*shim_fn_t) params;                                                          \
        int shim_err = 0;                                                                         \
        if (SHIM_UNLIKELY(atomic_load_explicit(&shim_hot, memory_order_relaxed) != 0))            \
            shim_err = shim_nvml_fault(&shim_sym_##fname, (index), (uuid), (handle), (out) == NULL); \
        if (SHIM_UNLIKELY(shim_err > 0)) return shim_err;                                         \
        shim_fn_t shim_fn = (shim_fn_t)(REAL);                                                    \
        if (SHIM_UNLIKELY(shim_fn == NULL)) return shim_missing(&shim_sym_##fname);               \
        int shim_rc = shim_fn args;                                                               \
        if (shim_rc == 0) {                                                                       \
            post;                                                                                 \
            void **shim_out = (void **)(out);                                                     \
            if (shim_out) {                                                                       \
                shim_note_nvml_handle(*shim_out, (index), (uuid));                                \
                if (SHIM_UNLIKELY(atomic_load_explicit(&shim_hot, memory_order_relaxed) != 0)) {  \
                    shim_err = shim_nvml_fault(&shim_sym_##fname, (index), (uuid), *shim_out, 1); \
                    if (shim_err > 0) return shim_err;                                            \
                }                                                                                 \
            }                                                                                     \
        }                                                                                         \
        return shim_rc;                                                                           \
    }
#define NV(fname, params, args, index, uuid, handle, out, post)                                   \
    SHIM_DEFINE(fname, params, NVML_BODY, params, args, index, uuid, handle, out, post)           \
    SHIM_SYM(SHIM_NVML, SHIM_C_NVML, fname)

/* no device / a lookup by index or UUID / a query on a device's handle */
#define NONE(fname, params, args, post) NV(fname, params, args, -1, (const char *)NULL, NULL, NULL, post)
#define BY(fname, params, args, index, uuid, out) NV(fname, params, args, index, uuid, NULL, out, (void)0)
#define ON(fname, params, args) NV(fname, params, args, -1, (const char *)NULL, d, NULL, (void)0)

#define NVML_SYMS(X0, XB, XD)                                                                      \
    X0(nvmlInit, (void), (), shim_note_nvml_init())                                                \
    X0(nvmlInit_v2, (void), (), shim_note_nvml_init())                                             \
    X0(nvmlInitWithFlags, (unsigned flags), (flags), shim_note_nvml_init())                        \
    X0(nvmlDeviceGetCount, (unsigned *count), (count), (void)0)                                    \
    X0(nvmlDeviceGetCount_v2, (unsigned *count), (count), (void)0)                                 \
    XB(nvmlDeviceGetHandleByIndex, (unsigned i, nvml_device_t *d), (i, d), (int)i, (const char *)NULL, d) \
    XB(nvmlDeviceGetHandleByIndex_v2, (unsigned i, nvml_device_t *d), (i, d), (int)i, (const char *)NULL, d) \
    XB(nvmlDeviceGetHandleByUUID, (const char *uuid, nvml_device_t *d), (uuid, d), -1, uuid, d)   \
    XB(nvmlDeviceGetHandleByPciBusId, (const char *bus, nvml_device_t *d), (bus, d), -1, (const char *)NULL, d) \
    XB(nvmlDeviceGetHandleByPciBusId_v2, (const char *bus, nvml_device_t *d), (bus, d), -1, (const char *)NULL, d) \
    XB(nvmlDeviceGetHandleBySerial, (const char *serial, nvml_device_t *d), (serial, d), -1, (const char *)NULL, d) \
    XD(nvmlDeviceGetUUID, (nvml_device_t d, char *buf, unsigned n), (d, buf, n))                   \
    XD(nvmlDeviceGetName, (nvml_device_t d, char *buf, unsigned n), (d, buf, n))                   \
    XD(nvmlDeviceGetSerial, (nvml_device_t d, char *buf, unsigned n), (d, buf, n))                 \
    XD(nvmlDeviceGetIndex, (nvml_device_t d, unsigned *i), (d, i))                                 \
    XD(nvmlDeviceGetMinorNumber, (nvml_device_t d, unsigned *m), (d, m))                           \
    XD(nvmlDeviceGetPciInfo, (nvml_device_t d, void *pci), (d, pci))                               \
    XD(nvmlDeviceGetPciInfo_v2, (nvml_device_t d, void *pci), (d, pci))                            \
    XD(nvmlDeviceGetPciInfo_v3, (nvml_device_t d, void *pci), (d, pci))                            \
    XD(nvmlDeviceGetMemoryInfo, (nvml_device_t d, void *mem), (d, mem))                            \
    XD(nvmlDeviceGetMemoryInfo_v2, (nvml_device_t d, void *mem), (d, mem))                         \
    XD(nvmlDeviceGetBAR1MemoryInfo, (nvml_device_t d, void *mem), (d, mem))                        \
    XD(nvmlDeviceGetUtilizationRates, (nvml_device_t d, void *u), (d, u))                          \
    XD(nvmlDeviceGetTemperature, (nvml_device_t d, int sensor, unsigned *t), (d, sensor, t))       \
    XD(nvmlDeviceGetPowerUsage, (nvml_device_t d, unsigned *mw), (d, mw))                          \
    XD(nvmlDeviceGetEnforcedPowerLimit, (nvml_device_t d, unsigned *mw), (d, mw))                  \
    XD(nvmlDeviceGetPowerState, (nvml_device_t d, int *p), (d, p))                                 \
    XD(nvmlDeviceGetPerformanceState, (nvml_device_t d, int *p), (d, p))                           \
    XD(nvmlDeviceGetClockInfo, (nvml_device_t d, int type, unsigned *mhz), (d, type, mhz))         \
    XD(nvmlDeviceGetFanSpeed, (nvml_device_t d, unsigned *pct), (d, pct))                          \
    XD(nvmlDeviceGetEccMode, (nvml_device_t d, int *cur, int *pending), (d, cur, pending))         \
    XD(nvmlDeviceGetTotalEccErrors, (nvml_device_t d, int type, int counter, unsigned long long *n), (d, type, counter, n)) \
    XD(nvmlDeviceGetCudaComputeCapability, (nvml_device_t d, int *major, int *minor), (d, major, minor)) \
    XD(nvmlDeviceGetArchitecture, (nvml_device_t d, unsigned *arch), (d, arch))                    \
    XD(nvmlDeviceGetComputeRunningProcesses, (nvml_device_t d, unsigned *n, void *p), (d, n, p))   \
    XD(nvmlDeviceGetComputeRunningProcesses_v2, (nvml_device_t d, unsigned *n, void *p), (d, n, p)) \
    XD(nvmlDeviceGetComputeRunningProcesses_v3, (nvml_device_t d, unsigned *n, void *p), (d, n, p))

NVML_SYMS(NONE, BY, ON)

shim_sym_t *const shim_nvml_syms[] = {
#define E0(name, params, args, post) SHIM_ENTRY(name)
#define EB(name, params, args, index, uuid, out) SHIM_ENTRY(name)
#define ED(name, params, args) SHIM_ENTRY(name)
    NVML_SYMS(E0, EB, ED)
    NULL};
