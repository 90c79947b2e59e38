// Randomized differential test: a few hundred cases drawn with a fixed seed (random dtypes,
// broadcast shapes, axes), checked against NumPy running live (scripts/differential.py, one
// process for the whole batch). Only ops that exist are drawn. Same seed, same cases.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as mx from '../src/index.js';
import { Encoded, decodeValue, tolerance } from './util.js';

const SEED = Number(process.env.DIFF_SEED ?? 20251126); // DIFF_SEED explores other draws
const ops = mx as unknown as Record<string, (...a: unknown[]) => unknown>;
const has = (name: string) => typeof ops[name] === 'function';
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
type Domain = 'any' | 'positive' | 'nonzero' | 'small' | 'unit' | 'exponent';

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
      return domain === 'positive' ? Math.abs(v) + 0.1 : domain === 'small' ? 0.5 + rand() : domain === 'unit' ? rand() * 1.8 - 0.9
        : domain === 'exponent' ? rand() * 4 - 2
        : domain === 'nonzero' && Math.abs(v) < 0.1 ? 1 : v;
    }
    const unsigned = dtype.startsWith('u');
    let v = domain === 'small' ? int(unsigned ? 0 : -3, 3) : domain === 'exponent' ? int(0, 3) : unsigned ? int(0, 40) : int(-20, 20);
    if (domain === 'positive') v = Math.abs(v) + 1;
    if (domain === 'nonzero' && v === 0) v = 3;
    return dtype.endsWith('64') ? BigInt(v) : v;
  });
}

function makeArray(dtype: string, s: number[], domain: Domain = 'any', special = false): mx.Array {
  const n = s.reduce((a, b) => a * b, 1);
  return mx.reshape(mx.array(values(dtype, n, domain, special) as never, dtype as mx.DTypeName), s);
}

/** The array as the NumPy side reads it: the values lathe actually stores. */
function encode(a: mx.Array): Encoded {
  const data = Array.from(a.dataSync() as ArrayLike<number | bigint>, (v) =>
    typeof v === 'bigint' ? v.toString() : a.dtype === mx.bool ? v !== 0 : Number.isNaN(v) ? 'nan' : v === Infinity ? 'inf' : v === -Infinity ? '-inf' : v);
  return { dtype: a.dtype.name, shape: [...a.shape], data };
}

// ---------------------------------------------------------------- cases

interface Case { op: string; args: unknown[]; run: () => unknown; label: string }
const cases: Case[] = [];
const describe = (op: string, args: unknown[]) =>
  `${op}(${args.map((a) => (a instanceof mx.Array ? `${a.dtype.name}${JSON.stringify(a.shape)}` : Array.isArray(a) && a[0] instanceof mx.Array ? `[${a.map((x: mx.Array) => `${x.dtype.name}${JSON.stringify(x.shape)}`).join(', ')}]` : JSON.stringify(a))).join(', ')})`;
function add(op: string, args: unknown[], run: () => unknown = () => ops[op](...args)): void {
  if (!has(op) && op !== 'repr') return;
  cases.push({ op, args, run, label: `#${cases.length} ${describe(op, args)}` });
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

// ---------------------------------------------------------------- check

interface Expected { out?: Encoded; atol?: number; repr?: string; error?: string }

function runNumpy(batch: unknown[]): Expected[] | string {
  const p = spawnSync('python3', [script], { input: JSON.stringify(batch), encoding: 'utf8', maxBuffer: 1 << 28 });
  if (p.status !== 0) return p.stderr || String(p.error);
  return JSON.parse(p.stdout) as Expected[];
}

function compare(got: mx.Array, exp: Encoded, atolCase: number | undefined): string | null {
  if (got.dtype.name !== exp.dtype) return `dtype ${got.dtype.name}, NumPy (MLX rules) ${exp.dtype}`;
  if (got.shape.length !== exp.shape.length || got.shape.some((d, i) => d !== exp.shape[i])) return `shape (${got.shape}), expected (${exp.shape})`;
  const vals = got.dataSync();
  const tol = tolerance(exp.dtype);
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
  const batch = cases.map((c) => ({ op: c.op, args: c.args.map((a) => (a instanceof mx.Array ? encode(a) : Array.isArray(a) && a[0] instanceof mx.Array ? a.map(encode) : { value: a })) }));
  const expected = runNumpy(batch);
  assert.ok(Array.isArray(expected), `scripts/differential.py failed: ${expected}`);
  const failures: string[] = [];
  cases.forEach((c, i) => {
    const exp = expected[i];
    if (exp.error) { failures.push(`${c.label}: NumPy side failed: ${exp.error}`); return; }
    let got: unknown;
    try { got = c.run(); } catch (e) { failures.push(`${c.label}: threw ${(e as Error).message}`); return; }
    if (exp.repr !== undefined) {
      if (got !== exp.repr) failures.push(`${c.label}:\n${got}\nNumPy:\n${exp.repr}`);
      return;
    }
    const why = compare(got as mx.Array, exp.out!, exp.atol);
    if (why) failures.push(`${c.label}: ${why}`);
  });
  const ops = [...new Set(cases.map((c) => c.op))].sort();
  assert.equal(failures.length, 0, `${failures.length} of ${cases.length} cases differ (ops: ${ops.join(', ')}):\n${failures.slice(0, 15).join('\n')}`);
});
