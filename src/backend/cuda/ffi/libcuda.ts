// The CUDA driver API (libcuda), bound through koffi. Handles and device pointers are
// 64-bit integers (BigInt); out parameters are one-element typed arrays. Only the `_v2`
// symbols are bound where a `_v2` exists (the unsuffixed ones are the old 32-bit ABI).
import { openLibrary, bind, getKoffi, CFn } from './load.js';

const decls = {
  cuInit: 'int cuInit(uint32_t flags)',
  cuDriverGetVersion: 'int cuDriverGetVersion(_Out_ int *version)',
  cuDeviceGetCount: 'int cuDeviceGetCount(_Out_ int *count)',
  cuDeviceGet: 'int cuDeviceGet(_Out_ int *device, int ordinal)',
  cuDeviceGetName: 'int cuDeviceGetName(_Out_ uint8_t *name, int len, int device)',
  cuDeviceGetAttribute: 'int cuDeviceGetAttribute(_Out_ int *value, int attribute, int device)',
  cuDevicePrimaryCtxRetain: 'int cuDevicePrimaryCtxRetain(_Out_ uint64_t *ctx, int device)',
  cuCtxSetCurrent: 'int cuCtxSetCurrent(uint64_t ctx)',
  cuMemGetInfo: 'int cuMemGetInfo_v2(_Out_ uint64_t *free, _Out_ uint64_t *total)',
  cuMemAlloc: 'int cuMemAlloc_v2(_Out_ uint64_t *dptr, size_t bytes)',
  cuMemFree: 'int cuMemFree_v2(uint64_t dptr)',
  cuMemAllocHost: 'int cuMemAllocHost_v2(_Out_ uint64_t *ptr, size_t bytes)',
  cuMemFreeHost: 'int cuMemFreeHost(uint64_t ptr)',
  cuMemcpyHtoDAsync: 'int cuMemcpyHtoDAsync_v2(uint64_t dst, uint64_t src, size_t bytes, uint64_t stream)',
  cuMemcpyDtoHAsync: 'int cuMemcpyDtoHAsync_v2(uint64_t dst, uint64_t src, size_t bytes, uint64_t stream)',
  cuMemcpyDtoDAsync: 'int cuMemcpyDtoDAsync_v2(uint64_t dst, uint64_t src, size_t bytes, uint64_t stream)',
  cuMemsetD8Async: 'int cuMemsetD8Async(uint64_t dst, uint8_t value, size_t count, uint64_t stream)',
  cuModuleLoadData: 'int cuModuleLoadData(_Out_ uint64_t *module, const uint8_t *image)',
  cuModuleGetFunction: 'int cuModuleGetFunction(_Out_ uint64_t *fn, uint64_t module, const char *name)',
  cuLaunchKernel: 'int cuLaunchKernel(uint64_t fn, uint32_t gx, uint32_t gy, uint32_t gz, uint32_t bx, uint32_t by, uint32_t bz, uint32_t sharedBytes, uint64_t stream, uint64_t params, uint64_t extra)',
  cuFuncSetAttribute: 'int cuFuncSetAttribute(uint64_t fn, int attribute, int value)',
  cuStreamCreate: 'int cuStreamCreate(_Out_ uint64_t *stream, uint32_t flags)',
  cuStreamSynchronize: 'int cuStreamSynchronize(uint64_t stream)',
  cuEventCreate: 'int cuEventCreate(_Out_ uint64_t *event, uint32_t flags)',
  cuEventRecord: 'int cuEventRecord(uint64_t event, uint64_t stream)',
  cuEventQuery: 'int cuEventQuery(uint64_t event)',
  cuEventSynchronize: 'int cuEventSynchronize(uint64_t event)',
  cuStreamWaitEvent: 'int cuStreamWaitEvent(uint64_t stream, uint64_t event, uint32_t flags)',
  cuEventDestroy: 'int cuEventDestroy_v2(uint64_t event)',
  cuGetErrorName: 'int cuGetErrorName(int error, _Out_ const char **name)',
  cuGetErrorString: 'int cuGetErrorString(int error, _Out_ const char **text)',
} as const;

// CUDA graphs (stream capture, instantiate, launch), bound apart: a driver without them
// still runs everything else, and compile() then says why it cannot capture.
const graphDecls = {
  cuStreamBeginCapture: 'int cuStreamBeginCapture_v2(uint64_t stream, int mode)',
  cuStreamEndCapture: 'int cuStreamEndCapture(uint64_t stream, _Out_ uint64_t *graph)',
  cuStreamIsCapturing: 'int cuStreamIsCapturing(uint64_t stream, _Out_ int *status)',
  cuGraphInstantiate: 'int cuGraphInstantiateWithFlags(_Out_ uint64_t *exec, uint64_t graph, uint64_t flags)',
  cuGraphLaunch: 'int cuGraphLaunch(uint64_t exec, uint64_t stream)',
  cuGraphExecDestroy: 'int cuGraphExecDestroy(uint64_t exec)',
  cuGraphDestroy: 'int cuGraphDestroy(uint64_t graph)',
  cuGraphGetNodes: 'int cuGraphGetNodes(uint64_t graph, uint64_t nodes, _Inout_ uint64_t *count)',
} as const;

export type GraphDriver = Record<keyof typeof graphDecls, CFn>;

/** cuLaunchKernelEx (CUDA 12+): launches with attributes (programmatic dependent launch); null on older drivers. */
export type Driver = Record<keyof typeof decls, CFn> & { cuEventElapsedTime: CFn; cuLaunchKernelEx: CFn | null; graphs: GraphDriver | { error: string } };

export const CU = {
  SUCCESS: 0,
  ERROR_OUT_OF_MEMORY: 2,
  ERROR_NOT_READY: 600,
  ATTR_MULTIPROCESSOR_COUNT: 16,
  ATTR_CC_MAJOR: 75,
  ATTR_CC_MINOR: 76,
  STREAM_NON_BLOCKING: 1,
  EVENT_DEFAULT: 0,
  EVENT_DISABLE_TIMING: 2,
  /** cuFuncSetAttribute: dynamic shared memory a kernel may ask for beyond the 48 KiB default. */
  FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES: 8,
  /** cuStreamBeginCapture modes: RELAXED lets other threads' and unsafe calls through (allocation may happen during capture). */
  CAPTURE_MODE_RELAXED: 2,
  CAPTURE_STATUS_NONE: 0,
  ERROR_STREAM_CAPTURE_UNSUPPORTED: 900,
  ERROR_STREAM_CAPTURE_INVALIDATED: 901,
} as const;

/** An error from a CUDA library call; `code` is the library's status. */
export class CudaError extends Error {
  constructor(message: string, readonly code: number) { super(message); }
}

let driver: Driver | null = null;

/** libcuda's bindings, or the reason it cannot be used. */
export function loadDriver(): Driver | { error: string } {
  if (driver) return driver;
  const opened = openLibrary(['libcuda.so.1', 'libcuda.so']);
  if ('error' in opened) return { error: `no libcuda (the NVIDIA driver library): ${opened.error}` };
  try {
    const d = bind(opened.lib, decls) as Driver;
    // CUDA 13 renamed the event timer; older drivers only have the first name.
    try { d.cuEventElapsedTime = opened.lib.func('int cuEventElapsedTime_v2(_Out_ float *ms, uint64_t start, uint64_t end)') as CFn; }
    catch { d.cuEventElapsedTime = opened.lib.func('int cuEventElapsedTime(_Out_ float *ms, uint64_t start, uint64_t end)') as CFn; }
    try { d.cuLaunchKernelEx = opened.lib.func('int cuLaunchKernelEx(uint64_t config, uint64_t fn, uint64_t params, uint64_t extra)') as CFn; }
    catch { d.cuLaunchKernelEx = null; }
    try { d.graphs = bind(opened.lib, graphDecls) as GraphDriver; }
    catch (e) { d.graphs = { error: `libcuda at ${opened.path} lacks the CUDA graph API: ${(e as Error).message}` }; }
    driver = d;
    return d;
  } catch (e) {
    return { error: `libcuda at ${opened.path} lacks a needed function (driver too old?): ${(e as Error).message}` };
  }
}

/** The driver's name and description of a status code. */
export function describe(d: Driver, code: number): string {
  const name: (string | null)[] = [null], text: (string | null)[] = [null];
  try { d.cuGetErrorName(code, name); d.cuGetErrorString(code, text); } catch { /* keep the number */ }
  return `${name[0] ?? 'CUDA error'} (${code})${text[0] ? `: ${text[0]}` : ''}`;
}

/** Throws a CudaError naming the call when `status` is not success. */
export function check(d: Driver, status: unknown, what: string): void {
  const code = status as number;
  if (code !== CU.SUCCESS) throw new CudaError(`[cuda] ${what} failed: ${describe(d, code)}`, code);
}

// Scratch out-parameters: calls are synchronous on one thread, so one of each suffices.
export const out64 = new BigUint64Array(1);
export const out32 = new Int32Array(1);

/** Decodes a NUL-terminated C string in `bytes`. */
export function cString(bytes: Uint8Array): string {
  const end = bytes.indexOf(0);
  return new TextDecoder().decode(end < 0 ? bytes : bytes.subarray(0, end));
}

export { getKoffi };
