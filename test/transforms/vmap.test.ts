// vmap: axes trees, unbatched outputs, nesting, composition with grad, errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as mx from '../../src/index.js';

// float64 on the CPU; float32 with float32 tolerances when the GPU is the default device
// (npm run test:gpu), which has no float64.
const onGpu = mx.defaultDevice().type === 'gpu';
const F = onGpu ? 'float32' : 'float64';
const TOL = onGpu ? 1e-5 : 1e-12;
const f64 = (v: number[] | number) => mx.array(v, F);
const m = (v: number[], shape: number[]) => mx.reshape(f64(v), shape);
const eq = (a: mx.Array, shape: number[], values: number[]) => {
  assert.deepEqual([...a.shape], shape);
  [...a.dataSync()].map(Number).forEach((v, i) => assert.ok(Math.abs(v - values[i]) <= TOL * (1 + Math.abs(values[i])), `element ${i}: ${v} vs ${values[i]}`));
};

test('inAxes and outAxes as trees', () => {
  const f = (p: { a: mx.Array; b: mx.Array }, c: mx.Array) => [mx.add(p.a, c), { s: mx.multiply(p.b, c) }] as const;
  const a = m([1, 2, 3, 4, 5, 6], [2, 3]); // mapped over axis 1: 3 examples of shape (2,)
  const b = f64([10, 20]); // not mapped
  const c = m([1, 1, 2, 2, 3, 3], [3, 2]); // mapped over axis 0
  const [sum, { s }] = mx.vmap(f, [{ a: 1, b: null }, 0], [1, { s: 0 }])({ a, b }, c);
  // example k: a[:, k] + c[k]
  eq(sum, [2, 3], [2, 4, 6, 5, 7, 9]);
  eq(s, [3, 2], [10, 20, 20, 40, 30, 60]);
});

test('negative axes, and a single outAxes entry for a single output', () => {
  const x = m([1, 2, 3, 4, 5, 6], [2, 3]);
  eq(mx.vmap((v: mx.Array) => mx.multiply(v, 2), -1, [-1])(x), [2, 3], [2, 4, 6, 8, 10, 12]);
  eq(mx.vmap((v: mx.Array) => mx.sum(v), -1)(x), [3], [5, 7, 9]);
});

test('outputs that do not depend on mapped inputs are broadcast (or kept with outAxes null)', () => {
  const x = f64([1, 2, 3]);
  const [a, b] = mx.vmap((v: mx.Array) => [mx.multiply(v, 2), f64([7, 8])], 0, [0, 1])(x);
  eq(a, [3], [2, 4, 6]);
  eq(b, [2, 3], [7, 7, 7, 8, 8, 8]);
  const [c, d] = mx.vmap((v: mx.Array) => [v, f64(5)], 0, [0, null])(x);
  eq(c, [3], [1, 2, 3]);
  eq(d, [], [5]);
});

test('nested vmap makes an outer product', () => {
  const outer = mx.vmap(mx.vmap((a: mx.Array, b: mx.Array) => mx.multiply(a, b), [null, 0]), [0, null]);
  eq(outer(f64([1, 2]), f64([3, 4, 5])), [2, 3], [3, 4, 5, 6, 8, 10]);
});

test('grad of vmap and vmap of grad', () => {
  const x = m([0.1, 0.2, 0.3, 0.4], [2, 2]);
  const g = mx.grad((x: mx.Array) => mx.sum(mx.vmap((r: mx.Array) => mx.sum(mx.sin(r)))(x)))(x);
  eq(g, [2, 2], [0.1, 0.2, 0.3, 0.4].map(Math.cos));
  const pe = mx.vmap(mx.grad((r: mx.Array) => mx.sum(mx.multiply(mx.sin(r), r))), 1, 1)(x);
  eq(pe, [2, 2], [0.1, 0.2, 0.3, 0.4].map((v) => Math.cos(v) * v + Math.sin(v)));
});

test('jvp composes with vmap both ways; empty batches', () => {
  const x = m([0.1, 0.2, 0.3, 0.4], [2, 2]);
  eq(mx.vmap((r: mx.Array) => mx.jvp(mx.sin, [r], [mx.onesLike(r)])[1][0])(x), [2, 2], [0.1, 0.2, 0.3, 0.4].map(Math.cos));
  const [, [t]] = mx.jvp(mx.vmap((r: mx.Array) => mx.sum(mx.sin(r))), [x], [mx.onesLike(x)]);
  eq(t, [2], [Math.cos(0.1) + Math.cos(0.2), Math.cos(0.3) + Math.cos(0.4)]);
  eq(mx.vmap((r: mx.Array) => mx.sum(mx.sin(r)))(mx.zeros([0, 3], F)), [0], []);
  eq(mx.grad((x: mx.Array) => mx.sum(mx.sin(x)))(mx.zeros([0, 3], F)), [0, 3], []);
});

test('errors', () => {
  const f = (a: mx.Array, b: mx.Array) => mx.add(a, b);
  assert.throws(() => mx.vmap(f)(f64([1, 2, 3]), f64([1, 2])),
    /^Error: \[vmap\] mapped axes have different sizes: args\[0\] has size 3 at axis 0, args\[1\] has size 2 at axis 0/);
  assert.throws(() => mx.vmap(f, [0, 2])(f64([1, 2]), m([1, 2, 3, 4], [2, 2])),
    /^Error: \[vmap\] inAxes 2 is out of range for args\[1\] of shape \(2,2\)/);
  assert.throws(() => mx.vmap(f, [0, -3])(f64([1, 2]), m([1, 2, 3, 4], [2, 2])), /^Error: \[vmap\] inAxes -3 is out of range/);
  assert.throws(() => mx.vmap(f, [0])(f64([1, 2]), f64([1, 2])), /^Error: \[vmap\] inAxes does not match the structure/);
  assert.throws(() => mx.vmap(f, null)(f64([1, 2]), f64([1, 2])), /^Error: \[vmap\] no input is mapped/);
  assert.throws(() => mx.vmap((a: mx.Array) => mx.sum(a), 0, 1)(f64([1, 2])), /^Error: \[vmap\] outAxes 1 is out of range for output, which has 1 dimensions once batched/);
  assert.throws(() => mx.vmap((a: mx.Array) => a, 0, null)(f64([1, 2])), /^Error: \[vmap\] output depends on a mapped input, but its outAxes is null/);
  assert.throws(() => mx.vmap((a: mx.Array) => { a.item(); return a; })(f64([1, 2])), /^Error: \[vmap\] fn read the values of a mapped input/);
});
