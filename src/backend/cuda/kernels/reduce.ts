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

export interface ArgSpec { isMax: boolean; variant: Variant; input: DType; wide: boolean }

/** Index of the first max (min) along the middle axis; the first NaN wins, as NumPy. */
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
  const ref = s.variant === 'cols' ? 'src[base + j * inner]' : 'src[base + j]';
  const warpReduce = shuffle([[V, 'a'], ['u32', 'ai']], `if (${name}_better(a, ai, a_o, ai_o)) { a = a_o; ai = ai_o; }`);
  let finish: string;
  if (s.variant === 'cols') finish = '    out[t] = ai;';
  else if (s.variant === 'warp') finish = `    ${warpReduce}\n    if (lane == 0) out[t] = ai;`;
  else finish = `    ${warpReduce}
    if (lane == 0) { sh[warp] = a; shi[warp] = ai; }
    __syncthreads();
    if (warp == 0) {
      const bool live = lane < (int)(blockDim.x >> 5);
      a = live ? sh[lane] : (ACC)(${s.isMax ? lowest(s.input) : highest(s.input)});
      ai = live ? shi[lane] : 0xffffffffu;
      ${warpReduce}
      if (lane == 0) out[t] = ai;
    }`;
  const open = s.variant === 'block' ? h.open.replace('__shared__ ACC sh[32];', '__shared__ ACC sh[32];\n  __shared__ u32 shi[32];') : h.open;
  const source = `${PRELUDE}
#define ACC ${V}
__device__ __forceinline__ bool ${name}_better(ACC va, u32 ia, ACC vb, u32 ib) {
  ${better}
}
extern "C" __global__ void __launch_bounds__(256) ${name}(u32* __restrict__ out, const ${stype(s.input)}* __restrict__ src, ${I} outer, ${I} n, ${I} inner, ${I} chunk, ${I} splits) {
${open}
    ACC a = ${s.isMax ? lowest(s.input) : highest(s.input)};
    u32 ai = 0xffffffffu;
    for (${I} j = ${h.first}; j < j1; j += ${h.stride}) { const ACC v = ${load(ref, s.input)}; if (${name}_better(a, ai, v, (u32)j)) { a = v; ai = (u32)j; } }
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
  if (canSplit && n >= 64 && outputs < sms * 2048) splits = Math.min(Math.ceil((sms * 2048) / outputs), Math.ceil(n / 32));
  return { variant: 'cols', splits, chunk: Math.ceil(n / splits), threads: outputs * splits };
}

function launch(ctx: CudaContext, fn: bigint, p: Plan, out: bigint, src: bigint, outer: number, n: number, inner: number, wide: boolean): void {
  ctx.rt.args.reset().ptr(out).ptr(src).idx(outer, wide).idx(n, wide).idx(inner, wide).idx(p.chunk, wide).idx(p.splits, wide);
  const blocks = p.variant === 'block' ? Math.max(1, Math.min(outer * p.splits, ctx.rt.info.sms * 32)) : ctx.rt.gridFor(p.threads, 256, 8);
  ctx.rt.launch(fn, [blocks, 1, 1], [256, 1, 1]);
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
  const { ptr, outer, n, inner } = layout(ctx, x, [axis]);
  const p = plan(ctx, outer, n, inner, false);
  const wide = outer * n * inner > WIDE;
  const fn = ctx.kernels.get(`arg|${isMax}|${p.variant}|${x.dtype.name}|${wide}`,
    () => renderArgReduce(isMax ? 'argmax' : 'argmin', { isMax, variant: p.variant, input: x.dtype, wide }));
  launch(ctx, fn, p, o.ptr, ptr, outer, n, inner, wide);
  return [o];
};

// ---------------------------------------------------------------- logsumexp and softmax

export interface SoftmaxSpec { kind: 'logsumexp' | 'softmax'; variant: Variant; input: DType; output: DType; wide: boolean }

/**
 * Per row: the max (NaN wins), then the sum of exp(x - max); logsumexp writes max + log(sum)
 * (or the max itself when it is not finite), softmax writes exp(x - max) / sum. In float.
 */
export function renderSoftmax(name: string, s: SoftmaxSpec): KernelSource {
  const I = s.wide ? 'i64' : 'i32';
  const cols = s.variant === 'cols';
  const max = (a: string, b: string) => `((${b} > ${a} || ${b} != ${b}) ? ${b} : ${a})`;
  // Every thread of the row ends with the combined value: butterfly shuffles within a warp,
  // then (blocks) the warps' results through shared memory.
  const allReduce = (v: string, step: (a: string, b: string) => string) => {
    if (cols) return '';
    const warp = `for (int off = 16; off > 0; off >>= 1) { const float o_ = __shfl_xor_sync(LATHE_ALL, ${v}, off); ${v} = ${step(v, 'o_')}; }`;
    if (s.variant === 'warp') return warp;
    return `${warp}
      if (lane == 0) sh[warp] = ${v};
      __syncthreads();
      ${v} = sh[0];
      for (int w = 1; w < (int)(blockDim.x >> 5); w++) ${v} = ${step(v, 'sh[w]')};
      __syncthreads();`;
  };
  const head = cols
    ? `for (${I} t = (${I})blockIdx.x * blockDim.x + threadIdx.x; t < outer * inner; t += (${I})gridDim.x * blockDim.x) {
    const ${I} base = (t / inner) * n * inner + t % inner, first = 0, stride = 1;`
    : s.variant === 'warp'
      ? `const int lane = threadIdx.x & 31;
  for (${I} t = ((${I})blockIdx.x * blockDim.x + threadIdx.x) >> 5; t < outer; t += ((${I})gridDim.x * blockDim.x) >> 5) {
    const ${I} base = t * n, first = lane, stride = 32;`
      : `__shared__ float sh[32];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  for (${I} t = blockIdx.x; t < outer; t += gridDim.x) {
    const ${I} base = t * n, first = threadIdx.x, stride = blockDim.x;`;
  const at = (j: string) => (cols ? `base + ${j} * inner` : `base + ${j}`);
  const x = (j: string) => load(`src[${at(j)}]`, s.input);
  const finish = s.kind === 'logsumexp'
    ? `if (${cols ? 'true' : 'first == 0'}) out[t] = ${store('(m - m == 0.0f ? m + logf(sum) : m)', s.output)};`
    : `for (${I} j = first; j < n; j += stride) out[${at('j')}] = ${store(`expf(${x('j')} - m) / sum`, s.output)};`;
  const source = `${PRELUDE}
extern "C" __global__ void __launch_bounds__(256) ${name}(${stype(s.output)}* __restrict__ out, const ${stype(s.input)}* __restrict__ src, ${I} outer, ${I} n, ${I} inner) {
  ${head}
    float m = -LATHE_INF;
    for (${I} j = first; j < n; j += stride) { const float v = ${x('j')}; m = ${max('m', 'v')}; }
    ${allReduce('m', max)}
    float sum = 0.0f;
    for (${I} j = first; j < n; j += stride) sum += expf(${x('j')} - m);
    ${allReduce('sum', (a, b) => `${a} + ${b}`)}
    ${finish}
  }
}
`;
  return { name, source };
}

function runSoftmax(ctx: CudaContext, kind: SoftmaxSpec['kind'], x: CudaArg, axes: readonly number[], outDtype: DType, out: bigint): void {
  const { ptr, outer, n, inner } = layout(ctx, x, axes);
  if (outer * inner === 0) return;
  const variant: Variant = inner > 1 ? 'cols' : n > 256 ? 'block' : 'warp';
  const wide = outer * n * inner > WIDE;
  const fn = ctx.kernels.get(`${kind}|${variant}|${x.dtype.name}|${outDtype.name}|${wide}`,
    () => renderSoftmax(kind, { kind, variant, input: x.dtype, output: outDtype, wide }));
  ctx.rt.args.reset().ptr(out).ptr(ptr).idx(outer, wide).idx(n, wide).idx(inner, wide);
  const threads = variant === 'cols' ? outer * inner : variant === 'warp' ? 32 * outer : 0;
  const blocks = variant === 'block' ? Math.min(outer, ctx.rt.info.sms * 32) : ctx.rt.gridFor(threads);
  ctx.rt.launch(fn, [blocks, 1, 1], [256, 1, 1]);
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
