/* Stub NVML (libnvidia-ml.so.1) for tests; contract in stub.h. Devices: STUB_NVML_DEVICES
 * (default 2), UUIDs as the stub driver's (STUB_CUDA_UUIDS, else byte 0x10 + index). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stub.h"

#define API __attribute__((visibility("default")))
API long nvml_stub_calls;
#define BUMP() __atomic_add_fetch(&nvml_stub_calls, 1, __ATOMIC_RELAXED)
#define BAD_ARG 2 /* NVML_ERROR_INVALID_ARGUMENT */
#define NOT_FOUND 6 /* NVML_ERROR_NOT_FOUND */

static unsigned count(void) {
    const char *v = getenv("STUB_NVML_DEVICES");
    int n = v && *v ? atoi(v) : STUB_NVML_COUNT;
    return n < 0 ? 0u : n > 64 ? 64u : (unsigned)n;
}

/* "GPU-xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" of device i */
static void uuid_of(unsigned i, char out[48]) {
    unsigned char b[16];
    memset(b, STUB_UUID_BYTE((int)i), 16);
    const char *v = getenv("STUB_CUDA_UUIDS");
    for (unsigned k = 0; v && *v && k < i; k++) { v = strchr(v, ','); if (v) v++; }
    if (v && *v) {
        if (strncmp(v, "GPU-", 4) == 0 || strncmp(v, "MIG-", 4) == 0) v += 4;
        int k = 0;
        for (; *v && *v != ',' && k < 32; v++) {
            int d = *v >= '0' && *v <= '9' ? *v - '0' : *v >= 'a' && *v <= 'f' ? *v - 'a' + 10
                    : *v >= 'A' && *v <= 'F' ? *v - 'A' + 10 : -1;
            if (d < 0) continue;
            b[k / 2] = (unsigned char)(k % 2 ? (b[k / 2] & 0xF0) | d : d << 4);
            k++;
        }
    }
    snprintf(out, 48, "GPU-%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2],
             b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}

static int index_of(void *d) {
    unsigned long v = (unsigned long)d;
    return v >= 0xA0ul && v < 0xA0ul + count() ? (int)(v - 0xA0ul) : -1;
}

API int nvmlInit(void) { BUMP(); return 0; }
API int nvmlInit_v2(void) { BUMP(); return 0; }
API int nvmlInitWithFlags(unsigned f) { (void)f; BUMP(); return 0; }
API int nvmlShutdown(void) { BUMP(); return 0; }
API int nvmlDeviceGetCount(unsigned *c) { BUMP(); if (c) *c = count(); return 0; }
API int nvmlDeviceGetCount_v2(unsigned *c) { BUMP(); if (c) *c = count(); return 0; }
API int nvmlDeviceGetHandleByIndex_v2(unsigned i, void **d) {
    BUMP();
    if (i >= count()) return BAD_ARG;
    if (d) *d = (void *)(0xA0ul + i);
    return 0;
}
API int nvmlDeviceGetHandleByIndex(unsigned i, void **d) { return nvmlDeviceGetHandleByIndex_v2(i, d); }
API int nvmlDeviceGetHandleByUUID(const char *uuid, void **d) {
    BUMP();
    char u[48];
    for (unsigned i = 0; uuid && i < count(); i++) {
        uuid_of(i, u);
        if (strcasecmp(u, uuid) == 0) { if (d) *d = (void *)(0xA0ul + i); return 0; }
    }
    return NOT_FOUND;
}
API int nvmlDeviceGetUUID(void *d, char *buf, unsigned n) {
    BUMP();
    int i = index_of(d);
    if (i < 0 || !buf || n < 41) return BAD_ARG;
    char u[48];
    uuid_of((unsigned)i, u);
    snprintf(buf, n, "%s", u);
    return 0;
}
API int nvmlDeviceGetName(void *d, char *buf, unsigned n) {
    BUMP();
    int i = index_of(d);
    if (i < 0 || !buf || n == 0) return BAD_ARG;
    snprintf(buf, n, "stub-gpu-%d", i);
    return 0;
}
API int nvmlDeviceGetIndex(void *d, unsigned *out) {
    BUMP();
    int i = index_of(d);
    if (i < 0) return BAD_ARG;
    if (out) *out = (unsigned)i;
    return 0;
}
API int nvmlDeviceGetMemoryInfo(void *d, unsigned long long *m) {
    BUMP();
    if (index_of(d) < 0) return BAD_ARG;
    if (m) { m[0] = 16ull << 30; m[1] = 15ull << 30; m[2] = 1ull << 30; } /* total, free, used */
    return 0;
}
API int nvmlDeviceGetTemperature(void *d, int sensor, unsigned *t) {
    (void)sensor;
    BUMP();
    if (index_of(d) < 0) return BAD_ARG;
    if (t) *t = 40;
    return 0;
}
