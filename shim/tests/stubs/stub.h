/*
 * stub.h - the stub CUDA libraries' contract (libcudart.so, libcuda.so.1, libnvidia-ml.so.1).
 *
 * Why: the shim's tests, the benchmark and the embedded cluster's stub inference worker need
 * programs that link and run against "CUDA" on machines without a GPU. The stubs are not CUDA:
 * every function succeeds (returns 0), writes a recognisable value to its out-parameter and
 * counts the call, so a test can tell "the stub answered" from "the shim answered".
 *
 * Symbols (all return 0 = success unless noted):
 *   runtime (libcudart.so):
 *     cudaGetDeviceCount(int*)            -> *count = STUB_DEVICE_COUNT (4)
 *     cudaSetDevice(int), cudaInitDevice, cudaDeviceGetAttribute(int*,int,int) -> *v = 7
 *     cudaGetDeviceProperties[_v2](void*, int)  (writes "stub-gpu" at the start of the buffer)
 *     cudaMalloc(void**, size_t)          -> *p = STUB_DEVICE_PTR (0x5100), cudaFree(void*)
 *     cudaMallocManaged, cudaMallocHost, cudaHostAlloc, cudaMallocAsync, cudaFreeAsync, cudaFreeHost
 *     cudaMemGetInfo(size_t*, size_t*)    -> 1 GiB free, 2 GiB total
 *     cudaMemcpy, cudaMemcpyAsync, cudaMemset, cudaMemsetAsync, cudaMemcpyPeer
 *     cudaLaunchKernel, cudaLaunchKernelExC, cudaGraphLaunch, cudaLaunchCooperativeKernel
 *     cudaDeviceSynchronize, cudaStreamSynchronize, cudaEventSynchronize, cudaStreamQuery
 *     cudaDeviceEnablePeerAccess, cudaDeviceCanAccessPeer(int*,int,int) -> *can = 1
 *     cudaGetLastError, cudaPeekAtLastError
 *     cudaGetDriverEntryPoint(sym, fn, flags, status): like the real cudart, asks the driver's
 *       cuGetProcAddress_v2 (found with dlopen("libcuda.so.1") + dlsym).
 *     cudart_stub_calls (long): calls counted so far.
 *   driver (libcuda.so.1): cuInit, cuDeviceGet (*dev = 0), cuDeviceGetCount (*count = 4),
 *     cuCtxCreate_v2/_v3/_v4 (*ctx = 0xC7C7), cuDevicePrimaryCtxRetain, cuMemAlloc_v2
 *     (*p = 0xD000), cuMemFree_v2, cuMemcpy*_v2, cuLaunchKernel[_ptsz], cuLaunchKernelEx[_ptsz],
 *     cuGraphLaunch[_ptsz], cuStreamSynchronize[_ptsz], cuCtxSynchronize, cuCtxEnablePeerAccess,
 *     cuMemcpyPeer, cuGetProcAddress (v1) and cuGetProcAddress_v2, which map a base name and
 *     flags to the exported version (cuMemAlloc -> cuMemAlloc_v2; per-thread flag -> _ptsz),
 *     cuGetExportTable (returns 0x1234 in *table), cuda_stub_calls (long).
 *     It also exports every other function of the shim's driver table (src/driver_table.h):
 *     each succeeds and reads nothing. cuGetExportTable with a non-NULL id (a real cudart's
 *     private tables) returns CUDA_ERROR_NOT_FOUND.
 *   NVML (libnvidia-ml.so.1): nvmlInit[_v2], nvmlInitWithFlags, nvmlShutdown,
 *     nvmlDeviceGetCount[_v2] (*count = 2), nvmlDeviceGetHandleByIndex[_v2] (*dev = 0xA0 + i),
 *     nvmlDeviceGetHandleByUUID, nvmlDeviceGetUUID/Name/Index/MemoryInfo/Temperature,
 *     nvml_stub_calls (long).
 *
 * Environment (read at each call):
 *   STUB_CUDA_PROC=exported|internal  what the driver's cuGetProcAddress hands out: its exported
 *       functions (default) or internal twins (same behaviour, no symbol), as drivers may do;
 *       names it does not know get a generic function that succeeds.
 *   STUB_CUDA_LOG=path     appends "GPA <name> <version> <flags>" per cuGetProcAddress request and
 *                          "CALL <name>" per driver call
 *   STUB_CUDA_DEVICES=n    devices of the driver and runtime (default 4); contexts are
 *                          STUB_CTX + 0x10000 * device, current per thread (cuCtxSetCurrent/Push/Pop,
 *                          cuCtxGetDevice)
 *   STUB_CUDA_UUIDS=GPU-...,GPU-...   their UUIDs (default: byte STUB_UUID_BYTE(d) 16 times)
 *   STUB_NVML_DEVICES=n    NVML's devices (default 2), with the same UUIDs
 */
#ifndef CUDA_STUB_H
#define CUDA_STUB_H

#define STUB_DEVICE_COUNT 4
#define STUB_DEVICE_PTR 0x5100
#define STUB_DRV_DEVICE_PTR 0xD000ull
#define STUB_CTX 0xC7C7
#define STUB_NVML_COUNT 2
#define STUB_EXPORT_TABLE 0x1234
#define STUB_PER_THREAD_FLAG 2ull /* CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM */
#define STUB_DRIVER_VERSION 12090
#define STUB_UUID_BYTE(dev) (0x10 + (dev)) /* default UUID of device d: that byte 16 times */

extern long cudart_stub_calls;
extern long cuda_stub_calls;
extern long nvml_stub_calls;

#endif
