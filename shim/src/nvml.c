/*
 * nvml.c - NVML (libnvidia-ml.so.1) device queries, so in-pod monitoring agrees with CUDA.
 *
 * Why: with XID 79 the GPU is gone; an agent that asks NVML must hear NVML_ERROR_GPU_IS_LOST,
 * not a healthy device, or the simulation contradicts itself. Other XIDs leave NVML alone.
 * Must not: fail anything for an XID whose catalogue entry does not say the GPU is lost.
 */
#include "shim.h"

typedef void *nvml_device_t;

#define N(cls, name, params, args) SHIM_WRAP(SHIM_NVML, cls, name, params, args)
#define NVML_SYMS(X)                                                                                \
    X(SHIM_C_NVML, nvmlInit, (void), ())                                                          \
    X(SHIM_C_NVML, nvmlInit_v2, (void), ())                                                       \
    X(SHIM_C_NVML, nvmlInitWithFlags, (unsigned flags), (flags))                                  \
    X(SHIM_C_NVML, nvmlDeviceGetCount, (unsigned *count), (count))                                \
    X(SHIM_C_NVML, nvmlDeviceGetCount_v2, (unsigned *count), (count))                             \
    X(SHIM_C_NVML, nvmlDeviceGetHandleByIndex, (unsigned i, nvml_device_t *d), (i, d))            \
    X(SHIM_C_NVML, nvmlDeviceGetHandleByIndex_v2, (unsigned i, nvml_device_t *d), (i, d))         \
    X(SHIM_C_NVML, nvmlDeviceGetHandleByUUID, (const char *uuid, nvml_device_t *d), (uuid, d))    \
    X(SHIM_C_NVML, nvmlDeviceGetHandleByPciBusId_v2, (const char *bus, nvml_device_t *d), (bus, d))

NVML_SYMS(N)

shim_sym_t *const shim_nvml_syms[] = {
#define E(cls, name, params, args) SHIM_ENTRY(name)
    NVML_SYMS(E)
#undef E
    NULL};
