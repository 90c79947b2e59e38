// NumPy-style indexing: index(a, ...indices) reads, indexUpdate / indexAdd write (returning
// copies). Basic indices (integers, slices, newaxis, ellipsis) become one strided slice;
// index arrays become one gather (reads) or scatter (writes) over what the slice left.
import { Array, ArrayLike, asArray } from '../array.js';
import { bool, int32 } from '../dtype.js';
import { fmtShape, broadcastShapes, isArrayLike, scalar } from './util.js';
import { astype } from './astype.js';
import { reshape, broadcastTo, transpose } from './shape.js';
import { add, where } from './binary.js';
import { bindSlice, bindSliceUpdate, bindGather, bindScatter, normSlice, toIndexArray, iota } from './indexing.js';

/** A basic slice, NumPy's `start:stop:step` (null: open end). Make one with `s()`. */
export class IndexSlice {
  constructor(readonly start: number | null, readonly stop: number | null, readonly step: number | null) {}
  toString(): string { return `s(${this.start}, ${this.stop}, ${this.step})`; }
}

/** `s(1, null, 2)` is NumPy's `1::2`; `s()` is `:`. Arguments are in Python's order: start, stop, step. */
export function s(start: number | null = null, stop: number | null = null, step: number | null = null): IndexSlice {
  return new IndexSlice(start, stop, step);
}

/** Inserts a size-1 axis, as NumPy's None. */
export const newaxis = null;

/** One index: an integer, a slice, an integer index array, null (new axis) or '...' (ellipsis). */
export type Index = ArrayLike | IndexSlice | null | '...';

type ArrayEntry = { kind: 'array'; axis: number; array: Array };
type SliceEntry = { kind: 'slice'; axis: number; start: number; step: number; len: number; full: boolean };
type Entry = { kind: 'int'; axis: number; value: number } | SliceEntry | ArrayEntry | { kind: 'new' } | { kind: 'gap' };

interface Plan {
  entries: Entry[];
  /** The strided slice over every axis (an integer keeps a window of 1). */
  start: number[];
  strides: number[];
  sliced: number[];
  arrays: ArrayEntry[];
  /** Broadcast shape of the index arrays. */
  bshape: number[];
  /** Lengths of the slice entries, in order. */
  sliceDims: number[];
  /** How many slice dims precede the advanced dims (0 unless the advanced indices are adjacent). */
  blockAt: number;
  outShape: number[];
}

const range = (n: number) => [...globalThis.Array(n).keys()];
const maskMessage = (op: string) =>
  `[${op}] boolean mask indices are not supported here: the result's shape would depend on the data; use where(mask, x, y)`;

function planIndex(op: string, x: Array, indices: readonly Index[]): Plan {
  let ellipses = 0, used = 0;
  for (const ix of indices) { if (ix === '...') ellipses++; else if (ix !== null) used++; }
  if (ellipses > 1) throw new Error(`[${op}] an index can only have a single ellipsis ('...')`);
  if (used > x.ndim) throw new Error(`[${op}] too many indices for an array of dimension ${x.ndim}: got ${used}`);
  const entries: Entry[] = [];
  let axis = 0;
  const whole = (ax: number): SliceEntry => ({ kind: 'slice', axis: ax, start: 0, step: 1, len: x.shape[ax], full: true });
  for (const ix of indices) {
    if (ix === null) { entries.push({ kind: 'new' }); continue; }
    if (ix === '...') {
      // The ellipsis separates advanced indices even when it spans no axes, as in NumPy.
      entries.push({ kind: 'gap' });
      for (let k = used; k < x.ndim; k++) entries.push(whole(axis++));
      continue;
    }
    const n = x.shape[axis];
    if (ix instanceof IndexSlice) {
      const p = normSlice(op, n, ix.start, ix.stop, ix.step);
      entries.push({ kind: 'slice', axis, ...p, full: p.start === 0 && p.step === 1 && p.len === n });
    } else if (typeof ix === 'number' || typeof ix === 'bigint') {
      const v = Number(ix);
      if (!Number.isInteger(v)) throw new TypeError(`[${op}] index ${v} is not an integer`);
      if (v < -n || v >= n) throw new Error(`[${op}] index ${v} is out of bounds for axis ${axis} with size ${n}`);
      entries.push({ kind: 'int', axis, value: v < 0 ? v + n : v });
    } else if (typeof ix === 'boolean') {
      throw new TypeError(maskMessage(op));
    } else if (isArrayLike(ix)) {
      const arr = asArray(ix, x.stream);
      if (arr.dtype === bool) throw new TypeError(maskMessage(op));
      entries.push({ kind: 'array', axis, array: toIndexArray(op, ix, x.stream) });
    } else {
      throw new TypeError(`[${op}] unsupported index ${String(ix)}: expected an integer, s(...), an integer array, null or '...'`);
    }
    axis++;
  }
  while (axis < x.ndim) entries.push(whole(axis++));

  const start = x.shape.map(() => 0), strides = x.shape.map(() => 1), sliced = [...x.shape];
  for (const e of entries) {
    if (e.kind === 'int') { start[e.axis] = e.value; sliced[e.axis] = 1; }
    if (e.kind === 'slice') { start[e.axis] = e.start; strides[e.axis] = e.step; sliced[e.axis] = e.len; }
  }
  const arrays = entries.filter((e): e is ArrayEntry => e.kind === 'array');
  const bshape = arrays.length ? broadcastShapes(op, ...arrays.map((e) => e.array.shape)) : [];
  // With index arrays present, integers are advanced indices too (NumPy's rule).
  const adv = entries.flatMap((e, i) => (e.kind === 'array' || (arrays.length && e.kind === 'int') ? [i] : []));
  const adjacent = adv.every((v, k) => k === 0 || v === adv[k - 1] + 1);
  const slices = entries.filter((e): e is SliceEntry => e.kind === 'slice');
  const blockAt = arrays.length && adjacent ? entries.slice(0, adv[0]).filter((e) => e.kind === 'slice').length : 0;
  const outShape: number[] = [];
  let placed = !arrays.length;
  if (!placed && !adjacent) { outShape.push(...bshape); placed = true; }
  for (const e of entries) {
    if (e.kind === 'slice') outShape.push(e.len);
    else if (e.kind === 'new') outShape.push(1);
    else if ((e.kind === 'array' || e.kind === 'int') && !placed) { outShape.push(...bshape); placed = true; }
  }
  return { entries, start, strides, sliced, arrays, bshape, sliceDims: slices.map((e) => e.len), blockAt, outShape };
}

/** Moves the leading block of `nb` dims of an array shaped (block, slice dims) to after `at` slice dims. */
function placeBlock(r: Array, nb: number, at: number, nSlices: number): Array {
  if (!at || !nb) return r;
  return transpose(r, [...range(at).map((i) => nb + i), ...range(nb), ...range(nSlices - at).map((i) => nb + at + i)]);
}

/**
 * `a[i0, i1, ...]` with NumPy's rules: integers (checked against the shape), `s(start,
 * stop, step)` slices, integer index arrays (broadcast together; values out of range are
 * clamped, see indexing.ts), `null` for a new axis and `'...'` for an ellipsis.
 */
export function index(a: ArrayLike, ...indices: Index[]): Array {
  const x = asArray(a);
  const p = planIndex('index', x, indices);
  const y = bindSlice(x, p.start, p.strides, p.sliced);
  if (!p.arrays.length) return reshape(y, p.outShape);
  const axes = p.arrays.map((e) => e.axis);
  const count = p.bshape.reduce((m, d) => m * d, 1);
  for (const ax of axes)
    if (count && !y.shape[ax]) throw new Error(`[index] cannot index axis ${ax} of size 0 (array shape ${fmtShape(x.shape)}) with non-empty index arrays`);
  const g = bindGather(y, p.arrays.map((e) => broadcastTo(e.array, p.bshape)), axes, y.shape.map((d, i) => (axes.includes(i) ? 1 : d)));
  const r = reshape(g, [...p.bshape, ...p.sliceDims]);
  return reshape(placeBlock(r, p.bshape.length, p.blockAt, p.sliceDims.length), p.outShape);
}

/** `value` (cast to a's dtype) broadcast to the indexed shape; leading size-1 axes may be dropped, as NumPy. */
function fitValue(op: string, value: ArrayLike, x: Array, shape: number[]): Array {
  let v = astype(asArray(value, x.stream), x.dtype);
  while (v.ndim > shape.length && v.shape[0] === 1) v = reshape(v, v.shape.slice(1));
  const lead = shape.length - v.ndim;
  if (lead < 0 || v.shape.some((d, i) => d !== 1 && d !== shape[lead + i]))
    throw new Error(`[${op}] cannot broadcast a value of shape ${fmtShape(v.shape)} to the indexed shape ${fmtShape(shape)}`);
  return broadcastTo(v, shape);
}

/** `a[mask, ...] = value` for a boolean mask over a's leading axes, with a value that does not depend on how many are selected. */
function updateMasked(op: string, x: Array, mask: Array, value: ArrayLike, mode: 'set' | 'add'): Array {
  if (mask.ndim > x.ndim || mask.shape.some((d, i) => d !== x.shape[i]))
    throw new Error(`[${op}] boolean mask of shape ${fmtShape(mask.shape)} does not match the leading axes of a ${fmtShape(x.shape)}`);
  const rest = x.shape.slice(mask.ndim);
  const v = fitValue(op, value, x, rest);
  const m = reshape(mask, [...mask.shape, ...rest.map(() => 1)]);
  return mode === 'set' ? where(m, v, x) : add(x, where(m, v, scalar(0, x.dtype, x.stream)));
}

/** The index as a boolean array, if it is one (an mx.array or nested JS booleans). */
function asMask(ix: Index | undefined, x: Array): Array | null {
  if (ix instanceof Array) return ix.dtype === bool ? ix : null;
  if (!globalThis.Array.isArray(ix) && typeof ix !== 'boolean') return null;
  const a = asArray(ix, x.stream);
  return a.dtype === bool ? a : null;
}

function updateAt(op: string, a: ArrayLike, indices: Index | readonly Index[], value: ArrayLike, mode: 'set' | 'add'): Array {
  const x = asArray(a);
  const list: readonly Index[] = globalThis.Array.isArray(indices) ? indices : [indices as Index];
  const mask = asMask(list[0], x);
  if (mask && list.slice(1).every((i) => i === '...' || (i instanceof IndexSlice && i.start === null && i.stop === null && i.step === null)))
    return updateMasked(op, x, mask, value, mode);
  const p = planIndex(op, x, list);
  const v = fitValue(op, value, x, p.outShape);
  if (!p.arrays.length) {
    // Basic indices select one strided region: a slice update (no duplicates to accumulate).
    let u = reshape(v, p.sliced);
    if (mode === 'add') u = add(bindSlice(x, p.start, p.strides, p.sliced), u);
    return bindSliceUpdate(x, u, p.start, p.strides);
  }
  // Index arrays: one scatter. Integers and partial slices become index arrays too (a slice
  // as a range on its own axis of the index shape); whole axes stay windows.
  const slices = p.entries.filter((e): e is SliceEntry => e.kind === 'slice');
  const partial = slices.filter((e) => !e.full);
  const ints = p.entries.flatMap((e) => (e.kind === 'int' ? [e] : []));
  const nb = p.bshape.length, np = partial.length;
  const ishape = [...p.bshape, ...partial.map((e) => e.len)];
  const lift = (arr: Array, shape: number[]) => broadcastTo(reshape(arr, shape), ishape);
  const idx = [
    ...p.arrays.map((e) => lift(broadcastTo(e.array, p.bshape), [...p.bshape, ...partial.map(() => 1)])),
    ...ints.map((e) => broadcastTo(scalar(e.value, int32, x.stream), ishape)),
    ...partial.map((e, k) => lift(iota(e.len, e.start, e.step, x.stream), [...p.bshape.map(() => 1), ...range(np).map((j) => (j === k ? e.len : 1))])),
  ];
  const axes = [...p.arrays.map((e) => e.axis), ...ints.map((e) => e.axis), ...partial.map((e) => e.axis)];
  // The value in (slices before, block, slices after) order -> (block, partial slices, whole axes).
  const r = reshape(v, [...p.sliceDims.slice(0, p.blockAt), ...p.bshape, ...p.sliceDims.slice(p.blockAt)]);
  const pos = (k: number) => (k < p.blockAt ? k : nb + k);
  const order = [...range(nb).map((i) => p.blockAt + i), ...slices.flatMap((e, k) => (e.full ? [] : [pos(k)])), ...slices.flatMap((e, k) => (e.full ? [pos(k)] : []))];
  const u = reshape(transpose(r, order), [...ishape, ...x.shape.map((d, i) => (axes.includes(i) ? 1 : d))]);
  return bindScatter(x, idx, u, axes, mode === 'set' ? 'none' : 'sum');
}

/**
 * A copy of `a` with `a[indices] = value` (NumPy's assignment). `indices` is one index or a
 * JS array of them (a tuple); write an index array inside the tuple, `[[0, 2]]`, or as an
 * mx.array. A boolean mask is accepted as the first index when the rest are whole axes.
 * With duplicate indices the last write wins; out-of-range index-array values are dropped.
 */
export function indexUpdate(a: ArrayLike, indices: Index | readonly Index[], value: ArrayLike): Array {
  return updateAt('indexUpdate', a, indices, value, 'set');
}

/** A copy of `a` with `value` added at `indices`; duplicates accumulate, as np.add.at. */
export function indexAdd(a: ArrayLike, indices: Index | readonly Index[], value: ArrayLike): Array {
  return updateAt('indexAdd', a, indices, value, 'add');
}
