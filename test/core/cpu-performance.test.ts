// The CPU backend's fast paths give the same results as the plain ones: the caching
// allocator never hands out storage someone still sees, and loops split over the worker
// pool equal one-thread loops.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as mx from '../../src/index.js';
import { threads, PARALLEL_MIN } from '../../src/backend/cpu/pool.js';

const N = PARALLEL_MIN * 3 + 12345; // several chunks and a ragged end
const values = (n: number, f: (i: number) => number) => Float32Array.from({ length: n }, (_, i) => f(i));
const fromJs = (x: Float32Array) => { const a = mx.array(x); return mx.add(a, 0); }; // kernel-made storage (shared)

test('split elementwise loops, where and compiled chains equal plain loops', () => {
  const xa = values(N, (i) => Math.sin(i) * 5), xb = values(N, (i) => Math.cos(i * 0.7));
  const a = fromJs(xa), b = fromJs(xb);
  const check = (got: mx.Array, want: (i: number) => number, what: string) => {
    const g = got.dataSync() as Float32Array;
    for (let i = 0; i < N; i++) if (!Object.is(g[i], Math.fround(want(i)))) assert.fail(`${what}[${i}]: ${g[i]} != ${Math.fround(want(i))}`);
  };
  check(mx.add(a, b), (i) => xa[i] + xb[i], 'add');
  check(mx.multiply(a, 2), (i) => xa[i] * 2, 'multiply');
  check(mx.exp(a), (i) => Math.exp(xa[i]), 'exp');
  check(mx.tanh(a), (i) => Math.tanh(xa[i]), 'tanh');
  check(mx.where(mx.greater(a, 0), a, b), (i) => (xa[i] > 0 ? xa[i] : xb[i]), 'where');
  const f = (x: mx.Array) => mx.add(mx.multiply(mx.exp(mx.negative(mx.abs(x))), x), 1);
  const want = (i: number) => Math.fround(Math.fround(Math.exp(-Math.abs(xa[i]))) * xa[i]) + 1;
  check(mx.compile(f)(a), want, 'compiled');
  check(f(a), want, 'eager');
});

test('split reductions equal one-thread ones: sums, extrema, argmax ties and NaN', () => {
  const xs = values(N, (i) => ((i * 7919) % 1000) - 500.25);
  const x = fromJs(xs);
  let sum = 0, max = -Infinity, min = Infinity;
  for (const v of xs) { sum += v; max = Math.max(max, v); min = Math.min(min, v); }
  assert.equal(mx.sum(x).item(), Math.fround(sum));
  assert.equal(mx.max(x).item(), max);
  assert.equal(mx.argmax(x).item(), xs.indexOf(max)); // the first of many ties
  assert.equal(mx.argmin(x).item(), xs.indexOf(min));
  const withNaN = xs.slice(); withNaN[N - 5] = NaN; withNaN[N - 3] = NaN; withNaN[N - 100] = 1e9;
  const y = fromJs(withNaN);
  assert.equal(mx.argmax(y).item(), N - 5);
  assert.ok(Number.isNaN(mx.max(y).item() as number));
  // Many rows split by rows.
  const rows = mx.reshape(fromJs(xs.subarray(0, N - 1)), [(N - 1) / 2, 2]);
  const r = mx.sum(rows, -1).dataSync();
  for (let o = 0; o < r.length; o++) assert.equal(r[o], Math.fround(xs[2 * o] + xs[2 * o + 1]));
  // Integers wrap as one pass would.
  const ints = mx.add(mx.array(Int32Array.from({ length: N }, () => 2 ** 30)), 0);
  assert.equal(mx.sum(ints).item(), (N * 2 ** 30) | 0);
});

test('the storage cache reuses freed buffers but never one the caller holds', () => {
  mx.clearCache();
  const size = 1 << 16;
  const a = mx.add(mx.zeros([size]), 1);
  const held = a.dataSync() as Float32Array; // the caller now shares this storage
  a.dispose();
  const b = mx.add(mx.zeros([size]), 2);
  mx.eval(b);
  assert.equal(held[0], 1);
  assert.equal(held[size - 1], 1);
  const c = mx.multiply(b, 3);
  mx.eval(c);
  c.dispose();
  assert.equal(mx.getCacheMemory(), size * 4);
  const d = mx.zeros([size]); // zeroed even when it reuses c's storage
  assert.equal(mx.sum(d).item(), 0);
  mx.clearCache();
  assert.equal(mx.getCacheMemory(), 0);
  const old = mx.setCacheLimit(0);
  mx.eval(mx.multiply(b, 3)); // the result is garbage, freed when collected; nothing is cached
  mx.multiply(b, 3).eval().dispose();
  assert.equal(mx.getCacheMemory(), 0);
  mx.setCacheLimit(old);
});

test('a process using the worker pool exits by itself', { skip: threads.size < 2 && 'one thread' }, () => {
  const src = `import * as mx from './src/index.js'; const a = mx.add(mx.ones([${N}]), 1); console.log(mx.sum(a).item());`;
  const p = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', src], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(p.status, 0, p.stderr);
  assert.equal(p.stdout.trim(), String(2 * N));
});
