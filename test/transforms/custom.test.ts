// customFunction overrides and checkpoint.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as mx from '../../src/index.js';

// float64 on the CPU; float32 with float32 tolerances when the GPU is the default device
// (npm run test:gpu), which has no float64.
const onGpu = mx.defaultDevice().type === 'gpu';
const F = onGpu ? 'float32' : 'float64';
const TOL = onGpu ? 1e-5 : 1e-12;
const f64 = (v: number[] | number) => mx.array(v, F);
const close = (a: mx.Array, b: mx.Array | number[], tol = TOL) => {
  const x = [...a.dataSync()].map(Number), y = b instanceof mx.Array ? [...b.dataSync()].map(Number) : b;
  assert.equal(x.length, y.length);
  x.forEach((v, i) => assert.ok(Math.abs(v - y[i]) <= tol * (1 + Math.abs(y[i])), `element ${i}: ${v} vs ${y[i]}`));
};
const xs = [0.3, -1.2, 2.0];

test('customFunction: without overrides, transforms go through fn', () => {
  const f = mx.customFunction((x: mx.Array) => mx.multiply(mx.sin(x), x));
  const x = f64(xs);
  close(f(x), xs.map((v) => Math.sin(v) * v));
  close(mx.grad((x: mx.Array) => mx.sum(f(x)))(x), xs.map((v) => Math.cos(v) * v + Math.sin(v)));
  close(mx.vmap(f)(x), xs.map((v) => Math.sin(v) * v));
});

test('customFunction: vjp, jvp and vmap overrides are used', () => {
  const calls = { vjp: 0, jvp: 0, vmap: 0 };
  // A straight-through estimator: rounds forward, passes gradients through unchanged.
  const ste = mx.customFunction((x: mx.Array) => mx.round(x))
    .vjp((_primals, ct) => { calls.vjp++; return [ct]; })
    .jvp((_primals, [t]) => { calls.jvp++; return t; })
    .vmap(([x], [ax]) => { calls.vmap++; return [mx.round(x), ax]; });
  const x = f64([0.4, 1.6, -2.2]);
  close(ste(x), [0, 2, -2]);
  close(mx.grad((x: mx.Array) => mx.sum(mx.multiply(ste(x), x)))(x), [0 + 0.4, 2 + 1.6, -2 - 2.2]);
  const [, [t]] = mx.jvp(ste, [x], [f64([1, 2, 3])]);
  close(t, [1, 2, 3]);
  close(mx.vmap(ste, 0, 0)(x), [0, 2, -2]);
  assert.deepEqual(calls, { vjp: 1, jvp: 1, vmap: 1 });
});

test('customFunction: trees in and out, gradients for several primals, higher order', () => {
  const f = mx.customFunction((p: { a: mx.Array; b: mx.Array }, c: mx.Array) => ({ prod: mx.multiply(mx.multiply(p.a, p.b), c), c }))
    .vjp(([p, c], ct) => [{ a: mx.multiply(ct.prod, mx.multiply(p.b, c)), b: mx.multiply(ct.prod, mx.multiply(p.a, c)) }, mx.add(mx.multiply(ct.prod, mx.multiply(p.a, p.b)), ct.c)]);
  const a = f64([1, 2]), b = f64([3, 4]), c = f64([5, 6]);
  const g = mx.grad((p: { a: mx.Array; b: mx.Array }, c: mx.Array) => { const o = f(p, c); return mx.sum(mx.add(o.prod, o.c)); }, [0, 1])({ a, b }, c);
  close(g[0].a, [15, 24]);
  close(g[0].b, [5, 12]);
  close(g[1], [4, 9]);
  // The user's vjp is built from ops, so it can be differentiated again.
  const cube = mx.customFunction((x: mx.Array) => mx.power(x, 3)).vjp(([x], ct) => [mx.multiply(ct, mx.multiply(mx.square(x), 3))]);
  close(mx.grad(mx.grad(cube))(f64(2)), [12]);
});

test('customFunction: a vjp rule returning the wrong number of gradients is reported', () => {
  const f = mx.customFunction((x: mx.Array, y: mx.Array) => mx.add(x, y)).vjp((_p, ct) => [ct] as never);
  assert.throws(() => mx.grad((x: mx.Array) => mx.sum(f(x, x)))(f64([1])), /^Error: \[customFunction\] the vjp rule must return a list with one gradient per primal \(2\), got 1 entries/);
});

// maximum's vjp reads its forward inputs before the cotangent: without ordering the
// recomputation after the cotangents, every block would be recomputed up front.
const block = (h: mx.Array) => { for (let i = 0; i < 8; i++) h = mx.maximum(mx.sin(h), mx.multiply(h, 0.1)); return h; };
const chain = (blk: (h: mx.Array) => mx.Array) => (x: mx.Array) => { let h = x; for (let b = 0; b < 8; b++) h = blk(h); return mx.sum(h); };

test('checkpoint: same values and gradients, also at higher order and under vmap', () => {
  const x = f64(xs);
  const ck = mx.checkpoint(block);
  close(ck(x), block(x));
  close(mx.grad(chain(ck))(x), mx.grad(chain(block))(x));
  const second = (blk: (h: mx.Array) => mx.Array) => mx.grad((x: mx.Array) => mx.sum(mx.grad(chain(blk))(x)))(x);
  close(second(ck), second(block), onGpu ? 1e-4 : 1e-10);
  close(mx.vmap(mx.grad(chain(ck)))(mx.reshape(f64([...xs, ...xs]), [2, 3])), mx.reshape(mx.grad(chain(block))(mx.reshape(f64([...xs, ...xs]), [2, 3])), [2, 3]));
});

test('checkpoint lowers peak memory on a deep chain', () => {
  const n = 1 << 15;
  const x = mx.array(new Float32Array(n).map((_, i) => (i % 7) / 7));
  mx.eval(x);
  const peakOf = (f: (x: mx.Array) => mx.Array): [number, number[]] => {
    const base = mx.getActiveMemory();
    mx.resetPeakMemory();
    const g = mx.grad(f)(x);
    mx.eval(g);
    const peak = mx.getPeakMemory() - base;
    const vals = [...g.dataSync()].map(Number);
    g.dispose();
    return [peak, vals];
  };
  const [plain, g1] = peakOf(chain(block));
  const [ckpt, g2] = peakOf(chain(mx.checkpoint(block)));
  assert.deepEqual(g2, g1);
  const mb = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;
  assert.ok(ckpt < plain / 2, `checkpointed peak ${mb(ckpt)} should be well under the plain peak ${mb(plain)}`);
});
