// grad, valueAndGrad, vjp and jvp: trees, argnums, aux outputs, composition, errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as mx from '../../src/index.js';

// float64 on the CPU; float32 with float32 tolerances when the GPU is the default device
// (npm run test:gpu), which has no float64.
const onGpu = mx.defaultDevice().type === 'gpu';
const F = onGpu ? 'float32' : 'float64';
const TOL = onGpu ? 1e-4 : 1e-9;
const f64 = (v: number[] | number) => mx.array(v, F);
const close = (a: mx.Array, b: mx.Array | number[], tol = TOL, msg = '') => {
  const x = [...a.dataSync()].map(Number), y = b instanceof mx.Array ? [...b.dataSync()].map(Number) : b;
  assert.equal(x.length, y.length, `${msg} length`);
  x.forEach((v, i) => assert.ok(Math.abs(v - y[i]) <= tol * (1 + Math.abs(y[i])), `${msg} element ${i}: ${v} vs ${y[i]}`));
};
const xs = [0.3, -1.2, 2.0];

test('grad of sin, and of its grad (higher order)', () => {
  const x = f64(xs);
  const f = (x: mx.Array) => mx.sum(mx.sin(x));
  close(mx.grad(f)(x), xs.map(Math.cos));
  const d2 = mx.grad((x: mx.Array) => mx.sum(mx.grad(f)(x)));
  close(d2(x), xs.map((v) => -Math.sin(v)));
  const d3 = mx.grad((x: mx.Array) => mx.sum(d2(x)));
  close(d3(x), xs.map((v) => -Math.cos(v)));
  // On a scalar, as in MLX's docs.
  close(mx.grad(mx.grad(mx.sin))(f64(0.5)), [-Math.sin(0.5)]);
});

test('per-example gradients: vmap of grad equals a loop of grad', () => {
  const w = f64([0.5, -0.3, 0.8]);
  const X = mx.reshape(f64([1, 2, 3, -1, 0.5, 2, 0, 1, -2, 3, 1, 1]), [4, 3]);
  const Y = f64([1, -1, 0.5, 2]);
  const loss = (w: mx.Array, x: mx.Array, y: mx.Array) => mx.square(mx.subtract(mx.sum(mx.multiply(w, x)), y));
  const perExample = mx.vmap(mx.grad(loss), [null, 0, 0])(w, X, Y);
  assert.deepEqual(perExample.shape, [4, 3]);
  const rows = X.tolist() as number[][], ys = Y.tolist() as number[];
  const loop = rows.flatMap((r, i) => [...mx.grad(loss)(w, f64(r), f64(ys[i])).dataSync()].map(Number));
  close(perExample, loop);
});

test('Hessian-vector product: jvp of grad matches finite differences of grad', () => {
  const f = (x: mx.Array) => mx.add(mx.square(mx.sum(mx.tanh(x))), mx.sum(mx.multiply(mx.power(x, 3), mx.sin(x))));
  const x = f64(xs), v = f64([0.7, -0.2, 0.4]);
  const [, [hvp]] = mx.jvp(mx.grad(f), [x], [v]);
  const h = onGpu ? 1e-2 : 1e-5; // central differences: error h² against rounding eps/h
  const gp = mx.grad(f)(mx.add(x, mx.multiply(v, h))), gm = mx.grad(f)(mx.subtract(x, mx.multiply(v, h)));
  close(hvp, mx.divide(mx.subtract(gp, gm), 2 * h), onGpu ? 2e-3 : 1e-7);
  // Forward-over-reverse agrees with reverse-over-reverse.
  const hvp2 = mx.grad((x: mx.Array) => mx.sum(mx.multiply(mx.grad(f)(x), v)))(x);
  close(hvp, hvp2);
});

test('gradients come back in the shape of tree arguments', () => {
  const params = { w: f64([1, 2]), layers: [f64(3), { b: f64([0.5, -1]) }], name: 'net' };
  const f = (p: typeof params, x: mx.Array) =>
    mx.sum(mx.multiply(mx.add(mx.multiply(p.w, x), (p.layers[1] as { b: mx.Array }).b), p.layers[0] as mx.Array));
  const g = mx.grad(f)(params, f64([2, 4]));
  assert.equal(g.name, 'net');
  close(g.w, [6, 12]);
  close(g.layers[0] as mx.Array, [1 * 2 + 0.5 + 2 * 4 - 1]);
  close((g.layers[1] as { b: mx.Array }).b, [3, 3]);
});

test('argnums: a number, a list, any order', () => {
  const f = (a: mx.Array, b: mx.Array, c: mx.Array) => mx.sum(mx.multiply(mx.multiply(a, mx.square(b)), mx.exp(c)));
  const a = f64([1, 2]), b = f64([3, -1]), c = f64([0, 0.5]);
  close(mx.grad(f, 1)(a, b, c), [2 * 1 * 3 * 1, 2 * 2 * -1 * Math.exp(0.5)]);
  const [gc, ga] = mx.grad(f, [2, 0])(a, b, c);
  close(ga, [9, Math.exp(0.5)]);
  close(gc, [9, 2 * Math.exp(0.5)]);
  assert.throws(() => mx.grad(f, 3)(a, b, c), /^Error: \[grad\] argnums 3 is out of range for a call with 3 arguments/);
});

test('valueAndGrad returns [loss, aux...] and the gradient of the loss', () => {
  const f = (x: mx.Array) => [mx.sum(mx.square(x)), mx.multiply(x, 10), { mean: mx.divide(mx.sum(x), 3) }] as const;
  const [[loss, aux, extra], g] = mx.valueAndGrad(f)(f64(xs));
  close(loss, [xs.reduce((s, v) => s + v * v, 0)]);
  close(aux, xs.map((v) => 10 * v));
  close(extra.mean, [(0.3 - 1.2 + 2) / 3]);
  close(g, xs.map((v) => 2 * v));
  const [value, grads] = mx.valueAndGrad((a: mx.Array, b: mx.Array) => mx.sum(mx.multiply(a, b)), [0, 1])(f64([1, 2]), f64([3, 4]));
  close(value, [11]);
  close(grads[0], [3, 4]);
  close(grads[1], [1, 2]);
});

test('vjp and jvp take lists of primals and return one result per output', () => {
  const f = (x: mx.Array, y: mx.Array) => [mx.multiply(x, y), mx.sin(x)];
  const x = f64([1, 2]), y = f64([3, 4]);
  const [outs, [gx, gy]] = mx.vjp(f, [x, y], [f64([1, 1]), f64([2, 0])]);
  close(outs[0], [3, 8]);
  close(gx, [3 + 2 * Math.cos(1), 4]);
  close(gy, [1, 2]);
  const [, [t0, t1]] = mx.jvp(f, [x, y], [f64([1, 0]), f64([0, 1])]);
  close(t0, [3, 2]);
  close(t1, [Math.cos(1), 0]);
  // A single output may take a bare cotangent.
  const [[o], [g]] = mx.vjp((x: mx.Array) => mx.exp(x), [x], f64([1, 1]));
  close(o, [Math.E, Math.exp(2)]);
  close(g, [Math.E, Math.exp(2)]);
});

test('stopGradient blocks gradients; unrelated and integer paths give zeros', () => {
  const x = f64(xs);
  close(mx.grad((x: mx.Array) => mx.sum(mx.multiply(x, mx.stopGradient(x))))(x), xs);
  close(mx.grad((_x: mx.Array) => mx.sum(f64([1, 2])))(x), [0, 0, 0]);
  close(mx.grad((x: mx.Array) => mx.sum(mx.astype(mx.astype(mx.multiply(x, 3), 'int32'), F)))(x), [0, 0, 0]);
  close(mx.grad((x: mx.Array) => mx.sum(x))(x), [1, 1, 1]);
  const [, [t]] = mx.jvp((x: mx.Array) => mx.stopGradient(mx.sin(x)), [x], [f64([1, 1, 1])]);
  close(t, [0, 0, 0]);
});

test('evaluating inside the traced function keeps the graph', () => {
  let seen = 0;
  const f = (x: mx.Array) => {
    const y = mx.sin(x);
    mx.eval(y);
    const loss = mx.sum(mx.multiply(y, y));
    seen = loss.item() as number;
    return loss;
  };
  close(mx.grad(f)(f64(xs)), xs.map((v) => 2 * Math.sin(v) * Math.cos(v)));
  assert.ok(seen > 0);
  // A primal that is itself unevaluated, and reused afterwards.
  const p = mx.multiply(f64(xs), 2);
  close(mx.grad((x: mx.Array) => mx.sum(mx.square(x)))(p), xs.map((v) => 4 * v));
  close(p, xs.map((v) => 2 * v));
});

test('deep graphs do not overflow the stack', () => {
  const f = (x: mx.Array) => { let h = x; for (let i = 0; i < 5000; i++) h = mx.add(mx.multiply(h, 0.999), 0.001); return mx.sum(h); };
  close(mx.grad(f)(f64([1, 2])), [0.999 ** 5000, 0.999 ** 5000], onGpu ? 1e-3 : 1e-9);
});

test('errors', () => {
  const x = f64(xs);
  assert.throws(() => mx.grad((x: mx.Array) => mx.sin(x))(x), /^Error: \[grad\] fn must return a scalar loss \(an array with one element\), got an array of shape \(3,\)/);
  assert.throws(() => mx.grad((x: mx.Array) => mx.sum(mx.astype(x, F)))(mx.array([1, 2])), /^TypeError: \[grad\] cannot differentiate with respect to argument 0: it holds an array of dtype int32/);
  assert.throws(() => mx.valueAndGrad((x: mx.Array) => x)(x), /^Error: \[valueAndGrad\] fn must return a scalar loss/);
  assert.throws(() => mx.grad((_x: mx.Array) => 3 as unknown as mx.Array)(x), /^TypeError: \[grad\] fn must return a scalar array/);
  assert.throws(() => mx.vjp((x: mx.Array) => mx.sin(x), [x], [f64([1, 2])]), /^Error: \[vjp\] cotangent 0 has shape \(2,\) but output 0 has shape \(3,\)/);
  assert.throws(() => mx.vjp((x: mx.Array) => [mx.sin(x), x], [x], [x]), /^Error: \[vjp\] got 1 cotangent for 2 output arrays/);
  assert.throws(() => mx.jvp((x: mx.Array) => mx.sin(x), [x], [f64(1)]), /^Error: \[jvp\] tangent 0 has shape \(\) but primal 0 has shape \(3,\)/);
});
