// CPU kernels for indexing. Reads copy raw storage (one loop serves every dtype); writes
// compute each update's destination offset first (-1: dropped, out of bounds), then run a
// loop generated per (reduction, dtype) that combines values at those offsets.
import { DType, TypedArray } from '../../../core/dtype.js';
import { F16_TABLE, BF16_TABLE, toF16, toBF16 } from '../../../core/half.js';
import type { SliceParams, GatherParams, ScatterParams, ScatterReduce } from '../../../core/ops/indexing.js';
import { CpuKernel, registerCpuKernels, allocOut } from '../backend.js';
import { copyStrided, loadExpr, storeExpr } from '../codegen.js';
import { rowStrides } from './shape.js';

/** Storage viewed as numbers for raw element moves (BigInt storage moves bigints the same way). */
type Raw = Float64Array;
const raw = (t: TypedArray) => t as unknown as Raw;
const prod = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

/** Index values as plain numbers (64-bit indices are converted once). */
function indexValues(t: TypedArray): ArrayLike<number> {
  return t instanceof BigInt64Array || t instanceof BigUint64Array ? Float64Array.from(t, Number) : (t as ArrayLike<number>);
}

/** Offsets (from `offset`) of every element of `shape` read through `strides`, in row-major order. */
function stridedOffsets(shape: readonly number[], strides: readonly number[], offset = 0): Int32Array {
  const n = prod(shape);
  const out = new Int32Array(n);
  const nd = shape.length;
  if (n === 0) return out;
  if (nd === 0) { out[0] = offset; return out; }
  const inner = shape[nd - 1], t = strides[nd - 1];
  const pos = new Int32Array(nd);
  let o = offset;
  for (let i = 0; i < n;) {
    for (let j = 0; j < inner; j++) out[i++] = o + j * t;
    for (let d = nd - 2; d >= 0; d--) {
      pos[d]++; o += strides[d];
      if (pos[d] < shape[d]) break;
      o -= strides[d] * shape[d]; pos[d] = 0;
    }
  }
  return out;
}

// ---------------------------------------------------------------- slices

const slice: CpuKernel = ([x], [out], { start, strides }: SliceParams) => {
  const o = allocOut(out);
  const rs = rowStrides(x.shape);
  const offset = start.reduce((acc, s, i) => acc + s * rs[i], 0);
  copyStrided(x.data, x.dtype, o, out.shape, strides.map((s, i) => s * rs[i]), offset);
  return [o];
};

const sliceUpdate: CpuKernel = ([x, u], _, { start, strides }: Pick<SliceParams, 'start' | 'strides'>) => {
  const o = x.data.slice();
  const rs = rowStrides(x.shape);
  const dst = stridedOffsets(u.shape, strides.map((s, i) => s * rs[i]), start.reduce((acc, s, i) => acc + s * rs[i], 0));
  const ro = raw(o), ru = raw(u.data);
  for (let j = 0; j < dst.length; j++) ro[dst[j]] = ru[j];
  return [o];
};

// ---------------------------------------------------------------- gather

/** Window start offsets into x for each index position: negatives wrap, then clamp so the window fits. */
function windowStarts(shape: readonly number[], idx: TypedArray[], axes: number[], sizes: readonly number[], n: number, clamp: boolean): Int32Array {
  const rs = rowStrides(shape);
  const vals = idx.map(indexValues);
  const bases = new Int32Array(n);
  for (let k = 0; k < axes.length; k++) {
    const dim = shape[axes[k]], hi = dim - sizes[axes[k]], st = rs[axes[k]], v = vals[k];
    for (let i = 0; i < n; i++) {
      if (bases[i] < 0) continue;
      let p = v[i];
      if (p < 0) p += dim;
      if (p < 0 || p > hi) {
        if (!clamp) { bases[i] = -1; continue; }
        p = p < 0 ? 0 : hi;
      }
      bases[i] += p * st;
    }
  }
  return bases;
}

const gather: CpuKernel = ([x, ...idx], [out], { axes, sliceSizes }: GatherParams) => {
  const o = allocOut(out);
  if (o.length === 0) return [o];
  const win = prod(sliceSizes), n = o.length / win;
  const bases = windowStarts(x.shape, idx.map((i) => i.data), axes, sliceSizes, n, true);
  const wOff = stridedOffsets(sliceSizes, rowStrides(x.shape));
  const ro = raw(o), rx = raw(x.data);
  if (win === 1) {
    for (let i = 0; i < n; i++) ro[i] = rx[bases[i]];
  } else if (wOff[win - 1] === win - 1) {
    // A contiguous window (rows of an embedding table): block copies.
    for (let i = 0; i < n; i++) o.set(x.data.subarray(bases[i], bases[i] + win) as never, i * win);
  } else {
    // Strided windows (columns, as in a[:, idx]): a block of indices at a time, so that the
    // reads for one window offset stay close together instead of striding through memory.
    for (let i0 = 0; i0 < n; i0 += 16) {
      const i1 = Math.min(n, i0 + 16);
      for (let j = 0; j < win; j++) {
        const w = wOff[j];
        for (let i = i0; i < i1; i++) ro[i * win + j] = rx[bases[i] + w];
      }
    }
  }
  return [o];
};

/** Shape viewed as (outer, axis, inner) around `axis`. */
function around(shape: readonly number[], axis: number): [number, number, number] {
  return [prod(shape.slice(0, axis)), shape[axis], prod(shape.slice(axis + 1))];
}

const gatherAxis: CpuKernel = ([x, idx], [out], { axis }: { axis: number }) => {
  const o = allocOut(out);
  const [outer, m, inner] = around(idx.shape, axis);
  const n = x.shape[axis];
  const v = indexValues(idx.data), ro = raw(o), rx = raw(x.data);
  for (let a = 0, k = 0; a < outer; a++) {
    for (let j = 0; j < m; j++) {
      for (let c = 0; c < inner; c++, k++) {
        let p = v[k];
        if (p < 0) p += n;
        p = p < 0 ? 0 : p >= n ? n - 1 : p;
        ro[k] = rx[(a * n + p) * inner + c];
      }
    }
  }
  return [o];
};

// ---------------------------------------------------------------- scatter

type Combine = (out: TypedArray, upd: TypedArray, bases: Int32Array, wOff: Int32Array) => void;
const combineCache = new Map<string, Combine>();
const halfScope = { F16: F16_TABLE, BF16: BF16_TABLE, toF16, toBF16 };

/** `acc` combined with update `v`, as JS source for dtype d. */
function combineExpr(reduce: ScatterReduce, d: DType): string {
  const isBool = d.kind === 'bool', i32 = d.name === 'int32' || d.name === 'uint32';
  switch (reduce) {
    case 'sum': return isBool ? '(acc || v)' : '(acc + v)';
    case 'prod': return isBool ? '(acc && v)' : i32 ? 'Math.imul(acc, v)' : '(acc * v)';
    case 'max': return isBool ? '(acc || v)' : d.isFloat ? '(acc > v || acc !== acc ? acc : v)' : '(acc > v ? acc : v)';
    case 'min': return isBool ? '(acc && v)' : d.isFloat ? '(acc < v || acc !== acc ? acc : v)' : '(acc < v ? acc : v)';
    default: return 'v';
  }
}

/** out[bases[i] + wOff[j]] = combine(that, upd[i * win + j]) for every kept window i. */
function combineLoop(reduce: ScatterReduce, d: DType): Combine {
  const key = `${reduce}|${d.name}`;
  let fn = combineCache.get(key);
  if (fn) return fn;
  // Plain writes move raw bits; reductions load, combine and store (typed stores wrap integers).
  const body = reduce === 'none'
    ? 'out[b + wOff[j]] = upd[u + j];'
    : `const t = b + wOff[j]; const acc = ${loadExpr('out[t]', d)}; const v = ${loadExpr('upd[u + j]', d)}; out[t] = ${storeExpr(combineExpr(reduce, d), d)};`;
  const src = `const { F16, BF16, toF16, toBF16 } = H;
return function combine(out, upd, bases, wOff) {
  const win = wOff.length, n = bases.length;
  for (let i = 0; i < n; i++) {
    const b = bases[i];
    if (b < 0) continue;
    const u = i * win;
    for (let j = 0; j < win; j++) { ${body} }
  }
};`;
  fn = new Function('H', src)(halfScope) as Combine;
  combineCache.set(key, fn);
  return fn;
}

const scatter: CpuKernel = (ins, [out], { axes, reduce }: ScatterParams) => {
  const x = ins[0], u = ins[ins.length - 1], idx = ins.slice(1, -1);
  const o = x.data.slice();
  const sizes = u.shape.slice(u.shape.length - x.shape.length);
  const win = prod(sizes);
  const n = prod(u.shape.slice(0, u.shape.length - x.shape.length));
  if (!win || !n) return [o];
  const bases = windowStarts(x.shape, idx.map((i) => i.data), axes, sizes, n, false);
  combineLoop(reduce, out.dtype)(o, u.data, bases, stridedOffsets(sizes, rowStrides(x.shape)));
  return [o];
};

const scatterAxis: CpuKernel = ([x, idx, u], [out], { axis, reduce }: { axis: number; reduce: ScatterReduce }) => {
  const o = x.data.slice();
  const [outer, m, inner] = around(idx.shape, axis);
  const n = x.shape[axis];
  const v = indexValues(idx.data);
  const dst = new Int32Array(idx.data.length);
  for (let a = 0, k = 0; a < outer; a++) {
    for (let j = 0; j < m; j++) {
      for (let c = 0; c < inner; c++, k++) {
        let p = v[k];
        if (p < 0) p += n;
        dst[k] = p < 0 || p >= n ? -1 : (a * n + p) * inner + c;
      }
    }
  }
  combineLoop(reduce, out.dtype)(o, u.data, dst, new Int32Array(1));
  return [o];
};

// ---------------------------------------------------------------- searchsorted

/** Values as numbers (halves decoded) or bigints, so one comparison loop serves every dtype. */
function comparable(t: TypedArray, d: DType): ArrayLike<number> {
  if (d.name === 'float16' || d.name === 'bfloat16') {
    const table = d.name === 'float16' ? F16_TABLE : BF16_TABLE;
    return Float64Array.from(t as Uint16Array, (h) => table[h]);
  }
  return t as ArrayLike<number>;
}

const searchsorted: CpuKernel = ([a, v], [out], { side }: { side: 'left' | 'right' }) => {
  const o = new Int32Array(prod(out.shape));
  const n = a.shape[a.shape.length - 1], m = v.shape[v.shape.length - 1];
  const rows = prod(v.shape.slice(0, -1));
  const av = comparable(a.data, a.dtype), vv = comparable(v.data, v.dtype);
  const right = side === 'right';
  // NaN sorts after everything, as in NumPy; x < y below is that order's strict less.
  for (let r = 0; r < rows; r++) {
    const base = r * n;
    for (let j = r * m, end = (r + 1) * m; j < end; j++) {
      const x = vv[j];
      let lo = 0, hi = n;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        const y = av[base + mid];
        // left: first y with !(y < x); right: first y with x < y
        const goRight = right ? !(x < y || (y !== y && x === x)) : (y < x || (x !== x && y === y));
        if (goRight) lo = mid + 1; else hi = mid;
      }
      o[j] = lo;
    }
  }
  return [o];
};

registerCpuKernels({ slice, sliceUpdate, gather, gatherAxis, scatter, scatterAxis, searchsorted });
