/* The stub driver's exports for every function of the shim's driver table (driver_table.h):
 * each succeeds, reads nothing, counts and logs its call. They are weak, so the functions
 * cuda_stub.c defines (those whose answers tests read) take their place. Each has an internal
 * twin for STUB_CUDA_PROC=internal (the library is linked -Bsymbolic, so a twin calls the stub's
 * own function, never an interposed one). */
#include "stub_driver.h"

#define GEN(cls, base, ver, pt, name, params, args)                                               \
    API __attribute__((weak)) int name params;                                                    \
    API __attribute__((weak)) int name params {                                                   \
        __atomic_add_fetch(&cuda_stub_calls, 1, __ATOMIC_RELAXED);                                \
        stub_log("CALL", #name, 0, 0, 0);                                                         \
        return 0;                                                                                 \
    }                                                                                             \
    static int internal_##name params { return name args; }
#define GEN_W(cls, base, ver, pt, name, params, args, dev, post) GEN(cls, base, ver, pt, name, params, args)
DRIVER_SYMS(GEN, GEN_W)

const stub_entry_t stub_driver_table[] = {
#define ROW(cls, base, ver, pt, name, params, args) {#base, ver, pt, (void *)name, (void *)internal_##name},
#define ROW_W(cls, base, ver, pt, name, params, args, dev, post) ROW(cls, base, ver, pt, name, params, args)
    DRIVER_SYMS(ROW, ROW_W)
    {0, 0, 0, 0, 0}};
