// CUDA sorting: sort, argsort, partition, argpartition (a full sort is a valid partition,
// and topk is a partition). Each line along the axis becomes unsigned keys that order as
// NumPy does (the CPU's transform: -0 equals 0, every NaN alike and after +inf), paired
// with the element's position; comparing (key, position) makes every pair distinct, so any
// sorting network gives the stable order.
//   lines up to 4096: one block per line, a bitonic sort in shared memory;
//   longer lines: bitonic-sorted runs of 4096, then merge passes in global memory, each
//     element finding its place in the merged run by binary search in the other run.
// Values are gathered by the index order (raw bits), as the CPU's kernels do.
import type { DType } from '../../../core/dtype.js';
import type { SortParams } from '../../../core/ops/sort.js';
import type { KernelSource } from '../compiler.js';
import { registerCudaKernels, CudaKernel, CudaArg, CudaContext, CudaBuffer } from '../backend.js';
import { PRELUDE, stype, rawType } from './ctypes.js';
import { sizeOf, WIDE } from './layout.js';

/** Longest line sorted in shared memory (12 bytes a pair for 64-bit keys: 48 KiB). */
export const SHARED_SORT = 4096;

const keyType = (d: DType) => (d.size === 8 ? 'u64' : 'u32');

/** CUDA C turning a stored value `v` (of stype(d)) into its order key (the CPU's readKeys). */
function keyBody(d: DType): string {
  switch (d.name) {
    case 'bool': case 'uint8': case 'uint16': case 'uint32': return 'return (u32)v;';
    case 'int8': return 'return ((u32)(i32)v ^ 0x80u) & 0xffu;';
    case 'int16': return 'return ((u32)(i32)v ^ 0x8000u) & 0xffffu;';
    case 'int32': return 'return (u32)v ^ 0x80000000u;';
    case 'uint64': return 'return v;';
    case 'int64': return 'return (u64)v ^ 0x8000000000000000ull;';
    case 'float16': case 'bfloat16': {
      const inf = d.name === 'float16' ? '0x7c00u' : '0x7f80u';
      return `u32 h = v;
  if ((h & 0x7fffu) > ${inf}) h = 0x7fffu; else if (h == 0x8000u) h = 0u;
  return (h & 0x8000u) ? (~h & 0xffffu) : (h | 0x8000u);`;
    }
    case 'float32': return `u32 b = __float_as_uint(v);
  if ((b & 0x7fffffffu) > 0x7f800000u) b = 0x7fffffffu; else if (b == 0x80000000u) b = 0u;
  return (b & 0x80000000u) ? ~b : (b | 0x80000000u);`;
    default: throw new Error(`[sort] no GPU sort keys for ${d.name}`);
  }
}

export type SortOutput = 'values' | 'indices' | 'pairs';

export interface SortSpec { dtype: DType; output: SortOutput; wide: boolean }

/** The shared prelude of the sort kernels: key type, key function, and the pair order. */
function head(name: string, d: DType): string {
  const K = keyType(d);
  return `${PRELUDE}
__device__ __forceinline__ ${K} ${name}_key(${stype(d)} v) {
  ${keyBody(d)}
}
__device__ __forceinline__ bool ${name}_less(${K} ka, u32 ia, ${K} kb, u32 ib) { return ka < kb || (ka == kb && ia < ib); }
`;
}

/** Where one sorted line goes: `j` its rank, `ix` the position it came from. */
function emit(s: SortSpec, j: string, ix: string, k: string): string {
  if (s.output === 'indices') return `out[base + (${j}) * inner] = ${ix};`;
  if (s.output === 'values') return `out[base + (${j}) * inner] = src[base + (${I(s)})(${ix}) * inner];`;
  return `keysOut[line * n + (${j})] = ${k}; idxOut[line * n + (${j})] = ${ix};`;
}
const I = (s: SortSpec) => (s.wide ? 'i64' : 'i32');
const outParams = (s: SortSpec) => {
  const K = keyType(s.dtype);
  const T = rawType(s.dtype.size);
  if (s.output === 'indices') return 'u32* __restrict__ out';
  if (s.output === 'values') return `${T}* __restrict__ out`;
  return `${K}* __restrict__ keysOut, u32* __restrict__ idxOut`;
};

/**
 * Bitonic sort of segments of `seg` elements (padded to P, a power of two) of each line in
 * shared memory; one block per (line, segment). Lines are (outer, n, inner) with stride inner.
 */
export function renderBitonic(name: string, s: SortSpec): KernelSource {
  const K = keyType(s.dtype);
  const T = rawType(s.dtype.size);
  const source = `${head(name, s.dtype)}
extern "C" __global__ void __launch_bounds__(1024) ${name}(${outParams(s)}, const ${T}* __restrict__ src, ${I(s)} lines, ${I(s)} n, ${I(s)} inner, ${I(s)} seg, ${I(s)} segs, int P) {
  __shared__ ${K} keys[${SHARED_SORT}];
  __shared__ u32 idx[${SHARED_SORT}];
  for (${I(s)} t = blockIdx.x; t < lines * segs; t += gridDim.x) {
    const ${I(s)} line = t / segs, p0 = (t % segs) * seg;
    const ${I(s)} base = (line / inner) * n * inner + line % inner;
    const int m = (int)(n - p0 < seg ? n - p0 : seg);
    for (int p = threadIdx.x; p < P; p += blockDim.x) {
      if (p < m) { keys[p] = ${name}_key(((const ${stype(s.dtype)}*)src)[base + (p0 + p) * inner]); idx[p] = (u32)(p0 + p); }
      else { keys[p] = (${K})~(${K})0; idx[p] = 0xffffffffu; }
    }
    __syncthreads();
    for (int k = 2; k <= P; k <<= 1) {
      for (int j = k >> 1; j > 0; j >>= 1) {
        for (int i = threadIdx.x; i < (P >> 1); i += blockDim.x) {
          const int lo = ((i & ~(j - 1)) << 1) | (i & (j - 1)), hi = lo + j;
          const bool up = (lo & k) == 0;
          const ${K} ka = keys[lo], kb = keys[hi];
          const u32 ia = idx[lo], ib = idx[hi];
          if (${name}_less(kb, ib, ka, ia) == up) { keys[lo] = kb; keys[hi] = ka; idx[lo] = ib; idx[hi] = ia; }
        }
        __syncthreads();
      }
    }
    for (int p = threadIdx.x; p < m; p += blockDim.x) { ${emit(s, 'p0 + p', 'idx[p]', 'keys[p]')} }
    __syncthreads();
  }
}
`;
  return { name, source };
}

/** One merge pass: sorted runs of w (key, index) pairs per line merge pairwise into runs of 2w. */
export function renderMerge(name: string, s: SortSpec): KernelSource {
  const K = keyType(s.dtype);
  const J = I(s);
  const source = `${head(name, s.dtype)}
extern "C" __global__ void __launch_bounds__(256) ${name}(${K}* __restrict__ keysOut, u32* __restrict__ idxOut, const ${K}* __restrict__ keysIn, const u32* __restrict__ idxIn, ${J} lines, ${J} n, ${J} w) {
  for (${J} e = (${J})blockIdx.x * blockDim.x + threadIdx.x; e < lines * n; e += (${J})gridDim.x * blockDim.x) {
    const ${J} line = e / n, p = e % n, row = line * n;
    const ${J} start = (p / (2 * w)) * 2 * w, mid = start + w < n ? start + w : n, end = start + 2 * w < n ? start + 2 * w : n;
    const ${K} k = keysIn[e];
    const u32 ix = idxIn[e];
    // The other run, and how many of its pairs come before this one.
    const bool inA = p < mid;
    ${J} lo = inA ? mid : start, hi = inA ? end : mid;
    const ${J} first = lo;
    while (lo < hi) {
      const ${J} m = (lo + hi) >> 1;
      if (${name}_less(keysIn[row + m], idxIn[row + m], k, ix)) lo = m + 1; else hi = m;
    }
    const ${J} dst = start + (inA ? p - start : p - mid) + (lo - first);
    keysOut[row + dst] = k;
    idxOut[row + dst] = ix;
  }
}
`;
  return { name, source };
}

/** Writes sorted lines from dense index order: indices, or the values they point at. */
export function renderSortEmit(name: string, s: SortSpec): KernelSource {
  const J = I(s);
  const source = `${PRELUDE}
extern "C" __global__ void __launch_bounds__(256) ${name}(${outParams(s)}, const ${rawType(s.dtype.size)}* __restrict__ src, const u32* __restrict__ order, ${J} lines, ${J} n, ${J} inner) {
  for (${J} e = (${J})blockIdx.x * blockDim.x + threadIdx.x; e < lines * n; e += (${J})gridDim.x * blockDim.x) {
    const ${J} line = e / n, j = e % n;
    const ${J} base = (line / inner) * n * inner + line % inner;
    ${emit(s, 'j', 'order[e]', '')}
  }
}
`;
  return { name, source };
}

// ---------------------------------------------------------------- launching

function sortLines(ctx: CudaContext, x: CudaArg, axis: number, out: CudaBuffer, values: boolean): void {
  const shape = x.shape;
  const outer = sizeOf(shape.slice(0, axis)), n = shape[axis], inner = sizeOf(shape.slice(axis + 1));
  const lines = outer * inner;
  if (lines * n === 0) return;
  const d = x.dtype;
  const wide = lines * n > WIDE;
  const output: SortOutput = values ? 'values' : 'indices';
  const maxBlocks = ctx.rt.info.sms * 32;
  if (n <= SHARED_SORT) {
    const P = 2 ** Math.ceil(Math.log2(Math.max(n, 2)));
    const s: SortSpec = { dtype: d, output, wide };
    const fn = ctx.kernels.get(`bitonic|${d.name}|${output}|${wide}`, () => renderBitonic(`sort_${output}`, s));
    ctx.rt.args.reset().ptr(out.ptr).ptr(x.buf.ptr).idx(lines, wide).idx(n, wide).idx(inner, wide).idx(n, wide).idx(1, wide).i32(P);
    ctx.rt.launch(fn, [Math.min(lines, maxBlocks), 1, 1], [Math.min(1024, Math.max(32, P / 2)), 1, 1]);
    return;
  }
  // Long lines: sorted runs of SHARED_SORT pairs in dense (lines, n) buffers, then merges.
  const kb = d.size === 8 ? 8 : 4;
  let keys = ctx.temp(lines * n * kb), idx = ctx.temp(lines * n * 4);
  let keys2 = ctx.temp(lines * n * kb), idx2 = ctx.temp(lines * n * 4);
  const pairs: SortSpec = { dtype: d, output: 'pairs', wide };
  const segs = Math.ceil(n / SHARED_SORT);
  const bit = ctx.kernels.get(`bitonic|${d.name}|pairs|${wide}`, () => renderBitonic('sort_runs', pairs));
  ctx.rt.args.reset().ptr(keys.ptr).ptr(idx.ptr).ptr(x.buf.ptr).idx(lines, wide).idx(n, wide).idx(inner, wide).idx(SHARED_SORT, wide).idx(segs, wide).i32(SHARED_SORT);
  ctx.rt.launch(bit, [Math.min(lines * segs, maxBlocks), 1, 1], [1024, 1, 1]);
  const merge = ctx.kernels.get(`merge|${d.name}|${wide}`, () => renderMerge('sort_merge', pairs));
  for (let w = SHARED_SORT; w < n; w *= 2) {
    ctx.rt.args.reset().ptr(keys2.ptr).ptr(idx2.ptr).ptr(keys.ptr).ptr(idx.ptr).idx(lines, wide).idx(n, wide).idx(w, wide);
    ctx.rt.launch(merge, [ctx.rt.gridFor(lines * n), 1, 1], [256, 1, 1]);
    [keys, keys2, idx, idx2] = [keys2, keys, idx2, idx];
  }
  const s: SortSpec = { dtype: d, output, wide };
  const fn = ctx.kernels.get(`sortEmit|${d.size}|${output}|${wide}`, () => renderSortEmit(`sort_emit_${output}`, s));
  ctx.rt.args.reset().ptr(out.ptr).ptr(x.buf.ptr).ptr(idx.ptr).idx(lines, wide).idx(n, wide).idx(inner, wide);
  ctx.rt.launch(fn, [ctx.rt.gridFor(lines * n), 1, 1], [256, 1, 1]);
}

const sortKernel = (values: boolean): CudaKernel => ([x], [out], { axis }: SortParams, ctx) => {
  const o = ctx.alloc(out);
  sortLines(ctx, x, axis, o, values);
  return [o];
};

registerCudaKernels({ sort: sortKernel(true), argsort: sortKernel(false), partition: sortKernel(true), argpartition: sortKernel(false) });
