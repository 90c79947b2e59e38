// Pieces shared by the row-wise fast kernels (norms, rope, GLUs, crossEntropy): a prelude of
// row reductions, per-kernel `#define`s (each kernel's source is a fixed text specialized by
// macros; they are undefined at its end, since the nvcc test concatenates every source), and
// the width of 16-byte packed accesses.
import type { DType } from '../../../../core/dtype.js';
import { PRELUDE, stype, load, store } from '../ctypes.js';

/**
 * The CUDA prelude plus row reductions: `rowSum<TPR>` sums over the TPR threads of a row
 * (threadIdx.x; a warp with shuffles, more through 32 floats of shared memory) and gives
 * every thread the total, summing the warps' parts in the same order in every thread.
 */
export const ROWS_PRELUDE = `${PRELUDE}#ifndef LATHE_FAST_ROWS
#define LATHE_FAST_ROWS
__device__ __forceinline__ float warpSum(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(LATHE_ALL, v, o);
  return v;
}
template <int TPR> __device__ __forceinline__ float rowSum(float v, float2* sh) {
  v = warpSum(v);
  if (TPR <= 32) return v;
  if ((threadIdx.x & 31) == 0) sh[threadIdx.x >> 5].x = v;
  __syncthreads();
  float t = 0.0f;
#pragma unroll
  for (int w = 0; w < TPR / 32; w++) t += sh[w].x;
  __syncthreads(); // sh is free again for the next reduction
  return t;
}
template <int TPR> __device__ __forceinline__ float2 rowSum2(float a, float b, float2* sh) {
  a = warpSum(a); b = warpSum(b);
  if (TPR <= 32) return make_float2(a, b);
  if ((threadIdx.x & 31) == 0) sh[threadIdx.x >> 5] = make_float2(a, b);
  __syncthreads();
  float2 t = make_float2(0.0f, 0.0f);
#pragma unroll
  for (int w = 0; w < TPR / 32; w++) { t.x += sh[w].x; t.y += sh[w].y; }
  __syncthreads();
  return t;
}
// bfloat16 rounding (to nearest even) in one instruction where the GPU has it (sm_80 on).
__device__ __forceinline__ u16 st_bf16_rn(float f) {
#if __CUDA_ARCH__ >= 800
  u16 h;
  asm("cvt.rn.bf16.f32 %0, %1;" : "=h"(h) : "f"(f));
  return h;
#else
  return st_bf16(f);
#endif
}
// The larger of a and b, NaN if either is NaN.
__device__ __forceinline__ float maxNaN(float a, float b) { return (b > a || b != b) ? b : a; }
// (m, s) absorbs (mo, so): sums of exp(v - max), rescaled to the larger max (a side already
// at it keeps its sum, so lanes that saw nothing, (-inf, 0), never make inf - inf).
__device__ __forceinline__ void mergeOnline(float& m, float& s, float mo, float so) {
  const float mn = maxNaN(m, mo);
  s = (m == mn ? s : s * expf(m - mn)) + (mo == mn ? so : so * expf(mo - mn));
  m = mn;
}
#endif
`;

type Def = [name: string, value: string | number];

/** The kernel source `body` between `#define`s of `defs` and their `#undef`s. Names may take arguments: `LD_X(r)`. */
export function withDefines(defs: Def[], body: string): string {
  const head = defs.map(([k, v]) => `#define ${k} ${v}`).join('\n');
  const tail = defs.map(([k]) => `#undef ${k.replace(/\(.*$/, '')}`).join('\n');
  return `${ROWS_PRELUDE}${head}\n${body}\n${tail}\n`;
}

/**
 * Macros for one operand `P` of dtype `d`: its storage type `P_T`, `LD_P(ref)` (as float)
 * and `ST_P(v)` (bfloat16 through the cvt instruction: the same rounding as the prelude's
 * st_bf16, in one instruction instead of six); an absent operand (null) gets a byte type
 * and loads 0.
 */
export function dtypeDefs(P: string, d: DType | null): Def[] {
  if (!d) return [[`${P}_T`, 'u8'], [`LD_${P}(r)`, '0.0f'], [`ST_${P}(v)`, '0']];
  const st = d.name === 'bfloat16' ? 'st_bf16_rn((v))' : store('(v)', d);
  return [[`${P}_T`, stype(d)], [`LD_${P}(r)`, `((float)${load('(r)', d)})`], [`ST_${P}(v)`, st]];
}

/**
 * Elements per packed access (16 bytes of the widest operand, halved until it divides `n`),
 * or 1 when a pointer is not 16-byte aligned.
 */
export function packWidth(n: number, dtypes: (DType | null)[], ptrs: bigint[]): number {
  if (!ptrs.every((p) => (p & 15n) === 0n)) return 1;
  let v = 16 / Math.max(...dtypes.filter((d): d is DType => !!d).map((d) => d.size));
  while (v > 1 && n % v) v >>= 1;
  return v;
}

/** Rounds up to a multiple of 32 (a whole warp). */
export const warps = (n: number): number => Math.ceil(n / 32) * 32;
