// Shape ops. Primitives: reshape (shares storage), broadcast, transpose, concatenate,
// split, pad and diagonal (each one strided copy on the CPU). Everything else composes them.
import { Array, ArrayLike, asArray, isWeakScalar, shapeSize } from '../array.js';
import { DTypeLike, bool, promoteTypes, toDtype } from '../dtype.js';
import { OpOptions, Stream, toStream } from '../device.js';
import { definePrimitive, bind, bind1 } from '../primitive.js';
import { broadcastShapes, fmtShape, normAxis, scalar } from './util.js';
import { sum, sumTo } from './reduce.js';
import { astype } from './astype.js';
import { add, where } from './binary.js';
import { eye, ones, zerosLike } from './creation.js';

const streamFor = (x: Array, opts?: OpOptions) => (opts?.stream ? toStream(opts.stream) : x.stream);
const range = (n: number) => [...globalThis.Array(n).keys()];
const sameShape = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((d, i) => d === b[i]);
const checkInt = (where: string, name: string, v: number) => {
  if (!Number.isInteger(v)) throw new TypeError(`[${where}] ${name} must be an integer, got ${v}`);
};

// ---------------------------------------------------------------- reshape and friends

export const Reshape = definePrimitive<{ shape: number[] }>({
  name: 'reshape',
  vjp: ([g], { inputs: [x] }) => [reshape(g, x.shape)],
  jvp: ([t], { outputs: [y] }) => [reshape(t!, y.shape)],
  vmap: ([x], [ax], { shape }) => [[reshape(moveaxis(x, ax!, 0), [x.shape[ax!], ...shape])], [0]],
});

/** Same data in a new shape; one entry may be -1 (inferred). */
export function reshape(x: ArrayLike, shape: readonly number[], opts?: OpOptions): Array {
  const a = asArray(x);
  const s = inferShape('reshape', a.size, shape);
  if (sameShape(s, a.shape) && !opts?.stream) return a;
  return bind1(Reshape, [a], { shape: s }, { shape: s, dtype: a.dtype }, streamFor(a, opts));
}

/** `shape` with its -1 entry (if any) filled in so that it holds `size` elements. */
function inferShape(where: string, size: number, shape: readonly number[]): number[] {
  const s = [...shape];
  const free = s.indexOf(-1);
  if (s.some((d, i) => !Number.isInteger(d) || (d < 0 && !(d === -1 && i === free))))
    throw new Error(`[${where}] invalid shape ${fmtShape(shape)}: sizes must be non-negative integers, with at most one -1`);
  if (free >= 0) {
    const known = shapeSize(s.filter((_, i) => i !== free));
    if (known === 0 || size % known !== 0) throw new Error(`[${where}] cannot reshape array of size ${size} into shape ${fmtShape(shape)}`);
    s[free] = size / known;
  }
  if (shapeSize(s) !== size) throw new Error(`[${where}] cannot reshape array of size ${size} into shape ${fmtShape(shape)}`);
  return s;
}

/** Merges axes startAxis..endAxis (inclusive) into one; a 0-d array becomes shape (1,). */
export function flatten(x: ArrayLike, startAxis = 0, endAxis = -1, opts?: OpOptions): Array {
  const a = asArray(x);
  if (a.ndim === 0) return reshape(a, [1], opts);
  const s = normAxis('flatten', startAxis, a.ndim), e = normAxis('flatten', endAxis, a.ndim);
  if (e < s) throw new Error(`[flatten] startAxis ${startAxis} comes after endAxis ${endAxis} for an array of shape ${fmtShape(a.shape)}`);
  return reshape(a, [...a.shape.slice(0, s), shapeSize(a.shape.slice(s, e + 1)), ...a.shape.slice(e + 1)], opts);
}

/** Splits `axis` into `shape` (one entry may be -1). */
export function unflatten(x: ArrayLike, axis: number, shape: readonly number[], opts?: OpOptions): Array {
  const a = asArray(x);
  const ax = normAxis('unflatten', axis, a.ndim);
  if (!shape.length) throw new Error('[unflatten] the shape to unflatten into must not be empty');
  let s: number[];
  try { s = inferShape('unflatten', a.shape[ax], shape); } catch {
    throw new Error(`[unflatten] cannot unflatten axis ${axis} of size ${a.shape[ax]} (array shape ${fmtShape(a.shape)}) into shape ${fmtShape(shape)}`);
  }
  return reshape(a, [...a.shape.slice(0, ax), ...s, ...a.shape.slice(ax + 1)], opts);
}

/** Inserts size-1 axes at the given positions (of the result). */
export function expandDims(x: ArrayLike, axis: number | readonly number[], opts?: OpOptions): Array {
  const a = asArray(x);
  const axes = typeof axis === 'number' ? [axis] : [...axis];
  const nd = a.ndim + axes.length;
  const norm = axes.map((ax) => normAxis('expandDims', ax, nd));
  if (new Set(norm).size !== norm.length) throw new Error(`[expandDims] repeated axis in (${axes.join(',')})`);
  const shape: number[] = [];
  let k = 0;
  for (let i = 0; i < nd; i++) shape.push(norm.includes(i) ? 1 : a.shape[k++]);
  return reshape(a, shape, opts);
}

/** Removes size-1 axes (all of them, or those given). */
export function squeeze(x: ArrayLike, axis?: number | readonly number[] | null, opts?: OpOptions): Array {
  const a = asArray(x);
  const axes = axis === undefined || axis === null
    ? range(a.ndim).filter((i) => a.shape[i] === 1)
    : (typeof axis === 'number' ? [axis] : [...axis]).map((ax) => normAxis('squeeze', ax, a.ndim));
  if (new Set(axes).size !== axes.length) throw new Error(`[squeeze] repeated axis in (${axes.join(',')})`);
  for (const ax of axes) if (a.shape[ax] !== 1) throw new Error(`[squeeze] cannot squeeze axis ${ax} of size ${a.shape[ax]} in shape ${fmtShape(a.shape)}`);
  return reshape(a, a.shape.filter((_, i) => !axes.includes(i)), opts);
}

export function atleast1d(x: ArrayLike, opts?: OpOptions): Array {
  const a = asArray(x);
  return a.ndim >= 1 ? a : reshape(a, [1], opts);
}
export function atleast2d(x: ArrayLike, opts?: OpOptions): Array {
  const a = asArray(x);
  return a.ndim >= 2 ? a : reshape(a, [1, ...(a.ndim ? a.shape : [1])], opts);
}
/** As NumPy: (n,) becomes (1, n, 1) and (m, n) becomes (m, n, 1). */
export function atleast3d(x: ArrayLike, opts?: OpOptions): Array {
  const a = asArray(x);
  if (a.ndim >= 3) return a;
  const shape = a.ndim === 0 ? [1, 1, 1] : a.ndim === 1 ? [1, a.shape[0], 1] : [...a.shape, 1];
  return reshape(a, shape, opts);
}

// ---------------------------------------------------------------- broadcasting

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
  if (shape.some((d) => !Number.isInteger(d) || d < 0)) throw new Error(`[broadcastTo] invalid shape ${fmtShape(shape)}: sizes must be non-negative integers`);
  const out = broadcastShapes('broadcastTo', a.shape, shape);
  if (!sameShape(out, shape)) throw new Error(`[broadcastTo] cannot broadcast shape ${fmtShape(a.shape)} to ${fmtShape(shape)}`);
  if (sameShape(out, a.shape)) return a;
  return bind1(Broadcast, [a], { shape: out }, { shape: out, dtype: a.dtype }, streamFor(a, opts));
}

/** The arrays broadcast against each other (a JS array of arrays). */
export function broadcastArrays(arrays: readonly ArrayLike[], opts?: OpOptions): Array[] {
  const xs = arrays.map((x) => asArray(x));
  const shape = broadcastShapes('broadcastArrays', ...xs.map((x) => x.shape));
  return xs.map((x) => broadcastTo(x, shape, opts));
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
  const perm = axes ? axes.map((ax) => normAxis('transpose', ax, a.ndim)) : range(a.ndim).reverse();
  if (perm.length !== a.ndim || new Set(perm).size !== perm.length)
    throw new Error(`[transpose] axes (${axes?.join(',')}) are not a permutation of the ${a.ndim} axes of an array of shape ${fmtShape(a.shape)}`);
  if (perm.every((p, i) => p === i)) return a;
  const shape = perm.map((p) => a.shape[p]);
  // Moving only axes of size 1 keeps the elements in order: a reshape, which shares the buffer.
  const moved = perm.filter((p) => a.shape[p] !== 1);
  if (moved.every((p, i) => i === 0 || p > moved[i - 1])) return reshape(a, shape, opts);
  // A transpose of a pending transpose permutes the source once (or not at all).
  const node = a._node;
  if (node && node.prim === Transpose && node.inputs[0].stream === streamFor(a, opts)) {
    const inner = (node.params as { axes: number[] }).axes;
    return transpose(node.inputs[0], perm.map((p) => inner[p]), opts);
  }
  return bind1(Transpose, [a], { axes: perm }, { shape, dtype: a.dtype }, streamFor(a, opts));
}

export function moveaxis(x: ArrayLike, source: number, destination: number, opts?: OpOptions): Array {
  const a = asArray(x);
  const s = normAxis('moveaxis', source, a.ndim), d = normAxis('moveaxis', destination, a.ndim);
  const order = range(a.ndim).filter((i) => i !== s);
  order.splice(d, 0, s);
  return transpose(a, order, opts);
}

export function swapaxes(x: ArrayLike, axis1: number, axis2: number, opts?: OpOptions): Array {
  const a = asArray(x);
  const i = normAxis('swapaxes', axis1, a.ndim), j = normAxis('swapaxes', axis2, a.ndim);
  const order = range(a.ndim);
  [order[i], order[j]] = [order[j], order[i]];
  return transpose(a, order, opts);
}

// ---------------------------------------------------------------- concatenate, stack

export const Concatenate = definePrimitive<{ axis: number }>({
  name: 'concatenate',
  vjp: ([g], { inputs, params: { axis } }) => {
    let start = 0;
    const bounds = inputs.map((x) => [start, (start += x.shape[axis])] as [number, number]);
    return splitBounds(g, bounds, axis, g.stream);
  },
  jvp: (ts, { inputs, params: { axis } }) => [concatenate(ts.map((t, i) => t ?? zerosLike(inputs[i])), axis)],
  vmap: (xs, axes, { axis }) => {
    const b = xs.find((_, i) => axes[i] !== null)!.shape[axes.find((a) => a !== null)!];
    const moved = xs.map((x, i) => (axes[i] === null ? broadcastTo(expandDims(x, 0), [b, ...x.shape]) : moveaxis(x, axes[i]!, 0)));
    return [[concatenate(moved, axis + 1)], [0]];
  },
});

/** Joins arrays along an existing axis (axis null: flattens them first), promoting dtypes. */
export function concatenate(arrays: readonly ArrayLike[], axis: number | null = 0, opts?: OpOptions): Array {
  if (!arrays.length) throw new Error('[concatenate] no arrays to concatenate');
  let xs = arrays.map((x) => asArray(x));
  if (axis === null) { xs = xs.map((x) => flatten(x)); axis = 0; }
  const first = xs[0];
  if (xs.some((x) => x.ndim === 0)) throw new Error(`[concatenate] zero-dimensional arrays cannot be concatenated, got shapes ${xs.map((x) => fmtShape(x.shape)).join(', ')}`);
  const ax = normAxis('concatenate', axis, first.ndim);
  for (const x of xs) {
    if (x.ndim !== first.ndim || x.shape.some((d, i) => i !== ax && d !== first.shape[i]))
      throw new Error(`[concatenate] shapes ${xs.map((y) => fmtShape(y.shape)).join(', ')} must match except along the concatenation axis ${axis}`);
  }
  const dtype = xs.map((x) => x.dtype).reduce(promoteTypes);
  const stream = streamFor(first, opts);
  xs = xs.map((x) => astype(x, dtype, { stream }));
  if (xs.length === 1) return xs[0];
  const shape = [...first.shape];
  shape[ax] = xs.reduce((n, x) => n + x.shape[ax], 0);
  return bind1(Concatenate, xs, { axis: ax }, { shape, dtype }, stream);
}

/** Joins arrays of one shape along a new axis. */
export function stack(arrays: readonly ArrayLike[], axis = 0, opts?: OpOptions): Array {
  if (!arrays.length) throw new Error('[stack] no arrays to stack');
  const xs = arrays.map((x) => asArray(x));
  for (const x of xs) {
    if (!sameShape(x.shape, xs[0].shape)) throw new Error(`[stack] all arrays must have the same shape, got ${xs.map((y) => fmtShape(y.shape)).join(', ')}`);
  }
  const ax = normAxis('stack', axis, xs[0].ndim + 1);
  return concatenate(xs.map((x) => expandDims(x, ax)), ax, opts);
}

// ---------------------------------------------------------------- split

/** Each output is the range [start, stop) of the input along `axis`. */
export interface SplitParams { axis: number; bounds: [number, number][] }

export const Split = definePrimitive<SplitParams>({
  name: 'split',
  vjp: (gs, { inputs: [x], params: { axis, bounds } }) => {
    const n = x.shape[axis];
    // Pieces that tile the axis in order (the usual case) join back with one concatenate.
    if (bounds.every(([s, e], i) => s === (i ? bounds[i - 1][1] : 0) && e >= s) && bounds[bounds.length - 1][1] === n)
      return [concatenate(gs, axis)];
    const widths = (s: number, e: number) => x.shape.map((_, d) => (d === axis ? [s, n - e] : [0, 0]) as [number, number]);
    return [gs.map((g, i) => padRaw(g, widths(...bounds[i]), 'constant')).reduce((acc, g) => add(acc, g))];
  },
  jvp: ([t], { inputs: [x], params: { axis, bounds } }) => splitBounds(t ?? zerosLike(x), bounds, axis, x.stream),
  vmap: ([x], [ax], { axis, bounds }) => {
    const outs = splitBounds(moveaxis(x, ax!, 0), bounds, axis + 1, x.stream);
    return [outs, outs.map(() => 0)];
  },
});

function splitBounds(a: Array, bounds: [number, number][], axis: number, stream: Stream): Array[] {
  if (bounds.length === 1 && bounds[0][0] === 0 && bounds[0][1] === a.shape[axis]) return [a];
  const specs = bounds.map(([s, e]) => ({ shape: a.shape.map((d, i) => (i === axis ? e - s : d)), dtype: a.dtype }));
  return bind(Split, [a], { axis, bounds }, specs, stream);
}

/**
 * Splits along `axis` into `indicesOrSections` equal parts, or at the given indices (as
 * Python slices: a[:i0], a[i0:i1], ..., a[ik:]). Returns a JS array of arrays.
 */
export function split(x: ArrayLike, indicesOrSections: number | readonly number[], axis = 0, opts?: OpOptions): Array[] {
  const a = asArray(x);
  const ax = normAxis('split', axis, a.ndim);
  const n = a.shape[ax];
  let cuts: number[];
  if (typeof indicesOrSections === 'number') {
    const k = indicesOrSections;
    if (!Number.isInteger(k) || k <= 0) throw new Error(`[split] the number of sections must be a positive integer, got ${k}`);
    if (n % k !== 0) throw new Error(`[split] axis ${axis} of size ${n} (shape ${fmtShape(a.shape)}) cannot be split into ${k} equal sections`);
    cuts = range(k - 1).map((i) => ((i + 1) * n) / k);
  } else {
    for (const i of indicesOrSections) checkInt('split', 'indices', i);
    cuts = indicesOrSections.map((i) => Math.min(Math.max(i < 0 ? i + n : i, 0), n));
  }
  const starts = [0, ...cuts], stops = [...cuts, n];
  return splitBounds(a, starts.map((s, i) => [s, Math.max(s, stops[i])]), ax, streamFor(a, opts));
}

// ---------------------------------------------------------------- pad

export type PadMode = 'constant' | 'edge';
/** Per axis [before, after]; internally negative widths crop, which makes pad its own vjp. */
export interface PadParams { widths: [number, number][]; mode: PadMode }

export const Pad = definePrimitive<PadParams>({
  name: 'pad',
  vjp: ([g], { inputs: [x], params: { widths, mode } }) => {
    if (mode === 'edge') return [edgePadVjp(g, x.shape, widths)];
    const gx = padRaw(g, widths.map(([l, h]) => [-l, -h]), 'constant');
    // The value's cotangent sums g over the positions filled with it.
    const fromX = padRaw(ones(x.shape, bool, { stream: g.stream }), widths, 'constant', scalar(false, bool, g.stream));
    return [gx, sum(where(fromX, scalar(0, g.dtype, g.stream), g))];
  },
  jvp: ([tx, tv], { inputs: [x], params: { widths, mode } }) =>
    [padRaw(tx ?? zerosLike(x), widths, mode, mode === 'edge' ? undefined : tv ?? scalar(0, x.dtype, x.stream))],
  vmap: ([x, v], [ax, av], { widths, mode }) => {
    const b = ax !== null ? x.shape[ax] : v.shape[av!];
    const xb = ax !== null ? moveaxis(x, ax, 0) : broadcastTo(expandDims(x, 0), [b, ...x.shape]);
    const w: [number, number][] = [[0, 0], ...widths];
    if (mode === 'edge' || av === null || av === undefined) return [[padRaw(xb, w, mode, v)], [0]];
    // A batched pad value: pad with zeros, then fill the padding of each batch entry.
    const padded = padRaw(xb, w, 'constant', scalar(0, x.dtype, x.stream));
    const inside = padRaw(ones(xb.shape.slice(1), bool, { stream: x.stream }), widths, 'constant', scalar(false, bool, x.stream));
    const vb = reshape(moveaxis(v, av, 0), [b, ...widths.map(() => 1)]);
    return [[where(inside, padded, vb)], [0]];
  },
});

/** Binds Pad without the public checks (widths may be negative, meaning crop). */
function padRaw(x: Array, widths: [number, number][], mode: PadMode, value?: Array): Array {
  if (widths.every(([l, h]) => l === 0 && h === 0)) return x;
  const shape = x.shape.map((d, i) => d + widths[i][0] + widths[i][1]);
  const inputs = mode === 'edge' ? [x] : [x, value ?? scalar(0, x.dtype, x.stream)];
  return bind1(Pad, inputs, { widths, mode }, { shape, dtype: x.dtype }, x.stream);
}

/** Edge padding repeats the first and last entries: their cotangents collect the padding's. */
function edgePadVjp(g: Array, inShape: readonly number[], widths: [number, number][]): Array {
  let r = g;
  widths.forEach(([lo, hi], d) => {
    if (!lo && !hi) return;
    const n = inShape[d];
    const [before, mid, after] = splitBounds(r, [[0, lo], [lo, lo + n], [lo + n, lo + n + hi]], d, g.stream);
    const along = (w: [number, number]) => inShape.map((_, i) => (i === d ? w : [0, 0]) as [number, number]);
    r = mid;
    if (lo) r = add(r, padRaw(sum(before, d, true), along([0, n - 1]), 'constant'));
    if (hi) r = add(r, padRaw(sum(after, d, true), along([n - 1, 0]), 'constant'));
  });
  return r;
}

/** The padWidth forms MLX and NumPy accept: n, [n], [before, after], [[before, after]], or one pair per axis. */
function padWidths(padWidth: number | readonly number[] | readonly (readonly number[])[], ndim: number): [number, number][] {
  const bad = () => new Error(`[pad] padWidth ${JSON.stringify(padWidth)} must be an integer, [before, after], or ${ndim} [before, after] pairs for an array of dimension ${ndim}`);
  let pairs: readonly (readonly number[])[];
  if (typeof padWidth === 'number') pairs = [[padWidth, padWidth]];
  else if (padWidth.length && padWidth.every((p) => typeof p === 'number')) { // [] is the 0 pairs of a 0-d array
    const flat = padWidth as readonly number[];
    if (flat.length === 1) pairs = [[flat[0], flat[0]]];
    else if (flat.length === 2) pairs = [flat];
    else throw bad();
  } else pairs = padWidth as readonly (readonly number[])[];
  if (pairs.length === 1) pairs = range(ndim).map(() => pairs[0]);
  if (pairs.length !== ndim || pairs.some((p) => !globalThis.Array.isArray(p) || p.length !== 2 || p.some((w) => !Number.isInteger(w)))) throw bad();
  if (pairs.some((p) => p[0] < 0 || p[1] < 0)) throw new Error(`[pad] padding widths must be non-negative, got ${JSON.stringify(padWidth)}`);
  return pairs.map((p) => [p[0], p[1]]);
}

/** Pads with a constant (cast to the array's dtype) or by repeating the edge values. */
export function pad(
  x: ArrayLike,
  padWidth: number | readonly number[] | readonly (readonly number[])[],
  mode: PadMode = 'constant',
  constantValue: ArrayLike = 0,
  opts?: OpOptions,
): Array {
  const a = asArray(x);
  const widths = padWidths(padWidth, a.ndim);
  if (mode !== 'constant' && mode !== 'edge') throw new Error(`[pad] mode must be 'constant' or 'edge', got '${String(mode)}'`);
  const stream = streamFor(a, opts);
  if (mode === 'edge') {
    widths.forEach(([l, h], d) => {
      if (a.shape[d] === 0 && l + h > 0) throw new Error(`[pad] cannot edge-pad axis ${d} of size 0 in shape ${fmtShape(a.shape)}`);
    });
  }
  // Weak scalars go straight to the array's dtype (0.1 must not pass through float32 first).
  const v = isWeakScalar(constantValue) || typeof constantValue === 'bigint'
    ? scalar(constantValue, a.dtype, stream)
    : astype(asArray(constantValue, stream), a.dtype, { stream });
  if (v.size !== 1) throw new Error(`[pad] constantValue must be a single value, got shape ${fmtShape(v.shape)}`);
  if (widths.every(([l, h]) => l === 0 && h === 0) && !opts?.stream) return a;
  const shape = a.shape.map((d, i) => d + widths[i][0] + widths[i][1]);
  const inputs = mode === 'edge' ? [a] : [a, reshape(v, [])];
  return bind1(Pad, inputs, { widths, mode }, { shape, dtype: a.dtype }, stream);
}

// ---------------------------------------------------------------- tile, repeat, roll

/** Repeats the whole array `reps` times along each axis (NumPy's rules for mismatched lengths). */
export function tile(x: ArrayLike, reps: number | readonly number[], opts?: OpOptions): Array {
  const a = asArray(x);
  let r = typeof reps === 'number' ? [reps] : [...reps];
  if (r.some((k) => !Number.isInteger(k) || k < 0)) throw new Error(`[tile] reps must be non-negative integers, got (${r.join(',')})`);
  let shape = [...a.shape];
  if (r.length < shape.length) r = [...globalThis.Array(shape.length - r.length).fill(1), ...r];
  if (shape.length < r.length) shape = [...globalThis.Array(r.length - shape.length).fill(1), ...shape];
  // (d0, d1) -> (1, d0, 1, d1) -> (r0, d0, r1, d1) -> (r0*d0, r1*d1)
  const expanded = shape.flatMap((d) => [1, d]);
  const broad = shape.flatMap((d, i) => [r[i], d]);
  const b = broadcastTo(reshape(a, expanded), broad, opts);
  return reshape(b, shape.map((d, i) => d * r[i]), opts);
}

/** Repeats each element `repeats` times along `axis` (the flattened array by default). */
export function repeat(x: ArrayLike, repeats: number, axis?: number | null, opts?: OpOptions): Array {
  let a = asArray(x);
  if (!Number.isInteger(repeats) || repeats < 0) throw new Error(`[repeat] repeats must be a non-negative integer, got ${repeats}`);
  if (axis === undefined || axis === null) { a = flatten(a); axis = 0; }
  const ax = normAxis('repeat', axis, a.ndim);
  const shape = [...a.shape];
  const b = broadcastTo(expandDims(a, ax + 1), [...shape.slice(0, ax + 1), repeats, ...shape.slice(ax + 1)], opts);
  shape[ax] *= repeats;
  return reshape(b, shape, opts);
}

/** Shifts elements circularly along the given axes (the flattened array by default). */
export function roll(x: ArrayLike, shift: number | readonly number[], axis?: number | readonly number[] | null, opts?: OpOptions): Array {
  const a = asArray(x);
  const shifts = typeof shift === 'number' ? [shift] : [...shift];
  for (const s of shifts) checkInt('roll', 'shift', s);
  if (axis === undefined || axis === null) {
    return reshape(roll(flatten(a), shifts.reduce((p, s) => p + s, 0), 0, opts), a.shape);
  }
  const axes = (typeof axis === 'number' ? [axis] : [...axis]).map((ax) => normAxis('roll', ax, a.ndim));
  if (shifts.length !== axes.length && shifts.length !== 1 && axes.length !== 1)
    throw new Error(`[roll] shift (${shifts.join(',')}) and axis (${axes.join(',')}) must have the same length or one of them a single value`);
  const total = new Map<number, number>();
  for (let i = 0; i < Math.max(shifts.length, axes.length); i++) {
    const ax = axes[axes.length === 1 ? 0 : i];
    total.set(ax, (total.get(ax) ?? 0) + shifts[shifts.length === 1 ? 0 : i]);
  }
  let r = a;
  const stream = streamFor(a, opts);
  for (const [ax, s] of total) {
    const n = r.shape[ax];
    const k = n ? ((s % n) + n) % n : 0;
    if (!k) continue;
    const [front, back] = splitBounds(r, [[0, n - k], [n - k, n]], ax, stream);
    r = concatenate([back, front], ax, opts);
  }
  return r;
}

// ---------------------------------------------------------------- diagonals

export interface DiagonalParams { offset: number; axis1: number; axis2: number }

export const Diagonal = definePrimitive<DiagonalParams>({
  name: 'diagonal',
  vjp: ([g], { inputs: [x], params: { offset, axis1, axis2 } }) => {
    // Embed g as the diagonal of (..., n1, n2) matrices, then put those two axes back.
    const m = diagEmbed(g, offset, x.shape[axis1], x.shape[axis2]);
    let rest = 0;
    const perm = range(x.ndim).map((p) => (p === axis1 ? x.ndim - 2 : p === axis2 ? x.ndim - 1 : rest++));
    return [transpose(m, perm)];
  },
  jvp: ([t], { inputs: [x], params: { offset, axis1, axis2 } }) => [diagonal(t ?? zerosLike(x), offset, axis1, axis2)],
  vmap: ([x], [ax], { offset, axis1, axis2 }) => [[diagonal(moveaxis(x, ax!, 0), offset, axis1 + 1, axis2 + 1)], [0]],
});

/** Diagonal length of an (n1, n2) matrix at offset k. */
const diagLength = (n1: number, n2: number, k: number) => Math.max(0, k >= 0 ? Math.min(n1, n2 - k) : Math.min(n1 + k, n2));

/** v (..., L) placed on diagonal k of (..., n1, n2) matrices of zeros. */
function diagEmbed(v: Array, k: number, n1: number, n2: number): Array {
  const len = v.shape[v.ndim - 1];
  // Entry (r, c) on the diagonal holds v[r] when k >= 0 and v[c] when k < 0.
  const n = k >= 0 ? n1 : n2;
  const widths = v.shape.map((_, i) => (i === v.ndim - 1 ? [0, n - len] : [0, 0]) as [number, number]);
  const vp = padRaw(v, widths, 'constant');
  const mask = eye(n1, n2, k, bool, { stream: v.stream });
  return where(mask, expandDims(vp, k >= 0 ? -1 : -2), scalar(0, v.dtype, v.stream));
}

/**
 * The diagonal at `offset` of the matrices spanned by axis1 and axis2; those axes are
 * removed and the diagonal becomes the last axis (as NumPy).
 */
export function diagonal(x: ArrayLike, offset = 0, axis1 = 0, axis2 = 1, opts?: OpOptions): Array {
  const a = asArray(x);
  checkInt('diagonal', 'offset', offset);
  if (a.ndim < 2) throw new Error(`[diagonal] the array must have at least 2 dimensions, got shape ${fmtShape(a.shape)}`);
  const ax1 = normAxis('diagonal', axis1, a.ndim), ax2 = normAxis('diagonal', axis2, a.ndim);
  if (ax1 === ax2) throw new Error(`[diagonal] axis1 (${axis1}) and axis2 (${axis2}) must be different axes of an array of dimension ${a.ndim}`);
  const shape = [...a.shape.filter((_, i) => i !== ax1 && i !== ax2), diagLength(a.shape[ax1], a.shape[ax2], offset)];
  return bind1(Diagonal, [a], { offset, axis1: ax1, axis2: ax2 }, { shape, dtype: a.dtype }, streamFor(a, opts));
}

/** 1-D: a square matrix with `x` on diagonal k; 2-D: diagonal k of `x`. */
export function diag(x: ArrayLike, k = 0, opts?: OpOptions): Array {
  const a = asArray(x);
  checkInt('diag', 'k', k);
  if (a.ndim === 2) return diagonal(a, k, 0, 1, opts);
  if (a.ndim !== 1) throw new Error(`[diag] the array must be 1-D or 2-D, got shape ${fmtShape(a.shape)}`);
  const n = a.shape[0] + Math.abs(k);
  const v = opts?.stream ? astype(a, a.dtype, opts) : a;
  return diagEmbed(v, k, n, n);
}

/** Sum along diagonal `offset` of the axis1/axis2 matrices, in `dtype` (default: the array's, as MLX). */
export function trace(x: ArrayLike, offset = 0, axis1 = 0, axis2 = 1, dtype?: DTypeLike | null, opts?: OpOptions): Array {
  const a = asArray(x);
  if (a.ndim < 2) throw new Error(`[trace] the array must have at least 2 dimensions, got shape ${fmtShape(a.shape)}`);
  const d = diagonal(a, offset, axis1, axis2, opts);
  return astype(sum(d, -1), dtype ? toDtype(dtype, 'trace') : a.dtype, opts);
}

// ---------------------------------------------------------------- for vmap rules

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
