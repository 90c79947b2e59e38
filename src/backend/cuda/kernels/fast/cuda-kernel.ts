// fast.cudaKernel on the GPU: the user's kernel body wrapped in a generated signature, as
// MLX's mx.fast.cuda_kernel does (mlx/backend/cuda/custom_kernel.cpp), compiled by NVRTC
// through the kernel cache and launched on the backend's stream. The API and its checks
// are in src/fast/cuda-kernel.ts; this file only sees the node's params.
//
// The signature, for inputs then outputs in order:
//   const T* __restrict__ inp, [Shape inp_shape,] [Strides inp_strides,] [int inp_ndim,]   (each only if the
//     source names it, and only for inputs of at least one dim; Shape/Strides hold 10 dims)
//   T* __restrict__ out                                          (no __restrict__ with atomicOutputs)
// then template arguments as `constexpr int N = 3;`, `constexpr bool B = true;`, `using T = float;`.
// Kernels are compiled without CUDA headers (as all of lathe's): a small prelude gives the
// fixed-width integer types, __half and __nv_bfloat16 (16-bit storage that converts to and
// from float), the part of cooperative_groups that needs no cooperative launch, MLX's
// elem_to_loc and `inf`.
import type { DType, DTypeName } from '../../../../core/dtype.js';
import { float32 } from '../../../../core/dtype.js';
import type { KernelSource } from '../../compiler.js';
import { registerCudaKernels, CudaKernel, CudaArg, CudaContext, CudaBuffer } from '../../backend.js';
import { store } from '../ctypes.js';
import { castCuda, runElementwise } from '../elementwise.js';
import { rowStrides, sizeOf } from '../layout.js';

/** The cudaKernel node's params (src/fast/cuda-kernel.ts builds them; the backend never imports src/fast). */
export interface CudaKernelParams {
  name: string;
  inputNames: string[];
  outputNames: string[];
  source: string;
  header: string;
  ensureRowContiguous: boolean;
  atomicOutputs: boolean;
  grid: [number, number, number];
  threadGroup: [number, number, number];
  template: [string, { dtype: DTypeName } | number | boolean][];
  initValue: number | null;
  verbose: boolean;
}

/** Dims a Shape or Strides argument holds (MLX's MAX_NDIM). */
export const MAX_NDIM = 10;

const cType: Record<Exclude<DTypeName, 'float64'>, string> = {
  bool: 'bool', uint8: 'uint8_t', uint16: 'uint16_t', uint32: 'uint32_t', uint64: 'uint64_t',
  int8: 'int8_t', int16: 'int16_t', int32: 'int32_t', int64: 'int64_t',
  float16: '__half', bfloat16: '__nv_bfloat16', float32: 'float',
};

function typeOf(d: DType | DTypeName, kernel: string): string {
  const name = typeof d === 'string' ? d : d.name;
  if (name === 'float64') throw new Error(`[cudaKernel] '${kernel}': float64 is not supported on the GPU`);
  return cType[name];
}

export const USER_PRELUDE = String.raw`#ifndef LATHE_USER_PRELUDE
#define LATHE_USER_PRELUDE
typedef signed char int8_t; typedef unsigned char uint8_t; typedef short int16_t; typedef unsigned short uint16_t;
typedef int int32_t; typedef unsigned int uint32_t; typedef long int64_t; typedef unsigned long uint64_t; // as glibc
typedef unsigned int uint;
#define inf __int_as_float(0x7f800000)
#define MAX_NDIM ${MAX_NDIM}

struct __half {
  uint16_t __x;
  __half() = default;
  __device__ __half(float f) { asm("cvt.rn.f16.f32 %0, %1;" : "=h"(__x) : "f"(f)); }
  __device__ operator float() const { float f; asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(__x)); return f; }
  __device__ __half& operator+=(float v) { return *this = __half((float)*this + v); }
  __device__ __half& operator-=(float v) { return *this = __half((float)*this - v); }
  __device__ __half& operator*=(float v) { return *this = __half((float)*this * v); }
  __device__ __half& operator/=(float v) { return *this = __half((float)*this / v); }
};
struct __nv_bfloat16 {
  uint16_t __x;
  __nv_bfloat16() = default;
  __device__ __nv_bfloat16(float f) {
    const uint32_t u = __float_as_uint(f);
    __x = (u & 0x7fffffffu) > 0x7f800000u ? (uint16_t)((u >> 16) | 0x40u) : (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
  }
  __device__ operator float() const { return __uint_as_float(((uint32_t)__x) << 16); }
  __device__ __nv_bfloat16& operator+=(float v) { return *this = __nv_bfloat16((float)*this + v); }
  __device__ __nv_bfloat16& operator-=(float v) { return *this = __nv_bfloat16((float)*this - v); }
  __device__ __nv_bfloat16& operator*=(float v) { return *this = __nv_bfloat16((float)*this * v); }
  __device__ __nv_bfloat16& operator/=(float v) { return *this = __nv_bfloat16((float)*this / v); }
};
typedef __half half;
__device__ __forceinline__ float __half2float(__half h) { return (float)h; }
__device__ __forceinline__ __half __float2half(float f) { return __half(f); }
__device__ __forceinline__ float __bfloat162float(__nv_bfloat16 h) { return (float)h; }
__device__ __forceinline__ __nv_bfloat16 __float2bfloat16(float f) { return __nv_bfloat16(f); }

struct Shape {
  int32_t v[MAX_NDIM];
  __device__ int32_t operator[](int i) const { return v[i]; }
  __device__ const int32_t* data() const { return v; }
};
struct Strides {
  int64_t v[MAX_NDIM];
  __device__ int64_t operator[](int i) const { return v[i]; }
  __device__ const int64_t* data() const { return v; }
};

// The memory location of row-major element elem of an array with these shape and strides.
template <class IdxT>
__device__ IdxT elem_to_loc(IdxT elem, const int32_t* shape, const int64_t* strides, int ndim) {
  IdxT loc = 0;
  for (int i = ndim - 1; i >= 0 && elem > 0; --i) { loc += (IdxT)((elem % shape[i]) * strides[i]); elem /= shape[i]; }
  return loc;
}
template <class IdxT>
__device__ IdxT elem_to_loc(IdxT elem, const Shape& shape, const Strides& strides, int ndim) { return elem_to_loc(elem, shape.v, strides.v, ndim); }

namespace cooperative_groups {
struct thread_block {
  __device__ unsigned int thread_rank() const { return (threadIdx.z * blockDim.y + threadIdx.y) * blockDim.x + threadIdx.x; }
  __device__ unsigned int size() const { return blockDim.x * blockDim.y * blockDim.z; }
  __device__ unsigned int num_threads() const { return size(); }
  __device__ dim3 group_index() const { return dim3(blockIdx.x, blockIdx.y, blockIdx.z); }
  __device__ dim3 thread_index() const { return dim3(threadIdx.x, threadIdx.y, threadIdx.z); }
  __device__ dim3 group_dim() const { return blockDim; }
  __device__ void sync() const { __syncthreads(); }
};
struct grid_group {
  __device__ unsigned long long block_rank() const { return ((unsigned long long)blockIdx.z * gridDim.y + blockIdx.y) * gridDim.x + blockIdx.x; }
  __device__ unsigned long long num_blocks() const { return (unsigned long long)gridDim.x * gridDim.y * gridDim.z; }
  __device__ unsigned long long thread_rank() const { return block_rank() * thread_block().size() + thread_block().thread_rank(); }
  __device__ unsigned long long size() const { return num_blocks() * thread_block().size(); }
  __device__ unsigned long long num_threads() const { return size(); }
  __device__ dim3 group_dim() const { return gridDim; }
};
__device__ __forceinline__ grid_group this_grid() { return grid_group(); }
__device__ __forceinline__ thread_block this_thread_block() { return thread_block(); }
}
namespace cg = cooperative_groups;
#endif
`;

/** MLX's name suffix for template arguments: _3, _t/_f, _float32. */
function templateSuffix(t: CudaKernelParams['template']): string {
  return t.map(([, v]) => (typeof v === 'number' ? `_${v}` : typeof v === 'boolean' ? (v ? '_t' : '_f') : `_${v.dtype}`)).join('');
}

/** Which of name_shape, name_strides and name_ndim the source uses, per input. */
function shapeInfo(p: CudaKernelParams): { shape: boolean; strides: boolean; ndim: boolean }[] {
  return p.inputNames.map((n) => ({ shape: p.source.includes(`${n}_shape`), strides: p.source.includes(`${n}_strides`), ndim: p.source.includes(`${n}_ndim`) }));
}

/** The complete CUDA C source of a call, and its entry point. */
export function renderCudaKernel(p: CudaKernelParams, inputs: readonly { dtype: DType; ndim: number }[], outputs: readonly DType[]): KernelSource {
  const name = `custom_kernel_${p.name}${templateSuffix(p.template)}`;
  const info = shapeInfo(p);
  const params: string[] = [];
  inputs.forEach((x, i) => {
    const n = p.inputNames[i];
    params.push(`const ${typeOf(x.dtype, p.name)}* __restrict__ ${n}`);
    if (x.ndim === 0) return;
    if (info[i].shape) params.push(`const __grid_constant__ Shape ${n}_shape`);
    if (info[i].strides) params.push(`const __grid_constant__ Strides ${n}_strides`);
    if (info[i].ndim) params.push(`const __grid_constant__ int ${n}_ndim`);
  });
  outputs.forEach((d, i) => params.push(`${typeOf(d, p.name)}*${p.atomicOutputs ? '' : ' __restrict__'} ${p.outputNames[i]}`));
  const consts = p.template.map(([k, v]) =>
    typeof v === 'number' ? `  constexpr int ${k} = ${v};` : typeof v === 'boolean' ? `  constexpr bool ${k} = ${v};` : `  using ${k} = ${typeOf(v.dtype, p.name)};`);
  const source = `${USER_PRELUDE}
${p.header}
extern "C" __global__ void ${name}(
    ${params.join(',\n    ')}) {
${consts.length ? `${consts.join('\n')}\n` : ''}${p.source}
}
`;
  return { name, source };
}

/** Fills `o` with `value` converted to `d` (as a float32 scalar cast, as MLX's float init_value). */
function fill(ctx: CudaContext, o: CudaBuffer, shape: readonly number[], d: DType, value: number): void {
  if (sizeOf(shape) === 0) return;
  const v = ctx.temp(4);
  ctx.upload(v.ptr, new Float32Array([value]));
  runElementwise(ctx, 'fill', store(castCuda('x0', float32, d), d), [{ arg: { buf: v, shape: [], dtype: float32 } }], o, shape, d);
}

function blocksOf(p: CudaKernelParams): [number, number, number] {
  const [tx, ty, tz] = p.threadGroup;
  const where = `[cudaKernel] '${p.name}':`;
  if (tx * ty * tz > 1024 || tx > 1024 || ty > 1024 || tz > 64)
    throw new Error(`${where} threadGroup (${tx},${ty},${tz}) has ${tx * ty * tz} threads; CUDA allows at most 1024 per block (x, y up to 1024, z up to 64)`);
  const b: [number, number, number] = [Math.ceil(p.grid[0] / tx), Math.ceil(p.grid[1] / ty), Math.ceil(p.grid[2] / tz)];
  if (b[0] > 2 ** 31 - 1 || b[1] > 65535 || b[2] > 65535)
    throw new Error(`${where} grid (${p.grid.join(',')}) in blocks of (${tx},${ty},${tz}) is (${b.join(',')}) blocks; CUDA allows at most (2^31-1, 65535, 65535)`);
  return b;
}

const cudaKernel: CudaKernel = (ins: CudaArg[], outs, p: CudaKernelParams, ctx) => {
  const where = `[cudaKernel] '${p.name}':`;
  const blocks = blocksOf(p);
  const bad = ins.find((x) => x.shape.length > MAX_NDIM);
  if (bad) throw new Error(`${where} inputs may have at most ${MAX_NDIM} dims, got shape (${bad.shape.join(',')})`);
  const k = renderCudaKernel(p, ins.map((x) => ({ dtype: x.dtype, ndim: x.shape.length })), outs.map((o) => o.dtype));
  if (p.verbose) console.log(`Generated source code for \`${k.name}\`:\n\`\`\`\n${k.source}\n\`\`\``);
  let fn: bigint;
  try { fn = ctx.kernels.get(`cudaKernel|${k.source}`, () => k); } catch (e) { throw new Error(`${where} ${(e as Error).message}`); }
  const made = outs.map((o) => ctx.alloc(o));
  if (p.initValue !== null) made.forEach((o, i) => fill(ctx, o, outs[i].shape, outs[i].dtype, p.initValue!));
  // Inputs arrive dense and row-major (the backend materializes views), so ensureRowContiguous
  // needs no copy here and the strides passed are the row-major ones.
  const info = shapeInfo(p);
  const pad = (v: number[]) => [...v, ...new Array<number>(MAX_NDIM - v.length).fill(0)];
  const a = ctx.rt.args.reset();
  ins.forEach((x, i) => {
    a.ptr(x.buf.ptr);
    if (x.shape.length === 0) return;
    if (info[i].shape) a.vec(pad([...x.shape]), false);
    if (info[i].strides) a.vec(pad(rowStrides(x.shape)), true);
    if (info[i].ndim) a.i32(x.shape.length);
  });
  for (const o of made) a.ptr(o.ptr);
  ctx.rt.launch(fn, blocks, p.threadGroup);
  return made;
};

registerCudaKernels({ cudaKernel });
