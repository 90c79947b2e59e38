// Shape ops: reshape, broadcastTo, transpose and the ops built on them.
import { Array, ArrayLike, asArray, shapeSize } from '../array.js';
import { OpOptions, toStream } from '../device.js';
import { definePrimitive, bind1 } from '../primitive.js';
import { broadcastShapes, fmtShape, normAxis } from './util.js';
import { sumTo } from './reduce.js';

const streamFor = (x: Array, opts?: OpOptions) => (opts?.stream ? toStream(opts.stream) : x.stream);

// ---------------------------------------------------------------- reshape

export const Reshape = definePrimitive<{ shape: number[] }>({
  name: 'reshape',
  vjp: ([g], { inputs: [x] }) => [reshape(g, x.shape)],
  jvp: ([t], { outputs: [y] }) => [reshape(t!, y.shape)],
  vmap: ([x], [ax], { shape }) => [[reshape(moveaxis(x, ax!, 0), [x.shape[ax!], ...shape])], [0]],
});

/** Same data in a new shape; one entry may be -1 (inferred). */
export function reshape(x: ArrayLike, shape: readonly number[], opts?: OpOptions): Array {
  const a = asArray(x);
  const s = inferShape('reshape', a, shape);
  if (s.length === a.ndim && s.every((d, i) => d === a.shape[i]) && !opts?.stream) return a;
  return bind1(Reshape, [a], { shape: s }, { shape: s, dtype: a.dtype }, streamFor(a, opts));
}

function inferShape(where: string, a: Array, shape: readonly number[]): number[] {
  const s = [...shape];
  const free = s.indexOf(-1);
  if (s.some((d, i) => !Number.isInteger(d) || (d < 0 && !(d === -1 && i === free))))
    throw new Error(`[${where}] invalid shape ${fmtShape(shape)}`);
  if (free >= 0) {
    const known = shapeSize(s.filter((_, i) => i !== free));
    if (known === 0 || a.size % known !== 0) throw new Error(`[${where}] cannot reshape array of size ${a.size} into shape ${fmtShape(shape)}`);
    s[free] = a.size / known;
  }
  if (shapeSize(s) !== a.size) throw new Error(`[${where}] cannot reshape array of size ${a.size} into shape ${fmtShape(shape)}`);
  return s;
}

// ---------------------------------------------------------------- broadcastTo

export const Broadcast = definePrimitive<{ shape: number[] }>({
  name: 'broadcast',
  vjp: ([g], { inputs: [x] }) => [sumTo(g, x.shape)],
  jvp: ([t], { outputs: [y] }) => [broadcastTo(t!, y.shape)],
  vmap: ([x], [ax], { shape }) => {
    const m = moveaxis(x, ax!, 0);
    const pad = shape.length - (m.ndim - 1);
    const r = reshape(m, [m.shape[0], ...globalThis.Array(pad).fill(1), ...m.shape.slice(1)]);
    return [[broadcastTo(r, [m.shape[0], ...shape])], [0]];
  },
});

export function broadcastTo(x: ArrayLike, shape: readonly number[], opts?: OpOptions): Array {
  const a = asArray(x);
  const out = broadcastShapes('broadcastTo', a.shape, shape);
  if (out.length !== shape.length || out.some((d, i) => d !== shape[i]))
    throw new Error(`[broadcastTo] cannot broadcast shape ${fmtShape(a.shape)} to ${fmtShape(shape)}`);
  if (out.length === a.ndim && out.every((d, i) => d === a.shape[i])) return a;
  return bind1(Broadcast, [a], { shape: out }, { shape: out, dtype: a.dtype }, streamFor(a, opts));
}

// ---------------------------------------------------------------- transpose

export const Transpose = definePrimitive<{ axes: number[] }>({
  name: 'transpose',
  vjp: ([g], { params: { axes } }) => [transpose(g, inversePerm(axes))],
  jvp: ([t], { params: { axes } }) => [transpose(t!, axes)],
  vmap: ([x], [ax], { axes }) => [[transpose(moveaxis(x, ax!, 0), [0, ...axes.map((a) => a + 1)])], [0]],
});

function inversePerm(p: number[]): number[] {
  const inv = new globalThis.Array<number>(p.length);
  p.forEach((a, i) => { inv[a] = i; });
  return inv;
}

/** Permutes axes (reverses them by default). */
export function transpose(x: ArrayLike, axes?: readonly number[] | null, opts?: OpOptions): Array {
  const a = asArray(x);
  const perm = axes ? axes.map((ax) => normAxis('transpose', ax, a.ndim)) : [...globalThis.Array(a.ndim).keys()].reverse();
  if (perm.length !== a.ndim || new Set(perm).size !== perm.length)
    throw new Error(`[transpose] axes (${axes?.join(',')}) are not a permutation of the ${a.ndim} axes of an array of shape ${fmtShape(a.shape)}`);
  if (perm.every((p, i) => p === i)) return a;
  return bind1(Transpose, [a], { axes: perm }, { shape: perm.map((p) => a.shape[p]), dtype: a.dtype }, streamFor(a, opts));
}

export function moveaxis(x: ArrayLike, source: number, destination: number, opts?: OpOptions): Array {
  const a = asArray(x);
  const s = normAxis('moveaxis', source, a.ndim), d = normAxis('moveaxis', destination, a.ndim);
  const order = [...globalThis.Array(a.ndim).keys()].filter((i) => i !== s);
  order.splice(d, 0, s);
  return transpose(a, order, opts);
}

export function swapaxes(x: ArrayLike, axis1: number, axis2: number, opts?: OpOptions): Array {
  const a = asArray(x);
  const i = normAxis('swapaxes', axis1, a.ndim), j = normAxis('swapaxes', axis2, a.ndim);
  const order = [...globalThis.Array(a.ndim).keys()];
  [order[i], order[j]] = [order[j], order[i]];
  return transpose(a, order, opts);
}

/** Inserts size-1 axes at the given positions (of the result). */
export function expandDims(x: ArrayLike, axis: number | number[], opts?: OpOptions): Array {
  const a = asArray(x);
  const axes = typeof axis === 'number' ? [axis] : axis;
  const nd = a.ndim + axes.length;
  const norm = axes.map((ax) => normAxis('expandDims', ax, nd));
  if (new Set(norm).size !== norm.length) throw new Error(`[expandDims] repeated axis in (${axes.join(',')})`);
  const shape: number[] = [];
  let k = 0;
  for (let i = 0; i < nd; i++) shape.push(norm.includes(i) ? 1 : a.shape[k++]);
  return reshape(a, shape, opts);
}

/** Removes size-1 axes (all of them, or those given). */
export function squeeze(x: ArrayLike, axis?: number | number[] | null, opts?: OpOptions): Array {
  const a = asArray(x);
  const axes = axis === undefined || axis === null
    ? a.shape.map((d, i) => (d === 1 ? i : -1)).filter((i) => i >= 0)
    : (typeof axis === 'number' ? [axis] : axis).map((ax) => normAxis('squeeze', ax, a.ndim));
  for (const ax of axes) if (a.shape[ax] !== 1) throw new Error(`[squeeze] cannot squeeze axis ${ax} of size ${a.shape[ax]} in shape ${fmtShape(a.shape)}`);
  return reshape(a, a.shape.filter((_, i) => !axes.includes(i)), opts);
}

/**
 * For vmap rules: moves each batched input's batch axis to the front and pads its
 * logical rank, so that elementwise broadcasting lines the batch axes up.
 */
export function batchFront(xs: Array[], axes: (number | null)[]): Array[] {
  const rank = Math.max(...xs.map((x, i) => x.ndim - (axes[i] === null ? 0 : 1)));
  return xs.map((x, i) => {
    const ax = axes[i];
    if (ax === null) return x;
    const m = moveaxis(x, ax, 0);
    const logical = m.ndim - 1;
    return logical < rank ? reshape(m, [m.shape[0], ...globalThis.Array(rank - logical).fill(1), ...m.shape.slice(1)]) : m;
  });
}
