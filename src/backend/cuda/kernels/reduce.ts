// CUDA reductions and arg-reductions. The input is viewed as (outer, n, inner): each output
// reduces the n elements between outer and inner (reduced axes that are not adjacent are
// first gathered to the end by a strided copy). Three loop shapes cover the layouts:
//   rows, short: one warp per output, combined with warp shuffles;
//   rows, long:  one block per output, warps combined through shared memory;
//   columns (inner > 1): one thread per output, reading coalesced across threads.
// When there are too few outputs to fill the GPU, each one is split into chunks reduced in
// parallel into partial results (in the accumulator type), which a second pass reduces.
import type { DType } from '../../../core/dtype.js';
import { int32 } from '../../../core/dtype.js';
import type { ReduceParams, ArgReduceParams, SoftmaxParams } from '../../../core/ops/reduce.js';
import type { KernelSource } from '../compiler.js';
import { registerCudaKernels, CudaKernel, CudaArg, CudaContext, CudaBuffer } from '../backend.js';
import { PRELUDE, ctype, stype, load, store, lowest, highest } from './ctypes.js';
import { copyStrided } from './copy.js';
import { rowStrides, sizeOf, WIDE } from './layout.js';
import { check, CU } from '../ffi/libcuda.js';

/** An associative, commutative combine with its identity, as CUDA C over two names. */
interface Monoid {
  init: (acc: DType) => string;
  step: (a: string, b: string, acc: DType) => string;
  /** all/any reduce "is nonzero" (NaN included) as 0/1 ints. */
  pre?: boolean;
}

const monoids: Record<string, Monoid> = {
  sum: { init: (d) => (d.isFloat ? '0.0f' : '0'), step: (a, b) => `wadd(${a}, ${b})` },
  prod: { init: (d) => (d.isFloat ? '1.0f' : '1'), step: (a, b) => `wmul(${a}, ${b})` },
  // NaN wins in float max/min, as NumPy; the test is symmetric so it also merges lanes.
  max: { init: lowest, step: (a, b, d) => (d.isFloat ? `((${b} > ${a} || ${b} != ${b}) ? ${b} : ${a})` : `(${b} > ${a} ? ${b} : ${a})`) },
  min: { init: highest, step: (a, b, d) => (d.isFloat ? `((${b} < ${a} || ${b} != ${b}) ? ${b} : ${a})` : `(${b} < ${a} ? ${b} : ${a})`) },
  all: { init: () => '1', step: (a, b) => `(${a} & ${b})`, pre: true },
  any: { init: () => '0', step: (a, b) => `(${a} | ${b})`, pre: true },
};

export type Variant = 'warp' | 'block' | 'cols';

export interface ReduceSpec {
  op: string;
  variant: Variant;
  /** The input dtype, or null when the input is partial results in the accumulator type. */
  input: DType | null;
  /** The dtype whose compute type accumulates. */
  acc: DType;
  /** The output dtype, or null to write partial results in the accumulator type. */
  output: DType | null;
  wide: boolean;
}

/** Shared loop heads: each variant walks its outputs t, and the chunk [j0, j1) of row o. */
function heads(I: string, variant: Variant): { open: string; close: string; first: string; stride: string } {
  const seg = `
    const ${I} s = t % splits, o = t / splits;
    const ${I} j0 = s * chunk, j1 = j0 + chunk < n ? j0 + chunk : n;`;
  if (variant === 'cols') return {
    open: `  for (${I} t = (${I})blockIdx.x * blockDim.x + threadIdx.x; t < outer * splits * inner; t += (${I})gridDim.x * blockDim.x) {
    const ${I} i = t % inner, q = t / inner, s = q % splits, o = q / splits;
    const ${I} j0 = s * chunk, j1 = j0 + chunk < n ? j0 + chunk : n;
    const ${I} base = o * n * inner + i;`,
    close: '  }', first: 'j0', stride: '1',
  };
  if (variant === 'warp') return {
    open: `  const int lane = threadIdx.x & 31;
  for (${I} t = ((${I})blockIdx.x * blockDim.x + threadIdx.x) >> 5; t < outer * splits; t += ((${I})gridDim.x * blockDim.x) >> 5) {${seg}
    const ${I} base = o * n;`,
    close: '  }', first: 'j0 + lane', stride: '32',
  };
  return {
    open: `  __shared__ ACC sh[32];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  for (${I} t = blockIdx.x; t < outer * splits; t += gridDim.x) {${seg}
    const ${I} base = o * n;`,
    close: '    __syncthreads();\n  }', first: `j0 + (${I})threadIdx.x`, stride: `(${I})blockDim.x`,
  };
}

const shuffle = (names: [string, string][], merge: string) =>
  `for (int off = 16; off > 0; off >>= 1) {\n      ${names.map(([t, v]) => `const ${t} ${v}_o = __shfl_down_sync(LATHE_ALL, ${v}, off);`).join(' ')}\n      ${merge}\n    }`;

export function renderReduce(name: string, s: ReduceSpec): KernelSource {
  const m = monoids[s.op];
  const I = s.wide ? 'i64' : 'i32';
  const ACC = ctype(s.acc);
  const IN = s.input ? stype(s.input) : ACC;
  const OUT = s.output ? stype(s.output) : ACC;
  const value = (ref: string) => (!s.input ? ref : m.pre ? `(${ACC})(${load(ref, s.input)} != 0)` : `(${ACC})(${load(ref, s.input)})`);
  const step = (a: string, b: string) => m.step(a, b, s.acc);
  const result = s.output ? store('a', s.output) : 'a';
  const h = heads(I, s.variant);
  const ref = s.variant === 'cols' ? 'src[base + j * inner]' : 'src[base + j]';
  const warpReduce = shuffle([[ACC, 'a']], `a = ${step('a', 'a_o')};`);
  let finish: string;
  if (s.variant === 'cols') finish = `    out[t] = ${result};`;
  else if (s.variant === 'warp') finish = `    ${warpReduce}\n    if (lane == 0) out[t] = ${result};`;
  else finish = `    ${warpReduce}
    if (lane == 0) sh[warp] = a;
    __syncthreads();
    if (warp == 0) {
      a = lane < (int)(blockDim.x >> 5) ? sh[lane] : (ACC)(${m.init(s.acc)});
      ${warpReduce}
      if (lane == 0) out[t] = ${result};
    }`;
  const source = `${PRELUDE}
#define ACC ${ACC}
extern "C" __global__ void __launch_bounds__(256) ${name}(${OUT}* __restrict__ out, const ${IN}* __restrict__ src, ${I} outer, ${I} n, ${I} inner, ${I} chunk, ${I} splits) {
${h.open}
    ACC a = ${m.init(s.acc)};
#pragma unroll 4
    for (${I} j = ${h.first}; j < j1; j += ${h.stride}) { const ACC v = ${value(ref)}; a = ${step('a', 'v')}; }
${finish}
${h.close}
}
#undef ACC
`;
  return { name, source };
}

export interface ArgSpec {
  isMax: boolean;
  variant: Variant;
  input: DType;
  wide: boolean;
  /** Reads partial (value, index) pairs of a first pass instead of the input. */
  partialIn?: boolean;
  /** Writes partial (value, index) pairs for a second pass (values in the compute type). */
  partialOut?: boolean;
}

/**
 * Index of the first max (min) along the middle axis; the first NaN wins, as NumPy. Split
 * reductions write (value, index) pairs per chunk, which a second pass combines by the same
 * order (ties and NaNs go to the lower index, so the result does not depend on the split).
 */
export function renderArgReduce(name: string, s: ArgSpec): KernelSource {
  const I = s.wide ? 'i64' : 'i32';
  const V = ctype(s.input);
  const cmp = s.isMax ? '>' : '<';
  const better = s.input.isFloat
    ? `const bool na = va != va, nb = vb != vb;
  if (na || nb) return nb && (!na || ib < ia);
  return vb ${cmp} va || (vb == va && ib < ia);`
    : `return vb ${cmp} va || (vb == va && ib < ia);`;
  const h = heads(I, s.variant);
  const at = (j: string) => (s.variant === 'cols' ? `base + (${j}) * inner` : `base + ${j}`);
  const value = (j: string) => (s.partialIn ? `srcv[${at(j)}]` : load(`src[${at(j)}]`, s.input));
  const index = (j: string) => (s.partialIn ? `srci[${at(j)}]` : `(u32)(${j})`);
  const write = s.partialOut ? '{ outv[t] = a; out[t] = ai; }' : 'out[t] = ai;';
  const warpReduce = shuffle([[V, 'a'], ['u32', 'ai']], `if (${name}_better(a, ai, a_o, ai_o)) { a = a_o; ai = ai_o; }`);
  let finish: string;
  if (s.variant === 'cols') finish = `    ${write}`;
  else if (s.variant === 'warp') finish = `    ${warpReduce}\n    if (lane == 0) ${write}`;
  else finish = `    ${warpReduce}
    if (lane == 0) { sh[warp] = a; shi[warp] = ai; }
    __syncthreads();
    if (warp == 0) {
      const bool live = lane < (int)(blockDim.x >> 5);
      a = live ? sh[lane] : (ACC)(${s.isMax ? lowest(s.input) : highest(s.input)});
      ai = live ? shi[lane] : 0xffffffffu;
      ${warpReduce}
      if (lane == 0) ${write}
    }`;
  const open = s.variant === 'block' ? h.open.replace('__shared__ ACC sh[32];', '__shared__ ACC sh[32];\n  __shared__ u32 shi[32];') : h.open;
  // Four independent loads in flight before the (dependent) compares, in index order.
  const U = 4;
  const lanes = Array.from({ length: U }, (_, u) => u);
  const jAt = (u: number) => (u === 0 ? 'j' : `j + ${u} * ${h.stride}`);
  const take = (v: string, i: string) => `if (${name}_better(a, ai, ${v}, ${i})) { a = ${v}; ai = ${i}; }`;
  const source = `${PRELUDE}
#define ACC ${V}
__device__ __forceinline__ bool ${name}_better(ACC va, u32 ia, ACC vb, u32 ib) {
  ${better}
}
extern "C" __global__ void __launch_bounds__(256) ${name}(u32* __restrict__ out, ACC* __restrict__ outv, const ${stype(s.input)}* __restrict__ src, const ACC* __restrict__ srcv, const u32* __restrict__ srci, ${I} outer, ${I} n, ${I} inner, ${I} chunk, ${I} splits) {
${open}
    ACC a = ${s.isMax ? lowest(s.input) : highest(s.input)};
    u32 ai = 0xffffffffu;
    ${I} j = ${h.first};
    for (; j + ${U - 1} * ${h.stride} < j1; j += ${U} * ${h.stride}) {
      ${lanes.map((u) => `const ACC v${u} = ${value(jAt(u))}; const u32 i${u} = ${index(jAt(u))};`).join('\n      ')}
      ${lanes.map((u) => take(`v${u}`, `i${u}`)).join('\n      ')}
    }
    for (; j < j1; j += ${h.stride}) { const ACC v = ${value('j')}; const u32 i = ${index('j')}; ${take('v', 'i')} }
${finish}
${h.close}
}
#undef ACC
`;
  return { name, source };
}

// ---------------------------------------------------------------- planning and launching

/** The input as (outer, n, inner) in a dense buffer, gathering reduced axes last when they are apart. */
function layout(ctx: CudaContext, x: CudaArg, axes: readonly number[]): { ptr: bigint; outer: number; n: number; inner: number } {
  const shape = x.shape;
  const dims = shape.map((_, d) => d).filter((d) => shape[d] !== 1);
  const red = dims.filter((d) => axes.includes(d));
  const size = sizeOf(shape);
  if (red.length === 0) return { ptr: x.buf.ptr, outer: size, n: 1, inner: 1 };
  const first = dims.indexOf(red[0]);
  const sizes = (ds: number[]) => sizeOf(ds.map((d) => shape[d]));
  if (red.every((d, i) => dims[first + i] === d))
    return { ptr: x.buf.ptr, outer: sizes(dims.slice(0, first)), n: sizes(red), inner: sizes(dims.slice(first + red.length)) };
  const keep = shape.map((_, d) => d).filter((d) => !axes.includes(d));
  const perm = [...keep, ...axes];
  const strides = rowStrides(shape);
  const tmp = ctx.temp(size * x.dtype.size);
  copyStrided(ctx, x.dtype.size, tmp.ptr, 0, null, x.buf.ptr, 0, perm.map((p) => strides[p]), perm.map((p) => shape[p]));
  return { ptr: tmp.ptr, outer: sizes(keep), n: sizes(axes as number[]), inner: 1 };
}

interface Plan { variant: Variant; splits: number; chunk: number; threads: number }

/** How to spread `outer * inner` reductions of length n over the GPU: about 8 blocks of 256 threads per SM. */
function plan(ctx: CudaContext, outer: number, n: number, inner: number, canSplit: boolean): Plan {
  const sms = ctx.rt.info.sms;
  let splits = 1;
  if (inner === 1) {
    if (canSplit && n >= 8192 && outer < sms * 8) splits = Math.min(Math.ceil((sms * 8) / outer), Math.ceil(n / 4096));
    const chunk = Math.ceil(n / splits);
    const variant: Variant = chunk > 256 ? 'block' : 'warp';
    return { variant, splits, chunk, threads: (variant === 'block' ? 256 : 32) * outer * splits };
  }
  const outputs = outer * inner;
  // floor: the splits fit one wave of resident threads (ceil left a second, nearly empty one)
  if (canSplit && n >= 64 && outputs < sms * 2048) splits = Math.min(Math.floor((sms * 2048) / outputs), Math.ceil(n / 32));
  return { variant: 'cols', splits, chunk: Math.ceil(n / splits), threads: outputs * splits };
}

const blocksFor = (ctx: CudaContext, p: Plan, outer: number): number =>
  p.variant === 'block' ? Math.max(1, Math.min(outer * p.splits, ctx.rt.info.sms * 32)) : ctx.rt.gridFor(p.threads, 256, 8);

function launch(ctx: CudaContext, fn: bigint, p: Plan, out: bigint, src: bigint, outer: number, n: number, inner: number, wide: boolean): void {
  ctx.rt.args.reset().ptr(out).ptr(src).idx(outer, wide).idx(n, wide).idx(inner, wide).idx(p.chunk, wide).idx(p.splits, wide);
  ctx.rt.launch(fn, [blocksFor(ctx, p, outer), 1, 1], [256, 1, 1]);
}

/** Bytes of one accumulator. */
const accBytes = (acc: DType) => (ctype(acc) === 'i64' || ctype(acc) === 'u64' ? 8 : 4);

/** Reduces `axes` of `x` with monoid `op` into `out` (of dtype `outDtype`). */
export function runReduce(ctx: CudaContext, op: string, x: CudaArg, axes: readonly number[], outDtype: DType, out: CudaBuffer): void {
  const outputs = out.nbytes / outDtype.size;
  if (outputs === 0) return;
  const acc = monoids[op].pre ? int32 : outDtype;
  let { ptr, outer, n, inner } = layout(ctx, x, axes);
  let input: DType | null = x.dtype;
  for (;;) {
    const p = plan(ctx, outer, n, inner, true);
    const last = p.splits === 1;
    const wide = outer * n * inner > WIDE || outer * p.splits * inner > WIDE;
    const spec: ReduceSpec = { op, variant: p.variant, input, acc, output: last ? outDtype : null, wide };
    const key = `red|${op}|${p.variant}|${input?.name ?? 'partial'}|${acc.name}|${spec.output?.name ?? 'partial'}|${wide}`;
    const fn = ctx.kernels.get(key, () => renderReduce(`reduce_${op}`, spec));
    const dst = last ? out : ctx.temp(outer * p.splits * inner * accBytes(acc));
    launch(ctx, fn, p, dst.ptr, ptr, outer, n, inner, wide);
    if (last) return;
    ptr = dst.ptr; n = p.splits; input = null;
  }
}

const reduceKernel = (op: string): CudaKernel => ([x], [out], { axes }: ReduceParams, ctx) => {
  const o = ctx.alloc(out);
  runReduce(ctx, op, x, axes, out.dtype, o);
  return [o];
};

const argKernel = (isMax: boolean): CudaKernel => ([x], [out], { axis }: ArgReduceParams, ctx) => {
  const o = ctx.alloc(out);
  if (sizeOf(out.shape) === 0) return [o];
  let { ptr, outer, n, inner } = layout(ctx, x, [axis]);
  let vals = 0n, partialIn = false;
  const bytes = accBytes(x.dtype);
  for (;;) {
    const p = plan(ctx, outer, n, inner, true);
    const last = p.splits === 1;
    const wide = outer * n * inner > WIDE || outer * p.splits * inner > WIDE;
    const spec: ArgSpec = { isMax, variant: p.variant, input: x.dtype, wide, partialIn, partialOut: !last };
    const fn = ctx.kernels.get(`arg|${isMax}|${p.variant}|${x.dtype.name}|${wide}|${partialIn}|${!last}`,
      () => renderArgReduce(isMax ? 'argmax' : 'argmin', spec));
    const m = outer * p.splits * inner;
    const dst = last ? o.ptr : ctx.temp(m * 4).ptr;
    const dstv = last ? 0n : ctx.temp(m * bytes).ptr;
    ctx.rt.args.reset().ptr(dst).ptr(dstv).ptr(partialIn ? 0n : ptr).ptr(vals).ptr(partialIn ? ptr : 0n)
      .idx(outer, wide).idx(n, wide).idx(inner, wide).idx(p.chunk, wide).idx(p.splits, wide);
    ctx.rt.launch(fn, [blocksFor(ctx, p, outer), 1, 1], [256, 1, 1]);
    if (last) return [o];
    ptr = dst; vals = dstv; n = p.splits; partialIn = true;
  }
};

// ---------------------------------------------------------------- logsumexp and softmax

export type SoftmaxVariant = Variant | 'cached' | 'staged';

export interface SoftmaxSpec {
  kind: 'logsumexp' | 'softmax';
  variant: SoftmaxVariant;
  input: DType;
  output: DType;
  wide: boolean;
  /** 'cached': elements per thread, kept in registers, and threads per block (one block per row). 'staged': 16-byte packs per thread. */
  items?: number;
  threads?: number;
}

/**
 * Per row: the max M (NaN wins) and the sum of exp(x - M); logsumexp writes M + log(sum)
 * (or M itself when it is not finite), softmax writes exp(x - M) / sum (NaN everywhere when M
 * is not finite), as the CPU. In float. Rows are read once for the max and sum together
 * (an online sum, rescaled when the running max grows) and once more for softmax's output;
 * 'cached' keeps a row in registers, so softmax reads it once.
 */
export function renderSoftmax(name: string, s: SoftmaxSpec): KernelSource {
  if (s.variant === 'staged') return renderSoftmaxStaged(name, s);
  const I = s.wide ? 'i64' : 'i32';
  const cols = s.variant === 'cols';
  const max = (a: string, b: string) => `((${b} > ${a} || ${b} != ${b}) ? ${b} : ${a})`;
  // Every thread of the row ends with the combined value(s): butterfly shuffles within a
  // warp, then (blocks) the warps' results through shared memory.
  const allReduce = (vs: string[], merge: (o: string[]) => string) => {
    if (cols) return '';
    const warp = `for (int off = 16; off > 0; off >>= 1) { ${vs.map((v) => `const float ${v}_o = __shfl_xor_sync(LATHE_ALL, ${v}, off);`).join(' ')} ${merge(vs.map((v) => `${v}_o`))} }`;
    if (s.variant === 'warp') return warp;
    return `${warp}
    if (lane == 0) { ${vs.map((v, k) => `sh${k}[warp] = ${v};`).join(' ')} }
    __syncthreads();
    ${vs.map((v, k) => `${v} = sh${k}[0];`).join(' ')}
    for (int w = 1; w < (int)(blockDim.x >> 5); w++) { ${merge(vs.map((_, k) => `sh${k}[w]`))} }
    __syncthreads();`;
  };
  // (m, sum) absorbs (mo, so): both rescaled to the larger max; a side already at it keeps
  // its sum (so lanes that saw nothing, (-inf, 0), never make inf - inf).
  const scaled = (mx_: string, sm: string) => `(${mx_} == mn ? ${sm} : ${sm} * expf(${mx_} - mn))`;
  const mergeOnline = ([mo, so]: string[]) => `{ const float mn = ${max('m', mo)}; sum = ${scaled('m', 'sum')} + ${scaled(mo, so)}; m = mn; }`;
  const T = s.threads ?? 256;
  const head = cols
    ? `for (${I} t = (${I})blockIdx.x * blockDim.x + threadIdx.x; t < outer * inner; t += (${I})gridDim.x * blockDim.x) {
    const ${I} base = (t / inner) * n * inner + t % inner, first = 0, stride = 1;`
    : s.variant === 'warp'
      ? `const int lane = threadIdx.x & 31;
  for (${I} t = ((${I})blockIdx.x * blockDim.x + threadIdx.x) >> 5; t < outer; t += ((${I})gridDim.x * blockDim.x) >> 5) {
    const ${I} base = t * n, first = lane, stride = 32;`
      : `__shared__ float sh0[32], sh1[32];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  for (${I} t = blockIdx.x; t < outer; t += gridDim.x) {
    const ${I} base = t * n, first = threadIdx.x, stride = blockDim.x;`;
  const at = (j: string) => (cols ? `base + ${j} * inner` : `base + ${j}`);
  const x = (j: string) => load(`src[${at(j)}]`, s.input);
  const notFinite = `if (!(m - m == 0.0f)) sum = __int_as_float(0x7fffffff);`;
  const finish = s.kind === 'logsumexp'
    ? `if (${cols ? 'true' : 'first == 0'}) out[t] = ${store('(m - m == 0.0f ? m + logf(sum) : m)', s.output)};`
    : `${notFinite}
#pragma unroll 4
    for (${I} j = first; j < n; j += stride) out[${at('j')}] = ${store(`expf(${x('j')} - m) / sum`, s.output)};`;
  let body: string;
  if (s.variant === 'cached') {
    const K = s.items!;
    body = `    float v[${K}];
    float m = -LATHE_INF;
#pragma unroll
    for (int k = 0; k < ${K}; k++) { const ${I} j = first + k * ${T}; v[k] = j < n ? ${x('j')} : -LATHE_INF; m = ${max('m', 'v[k]')}; }
    ${allReduce(['m'], ([o]) => `m = ${max('m', o)};`)}
    float sum = 0.0f;
#pragma unroll
    for (int k = 0; k < ${K}; k++) { v[k] = first + k * ${T} < n ? expf(v[k] - m) : 0.0f; sum += v[k]; }
    ${allReduce(['sum'], ([o]) => `sum += ${o};`)}
    ${notFinite}
#pragma unroll
    for (int k = 0; k < ${K}; k++) { const ${I} j = first + k * ${T}; if (j < n) out[base + j] = ${store('v[k] / sum', s.output)}; }`;
  } else {
    // -inf adds nothing when the row's max is finite (and the result is fixed otherwise).
    // Four loads are issued before the (dependent) updates, so each thread keeps them in flight.
    const absorb = (v: string) => `if (${v} > m) { sum = sum * expf(m - ${v}) + 1.0f; m = ${v}; }
      else if (${v} != ${v}) m = ${v};
      else if (${v} != -LATHE_INF) sum += expf(${v} - m);`;
    body = `    float m = -LATHE_INF, sum = 0.0f;
    ${I} j = first;
    for (; j + 3 * stride < n; j += 4 * stride) {
      const float v0 = ${x('j')}, v1 = ${x('j + stride')}, v2 = ${x('j + 2 * stride')}, v3 = ${x('j + 3 * stride')};
      ${['v0', 'v1', 'v2', 'v3'].map(absorb).join('\n      ')}
    }
    for (; j < n; j += stride) {
      const float v = ${x('j')};
      ${absorb('v')}
    }
    ${allReduce(['m', 'sum'], mergeOnline)}
    ${finish}`;
  }
  const source = `${PRELUDE}
extern "C" __global__ void __launch_bounds__(${T}) ${name}(${stype(s.output)}* __restrict__ out, const ${stype(s.input)}* __restrict__ src, ${I} outer, ${I} n, ${I} inner) {
  ${head}
${body}
  }
}
`;
  return { name, source };
}

/**
 * Softmax of rows too long for registers alone (8 K to 32 K floats, 64 K halves), reading
 * each row once: one persistent block of 1024 threads per SM keeps its current row in
 * shared memory (each thread its own 16-byte packs, so the row needs no barrier) while the
 * next row's loads are already in flight into registers. So the SM always has a row's worth
 * of reads outstanding while it reduces and writes the current one: 1 read + 1 write of the
 * data (the streaming variant reads it twice). Needs n a multiple of the pack (16 bytes) and
 * aligned rows; the row is `items` packs per thread, in pack order p * 1024 + thread.
 */
function renderSoftmaxStaged(name: string, s: SoftmaxSpec): KernelSource {
  const T = 1024, P = s.items!;
  const IN = stype(s.input), V = 16 / s.input.size;
  const f32 = s.input.name === 'float32';
  const max = (a: string, b: string) => `((${b} > ${a} || ${b} != ${b}) ? ${b} : ${a})`;
  const ld = (ref: string) => load(ref, s.input);
  const lanes = (body: string) => `#pragma unroll
    for (int p = 0; p < ${P}; p++) {
      if (p * ${T} + tid < np) {
#pragma unroll
        for (int k = 0; k < ${V}; k++) { ${body} }
      }
    }`;
  const allReduce = (v: string, sh: string, merge: (a: string, b: string) => string) => `for (int off = 16; off > 0; off >>= 1) { const float o = __shfl_xor_sync(LATHE_ALL, ${v}, off); ${v} = ${merge(v, 'o')}; }
    if (lane == 0) ${sh}[warp] = ${v};
    __syncthreads();
    ${v} = ${sh}[0];
#pragma unroll
    for (int w = 1; w < ${T / 32}; w++) ${v} = ${merge(v, `${sh}[w]`)};`;
  // OUT packs: V outputs per thread step; their width is V * sizeof(out).
  const source = `${PRELUDE}
typedef Pack<${IN}, ${V}> ${name}_PK;
#define PK ${name}_PK
extern "C" __global__ void __launch_bounds__(${T}, 1) ${name}(${stype(s.output)}* __restrict__ out, const ${IN}* __restrict__ src, i32 outer, i32 n) {
  extern __shared__ __align__(16) unsigned char ${name}_smem[];
  PK* const row = (PK*)${name}_smem;
  __shared__ float shm[${T / 32}], shs[${T / 32}];
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const i32 np = n / ${V};
  PK nx[${P}];
  i32 t = blockIdx.x;
  if (t < outer) {
    const PK* r = (const PK*)(src + (i64)t * n);
#pragma unroll
    for (int p = 0; p < ${P}; p++) if (p * ${T} + tid < np) nx[p] = r[p * ${T} + tid];
  }
  for (; t < outer; t += gridDim.x) {
#pragma unroll
    for (int p = 0; p < ${P}; p++) if (p * ${T} + tid < np) row[p * ${T} + tid] = nx[p];
    // the next row's loads go out now and land while this row is reduced and written
    const i32 u = t + gridDim.x;
    if (u < outer) {
      const PK* r = (const PK*)(src + (i64)u * n);
#pragma unroll
      for (int p = 0; p < ${P}; p++) if (p * ${T} + tid < np) nx[p] = r[p * ${T} + tid];
    }
    float m = -LATHE_INF;
    ${lanes(`const float v = ${ld('row[p * ' + T + ' + tid].v[k]')}; m = ${max('m', 'v')};`)}
    ${allReduce('m', 'shm', max)}
    float sum = 0.0f;
    ${lanes(f32 ? `const float e = expf(row[p * ${T} + tid].v[k] - m); row[p * ${T} + tid].v[k] = e; sum += e;` : `sum += expf(${ld(`row[p * ${T} + tid].v[k]`)} - m);`)}
    ${allReduce('sum', 'shs', (a, b) => `${a} + ${b}`)}
    if (!(m - m == 0.0f)) sum = __int_as_float(0x7fffffff);
    const float inv = 1.0f / sum;
    Pack<${stype(s.output)}, ${V}>* const o = (Pack<${stype(s.output)}, ${V}>*)(out + (i64)t * n);
#pragma unroll
    for (int p = 0; p < ${P}; p++) {
      if (p * ${T} + tid < np) {
        Pack<${stype(s.output)}, ${V}> q;
#pragma unroll
        for (int k = 0; k < ${V}; k++) q.v[k] = ${store(f32 ? `row[p * ${T} + tid].v[k] * inv` : `expf(${ld(`row[p * ${T} + tid].v[k]`)} - m) * inv`, s.output)};
        o[p * ${T} + tid] = q;
      }
    }
  }
}
#undef PK
`;
  return { name, source };
}

/**
 * Rows up to this long are kept in registers by softmax: up to 32 floats for each of 256
 * threads, so several rows stay in flight per SM. (A 32 K row in 1024 threads' registers
 * leaves one block per SM, its phases serialized: slower than reading the row twice.)
 */
const CACHED_MAX = 32 * 256;

/** Choices bench/gpu/variants.ts compares ('staged' off: long rows stream twice, as before). */
export const softmaxTuning = { staged: true };

/** Most 16-byte packs per thread a staged row takes (32 registers of prefetch at 1024 threads). */
const STAGED_PACKS = 8;
const stagedFns = new Set<bigint>();

function runSoftmax(ctx: CudaContext, kind: SoftmaxSpec['kind'], x: CudaArg, axes: readonly number[], outDtype: DType, out: bigint): void {
  const { ptr, outer, n, inner } = layout(ctx, x, axes);
  if (outer * inner === 0) return;
  let variant: SoftmaxVariant = inner > 1 ? 'cols' : n > 256 ? 'block' : 'warp';
  let threads = 256, items = 0;
  const V = 16 / x.dtype.size;
  if (variant === 'block' && kind === 'softmax' && n <= CACHED_MAX) {
    items = 2 ** Math.ceil(Math.log2(Math.ceil(n / threads)));
    variant = 'cached';
  } else if (variant === 'block' && kind === 'softmax' && softmaxTuning.staged && x.dtype.size === outDtype.size && x.dtype.size <= 4
    && n % V === 0 && Math.ceil(n / V / 1024) <= STAGED_PACKS && (ptr & 15n) === 0n && (out & 15n) === 0n && outer * n <= WIDE) {
    variant = 'staged'; threads = 1024; items = Math.ceil(n / V / 1024);
  }
  const wide = outer * n * inner > WIDE;
  const fn = ctx.kernels.get(`${kind}|${variant}|${items}|${threads}|${x.dtype.name}|${outDtype.name}|${wide}`,
    () => renderSoftmax(kind, { kind, variant, input: x.dtype, output: outDtype, wide, items, threads }));
  if (variant === 'staged') {
    const smem = items * 1024 * 16;
    if (!stagedFns.has(fn)) {
      check(ctx.rt.driver, ctx.rt.driver.cuFuncSetAttribute(fn, CU.FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, smem), 'cuFuncSetAttribute (softmax shared memory)');
      stagedFns.add(fn);
    }
    ctx.rt.args.reset().ptr(out).ptr(ptr).i32(outer).i32(n);
    // one persistent block per SM (a second would only start once a first is done)
    ctx.rt.launch(fn, [Math.min(outer, ctx.rt.info.sms), 1, 1], [1024, 1, 1], smem);
    return;
  }
  ctx.rt.args.reset().ptr(out).ptr(ptr).idx(outer, wide).idx(n, wide).idx(inner, wide);
  const rows = variant === 'block' || variant === 'cached';
  const blocks = rows ? Math.min(outer, ctx.rt.info.sms * (2048 / threads) * 4) : ctx.rt.gridFor(variant === 'cols' ? outer * inner : 32 * outer);
  ctx.rt.launch(fn, [blocks, 1, 1], [threads, 1, 1]);
}

const logsumexp: CudaKernel = ([x], [out], { axes }: ReduceParams, ctx) => {
  const o = ctx.alloc(out);
  runSoftmax(ctx, 'logsumexp', x, axes, out.dtype, o.ptr);
  return [o];
};

const softmax: CudaKernel = ([x], [out], { axes }: SoftmaxParams, ctx) => {
  const o = ctx.alloc(out);
  const shape = x.shape;
  const dims = shape.map((_, d) => d).filter((d) => shape[d] !== 1 && axes.includes(d));
  const first = shape.map((_, d) => d).filter((d) => shape[d] !== 1).indexOf(dims[0]);
  const all = shape.map((_, d) => d).filter((d) => shape[d] !== 1);
  const adjacent = dims.every((d, i) => all[first + i] === d);
  if (adjacent) { runSoftmax(ctx, 'softmax', x, axes, out.dtype, o.ptr); return [o]; }
  // Reduced axes apart: softmax in (kept..., reduced...) order, then scatter back.
  const keep = shape.map((_, d) => d).filter((d) => !axes.includes(d));
  const perm = [...keep, ...axes];
  const tmp = ctx.temp(o.nbytes);
  runSoftmax(ctx, 'softmax', x, axes, out.dtype, tmp.ptr);
  const ps = rowStrides(perm.map((p) => shape[p]));
  copyStrided(ctx, out.dtype.size, o.ptr, 0, null, tmp.ptr, 0, shape.map((_, d) => ps[perm.indexOf(d)]), shape);
  return [o];
};

const table: Record<string, CudaKernel> = {};
for (const op of Object.keys(monoids)) table[op] = reduceKernel(op);
table.argmax = argKernel(true);
table.argmin = argKernel(false);
table.logsumexp = logsumexp;
table.softmax = softmax;
registerCudaKernels(table);
