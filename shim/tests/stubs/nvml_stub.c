/* Stub NVML (libnvidia-ml.so.1) for tests; contract in stub.h. */
#include "stub.h"

#define API __attribute__((visibility("default")))
API long nvml_stub_calls;
#define BUMP() __atomic_add_fetch(&nvml_stub_calls, 1, __ATOMIC_RELAXED)

API int nvmlInit(void) { BUMP(); return 0; }
API int nvmlInit_v2(void) { BUMP(); return 0; }
API int nvmlInitWithFlags(unsigned f) { (void)f; BUMP(); return 0; }
API int nvmlShutdown(void) { BUMP(); return 0; }
API int nvmlDeviceGetCount(unsigned *c) { BUMP(); if (c) *c = STUB_NVML_COUNT; return 0; }
API int nvmlDeviceGetCount_v2(unsigned *c) { BUMP(); if (c) *c = STUB_NVML_COUNT; return 0; }
API int nvmlDeviceGetHandleByIndex(unsigned i, void **d) { BUMP(); if (d) *d = (void *)(0xA0ul + i); return 0; }
API int nvmlDeviceGetHandleByIndex_v2(unsigned i, void **d) { BUMP(); if (d) *d = (void *)(0xA0ul + i); return 0; }
