// Randomized differential test: a few thousand cases drawn with a fixed seed (random dtypes,
// broadcast shapes, axes), checked against NumPy running live (scripts/differential.py, one
// process for the whole batch). Only ops that exist are drawn. Same seed, same cases.
// Every deterministic op of the [core] op list appears; ops whose result is not unique
// (partition, topk) are checked through a property that makes it unique.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as mx from '../src/index.js';
import { Encoded, decodeValue, tolerance } from './util.js';

const SEED = Number(process.env.DIFF_SEED ?? 20251126); // DIFF_SEED explores other draws
const ops = mx as unknown as Record<string, (...a: unknown[]) => unknown>;
/** The op a case calls: a name of mx, or a dotted path ('linalg.inv'). */
const opFn = (name: string) => name.split('.').reduce<unknown>((o, k) => (o as Record<string, unknown> | undefined)?.[k], ops) as ((...a: unknown[]) => unknown) | undefined;
const has = (name: string) => typeof opFn(name) === 'function';
const script = join(dirname(fileURLToPath(import.meta.url)), '..', 'scripts', 'differential.py');

// ---------------------------------------------------------------- seeded draws

let state = SEED;
function rand(): number { // mulberry32
  state = (state + 0x6d2b79f5) | 0;
  let t = Math.imul(state ^ (state >>> 15), 1 | state);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const int = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];
const normal = () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());

const FLOATS = ['float32', 'float16', 'bfloat16', 'float64'] as const;
const INTS = ['int8', 'int16', 'int32', 'int64', 'uint8', 'uint16', 'uint32', 'uint64'] as const;
const NUMERIC = [...FLOATS, ...INTS];
type Domain = 'any' | 'positive' | 'aboveOne' | 'nonzero' | 'small' | 'unit' | 'exponent';

function shape(maxNd = 4, maxDim = 5): number[] {
  return Array.from({ length: int(0, maxNd) }, () => (rand() < 0.05 ? 0 : rand() < 0.2 ? 1 : int(2, maxDim)));
}
/** A shape that broadcasts with s: some axes become 1, some leading axes are dropped. */
function partner(s: number[]): number[] {
  const out = s.map((d) => (rand() < 0.3 ? 1 : d));
  return out.slice(int(0, Math.min(2, out.length)));
}

function values(dtype: string, n: number, domain: Domain, special: boolean): (number | bigint | boolean)[] {
  return Array.from({ length: n }, () => {
    if (dtype === 'bool') return rand() < 0.5;
    if (FLOATS.includes(dtype as never)) {
      if (special && rand() < 0.08) return pick([NaN, Infinity, -Infinity]);
      const v = normal() * 3;
      return domain === 'positive' ? Math.abs(v) + 0.1 : domain === 'aboveOne' ? Math.abs(v) + 1 : domain === 'small' ? 0.5 + rand() : domain === 'unit' ? rand() * 1.8 - 0.9
        : domain === 'exponent' ? rand() * 4 - 2
        : domain === 'nonzero' && Math.abs(v) < 0.1 ? 1 : v;
    }
    const unsigned = dtype.startsWith('u');
    let v = domain === 'small' ? int(unsigned ? 0 : -3, 3) : domain === 'exponent' ? int(0, 3) : unsigned ? int(0, 40) : int(-20, 20);
    if (domain === 'positive' || domain === 'aboveOne') v = Math.abs(v) + 1;
    if (domain === 'nonzero' && v === 0) v = 3;
    return dtype.endsWith('64') ? BigInt(v) : v;
  });
}

// With the GPU as the default device (npm run test:gpu) the same cases are drawn; float64
// inputs are made on the CPU (the GPU refuses them) and their cases skipped and counted.
const onGpu = mx.defaultDevice().type === 'gpu';
const usesFloat64 = (a: unknown): boolean => a === 'float64' || (a instanceof mx.Array && a.dtype === mx.float64) || (Array.isArray(a) && a.some(usesFloat64));
const isFloat64Refusal = (e: unknown) => onGpu && e instanceof Error && /float64 is not supported on the GPU/.test(e.message);

/** mx.array of host values; float64 on the CPU when the GPU is the default device. */
function hostArray(vals: unknown, dtype: string, s: number[]): mx.Array {
  const opts = onGpu && dtype === 'float64' ? { stream: mx.cpu } : undefined;
  return mx.reshape(mx.array(vals as never, dtype as mx.DTypeName, opts), s, opts);
}

function makeArray(dtype: string, s: number[], domain: Domain = 'any', special = false): mx.Array {
  return hostArray(values(dtype, s.reduce((a, b) => a * b, 1), domain, special), dtype, s);
}

/** The array as the NumPy side reads it: the values lathe actually stores. */
function encode(a: mx.Array): Encoded {
  const data = Array.from(a.dataSync() as ArrayLike<number | bigint>, (v) =>
    typeof v === 'bigint' ? v.toString() : a.dtype === mx.bool ? v !== 0 : Number.isNaN(v) ? 'nan' : v === Infinity ? 'inf' : v === -Infinity ? '-inf' : v);
  return { dtype: a.dtype.name, shape: [...a.shape], data };
}

// ---------------------------------------------------------------- cases

interface Case { op: string; args: unknown[]; npArgs: unknown[]; run: () => unknown; label: string }
const cases: Case[] = [];
const describeArg = (a: unknown): string =>
  a instanceof mx.Array ? `${a.dtype.name}${JSON.stringify(a.shape)}` : a instanceof mx.IndexSlice ? String(a)
    : Array.isArray(a) && a.some(holdsArrays) ? `[${a.map(describeArg).join(', ')}]` : JSON.stringify(a);
const describe = (op: string, args: unknown[]) => `${op}(${args.map(describeArg).join(', ')})`;
/** What the NumPy side gets instead of `args`, and the op whose presence the case needs. */
interface Extra { np?: unknown[]; uses?: string }
function add(op: string, args: unknown[], run: () => unknown = () => opFn(op)!(...args), extra: Extra = {}): void {
  const uses = extra.uses ?? op;
  if (!has(uses) && uses !== 'repr') return;
  cases.push({ op, args, npArgs: extra.np ?? args, run, label: `#${cases.length} ${describe(op, args)}` });
}

const holdsArrays = (a: unknown): boolean => a instanceof mx.Array || a instanceof mx.IndexSlice || (Array.isArray(a) && a.some(holdsArrays));
/** An argument as scripts/differential.py reads it: arrays encoded, slices as {slice}, lists holding either as lists, the rest as {value}. */
function encodeArg(a: unknown): unknown {
  if (a instanceof mx.Array) return encode(a);
  if (a instanceof mx.IndexSlice) return { slice: [a.start, a.stop, a.step] };
  if (Array.isArray(a) && a.some(holdsArrays)) return a.map(encodeArg);
  return { value: a };
}

const UNARY_FLOAT: Record<string, Domain> = { exp: 'unit', log: 'positive', sqrt: 'positive', sin: 'any', cos: 'any', tanh: 'any', arctan: 'any', log1p: 'positive', expm1: 'unit', reciprocal: 'nonzero', rsqrt: 'positive', sigmoid: 'any', log2: 'positive' };
const UNARY_SAME = ['abs', 'negative', 'square', 'sign', 'floor', 'ceil'];
const BINARY: Record<string, { domain: Domain; special: boolean; floatOnly?: boolean }> = {
  add: { domain: 'any', special: true }, subtract: { domain: 'any', special: true }, multiply: { domain: 'any', special: true },
  maximum: { domain: 'any', special: true }, minimum: { domain: 'any', special: true }, divide: { domain: 'nonzero', special: false },
  floorDivide: { domain: 'nonzero', special: false }, remainder: { domain: 'nonzero', special: false },
  power: { domain: 'small', special: false }, arctan2: { domain: 'any', special: true, floatOnly: true },
  logaddexp: { domain: 'any', special: false, floatOnly: true },
  equal: { domain: 'small', special: true }, notEqual: { domain: 'small', special: true }, less: { domain: 'any', special: true },
  lessEqual: { domain: 'small', special: true }, greater: { domain: 'any', special: true }, greaterEqual: { domain: 'small', special: true },
};
const REDUCE = ['sum', 'prod', 'max', 'min', 'mean', 'variance', 'std', 'logsumexp', 'argmax', 'argmin', 'all', 'any'];

for (let i = 0; i < 36; i++) for (const [op, domain] of Object.entries(UNARY_FLOAT)) add(op, [makeArray(pick([...FLOATS, 'int32']), shape(), domain)]);
for (let i = 0; i < 30; i++) for (const op of UNARY_SAME) add(op, [makeArray(pick(NUMERIC), shape(), 'any', i % 2 === 0)]);
for (let i = 0; i < 30; i++) {
  for (const [op, def] of Object.entries(BINARY)) {
    const s = shape();
    const [da, db] = def.floatOnly ? [pick(FLOATS), pick(FLOATS)] : rand() < 0.5 ? [pick(NUMERIC), pick(NUMERIC)] : (() => { const d = pick(NUMERIC); return [d, d]; })();
    const [sa, sb] = rand() < 0.5 ? [s, partner(s)] : [partner(s), s];
    const firstDomain = def.domain === 'nonzero' ? 'any' : def.domain;
    add(op, [makeArray(da, sa, firstDomain, def.special), makeArray(db, sb, op === 'power' ? 'exponent' : def.domain, def.special)]);
  }
}
for (let i = 0; i < 15; i++) {
  const s = shape();
  add('where', [makeArray('bool', partner(s)), makeArray(pick(NUMERIC), s, 'any', true), makeArray(pick(NUMERIC), partner(s))]);
}
for (let i = 0; i < 30; i++) {
  for (const op of REDUCE) {
    const s = shape(4, 5);
    const dtype = op === 'all' || op === 'any' ? pick(['bool', ...NUMERIC]) : pick(NUMERIC);
    const x = makeArray(dtype, s, op === 'prod' ? 'small' : 'any');
    const nd = s.length;
    const axes = [...Array(nd).keys()].filter(() => rand() < 0.5);
    let axis: number | number[] | null = rand() < 0.3 || nd === 0 ? null : axes.length === 1 && rand() < 0.5 ? axes[0] - (rand() < 0.5 ? nd : 0) : axes;
    if (Array.isArray(axis) && axis.length === 0) axis = null;
    if (op === 'argmax' || op === 'argmin') axis = nd && rand() < 0.8 ? int(-nd, nd - 1) : null;
    const reduced = axis === null ? s : (Array.isArray(axis) ? axis : [axis]).map((a) => s[a < 0 ? a + nd : a]);
    if (['max', 'min', 'argmax', 'argmin'].includes(op) && reduced.includes(0)) continue; // no identity: an error
    add(op, [x, axis, rand() < 0.5]);
  }
}
for (let i = 0; i < 60; i++) {
  const [m, k, n] = [int(1, 6), int(1, 7), int(1, 6)];
  const batch = shape(2, 3);
  const dt = pick(['float32', 'float64', 'float16', 'bfloat16']);
  const kind = pick(['2d', 'batch', 'vec-left', 'vec-right']);
  const a = kind === 'vec-left' ? [k] : kind === 'batch' ? [...partner(batch), m, k] : [m, k];
  const b = kind === 'vec-right' ? [k] : kind === 'batch' ? [...batch, k, n] : [k, n];
  add('matmul', [makeArray(dt, a), makeArray(rand() < 0.8 ? dt : pick(FLOATS), b)]);
}
for (let i = 0; i < 12; i++) {
  const s = shape(4, 4);
  const nd = s.length;
  const perm = [...Array(nd).keys()].sort(() => rand() - 0.5);
  add('transpose', [makeArray(pick(NUMERIC), s), perm]);
  const size = s.reduce((a, b) => a * b, 1);
  const dims = size % 2 === 0 && size > 0 && rand() < 0.6 ? [2, size / 2] : rand() < 0.5 ? [size] : [1, size, 1];
  if (size > 0 && rand() < 0.5) dims[int(0, dims.length - 1)] = -1;
  add('reshape', [makeArray(pick(NUMERIC), s), dims]);
  if (nd >= 1) {
    add('swapaxes', [makeArray(pick(NUMERIC), s), int(-nd, nd - 1), int(-nd, nd - 1)]);
    add('moveaxis', [makeArray(pick(NUMERIC), s), int(-nd, nd - 1), int(-nd, nd - 1)]);
    const ax = int(0, nd - 1);
    const other = s.map((d, j) => (j === ax ? int(0, 3) : d));
    add('concatenate', [[makeArray(pick(NUMERIC), s), makeArray(pick(NUMERIC), other)], ax - (rand() < 0.5 ? nd : 0)]);
    add('cumsum', [makeArray(pick(NUMERIC), s), int(-nd, nd - 1)]);
  }
}
for (let i = 0; i < 15; i++) {
  for (const op of ['bitwiseAnd', 'bitwiseOr', 'bitwiseXor', 'logicalAnd', 'logicalOr']) {
    const s = shape();
    // uint64 with a signed integer promotes to float32 (MLX's table): not a bitwise case.
    const kinds = op.startsWith('logical') ? [...NUMERIC, 'bool'] : [...INTS.filter((d) => d !== 'uint64'), 'bool'];
    add(op, [makeArray(pick(kinds), s), makeArray(pick(kinds), partner(s))]);
  }
  const s = shape(3, 5).map((d) => d || 1);
  const nd = s.length;
  const x = () => makeArray(pick(NUMERIC), s);
  if (nd) {
    const ax = int(0, nd - 1);
    const idx = mx.array(Array.from({ length: int(0, 6) }, () => int(0, s[ax] - 1)), mx.int32);
    add('take', [x(), mx.reshape(idx, rand() < 0.5 ? [idx.size] : [1, idx.size]), ax - (rand() < 0.5 ? nd : 0)]);
    add('repeat', [x(), int(0, 3), ax]);
    add('roll', [x(), int(-7, 7), rand() < 0.5 ? ax : null]);
    add('expandDims', [x(), int(-nd - 1, nd)]);
    add('flatten', [x(), 0, -1]);
    add('sort', [makeArray(pick(FLOATS.filter((d) => d !== 'bfloat16' && d !== 'float16')), s), ax]);
    add('argsort', [makeArray('float64', s), ax - nd]);
    add('squeeze', [makeArray(pick(NUMERIC), [...s, 1]), -1]);
    add('pad', [x(), s.map(() => [int(0, 2), int(0, 2)])]);
    add('stack', [[x(), x(), x()], int(-nd - 1, nd)]);
  }
  const clipped = pick(NUMERIC);
  add('clip', [makeArray(clipped, s), clipped.startsWith('u') ? 2 : -2, 30]);
  add('softmax', [makeArray(pick(FLOATS), s), nd ? -1 : null]);
  add('tile', [x(), Array.from({ length: int(1, 3) }, () => int(1, 3))]);
  if (nd >= 2) add('diagonal', [x(), int(-2, 2), 0, nd - 1]);
}
for (let i = 0; i < 20; i++) {
  const dt = pick([...FLOATS.filter((d) => d !== 'bfloat16'), ...INTS, 'bool']);
  const s = i < 2 ? [pick([1200, 40]), ...(i === 1 ? [40] : [])] : shape(3, 6);
  const x = makeArray(dt, s, pick(['any', 'small', 'positive']), rand() < 0.3);
  add('repr', [x], () => x.toString());
}

// ---------------------------------------------------------------- more unary and binary ops

const SIGNED = ['int8', 'int16', 'int32', 'int64'] as const;
const nonEmpty = (maxNd = 3, maxDim = 5) => shape(maxNd, maxDim).map((d) => d || 1);
const numbers = (a: mx.Array): number[] => Array.from(a.dataSync() as ArrayLike<number | bigint>, Number);
const MORE_UNARY: Record<string, Domain> = {
  log10: 'positive', tan: 'any', arcsin: 'unit', arccos: 'unit', sinh: 'any', cosh: 'any', arcsinh: 'any',
  arccosh: 'aboveOne', arctanh: 'unit', erf: 'any', erfinv: 'unit', degrees: 'any', radians: 'any',
};
for (let i = 0; i < 16; i++) for (const [op, domain] of Object.entries(MORE_UNARY)) add(op, [makeArray(pick([...FLOATS, 'int32']), shape(), domain)]);
for (let i = 0; i < 12; i++) {
  for (const op of ['isnan', 'isinf', 'isfinite', 'isposinf', 'isneginf', 'logicalNot', 'stopGradient'])
    add(op, [makeArray(pick(op === 'stopGradient' ? NUMERIC : [...NUMERIC, 'bool']), shape(), 'any', true)]);
  add('bitwiseInvert', [makeArray(pick([...INTS, 'bool']), shape())]);
  const rd = pick(NUMERIC);
  add('round', [makeArray(rd, shape(), 'any', rd.startsWith('float') && rand() < 0.3), int(rd.startsWith('float') ? -2 : -1, 3)]);
  add('nanToNum', [makeArray(pick(FLOATS), shape(), 'any', true), pick([0, 1.5, -2]), pick([null, 100, 1e5]), pick([null, -7.5, -1e5])]);
  for (const op of ['leftShift', 'rightShift']) {
    const s = shape();
    const kinds = [...INTS.filter((d) => d !== 'uint64'), 'bool'];
    add(op, [makeArray(pick(kinds), s), makeArray(pick(kinds), partner(s), 'exponent')]);
  }
}

/** b near a: equal, well inside the tolerance (1e-2, 1e-3 or the defaults), well outside it, or special. */
function closePair(): [mx.Array, mx.Array] {
  const kinds = [...FLOATS, 'int32'];
  const da = pick(kinds), db = rand() < 0.5 ? da : pick(kinds);
  const s = shape(3, 4);
  const a = makeArray(da, s, 'any', true);
  const tol = (v: number) => 1e-3 + 1e-2 * Math.abs(v);
  const b = numbers(a).map((v) => {
    const r = rand(), sign = rand() < 0.5 ? -1 : 1;
    if (!Number.isFinite(v)) return r < 0.6 ? v : pick([NaN, Infinity, -Infinity, 1]);
    return r < 0.3 ? v : r < 0.6 ? v + sign * 0.1 * tol(v) : r < 0.9 ? v + sign * 10 * tol(v) : normal();
  });
  const bv = db === 'int32' ? b.map((v) => (Number.isFinite(v) ? Math.round(v) : 0)) : b;
  return [a, hostArray(bv, db, s)];
}
for (let i = 0; i < 30; i++) {
  const [a, b] = closePair();
  const [rtol, atol] = rand() < 0.5 ? [1e-2, 1e-3] : [1e-5, 1e-8];
  add('isclose', [a, b, rtol, atol, rand() < 0.5]);
  if (i % 2 === 0) add('allclose', [a, b, rtol, atol, rand() < 0.5]);
  const other = rand() < 0.2 ? makeArray(b.dtype.name, partner(b.shape as number[])) : rand() < 0.5 ? a : b;
  add('arrayEqual', [a, rand() < 0.5 ? mx.astype(a, pick([...FLOATS, 'int32'])) : other, rand() < 0.5]);
}

// ---------------------------------------------------------------- reductions with ddof, scans

for (let i = 0; i < 20; i++) {
  const s = nonEmpty(3, 5);
  const nd = s.length;
  const axis = nd && rand() < 0.7 ? int(-nd, nd - 1) : null;
  const n = axis === null ? s.reduce((p, d) => p * d, 1) : s[axis < 0 ? axis + nd : axis];
  const ddof = int(0, Math.min(2, n - 1));
  for (const op of ['variance', 'std']) add(op, [makeArray(pick(NUMERIC), s), axis, rand() < 0.5, ddof]);
}
const SCANS: Record<string, { dtypes: readonly string[]; domain: Domain; special: boolean }> = {
  cumsum: { dtypes: [...NUMERIC, 'bool'], domain: 'any', special: true },
  cumprod: { dtypes: [...NUMERIC, 'bool'], domain: 'small', special: false },
  cummax: { dtypes: [...NUMERIC, 'bool'], domain: 'any', special: true },
  cummin: { dtypes: [...NUMERIC, 'bool'], domain: 'any', special: true },
  logcumsumexp: { dtypes: [...FLOATS, 'int32'], domain: 'any', special: true },
};
for (let i = 0; i < 24; i++) {
  for (const [op, def] of Object.entries(SCANS)) {
    const s = shape(3, 5);
    const nd = s.length;
    add(op, [makeArray(pick(def.dtypes), s, def.domain, def.special), nd && rand() < 0.8 ? int(-nd, nd - 1) : null, rand() < 0.5, rand() < 0.6]);
  }
}

// ---------------------------------------------------------------- shapes

for (let i = 0; i < 12; i++) {
  const s = nonEmpty(3, 6);
  const nd = s.length;
  const x = () => makeArray(pick([...NUMERIC, 'bool']), s);
  if (nd) {
    const ax = int(0, nd - 1), d = s[ax];
    const f = [1, 2, 3].filter((k) => d % k === 0).pop()!;
    const parts = rand() < 0.5 ? [f, d / f] : [d / f, 1, f];
    if (rand() < 0.4) parts[int(0, parts.length - 1)] = -1;
    add('unflatten', [x(), ax - (rand() < 0.5 ? nd : 0), parts]);
    const k = [1, 2, 3].filter((q) => d % q === 0);
    add('split', [x(), rand() < 0.5 ? pick(k) : [int(0, d), int(0, d)].sort((p, q) => p - q), ax - (rand() < 0.5 ? nd : 0)]);
  }
  const target = [...(rand() < 0.5 ? [int(1, 3)] : []), ...s];
  add('broadcastTo', [makeArray(pick(NUMERIC), partner(s)), target]);
  add('broadcastArrays', [[makeArray(pick(NUMERIC), partner(s)), makeArray(pick(NUMERIC), s), makeArray('bool', partner(s))]]);
  for (const op of ['atleast1d', 'atleast2d', 'atleast3d']) add(op, [makeArray(pick(NUMERIC), shape(4, 3))]);
  add('diag', [makeArray(pick(NUMERIC), [int(0, 4)]), int(-2, 2)]);
  add('diag', [makeArray(pick(NUMERIC), [int(1, 4), int(1, 4)]), int(-2, 2)]);
  if (nd >= 2) {
    const a1 = int(0, nd - 1), a2 = (a1 + int(1, nd - 1)) % nd;
    add('trace', [makeArray(pick([...NUMERIC, 'bool']), s), int(-2, 2), a1 - (rand() < 0.5 ? nd : 0), a2, pick([null, 'float32', 'float64'])]);
  }
  const edge = rand() < 0.5;
  add('pad', [makeArray(pick(NUMERIC), s), s.map(() => [int(0, 2), int(0, 2)]), edge ? 'edge' : 'constant', edge ? 0 : pick([0, 1, 2.5, 7])]);
}

// ---------------------------------------------------------------- indexing

const idxValues = (n: number, count: number, lo = -n, hi = n - 1) => Array.from({ length: count }, () => int(lo, hi));
/** Distinct positions in [0, n), some written as negative indices. */
function distinct(n: number, count: number): number[] {
  const all = [...Array(n).keys()];
  for (let i = n - 1; i > 0; i--) { const j = int(0, i); [all[i], all[j]] = [all[j], all[i]]; }
  return all.slice(0, count).map((v) => (rand() < 0.3 ? v - n : v));
}
/** A dtype for values written into an array of dtype dt: floats never go into unsigned integers (a C cast leaves negative ones undefined). */
const valueDtype = (dt: string) => pick(dt.startsWith('u') ? [...INTS, 'bool'] : NUMERIC);
const indexArray = (vals: number[], shp: number[]) => mx.reshape(mx.array(vals, pick(['int32', 'int64', 'uint8'].filter((d) => d !== 'uint8' || vals.every((v) => v >= 0))) as mx.DTypeName), shp);

for (let i = 0; i < 16; i++) {
  const s = nonEmpty(3, 5);
  const nd = s.length;
  if (!nd) continue;
  const dt = pick([...NUMERIC, 'bool']);
  const x = makeArray(dt, s);
  const axes = [...Array(nd).keys()].filter(() => rand() < 0.6).map((a) => (rand() < 0.3 ? a - nd : a));
  const norm = (a: number) => (a < 0 ? a + nd : a);
  const sizes = s.map((d) => int(0, d));
  const starts = axes.map((a) => int(-s[norm(a)] - 2, s[norm(a)] + 2));
  const dynamic = rand() < 0.5 && axes.length > 0;
  const startArg = dynamic ? mx.array(starts, pick(['int32', 'int64']) as mx.DTypeName) : starts;
  add('slice', [x, startArg, axes, sizes]);
  const ushape = s.map((d) => int(0, d));
  add('sliceUpdate', [x, makeArray(valueDtype(dt), ushape), startArg, axes]);

  // takeAlongAxis / putAlongAxis (one line per position of the other axes)
  const ax = int(0, nd - 1);
  const m = int(0, 4);
  const ishape = s.map((d, j) => (j === ax ? m : rand() < 0.3 ? 1 : d));
  const flatIdx = idxValues(s[ax], ishape.reduce((p, d) => p * d, 1));
  add('takeAlongAxis', [x, indexArray(flatIdx, ishape), ax - (rand() < 0.5 ? nd : 0)]);
  if (rand() < 0.3) add('takeAlongAxis', [x, indexArray(idxValues(x.size, int(0, 6)), [-1]), null]);
  const k = int(0, s[ax]);
  const pshape = s.map((d, j) => (j === ax ? k : rand() < 0.3 ? 1 : d));
  const lines = pshape.reduce((p, d, j) => (j === ax ? p : p * d), 1);
  // Distinct indices along the axis in every line: duplicate writes have no order in NumPy.
  const perLine = Array.from({ length: lines }, () => distinct(s[ax], k));
  const before = pshape.slice(0, ax).reduce((p, d) => p * d, 1), after = lines / before;
  const pvals: number[] = [];
  for (let o = 0; o < before; o++) for (let j = 0; j < k; j++) for (let q = 0; q < after; q++) pvals.push(perLine[o * after + q][j]);
  const values = rand() < 0.3 ? pick([3, 0]) : makeArray(valueDtype(dt), pshape);
  add('putAlongAxis', [x, indexArray(pvals, pshape), values, ax]);
}

const SCATTERS: Record<string, Domain> = { scatter: 'any', scatterAdd: 'any', scatterProd: 'small', scatterMax: 'any', scatterMin: 'any' };
for (let i = 0; i < 14; i++) {
  for (const [op, domain] of Object.entries(SCATTERS)) {
    const s = nonEmpty(3, 5);
    const nd = s.length;
    if (!nd) continue;
    const dt = pick(NUMERIC);
    const x = makeArray(dt, s, domain);
    const axes = [...Array(nd).keys()].filter(() => rand() < 0.5);
    if (!axes.length) axes.push(int(0, nd - 1));
    const ishape = pick([[int(1, 4)], [2, int(1, 3)], []]);
    const count = ishape.reduce((p, d) => p * d, 1);
    const idx = axes.map((a) => indexArray(idxValues(s[a], count, -s[a] - 1, s[a]), ishape));
    const window = s.map((d, j) => (axes.includes(j) ? (rand() < 0.8 ? 1 : Math.min(2, d)) : rand() < 0.7 ? d : int(1, d)));
    const ushape = [...ishape.map((d) => (rand() < 0.2 ? 1 : d)), ...window];
    const single = axes.length === 1 && rand() < 0.5;
    add(op, [x, single ? idx[0] : idx, makeArray(valueDtype(dt), ushape, domain), single ? axes[0] - (rand() < 0.5 ? nd : 0) : axes]);
  }
}

for (let i = 0; i < 20; i++) {
  const [da, dv] = [pick(NUMERIC), rand() < 0.5 ? pick(NUMERIC) : null];
  const sorted = mx.sort(makeArray(da, [int(0, 8)], 'small', rand() < 0.3));
  add('searchsorted', [sorted, makeArray(dv ?? da, shape(2, 4), 'small', rand() < 0.3), pick(['left', 'right'])]);
}

/** A random NumPy-style index for shape s; `unique` keeps index-array positions distinct (for writes). */
function randomIndex(s: number[], unique: boolean): unknown[] {
  const nd = s.length;
  const used = int(Math.max(0, nd - 2), nd);
  const ashape = pick([[int(1, 3)], [2, int(1, 2)], [1]]);
  const out: unknown[] = [];
  let ellipsis = rand() < 0.3 && used < nd;
  for (let a = 0, taken = 0; taken < used; a++) {
    if (rand() < 0.1) out.push(null);
    if (ellipsis && rand() < 0.5) { out.push('...'); ellipsis = false; a = nd - (used - taken); }
    const n = s[a], r = rand();
    if (r < 0.25) out.push(int(-n, n - 1));
    else if (r < 0.6) out.push(mx.s(pick([null, int(-n - 1, n + 1)]), pick([null, int(-n - 1, n + 1)]), pick([null, 1, 2, -1, -2])));
    else {
      const size = ashape.reduce((p, d) => p * d, 1);
      const shp = unique && size > n ? [1] : ashape;
      const vals = unique ? distinct(n, shp.reduce((p, d) => p * d, 1)) : idxValues(n, size);
      out.push(rand() < 0.3 && shp.length === 1 ? vals : indexArray(vals, shp));
    }
    taken++;
  }
  if (ellipsis) out.push('...');
  return out;
}
for (let i = 0; i < 40; i++) {
  const s = nonEmpty(3, 5);
  if (!s.length) continue;
  const x = makeArray(pick([...NUMERIC, 'bool']), s);
  const ix = randomIndex(s, false);
  add('index', [x, ...ix]);
  const uix = randomIndex(s, true);
  const target = [...mx.index(x, ...(uix as mx.Index[])).shape];
  const udt = pick(NUMERIC);
  const ux = makeArray(udt, s);
  const value = rand() < 0.3 ? pick([2, 0]) : makeArray(valueDtype(udt), target.slice(int(0, Math.min(1, target.length))));
  add('indexUpdate', [ux, uix, value]);
  add('indexAdd', [ux, ix, rand() < 0.3 ? 2 : makeArray(valueDtype(udt), [...mx.index(ux, ...(ix as mx.Index[])).shape])]);
}

// ---------------------------------------------------------------- partition, topk (checked through sorting)

/** Sorting both sides of the kth element gives the sorted array exactly when `p` is partitioned around kth. */
function partitionProbe(p: mx.Array, kth: number, axis: number): mx.Array {
  const n = p.shape[axis < 0 ? axis + p.ndim : axis];
  const k = kth < 0 ? kth + n : kth;
  const [lo, mid, hi] = mx.split(p, [k, k + 1], axis);
  return mx.concatenate([mx.sort(lo, axis), mid, mx.sort(hi, axis)], axis);
}
for (let i = 0; i < 20; i++) {
  const s = nonEmpty(3, 6);
  if (!s.length) continue;
  const nd = s.length, ax = int(-nd, nd - 1), n = s[ax < 0 ? ax + nd : ax];
  const x = makeArray(pick(NUMERIC), s, pick(['any', 'small']));
  const kth = int(-n, n - 1);
  add('partition', [x, ax], () => partitionProbe(mx.partition(x, kth, ax), kth, ax), { np: [x, ax] });
  add('argpartition', [x, ax], () => partitionProbe(mx.takeAlongAxis(x, mx.argpartition(x, kth, ax), ax), kth, ax), { np: [x, ax] });
  add('argpartitionIndices', [x, ax], () => mx.sort(mx.argpartition(x, kth, ax), ax), { uses: 'argpartition' });
  const k = int(0, n);
  add('topk', [x, k, ax], () => mx.sort(mx.topk(x, k, ax), ax));
}

// ---------------------------------------------------------------- linear algebra

const HALF_OR_FULL = ['float32', 'float64', 'float16', 'bfloat16'] as const;
for (let i = 0; i < 16; i++) {
  const dt = pick(HALF_OR_FULL);
  const [m, k, n] = [int(1, 5), int(1, 6), int(1, 5)];
  const batch = rand() < 0.3 ? [int(1, 3)] : [];
  add('addmm', [makeArray(dt, pick([[n], [m, n], [1, n], [...batch, m, n]])), makeArray(dt, [...batch, m, k]), makeArray(pick(HALF_OR_FULL), [k, n]), pick([1, 0.5, -2]), pick([1, 0, 1.5])]);
  add('outer', [makeArray(dt, shape(2, 4)), makeArray(pick(HALF_OR_FULL), shape(2, 4))]);
  const kk = int(1, 5);
  add('inner', rand() < 0.15 ? [makeArray(dt, []), makeArray(dt, shape(2, 3))] : [makeArray(dt, [...shape(2, 3), kk]), makeArray(pick(HALF_OR_FULL), [...shape(1, 3), kk])]);
  const [p, q, r] = [int(1, 4), int(1, 4), int(1, 4)];
  const td = pick([0, 1, 2, 'lists'] as const);
  if (td === 'lists') add('tensordot', [makeArray(dt, [p, q, r]), makeArray(dt, [r, 2, p]), [[0, -1], [2, 0]]]);
  else if (td === 2) add('tensordot', [makeArray(dt, [int(1, 3), p, q]), makeArray(dt, [p, q, int(1, 3)]), 2]);
  else if (td === 1) add('tensordot', [makeArray(dt, [int(1, 3), p]), makeArray(dt, [p, q]), 1]);
  else add('tensordot', [makeArray(dt, [p]), makeArray(dt, [q, r]), 0]);
}
const EINSUMS: [string, (d: number[]) => number[][]][] = [
  ['ij,jk->ik', ([a, b, c]) => [[a, b], [b, c]]], ['ij->ji', ([a, b]) => [[a, b]]], ['ii->i', ([a]) => [[a, a]]],
  ['ii', ([a]) => [[a, a]]], ['ij,ij->', ([a, b]) => [[a, b], [a, b]]], ['bij,bjk->bik', ([a, b, c, d]) => [[a, b, c], [a, c, d]]],
  ['...ij,...jk->...ik', ([a, b, c]) => [[2, a, b], [b, c]]], ['i,j->ij', ([a, b]) => [[a], [b]]], ['ijk->kj', ([a, b, c]) => [[a, b, c]]],
  ['ij,jk,kl->il', ([a, b, c, d]) => [[a, b], [b, c], [c, d]]], ['ij,j', ([a, b]) => [[a, b], [b]]], ['iij->j', ([a, b]) => [[a, a, b]]],
];
for (let i = 0; i < 24; i++) {
  const [sub, shapes] = EINSUMS[i % EINSUMS.length];
  const dt = pick(HALF_OR_FULL);
  const operands = shapes([int(1, 4), int(1, 4), int(1, 4), int(1, 4)]).map((s) => makeArray(dt, s));
  add('einsum', [sub, ...operands]);
}
for (let i = 0; i < 30; i++) {
  const nd = int(1, 3);
  const s = Array.from({ length: nd }, () => int(1, 4));
  const dt = pick([...FLOATS, 'int32']);
  const x = makeArray(dt, s, 'nonzero');
  const half = dt === 'float16' || dt === 'bfloat16';
  const kind = pick(['all', 'vector', 'matrix']);
  let ord: number | string | null = null, axis: number | number[] | null = null;
  if (kind === 'vector') { ord = pick([null, 0, 1, 2, Infinity, -Infinity, 3, -1]); axis = int(-nd, nd - 1); }
  if (kind === 'matrix' && nd >= 2) {
    ord = pick(half ? ['fro', 1, -1, Infinity, -Infinity] : ['fro', 'nuc', 1, -1, 2, -2, Infinity, -Infinity]);
    const a1 = int(0, nd - 1);
    axis = [a1, (a1 + int(1, nd - 1)) % nd];
  }
  const keepdims = rand() < 0.5;
  const npOrd = ord === Infinity ? 'inf' : ord === -Infinity ? '-inf' : ord;
  add('norm', [x, ord, axis, keepdims], undefined, { np: [x, npOrd, axis, keepdims] });
}

// ---------------------------------------------------------------- astype, view

const ALL = [...NUMERIC, 'bool'] as const;
const sizeOf = (d: string) => mx.dtypes[d as mx.DTypeName].size;
for (let i = 0; i < 40; i++) {
  const [src, dst] = [pick(ALL), pick(ALL)];
  const toInt = !dst.startsWith('float') && dst !== 'bool';
  const domain: Domain = src.startsWith('float') && toInt ? (dst.startsWith('u') ? 'positive' : 'any') : 'any';
  add('astype', [makeArray(src, shape(), domain, !toInt), dst]);
  const last = (8 / sizeOf(src)) * int(0, 2);
  const vs = sizeOf(src) === sizeOf(dst) && rand() < 0.2 ? [] : [...shape(2, 3), last];
  add('view', [makeArray(src, vs), dst]);
}

// ---------------------------------------------------------------- convolutions

function convCase(d: number, transpose: boolean): void {
  const dt = pick(['float32', 'float64', 'float32', 'float16', 'bfloat16']);
  const groups = pick([1, 1, 2]);
  const cig = int(1, 2), cog = int(1, 2);
  const K = Array.from({ length: d }, () => int(1, 3));
  const stride = Array.from({ length: d }, () => int(1, 2));
  const dil = Array.from({ length: d }, () => int(1, 2));
  const pad = K.map((k, j) => int(0, transpose ? (dil[j] * (k - 1)) >> 1 : 2)); // a transposed output keeps at least one position
  const L = K.map((k, j) => int(Math.max(1, dil[j] * (k - 1) + 1 - 2 * pad[j]), dil[j] * (k - 1) + 4));
  const x = makeArray(dt, [int(1, 2), ...L, groups * cig]);
  const w = makeArray(pick([dt, 'float32']), [groups * cog, ...K, cig]);
  const per = (v: number[]) => (d === 1 || rand() < 0.5 ? (v.every((e) => e === v[0]) ? v[0] : v) : v);
  const name = `conv${transpose ? 'Transpose' : ''}${d}d`;
  if (transpose) add(name, [x, w, per(stride), per(pad), per(dil), per(stride.map((s) => int(0, s - 1))), groups]);
  else add(name, [x, w, per(stride), per(pad), per(dil), groups]);
}
for (let i = 0; i < 10; i++) for (const d of [1, 2, 3]) for (const t of [false, true]) if (d < 3 || i < 5) convCase(d, t);
for (let i = 0; i < 12; i++) {
  const dt = pick(HALF_OR_FULL);
  add('convolve', [makeArray(dt, [int(1, 8)]), makeArray(pick(HALF_OR_FULL), [int(1, 8)]), pick(['full', 'same', 'valid'])]);
}

// ---------------------------------------------------------------- creation

for (let i = 0; i < 16; i++) {
  const intDt = pick([...SIGNED, 'float32', 'float64']);
  const [a, b] = [int(-6, 6), int(-6, 6)];
  add('arange', [a, b, pick([1, 2, 3, -1, -2]), intDt]);
  const start = Math.round(normal() * 300) / 100, step = pick([0.5, 0.25, -0.75, 0.1, 1.5]);
  add('arange', [start, start + step * int(0, 8) + (rand() - 0.5) * Math.abs(step), step, pick(FLOATS)]);
  add('linspace', [Math.round(normal() * 300) / 100, Math.round(normal() * 300) / 100, int(0, 9), pick(FLOATS)]);
  const dt = pick(ALL);
  const [n, m, k] = [int(0, 5), int(0, 5), int(-3, 3)];
  add('eye', [n, m, k, dt]);
  add('identity', [n, dt]);
  add('tri', [n, m, k, dt]);
  const ts = [...shape(1, 3), int(0, 4), int(0, 4)];
  add(rand() < 0.5 ? 'tril' : 'triu', [makeArray(pick(ALL), ts), int(-3, 3)]);
  add('meshgrid', [Array.from({ length: int(1, 3) }, () => makeArray(pick(ALL), rand() < 0.8 ? [int(0, 4)] : [2, 2])), rand() < 0.5, pick(['xy', 'ij'])]);
  const s = shape(3, 4);
  const fdt = pick(ALL);
  add(pick(['zeros', 'ones']), [s, fdt]);
  const fill = fdt.startsWith('u') ? pick([0, 2, 2.5, true]) : pick([0, 2, 2.5, -3, true]);
  add('full', rand() < 0.5 ? [s, fill, fdt] : rand() < 0.5 ? [s, fill] : [s, makeArray(valueDtype(fdt), partner(s)), fdt]);
  const like = makeArray(pick(ALL), shape(3, 4));
  add(pick(['zerosLike', 'onesLike']), [like]);
  const likeDt = rand() < 0.5 ? pick(ALL) : null;
  add('fullLike', [like, (likeDt ?? like.dtype.name).startsWith('u') ? pick([1, 3.5]) : pick([-2, 3.5, true]), likeDt]);
}

// ---------------------------------------------------------------- factorizations (CPU)

/** A well-conditioned matrix: entries in (-0.9, 0.9) plus `shift` on the main diagonal. */
const conditioned = (dt: string, s: number[], shift: number) => {
  const [m, n] = s.slice(-2);
  // float64 stays on the CPU when the GPU is the default (the GPU refuses float64).
  const host = onGpu && dt === 'float64' ? { stream: mx.cpu } : undefined;
  return mx.add(makeArray(dt, s, 'unit'), mx.multiply(mx.eye(m, n, 0, dt as mx.DTypeName, host), shift));
};
const symmetric = (dt: string, s: number[], shift: number) => {
  const a = conditioned(dt, s, shift);
  return mx.multiply(mx.add(a, mx.swapaxes(a, -1, -2)), 0.5);
};
/** Eigenvector signs fixed by a weighted sum of each column (zero only on a set of measure zero). */
function fixSigns(v: mx.Array): mx.Array {
  const n = v.shape[v.ndim - 2];
  const w = hostArray(Array.from({ length: n }, (_, k) => 1 / (k + 1.37)), v.dtype.name, [n, 1]);
  return mx.multiply(v, mx.sign(mx.sum(mx.multiply(v, w), -2, true)));
}
for (let i = 0; i < 10; i++) {
  const dt = pick(['float32', 'float64']);
  const n = int(1, 4), m = int(1, 4), k = int(1, 3);
  const batch = rand() < 0.3 ? [2] : [];
  const upper = rand() < 0.5;
  const a = conditioned(dt, [...batch, n, n], n);
  add('linalg.inv', [a]);
  add('linalg.solve', [a, makeArray(pick(['float32', 'float64']), rand() < 0.3 ? [n] : [...batch, n, k])]);
  add('linalg.solveTriangular', [a, makeArray(dt, [...batch, n, k]), upper]);
  add('linalg.triInv', [a, upper]);
  const spd = symmetric(dt, [...batch, n, n], n);
  add('linalg.cholesky', [spd, upper]);
  add('linalg.choleskyInv', [mx.linalg.cholesky(spd, upper), upper]);
  const sym = symmetric(dt, [...batch, n, n], 0);
  const uplo = pick(['L', 'U']);
  add('linalg.eigvalsh', [sym, uplo]);
  add('linalg.eigh', [sym, uplo], () => { const [w, v] = mx.linalg.eigh(sym, uplo); return [w, fixSigns(v)]; });
  const rect = conditioned(dt, [...batch, m, n], 2);
  add('linalg.svd', [rect, false]);
  add('linalg.pinv', [rect]);
  add('linalg.qr', [rect], () => {
    const [q, r] = mx.linalg.qr(rect);
    const d = mx.sign(mx.diagonal(r, 0, -2, -1));
    const s = mx.where(mx.equal(d, 0), 1, d);
    return [mx.multiply(q, mx.expandDims(s, -2)), mx.multiply(r, mx.expandDims(s, -1))];
  });
}

// ---------------------------------------------------------------- integer matmul, array from JS values

for (let i = 0; i < 16; i++) {
  const [m, k, n] = [int(1, 4), int(0, 5), int(1, 4)];
  const [da, db] = [pick([...INTS, 'bool']), pick([...INTS, 'bool'])];
  add('matmul', [makeArray(da, pick([[k], [m, k], [2, m, k]])), makeArray(db, pick([[k], [k, n]]))]);
}
/** Nested JS values of shape s: booleans, integers or fractions. */
function nested(s: number[], kind: 'bool' | 'int' | 'float', nonneg: boolean): unknown {
  if (!s.length) return kind === 'bool' ? rand() < 0.5 : kind === 'int' ? int(nonneg ? 0 : -20, 20) : Math.round((nonneg ? Math.abs(normal()) : normal()) * 1e4) / 1e3;
  return Array.from({ length: s[0] }, () => nested(s.slice(1), kind, nonneg));
}
for (let i = 0; i < 20; i++) {
  const dt = rand() < 0.4 ? null : pick(ALL);
  const nonneg = dt !== null && dt.startsWith('u');
  add('array', [nested(shape(3, 4), pick(['bool', 'int', 'float'] as const), nonneg), dt]);
}

// ---------------------------------------------------------------- check

interface Expected { out?: Encoded | Encoded[]; atol?: number; repr?: string; error?: string }

function runNumpy(batch: unknown[]): Expected[] | string {
  const p = spawnSync('python3', [script], { input: JSON.stringify(batch), encoding: 'utf8', maxBuffer: 1 << 28 });
  if (p.status !== 0) return p.stderr || String(p.error);
  return JSON.parse(p.stdout) as Expected[];
}

function compare(got: mx.Array, exp: Encoded, atolCase: number | undefined): string | null {
  if (got.dtype.name !== exp.dtype) return `dtype ${got.dtype.name}, NumPy (MLX rules) ${exp.dtype}`;
  if (got.shape.length !== exp.shape.length || got.shape.some((d, i) => d !== exp.shape[i])) return `shape (${got.shape}), expected (${exp.shape})`;
  const vals = got.dataSync();
  // float32 on the GPU: the CUDA tests' tolerance (a couple of ulps; see src/backend/cuda/README.md)
  const tol = onGpu && exp.dtype === 'float32' ? { rtol: 2e-5, atol: 2e-6 } : tolerance(exp.dtype);
  const atol = Math.max(tol.atol, atolCase ?? 0);
  for (let i = 0; i < exp.data.length; i++) {
    const e = decodeValue(exp.data[i]);
    const g = vals[i];
    if (typeof e === 'bigint') { if (BigInt(g as bigint) !== e) return `element ${i}: ${g}, expected ${e}`; continue; }
    if (typeof e === 'boolean') { if (Boolean(g) !== e) return `element ${i}: ${g}, expected ${e}`; continue; }
    const gv = Number(g);
    if (Number.isNaN(e)) { if (!Number.isNaN(gv)) return `element ${i}: ${gv}, expected nan`; continue; }
    if (!Number.isFinite(e)) { if (gv !== e) return `element ${i}: ${gv}, expected ${e}`; continue; }
    if (!(Math.abs(gv - e) <= atol + tol.rtol * Math.abs(e))) return `element ${i}: ${gv}, expected ${e} (rtol ${tol.rtol}, atol ${atol})`;
  }
  return null;
}

const hasNumpy = spawnSync('python3', ['-c', 'import numpy'], { encoding: 'utf8' }).status === 0;

test(`differential: ${cases.length} random cases against NumPy (seed ${SEED})`, (t) => {
  if (!hasNumpy) { t.skip('python3 with numpy not found'); return; }
  const all = cases;
  const checked = onGpu ? all.filter((c) => !usesFloat64(c.args) && !usesFloat64(c.npArgs)) : all;
  let refused = 0;
  const batch = checked.map((c) => ({ op: c.op, args: c.npArgs.map(encodeArg) }));
  const expected = runNumpy(batch);
  assert.ok(Array.isArray(expected), `scripts/differential.py failed: ${expected}`);
  const failures: string[] = [];
  checked.forEach((c, i) => {
    const exp = expected[i];
    if (exp.error) { failures.push(`${c.label}: NumPy side failed: ${exp.error}`); return; }
    let got: unknown;
    try { got = c.run(); } catch (e) {
      if (isFloat64Refusal(e)) { refused++; return; }
      failures.push(`${c.label}: threw ${(e as Error).message}`); return;
    }
    if (exp.repr !== undefined) {
      if (got !== exp.repr) failures.push(`${c.label}:\n${got}\nNumPy:\n${exp.repr}`);
      return;
    }
    const outs = Array.isArray(exp.out) ? exp.out : [exp.out!];
    const gots = Array.isArray(got) ? got as mx.Array[] : [got as mx.Array];
    if (gots.length !== outs.length) { failures.push(`${c.label}: ${gots.length} outputs, NumPy ${outs.length}`); return; }
    try {
      outs.forEach((o, k) => {
        const why = compare(gots[k], o, exp.atol);
        if (why) failures.push(`${c.label}${outs.length > 1 ? ` output ${k}` : ''}: ${why}`);
      });
    } catch (e) {
      if (!isFloat64Refusal(e)) throw e;
      refused++; // evaluation needed float64 inside (an op promoting to it)
    }
  });
  if (onGpu) t.diagnostic(`on the GPU: ${all.length - checked.length} of ${all.length} cases skipped for float64 inputs, ${refused} more refused float64 while running`);
  const ops = [...new Set(checked.map((c) => c.op))].sort();
  assert.equal(failures.length, 0, `${failures.length} of ${checked.length} cases differ (ops: ${ops.join(', ')}):\n${failures.slice(0, Number(process.env.DIFF_SHOW ?? 15)).join('\n')}`);
});
