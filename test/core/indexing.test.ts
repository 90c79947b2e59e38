// Indexing: what the NumPy goldens cannot show. Out-of-range index values (clamped reads,
// dropped writes), duplicate writes, the transform rules of every indexing primitive
// (checked by finite differences, vjp/jvp agreement and vmap against a loop), and laziness.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as mx from '../../src/index.js';
import { Case, InputSpec, checkGradients, checkVmap, vmapVariants } from '../transforms/check.js';

const f64 = (shape: number[], more: Partial<InputSpec> = {}): InputSpec => ({ shape, ...more });
const ints = (shape: number[], values: number[]): InputSpec => ({ shape, dtype: 'int32', values });
const i32 = (shape: number[], lo: number, hi: number): InputSpec => ({ shape, dtype: 'int32', lo, hi });
const lastOp = (y: mx.Array) => y._node?.prim.name;
/** Primitive names on the first-input chain below y. */
const primsBelow = (y: mx.Array | undefined): string[] => (y?._node ? [y._node.prim.name, ...primsBelow(y._node.inputs[0])] : []);

// ---------------------------------------------------------------- out-of-range and duplicates

test('reads clamp out-of-range index values after wrapping negatives once', () => {
  const a = mx.array([10, 11, 12, 13]);
  assert.deepEqual(mx.take(a, [-1, -4, 4, 100, -5, -100]).tolist(), [13, 10, 13, 13, 10, 10]);
  const m = mx.reshape(mx.arange(12), [3, 4]);
  assert.deepEqual(mx.takeAlongAxis(m, mx.array([[5], [-9], [2]]), 1).tolist(), [[3], [4], [10]]);
  assert.deepEqual(mx.index(m, [7, -7], 0).tolist(), [8, 0]);
  // A window clamps as a whole so that it fits.
  assert.deepEqual(mx.gather(m, mx.array([3]), 1, [3, 2]).tolist(), [[[2, 3], [6, 7], [10, 11]]]);
  assert.deepEqual(mx.slice(m, mx.array([-1, 10]), [0, 1], [2, 2]).tolist(), [[6, 7], [10, 11]]);
});

test('writes drop updates whose index is out of range', () => {
  const z = mx.zeros([4], 'int32');
  assert.deepEqual(mx.scatterAdd(z, mx.array([1, 4, -5, -1]), mx.array([[1], [2], [3], [4]]), 0).tolist(), [0, 1, 0, 4]);
  assert.deepEqual(mx.scatter(z, mx.array([9]), mx.array([[7]]), 0).tolist(), [0, 0, 0, 0]);
  assert.deepEqual(mx.indexUpdate(z, [[0, 6]], 5).tolist(), [5, 0, 0, 0]);
  assert.deepEqual(mx.indexAdd(z, [[2, -9, 2]], 1).tolist(), [0, 0, 2, 0]);
  assert.deepEqual(mx.putAlongAxis(mx.zeros([2, 2]), mx.array([[1], [2]]), 3, 1).tolist(), [[0, 3], [0, 0]]);
  // A window that would not fit is dropped whole.
  const w = mx.scatter(mx.zeros([2, 3], 'int32'), mx.array([2, 1]), mx.ones([2, 2, 2], 'int32'), 1);
  assert.deepEqual(w.tolist(), [[0, 1, 1], [0, 1, 1]]);
  // Dynamic sliceUpdate clamps its start instead, like slice.
  assert.deepEqual(mx.sliceUpdate(mx.zeros([4], 'int32'), mx.ones([2], 'int32'), mx.array([3]), [0]).tolist(), [0, 0, 1, 1]);
});

test('duplicate writes: the last one wins in scatter and indexUpdate, all accumulate in the reducing forms', () => {
  const z = mx.zeros([3]);
  assert.deepEqual(mx.scatter(z, mx.array([1, 1, 1]), mx.array([[1], [2], [3]]), 0).tolist(), [0, 3, 0]);
  assert.deepEqual(mx.indexUpdate(z, [[2, 0, 2]], mx.array([1, 2, 3])).tolist(), [2, 0, 3]);
  assert.deepEqual(mx.scatterProd(mx.ones([2]), mx.array([0, 0, 1]), mx.array([[2], [3], [4]]), 0).tolist(), [6, 4]);
  assert.deepEqual(mx.scatterMax(z, mx.array([0, 0]), mx.array([[-1], [2]]), 0).tolist(), [2, 0, 0]);
  assert.deepEqual(mx.scatterMin(z, mx.array([2, 2]), mx.array([[-1], [2]]), 0).tolist(), [0, 0, -1]);
  // int32 accumulation wraps like C.
  const big = mx.scatterAdd(mx.array([2147483647]), mx.array([0]), mx.array([[1]]), 0);
  assert.equal(big.item(), -2147483648);
});

test('64-bit and unsigned index arrays work, and index values are read exactly', () => {
  const a = mx.array([1, 2, 3, 4]);
  assert.deepEqual(mx.take(a, mx.array([3n, -1n, 0n])).tolist(), [4, 4, 1]);
  assert.deepEqual(mx.take(a, mx.array([3, 0], 'uint64')).tolist(), [4, 1]);
  assert.deepEqual(mx.indexAdd(a, [mx.array([1, 1], 'uint8')], 10).tolist(), [1, 22, 3, 4]);
});

// ---------------------------------------------------------------- the index helper

test('index() builds one slice and at most one gather, and returns the input for a full index', () => {
  const a = mx.reshape(mx.arange(24, null, null, 'float32'), [2, 3, 4]);
  assert.equal(mx.index(a), a);
  assert.equal(mx.index(a, '...'), a);
  assert.equal(mx.index(a, mx.s(), mx.s(null, null, 1)), a);
  const basic = mx.index(a, 1, mx.s(null, null, -1));
  assert.equal(lastOp(basic), 'reshape');
  assert.equal(basic._node!.inputs[0]._node!.prim.name, 'slice');
  // a[1:, [0, 2]]: slice, gather, then the index dims move into place.
  const adv = mx.index(a, mx.s(1), [0, 2]);
  assert.deepEqual(adv.shape, [1, 2, 4]);
  assert.deepEqual(primsBelow(adv).filter((p) => p === 'slice' || p === 'gather'), ['gather', 'slice']);
  assert.deepEqual(primsBelow(mx.index(a, [0, 1], 1)).filter((p) => p === 'transpose'), []);
});

test('index() and friends are lazy: nothing runs until a read', () => {
  const a = mx.reshape(mx.arange(12, null, null, 'float32'), [3, 4]);
  const ys = [mx.index(a, [0, 2], mx.s(1)), mx.indexAdd(a, [[0, 0]], 1), mx.take(a, [1], 0), mx.searchsorted(mx.array([1, 2]), 1.5)];
  for (const y of ys) assert.equal(y.isEvaluated, false);
  mx.eval(ys);
  assert.deepEqual(ys[1].tolist(), [[2, 3, 4, 5], [4, 5, 6, 7], [8, 9, 10, 11]]);
});

test('s() takes start, stop, step in that order; newaxis is null', () => {
  const a = mx.arange(10);
  assert.deepEqual(mx.index(a, mx.s(2)).tolist(), [2, 3, 4, 5, 6, 7, 8, 9]);
  assert.deepEqual(mx.index(a, mx.s(null, 3)).tolist(), [0, 1, 2]);
  assert.deepEqual(mx.index(a, mx.s(8, 2, -3)).tolist(), [8, 5]);
  assert.equal(mx.newaxis, null);
  assert.deepEqual(mx.index(a, mx.newaxis, mx.s(0, 2)).shape, [1, 2]);
  assert.equal(String(mx.s(1, null, 2)), 's(1, null, 2)');
});

test('indexUpdate casts the value to the array dtype and keeps the input unchanged', () => {
  const a = mx.array([1, 2, 3]);
  const b = mx.indexUpdate(a, 0, 9.7);
  assert.equal(b.dtype, mx.int32);
  assert.deepEqual(b.tolist(), [9, 2, 3]);
  assert.deepEqual(a.tolist(), [1, 2, 3]);
  const bools = mx.indexAdd(mx.array([false, true]), [[0, 0]], true);
  assert.deepEqual(bools.tolist(), [true, true]);
});

test('a boolean mask reads are refused with a pointer to where(); writes with a mask work', () => {
  const a = mx.array([[1, -2], [-3, 4]]);
  assert.throws(() => mx.index(a, mx.less(a, 0)), /^Error: \[index\] boolean mask|boolean mask/);
  assert.deepEqual(mx.indexUpdate(a, mx.less(a, 0), 0).tolist(), [[1, 0], [0, 4]]);
  assert.deepEqual(mx.indexAdd(a, [mx.array([true, false]), '...'], mx.array([10, 20])).tolist(), [[11, 18], [-3, 4]]);
  assert.deepEqual(mx.indexUpdate(a, [[[true, false], [false, true]]], 7).tolist(), [[7, -2], [-3, 7]]);
  assert.deepEqual(mx.indexUpdate(a, true, 0).tolist(), [[0, 0], [0, 0]]);
  assert.throws(() => mx.indexUpdate(a, [mx.s(), mx.array([true, false])], 0), /\[indexUpdate\] boolean mask/);
});

// ---------------------------------------------------------------- transform rules

const cases: Record<string, Case[]> = {
  slice: [
    { fn: (x) => mx.index(x, mx.s(null, null, -2), 1), inputs: [f64([5, 3])], label: 'negative step, int' },
    { fn: (x) => mx.stridedSlice(x, [1, null], [null, 0], [2, -1]), inputs: [f64([4, 3])] },
    { fn: (x) => mx.slice(x, [2], [1], [3, 2]), inputs: [f64([3, 5])], label: 'static dynamic-slice' },
  ],
  sliceUpdate: [
    { fn: (x, u) => mx.sliceUpdate(x, u, [1, 1], [0, 1]), inputs: [f64([3, 4]), f64([2, 2])] },
    { fn: (x, u) => mx.indexUpdate(x, [mx.s(null, null, -2)], u), inputs: [f64([5, 2]), f64([2])], label: 'indexUpdate basic' },
    { fn: (x, u) => mx.indexAdd(x, [1, mx.s(1)], u), inputs: [f64([3, 3]), f64([2])], label: 'indexAdd basic' },
  ],
  gather: [
    { fn: (x, i) => mx.take(x, i, 1), inputs: [f64([3, 4]), i32([2, 3], -4, 3)] },
    { fn: (x, i) => mx.take(x, i), inputs: [f64([2, 3]), i32([4], -9, 9)], label: 'flattened, out of range clamps' },
    { fn: (x, i) => mx.gather(x, i, 1, [2, 2]), inputs: [f64([3, 4]), i32([3], -4, 5)], label: 'windows' },
    { fn: (x, i, j) => mx.index(x, i, mx.s(), j), inputs: [f64([3, 2, 4]), i32([2], -3, 2), i32([2, 1], 0, 3)], label: 'index arrays' },
    { fn: (x, s) => mx.slice(x, s, [1], [2, 2]), inputs: [f64([2, 4]), i32([1], -6, 5)], label: 'dynamic slice' },
  ],
  scatter: [
    { fn: (x, i, u) => mx.scatter(x, i, u, 0), inputs: [f64([4, 2]), ints([3], [2, 0, -1]), f64([3, 1, 2])], label: 'none' },
    { fn: (x, i, u) => mx.scatterAdd(x, i, u, 0), inputs: [f64([4, 2]), ints([4], [2, 0, 2, 7]), f64([4, 1, 2])], label: 'sum, duplicate and dropped' },
    { fn: (x, i, u) => mx.scatterProd(x, i, u, 1), inputs: [f64([2, 3]), ints([4], [0, 2, 0, 0]), f64([4, 2, 1], { values: [0.5, 0, 2, -1, 0, 1.5, 3, 0.7] })], label: 'prod with zeros' },
    { fn: (x, i, u) => mx.scatterMax(x, i, u, 0), inputs: [f64([3]), ints([3], [1, 1, 0]), f64([3, 1])], label: 'max' },
    { fn: (x, i, u) => mx.scatterMin(x, i, u, 0), inputs: [f64([3]), ints([3], [1, 1, 0]), f64([3, 1])], label: 'min' },
    { fn: (x, u, s) => mx.sliceUpdate(x, u, s, [1]), inputs: [f64([2, 4]), f64([2, 2]), ints([1], [-1])], label: 'dynamic sliceUpdate' },
    { fn: (x, u) => mx.indexUpdate(x, [mx.s(null, null, -1), [2, 0]], u), inputs: [f64([2, 3]), f64([2, 2])], label: 'indexUpdate arrays' },
    { fn: (x, u) => mx.indexAdd(x, [[1, 1, 0]], u), inputs: [f64([2, 3]), f64([3])], label: 'indexAdd duplicates' },
  ],
  gatherAxis: [
    { fn: (x, i) => mx.takeAlongAxis(x, i, 1), inputs: [f64([2, 3]), i32([2, 4], -4, 3)], label: 'out of range clamps' },
    { fn: (x, i) => mx.takeAlongAxis(x, i, 0), inputs: [f64([3, 2]), i32([2, 1], -3, 2)], label: 'broadcast indices' },
  ],
  scatterAxis: [
    { fn: (x, i, v) => mx.putAlongAxis(x, i, v, 1), inputs: [f64([2, 3]), ints([2, 2], [2, 0, 1, 5]), f64([2, 2])] },
  ],
  searchsorted: [
    { fn: (a, v) => mx.searchsorted(a, v, 'right'), inputs: [f64([4], { values: [-1, 0, 0, 2] }), f64([3])], grad: false },
  ],
};

for (const [prim, list] of Object.entries(cases)) {
  test(`transform rules: ${prim}`, () => {
    list.forEach((c, i) => {
      const where = `${prim}[${i}]${c.label ? ` (${c.label})` : ''}`;
      if (c.grad !== false) checkGradients(c, 100 + i, where);
      if (c.vmap !== false) for (const [j, v] of vmapVariants(c).entries())
        checkVmap(c, 200 + 10 * i + j, `${where} vmap [${v.inAxes.join(',')}] -> ${v.outAxis}`, v.inAxes, v.outAxis);
    });
  });
}
