// Reductions (sum, prod, max, min, all, any, argmax, argmin, logsumexp), the ops composed
// from them (mean, var, std) and softmax. A reduction primitive reduces `axes` keeping
// them as size-1 axes; the public op drops them unless keepdims, so gradients only need to
// broadcast back.
//
// Dtypes follow MLX: sum and prod widen bool and small integers (signed to int32, unsigned
// to uint32; 64-bit stay), mean/var/std/logsumexp/softmax give float32 for integer inputs,
// argmax/argmin give uint32. Half inputs to mean/var/std are computed in float32.
// Gradients of max/min are split evenly among tied maxima (as MLX and JAX do).
import { Array, ArrayLike, asArray } from '../array.js';
import { DType, bool, int32, uint32, float32, floatOf } from '../dtype.js';
import { OpOptions, Stream, toStream } from '../device.js';
import { definePrimitive, bind1, Primitive } from '../primitive.js';
import { normAxes, normAxis, fmtShape } from './util.js';
import { reshape, broadcastTo, moveaxis, transpose } from './shape.js';
import { astype } from './astype.js';
import { multiply, divide, subtract, equal } from './binary.js';
import { exp, sqrt, square } from './unary.js';
import { cumprod } from './scan.js';

export interface ReduceParams { axes: number[] }
export interface ArgReduceParams { axis: number }
export interface SoftmaxParams { axes: number[]; precise: boolean }

/** A reduction's axes: one, several, or null/undefined for all of them. */
export type Axes = number | readonly number[] | null;

const range = (n: number) => [...globalThis.Array(n).keys()];
const keptShape = (shape: readonly number[], axes: number[]) => shape.map((d, i) => (axes.includes(i) ? 1 : d));
const dropAxes = (shape: readonly number[], axes: number[]) => shape.filter((_, i) => !axes.includes(i));
const countOf = (shape: readonly number[], axes: number[]) => axes.reduce((n, a) => n * shape[a], 1);
const streamFor = (x: Array, opts?: OpOptions): Stream => (opts?.stream ? toStream(opts.stream) : x.stream);
const toAxes = (where: string, axis: Axes | undefined, ndim: number) =>
  normAxes(where, axis === undefined || axis === null || typeof axis === 'number' ? axis : [...axis], ndim);

function checkNonEmpty(where: string, x: Array, axes: number[]): void {
  const empty = axes.find((a) => x.shape[a] === 0);
  if (empty !== undefined)
    throw new Error(`[${where}] cannot reduce an empty axis: axis ${empty} of shape ${fmtShape(x.shape)} has size 0 and ${where} has no identity`);
}

// ---------------------------------------------------------------- reduction primitives

/** Primitives whose params are `{ axes }` and whose output keeps those axes as size 1. */
export const reducePrimitives: Record<string, Primitive<never>> = {};

function reducePrimitive(name: string, rules: Pick<Primitive<ReduceParams>, 'vjp' | 'jvp' | 'nonDifferentiable'>, dtypeOf: (d: DType) => DType) {
  const prim: Primitive<ReduceParams> = definePrimitive<ReduceParams>({
    name,
    ...rules,
    vmap: ([x], [ax], { axes }) => [[bindReduce(prim, moveaxis(x, ax!, 0), axes.map((a) => a + 1), dtypeOf)], [0]],
  });
  reducePrimitives[name] = prim as Primitive<never>;
  return { prim, dtypeOf };
}

function bindReduce(prim: Primitive<ReduceParams>, x: Array, axes: number[], dtypeOf: (d: DType) => DType, stream = x.stream): Array {
  return bind1(prim, [x], { axes }, { shape: keptShape(x.shape, axes), dtype: dtypeOf(x.dtype) }, stream);
}

/** Sums keep small integers from overflowing, as MLX: bool and signed -> int32, unsigned -> uint32 (64-bit kept). */
export function sumDtype(d: DType): DType {
  if (d === bool) return int32;
  if (d.isInteger && d.size < 4) return d.kind === 'int' ? int32 : uint32;
  return d;
}
const same = (d: DType) => d;

/** Product of the other elements of each reduced group, exact with zeros (no division). */
function productOfOthers(x: Array, axes: number[]): Array {
  const keep = range(x.ndim).filter((a) => !axes.includes(a));
  const perm = [...keep, ...axes];
  const xt = transpose(x, perm);
  const rows = reshape(xt, [...keep.map((a) => x.shape[a]), countOf(x.shape, axes)]);
  const others = multiply(cumprod(rows, -1, false, false), cumprod(rows, -1, true, false));
  const inverse = perm.map((_, i) => perm.indexOf(i));
  return transpose(reshape(others, xt.shape), inverse);
}

/** Where x attains the reduced max/min, and how many times per group (the tie split). */
function chooser(x: Array, y: Array, axes: number[]): { mask: Array; count: Array } {
  const mask = equal(x, y);
  return { mask, count: bindReduce(Sum.prim, mask, axes, sumDtype) };
}

const Sum = reducePrimitive('sum', {
  vjp: ([g], { inputs: [x] }) => [broadcastTo(g, x.shape)],
  jvp: ([t], { params: { axes } }) => [bindReduce(Sum.prim, t!, axes, sumDtype)],
}, sumDtype);

const Prod = reducePrimitive('prod', {
  vjp: ([g], { inputs: [x], params: { axes } }) => [multiply(g, productOfOthers(x, axes))],
  jvp: ([t], { inputs: [x], params: { axes } }) => [bindReduce(Sum.prim, multiply(t!, productOfOthers(x, axes)), axes, same)],
}, sumDtype);

const extremum = (name: string) => reducePrimitive(name, {
  vjp: ([g], { inputs: [x], outputs: [y], params: { axes } }) => {
    const { mask, count } = chooser(x, y, axes);
    return [multiply(divide(g, count), mask)];
  },
  jvp: ([t], { inputs: [x], outputs: [y], params: { axes } }) => {
    const { mask, count } = chooser(x, y, axes);
    return [astype(divide(bindReduce(Sum.prim, multiply(t!, mask), axes, same), count), y.dtype)];
  },
}, same);
const Max = extremum('max');
const Min = extremum('min');

const All = reducePrimitive('all', { nonDifferentiable: 'all is a predicate' }, () => bool);
const Any = reducePrimitive('any', { nonDifferentiable: 'any is a predicate' }, () => bool);

const LogSumExp = reducePrimitive('logsumexp', {
  vjp: ([g], { inputs: [x], outputs: [y] }) => [multiply(g, exp(subtract(x, y)))],
  jvp: ([t], { inputs: [x], outputs: [y], params: { axes } }) => [bindReduce(Sum.prim, multiply(t!, exp(subtract(x, y))), axes, same)],
}, same);

// ---------------------------------------------------------------- public reductions

type Reducer = (a: ArrayLike, axis?: Axes, keepdims?: boolean, opts?: OpOptions) => Array;

function reducer(name: string, r: { prim: Primitive<ReduceParams>; dtypeOf: (d: DType) => DType }, hasIdentity = true): Reducer {
  return (a, axis, keepdims = false, opts) => {
    const x = asArray(a);
    const axes = toAxes(name, axis, x.ndim);
    if (!hasIdentity) checkNonEmpty(name, x, axes);
    const out = bindReduce(r.prim, x, axes, r.dtypeOf, streamFor(x, opts));
    return keepdims ? out : reshape(out, dropAxes(x.shape, axes));
  };
}

/** Sum over `axis` (all axes by default). Small integers and bool widen to 32 bits. */
export const sum: Reducer = reducer('sum', Sum);
/** Product over `axis`. Small integers and bool widen to 32 bits. */
export const prod: Reducer = reducer('prod', Prod);
/** Maximum over `axis`; NaN propagates. An empty axis is an error. */
export const max: Reducer = reducer('max', Max, false);
/** Minimum over `axis`; NaN propagates. An empty axis is an error. */
export const min: Reducer = reducer('min', Min, false);
/** Whether every element is nonzero (NaN counts as nonzero). */
export const all: Reducer = reducer('all', All);
/** Whether any element is nonzero. */
export const any: Reducer = reducer('any', Any);

/** log(sum(exp(a))) over `axis`, computed stably (the max is subtracted first). */
export function logsumexp(a: ArrayLike, axis?: Axes, keepdims = false, opts?: OpOptions): Array {
  const x = asArray(a);
  return reducer('logsumexp', LogSumExp)(astype(x, floatOf(x.dtype)), axis, keepdims, opts);
}

// ---------------------------------------------------------------- mean, var, std

/** The dtype these are computed in: float32 for integers and halves, else the input's. */
const workDtype = (d: DType) => (d.isFloat && d.size > 2 ? d : float32);

export function mean(a: ArrayLike, axis?: Axes, keepdims = false, opts?: OpOptions): Array {
  const x = asArray(a);
  const axes = toAxes('mean', axis, x.ndim);
  const s = sum(astype(x, workDtype(x.dtype)), axes, keepdims, opts);
  return astype(divide(s, countOf(x.shape, axes), opts), floatOf(x.dtype));
}

function varianceWork(x: Array, axes: number[], keepdims: boolean, ddof: number, opts?: OpOptions): Array {
  const xf = astype(x, workDtype(x.dtype));
  const centered = subtract(xf, mean(xf, axes, true, opts), opts);
  return divide(sum(square(centered), axes, keepdims, opts), Math.max(countOf(x.shape, axes) - ddof, 0), opts);
}

/** Variance over `axis`, dividing by N - ddof (two passes: the mean, then squared deviations). */
export function variance(a: ArrayLike, axis?: Axes, keepdims = false, ddof = 0, opts?: OpOptions): Array {
  const x = asArray(a);
  return astype(varianceWork(x, toAxes('var', axis, x.ndim), keepdims, ddof, opts), floatOf(x.dtype));
}
/** MLX's name; `var` is reserved in JS, so it can only be reached as `mx.var`. */
export { variance as var };

/** Standard deviation over `axis`, dividing by N - ddof. */
export function std(a: ArrayLike, axis?: Axes, keepdims = false, ddof = 0, opts?: OpOptions): Array {
  const x = asArray(a);
  return astype(sqrt(varianceWork(x, toAxes('std', axis, x.ndim), keepdims, ddof, opts)), floatOf(x.dtype));
}

// ---------------------------------------------------------------- argmax / argmin

function argPrimitive(name: string): Primitive<ArgReduceParams> {
  const prim: Primitive<ArgReduceParams> = definePrimitive<ArgReduceParams>({
    name,
    nonDifferentiable: `${name} returns indices`,
    vmap: ([x], [ax], { axis }) => [[bindArg(prim, moveaxis(x, ax!, 0), axis + 1)], [0]],
  });
  return prim;
}

function bindArg(prim: Primitive<ArgReduceParams>, x: Array, axis: number, stream = x.stream): Array {
  return bind1(prim, [x], { axis }, { shape: keptShape(x.shape, [axis]), dtype: uint32 }, stream);
}

const ArgMax = argPrimitive('argmax');
const ArgMin = argPrimitive('argmin');

function argReducer(name: string, prim: Primitive<ArgReduceParams>) {
  return (a: ArrayLike, axis?: number | null, keepdims = false, opts?: OpOptions): Array => {
    const x = asArray(a);
    if (axis !== undefined && axis !== null && typeof axis !== 'number')
      throw new TypeError(`[${name}] axis must be one integer or null, got ${JSON.stringify(axis)}`);
    const flat = axis === undefined || axis === null;
    const src = flat ? reshape(x, [x.size]) : x;
    const ax = flat ? 0 : normAxis(name, axis, x.ndim);
    checkNonEmpty(name, src, [ax]);
    const out = bindArg(prim, src, ax, streamFor(x, opts));
    if (flat) return reshape(out, keepdims ? x.shape.map(() => 1) : []);
    return keepdims ? out : reshape(out, dropAxes(x.shape, [ax]));
  };
}

/** Index (uint32, as MLX) of the first maximum along `axis` (of the flattened array by default); the first NaN wins. */
export const argmax = argReducer('argmax', ArgMax);
/** Index (uint32) of the first minimum along `axis`; the first NaN wins. */
export const argmin = argReducer('argmin', ArgMin);

// ---------------------------------------------------------------- softmax

const Softmax: Primitive<SoftmaxParams> = definePrimitive<SoftmaxParams>({
  name: 'softmax',
  vjp: ([g], { outputs: [y], params: { axes } }) => [multiply(y, subtract(g, sum(multiply(g, y), axes, true)))],
  jvp: ([t], { outputs: [y], params: { axes } }) => [multiply(y, subtract(t!, sum(multiply(t!, y), axes, true)))],
  vmap: ([x], [ax], { axes, precise }) => {
    const m = moveaxis(x, ax!, 0);
    return [[bind1(Softmax, [m], { axes: axes.map((a) => a + 1), precise }, { shape: m.shape, dtype: m.dtype }, m.stream)], [0]];
  },
});

/**
 * exp(a - max) / sum(exp(a - max)) over `axis` (all axes by default). Integers give
 * float32. Half inputs are computed in higher precision and rounded once; `precise` is
 * kept for backends that would otherwise compute in half precision.
 */
export function softmax(a: ArrayLike, axis?: Axes, precise = false, opts?: OpOptions): Array {
  const x0 = asArray(a);
  const x = astype(x0, floatOf(x0.dtype));
  const axes = toAxes('softmax', axis, x.ndim);
  return bind1(Softmax, [x], { axes, precise }, { shape: x.shape, dtype: x.dtype }, streamFor(x0, opts));
}

// ---------------------------------------------------------------- for gradients elsewhere

/** Sums `x` down to `shape` (undoing broadcasting), for gradients. */
export function sumTo(x: Array, shape: readonly number[]): Array {
  if (x.ndim === shape.length && x.shape.every((d, i) => d === shape[i])) return x;
  const lead = x.ndim - shape.length;
  const axes: number[] = [];
  for (let i = 0; i < x.ndim; i++) if (i < lead || (shape[i - lead] === 1 && x.shape[i] !== 1)) axes.push(i);
  let r = axes.length ? sum(x, axes, true) : x;
  r = reshape(r, shape);
  return r.dtype === x.dtype ? r : astype(r, x.dtype);
}
