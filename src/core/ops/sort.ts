// Sorting along an axis: sort, argsort, partition, argpartition (one primitive each) and
// topk (a partition, then its last k). Sorts are stable and put NaN last, as NumPy; index
// outputs are uint32, as MLX. No axis (null) sorts the flattened array; the default is -1.
// Gradients follow the permutation: tangents are gathered by argsort/argpartition (the
// kernels make sort and partition exactly that gather), cotangents scattered back.
import { Array, ArrayLike, asArray } from '../array.js';
import { uint32 } from '../dtype.js';
import { OpOptions, Stream, toStream } from '../device.js';
import { definePrimitive, bind1, Primitive } from '../primitive.js';
import { normAxis, fmtShape } from './util.js';
import { reshape, moveaxis } from './shape.js';
import { zeros } from './creation.js';
import { bindGatherAxis, bindScatterAxis, bindSlice } from './indexing.js';

export interface SortParams { axis: number }
export interface PartitionParams { axis: number; kth: number }

/**
 * A sort-like primitive (same shape out). With `order`, the index primitive whose
 * permutation it applies, it returns values and differentiates through that permutation;
 * without, it returns uint32 indices and has no gradient.
 */
function sortLike<P extends SortParams>(name: string, order?: () => Primitive<P>): Primitive<P> {
  const prim: Primitive<P> = definePrimitive<P>({
    name,
    nonDifferentiable: order ? undefined : `${name} returns indices`,
    vjp: order && (([g], { inputs: [x], params }) =>
      [bindScatterAxis(zeros(x.shape, g.dtype, { stream: g.stream }), bindSort(order(), x, params), g, params.axis, 'sum')]),
    jvp: order && (([t], { inputs: [x], params }) => [bindGatherAxis(t!, bindSort(order(), x, params), params.axis)]),
    vmap: ([x], [ax], params) => [[bindSort(prim, moveaxis(x, ax!, 0), { ...params, axis: params.axis + 1 })], [0]],
  });
  return prim;
}

function bindSort<P extends SortParams>(prim: Primitive<P>, x: Array, params: P, stream: Stream = x.stream): Array {
  const indices = prim.nonDifferentiable !== undefined; // argsort, argpartition
  return bind1(prim, [x], params, { shape: x.shape, dtype: indices ? uint32 : x.dtype }, stream);
}

const ArgSort = sortLike<SortParams>('argsort');
const Sort = sortLike<SortParams>('sort', () => ArgSort);
const ArgPartition = sortLike<PartitionParams>('argpartition');
const Partition = sortLike<PartitionParams>('partition', () => ArgPartition);

/** The array to sort and the normalized axis: axis null flattens. */
function sortArgs(where: string, a: ArrayLike, axis: number | null) {
  const x0 = asArray(a);
  if (axis === null) return { x0, x: reshape(x0, [x0.size]), axis: 0 };
  return { x0, x: x0, axis: normAxis(where, axis, x0.ndim) };
}
const streamFor = (x: Array, opts?: OpOptions): Stream => (opts?.stream ? toStream(opts.stream) : x.stream);

function normKth(where: string, x: Array, kth: number, axis: number): number {
  const n = x.shape[axis];
  if (!Number.isInteger(kth) || kth < -n || kth >= n)
    throw new Error(`[${where}] kth ${kth} is out of bounds for axis ${axis} of size ${n} in shape ${fmtShape(x.shape)}`);
  return kth < 0 ? kth + n : kth;
}

/** A sorted copy along `axis` (stable; NaN last). */
export function sort(a: ArrayLike, axis: number | null = -1, opts?: OpOptions): Array {
  const { x0, x, axis: ax } = sortArgs('sort', a, axis);
  return bindSort(Sort, x, { axis: ax }, streamFor(x0, opts));
}

/** Indices (uint32) that sort `a` along `axis`, stably with NaN last. */
export function argsort(a: ArrayLike, axis: number | null = -1, opts?: OpOptions): Array {
  const { x0, x, axis: ax } = sortArgs('argsort', a, axis);
  return bindSort(ArgSort, x, { axis: ax }, streamFor(x0, opts));
}

/** A copy with the kth element (of the sorted order) in place, smaller ones before it and larger after (each side unordered). */
export function partition(a: ArrayLike, kth: number, axis: number | null = -1, opts?: OpOptions): Array {
  const { x0, x, axis: ax } = sortArgs('partition', a, axis);
  return bindSort(Partition, x, { axis: ax, kth: normKth('partition', x, kth, ax) }, streamFor(x0, opts));
}

/** Indices (uint32) that partition `a` around its kth element along `axis`. */
export function argpartition(a: ArrayLike, kth: number, axis: number | null = -1, opts?: OpOptions): Array {
  const { x0, x, axis: ax } = sortArgs('argpartition', a, axis);
  return bindSort(ArgPartition, x, { axis: ax, kth: normKth('argpartition', x, kth, ax) }, streamFor(x0, opts));
}

/** The k largest elements along `axis`, in no particular order (as MLX; NaN counts as largest). */
export function topk(a: ArrayLike, k: number, axis: number | null = -1, opts?: OpOptions): Array {
  const { x0, x, axis: ax } = sortArgs('topk', a, axis);
  const n = x.shape[ax];
  if (!Number.isInteger(k) || k < 0 || k > n)
    throw new Error(`[topk] k=${k} is out of range for axis ${ax} of size ${n} in shape ${fmtShape(x.shape)}: expected 0 <= k <= ${n}`);
  const stream = streamFor(x0, opts);
  if (k === n) return x;
  const p = k === 0 ? x : bindSort(Partition, x, { axis: ax, kth: n - k }, stream);
  return bindSlice(p, x.shape.map((_, i) => (i === ax ? n - k : 0)), x.shape.map(() => 1), x.shape.map((d, i) => (i === ax ? k : d)), stream);
}
