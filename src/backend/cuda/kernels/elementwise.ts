// CUDA kernels for elementwise primitives: one CUDA C expression per op and dtype (the same
// families and semantics as the CPU tables), rendered into a grid-stride loop per
// (expression, dtypes, layout). Inputs are read in place through strides: contiguous,
// a single scalar, or strided for broadcasting.
import type { DType } from '../../../core/dtype.js';
import type { KernelSource } from '../compiler.js';
import { registerCudaKernels, CudaKernel, CudaArg, CudaBuffer, CudaContext } from '../backend.js';
import { PRELUDE, ctype, stype, load, store } from './ctypes.js';
import { broadcastStrides, collapse, isDense, sizeOf, WIDE } from './layout.js';

/** CUDA C computing a unary op on value `x` (of `ctype(d)`, d the input's dtype). */
export type UnaryExpr = (x: string, d: DType, params: Record<string, unknown>) => string;
/** CUDA C computing a binary op on values `a`, `b` of `ctype(d)`. */
export type BinaryExpr = (a: string, b: string, d: DType) => string;

const signed = (d: DType) => d.kind === 'int';
const wide = (d: DType) => d.size === 8;

function roundExpr(x: string, d: DType, decimals: number): string {
  // float16 rounds each step in half precision, as NumPy's half loops (x * 100 may overflow)
  if (d.isFloat) return decimals === 0 ? `rintf(${x})` : `l_rounddec${d.name === 'float16' ? '16' : ''}(${x}, ${decimals})`;
  if (decimals >= 0 || d.kind === 'bool') return x;
  return `(${ctype(d)})(rint((double)(${x}) / ${10 ** -decimals}.0) * ${10 ** -decimals}.0)`;
}

export const unaryCuda: Record<string, UnaryExpr> = {
  abs: (x, d) => (d.isFloat ? `fabsf(${x})` : signed(d) ? `(${x} < 0 ? wneg(${x}) : ${x})` : x),
  negative: (x) => `wneg(${x})`,
  sign: (x, d) => (d.isFloat ? `(${x} > 0.0f ? 1.0f : ${x} < 0.0f ? -1.0f : ${x})` : signed(d) ? `(${ctype(d)})((${x} > 0) - (${x} < 0))` : `(${x} > 0 ? 1 : 0)`),
  exp: (x) => `expf(${x})`,
  expm1: (x) => `expm1f(${x})`,
  log: (x) => `logf(${x})`,
  log1p: (x) => `log1pf(${x})`,
  log2: (x) => `log2f(${x})`,
  log10: (x) => `log10f(${x})`,
  sqrt: (x) => `sqrtf(${x})`,
  rsqrt: (x) => `rsqrtf(${x})`,
  square: (x) => `wmul(${x}, ${x})`,
  reciprocal: (x) => `(1.0f / ${x})`,
  sin: (x) => `sinf(${x})`,
  cos: (x) => `cosf(${x})`,
  tan: (x) => `tanf(${x})`,
  arcsin: (x) => `asinf(${x})`,
  arccos: (x) => `acosf(${x})`,
  arctan: (x) => `atanf(${x})`,
  sinh: (x) => `sinhf(${x})`,
  cosh: (x) => `coshf(${x})`,
  tanh: (x) => `tanhf(${x})`,
  arcsinh: (x) => `asinhf(${x})`,
  arccosh: (x) => `acoshf(${x})`,
  arctanh: (x) => `atanhf(${x})`,
  erf: (x) => `erff(${x})`,
  erfinv: (x) => `erfinvf(${x})`,
  sigmoid: (x) => `(1.0f / (1.0f + expf(-${x})))`,
  floor: (x, d) => (d.isFloat ? `floorf(${x})` : x),
  ceil: (x, d) => (d.isFloat ? `ceilf(${x})` : x),
  round: (x, d, p) => roundExpr(x, d, Number(p.decimals ?? 0)),
  isnan: (x, d) => (d.isFloat ? `(${x} != ${x})` : 'false'),
  isinf: (x, d) => (d.isFloat ? `(fabsf(${x}) == LATHE_INF)` : 'false'),
  isfinite: (x, d) => (d.isFloat ? `(${x} - ${x} == 0.0f)` : 'true'),
  // NaN is true, as in C: only zeros are false
  logicalNot: (x) => `(${x} == 0)`,
  bitwiseInvert: (x, d) => (d.kind === 'bool' ? `(${x} == 0)` : `(~${x})`),
  stopGradient: (x) => x,
};

/** Shifts by a negative amount or past the width give 0 (or -1 for negative signed values), as NumPy. */
function shift(left: boolean, a: string, b: string, d: DType): string {
  const bits = wide(d) ? 64 : 32;
  const t = ctype(d);
  const bad = signed(d) ? `${b} < 0 || ${b} >= ${bits}` : `${b} >= ${bits}`;
  if (left) return `((${bad}) ? (${t})0 : (${t})((${wide(d) ? 'u64' : 'u32'})${a} << ${b}))`;
  if (signed(d)) return `(${a} >> ((${bad}) ? ${bits - 1} : ${b}))`;
  return `((${bad}) ? (${t})0 : ${a} >> ${b})`;
}

export const binaryCuda: Record<string, BinaryExpr> = {
  add: (a, b) => `wadd(${a}, ${b})`,
  subtract: (a, b) => `wsub(${a}, ${b})`,
  multiply: (a, b) => `wmul(${a}, ${b})`,
  divide: (a, b) => `(${a} / ${b})`,
  floorDivide: (a, b, d) => (d.isFloat ? `l_floordiv(${a}, ${b})` : signed(d) ? `sfloordiv(${a}, ${b})` : `ufloordiv(${a}, ${b})`),
  remainder: (a, b, d) => (d.isFloat ? `l_rem(${a}, ${b})` : signed(d) ? `srem(${a}, ${b})` : `urem(${a}, ${b})`),
  power: (a, b, d) => (d.isFloat ? `powf(${a}, ${b})` : signed(d) || d.kind === 'bool' ? `spow(${a}, ${b})` : `upow(${a}, ${b})`),
  // NaN wins in either position, as NumPy's maximum and minimum
  maximum: (a, b, d) => (d.isFloat ? `((${a} > ${b} || ${a} != ${a}) ? ${a} : ${b})` : `(${a} > ${b} ? ${a} : ${b})`),
  minimum: (a, b, d) => (d.isFloat ? `((${a} < ${b} || ${a} != ${a}) ? ${a} : ${b})` : `(${a} < ${b} ? ${a} : ${b})`),
  equal: (a, b) => `(${a} == ${b})`,
  notEqual: (a, b) => `(${a} != ${b})`,
  less: (a, b) => `(${a} < ${b})`,
  lessEqual: (a, b) => `(${a} <= ${b})`,
  greater: (a, b) => `(${a} > ${b})`,
  greaterEqual: (a, b) => `(${a} >= ${b})`,
  logicalAnd: (a, b) => `(${a} && ${b})`,
  logicalOr: (a, b) => `(${a} || ${b})`,
  bitwiseAnd: (a, b) => `(${a} & ${b})`,
  bitwiseOr: (a, b) => `(${a} | ${b})`,
  bitwiseXor: (a, b) => `(${a} ^ ${b})`,
  leftShift: (a, b, d) => shift(true, a, b, d),
  rightShift: (a, b, d) => shift(false, a, b, d),
  arctan2: (a, b) => `atan2f(${a}, ${b})`,
  logaddexp: (a, b) => `l_logaddexp(${a}, ${b})`,
};

/** Conversion of a loaded value of dtype `from` to one `store(_, to)` writes as a C cast would. */
export function castCuda(x: string, from: DType, to: DType): string {
  if (from === to) return x;
  if (to.kind === 'bool') return `(${x} != 0)`;
  if (to.isFloat) return from.isFloat ? x : `(float)(${x})`;
  if (!from.isFloat) return x; // the store truncates or extends, as C
  return to.name === 'uint64' ? `f2u64(${x})` : `(i64)(${x})`; // truncate, then the store wraps
}

// ---------------------------------------------------------------- the generated loop

export type Mode = 'full' | 'scalar' | 'strided';

/** An input of the loop; `raw` reads its storage bits as they are (select moves bits). */
export interface EwInput { dtype: DType; mode: Mode; raw?: boolean }

export interface LoopSpec {
  ins: EwInput[];
  outs: DType[];
  /** Statements over the loaded values x0, x1, ... that write out0[i], out1[i], ... */
  body: string;
  /** Axes of the (collapsed) index space; used when an input is strided. */
  nd: number;
  /** 64-bit indexing. */
  wide: boolean;
  /**
   * Elements per thread step through 16-byte (at most) packed loads and stores, when every
   * non-scalar input is dense and every pointer 16-byte aligned (1: scalar accesses).
   */
  vec?: number;
  /** Packs per thread step in packed loops (default `ewTuning.unroll`). */
  unroll?: number;
}

/**
 * Launch shape of packed loops: packs per thread step, and the grid's cap in blocks of 256
 * per SM (0: no cap, each thread does one step). Measured on an H200 (bench/gpu/variants.ts,
 * 2^26 elements): one step of two packs per thread, as torch's launch, reaches torch's
 * bandwidth (add f32 200 -> 190 µs, exp bf16 79 -> 68 µs against a grid-stride loop capped
 * at 8 blocks per SM); more packs per step lose a little again.
 */
export const ewTuning = { unroll: 2, perSm: 0 };

/** Elements per packed access: 16 bytes of the widest dense operand (1 when any input is strided). */
export function vectorWidth(ins: EwInput[], outs: readonly DType[]): number {
  if (ins.some((x) => x.mode === 'strided')) return 1;
  const widest = Math.max(...outs.map((d) => d.size), ...ins.filter((x) => x.mode === 'full').map((x) => x.dtype.size));
  return Math.max(1, 16 / widest);
}

/** A grid-stride loop over the output elements that loads each input at its (broadcast) position. */
export function renderLoop(name: string, s: LoopSpec): KernelSource {
  const I = s.wide ? 'i64' : 'i32';
  const ids = s.ins.map((_, k) => k);
  const strided = ids.filter((k) => s.ins[k].mode === 'strided');
  const T = (k: number) => stype(s.ins[k].dtype);
  const C = (k: number) => (s.ins[k].raw ? T(k) : ctype(s.ins[k].dtype));
  const L = (k: number, ref: string) => (s.ins[k].raw ? ref : load(ref, s.ins[k].dtype));
  const params = [
    ...s.outs.map((d, m) => `${stype(d)}* __restrict__ out${m}`),
    ...ids.map((k) => `const ${T(k)}* __restrict__ a${k}`),
    ...(strided.length ? [`Vec<${s.nd}, ${I}> shape`, ...strided.map((k) => `Vec<${s.nd}, ${I}> s${k}`)] : []),
    `${I} n`,
  ];
  const hoisted = ids.filter((k) => s.ins[k].mode === 'scalar').map((k) => `  const ${C(k)} x${k} = ${L(k, `a${k}[0]`)};`);
  const offsets = strided.length ? `
    ${I} r = i${strided.map((k) => `, o${k} = 0`).join('')};
#pragma unroll
    for (int d = ${s.nd - 1}; d > 0; d--) {
      const ${I} c = r % shape.v[d];
      r /= shape.v[d];
      ${strided.map((k) => `o${k} += c * s${k}.v[d];`).join(' ')}
    }
    ${strided.map((k) => `o${k} += r * s${k}.v[0];`).join(' ')}` : '';
  const loads = ids.filter((k) => s.ins[k].mode !== 'scalar')
    .map((k) => `    const ${C(k)} x${k} = ${L(k, `a${k}[${s.ins[k].mode === 'full' ? 'i' : `o${k}`}]`)};`);
  const V = s.vec ?? 1;
  const scalarLoop = (start: string) => `  for (${I} i = ${start}; i < n; i += step) {${offsets}
${loads.join('\n')}
    ${s.body}
  }`;
  // Packed: each step moves V elements of every dense operand; inside, out<m> and i are
  // shadowed by the pack and the lane, so the same body writes into registers. U packs per
  // thread step (all loads issued before any compute: more bytes in flight), then single
  // packs for the rest.
  const full = ids.filter((k) => s.ins[k].mode === 'full');
  const U = Math.max(1, s.unroll ?? ewTuning.unroll);
  // Loads, then computes, then stores: every load is issued before the first store.
  const packStep = (us: number[]) => `
${us.map((u) => full.map((k) => `    const Pack<${T(k)}, ${V}> p${k}_${u} = ((const Pack<${T(k)}, ${V}>*)a${k})[iv + ${u} * step];`).join('\n')).join('\n')}
${us.map((u) => s.outs.map((d, m) => `    Pack<${stype(d)}, ${V}> q${m}_${u};`).join('\n')).join('\n')}
${us.map((u) => `    {
${s.outs.map((d, m) => `      ${stype(d)}* const out${m} = q${m}_${u}.v;`).join('\n')}
#pragma unroll
      for (int i = 0; i < ${V}; i++) {
${full.map((k) => `        const ${C(k)} x${k} = ${L(k, `p${k}_${u}.v[i]`)};`).join('\n')}
        ${s.body}
      }
    }`).join('\n')}
${us.map((u) => s.outs.map((d, m) => `    ((Pack<${stype(d)}, ${V}>*)out${m})[iv + ${u} * step] = q${m}_${u};`).join('\n')).join('\n')}`;
  const lanes = Array.from({ length: U }, (_, u) => u);
  const packed = V === 1 ? '' : `
  const ${I} nv = n / ${V};
  ${I} iv = (${I})blockIdx.x * blockDim.x + threadIdx.x;${U > 1 ? `
  for (; iv + ${U - 1} * step < nv; iv += ${U} * step) {${packStep(lanes)}
  }` : ''}
  for (; iv < nv; iv += step) {${packStep([0])}
  }`;
  const source = `${PRELUDE}
extern "C" __global__ void __launch_bounds__(256) ${name}(${params.join(', ')}) {
  const ${I} step = (${I})gridDim.x * blockDim.x;
${hoisted.join('\n')}${packed}
${scalarLoop(V === 1 ? `(${I})blockIdx.x * blockDim.x + threadIdx.x` : `nv * ${V} + (${I})blockIdx.x * blockDim.x + threadIdx.x`)}
}
`;
  return { name, source };
}

/** A loop writing one output: `expr` (over x0, x1, ...) is the value stored, in `stype(out)`. */
export function renderElementwise(name: string, s: { expr: string; ins: EwInput[]; out: DType; nd: number; wide: boolean; vec?: number; unroll?: number }): KernelSource {
  return renderLoop(name, { ins: s.ins, outs: [s.out], body: `out0[i] = ${s.expr};`, nd: s.nd, wide: s.wide, vec: s.vec, unroll: s.unroll });
}

/** One operand of a loop. */
export interface EwOperand { arg: CudaArg; raw?: boolean }

// Host time matters here (every elementwise op comes through): the common layout (each
// operand dense at the output's shape, or a single scalar) skips the axis arithmetic, and its
// loaded loops are found by a number instead of a layout string.
const fastLoops = new Map<string, Map<number, bigint>>();
let fastGeneration = -1;
const dtypeIds = new Map<DType, number>();
function dtypeId(d: DType): number {
  let id = dtypeIds.get(d);
  if (id === undefined) { id = dtypeIds.size; dtypeIds.set(d, id); }
  return id;
}

/** The loop for dense-or-scalar operands, or null when some operand is strided (or there are too many to code). */
function fastLoop(ctx: CudaContext, key: string, render: (ins: EwInput[], nd: number, wide: boolean, vec: number) => KernelSource,
  ops: EwOperand[], outs: CudaBuffer[], n: number, outDtypes: readonly DType[]): { fn: bigint; vec: number } | null {
  if (ops.length > 6) return null;
  let code = 0, widest = 1, aligned = true, wide = n > WIDE;
  for (const d of outDtypes) if (d.size > widest) widest = d.size;
  for (const o of outs) if ((o.ptr & 15n) !== 0n) aligned = false;
  for (const o of ops) {
    const size = sizeOf(o.arg.shape);
    if (size !== 1 && size !== n) return null;
    const dense = size !== 1; // as runLoop's modes: a single element is a scalar, even when n is 1
    if (dense) {
      if (o.arg.dtype.size > widest) widest = o.arg.dtype.size;
      if ((o.arg.buf.ptr & 15n) !== 0n) aligned = false;
    }
    code = code * 128 + dtypeId(o.arg.dtype) * 4 + (dense ? 2 : 0) + (o.raw ? 1 : 0);
  }
  const vec = aligned ? Math.max(1, 16 / widest) : 1;
  code = ((code * 2 + (wide ? 1 : 0)) * 32 + vec) * 16 + Math.min(15, ewTuning.unroll);
  if (fastGeneration !== ctx.kernels.generation) { fastLoops.clear(); fastGeneration = ctx.kernels.generation; }
  let byCode = fastLoops.get(key);
  if (!byCode) { byCode = new Map(); fastLoops.set(key, byCode); }
  let fn = byCode.get(code);
  if (fn === undefined) {
    const ins: EwInput[] = ops.map((o) => ({ dtype: o.arg.dtype, mode: sizeOf(o.arg.shape) === 1 ? 'scalar' : 'full', raw: o.raw }));
    const layout = `${ins.map((x) => `${x.dtype.name}:${x.mode}${x.raw ? ':raw' : ''}`).join(',')}|1|${wide}|v${vec}|u${ewTuning.unroll}`;
    fn = ctx.kernels.get(`${key}|${layout}`, () => render(ins, 1, wide, vec));
    byCode.set(code, fn);
  }
  return { fn, vec };
}

/** Blocks of 256 for a loop over n elements in packs of `vec`: grid-stride, capped per SM (see ewTuning). */
function loopGrid(ctx: CudaContext, n: number, vec: number): number {
  if (vec === 1) return ctx.rt.gridFor(n);
  const packs = Math.ceil(n / vec);
  if (ewTuning.perSm === 0) return Math.max(1, Math.min(Math.ceil(packs / (256 * Math.max(1, ewTuning.unroll))), 2 ** 31 - 1));
  return ctx.rt.gridFor(packs, 256, ewTuning.perSm);
}

/**
 * Launches a loop over `outShape` reading `ops` (broadcast) and writing `outs` (dense, of `outDtypes`).
 * `key` (with the layout) names the kernel in the cache; `render` makes it on a miss.
 */
export function runLoop(ctx: CudaContext, key: string, render: (ins: EwInput[], nd: number, wide: boolean, vec: number) => KernelSource,
  ops: EwOperand[], outs: CudaBuffer[], outShape: readonly number[], outDtypes: readonly DType[]): void {
  const n = sizeOf(outShape);
  if (n === 0) return;
  const fast = fastLoop(ctx, key, render, ops, outs, n, outDtypes);
  if (fast) {
    const a = ctx.rt.args.reset();
    for (const o of outs) a.ptr(o.ptr);
    for (const o of ops) a.ptr(o.arg.buf.ptr);
    a.idx(n, n > WIDE);
    ctx.rt.launch(fast.fn, [loopGrid(ctx, n, fast.vec), 1, 1], [256, 1, 1]);
    return;
  }
  const c = collapse(outShape, ops.map((o) => broadcastStrides(o.arg.shape, outShape)));
  const ins: EwInput[] = ops.map((o, k) => {
    const size = sizeOf(o.arg.shape);
    const mode: Mode = size === 1 ? 'scalar' : size === n && isDense(c.shape, c.strides[k]) ? 'full' : 'strided';
    return { dtype: o.arg.dtype, mode, raw: o.raw };
  });
  const isWide = n > WIDE || ops.some((o) => sizeOf(o.arg.shape) > WIDE);
  const nd = c.shape.length;
  const aligned = [...outs.map((o) => o.ptr), ...ops.filter((_, k) => ins[k].mode === 'full').map((o) => o.arg.buf.ptr)].every((p) => (p & 15n) === 0n);
  const vec = aligned ? vectorWidth(ins, outDtypes) : 1;
  const layout = `${ins.map((x) => `${x.dtype.name}:${x.mode}${x.raw ? ':raw' : ''}`).join(',')}|${nd}|${isWide}|v${vec}|u${ewTuning.unroll}`;
  const fn = ctx.kernels.get(`${key}|${layout}`, () => render(ins, nd, isWide, vec));
  const a = ctx.rt.args.reset();
  for (const o of outs) a.ptr(o.ptr);
  for (const o of ops) a.ptr(o.arg.buf.ptr);
  if (ins.some((x) => x.mode === 'strided')) {
    a.vec(c.shape, isWide);
    ins.forEach((x, k) => { if (x.mode === 'strided') a.vec(c.strides[k], isWide); });
  }
  a.idx(n, isWide);
  ctx.rt.launch(fn, [loopGrid(ctx, n, vec), 1, 1], [256, 1, 1]);
}

const ewKey = (expr: string, outDtype: DType) => `ew|${expr}|${outDtype.name}`;

/** Runs `expr` (the stored value, over x0, x1, ...) with operands broadcast to `outShape`, writing `out`. */
export function runElementwise(ctx: CudaContext, tag: string, expr: string, ops: EwOperand[], out: CudaBuffer, outShape: readonly number[], outDtype: DType): void {
  runKeyed(ctx, ewKey(expr, outDtype), tag, expr, ops, out, outShape, outDtype);
}

function runKeyed(ctx: CudaContext, key: string, tag: string, expr: string, ops: EwOperand[], out: CudaBuffer, outShape: readonly number[], outDtype: DType): void {
  runLoop(ctx, key, (ins, nd, wide, vec) => renderElementwise(`ew_${tag}`, { expr, ins, out: outDtype, nd, wide, vec }), ops, [out], outShape, [outDtype]);
}

/** The expression and cache key of an op per (input dtype, output dtype), made once. */
function memo(make: (d: DType, out: DType) => string): (d: DType, out: DType) => { expr: string; key: string } {
  const byIn = new Map<DType, Map<DType, { expr: string; key: string }>>();
  return (d, out) => {
    let byOut = byIn.get(d);
    if (!byOut) { byOut = new Map(); byIn.set(d, byOut); }
    let e = byOut.get(out);
    if (!e) { const expr = make(d, out); e = { expr, key: ewKey(expr, out) }; byOut.set(out, e); }
    return e;
  };
}

// ---------------------------------------------------------------- kernels

const unaryKernel = (name: string): CudaKernel => {
  const plain = memo((d, out) => store(unaryCuda[name]('x0', d, {}), out));
  return ([x], [out], params, ctx) => {
    const o = ctx.alloc(out);
    const p = (params ?? {}) as Record<string, unknown>;
    // Ops with parameters (round's decimals) render per call; the rest come from the memo.
    const e = Object.keys(p).length ? { expr: store(unaryCuda[name]('x0', x.dtype, p), out.dtype), key: '' } : plain(x.dtype, out.dtype);
    runKeyed(ctx, e.key || ewKey(e.expr, out.dtype), name, e.expr, [{ arg: x }], o, out.shape, out.dtype);
    return [o];
  };
};

const binaryKernel = (name: string): CudaKernel => {
  const exprs = memo((d, out) => store(binaryCuda[name]('x0', 'x1', d), out));
  return ([a, b], [out], _p, ctx) => {
    const o = ctx.alloc(out);
    const e = exprs(a.dtype, out.dtype);
    runKeyed(ctx, e.key, name, e.expr, [{ arg: a }, { arg: b }], o, out.shape, out.dtype);
    return [o];
  };
};

const table: Record<string, CudaKernel> = {};
for (const name of Object.keys(unaryCuda)) table[name] = unaryKernel(name);
for (const name of Object.keys(binaryCuda)) table[name] = binaryKernel(name);
table.stopGradient = ([x]) => [x.buf];
table.astype = ([x], [out], _p, ctx) => {
  if (x.dtype === out.dtype) return [x.buf]; // a copy to another stream shares the buffer
  const o = ctx.alloc(out);
  runElementwise(ctx, 'astype', store(castCuda('x0', x.dtype, out.dtype), out.dtype), [{ arg: x }], o, out.shape, out.dtype);
  return [o];
};
table.select = ([c, a, b], [out], _p, ctx) => {
  const o = ctx.alloc(out);
  runElementwise(ctx, 'select', '(x0 ? x1 : x2)', [{ arg: c }, { arg: a, raw: true }, { arg: b, raw: true }], o, out.shape, out.dtype);
  return [o];
};
registerCudaKernels(table);
