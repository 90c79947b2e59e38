// CUDA kernels for indexing: gather, gatherAxis, scatter, scatterAxis, searchsorted, with
// the CPU's semantics. Reads wrap a negative index once, then clamp the window into the
// array; writes wrap once and drop what falls outside. Values move as raw storage bits.
// Scatters copy x, then each update element finds its destination offset:
//   'none': later updates win, as on the CPU. A first pass claims each destination for its
//     last writer (atomicMax of update position + 1), a second pass lets only it write;
//   sum/prod/max/min: an atomic combine per element (native atomics where CUDA has them,
//     else a compare-and-swap loop on the aligned 32- or 64-bit word holding the element).
import type { DType } from '../../../core/dtype.js';
import type { GatherParams, ScatterParams, ScatterReduce } from '../../../core/ops/indexing.js';
import type { KernelSource } from '../compiler.js';
import { registerCudaKernels, CudaKernel, CudaArg, CudaContext } from '../backend.js';
import { check } from '../ffi/libcuda.js';
import { PRELUDE, ctype, stype, load, store, rawType } from './ctypes.js';
import { copyStrided } from './copy.js';
import { collapse, rowStrides, sizeOf, WIDE } from './layout.js';

/** An index value of dtype d as i64 (uint64 beyond int64's range saturates: it is out of bounds anyway). */
function indexValue(ref: string, d: DType): string {
  return d.name === 'uint64' ? `(${ref} > 0x7fffffffffffffffull ? (i64)0x7fffffffffffffffll : (i64)${ref})` : `(i64)${ref}`;
}

// ---------------------------------------------------------------- destinations

/**
 * Where element `e` of the index space lands in x. 'windows' (gather/scatter): one index
 * array per indexed axis, all of the index shape, picking a window whose own offset `w`
 * walks (wshape, wstrides); 'axis' (gatherAxis/scatterAxis): idx has the shape of the
 * index space, (outer, m, inner) around the axis of x's size n.
 */
export interface Target { kind: 'windows' | 'axis'; idx: DType[]; wnd: number; wide: boolean }

function targetParams(t: Target): string {
  const I = t.wide ? 'i64' : 'i32';
  const idx = t.idx.map((d, k) => `const ${stype(d)}* __restrict__ i${k}`);
  if (t.kind === 'axis') return [...idx, `${I} m`, `${I} inner`, `${I} n`].join(', ');
  const K = t.idx.length;
  return [...idx, `Vec<${K}, i64> dims`, `Vec<${K}, i64> his`, `Vec<${K}, i64> strides`, `Vec<${t.wnd}, ${I}> wshape`, `Vec<${t.wnd}, ${I}> wstrides`, `${I} win`].join(', ');
}

/** Statements setting `off` (i64) for element e; `clamp` reads clamp, else out-of-bounds elements `continue`. */
function targetCode(t: Target, clamp: boolean): string {
  const I = t.wide ? 'i64' : 'i32';
  const fit = (p: string, hi: string) => (clamp ? `${p} = ${p} < 0 ? 0 : ${p} > ${hi} ? ${hi} : ${p};` : `if (${p} < 0 || ${p} > ${hi}) continue;`);
  if (t.kind === 'axis') return `
    const ${I} c = e % inner, a = e / inner / m;
    i64 p = ${indexValue('i0[e]', t.idx[0])};
    if (p < 0) p += n;
    ${fit('p', '(i64)n - 1')}
    const i64 off = ((i64)a * n + p) * inner + c;`;
  const picks = t.idx.map((d, k) => `
    { i64 p = ${indexValue(`i${k}[i]`, d)};
      if (p < 0) p += dims.v[${k}];
      ${fit('p', `his.v[${k}]`)}
      off += p * strides.v[${k}]; }`).join('');
  return `
    const ${I} i = e / win;
    ${I} r = e % win;
    i64 off = 0;${picks}
#pragma unroll
    for (int d = ${t.wnd - 1}; d > 0; d--) { off += (i64)(r % wshape.v[d]) * wstrides.v[d]; r /= wshape.v[d]; }
    off += (i64)r * wstrides.v[0];`;
}

/** Fills the kernel arguments that targetParams declares. */
function pushTarget(ctx: CudaContext, t: Target, idx: CudaArg[], geo: Geometry): void {
  const a = ctx.rt.args;
  for (const i of idx) a.ptr(i.buf.ptr);
  if (t.kind === 'axis') { a.idx(geo.m, t.wide).idx(geo.inner, t.wide).idx(geo.n, t.wide); return; }
  a.vec(geo.dims, true).vec(geo.his, true).vec(geo.strides, true).vec(geo.wshape, t.wide).vec(geo.wstrides, t.wide).idx(geo.win, t.wide);
}

interface Geometry { dims: number[]; his: number[]; strides: number[]; wshape: number[]; wstrides: number[]; win: number; m: number; inner: number; n: number }

/** The window geometry of a gather or scatter on `axes` of x with windows of `sizes`. */
function windows(xShape: readonly number[], axes: readonly number[], sizes: readonly number[]): Geometry {
  const xs = rowStrides(xShape);
  const c = collapse(sizes, [xs]);
  return {
    dims: axes.map((a) => xShape[a]), his: axes.map((a) => xShape[a] - sizes[a]), strides: axes.map((a) => xs[a]),
    wshape: c.shape, wstrides: c.strides[0], win: sizeOf(sizes), m: 0, inner: 0, n: 0,
  };
}

function alongAxis(xShape: readonly number[], idxShape: readonly number[], axis: number): Geometry {
  return { dims: [], his: [], strides: [], wshape: [], wstrides: [], win: 1, m: idxShape[axis], inner: sizeOf(idxShape.slice(axis + 1)), n: xShape[axis] };
}

const targetKey = (t: Target) => `${t.kind}|${t.idx.map((d) => d.name).join(',')}|${t.wnd}|${t.wide}`;

// ---------------------------------------------------------------- gather

export function renderGather(name: string, elem: number, t: Target): KernelSource {
  const I = t.wide ? 'i64' : 'i32';
  const T = rawType(elem);
  const source = `${PRELUDE}
extern "C" __global__ void __launch_bounds__(256) ${name}(${T}* __restrict__ out, const ${T}* __restrict__ src, ${targetParams(t)}, ${I} total) {
  for (${I} e = (${I})blockIdx.x * blockDim.x + threadIdx.x; e < total; e += (${I})gridDim.x * blockDim.x) {${targetCode(t, true)}
    out[e] = src[off];
  }
}
`;
  return { name, source };
}

function runGather(ctx: CudaContext, x: CudaArg, idx: CudaArg[], outPtr: bigint, total: number, t: Target, geo: Geometry): void {
  if (total === 0) return;
  const e = x.dtype.size;
  const fn = ctx.kernels.get(`gather|${e}|${targetKey(t)}`, () => renderGather(`gather_${t.kind}_${e * 8}`, e, t));
  ctx.rt.args.reset().ptr(outPtr).ptr(x.buf.ptr);
  pushTarget(ctx, t, idx, geo);
  ctx.rt.args.idx(total, t.wide);
  ctx.rt.launch(fn, [ctx.rt.gridFor(total), 1, 1], [256, 1, 1]);
}

const isWide = (...sizes: number[]) => sizes.some((s) => s > WIDE);

const gather: CudaKernel = ([x, ...idx], [out], { axes, sliceSizes }: GatherParams, ctx) => {
  const o = ctx.alloc(out);
  const total = sizeOf(out.shape);
  const geo = windows(x.shape, axes, sliceSizes);
  const t: Target = { kind: 'windows', idx: idx.map((i) => i.dtype), wnd: geo.wshape.length, wide: isWide(total, sizeOf(x.shape)) };
  runGather(ctx, x, idx, o.ptr, total, t, geo);
  return [o];
};

const gatherAxis: CudaKernel = ([x, idx], [out], { axis }: { axis: number }, ctx) => {
  const o = ctx.alloc(out);
  const total = sizeOf(out.shape);
  const t: Target = { kind: 'axis', idx: [idx.dtype], wnd: 0, wide: isWide(total, sizeOf(x.shape)) };
  runGather(ctx, x, [idx], o.ptr, total, t, alongAxis(x.shape, idx.shape, axis));
  return [o];
};

// ---------------------------------------------------------------- scatter

/** `acc` combined with update `v` (both of ctype(d)), as the CPU's combineExpr. */
function combine(reduce: ScatterReduce, d: DType, acc: string, v: string): string {
  const isBool = d.kind === 'bool';
  switch (reduce) {
    case 'sum': return isBool ? `(${acc} | ${v})` : d.isFloat ? `(${acc} + ${v})` : `wadd(${acc}, ${v})`;
    case 'prod': return isBool ? `(${acc} & ${v})` : d.isFloat ? `(${acc} * ${v})` : `wmul(${acc}, ${v})`;
    case 'max': return isBool ? `(${acc} | ${v})` : d.isFloat ? `((${acc} > ${v} || ${acc} != ${acc}) ? ${acc} : ${v})` : `(${acc} > ${v} ? ${acc} : ${v})`;
    case 'min': return isBool ? `(${acc} & ${v})` : d.isFloat ? `((${acc} < ${v} || ${acc} != ${acc}) ? ${acc} : ${v})` : `(${acc} < ${v} ? ${acc} : ${v})`;
    default: return v;
  }
}

/** A device function `${name}_update(S* p, C v)` combining v into *p atomically. */
function atomicUpdate(name: string, reduce: ScatterReduce, d: DType): string {
  const S = stype(d), C = ctype(d);
  const head = `__device__ __forceinline__ void ${name}_update(${S}* p, ${C} v)`;
  const native: Record<string, string> = {
    'sum|float32': 'atomicAdd(p, v);',
    'sum|int32': 'atomicAdd((u32*)p, (u32)v);', 'sum|uint32': 'atomicAdd(p, v);',
    'sum|int64': 'atomicAdd((u64*)p, (u64)v);', 'sum|uint64': 'atomicAdd(p, v);',
    'max|int32': 'atomicMax(p, v);', 'max|uint32': 'atomicMax(p, v);', 'max|int64': 'atomicMax((long long*)p, (long long)v);', 'max|uint64': 'atomicMax(p, v);',
    'min|int32': 'atomicMin(p, v);', 'min|uint32': 'atomicMin(p, v);', 'min|int64': 'atomicMin((long long*)p, (long long)v);', 'min|uint64': 'atomicMin(p, v);',
  };
  const fast = native[`${reduce}|${d.name}`];
  if (fast) return `${head} { ${fast} }`;
  const next = (acc: string) => store(combine(reduce, d, acc, 'v'), d);
  if (d.size <= 2) return `${head} {
  u32* word = (u32*)((size_t)p & ~(size_t)3);
  const int shift = (int)((size_t)p & 3) * 8;
  const u32 mask = ${d.size === 1 ? '0xffu' : '0xffffu'} << shift;
  u32 old = *word, assumed;
  do {
    assumed = old;
    const ${S} cur = (${S})((assumed & mask) >> shift);
    const ${S} nv = ${next(load('cur', d))};
    old = atomicCAS(word, assumed, (assumed & ~mask) | (((u32)nv << shift) & mask));
  } while (assumed != old);
}`;
  const W = d.size === 8 ? 'u64' : 'u32';
  const fromBits = d.name === 'float32' ? '__uint_as_float(assumed)' : `(${C})assumed`;
  const toBits = d.name === 'float32' ? '__float_as_uint(nv)' : `(${W})nv`;
  return `${head} {
  ${W}* word = (${W}*)p;
  ${W} old = *word, assumed;
  do {
    assumed = old;
    const ${S} nv = ${next(fromBits)};
    old = atomicCAS(word, assumed, ${toBits});
  } while (assumed != old);
}`;
}

export type ScatterPhase = 'claim' | 'write' | 'direct' | 'reduce';

/**
 * One pass over the update elements e: 'claim' records e + 1 as the last writer of its
 * destination, 'write' stores the updates that won, 'direct' stores every update (one
 * window: no destination is written twice), 'reduce' combines atomically.
 */
export function renderScatter(name: string, d: DType, reduce: ScatterReduce, phase: ScatterPhase, t: Target, wideClaims: boolean): KernelSource {
  const I = t.wide ? 'i64' : 'i32';
  const T = phase === 'reduce' ? stype(d) : rawType(d.size);
  const W = wideClaims ? 'u64' : 'u32';
  const body = phase === 'claim' ? `atomicMax(&claims[off], (${W})e + 1);`
    : phase === 'write' ? `if (claims[off] == (${W})e + 1) out[off] = upd[e];`
      : phase === 'direct' ? 'out[off] = upd[e];'
      : `${name}_update(&out[off], ${load('upd[e]', d)});`;
  const source = `${PRELUDE}
${phase === 'reduce' ? atomicUpdate(name, reduce, d) : ''}
extern "C" __global__ void __launch_bounds__(256) ${name}(${T}* __restrict__ out, ${W}* __restrict__ claims, const ${T}* __restrict__ upd, ${targetParams(t)}, ${I} total) {
  for (${I} e = (${I})blockIdx.x * blockDim.x + threadIdx.x; e < total; e += (${I})gridDim.x * blockDim.x) {${targetCode(t, false)}
    ${body}
  }
}
`;
  return { name, source };
}

/**
 * out = x with u scattered in. Writes over x itself when out is x's memory (a CUDA graph
 * hands a donated input's buffer to the output: a KV cache update then copies nothing). A
 * single window (every index 0-d, as in a dynamic sliceUpdate) writes each destination once,
 * so it needs no claims: one 'direct' pass.
 */
function runScatter(ctx: CudaContext, x: CudaArg, idx: CudaArg[], u: CudaArg, reduce: ScatterReduce, outPtr: bigint, t: Target, geo: Geometry): void {
  const d = x.dtype;
  if (outPtr !== x.buf.ptr) copyStrided(ctx, d.size, outPtr, 0, null, x.buf.ptr, 0, rowStrides(x.shape), x.shape);
  const total = sizeOf(u.shape);
  if (total === 0 || sizeOf(x.shape) === 0) return;
  const wideClaims = total >= 2 ** 32 - 1;
  const oneWindow = t.kind === 'windows' && idx.every((i) => i.shape.length === 0);
  const phases: ScatterPhase[] = reduce !== 'none' ? ['reduce'] : oneWindow ? ['direct'] : ['claim', 'write'];
  let claims = 0n;
  if (phases[0] === 'claim') {
    const bytes = sizeOf(x.shape) * (wideClaims ? 8 : 4);
    claims = ctx.temp(bytes).ptr;
    check(ctx.rt.driver, ctx.rt.driver.cuMemsetD8Async(claims, 0, bytes, ctx.rt.stream), 'cuMemsetD8Async');
  }
  for (const phase of phases) {
    const key = `scatter|${phase}|${reduce}|${phase === 'reduce' ? d.name : d.size}|${wideClaims}|${targetKey(t)}`;
    const fn = ctx.kernels.get(key, () => renderScatter(`scatter_${t.kind}_${phase}${phase === 'reduce' ? `_${reduce}` : ''}`, d, reduce, phase, t, wideClaims));
    ctx.rt.args.reset().ptr(outPtr).ptr(claims).ptr(u.buf.ptr);
    pushTarget(ctx, t, idx, geo);
    ctx.rt.args.idx(total, t.wide);
    ctx.rt.launch(fn, [ctx.rt.gridFor(total), 1, 1], [256, 1, 1]);
  }
}

const scatter: CudaKernel = (ins, [out], { axes, reduce }: ScatterParams, ctx) => {
  const o = ctx.alloc(out);
  const x = ins[0], u = ins[ins.length - 1], idx = ins.slice(1, -1);
  const sizes = u.shape.slice(u.shape.length - x.shape.length);
  const geo = windows(x.shape, axes, sizes);
  const t: Target = { kind: 'windows', idx: idx.map((i) => i.dtype), wnd: geo.wshape.length, wide: isWide(sizeOf(u.shape), sizeOf(x.shape)) };
  runScatter(ctx, x, idx, u, reduce, o.ptr, t, geo);
  return [o];
};

const scatterAxis: CudaKernel = ([x, idx, u], [out], { axis, reduce }: { axis: number; reduce: ScatterReduce }, ctx) => {
  const o = ctx.alloc(out);
  const t: Target = { kind: 'axis', idx: [idx.dtype], wnd: 0, wide: isWide(sizeOf(u.shape), sizeOf(x.shape)) };
  runScatter(ctx, x, [idx], u, reduce, o.ptr, t, alongAxis(x.shape, idx.shape, axis));
  return [o];
};

// ---------------------------------------------------------------- searchsorted

/** Binary search of each value of row r of v in row r of a; NaN sorts last, as on the CPU. */
export function renderSearchsorted(name: string, d: DType, right: boolean, wide: boolean): KernelSource {
  const I = wide ? 'i64' : 'i32';
  const C = ctype(d);
  const nan = (v: string) => (d.isFloat ? `${v} != ${v}` : 'false');
  const goRight = right ? `!(x < y || (${nan('y')} && !(${nan('x')})))` : `(y < x || (${nan('x')} && !(${nan('y')})))`;
  const source = `${PRELUDE}
extern "C" __global__ void __launch_bounds__(256) ${name}(i32* __restrict__ out, const ${stype(d)}* __restrict__ a, const ${stype(d)}* __restrict__ v, ${I} n, ${I} m, ${I} total) {
  for (${I} e = (${I})blockIdx.x * blockDim.x + threadIdx.x; e < total; e += (${I})gridDim.x * blockDim.x) {
    const ${I} base = (e / m) * n;
    const ${C} x = ${load('v[e]', d)};
    ${I} lo = 0, hi = n;
    while (lo < hi) {
      const ${I} mid = (lo + hi) >> 1;
      const ${C} y = ${load('a[base + mid]', d)};
      if (${goRight}) lo = mid + 1; else hi = mid;
    }
    out[e] = (i32)lo;
  }
}
`;
  return { name, source };
}

const searchsorted: CudaKernel = ([a, v], [out], { side }: { side: 'left' | 'right' }, ctx) => {
  const o = ctx.alloc(out);
  const total = sizeOf(v.shape);
  if (total === 0) return [o];
  const n = a.shape[a.shape.length - 1], m = v.shape[v.shape.length - 1];
  const wide = isWide(total, sizeOf(a.shape));
  const right = side === 'right';
  const fn = ctx.kernels.get(`searchsorted|${a.dtype.name}|${right}|${wide}`, () => renderSearchsorted(`searchsorted_${side}`, a.dtype, right, wide));
  ctx.rt.args.reset().ptr(o.ptr).ptr(a.buf.ptr).ptr(v.buf.ptr).idx(n, wide).idx(m, wide).idx(total, wide);
  ctx.rt.launch(fn, [ctx.rt.gridFor(total), 1, 1], [256, 1, 1]);
  return [o];
};

registerCudaKernels({ gather, gatherAxis, scatter, scatterAxis, searchsorted });
