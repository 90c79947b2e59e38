// Device memory stays flat in loops: with tidy, with dispose/using, and (as far as the JS
// garbage collector allows) with no calls at all. Numbers are exact byte counts from the
// CPU backend, so any leak of one buffer fails.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import v8 from 'node:v8';
import vm from 'node:vm';
import * as mx from '../../src/index.js';
import { scopeDepth } from '../../src/core/scope.js';

const key = (k: number) => mx.random.key(k);
const w = mx.random.normal([32, 32], mx.float32, null, null, key(0));
const b = mx.random.normal([32], mx.float32, null, null, key(1));
mx.eval(w, b);

/** A typical step: matmul, elementwise ops with JS numbers, a reduction, normalization. */
function step(x: mx.Array): mx.Array {
  const h = mx.tanh(mx.add(mx.matmul(x, w), b));
  const norm = mx.sqrt(mx.sum(mx.square(h), -1, true));
  return mx.divide(mx.multiply(h, 0.9), mx.add(norm, 1e-3));
}
const start = () => { const x = mx.random.normal([8, 32], mx.float32, null, null, key(2)); mx.eval(x); return x; };
const X_BYTES = 8 * 32 * 4;

test('tidy: 10,000 steps keep active memory exactly flat', () => {
  let x = start();
  let base = -1;
  for (let i = 0; i < 10_000; i++) {
    const next = mx.tidy(() => step(x));
    x.dispose();
    x = next;
    const now = mx.getActiveMemory();
    if (i === 2) base = now;
    else if (i > 2 && now !== base) assert.fail(`step ${i}: active memory ${now}, expected ${base}`);
  }
  assert.ok(Number.isFinite(x.sum().item() as number));
  x.dispose();
});

test('dispose and using: 10,000 steps keep active memory exactly flat', () => {
  let x = start();
  let base = -1;
  for (let i = 0; i < 10_000; i++) {
    using old = x; // disposed at the end of the iteration
    x = step(old);
    mx.eval(x);
    const now = mx.getActiveMemory();
    if (i === 2) base = now;
    else if (i > 2 && now !== base) assert.fail(`step ${i}: active memory ${now}, expected ${base}`);
  }
  x.dispose();
});

test('tidy disposes what fn made, keeps what it returns (trees too), and cleans up on throw', () => {
  const before = mx.getActiveMemory();
  const out = mx.tidy(() => {
    const a = mx.array([1, 2, 3], mx.float32);
    const kept = mx.keep(mx.array([4, 5], mx.float32));
    return { sum: mx.sum(a), parts: [mx.exp(a), kept] };
  });
  assert.equal(out.sum.item(), 6);
  assert.equal(out.parts[0].isEvaluated, true);
  assert.equal(mx.getActiveMemory(), before + 4 + 12 + 8);
  mx.dispose(out);
  assert.equal(mx.getActiveMemory(), before);
  assert.throws(() => mx.tidy(() => { mx.eval(mx.ones([100])); throw new Error('boom'); }), /boom/);
  assert.equal(mx.getActiveMemory(), before);
  // An error while evaluating the result also closes the scope (else it would capture every later array).
  const limit = mx.setMemoryLimit(before + 100);
  try {
    assert.throws(() => mx.tidy(() => mx.add(mx.ones([1000]), 1)), /^Error: \[memory\]/);
  } finally {
    mx.setMemoryLimit(limit);
  }
  assert.equal(scopeDepth(), 0);
  assert.equal(mx.getActiveMemory(), before);
  // A nested tidy hands its result to the outer scope, which disposes it unless returned.
  const r = mx.tidy(() => { const inner = mx.tidy(() => mx.ones([10])); return mx.add(inner, 1); });
  assert.equal(mx.getActiveMemory(), before + 40);
  r.dispose();
  assert.equal(mx.getActiveMemory(), before);
});

test('tidy inside a traced function leaves the graph to the transform', () => {
  const x = mx.array([1, 2, 3], mx.float32);
  const expected = [1, 2, 3].map((v) => Math.fround(2 * Math.exp(2 * v)));
  const g = mx.grad((y: mx.Array) => mx.tidy(() => mx.sum(mx.exp(mx.multiply(y, 2)))))(x);
  (g.tolist() as number[]).forEach((v, i) => assert.ok(Math.abs(v - expected[i]) < 1e-3 * expected[i], `grad ${i}: ${v}`));
  const v = mx.vmap((y: mx.Array) => mx.tidy(() => mx.exp(y)))(x);
  assert.deepEqual(v.tolist(), mx.exp(x).tolist());
  // An enclosing tidy still frees everything the transform made.
  const before = mx.getActiveMemory();
  const r = mx.tidy(() => mx.grad((y: mx.Array) => mx.tidy(() => mx.sum(mx.square(y))))(x));
  assert.deepEqual(r.tolist(), [2, 4, 6]);
  assert.equal(mx.getActiveMemory(), before + 12);
  r.dispose();
});

test('tidy inside a compiled function', () => {
  const f = mx.compile((y: mx.Array) => mx.tidy(() => mx.exp(mx.multiply(y, 2))));
  const x = mx.array([1, 2], mx.float32);
  assert.deepEqual(f(x).tolist(), mx.exp(mx.multiply(x, 2)).tolist());
});

test('the evaluator frees intermediates: a long chain leaves only its result', () => {
  const n = 100_000, bytes = n * 4;
  const x = mx.random.uniform(0, 1, [n], mx.float32, key(3));
  mx.eval(x, mx.add(mx.multiply(x, 0.5), 0.25)); // the constants 0.5 and 0.25 are now cached
  const before = mx.getActiveMemory();
  mx.resetPeakMemory();
  let y = x;
  for (let i = 0; i < 50; i++) y = mx.add(mx.multiply(y, 0.5), 0.25);
  mx.eval(y);
  assert.equal(mx.getActiveMemory(), before + bytes);
  // At most an input, its output and the next output are alive at once.
  assert.ok(mx.getPeakMemory() <= before + 2 * bytes, `peak ${mx.getPeakMemory() - before} bytes above the start`);
  // A value used twice lives until its second consumer has run.
  const a = mx.exp(x);
  const c = mx.add(mx.sin(a), mx.cos(a));
  mx.eval(c);
  assert.equal(mx.getActiveMemory(), before + 2 * bytes);
  assert.equal(a.isEvaluated, false); // freed, and recomputed from its graph when read
  assert.ok(Math.abs((a.sum().item() as number) - (mx.exp(x).sum().item() as number)) < 1e-3);
  mx.dispose(y, c, a, x);
});

test('memory limit: a clear error, and a failed eval frees what it computed', () => {
  const before = mx.getActiveMemory();
  const x = mx.ones([1000], mx.float32);
  const old = mx.setMemoryLimit(before + 10_000);
  try {
    const chain = mx.exp(mx.add(x, 1)); // 4 KB for x's node... then 4 KB each: passes the limit
    const big = mx.multiply(mx.sin(chain), mx.cos(chain));
    assert.throws(() => mx.eval(big), (e: Error) => /^\[memory\] allocating 4000 bytes would pass the memory limit of \d+ bytes/.test(e.message));
    assert.equal(mx.getActiveMemory(), before, 'nothing computed by the failed eval is left behind');
  } finally {
    assert.equal(mx.setMemoryLimit(old), before + 10_000);
  }
  assert.equal(mx.tidy(() => mx.sum(mx.ones([2000]))).item(), 2000);
});

test('JS numbers in ops allocate once: constants are shared and pinned', () => {
  const x = mx.ones([4]);
  mx.eval(x);
  const before = mx.getActiveMemory();
  for (let i = 0; i < 100; i++) mx.tidy(() => { mx.eval(mx.add(x, 0.123456)); });
  assert.equal(mx.getActiveMemory(), before + 4, 'one constant buffer, made on first use');
  const z = mx.zeros([]); // may be a shared constant: disposing it must not break others
  z.dispose();
  using s = mx.full([], 0.123456);
  assert.deepEqual(mx.add(x, 0.123456).tolist(), [1.123456, 1.123456, 1.123456, 1.123456].map(Math.fround));
  assert.equal(mx.zeros([]).item(), 0);
  void s;
});

/** The real gc(), from inside the process (as node --expose-gc gives it). */
function exposeGc(): () => void {
  v8.setFlagsFromString('--expose-gc');
  return vm.runInNewContext('gc') as () => void;
}
const nextTurn = () => new Promise((r) => setImmediate(r));

// Without dispose or tidy the old value of `x` is freed only by the FinalizationRegistry,
// which runs after the GC, between jobs. What that means, measured exactly:
test('plain loops with no memory calls: the GC safety net, and its limits', async () => {
  const gc = exposeGc();
  await nextTurn();
  gc(); // first collect what earlier tests left to the GC
  await nextTurn();
  let x = start();
  x = step(x);
  mx.eval(x);
  const base = mx.getActiveMemory();
  // (1) A synchronous loop keeps every old value until it yields: one result per step.
  for (let i = 0; i < 500; i++) { x = step(x); mx.eval(x); }
  assert.equal(mx.getActiveMemory() - base, 500 * X_BYTES);
  gc(); // a GC inside the same job reclaims nothing yet
  assert.equal(mx.getActiveMemory() - base, 500 * X_BYTES);
  // (2) Once the loop yields and the GC runs, finalizers free all of it.
  for (let round = 0; round < 5 && mx.getActiveMemory() - base > -X_BYTES; round++) {
    await nextTurn();
    gc();
    await nextTurn();
  }
  // All 500 are back (base also counted the value before the loop, which may linger).
  assert.ok(mx.getActiveMemory() - base <= 0, `${(mx.getActiveMemory() - base) / X_BYTES} old values left`);
  // (3) An async loop that yields and lets the GC run every 100 steps stays bounded.
  let peak = 0;
  for (let i = 0; i < 2000; i++) {
    x = step(x);
    mx.eval(x);
    peak = Math.max(peak, mx.getActiveMemory() - base);
    if (i % 100 === 99) { await nextTurn(); gc(); }
  }
  assert.ok(peak <= 250 * X_BYTES, `peak ${peak / X_BYTES} old values`);
  // Without a forced GC, V8 collects on JS heap pressure, not device memory: the bound is
  // V8's, not ours. That is why library loops dispose or use tidy rather than rely on it.
});
