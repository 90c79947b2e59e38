// Indexing primitives and ops: strided and dynamic slices, gather and scatter (with their
// along-axis forms), take, searchsorted. The NumPy-style index helper is index-helper.ts.
//
// Out-of-bounds index *values* (only known at evaluation): a negative index wraps once, as
// in NumPy. Reads (gather, take, takeAlongAxis, dynamic slice) then clamp the index so the
// window fits; writes (scatter*, putAlongAxis, indexUpdate/indexAdd) drop any update whose
// window does not fit; dynamic sliceUpdate clamps its start like dynamic slice. These are
// JAX's defaults and cost nothing on any backend (a GPU kernel cannot throw). The gradient
// rules clamp or mask explicitly, so each op's transpose is exact. Static indices (plain
// JS numbers in index()) are checked when the node is built.
import { Array, ArrayLike, asArray, isTypedArray, shapeSize } from '../array.js';
import { DType, float32, int32 } from '../dtype.js';
import { OpOptions, Stream, toStream } from '../device.js';
import { definePrimitive, bind1 } from '../primitive.js';
import { fmtShape, normAxis, broadcastShapes, resultType, promoteArgs } from './util.js';
import { astype } from './astype.js';
import { reshape, broadcastTo, transpose, moveaxis } from './shape.js';
import { add, multiply, divide, equal, less, lessEqual, greaterEqual, logicalAnd, maximum, minimum, where } from './binary.js';
import { zeros, onesLike } from './creation.js';

const range = (n: number) => [...globalThis.Array(n).keys()];
const sameShape = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((d, i) => d === b[i]);
const streamFor = (x: Array, opts?: OpOptions): Stream => (opts?.stream ? toStream(opts.stream) : x.stream);

// ---------------------------------------------------------------- shared helpers

/** An index argument as an integer array (JS numbers give int32, and so does an empty JS list). */
export function toIndexArray(where: string, x: ArrayLike, stream: Stream): Array {
  let a = asArray(x, stream);
  if (!(x instanceof Array) && !isTypedArray(x) && a.size === 0 && a.dtype === float32) a = astype(a, int32);
  if (!a.dtype.isInteger) throw new TypeError(`[${where}] indices must be integers, got ${a.dtype.name}`);
  return a;
}

/** The constant int32 vector start, start + step, ... (n values). */
export function iota(n: number, start: number, step: number, stream: Stream): Array {
  const v = new Int32Array(n);
  for (let i = 0; i < n; i++) v[i] = start + i * step;
  return asArray(v, stream);
}

/** Wraps negative index values once and clamps them to [0, dim - size]: what a gather reads. */
export function clampIndex(idx: Array, dim: number, size: number): Array {
  const wrapped = where(less(idx, 0), add(idx, dim), idx);
  return minimum(maximum(wrapped, 0), Math.max(dim - size, 0));
}

/** True where the (wrapped) index puts a window of `size` inside [0, dim): what a scatter keeps. */
function indexInBounds(idx: Array, dim: number, size: number): Array {
  const wrapped = where(less(idx, 0), add(idx, dim), idx);
  return logicalAnd(greaterEqual(wrapped, 0), lessEqual(wrapped, dim - size));
}

/** An input moved to batch axis 0, or broadcast to batch size `n` when it has none. */
function batchAt0(x: Array, ax: number | null, n: number): Array {
  return ax === null ? broadcastTo(reshape(x, [1, ...x.shape]), [n, ...x.shape]) : moveaxis(x, ax, 0);
}

function batchSize(xs: Array[], axes: (number | null)[]): number {
  const k = axes.findIndex((a) => a !== null);
  return xs[k].shape[axes[k]!];
}

// ---------------------------------------------------------------- strided slice

/** Per axis: first element, step (may be negative) and number of elements. */
export interface SliceParams { start: number[]; strides: number[]; shape: number[] }

export const Slice = definePrimitive<SliceParams>({
  name: 'slice',
  vjp: ([g], { inputs: [x], params: { start, strides } }) => [bindSliceUpdate(zeros(x.shape, g.dtype, { stream: g.stream }), g, start, strides)],
  jvp: ([t], { inputs: [x], params: { start, strides, shape } }) => [bindSlice(t ?? zeros(x.shape, x.dtype), start, strides, shape)],
  vmap: ([x], [ax], { start, strides, shape }) => {
    const m = moveaxis(x, ax!, 0);
    return [[bindSlice(m, [0, ...start], [1, ...strides], [m.shape[0], ...shape])], [0]];
  },
});

export function bindSlice(x: Array, start: number[], strides: number[], shape: number[], stream = x.stream): Array {
  const identity = shape.every((d, i) => d === x.shape[i] && (d <= 1 ? start[i] === 0 || d === 0 : start[i] === 0 && strides[i] === 1));
  if (identity && stream === x.stream) return x;
  const norm = shape.map((d, i) => (d === 0 ? 0 : start[i]));
  return bind1(Slice, [x], { start: norm, strides: [...strides], shape: [...shape] }, { shape, dtype: x.dtype }, stream);
}

export const SliceUpdate = definePrimitive<{ start: number[]; strides: number[] }>({
  name: 'sliceUpdate',
  vjp: ([g], { inputs: [, u], params: { start, strides } }) =>
    [bindSliceUpdate(g, zeros(u.shape, g.dtype, { stream: g.stream }), start, strides), bindSlice(g, start, strides, [...u.shape])],
  jvp: ([tx, tu], { inputs: [x, u], params: { start, strides } }) =>
    [bindSliceUpdate(tx ?? zeros(x.shape, x.dtype), tu ?? zeros(u.shape, u.dtype), start, strides)],
  vmap: ([x, u], axes, { start, strides }) => {
    const n = batchSize([x, u], axes);
    return [[bindSliceUpdate(batchAt0(x, axes[0], n), batchAt0(u, axes[1], n), [0, ...start], [1, ...strides])], [0]];
  },
});

/** A copy of x with the strided region (of update's shape) replaced by update (same dtype). */
export function bindSliceUpdate(x: Array, update: Array, start: number[], strides: number[], stream = x.stream): Array {
  return bind1(SliceUpdate, [x, update], { start: [...start], strides: [...strides] }, { shape: x.shape, dtype: x.dtype }, stream);
}

/** Python's slice semantics on an axis of size n: the first element, step and count. */
export function normSlice(where: string, n: number, start: number | null, stop: number | null, step: number | null): { start: number; step: number; len: number } {
  const st = step ?? 1;
  for (const [name, v] of [['start', start], ['stop', stop], ['step', step]] as const)
    if (v !== null && !Number.isInteger(v)) throw new TypeError(`[${where}] slice ${name} must be an integer or null, got ${v}`);
  if (st === 0) throw new Error(`[${where}] slice step cannot be zero`);
  const norm = (v: number, lo: number, hi: number) => Math.min(Math.max(v < 0 ? v + n : v, lo), hi);
  let b: number, e: number;
  if (st > 0) {
    b = start === null ? 0 : norm(start, 0, n);
    e = stop === null ? n : norm(stop, 0, n);
  } else {
    b = start === null ? n - 1 : norm(start, -1, n - 1);
    e = stop === null ? -1 : norm(stop, -1, n - 1);
  }
  const len = Math.max(0, Math.ceil((e - b) / st));
  return { start: len ? b : 0, step: st, len };
}

/**
 * `a[start[0]:stop[0]:strides[0], ...]` with Python's rules per axis (negative values count
 * from the end, steps may be negative, out-of-range bounds clamp). Lists may be shorter
 * than a.ndim: the remaining axes are taken whole.
 */
export function stridedSlice(a: ArrayLike, start: readonly (number | null)[], stop: readonly (number | null)[], strides?: readonly (number | null)[] | null, opts?: OpOptions): Array {
  const x = asArray(a);
  if (start.length > x.ndim || stop.length !== start.length || (strides && strides.length !== start.length))
    throw new Error(`[stridedSlice] start, stop and strides must have one entry per sliced axis (at most ${x.ndim}), got ${start.length}, ${stop.length} and ${strides?.length ?? start.length}`);
  const parts = x.shape.map((n, i) => (i < start.length ? normSlice('stridedSlice', n, start[i], stop[i], strides?.[i] ?? null) : { start: 0, step: 1, len: n }));
  return bindSlice(x, parts.map((p) => p.start), parts.map((p) => p.step), parts.map((p) => p.len), streamFor(x, opts));
}

// ---------------------------------------------------------------- gather

/** Index arrays (all of one shape I) pick windows of `sliceSizes` from axes; output I + sliceSizes. */
export interface GatherParams { axes: number[]; sliceSizes: number[] }

export const Gather = definePrimitive<GatherParams>({
  name: 'gather',
  vjp: ([g], { inputs: [x, ...idx], params: { axes, sliceSizes } }) => {
    const clamped = idx.map((i, k) => clampIndex(i, x.shape[axes[k]], sliceSizes[axes[k]]));
    return [bindScatter(zeros(x.shape, g.dtype, { stream: g.stream }), clamped, g, axes, 'sum'), ...idx.map(() => null)];
  },
  jvp: ([t], { inputs: [x, ...idx], params: { axes, sliceSizes } }) => [bindGather(t ?? zeros(x.shape, x.dtype), idx, axes, sliceSizes)],
  vmap: ([x, ...idx], [ax, ...iax], { axes, sliceSizes }) => {
    if (iax.every((a) => a === null)) {
      // Only the source is batched: the batch axis becomes part of every window.
      const m = moveaxis(x, ax!, 0);
      return [[bindGather(m, idx, axes.map((a) => a + 1), [m.shape[0], ...sliceSizes])], [idx.length ? idx[0].ndim : 0]];
    }
    const n = batchSize([x, ...idx], [ax, ...iax]);
    const bidx = idx.map((i, k) => batchAt0(i, iax[k], n));
    const ishape = bidx[0].shape;
    if (ax === null) return [[bindGather(x, bidx.map((i) => broadcastTo(i, ishape)), axes, sliceSizes)], [0]];
    // Each batch entry reads its own slice of the source: index the batch axis too.
    const m = moveaxis(x, ax, 0);
    const b = broadcastTo(reshape(iota(n, 0, 1, x.stream), [n, ...ishape.slice(1).map(() => 1)]), ishape);
    const out = bindGather(m, [b, ...bidx], [0, ...axes.map((a) => a + 1)], [1, ...sliceSizes]);
    return [[reshape(out, [...ishape, ...sliceSizes])], [0]];
  },
});

export function bindGather(x: Array, idx: Array[], axes: number[], sliceSizes: number[], stream = x.stream): Array {
  const ishape = idx.length ? idx[0].shape : [];
  return bind1(Gather, [x, ...idx], { axes: [...axes], sliceSizes: [...sliceSizes] }, { shape: [...ishape, ...sliceSizes], dtype: x.dtype }, stream);
}

/** Indices per axis (one JS array entry per axis when `axes` is a list), as index arrays. */
function indexArrays(where: string, indices: ArrayLike | readonly ArrayLike[], axes: number | readonly number[], x: Array, stream: Stream): { idx: Array[]; axes: number[]; shape: number[] } {
  const list = typeof axes === 'number' ? [indices as ArrayLike] : (indices as readonly ArrayLike[]);
  const axList = typeof axes === 'number' ? [axes] : [...axes];
  if (!globalThis.Array.isArray(list)) throw new TypeError(`[${where}] with a list of axes, indices must be a JS array of index arrays (one per axis)`);
  if (list.length !== axList.length)
    throw new Error(`[${where}] got ${list.length} index arrays for ${axList.length} axes: need one index array per axis`);
  const ax = axList.map((a) => normAxis(where, a, x.ndim));
  if (new Set(ax).size !== ax.length) throw new Error(`[${where}] repeated axis in (${axList.join(',')})`);
  const idx = list.map((i) => toIndexArray(where, i, stream));
  const shape = broadcastShapes(where, ...idx.map((i) => i.shape));
  return { idx: idx.map((i) => broadcastTo(i, shape)), axes: ax, shape };
}

/**
 * MLX's general gather: for each position of the broadcast index arrays, the window of
 * `sliceSizes` (one size per axis of a) starting at those indices on `axes` and at 0
 * elsewhere. The output has shape (index shape) + sliceSizes.
 */
export function gather(a: ArrayLike, indices: ArrayLike | readonly ArrayLike[], axes: number | readonly number[], sliceSizes: readonly number[], opts?: OpOptions): Array {
  const x = asArray(a);
  const stream = streamFor(x, opts);
  const { idx, axes: ax, shape } = indexArrays('gather', indices, axes, x, stream);
  checkSliceSizes('gather', x, sliceSizes);
  checkNonEmpty('gather', x, ax, sliceSizes, shapeSize(shape));
  return bindGather(x, idx, ax, [...sliceSizes], stream);
}

function checkSliceSizes(where: string, x: Array, sizes: readonly number[]): void {
  if (sizes.length !== x.ndim || sizes.some((s, i) => !Number.isInteger(s) || s < 0 || s > x.shape[i]))
    throw new Error(`[${where}] slice sizes ${fmtShape(sizes)} must have one non-negative size per axis, each at most that axis of a ${fmtShape(x.shape)}`);
}

/** A read of a window from an empty axis has nothing to clamp to. */
function checkNonEmpty(where: string, x: Array, axes: number[], sizes: readonly number[], count: number): void {
  for (const a of axes)
    if (count > 0 && x.shape[a] === 0 && sizes[a] > 0) throw new Error(`[${where}] cannot index axis ${a} of size 0 (array shape ${fmtShape(x.shape)}) with non-empty indices`);
}

/** Elements of `a` at `indices` along `axis` (undefined/null: of the flattened array); negative indices count from the end. */
export function take(a: ArrayLike, indices: ArrayLike, axis?: number | null, opts?: OpOptions): Array {
  let x = asArray(a);
  const stream = streamFor(x, opts);
  const idx = toIndexArray('take', indices, stream);
  if (axis === undefined || axis === null) { x = reshape(x, [x.size]); axis = 0; }
  const ax = normAxis('take', axis, x.ndim);
  const sizes = x.shape.map((d, i) => (i === ax ? 1 : d));
  checkNonEmpty('take', x, [ax], sizes, idx.size);
  const g = bindGather(x, [idx], [ax], sizes, stream);
  // (I, a[:ax], 1, a[ax+1:]) -> (a[:ax], I, a[ax+1:])
  const ni = idx.ndim;
  const dropped = reshape(g, [...idx.shape, ...x.shape.filter((_, i) => i !== ax)]);
  if (ax === 0 || ni === 0) return dropped;
  return transpose(dropped, [...range(ax).map((i) => ni + i), ...range(ni), ...range(x.ndim - 1 - ax).map((i) => ni + ax + i)]);
}

// ---------------------------------------------------------------- scatter

export type ScatterReduce = 'none' | 'sum' | 'prod' | 'max' | 'min';
/** Updates of shape I + U (U: one window size per axis of a) go into windows at the indices. */
export interface ScatterParams { axes: number[]; reduce: ScatterReduce }

/** Index arrays of a scatter in the layout of its updates (I followed by ones). */
function windowMask(idx: Array[], axes: number[], x: Array, u: Array): Array | null {
  if (!idx.length) return null;
  const ushape = u.shape.slice(idx[0].ndim);
  const masks = idx.map((i, k) => indexInBounds(i, x.shape[axes[k]], ushape[axes[k]]));
  const m = masks.reduce((acc, k) => logicalAnd(acc, k));
  return reshape(m, [...m.shape, ...ushape.map(() => 1)]);
}
const masked = (v: Array, mask: Array | null) => (mask ? where(mask, v, 0) : v);

/**
 * For overwriting scatters: true for the update elements whose value lands in the result
 * (of duplicate writes to one position, only the last survives, so only it has a gradient).
 * Scatters each element's own id, reads the ids back and compares.
 */
function survivors(ushape: readonly number[], stream: Stream, write: (ids: Array) => Array, readBack: (written: Array) => Array): Array {
  const ids = reshape(iota(shapeSize(ushape), 0, 1, stream), ushape);
  return equal(readBack(write(ids)), ids);
}

export const Scatter = definePrimitive<ScatterParams>({
  name: 'scatter',
  vjp: ([g], { inputs, outputs: [y], params: { axes, reduce } }) => {
    const x = inputs[0], u = inputs[inputs.length - 1], idx = inputs.slice(1, -1);
    const sizes = u.shape.slice(u.ndim - x.ndim);
    const mask = windowMask(idx, axes, x, u);
    const nulls = idx.map(() => null);
    const zg = (s: readonly number[]) => zeros(s, g.dtype, { stream: g.stream });
    switch (reduce) {
      case 'none': { // positions overwritten by an update get no gradient through x
        const last = survivors(u.shape, g.stream, (ids) => bindScatter(zeros(x.shape, int32, { stream: g.stream }), idx, ids, axes, 'none'), (w) => bindGather(w, idx, axes, sizes));
        return [bindScatter(g, idx, zg(u.shape), axes, 'none'), ...nulls, where(last, masked(bindGather(g, idx, axes, sizes), mask), 0)];
      }
      case 'sum':
        return [g, ...nulls, masked(bindGather(g, idx, axes, sizes), mask)];
      case 'prod': {
        const { ofX, ofU } = prodPartials(x, idx, u, axes, mask);
        return [multiply(g, ofX), ...nulls, multiply(bindGather(g, idx, axes, sizes), ofU)];
      }
      default: { // max, min: ties share the gradient equally
        const { inX, inU, count } = extremeMasks(x, idx, u, y, axes, mask);
        const share = divide(g, count);
        return [multiply(share, inX), ...nulls, multiply(bindGather(share, idx, axes, sizes), inU)];
      }
    }
  },
  jvp: (ts, { inputs, outputs: [y], params: { axes, reduce } }) => {
    const x = inputs[0], u = inputs[inputs.length - 1], idx = inputs.slice(1, -1);
    const tx = ts[0] ?? zeros(x.shape, x.dtype), tu = ts[ts.length - 1] ?? zeros(u.shape, u.dtype);
    if (reduce === 'none' || reduce === 'sum') return [bindScatter(tx, idx, tu, axes, reduce)];
    const mask = windowMask(idx, axes, x, u);
    const zx = zeros(x.shape, x.dtype);
    if (reduce === 'prod') {
      const { ofX, ofU } = prodPartials(x, idx, u, axes, mask);
      return [add(multiply(tx, ofX), bindScatter(zx, idx, multiply(tu, ofU), axes, 'sum'))];
    }
    const { inX, inU, count } = extremeMasks(x, idx, u, y, axes, mask);
    return [divide(add(multiply(tx, inX), bindScatter(zx, idx, multiply(tu, inU), axes, 'sum')), count)];
  },
  vmap: (ins, axs, { axes, reduce }) => {
    // Batch everything at axis 0 and index that axis with 0..n-1: updates (n, I, U) become
    // (n, I, 1, U), a window of 1 on the batch axis.
    const n = batchSize(ins, axs);
    const [x, ...rest] = ins.map((v, k) => batchAt0(v, axs[k], n));
    const idx = rest.slice(0, -1), u = rest[rest.length - 1];
    const ishape = idx.length ? idx[0].shape : [n];
    const b = broadcastTo(reshape(iota(n, 0, 1, x.stream), [n, ...ishape.slice(1).map(() => 1)]), ishape);
    const ni = ishape.length;
    const ur = reshape(u, [...u.shape.slice(0, ni), 1, ...u.shape.slice(ni)]);
    return [[bindScatter(x, [b, ...idx], ur, [0, ...axes.map((a) => a + 1)], reduce)], [0]];
  },
});

/**
 * For scatterProd, y = x * prod(updates at each position): d y / d x, and for each update
 * x times the product of the *other* updates at its position, computed without dividing
 * by zero (a zero update's partial is the product of the rest).
 */
function prodPartials(x: Array, idx: Array[], u: Array, axes: number[], mask: Array | null): { ofX: Array; ofU: Array } {
  const sizes = u.shape.slice(u.ndim - x.ndim);
  const ofX = bindScatter(onesLike(x), idx, u, axes, 'prod');
  const isZero = equal(u, 0);
  const zerosAt = bindScatter(zeros(x.shape, x.dtype), idx, astype(isZero, x.dtype), axes, 'sum');
  const nonzeroProd = bindScatter(x, idx, where(isZero, 1, u), axes, 'prod');
  const nz = bindGather(zerosAt, idx, axes, sizes), p = bindGather(nonzeroProd, idx, axes, sizes);
  const ofU = where(isZero, where(equal(nz, 1), p, 0), where(equal(nz, 0), divide(p, where(isZero, 1, u)), 0));
  return { ofX, ofU: masked(astype(ofU, u.dtype), mask) };
}

/** For scatterMax/Min: which of x and the updates equal the result, and how many per position. */
function extremeMasks(x: Array, idx: Array[], u: Array, y: Array, axes: number[], mask: Array | null): { inX: Array; inU: Array; count: Array } {
  const sizes = u.shape.slice(u.ndim - x.ndim);
  const inX = astype(equal(x, y), x.dtype);
  const inU = masked(astype(equal(u, bindGather(y, idx, axes, sizes)), u.dtype), mask);
  const count = add(inX, bindScatter(zeros(x.shape, x.dtype), idx, inU, axes, 'sum'));
  return { inX, inU, count };
}

export function bindScatter(x: Array, idx: Array[], updates: Array, axes: number[], reduce: ScatterReduce, stream = x.stream): Array {
  return bind1(Scatter, [x, ...idx, updates], { axes: [...axes], reduce }, { shape: x.shape, dtype: x.dtype }, stream);
}

function scatterOp(where: string, reduce: ScatterReduce) {
  return (a: ArrayLike, indices: ArrayLike | readonly ArrayLike[], updates: ArrayLike, axes: number | readonly number[], opts?: OpOptions): Array => {
    const x = asArray(a);
    const stream = streamFor(x, opts);
    const { idx, axes: ax, shape } = indexArrays(where, indices, axes, x, stream);
    const u = astype(asArray(updates, stream), x.dtype);
    if (u.ndim !== shape.length + x.ndim)
      throw new Error(`[${where}] updates of shape ${fmtShape(u.shape)} must have ${shape.length + x.ndim} dimensions: the index shape ${fmtShape(shape)} followed by one window size per axis of a ${fmtShape(x.shape)}`);
    const sizes = u.shape.slice(shape.length);
    if (sizes.some((s, i) => s > x.shape[i]))
      throw new Error(`[${where}] update windows ${fmtShape(sizes)} do not fit in a of shape ${fmtShape(x.shape)}`);
    if (u.shape.slice(0, shape.length).some((d, i) => d !== 1 && d !== shape[i]))
      throw new Error(`[${where}] updates of shape ${fmtShape(u.shape)} do not match the index shape ${fmtShape(shape)}`);
    return bindScatter(x, idx, broadcastTo(u, [...shape, ...sizes]), ax, reduce, stream);
  };
}

/**
 * MLX's scatter: a copy of `a` with the windows of `updates` (shape: index shape + one
 * window size per axis of a) written at the indices on `axes` (at 0 on other axes).
 * Later duplicates win; the reducing forms combine duplicates instead.
 */
export const scatter = scatterOp('scatter', 'none');
export const scatterAdd = scatterOp('scatterAdd', 'sum');
export const scatterProd = scatterOp('scatterProd', 'prod');
export const scatterMax = scatterOp('scatterMax', 'max');
export const scatterMin = scatterOp('scatterMin', 'min');

// ---------------------------------------------------------------- along an axis

/** Index and source share every axis but `axis`; the output has the index's shape. */
export const GatherAxis = definePrimitive<{ axis: number }>({
  name: 'gatherAxis',
  vjp: ([g], { inputs: [x, idx], params: { axis } }) =>
    [bindScatterAxis(zeros(x.shape, g.dtype, { stream: g.stream }), clampIndex(idx, x.shape[axis], 1), g, axis, 'sum'), null],
  jvp: ([t], { inputs: [x, idx], params: { axis } }) => [bindGatherAxis(t ?? zeros(x.shape, x.dtype), idx, axis)],
  vmap: ([x, idx], axes, { axis }) => {
    const n = batchSize([x, idx], axes);
    return [[bindGatherAxis(batchAt0(x, axes[0], n), batchAt0(idx, axes[1], n), axis + 1)], [0]];
  },
});

export function bindGatherAxis(x: Array, idx: Array, axis: number, stream = x.stream): Array {
  return bind1(GatherAxis, [x, idx], { axis }, { shape: idx.shape, dtype: x.dtype }, stream);
}

export const ScatterAxis = definePrimitive<{ axis: number; reduce: 'none' | 'sum' }>({
  name: 'scatterAxis',
  vjp: ([g], { inputs: [x, idx, u], params: { axis, reduce } }) => {
    let gu = where(indexInBounds(idx, x.shape[axis], 1), bindGatherAxis(g, idx, axis), 0);
    if (reduce === 'none') // of duplicate writes only the last survives
      gu = where(survivors(u.shape, g.stream, (ids) => bindScatterAxis(zeros(x.shape, int32, { stream: g.stream }), idx, ids, axis, 'none'), (w) => bindGatherAxis(w, idx, axis)), gu, 0);
    const gx = reduce === 'sum' ? g : bindScatterAxis(g, idx, zeros(u.shape, g.dtype, { stream: g.stream }), axis, 'none');
    return [gx, null, gu];
  },
  jvp: ([tx, , tu], { inputs: [x, idx, u], params: { axis, reduce } }) =>
    [bindScatterAxis(tx ?? zeros(x.shape, x.dtype), idx, tu ?? zeros(u.shape, u.dtype), axis, reduce)],
  vmap: ([x, idx, u], axes, { axis, reduce }) => {
    const n = batchSize([x, idx, u], axes);
    return [[bindScatterAxis(batchAt0(x, axes[0], n), batchAt0(idx, axes[1], n), batchAt0(u, axes[2], n), axis + 1, reduce)], [0]];
  },
});

export function bindScatterAxis(x: Array, idx: Array, u: Array, axis: number, reduce: 'none' | 'sum', stream = x.stream): Array {
  return bind1(ScatterAxis, [x, idx, u], { axis, reduce }, { shape: x.shape, dtype: x.dtype }, stream);
}

function alongAxisArgs(where: string, a: ArrayLike, indices: ArrayLike, axis: number | null | undefined, stream: Stream): { x: Array; idx: Array; ax: number } {
  let x = asArray(a);
  let idx = toIndexArray(where, indices, stream);
  if (axis === undefined || axis === null) { x = reshape(x, [x.size]); idx = reshape(idx, [idx.size]); axis = 0; }
  const ax = normAxis(where, axis, x.ndim);
  if (idx.ndim !== x.ndim) throw new Error(`[${where}] indices of shape ${fmtShape(idx.shape)} must have as many dimensions as a ${fmtShape(x.shape)}`);
  return { x, idx, ax };
}

/** Values of `a` at `indices` along `axis`; indices and a broadcast on the other axes (axis null: both flattened). */
export function takeAlongAxis(a: ArrayLike, indices: ArrayLike, axis?: number | null, opts?: OpOptions): Array {
  const stream = streamFor(asArray(a), opts);
  const { x, idx, ax } = alongAxisArgs('takeAlongAxis', a, indices, axis, stream);
  const others = broadcastShapes('takeAlongAxis', x.shape.map((d, i) => (i === ax ? 1 : d)), idx.shape.map((d, i) => (i === ax ? 1 : d)));
  const xb = broadcastTo(x, others.map((d, i) => (i === ax ? x.shape[ax] : d)));
  const ib = broadcastTo(idx, others.map((d, i) => (i === ax ? idx.shape[ax] : d)));
  checkNonEmpty('takeAlongAxis', xb, [ax], xb.shape.map(() => 1), ib.size);
  return bindGatherAxis(xb, ib, ax, stream);
}

/** A copy of `a` with `values` written at `indices` along `axis` (later duplicates win). */
export function putAlongAxis(a: ArrayLike, indices: ArrayLike, values: ArrayLike, axis?: number | null, opts?: OpOptions): Array {
  const x0 = asArray(a);
  const stream = streamFor(x0, opts);
  const { x, idx, ax } = alongAxisArgs('putAlongAxis', x0, indices, axis, stream);
  const ishape = broadcastShapes('putAlongAxis', idx.shape, x.shape.map((d, i) => (i === ax ? 1 : d)));
  if (ishape.some((d, i) => i !== ax && d !== x.shape[i]))
    throw new Error(`[putAlongAxis] indices of shape ${fmtShape(idx.shape)} do not broadcast against a ${fmtShape(x.shape)} outside axis ${ax}`);
  const v = astype(asArray(values, stream), x.dtype);
  if (!sameShape(broadcastShapes('putAlongAxis', v.shape, ishape), ishape))
    throw new Error(`[putAlongAxis] values of shape ${fmtShape(v.shape)} do not broadcast to the index shape ${fmtShape(ishape)}`);
  const out = bindScatterAxis(x, broadcastTo(idx, ishape), broadcastTo(v, ishape), ax, 'none', stream);
  return reshape(out, x0.shape);
}

// ---------------------------------------------------------------- dynamic slices

function staticStarts(s: ArrayLike): number[] | null {
  if (typeof s === 'number') return [s];
  if (globalThis.Array.isArray(s) && s.every((v) => typeof v === 'number')) return s as number[];
  return null;
}

function sliceAxes(where: string, x: Array, axes: readonly number[]): number[] {
  const ax = axes.map((a) => normAxis(where, a, x.ndim));
  if (new Set(ax).size !== ax.length) throw new Error(`[${where}] repeated axis in (${axes.join(',')})`);
  return ax;
}

/** Start indices as per-axis 0-d integer arrays, or static numbers when given as JS numbers. */
function startValues(where: string, start: ArrayLike, count: number, stream: Stream): number[] | Array[] {
  const fixed = staticStarts(start);
  if (fixed) {
    if (fixed.length !== count) throw new Error(`[${where}] got ${fixed.length} start indices for ${count} axes`);
    for (const v of fixed) if (!Number.isInteger(v)) throw new TypeError(`[${where}] start indices must be integers, got ${v}`);
    return fixed;
  }
  const s = toIndexArray(where, start, stream);
  if (s.ndim > 1 || s.size !== count)
    throw new Error(`[${where}] start indices of shape ${fmtShape(s.shape)} must hold one index per axis (${count})`);
  const flat = reshape(s, [count]);
  return range(count).map((k) => reshape(bindSlice(flat, [k], [1], [1]), []));
}

const clampStatic = (v: number, dim: number, size: number) => Math.min(Math.max(v < 0 ? v + dim : v, 0), dim - size);

/**
 * MLX's dynamic slice: the window of shape `sliceSize` (one size per axis of a) starting at
 * `startIndices` on `axes` (at 0 on other axes). Starts may be arrays computed in the graph;
 * they wrap once if negative and clamp so that the window fits, as in JAX.
 */
export function slice(a: ArrayLike, startIndices: ArrayLike, axes: readonly number[], sliceSize: readonly number[], opts?: OpOptions): Array {
  const x = asArray(a);
  const stream = streamFor(x, opts);
  const ax = sliceAxes('slice', x, axes);
  checkSliceSizes('slice', x, sliceSize);
  const starts = startValues('slice', startIndices, ax.length, stream);
  if (typeof starts[0] === 'number' || !starts.length) {
    const begin = x.shape.map(() => 0);
    ax.forEach((d, k) => { begin[d] = clampStatic(starts[k] as number, x.shape[d], sliceSize[d]); });
    return bindSlice(x, begin, x.shape.map(() => 1), [...sliceSize], stream);
  }
  checkNonEmpty('slice', x, ax, sliceSize, 1);
  return bindGather(x, starts as Array[], ax, [...sliceSize], stream);
}

/** MLX's dynamic slice update: a copy of `a` with `update` written at `startIndices` on `axes` (clamped to fit). */
export function sliceUpdate(a: ArrayLike, update: ArrayLike, startIndices: ArrayLike, axes: readonly number[], opts?: OpOptions): Array {
  const x = asArray(a);
  const stream = streamFor(x, opts);
  const u = astype(asArray(update, stream), x.dtype);
  if (u.ndim !== x.ndim || u.shape.some((d, i) => d > x.shape[i]))
    throw new Error(`[sliceUpdate] update of shape ${fmtShape(u.shape)} must have the dimensions of a ${fmtShape(x.shape)} and fit inside it`);
  const ax = sliceAxes('sliceUpdate', x, axes);
  const starts = startValues('sliceUpdate', startIndices, ax.length, stream);
  if (typeof starts[0] === 'number' || !starts.length) {
    const begin = x.shape.map(() => 0);
    ax.forEach((d, k) => { begin[d] = clampStatic(starts[k] as number, x.shape[d], u.shape[d]); });
    return bindSliceUpdate(x, u, begin, x.shape.map(() => 1), stream);
  }
  const clamped = (starts as Array[]).map((s, k) => clampIndex(s, x.shape[ax[k]], u.shape[ax[k]]));
  return bindScatter(x, clamped, u, ax, 'none', stream);
}

// ---------------------------------------------------------------- searchsorted

/** Sorted rows a (..., n) and values v (..., m) with the same leading shape; int32 output (..., m). */
export const SearchSorted = definePrimitive<{ side: 'left' | 'right' }>({
  name: 'searchsorted',
  nonDifferentiable: 'searchsorted returns integer positions',
  vmap: ([a, v], axes, { side }) => {
    const n = batchSize([a, v], axes);
    return [[bindSearch(batchAt0(a, axes[0], n), batchAt0(v, axes[1], n), side)], [0]];
  },
});

function bindSearch(a: Array, v: Array, side: 'left' | 'right', stream = a.stream): Array {
  return bind1(SearchSorted, [a, v], { side }, { shape: v.shape, dtype: int32 }, stream);
}

/**
 * Positions at which to insert `v` into the sorted 1-D `a` to keep it sorted ('left': before
 * equal values, 'right': after them), as NumPy. NaNs sort last. Returns int32.
 */
export function searchsorted(a: ArrayLike, v: ArrayLike, side: 'left' | 'right' = 'left', opts?: OpOptions): Array {
  const x = asArray(a);
  if (x.ndim !== 1) throw new Error(`[searchsorted] a must be 1-D, got shape ${fmtShape(x.shape)}`);
  if (side !== 'left' && side !== 'right') throw new Error(`[searchsorted] side must be 'left' or 'right', got '${String(side)}'`);
  const stream = streamFor(x, opts);
  const dt: DType = resultType(x, v);
  const [xs, vs] = promoteArgs([x, v], stream, dt);
  const flat = reshape(vs, [vs.size]);
  return reshape(bindSearch(xs, flat, side, stream), vs.shape);
}

export * from './index-helper.js';
