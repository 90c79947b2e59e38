// Random numbers from splittable keys (`mx.random`). One primitive, `randomBits`, hashes a
// key with Threefry-2x32 (threefry.ts); every distribution is built from its bits with
// ordinary ops, following MLX's recipes, so a key gives the same numbers on every backend.
// Keys are uint32 arrays of shape (2,), laid out as MLX's: key(seed) = [seed >> 32, seed & 0xffffffff].
// Bits, key splitting, the global key sequence and the bits -> uniform mapping match MLX
// exactly (tested against MLX's own vectors). Known differences: normal() and friends use
// lathe's erfinv (accurate in float64, then rounded), so a sample may differ from MLX's
// float32 erfinv in the last bit; uniform() also accepts float64 (from 24-bit samples).
import { Array, ArrayLike, asArray, isWeakScalar } from '../array.js';
import { DType, DTypeLike, float32, float64, int32, int64, uint8, uint16, uint32, uint64, promoteTypes, toDtype } from '../dtype.js';
import { OpOptions, Stream, toStream } from '../device.js';
import { definePrimitive, bind1, Primitive } from '../primitive.js';
import { broadcastShapes, fmtShape, normAxis, promoteArgs } from './util.js';
import { ShapeLike, toShape, zerosLike } from './creation.js';
import { astype } from './astype.js';
import { add, subtract, multiply, divide, minimum, maximum, less, lessEqual, where, remainder, leftShift, bitwiseOr } from './binary.js';
import { erf, erfinv, log, log1p, negative, sign, abs, sqrt } from './unary.js';
import { reshape, swapaxes, expandDims, squeeze, split as splitArray } from './shape.js';
import { matmul } from './matmul.js';
import { svd } from './factorizations.js';
import { splitKeyHost } from './threefry.js';
import { argmax } from './reduce.js';
import { argsort } from './sort.js';
import { take } from './indexing.js';

export interface RandomBitsParams { shape: number[]; width: number }

const bitsDtype = (width: number): DType => (width === 4 ? uint32 : width === 2 ? uint16 : uint8);

/**
 * Bits from keys of shape (..., 2): the key's leading axes are the output's leading axes,
 * and each key fills the rest of the output (so vmap over keys batches for free).
 */
export const RandomBits: Primitive<RandomBitsParams> = definePrimitive<RandomBitsParams>({
  name: 'randomBits',
  nonDifferentiable: 'random bits do not depend differentiably on the key',
  vjp: () => [null],
  jvp: (_, { outputs: [y] }) => [zerosLike(y)],
  vmap: ([key], [ax], { shape, width }) => {
    let k = key, kax = ax!;
    // The last axis holds the key pair: keep it last, with the batch axis just before it.
    if (kax === k.ndim - 1) { k = swapaxes(k, kax, kax - 1); kax--; }
    const out = [...shape];
    out.splice(kax, 0, k.shape[kax]);
    return [[bind1(RandomBits, [k], { shape: out, width }, { shape: out, dtype: bitsDtype(width) }, k.stream)], [kax]];
  },
});

/** A key made from its two words (a graph node, so it costs no memory until used). */
export const RandomKey = definePrimitive<{ key: [number, number] }>({
  name: 'randomKey',
  nonDifferentiable: 'a key has no array inputs',
  vjp: () => [],
  jvp: (_, { outputs: [y] }) => [zerosLike(y)],
  vmap: () => { throw new Error('[randomKey] has no array inputs, so there is nothing to batch'); },
});

function keyFromWords(k0: number, k1: number, stream: Stream): Array {
  return bind1(RandomKey, [], { key: [k0 >>> 0, k1 >>> 0] }, { shape: [2], dtype: uint32 }, stream);
}

/** `mx.random.key(seed)`: the key [seed >> 32, seed & 0xffffffff] of a 64-bit seed. */
export function key(seed: number | bigint, opts?: OpOptions): Array {
  const s = toSeed('key', seed);
  return keyFromWords(Number(s >> 32n), Number(s & 0xffffffffn), toStream(opts?.stream));
}

function toSeed(where: string, seed: number | bigint): bigint {
  if (typeof seed === 'number' && !Number.isInteger(seed)) throw new TypeError(`[${where}] the seed must be an integer, got ${seed}`);
  return BigInt.asUintN(64, BigInt(seed));
}

// The global key sequence: each draw without a key splits it, keeps the first half and
// uses the second (as MLX's KeySequence). Held on the host: splitting two words is cheap.
let state = splitState(BigInt(Date.now()));
function splitState(s: bigint): [number, number] { return [Number(BigInt.asUintN(64, s) >> 32n), Number(s & 0xffffffffn)]; }

/** `mx.random.seed(s)`: resets the global key sequence. */
export function seed(s: number | bigint): void {
  state = splitState(toSeed('seed', s));
}

function nextKey(stream: Stream): Array {
  const rows = splitKeyHost(state[0], state[1], 2);
  state = [rows[0], rows[1]];
  return keyFromWords(rows[2], rows[3], stream);
}

function checkKey(where: string, k: Array | null | undefined, stream: Stream): Array {
  if (k === undefined || k === null) return nextKey(stream);
  if (!(k instanceof Array) || k.dtype !== uint32 || k.ndim !== 1 || k.shape[0] !== 2)
    throw new TypeError(`[${where}] expected a key of dtype uint32 and shape (2,), got ${k instanceof Array ? `${k.dtype.name} of shape ${fmtShape(k.shape)}` : typeof k}`);
  return k;
}

/** `mx.random.bits(shape, width, key)`: raw random bits, `width` bytes per element (1, 2 or 4). */
export function bits(shape: ShapeLike = [], width = 4, key?: Array | null, opts?: OpOptions): Array {
  return bitsFor('bits', toShape('bits', shape), width, key, toStream(opts?.stream));
}

function bitsFor(where: string, shape: number[], width: number, k: Array | null | undefined, stream: Stream): Array {
  if (width !== 1 && width !== 2 && width !== 4) throw new Error(`[${where}] width must be 1, 2 or 4 bytes, got ${width}`);
  const kk = checkKey(where, k, stream);
  return bind1(RandomBits, [kk], { shape, width }, { shape, dtype: bitsDtype(width) }, stream);
}

/** `mx.random.split(key, num)`: `num` new keys as an array of shape (num, 2). */
export function split(key: Array, num = 2, opts?: OpOptions): Array {
  if (!Number.isInteger(num) || num < 0) throw new Error(`[split] num must be a non-negative integer, got ${num}`);
  return bitsFor('split', [num, 2], 4, checkKey('split', key, toStream(opts?.stream)), toStream(opts?.stream));
}

/** The two halves of split(key), each of shape (2,). */
function splitPair(k: Array, stream: Stream): [Array, Array] {
  const [a, b] = splitArray(split(k, 2, { stream }), 2, 0);
  return [reshape(a, [2]), reshape(b, [2])];
}

// ---------------------------------------------------------------- distributions

function floatDtype(where: string, dtype: DTypeLike): DType {
  const d = toDtype(dtype, where);
  if (!d.isFloat) throw new TypeError(`[${where}] can only generate floating point values, got dtype ${d.name}`);
  return d;
}

const sameShape = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((d, i) => d === b[i]);

/** Throws unless parameters of these shapes broadcast to exactly `shape`. */
function checkFits(where: string, shape: number[], ...params: (readonly number[])[]): void {
  let fits: boolean;
  try { fits = sameShape(broadcastShapes(where, shape, ...params), shape); } catch { fits = false; }
  if (!fits)
    throw new Error(`[${where}] cannot generate values of shape ${fmtShape(shape)} from parameters of shape ${params.map(fmtShape).join(' and ')}`);
}

// The largest value below 1 in each dtype: uniform samples stay below `high`.
const BELOW_ONE: Record<string, number> = { float16: 1 - 2 ** -11, bfloat16: 1 - 2 ** -8, float32: 1 - 2 ** -24, float64: 1 - 2 ** -24 };
const NEXT_BELOW_MINUS_ONE = -(1 - 2 ** -24); // nextafter(-1f, 0)
const SQRT2 = Math.SQRT2;

/** Uniform [0, 1) in `dtype`: 32 bits / (2^32 - 1) in float32, kept below 1 (MLX's mapping). */
function unitUniform(where: string, shape: number[], dtype: DType, k: Array | null | undefined, stream: Stream): Array {
  const u = divide(bitsFor(where, shape, 4, k, stream), 4294967295, { stream });
  return astype(minimum(u, BELOW_ONE[dtype.name], { stream }), dtype);
}

/** `mx.random.uniform(low, high, shape, dtype, key)`: uniform samples in [low, high). */
export function uniform(low: ArrayLike = 0, high: ArrayLike = 1, shape: ShapeLike = [], dtype: DTypeLike = float32, key?: Array | null, opts?: OpOptions): Array {
  return uniformFor('uniform', low, high, shape, floatDtype('uniform', dtype), key, toStream(opts?.stream));
}

/** uniform() on behalf of another op (errors name that op). */
function uniformFor(where: string, low: ArrayLike, high: ArrayLike, shape: ShapeLike, dt: DType, key: Array | null | undefined, stream: Stream): Array {
  const s = toShape(where, shape);
  const [lo, hi] = promoteArgs([low, high], stream, dt);
  const range = subtract(hi, lo, { stream });
  checkFits(where, s, range.shape);
  return add(multiply(range, unitUniform(where, s, dt, key, stream), { stream }), lo, { stream });
}

/** `mx.random.normal(shape, dtype, loc, scale, key)`: normal samples, by the inverse CDF. */
export function normal(shape: ShapeLike = [], dtype: DTypeLike = float32, loc: ArrayLike | null = null, scale: ArrayLike | null = null, key?: Array | null, opts?: OpOptions): Array {
  const dt = floatDtype('normal', dtype);
  const stream = toStream(opts?.stream);
  const u = uniformFor('normal', NEXT_BELOW_MINUS_ONE, 1, shape, float32, key, stream);
  let applied = promoteArgs([SQRT2], stream, dt)[0];
  if (scale !== null) applied = multiply(applied, promoteArgs([scale], stream, dt)[0], { stream });
  let out = multiply(applied, astype(erfinv(u, { stream }), dt), { stream });
  if (loc !== null) out = add(promoteArgs([loc], stream, dt)[0], out, { stream });
  return out;
}

/**
 * `mx.random.multivariateNormal(mean, cov, shape, dtype, key)`: samples of N(mean, cov),
 * as mean + z @ sqrt(cov) with sqrt(cov) from the SVD (as MLX). The result has shape
 * broadcast(cov batch, mean batch, shape) + (n,).
 */
export function multivariateNormal(mean: ArrayLike, cov: ArrayLike, shape: ShapeLike = [], dtype: DTypeLike = float32, key?: Array | null, opts?: OpOptions): Array {
  const where = 'multivariateNormal';
  const dt = toDtype(dtype, where);
  if (dt !== float32) throw new TypeError(`[${where}] dtype must be float32, got ${dt.name}`);
  const stream = toStream(opts?.stream);
  const m = asArray(mean, stream), c = asArray(cov, stream);
  if (m.ndim < 1) throw new Error(`[${where}] mean must have at least one dimension, got shape ${fmtShape(m.shape)}`);
  if (c.ndim < 2) throw new Error(`[${where}] cov must have at least two dimensions, got shape ${fmtShape(c.shape)}`);
  const n = m.shape[m.ndim - 1];
  if (c.shape[c.ndim - 1] !== c.shape[c.ndim - 2] || c.shape[c.ndim - 1] !== n)
    throw new Error(`[${where}] cov of shape ${fmtShape(c.shape)} must be (..., ${n}, ${n}) for mean of shape ${fmtShape(m.shape)}`);
  const out = [...broadcastShapes(where, c.shape.slice(0, -2), m.shape.slice(0, -1), toShape(where, shape)), n];
  const [u, sv, vt] = svd(astype(c, float32), true, { stream });
  const root = matmul(multiply(u, expandDims(sqrt(sv, { stream }), -2, { stream }), { stream }), vt, { stream });
  const z = normal(out, dt, null, null, key, { stream });
  return add(m, squeeze(matmul(expandDims(z, -2, { stream }), root, { stream }), -2, { stream }), { stream });
}

/** `mx.random.truncatedNormal(lower, upper, shape, dtype, key)`: normal samples within [lower, upper]. */
export function truncatedNormal(lower: ArrayLike, upper: ArrayLike, shape?: ShapeLike | null, dtype: DTypeLike = float32, key?: Array | null, opts?: OpOptions): Array {
  const dt = floatDtype('truncatedNormal', dtype);
  const stream = toStream(opts?.stream);
  const [lo, hi] = promoteArgs([lower, upper], stream, dt);
  const s = shape === undefined || shape === null ? broadcastShapes('truncatedNormal', lo.shape, hi.shape) : toShape('truncatedNormal', shape);
  checkFits('truncatedNormal', s, lo.shape, hi.shape);
  const a = erf(divide(lo, SQRT2, { stream }), { stream });
  const b = erf(divide(hi, SQRT2, { stream }), { stream });
  const u = uniformFor('truncatedNormal', a, b, s, dt, key, stream);
  const out = multiply(erfinv(u, { stream }), SQRT2, { stream });
  return maximum(minimum(hi, out, { stream }), lo, { stream });
}

/** `mx.random.bernoulli(p, shape, key)`: booleans that are true with probability p. */
export function bernoulli(p: ArrayLike = 0.5, shape?: ShapeLike | null, key?: Array | null, opts?: OpOptions): Array {
  const stream = toStream(opts?.stream);
  const pa = isWeakScalar(p) ? promoteArgs([p], stream, float32)[0] : asArray(p, stream);
  if (!pa.dtype.isFloat) throw new TypeError(`[bernoulli] p must be a floating point array, got ${pa.dtype.name}`);
  const s = shape === undefined || shape === null ? [...pa.shape] : toShape('bernoulli', shape);
  checkFits('bernoulli', s, pa.shape);
  // Compare the bits with p scaled to [0, just above 2^32], so p >= 1 is always true.
  const threshold = multiply(astype(pa, promoteTypes(pa.dtype, float32)), 4294967808, { stream });
  return less(bitsFor('bernoulli', s, 4, key, stream), threshold, { stream });
}

/** `mx.random.randint(low, high, shape, dtype, key)`: integers in [low, high), all `low` where high <= low. */
export function randint(low: ArrayLike, high: ArrayLike, shape: ShapeLike = [], dtype: DTypeLike = int32, key?: Array | null, opts?: OpOptions): Array {
  const dt = toDtype(dtype, 'randint');
  if (dt.isFloat) throw new TypeError(`[randint] dtype must be an integer or bool dtype, got ${dt.name}`);
  const stream = toStream(opts?.stream);
  const s = toShape('randint', shape);
  // Bounds are truncated to integers; the raw bits are reduced modulo the range (as MLX).
  const lo64 = astype(asArray(low, stream), int64), hi64 = astype(asArray(high, stream), int64);
  checkFits('randint', s, broadcastShapes('randint', lo64.shape, hi64.shape));
  if (!dt.isBig) {
    // Ranges up to 2^32 and 32 random bits: int64 arithmetic is exact and runs on every backend.
    const range = where(lessEqual(hi64, lo64, { stream }), 1, subtract(hi64, lo64, { stream }), { stream });
    const offset = remainder(astype(bitsFor('randint', s, 4, key, stream), int64), range, { stream });
    return astype(add(lo64, offset, { stream }), dt);
  }
  const cmp = dt.kind === 'uint' ? uint64 : int64;
  const empty = lessEqual(astype(asArray(high, stream), cmp), astype(asArray(low, stream), cmp), { stream });
  const range = where(empty, 1, astype(subtract(hi64, lo64, { stream }), uint64), { stream });
  const [k1, k2] = key ? splitPair(checkKey('randint', key, stream), stream) : [null, null];
  const loBits = bitsFor('randint', s, 4, k1, stream), hiBits = bitsFor('randint', s, 4, k2, stream);
  const raw = bitwiseOr(leftShift(astype(hiBits, uint64), 32, { stream }), astype(loBits, uint64), { stream });
  return astype(add(astype(lo64, uint64), remainder(raw, range, { stream }), { stream }), dt);
}

/** `mx.random.gumbel(shape, dtype, key)`: standard Gumbel samples, -log(-log(u)). */
export function gumbel(shape: ShapeLike = [], dtype: DTypeLike = float32, key?: Array | null, opts?: OpOptions): Array {
  const stream = toStream(opts?.stream);
  const u = uniformFor('gumbel', 0, 1, shape, floatDtype('gumbel', dtype), key, stream);
  return negative(log(negative(log(u, { stream }), { stream }), { stream }), { stream });
}

/** `mx.random.laplace(shape, dtype, loc, scale, key)`: Laplace samples by the inverse CDF. */
export function laplace(shape: ShapeLike = [], dtype: DTypeLike = float32, loc = 0, scale = 1, key?: Array | null, opts?: OpOptions): Array {
  const dt = floatDtype('laplace', dtype);
  const stream = toStream(opts?.stream);
  const u = uniformFor('laplace', NEXT_BELOW_MINUS_ONE, 1, shape, float32, key, stream);
  const mag = negative(astype(abs(u, { stream }), promoteTypes(dt, float32)), { stream });
  let out = astype(multiply(sign(u, { stream }), log1p(mag, { stream }), { stream }), dt);
  if (scale !== 1) out = multiply(out, scale, { stream });
  if (loc !== 0) out = add(out, loc, { stream });
  return out;
}

/**
 * `mx.random.categorical(logits, axis, shape, numSamples, key)`: class indices sampled
 * from unnormalized log-probabilities, by the Gumbel-max trick.
 */
export function categorical(logits: ArrayLike, axis = -1, shape?: ShapeLike | null, numSamples?: number | null, key?: Array | null, opts?: OpOptions): Array {
  const stream = toStream(opts?.stream);
  let l = asArray(logits, stream);
  const ax = normAxis('categorical', axis, l.ndim);
  const given = (v: unknown) => v !== undefined && v !== null;
  if (given(shape) && given(numSamples)) throw new Error('[categorical] give at most one of shape and numSamples');
  let s: number[];
  if (given(numSamples)) {
    if (!Number.isInteger(numSamples) || numSamples! < 0) throw new Error(`[categorical] numSamples must be a non-negative integer, got ${numSamples}`);
    l = expandDims(l, -1, { stream });
    s = l.shape.filter((_, i) => i !== ax);
    s[s.length - 1] = numSamples!;
  } else {
    const reduced = l.shape.filter((_, i) => i !== ax);
    s = given(shape) ? toShape('categorical', shape!) : reduced;
    checkFits('categorical', s, reduced);
  }
  // The class axis goes where it lines up with the logits once they broadcast against s.
  const offset = ax + s.length - l.ndim + 1;
  const g = [...s];
  g.splice(offset, 0, l.shape[ax]);
  const noise = gumbel(g, float32, key, { stream });
  return argmax(add(noise, l, { stream }), offset, false, { stream });
}

/**
 * `mx.random.permutation(x, axis, key)`: a random permutation of arange(x) for an integer x,
 * else x shuffled along `axis`.
 */
export function permutation(x: ArrayLike | number, axis = 0, key?: Array | null, opts?: OpOptions): Array {
  const stream = toStream(opts?.stream);
  const order = (n: number) => argsort(bitsFor('permutation', [n], 4, key, stream), -1, { stream });
  if (typeof x === 'number') {
    if (!Number.isInteger(x) || x < 0) throw new Error(`[permutation] expected a non-negative integer or an array, got ${x}`);
    return order(x);
  }
  const a = asArray(x, stream);
  const ax = normAxis('permutation', axis, a.ndim);
  return take(a, order(a.shape[ax]), ax, { stream });
}
