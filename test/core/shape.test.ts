// Shape ops beyond the NumPy goldens: storage sharing, one-kernel concatenate, build-time
// errors, and the transform rules of each shape primitive, checked directly: every shape
// primitive is linear, so its vjp must be the adjoint (<g, f(x)> = <vjp(g), x>), its jvp
// must be f itself, and its vmap rule must agree with f applied slice by slice.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as mx from '../../src/index.js';
import type { Node } from '../../src/core/array.js';
import { cpuBackend } from '../../src/backend/cpu/index.js';

let seed = 1;
/** Deterministic float64 values in [-1, 1). */
function rand(shape: readonly number[]): mx.Array {
  const n = shape.reduce((a, b) => a * b, 1);
  const v = new Float64Array(n);
  for (let i = 0; i < n; i++) { seed = (seed * 1103515245 + 12345) % 2147483648; v[i] = seed / 1073741824 - 1; }
  return mx.reshape(mx.array(v), shape);
}

function assertClose(a: mx.Array, b: mx.Array, where: string, tol = 1e-9): void {
  assert.deepEqual([...a.shape], [...b.shape], `${where}: shape`);
  const x = a.dataSync(), y = b.dataSync();
  for (let i = 0; i < x.length; i++) assert.ok(Math.abs(Number(x[i]) - Number(y[i])) <= tol, `${where}: element ${i}: ${x[i]} vs ${y[i]}`);
}

const dot = (a: mx.Array, b: mx.Array): number => Number(mx.sum(mx.multiply(a, b)).item());
const list = (y: mx.Array | mx.Array[]) => (Array.isArray(y) ? y : [y]);
const ctxOf = (n: Node) => ({ inputs: n.inputs, outputs: n.outputs, params: n.params as never });

/** <g, f(x)> = <vjp(g), x> for the node's own inputs and outputs. */
function checkAdjoint(node: Node, where: string): (mx.Array | null)[] {
  const gs = node.outputs.map((o) => rand(o.shape));
  const cts = node.prim.vjp!(gs, ctxOf(node));
  assert.equal(cts.length, node.inputs.length, `${where}: one cotangent per input`);
  const lhs = gs.reduce((s, g, i) => s + dot(g, node.outputs[i]), 0);
  const rhs = cts.reduce((s, c, i) => s + (c ? dot(c, node.inputs[i]) : 0), 0);
  cts.forEach((c, i) => c && assert.deepEqual([...c.shape], [...node.inputs[i].shape], `${where}: cotangent ${i} shape`));
  assert.ok(Math.abs(lhs - rhs) <= 1e-9 * (1 + Math.abs(lhs)), `${where}: <g, f(x)> = ${lhs} but <vjp(g), x> = ${rhs}`);
  return cts;
}

/** Slice b of x along axis (squeezed). */
const slice = (x: mx.Array, axis: number, b: number) => mx.squeeze(mx.split(x, x.shape[axis], axis)[b], axis);

/**
 * Checks the vjp, jvp and vmap rules of the primitive `f` binds directly on `inputs`
 * (f must not convert its inputs, so that they are the node's inputs).
 */
function checkRules(where: string, f: (...xs: mx.Array[]) => mx.Array | mx.Array[], inputs: mx.Array[]): void {
  const ys = list(f(...inputs));
  const node = ys[0]._node!;
  assert.ok(node, `${where}: f must build a node`);
  node.inputs.forEach((x, i) => assert.equal(x, inputs[i], `${where}: input ${i} is the node's`));
  checkAdjoint(node, where);

  const ts = inputs.map((x) => rand(x.shape));
  const jv = node.prim.jvp!(ts, ctxOf(node));
  list(f(...ts)).forEach((y, k) => assertClose(jv[k], y, `${where}: jvp output ${k}`));

  // vmap with each input batched alone (at its last axis), then all batched (at axis 0).
  const plans = [...inputs.map((_, i) => inputs.map((_x, j) => (j === i ? inputs[j].ndim : null))), inputs.map(() => 0)];
  for (const axes of plans) {
    const xb = inputs.map((x, i) => (axes[i] === null ? x : mx.stack([0, 1, 2].map(() => rand(x.shape)), axes[i]!)));
    const [outs, outAxes] = node.prim.vmap!(xb, axes, node.params as never);
    const refs = [0, 1, 2].map((b) => list(f(...xb.map((x, i) => (axes[i] === null ? x : slice(x, axes[i]!, b))))));
    outs.forEach((o, k) => assertClose(mx.moveaxis(o, outAxes[k], 0), mx.stack(refs.map((r) => r[k])), `${where}: vmap axes (${axes.join(',')}) output ${k}`));
    assert.equal(outs.length, ys.length, `${where}: vmap output count`);
  }
}

const zero = () => mx.array(0.5, 'float64');

test('transform rules of the shape primitives', () => {
  checkRules('reshape', (x) => mx.reshape(x, [3, 2, 2]), [rand([2, 6])]);
  checkRules('broadcast', (x) => mx.broadcastTo(x, [2, 3, 4]), [rand([3, 1])]);
  checkRules('transpose', (x) => mx.transpose(x, [2, 0, 1]), [rand([2, 3, 4])]);
  checkRules('concatenate', (a, b, c) => mx.concatenate([a, b, c], 1), [rand([2, 1, 3]), rand([2, 3, 3]), rand([2, 2, 3])]);
  checkRules('concatenate -1', (a, b) => mx.concatenate([a, b], -1), [rand([2, 2]), rand([2, 0])]);
  checkRules('split', (x) => mx.split(x, [1, 3], 1), [rand([2, 5, 2])]);
  checkRules('split unsorted', (x) => mx.split(x, [3, 1], 0), [rand([5, 2])]);
  checkRules('pad constant', (x, v) => mx.pad(x, [[1, 0], [2, 3]], 'constant', v), [rand([2, 3]), zero()]);
  checkRules('pad edge', (x) => mx.pad(x, [[2, 1], [0, 3], [1, 1]], 'edge'), [rand([2, 3, 1])]);
  checkRules('diagonal', (x) => mx.diagonal(x, 1, 2, 0), [rand([4, 2, 3])]);
  checkRules('diagonal negative', (x) => mx.diagonal(x, -1), [rand([4, 3])]);
});

test('the crop inside the pad vjp has its own rules', () => {
  const x = rand([3, 4]);
  const y = mx.pad(x, [[1, 2], [0, 1]], 'constant', zero());
  const [gx] = checkAdjoint(y._node!, 'pad');
  assert.equal(gx!._node?.prim.name, 'pad', 'the vjp crops with one pad node');
  checkAdjoint(gx!._node!, 'crop');
});

test('reshape shares storage; broadcastTo and squeeze of the same shape return the input', () => {
  const x = mx.arange(6).eval();
  const y = mx.reshape(x, [2, 3]).eval();
  assert.equal(y._buf, x._buf);
  assert.equal(mx.broadcastTo(x, [6]), x);
  assert.equal(mx.squeeze(x), x);
  assert.equal(mx.pad(x, 0), x);
});

test('concatenate is one kernel into one output', () => {
  const parts = [0, 1, 2].map(() => mx.zeros([1000, 50], 'float32').eval());
  const y = mx.concatenate(parts, 1);
  assert.equal(y._node?.prim.name, 'concatenate');
  assert.deepEqual(y._node?.inputs, parts);
  const before = mx.getActiveMemory();
  mx.resetPeakMemory();
  y.eval();
  assert.equal(mx.getPeakMemory() - before, 3 * 1000 * 50 * 4, 'only the output is allocated');
  // Mixed dtypes are promoted before the one node.
  const z = mx.concatenate([mx.array([1, 2], 'int8'), mx.array([true]), mx.array([0.5], 'float16')]);
  assert.equal(z.dtype, mx.float16);
  assert.deepEqual(z.tolist(), [1, 2, 1, 0.5]);
});

test('split is one node with an output per piece', () => {
  const parts = mx.split(mx.reshape(mx.arange(12), [3, 4]), [1, 2], 1);
  assert.equal(parts.length, 3);
  assert.ok(parts.every((p) => p._node === parts[0]._node));
  assert.deepEqual(parts.map((p) => p.tolist()), [[[0], [4], [8]], [[1], [5], [9]], [[2, 3], [6, 7], [10, 11]]]);
  assert.deepEqual(mx.split(mx.arange(4), []).map((p) => p.tolist()), [[0, 1, 2, 3]]);
});

test('errors are thrown when the node is built, not at eval', () => {
  const a = mx.zeros([2, 3]);
  assert.throws(() => mx.concatenate([a, mx.zeros([3, 2])]), /^Error: \[concatenate\] shapes \(2,3\), \(3,2\) must match/);
  assert.throws(() => mx.split(a, 4, 1), /\[split\] axis 1 of size 3 .* cannot be split into 4 equal sections/);
  assert.throws(() => mx.reshape(a, [4]), /\[reshape\] cannot reshape array of size 6 into shape \(4,\)/);
  assert.throws(() => mx.transpose(a, [0, 0]), /\[transpose\]/);
  assert.throws(() => mx.diagonal(a, 0, 1, 1), /\[diagonal\] axis1 \(1\) and axis2 \(1\)/);
  assert.throws(() => mx.pad(a, [[1, 2]], 'reflect' as 'edge'), /\[pad\] mode/);
  assert.throws(() => mx.roll(a, 1.5), /\[roll\] shift must be an integer/);
  assert.throws(() => mx.diagonal(a, 0.5), /\[diagonal\] offset must be an integer/);
});

test('pad keeps 64-bit and half values exact', () => {
  const big = 2n ** 60n + 1n;
  const x = mx.array([1n, 2n]);
  assert.deepEqual(mx.pad(x, 1, 'constant', big).tolist(), [big, 1n, 2n, big]);
  assert.deepEqual(mx.pad(mx.array([1n, -2n]), [0, 2], 'edge').tolist(), [1n, -2n, -2n, -2n]);
  const h = mx.array([0.1, -0.2], 'bfloat16');
  const hv = h.tolist() as number[];
  assert.deepEqual(mx.pad(h, [1, 0], 'edge').tolist(), [hv[0], ...hv]);
  assert.equal((mx.pad(mx.array([1], 'float64'), [1, 0], 'constant', 0.1).tolist() as number[])[0], 0.1, 'a weak value is not rounded through float32');
  const negZero = mx.pad(mx.array([1], 'float32'), 1, 'constant', mx.array(-0, 'float32')).tolist() as number[];
  assert.ok(Object.is(negZero[0], -0), 'a -0 fill is kept');
});

test('roll, tile and repeat compose without surprises', () => {
  const x = mx.reshape(mx.arange(6), [2, 3]);
  assert.deepEqual(mx.roll(x, [1, -1], [0, 1]).tolist(), [[4, 5, 3], [1, 2, 0]]);
  assert.deepEqual(mx.roll(x, 7).tolist(), [[5, 0, 1], [2, 3, 4]]);
  assert.deepEqual(mx.tile(mx.array([1, 2]), 0).shape, [0]);
  assert.deepEqual(mx.repeat(x, 0, 1).shape, [2, 0]);
});

test('diag and trace', () => {
  assert.deepEqual(mx.diag(mx.array([1, 2]), 1).tolist(), [[0, 1, 0], [0, 0, 2], [0, 0, 0]]);
  const m = mx.reshape(mx.arange(9, null, null, 'int8'), [3, 3]);
  const t = mx.trace(m);
  assert.equal(t.dtype, mx.int8, 'trace keeps the dtype (as MLX)');
  assert.equal(t.item(), 12);
  assert.equal(mx.trace(m, 0, 0, 1, 'float64').dtype, mx.float64);
});

test('the CPU backend implements every shape and creation primitive', () => {
  for (const p of ['reshape', 'broadcast', 'transpose', 'concatenate', 'split', 'pad', 'diagonal', 'arange'])
    assert.ok(!cpuBackend.unimplemented.includes(p), p);
});
