/* stub_driver.h - what the two files of the stub driver share (cuda_stub.c, cuda_stub_gen.c). */
#ifndef CUDA_STUB_DRIVER_H
#define CUDA_STUB_DRIVER_H

#include "driver_table.h" /* the shim's table of driver functions: the names a driver exports */

#define API __attribute__((visibility("default")))

/* One answer of cuGetProcAddress: a base name and version, the exported function and its
 * internal twin (same behaviour, another address, no symbol), as a real driver may hand out. */
typedef struct {
    const char *base;
    int version, per_thread;
    void *exported, *internal;
} stub_entry_t;

extern const stub_entry_t stub_driver_table[];
extern long cuda_stub_calls;
void stub_log(const char *what, const char *name, int version, unsigned long long flags, int with_version);

#endif
