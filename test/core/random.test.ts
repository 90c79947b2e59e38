// mx.random: Threefry answer vectors, MLX's known bits, and distribution checks with fixed
// keys (deterministic: they pass or fail the same way on every run).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as mx from '../../src/index.js';
import { threefry2x32 } from '../../src/core/ops/threefry.js';

const values = (a: mx.Array): number[] => Array.from(a.dataSync() as ArrayLike<number>, Number);

test('threefry2x32 matches the Random123 answer vectors', () => {
  const out = new Uint32Array(2);
  threefry2x32(0, 0, 0, 0, out, 0, 1);
  assert.deepEqual([...out], [0x6b200159, 0x99ba4efe]);
  threefry2x32(0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, out, 0, 1);
  assert.deepEqual([...out], [0x1cb996fc, 0xbb002be7]);
  threefry2x32(0x13198a2e, 0x03707344, 0x243f6a88, 0x85a308d3, out, 0, 1);
  assert.deepEqual([...out], [0xc4923a9c, 0x483df7a0]);
});

// Expected values below are from MLX's tests/random_tests.cpp (themselves from JAX).
test('key and split match MLX', () => {
  assert.deepEqual(mx.random.key(0).tolist(), [0, 0]);
  assert.deepEqual(mx.random.key(1).tolist(), [0, 1]);
  assert.deepEqual(mx.random.key(2 ** 32 + 1).tolist(), [1, 1]);
  assert.deepEqual(mx.random.key(2n ** 64n - 1n).tolist(), [4294967295, 4294967295]);
  assert.equal(mx.random.key(0).dtype, mx.uint32);
  const k = mx.random.key(0);
  assert.deepEqual(mx.random.split(k).tolist(), [[4146024105, 967050713], [2718843009, 1272950319]]);
  assert.deepEqual(mx.random.split(k, 3).tolist(), [[2467461003, 428148500], [3186719485, 3840466878], [2562233961, 1946702221]]);
  assert.deepEqual(mx.random.split(k, 0).shape, [0, 2]);
});

test('bits match MLX for every width', () => {
  const k0 = mx.random.key(0), k1 = mx.random.key(1);
  assert.equal(mx.random.bits([], 4, k0).item(), 1797259609);
  assert.equal(mx.random.bits([], 2, k0).item(), 345);
  assert.equal(mx.random.bits([], 1, k0).item(), 89);
  assert.equal(mx.random.bits([], 4, k1).item(), 507451445);
  assert.equal(mx.random.bits([], 2, k1).item(), 6197);
  assert.equal(mx.random.bits([], 1, k1).item(), 53);
  assert.deepEqual(mx.random.bits([3, 1], 4, k0).tolist(), [[4146024105], [1351547692], [2718843009]]);
  assert.deepEqual(mx.random.bits([5], 2, k0).tolist(), [20137, 63263, 64300, 20622, 16513]);
  assert.deepEqual(mx.random.bits([6], 2, k0).tolist(), [20137, 63263, 64300, 20622, 16513, 41486]);
  assert.deepEqual(mx.random.bits([7], 2, k0).tolist(), [20137, 63263, 1497, 14756, 16513, 41486, 44591]);
  assert.deepEqual(mx.random.bits([8], 2, k0).tolist(), [20137, 63263, 1497, 14756, 16513, 41486, 44591, 19423]);
  assert.equal(mx.random.bits([5], 4, k0).dtype, mx.uint32);
  assert.equal(mx.random.bits([5], 2, k0).dtype, mx.uint16);
  assert.equal(mx.random.bits([5], 1, k0).dtype, mx.uint8);
  assert.deepEqual(mx.random.bits([0], 4, k0).shape, [0]);
  for (const w of [0, 3, 5, -1]) assert.throws(() => mx.random.bits([], w, k0), /^Error: \[bits\] width must be 1, 2 or 4/);
});

test('uniform maps bits as MLX: bits / (2^32 - 1) in float32', () => {
  const k = mx.random.key(0);
  const f = (n: number) => Math.fround(Math.fround(n) / Math.fround(4294967295));
  assert.equal(mx.random.uniform(0, 1, [], mx.float32, k).item(), f(1797259609));
  assert.equal(mx.random.uniform(0, 1, [], mx.float32, mx.random.key(1)).item(), f(507451445));
  assert.deepEqual(mx.random.uniform(0, 1, [3, 1], mx.float32, k).tolist(), [[f(4146024105)], [f(1351547692)], [f(2718843009)]]);
});

test('the global key sequence is seeded and advances like MLX', () => {
  mx.random.seed(4);
  const a = [mx.random.bits().item(), mx.random.bits().item()];
  mx.random.seed(4);
  const b = [mx.random.bits().item(), mx.random.bits().item()];
  assert.deepEqual(a, b);
  assert.notEqual(a[0], a[1]);
  // next() splits the state, keeps row 0 and draws with row 1.
  mx.random.seed(0);
  const sub = mx.random.split(mx.random.key(0)).tolist() as number[][];
  assert.equal(mx.random.bits().item(), mx.random.bits([], 4, mx.array(sub[1], mx.uint32)).item());
  assert.throws(() => mx.random.seed(1.5), /^TypeError: \[seed\] the seed must be an integer/);
});

test('keys are validated', () => {
  for (const bad of [mx.array([0, 0]), mx.array([[0, 0]], mx.uint32), mx.array([0, 0, 0], mx.uint32)])
    assert.throws(() => mx.random.uniform(0, 1, [], mx.float32, bad), /^TypeError: \[uniform\] expected a key of dtype uint32 and shape \(2,\), got/);
  assert.throws(() => mx.random.normal([], mx.float32, null, null, mx.array([1, 2])), /\[normal\] expected a key/);
});

// ---------------------------------------------------------------- distributions

/** Kolmogorov-Smirnov distance of samples from a CDF. */
function ksDistance(samples: number[], cdf: (x: number) => number): number {
  const s = [...samples].sort((a, b) => a - b);
  const n = s.length;
  let d = 0;
  s.forEach((x, i) => { const F = cdf(x); d = Math.max(d, Math.abs(F - i / n), Math.abs((i + 1) / n - F)); });
  return d;
}
const KS_LIMIT = (n: number) => 1.95 / Math.sqrt(n); // alpha = 0.001
const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
const variance = (v: number[]) => { const m = mean(v); return v.reduce((a, b) => a + (b - m) ** 2, 0) / v.length; };
function erf(x: number): number { // Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7)
  const t = 1 / (1 + 0.3275911 * Math.abs(x));
  const y = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-x * x);
  return x >= 0 ? y : -y;
}
const normalCdf = (x: number) => 0.5 * (1 + erf(x / Math.SQRT2));
const N = 20000;

test('uniform: range, moments, KS, broadcasting bounds, half precision', () => {
  const u = values(mx.random.uniform(-2, 3, [N], mx.float32, mx.random.key(7)));
  assert.ok(u.every((v) => v >= -2 && v < 3));
  assert.ok(Math.abs(mean(u) - 0.5) < 0.05);
  assert.ok(Math.abs(variance(u) - 25 / 12) < 0.05);
  assert.ok(ksDistance(u, (x) => (x + 2) / 5) < KS_LIMIT(N));
  const b = mx.random.uniform(mx.zeros([3, 1]), mx.ones([1, 3]), [3, 3], mx.float32, mx.random.key(1));
  assert.deepEqual(b.shape, [3, 3]);
  for (const dt of [mx.float16, mx.bfloat16, mx.float64]) {
    const h = mx.random.uniform(0, 1, [1000], dt, mx.random.key(3));
    assert.equal(h.dtype, dt);
    const hv = values(h);
    assert.ok(hv.every((v) => v >= 0 && v < 1), `${dt.name} in [0, 1)`);
    assert.ok(Math.abs(mean(hv) - 0.5) < 0.03);
  }
  // The largest bits stay below high.
  assert.ok((mx.random.uniform(0, 1, [200000], mx.float16, mx.random.key(0)).dataSync() as Float32Array).every((v) => v < 1));
});

test('uniform errors name the op, shapes and dtype', () => {
  assert.throws(() => mx.random.uniform(0, 1, [], mx.int32), /^TypeError: \[uniform\] can only generate floating point values, got dtype int32/);
  assert.throws(() => mx.random.uniform(mx.zeros([3, 3]), 1, [1, 3]), /^Error: \[uniform\] cannot generate values of shape \(1,3\) from parameters of shape \(3,3\)/);
  assert.throws(() => mx.random.uniform(mx.zeros([3, 1]), mx.ones([1, 3]), [2, 3]), /\[uniform\] cannot generate values of shape \(2,3\)/);
  assert.throws(() => mx.random.uniform(0, 1, [-1]), /^Error: \[uniform\] invalid shape/);
});

test('normal: moments and KS, loc and scale, dtypes', () => {
  const z = values(mx.random.normal([N], mx.float32, null, null, mx.random.key(11)));
  assert.ok(z.every(Number.isFinite));
  assert.ok(Math.abs(mean(z)) < 0.03);
  assert.ok(Math.abs(variance(z) - 1) < 0.04);
  assert.ok(ksDistance(z, normalCdf) < KS_LIMIT(N));
  const y = values(mx.random.normal([N], mx.float32, 3, 2, mx.random.key(11)));
  y.forEach((v, i) => assert.ok(Math.abs(v - (3 + 2 * z[i])) < 1e-5));
  const l = mx.random.normal([2], mx.float32, mx.array([0, 100]), null, mx.random.key(1));
  assert.ok(Math.abs(values(l)[1] - 100) < 10);
  for (const dt of [mx.float16, mx.bfloat16, mx.float64]) {
    const h = mx.random.normal([500], dt, null, null, mx.random.key(5));
    assert.equal(h.dtype, dt);
    assert.ok(values(h).every(Number.isFinite));
  }
  assert.throws(() => mx.random.normal([2], mx.int32), /^TypeError: \[normal\] can only generate floating point values, got dtype int32/);
});

test('truncatedNormal: bounds, broadcasting, KS against the truncated CDF', () => {
  const t = values(mx.random.truncatedNormal(-1, 2, [N], mx.float32, mx.random.key(2)));
  assert.ok(t.every((v) => v >= -1 && v <= 2));
  const [a, b] = [normalCdf(-1), normalCdf(2)];
  assert.ok(ksDistance(t, (x) => (normalCdf(x) - a) / (b - a)) < KS_LIMIT(N));
  const lower = mx.reshape(mx.array([-2, -3]), [1, 2]), upper = mx.reshape(mx.array([0, 3, 1.5]), [3, 1]);
  const x = mx.random.truncatedNormal(lower, upper, null, mx.float32, mx.random.key(0));
  assert.deepEqual(x.shape, [3, 2]);
  assert.ok(mx.all(mx.logicalAnd(mx.lessEqual(x, upper), mx.lessEqual(lower, x))).item());
  assert.deepEqual(mx.random.truncatedNormal(2, -2, [3], mx.float32, mx.random.key(0)).tolist(), [2, 2, 2]);
  assert.deepEqual(mx.random.truncatedNormal(mx.array([]), mx.array([])).shape, [0]);
  assert.throws(() => mx.random.truncatedNormal(lower, upper, [4, 2]), /^Error: \[truncatedNormal\] cannot generate values of shape \(4,2\)/);
});

test('bernoulli: frequency, p at and beyond the ends, broadcasting, errors', () => {
  const b = mx.random.bernoulli(0.3, [N], mx.random.key(9));
  assert.equal(b.dtype, mx.bool);
  assert.ok(Math.abs(mean(values(b)) - 0.3) < 0.015);
  assert.ok(mx.all(mx.random.bernoulli(1, [1000], mx.random.key(1))).item());
  assert.ok(!mx.any(mx.random.bernoulli(0, [1000], mx.random.key(1))).item());
  assert.equal(mx.random.bernoulli(mx.array(5.0, mx.float32)).item(), true);
  assert.equal(mx.random.bernoulli(mx.array(-1.0, mx.float32)).item(), false);
  assert.deepEqual(mx.random.bernoulli(mx.array([[0.1, 0.2, 0.3]]), [4, 3]).shape, [4, 3]);
  assert.deepEqual(mx.random.bernoulli(mx.array([0.5, 0.5], mx.float16)).shape, [2]);
  assert.deepEqual(mx.random.bernoulli().shape, []);
  assert.throws(() => mx.random.bernoulli(mx.array([1, 0])), /^TypeError: \[bernoulli\] p must be a floating point array, got int32/);
  assert.throws(() => mx.random.bernoulli(mx.array([0.1, 0.2, 0.3]), [2]), /^Error: \[bernoulli\] cannot generate values of shape \(2,\) from parameters of shape \(3,\)/);
});

test('randint: range, uniform counts, empty ranges, every integer dtype', () => {
  const r = values(mx.random.randint(-10, 20, [30000], mx.int32, mx.random.key(4)));
  assert.ok(r.every((v) => Number.isInteger(v) && v >= -10 && v < 20));
  const counts = new Array(30).fill(0);
  for (const v of r) counts[v + 10]++;
  const chi2 = counts.reduce((s, c) => s + (c - 1000) ** 2 / 1000, 0);
  assert.ok(chi2 < 58.3, `chi-square ${chi2} (29 degrees of freedom, alpha 0.001)`);
  assert.deepEqual(mx.random.randint(20, -10, [3], mx.int32, mx.random.key(0)).tolist(), [20, 20, 20]);
  for (const dt of [mx.int8, mx.int16, mx.uint8, mx.uint16, mx.uint32, mx.int64, mx.uint64]) {
    const x = mx.random.randint(0, 100, [500], dt, mx.random.key(8));
    assert.equal(x.dtype, dt);
    const v = values(x);
    assert.ok(v.every((e) => e >= 0 && e < 100), dt.name);
    assert.ok(new Set(v).size > 80, `${dt.name} covers the range`);
  }
  // int64 ranges beyond 2^32 use 64 random bits.
  const big = values(mx.random.randint(mx.array([0n]), mx.array([2n ** 40n]), [200], mx.int64, mx.random.key(1)));
  assert.ok(big.some((v) => v > 2 ** 33) && big.every((v) => v >= 0 && v < 2 ** 40));
  const bools = values(mx.random.randint(0, 2, [1000], mx.bool, mx.random.key(2)));
  assert.ok(Math.abs(mean(bools) - 0.5) < 0.06);
  // Bounds broadcast, each element within its own range.
  const hi = mx.array([1, 10, 1000]);
  const m = mx.random.randint(0, hi, [200, 3], mx.int32, mx.random.key(3));
  assert.ok(mx.all(mx.less(m, hi)).item());
  assert.throws(() => mx.random.randint(0, 5, [2], mx.float32), /^TypeError: \[randint\] dtype must be an integer or bool dtype, got float32/);
  assert.throws(() => mx.random.randint(0, hi, [2]), /^Error: \[randint\] cannot generate values of shape \(2,\) from parameters of shape \(3,\)/);
});

test('gumbel and laplace: moments and KS', () => {
  const g = values(mx.random.gumbel([N], mx.float32, mx.random.key(12)));
  assert.ok(Math.abs(mean(g) - 0.5772156649) < 0.04);
  assert.ok(Math.abs(variance(g) - Math.PI ** 2 / 6) < 0.1);
  assert.ok(ksDistance(g, (x) => Math.exp(-Math.exp(-x))) < KS_LIMIT(N));
  const l = values(mx.random.laplace([N], mx.float32, 1, 2, mx.random.key(13)));
  assert.ok(Math.abs(mean(l) - 1) < 0.06);
  assert.ok(Math.abs(variance(l) - 8) < 0.4);
  assert.ok(ksDistance(l, (x) => (x < 1 ? 0.5 * Math.exp((x - 1) / 2) : 1 - 0.5 * Math.exp(-(x - 1) / 2))) < KS_LIMIT(N));
  assert.equal(mx.random.laplace([3], mx.bfloat16).dtype, mx.bfloat16);
  assert.throws(() => mx.random.gumbel([2], mx.int32), /^TypeError: \[gumbel\] can only generate floating point values/);
  assert.throws(() => mx.random.laplace([2], mx.uint8), /^TypeError: \[laplace\] can only generate floating point values/);
});

test('categorical: frequencies follow softmax(logits), shapes and numSamples', () => {
  const p = [0.1, 0.2, 0.3, 0.4];
  const logits = mx.log(mx.array(p));
  const s = values(mx.random.categorical(logits, -1, [N], null, mx.random.key(21)));
  const freq = [0, 1, 2, 3].map((c) => s.filter((v) => v === c).length / N);
  freq.forEach((f, i) => assert.ok(Math.abs(f - p[i]) < 0.015, `class ${i}: ${f} vs ${p[i]}`));
  const batch = mx.log(mx.array([[0.999, 0.001, 0], [0, 0, 1]]));
  assert.deepEqual(mx.random.categorical(batch, -1, null, null, mx.random.key(0)).shape, [2]);
  assert.deepEqual(values(mx.random.categorical(batch, -1, null, 5, mx.random.key(1))).slice(5), [2, 2, 2, 2, 2]);
  assert.deepEqual(mx.random.categorical(batch, -1, null, 5).shape, [2, 5]);
  assert.deepEqual(mx.random.categorical(batch, 0, [4, 3]).shape, [4, 3]);
  const z = mx.zeros([10, 20]);
  assert.throws(() => mx.random.categorical(z, 2), /^Error: \[categorical\] axis 2 is out of bounds/);
  assert.throws(() => mx.random.categorical(z, 1, [1]), /^Error: \[categorical\] cannot generate values of shape \(1,\)/);
  assert.throws(() => mx.random.categorical(z, 1, [10], 3), /\[categorical\] give at most one of shape and numSamples/);
});

test('permutation shuffles an axis', () => {
  const p = values(mx.random.permutation(100, 0, mx.random.key(3)));
  assert.deepEqual([...p].sort((a, b) => a - b), [...Array(100).keys()]);
  assert.notDeepEqual(p, [...Array(100).keys()]);
  const x = mx.reshape(mx.arange(12), [3, 4]);
  const rows = mx.random.permutation(x, 0, mx.random.key(1)).tolist() as number[][];
  assert.deepEqual(rows.map((r) => r[0]).sort((a, b) => a - b), [0, 4, 8]);
  const cols = mx.random.permutation(x, 1, mx.random.key(1)).tolist() as number[][];
  assert.deepEqual([...cols[0]].sort((a, b) => a - b), [0, 1, 2, 3]);
  assert.deepEqual(cols[1], cols[0].map((v) => v + 4));
});

test('multivariateNormal: mean, covariance, batch shapes, errors', () => {
  const cov = mx.array([[2, 0.5], [0.5, 1]], mx.float32);
  const x = mx.random.multivariateNormal(mx.array([1, -1], mx.float32), cov, [N], mx.float32, mx.random.key(5));
  assert.deepEqual(x.shape, [N, 2]);
  const m = mx.mean(x, 0);
  (m.tolist() as number[]).forEach((v, i) => assert.ok(Math.abs(v - [1, -1][i]) < 0.04, `mean ${i}: ${v}`));
  const d = mx.subtract(x, m);
  const c = mx.divide(mx.matmul(d.T, d), N).tolist() as number[][];
  [[2, 0.5], [0.5, 1]].forEach((row, i) => row.forEach((v, j) => assert.ok(Math.abs(c[i][j] - v) < 0.06, `cov ${i},${j}: ${c[i][j]}`)));
  const batch = mx.random.multivariateNormal(mx.zeros([3, 1, 2]), mx.broadcastTo(cov, [4, 2, 2]), [], mx.float32, mx.random.key(1));
  assert.deepEqual(batch.shape, [3, 4, 2]);
  assert.throws(() => mx.random.multivariateNormal(mx.zeros([3]), cov), /^Error: \[multivariateNormal\] cov of shape \(2,2\) must be \(\.\.\., 3, 3\) for mean of shape \(3,\)/);
  assert.throws(() => mx.random.multivariateNormal(mx.zeros([2]), cov, [], mx.float16), /^TypeError: \[multivariateNormal\] dtype must be float32, got float16/);
});

test('vmap over keys matches MLX', () => {
  const keys = mx.array([[0, 0], [1, 1]], mx.uint32);
  const fn = (k: mx.Array) => mx.random.bits([3], 4, k);
  assert.deepEqual(mx.vmap(fn)(keys).tolist(), [[4146024105, 1351547692, 2718843009], [3725146706, 1802982961, 1349634643]]);
  assert.deepEqual(mx.vmap(fn, 1)(keys).tolist(), [[2441914641, 1110694964, 3819641963], [2441914641, 1110694964, 3819641963]]);
  const keys3 = mx.reshape(mx.array([0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5], mx.uint32), [3, 2, 2]);
  const fn2 = (k: mx.Array) => mx.random.bits([2], 4, k);
  assert.deepEqual(mx.vmap(mx.vmap(fn2))(keys3).tolist(), [
    [[928981903, 3453687069], [3606183818, 460005496]],
    [[2799733733, 856293553], [4081856343, 3445925136]],
    [[2775548010, 1430281703], [305173070, 2615843348]]]);
  assert.deepEqual(mx.vmap(mx.vmap(fn2, 1), 0)(keys3).tolist(), [
    [[1948878966, 4237131848], [1948878966, 4237131848]],
    [[2531170506, 1858648356], [2531170506, 1858648356]],
    [[740561898, 4234094099], [740561898, 4234094099]]]);
  // Batched keys through a distribution: each row equals the unbatched draw with its key.
  const rows = mx.vmap((k: mx.Array) => mx.random.normal([4], mx.float32, null, null, k))(keys).tolist() as number[][];
  assert.deepEqual(rows[1], mx.random.normal([4], mx.float32, null, null, mx.array([1, 1], mx.uint32)).tolist());
});

test('random draws are not differentiable through the key but are through low and high', () => {
  const k = mx.random.key(0);
  const g = mx.grad((hi: mx.Array) => mx.sum(mx.random.uniform(0, hi, [4], mx.float32, k)))(mx.array(2.0, mx.float32));
  const u = mx.random.uniform(0, 1, [4], mx.float32, k);
  assert.ok(Math.abs((g.item() as number) - (mx.sum(u).item() as number)) < 1e-5);
});

test('a key costs no memory until it is used', () => {
  const k = mx.random.key(123);
  mx.eval(mx.random.uniform(0, 1, [1], mx.float32, k)); // warm the constants uniform uses
  const before = mx.getActiveMemory();
  const k2 = mx.random.key(321);
  assert.equal(mx.getActiveMemory(), before);
  const x = mx.random.uniform(0, 1, [256], mx.float32, k2);
  mx.eval(x);
  assert.equal(mx.getActiveMemory(), before + 256 * 4);
  x.dispose();
  assert.equal(mx.getActiveMemory(), before);
});
