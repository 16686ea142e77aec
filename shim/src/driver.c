/*
 * driver.c - the CUDA driver API (libcuda.so.1) entry points, as ONE table of variants.
 *
 * Why: programs reach the driver three ways: by linking libcuda directly, through dlsym (Triton
 * and friends dlopen libcuda), and through cuGetProcAddress (every cudart since CUDA 11.3,
 * static or shared, cuda-bindings, numba-cuda). All three end at these wrappers; lookup.c swaps
 * the pointers. cuGetProcAddress is asked for a BASE name and a CUDA version ("cuMemAlloc",
 * 3020) and may hand out an exported symbol or an internal function: the table below says, for
 * each base name, which variant (the exported name, e.g. cuMemAlloc_v2) answers which version
 * and stream flag, so a pointer is wrapped by what was asked, whatever the driver returned.
 * The table lives in driver_table.h; a new CUDA release is an edit there.
 * Must not: call cuInit or anything else on its own, or read any argument other than a device
 * ordinal passed by value (and an out-parameter after the real call succeeded, to track devices).
 */
/* Hundreds of small wrappers: at -O1 (with tail calls, and shim.h's inline hot path inlined)
 * they build in a third of the time of -O2, with the same hot-path instructions (bench/shim). */
#ifndef __clang__ /* gcc only (the init container's build); zig cc builds `make dist` at -O2 */
#pragma GCC optimize("O1", "optimize-sibling-calls")
#endif
#include "shim.h"
#include "driver_table.h"

#define DEF_V(cls, base, ver, pt, name, params, args) \
    SHIM_WRAP_DEV(SHIM_DRIVER, cls, name, params, args, SHIM_DEV_CUR, (void)0)
#define DEF_W(cls, base, ver, pt, name, params, args, dev, post) \
    SHIM_WRAP_DEV(SHIM_DRIVER, cls, name, params, args, dev, post)
DRIVER_SYMS(DEF_V, DEF_W)

shim_sym_t *const shim_driver_syms[] = {
#define E_V(cls, base, ver, pt, name, params, args) &shim_sym_##name,
#define E_W(cls, base, ver, pt, name, params, args, dev, post) &shim_sym_##name,
    DRIVER_SYMS(E_V, E_W)
    NULL};

const shim_variant_t shim_driver_variants[] = {
#define T_V(cls, base, ver, pt, name, params, args) {#base, ver, pt, &shim_sym_##name},
#define T_W(cls, base, ver, pt, name, params, args, dev, post) {#base, ver, pt, &shim_sym_##name},
    DRIVER_SYMS(T_V, T_W)
    {NULL, 0, 0, NULL}};
