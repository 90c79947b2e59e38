// CPU reductions, arg-reductions, logsumexp and softmax. The input is viewed as
// (outer, n, inner): each output reduces the n elements between outer and inner. Reduced
// axes are moved together by a copy only when they are not already adjacent. Rows
// (inner = 1) run with four independent accumulators over 16 values per step; otherwise
// input rows are added into an accumulator row eight at a time, so reducing the first axis
// never transposes. Each op is a few JS expressions compiled into these loops per dtype.
import { DType, TypedArray, allocStorage, iinfo, int32 } from '../../../core/dtype.js';
import { F16_TABLE, BF16_TABLE, toF16, toBF16 } from '../../../core/half.js';
import { CpuKernel, CpuArg, registerCpuKernels, allocUninit } from '../backend.js';
import { loadExpr, storeExpr, copyStrided } from '../codegen.js';
import { threads, SharedKernel, GRAIN } from '../pool.js';
import type { ReduceParams, ArgReduceParams, SoftmaxParams } from '../../../core/ops/reduce.js';

const H = { F16: F16_TABLE, BF16: BF16_TABLE, toF16, toBF16 };

/** The body compileKernel runs: codegen.ts compileBody compiles the same in the pool's workers. */
const kernelBody = (src: string) => `const { F16, BF16, toF16, toBF16 } = H;\nreturn (function () {\n${src}\n})();`;

/** Compiles generated source (ending in `return <function>`) with the half-precision helpers in scope. */
export function compileKernel<F>(src: string): F {
  return new Function('H', kernelBody(src))(H) as F;
}

// ---------------------------------------------------------------- expressions per dtype

/** `e` wrapped to dtype `d` as integer arithmetic in `d` would (no-op for floats). */
export function wrapExpr(d: DType, e: string): string {
  switch (d.name) {
    case 'int8': return `((${e}) << 24 >> 24)`;
    case 'uint8': return `((${e}) & 255)`;
    case 'int16': return `((${e}) << 16 >> 16)`;
    case 'uint16': return `((${e}) & 65535)`;
    case 'int32': return `((${e}) | 0)`;
    case 'uint32': return `((${e}) >>> 0)`;
    case 'int64': return `BigInt.asIntN(64, ${e})`;
    case 'uint64': return `BigInt.asUintN(64, ${e})`;
    default: return e;
  }
}

const lit = (d: DType, v: number | bigint): string => (d.isBig ? `${v}n` : String(v));
const lowest = (d: DType) => (d.isFloat ? '-Infinity' : d.kind === 'bool' ? '0' : lit(d, iinfo(d).min));
const highest = (d: DType) => (d.isFloat ? 'Infinity' : d.kind === 'bool' ? '1' : lit(d, iinfo(d).max));

/** An associative, commutative combine with its identity, as JS source over identifiers. */
export interface Monoid {
  init: (d: DType) => string;
  step: (a: string, b: string, d: DType) => string;
  /**
   * Max and min update in place with one well-predicted comparison (a combine of fresh
   * values would branch at random): a statement that may assign `v` to the lvalue `a`.
   */
  update?: (a: string, v: string, d: DType) => string;
  /** Maps a loaded input value before combining (all/any test for nonzero, NaN included). */
  pre?: (v: string, inD: DType) => string;
}

const nonzero = (v: string, d: DType) => (d.kind === 'bool' ? v : d.isBig ? `(${v} !== 0n ? 1 : 0)` : `(${v} !== 0 ? 1 : 0)`);

// NaN wins in float max/min, as NumPy: `!(v <= a)` holds for v > a and for a NaN v, and a
// NaN already held is never replaced.
const extremum = (gt: string, le: string): Monoid => ({
  init: gt === '>' ? lowest : highest,
  step: (a, b, d) => (d.isFloat ? `(${b} ${gt} ${a} || ${b} !== ${b} ? ${b} : ${a})` : `(${b} ${gt} ${a} ? ${b} : ${a})`),
  update: (a, v, d) => (d.isFloat ? `if (!(${v} ${le} ${a}) && ${a} === ${a}) ${a} = ${v};` : `if (${v} ${gt} ${a}) ${a} = ${v};`),
});

export const monoids: Record<string, Monoid> = {
  sum: { init: (d) => lit(d, 0), step: (a, b, d) => wrapExpr(d, `${a} + ${b}`) },
  prod: {
    init: (d) => lit(d, 1),
    step: (a, b, d) => (d.isFloat ? `${a} * ${b}` : d.isBig ? wrapExpr(d, `${a} * ${b}`) : wrapExpr(d, `Math.imul(${a}, ${b})`)),
  },
  max: extremum('>', '<='),
  min: extremum('<', '>='),
  all: { init: () => '1', step: (a, b) => `(${a} & ${b})`, pre: nonzero },
  any: { init: () => '0', step: (a, b) => `(${a} | ${b})`, pre: nonzero },
};

// ---------------------------------------------------------------- layout

/** The input as (outer, n, inner) storage; `perm` is set when it had to be transposed (reduced axes last). */
export interface ReduceLayout { data: TypedArray; outer: number; n: number; inner: number; perm: number[] | null }

const prod = (xs: number[]) => xs.reduce((a, b) => a * b, 1);

export function rowStrides(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  for (let d = shape.length - 1, acc = 1; d >= 0; d--) { s[d] = acc; acc *= shape[d]; }
  return s;
}

export function reductionLayout(x: CpuArg, axes: readonly number[]): ReduceLayout {
  const shape = x.shape;
  // Size-1 axes do not move data: only the order of the others matters.
  const dims = shape.map((_, d) => d).filter((d) => shape[d] !== 1);
  const red = dims.filter((d) => axes.includes(d));
  const size = prod([...shape]);
  if (red.length === 0) return { data: x.data, outer: size, n: 1, inner: 1, perm: null };
  const first = dims.indexOf(red[0]);
  if (red.every((d, i) => dims[first + i] === d)) {
    const sizes = (ds: number[]) => prod(ds.map((d) => shape[d]));
    return { data: x.data, outer: sizes(dims.slice(0, first)), n: sizes(red), inner: sizes(dims.slice(first + red.length)), perm: null };
  }
  const keep = shape.map((_, d) => d).filter((d) => !axes.includes(d));
  const perm = [...keep, ...axes];
  const strides = rowStrides(shape);
  const data = allocStorage(x.dtype, size);
  copyStrided(x.data, x.dtype, data, perm.map((p) => shape[p]), perm.map((p) => strides[p]));
  return { data, outer: prod(keep.map((d) => shape[d])), n: prod(axes.map((d) => shape[d])), inner: 1, perm };
}

/** Writes `src`, laid out in `perm` order of `shape`, back into row-major `out` of `shape`. */
function unpermute(src: TypedArray, dtype: DType, out: TypedArray, shape: readonly number[], perm: number[]): void {
  const ps = rowStrides(perm.map((p) => shape[p]));
  copyStrided(src, dtype, out, shape, shape.map((_, d) => ps[perm.indexOf(d)]));
}

type RowFn = (out: TypedArray, src: TypedArray, outer: number, n: number, inner: number) => void;
/**
 * Reductions and arg-reductions also export, for the worker pool: `span(parts, src, start,
 * end, c)` (chunk c of one long row into parts[c]), `finish(out, parts, count, src)` (the
 * chunks combined in order into out[0]) and `rowRange(out, src, n, o0, o1)` (whole rows).
 */
interface SplitFn { span: unknown; finish: (out: TypedArray, parts: Float64Array, count: number, src: TypedArray) => void; rowRange: unknown }
const cache = new Map<string, SharedKernel>();
function cachedKernel(key: string, make: () => string): SharedKernel {
  let k = cache.get(key);
  if (!k) { const src = make(); k = { key: `reduce|${key}`, body: kernelBody(src), fn: compileKernel<RowFn>(src) }; cache.set(key, k); }
  return k;
}
const cached = (key: string, make: () => string): RowFn => cachedKernel(key, make).fn as RowFn;

/**
 * Runs a reduction of rows (inner = 1) on the worker pool when it is big: one long row in
 * chunks combined in order (the chunking does not depend on the thread count, so neither
 * does the result), or many rows split by rows. False when it is better run here alone.
 */
function runSplit(k: SharedKernel, out: TypedArray, src: TypedArray, outer: number, n: number, inner: number): boolean {
  if (inner !== 1 || !threads.worthIt(outer * n)) return false;
  if (outer === 1) {
    const count = Math.ceil(n / GRAIN);
    const parts = new Float64Array(new SharedArrayBuffer(8 * count));
    threads.run(k, 'span', [parts, src], [parts], n);
    (k.fn as SplitFn).finish(out, parts, count, src);
  } else {
    threads.run(k, 'rowRange', [out, src, n], [out], outer, Math.ceil(GRAIN / n));
  }
  return true;
}

// ---------------------------------------------------------------- reductions

/** out[o, i] = combine over j of src[o, j, i], accumulating in `accD` and storing as `outD`. */
function reduceSource(m: Monoid, inD: DType, accD: DType, outD: DType): string {
  const ids = (n: number) => [...Array(n).keys()];
  const I = m.init(accD);
  const S = (a: string, b: string) => m.step(a, b, accD);
  const U = (a: string, v: string) => (m.update ? m.update(a, v, accD) : `${a} = ${S(a, v)};`);
  const L = (k: string) => (m.pre ? m.pre(loadExpr(`src[${k}]`, inD), inD) : loadExpr(`src[${k}]`, inD));
  const big = accD.isBig;

  // Rows take 16 values per step into 4 accumulators: sums first add them in pairs; max/min
  // update each accumulator in turn (a combine of fresh values would branch at random).
  const [lanes, per] = big ? [1, 1] : [4, 16];
  const loads = ids(per).map((q) => `const v${q} = ${L(`k + ${q}`)};`).join(' ');
  const tree = (l: number) => pairUp(ids(per / lanes).map((t) => `v${l + t * lanes}`), S);
  const rowStep = m.update
    ? ids(per).map((q) => U(`a${q % lanes}`, `v${q}`)).join(' ')
    : ids(lanes).map((l) => `a${l} = ${S(`a${l}`, tree(l))};`).join(' ');

  // Accumulating rows: eight input rows per pass over the accumulator row (sums also take
  // four columns per step), so the accumulator is read and written once per eight values.
  const R = big ? 1 : 8, cols = m.update || big ? 1 : 4;
  const values = (c: string) => ids(R).map((r) => `const v${r} = ${L(`k${r} + ${c}`)};`).join(' ');
  const colStep = (c: string) => (m.update
    ? `{ ${values(c)} let a = acc[${c}]; ${ids(R).map((r) => U('a', `v${r}`)).join(' ')} acc[${c}] = a; }`
    : `{ ${values(c)} const a = acc[${c}]; acc[${c}] = ${S('a', pairUp(ids(R).map((r) => `v${r}`), S))}; }`);
  const acc = big ? (accD.name === 'int64' ? 'BigInt64Array' : 'BigUint64Array') : 'Float64Array';
  return `
function rows(out, src, outer, n, o0) {
  for (let o = o0 === undefined ? 0 : o0; o < outer; o++) {
    const e = o * n + n;
    let ${ids(lanes).map((l) => `a${l} = ${I}`).join(', ')};
    let k = o * n;
    for (; k + ${per - 1} < e; k += ${per}) { ${loads} ${rowStep} }
    for (; k < e; k++) { const v = ${L('k')}; ${U('a0', 'v')} }
    const r = ${pairUp(ids(lanes).map((l) => `a${l}`), S)};
    out[o] = ${storeExpr('r', outD)};
  }
}
function span(parts, src, k, e, c) {
  let ${ids(lanes).map((l) => `a${l} = ${I}`).join(', ')};
  for (; k + ${per - 1} < e; k += ${per}) { ${loads} ${rowStep} }
  for (; k < e; k++) { const v = ${L('k')}; ${U('a0', 'v')} }
  parts[c] = ${pairUp(ids(lanes).map((l) => `a${l}`), S)};
}
function finish(out, parts, count) {
  let r = parts[0];
  for (let c = 1; c < count; c++) { const p = parts[c]; r = ${S('r', 'p')}; }
  out[0] = ${storeExpr('r', outD)};
}
function rowRange(out, src, n, o0, o1) { rows(out, src, o1, n, o0); }
function addRows(acc, src, base, inner) {
  ${ids(R).map((r) => `const k${r} = base + ${r} * inner;`).join(' ')}
  let i = 0;
  for (; i + ${cols - 1} < inner; i += ${cols}) { ${ids(cols).map((c) => colStep(`i + ${c}`)).join(' ')} }
  for (; i < inner; i++) ${colStep('i')}
}
function addRow(acc, src, k0, inner) {
  for (let i = 0; i < inner; i++) { const v = ${L('k0 + i')}; ${U('acc[i]', 'v')} }
}
reduce.span = span; reduce.finish = finish; reduce.rowRange = rowRange;
return reduce;
function reduce(out, src, outer, n, inner) {
  if (inner === 1) return rows(out, src, outer, n);
  const acc = new ${acc}(inner);
  for (let o = 0; o < outer; o++) {
    acc.fill(${I});
    let k = o * n * inner, j = 0;
    for (; j + ${R - 1} < n; j += ${R}, k += ${R} * inner) addRows(acc, src, k, inner);
    for (; j < n; j++, k += inner) addRow(acc, src, k, inner);
    for (let i = 0, ob = o * inner; i < inner; i++) { const a = acc[i]; out[ob + i] = ${storeExpr('a', outD)}; }
  }
}`;
}

/** Combines pure expressions pairwise, (x0 . x1) . (x2 . x3): a short tree. */
function pairUp(xs: string[], S: (a: string, b: string) => string): string {
  while (xs.length > 1) {
    const next: string[] = [];
    for (let i = 0; i < xs.length; i += 2) next.push(i + 1 < xs.length ? S(xs[i], xs[i + 1]) : xs[i]);
    xs = next;
  }
  return xs[0];
}

/** Reduces `axes` of `x` with monoid `op` into `out` (dtype `outDtype`). Other kernels reuse it. */
export function runReduce(op: string, x: CpuArg, axes: readonly number[], outDtype: DType, out: TypedArray): void {
  const { data, outer, n, inner } = reductionLayout(x, axes);
  const m = monoids[op];
  // all/any accumulate 0/1 as numbers; the others accumulate in the output dtype.
  const accD = m.pre ? int32 : outDtype;
  const k = cachedKernel(`${op}|${x.dtype.name}|${outDtype.name}`, () => reduceSource(m, x.dtype, accD, outDtype));
  // BigInt partials would not fit the Float64Array of chunk results: 64-bit integers stay here.
  if (accD.isBig || !runSplit(k, out, data, outer, n, inner)) (k.fn as RowFn)(out, data, outer, n, inner);
}

const reduceKernel = (op: string): CpuKernel => ([x], [out], { axes }: ReduceParams) => {
  const o = allocUninit(out);
  runReduce(op, x, axes, out.dtype, o);
  return [o];
};

// ---------------------------------------------------------------- argmax / argmin

/**
 * Index of the first max (min) along the middle axis; the first NaN wins, as NumPy. Rows
 * run the max loop (four running maxima, no index bookkeeping) and look back into a block
 * of 64 only when it holds a new best, which is rare after the first blocks.
 */
function argSource(isMax: boolean, d: DType): string {
  const L = (k: string) => loadExpr(`src[${k}]`, d);
  const nan = d.isFloat;
  // `better(v, m)`: v replaces the best so far; true for a NaN v.
  const better = (v: string, m: string) => (isMax ? (nan ? `!(${v} <= ${m})` : `${v} > ${m}`) : nan ? `!(${v} >= ${m})` : `${v} < ${m}`);
  // A running extremum keeps a NaN once it has one, so the block check below sees it.
  const update = (m: string, v: string) => `if (${better(v, m)}${nan ? ` && ${m} === ${m}` : ''}) ${m} = ${v};`;
  const nanReturn = (v: string, j: string) => (nan ? `if (${v} !== ${v}) return ${j};` : '');
  const init = isMax ? '-Infinity' : 'Infinity';
  const lanes = [0, 1, 2, 3];
  return `
function row(src, base, n) {
  let m0 = ${init}, m1 = m0, m2 = m0, m3 = m0, best = m0, bi = 0, j = 0;
  for (; j + 63 < n; j += 64) {
    for (let k = base + j, e = k + 64; k < e; k += 8) {
      ${[...lanes, 4, 5, 6, 7].map((q) => `const v${q} = ${L(`k + ${q}`)};`).join(' ')}
      ${[...lanes, 4, 5, 6, 7].map((q) => update(`m${q % 4}`, `v${q}`)).join(' ')}
    }
    if (${lanes.map((l) => better(`m${l}`, 'best')).join(' || ')}) {
      for (let q = j; q < j + 64; q++) { const v = ${L('base + q')}; if (${better('v', 'best')}) { ${nanReturn('v', 'q')} best = v; bi = q; } }
      m0 = m1 = m2 = m3 = best;
    }
  }
  for (; j < n; j++) { const v = ${L('base + j')}; if (${better('v', 'best')}) { ${nanReturn('v', 'j')} best = v; bi = j; } }
  return bi;
}
function step(best, idx, src, k, inner, j) {
  for (let i = 0; i < inner; i++) {
    const v = ${L('k + i')}, m = best[i];
    if (${better('v', 'm')}${nan ? ' && m === m' : ''}) { best[i] = v; idx[i] = j; }
  }
}
function span(parts, src, start, end, c) { parts[c] = start + row(src, start, end - start); }
// Chunk bests in order: a later one replaces only a strictly better value; a NaN ends it.
function finish(out, parts, count, src) {
  let bi = parts[0], best = ${L('bi')};
  for (let c = 1; c < count${nan ? ' && best === best' : ''}; c++) { const i = parts[c], v = ${L('i')}; if (${better('v', 'best')}) { best = v; bi = i; } }
  out[0] = bi;
}
function rowRange(out, src, n, o0, o1) { for (let o = o0; o < o1; o++) out[o] = row(src, o * n, n); }
argReduce.span = span; argReduce.finish = finish; argReduce.rowRange = rowRange;
return argReduce;
function argReduce(out, src, outer, n, inner) {
  if (inner === 1) { for (let o = 0; o < outer; o++) out[o] = row(src, o * n, n); return; }
  const best = ${d.isBig ? 'new Array(inner)' : 'new Float64Array(inner)'}, idx = new Uint32Array(inner);
  for (let o = 0; o < outer; o++) {
    let k = o * n * inner;
    for (let i = 0; i < inner; i++) best[i] = ${L('k + i')};
    idx.fill(0);
    for (let j = 1; j < n; j++) { k += inner; step(best, idx, src, k, inner, j); }
    out.set(idx, o * inner);
  }
}`;
}

const argKernel = (isMax: boolean): CpuKernel => ([x], [out], { axis }: ArgReduceParams) => {
  const o = allocUninit(out);
  const { data, outer, n, inner } = reductionLayout(x, [axis]);
  const k = cachedKernel(`arg${isMax}|${x.dtype.name}`, () => argSource(isMax, x.dtype));
  if (x.dtype.isBig || !runSplit(k, o, data, outer, n, inner)) (k.fn as RowFn)(o, data, outer, n, inner);
  return [o];
};

// ---------------------------------------------------------------- logsumexp and softmax

/** Row maxima (NaN wins) into `m`, by rows or by accumulating rows. Shared by logsumexp and softmax. */
const maxHelpers = (d: DType) => {
  const L = (k: string) => loadExpr(`src[${k}]`, d);
  return `
function rowMax(src, b, n) {
  let m0 = -Infinity, m1 = -Infinity, j = 0;
  for (; j + 1 < n; j += 2) {
    const v0 = ${L('b + j')}, v1 = ${L('b + j + 1')};
    if (!(v0 <= m0) && m0 === m0) m0 = v0;
    if (!(v1 <= m1) && m1 === m1) m1 = v1;
  }
  if (j < n) { const v = ${L('b + j')}; if (!(v <= m0) && m0 === m0) m0 = v; }
  return m1 > m0 || m1 !== m1 ? m1 : m0;
}
function colMax(m, src, k0, n, inner) {
  m.fill(-Infinity);
  for (let j = 0, k = k0; j < n; j++, k += inner)
    for (let i = 0; i < inner; i++) { const v = ${L('k + i')}, a = m[i]; if (!(v <= a) && a === a) m[i] = v; }
}
const finite = (m) => m - m === 0;`;
};

function logsumexpSource(d: DType, outD: DType): string {
  const L = (k: string) => loadExpr(`src[${k}]`, d);
  return `${maxHelpers(d)}
return function logsumexp(out, src, outer, n, inner) {
  if (inner === 1) {
    for (let o = 0; o < outer; o++) {
      const b = o * n, m = rowMax(src, b, n);
      if (!finite(m)) { out[o] = ${storeExpr('m', outD)}; continue; }
      let s0 = 0, s1 = 0, j = 0;
      for (; j + 1 < n; j += 2) { s0 += Math.exp(${L('b + j')} - m); s1 += Math.exp(${L('b + j + 1')} - m); }
      if (j < n) s0 += Math.exp(${L('b + j')} - m);
      const r = m + Math.log(s0 + s1);
      out[o] = ${storeExpr('r', outD)};
    }
    return;
  }
  const m = new Float64Array(inner), s = new Float64Array(inner);
  for (let o = 0; o < outer; o++) {
    const k0 = o * n * inner;
    colMax(m, src, k0, n, inner);
    s.fill(0);
    for (let j = 0, k = k0; j < n; j++, k += inner)
      for (let i = 0; i < inner; i++) s[i] += Math.exp(${L('k + i')} - m[i]);
    for (let i = 0; i < inner; i++) { const r = finite(m[i]) ? m[i] + Math.log(s[i]) : m[i]; out[o * inner + i] = ${storeExpr('r', outD)}; }
  }
};`;
}

function softmaxSource(d: DType, outD: DType): string {
  const L = (k: string) => loadExpr(`src[${k}]`, d);
  return `${maxHelpers(d)}
return function softmax(out, src, outer, n, inner) {
  if (inner === 1) {
    const e = new Float64Array(n);
    for (let o = 0; o < outer; o++) {
      const b = o * n, m = rowMax(src, b, n);
      let s = 0;
      for (let j = 0; j < n; j++) { const v = Math.exp(${L('b + j')} - m); e[j] = v; s += v; }
      for (let j = 0; j < n; j++) { const r = e[j] / s; out[b + j] = ${storeExpr('r', outD)}; }
    }
    return;
  }
  const m = new Float64Array(inner), s = new Float64Array(inner), e = new Float64Array(n * inner);
  for (let o = 0; o < outer; o++) {
    const k0 = o * n * inner;
    colMax(m, src, k0, n, inner);
    s.fill(0);
    for (let t = 0, k = k0; t < n * inner; t += inner, k += inner)
      for (let i = 0; i < inner; i++) { const v = Math.exp(${L('k + i')} - m[i]); e[t + i] = v; s[i] += v; }
    for (let t = 0, k = k0; t < n * inner; t += inner, k += inner)
      for (let i = 0; i < inner; i++) { const r = e[t + i] / s[i]; out[k + i] = ${storeExpr('r', outD)}; }
  }
};`;
}

const logsumexp: CpuKernel = ([x], [out], { axes }: ReduceParams) => {
  const o = allocUninit(out);
  const { data, outer, n, inner } = reductionLayout(x, axes);
  cached(`logsumexp|${x.dtype.name}|${out.dtype.name}`, () => logsumexpSource(x.dtype, out.dtype))(o, data, outer, n, inner);
  return [o];
};

const softmax: CpuKernel = ([x], [out], { axes }: SoftmaxParams) => {
  const o = allocUninit(out);
  const { data, outer, n, inner, perm } = reductionLayout(x, axes);
  const fn = cached(`softmax|${x.dtype.name}|${out.dtype.name}`, () => softmaxSource(x.dtype, out.dtype));
  if (!perm) { fn(o, data, outer, n, inner); return [o]; }
  const t = allocUninit(out);
  fn(t, data, outer, n, inner);
  unpermute(t, out.dtype, o, out.shape, perm);
  return [o];
};

registerCpuKernels({
  ...Object.fromEntries(Object.keys(monoids).map((op) => [op, reduceKernel(op)])),
  argmax: argKernel(true),
  argmin: argKernel(false),
  logsumexp,
  softmax,
});
