// Reductions beyond the NumPy goldens: the unrolled and row-accumulating kernel paths on
// long inputs, NaN and tie handling across lanes, dtype choices, errors, and gradient and
// vmap checks of cases the shared rule table does not reach.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as mx from '../../src/index.js';
import { Case, checkGradients, checkVmap, rng } from '../transforms/check.js';

const r = rng(42);
const randomF64 = (n: number) => Float64Array.from({ length: n }, () => r() * 4 - 2);
const list = (a: mx.Array) => [...a.dataSync()].map(Number);

function close(got: number[], want: number[], where: string, tol = 1e-9): void {
  assert.equal(got.length, want.length, `${where}: length`);
  got.forEach((g, i) => assert.ok(Math.abs(g - want[i]) <= tol * (1 + Math.abs(want[i])) || (Number.isNaN(g) && Number.isNaN(want[i])), `${where}: element ${i}: ${g} vs ${want[i]}`));
}

/** Reference reduction of a row-major (rows, cols) matrix over axis 0 or 1. */
function ref2d(v: ArrayLike<number>, rows: number, cols: number, axis: 0 | 1, f: (xs: number[]) => number): number[] {
  const out: number[] = [];
  if (axis === 1) for (let i = 0; i < rows; i++) out.push(f(Array.from({ length: cols }, (_, j) => v[i * cols + j])));
  else for (let j = 0; j < cols; j++) out.push(f(Array.from({ length: rows }, (_, i) => v[i * cols + j])));
  return out;
}
const fsum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
const fmax = (xs: number[]) => (xs.some(Number.isNaN) ? NaN : Math.max(...xs));
const fargmax = (xs: number[]) => { const n = xs.findIndex(Number.isNaN); return n >= 0 ? n : xs.indexOf(Math.max(...xs)); };
const fargmin = (xs: number[]) => { const n = xs.findIndex(Number.isNaN); return n >= 0 ? n : xs.indexOf(Math.min(...xs)); };

test('long rows and row accumulation agree with a plain loop (sizes not multiples of the unrolling)', () => {
  for (const [rows, cols] of [[3, 1003], [1003, 3], [7, 5], [5, 7], [1, 17], [17, 1], [19, 9], [41, 23]] as const) {
    const v = randomF64(rows * cols);
    v[(rows * cols) >> 1] = 5; v[rows * cols - 1] = 5; // ties
    const x = mx.reshape(mx.array(v), [rows, cols]);
    for (const axis of [0, 1] as const) {
      const where = `(${rows},${cols}) axis ${axis}`;
      close(list(mx.sum(x, axis)), ref2d(v, rows, cols, axis, fsum), `sum ${where}`);
      close(list(mx.max(x, axis)), ref2d(v, rows, cols, axis, fmax), `max ${where}`);
      close(list(mx.min(x, axis)), ref2d(v, rows, cols, axis, (xs) => Math.min(...xs)), `min ${where}`);
      close(list(mx.argmax(x, axis)), ref2d(v, rows, cols, axis, fargmax), `argmax ${where}`, 0);
      close(list(mx.argmin(x, axis)), ref2d(v, rows, cols, axis, fargmin), `argmin ${where}`, 0);
      close(list(mx.logsumexp(x, axis)), ref2d(v, rows, cols, axis, (xs) => Math.log(fsum(xs.map(Math.exp)))), `logsumexp ${where}`);
    }
  }
});

test('float32 sums accumulate in float64 and round once', () => {
  const v = new Float32Array(100003).fill(0.1);
  const exact = Math.fround(100003 * Math.fround(0.1));
  assert.equal(mx.sum(mx.array(v)).item(), exact);
  assert.equal(mx.sum(mx.reshape(mx.array(v.subarray(0, 100000)), [10000, 10]), 0).dataSync()[3], Math.fround(10000 * Math.fround(0.1)));
});

test('NaN wins max/min and the first NaN wins argmax/argmin, in every lane and along the first axis', () => {
  for (const [len, pos] of [[41, 0], [41, 3], [41, 13], [41, 40], [300, 7], [300, 64], [300, 131], [300, 250], [300, 299]]) {
    const v = randomF64(len);
    const other = (pos + 97) % len;
    v[pos] = NaN;
    v[other] = NaN;
    const first = Math.min(pos, other);
    const x = mx.array(v);
    const where = `length ${len}, NaN at ${pos} and ${other}`;
    assert.ok(Number.isNaN(mx.max(x).item() as number), `max, ${where}`);
    assert.ok(Number.isNaN(mx.min(x).item() as number), `min, ${where}`);
    assert.equal(mx.argmax(x).item(), first, `argmax, ${where}`);
    assert.equal(mx.argmin(x).item(), first, `argmin, ${where}`);
    const col = mx.reshape(x, [len, 1]);
    assert.equal(mx.argmax(col, 0).item(), first, `argmax over rows, ${where}`);
    assert.ok(Number.isNaN(mx.max(mx.broadcastTo(col, [len, 3]), 0).dataSync()[2]), `max over rows, ${where}`);
  }
  // A NaN after larger values, and Inf before a NaN.
  assert.ok(Number.isNaN(mx.max(mx.array([1, 9, 100, NaN, 3])).item() as number));
  assert.equal(mx.argmax(mx.array([Infinity, 1, NaN, Infinity])).item(), 2);
});

test('ties go to the first occurrence across lanes', () => {
  const v = new Float32Array(64).fill(1);
  v[37] = 7; v[9] = 7; v[60] = 7;
  assert.equal(mx.argmax(mx.array(v)).item(), 9);
  v.fill(-Infinity);
  assert.equal(mx.argmax(mx.array(v)).item(), 0);
  assert.equal(mx.argmin(mx.array(v)).item(), 0);
  const long = new Float32Array(400).fill(0);
  long[300] = 7; long[150] = 7; long[70] = 7; long[10] = 6; long[399] = -1;
  assert.equal(mx.argmax(mx.array(long)).item(), 70);
  assert.equal(mx.argmin(mx.array(long)).item(), 399);
  long[399] = 0; long[63] = -2; long[64] = -2;
  assert.equal(mx.argmin(mx.array(long)).item(), 63);
  const ints = mx.array([3, 9, 9, 1, 9, 0, 0, 9, 9, 1], 'int64');
  assert.equal(mx.argmax(ints).item(), 1);
  assert.equal(mx.argmin(ints).item(), 5);
});

test('non-adjacent axes and size-1 axes', () => {
  const v = randomF64(2 * 1 * 3 * 1 * 4);
  const x = mx.reshape(mx.array(v), [2, 1, 3, 1, 4]);
  const want: number[] = [];
  for (let j = 0; j < 3; j++) want.push(fsum([0, 1].flatMap((i) => [0, 1, 2, 3].map((k) => v[i * 12 + j * 4 + k]))));
  close(list(mx.sum(x, [0, 4, 1])), want, 'sum over (0,1,4)');
  assert.deepEqual(mx.sum(x, [0, 4, 1]).shape, [3, 1]);
  assert.deepEqual(mx.sum(x, [0, 4, 1], true).shape, [1, 1, 3, 1, 1]);
  const sm = mx.softmax(x, [0, 4]);
  close(list(mx.sum(sm, [0, 4])), [1, 1, 1], 'softmax over (0,4) sums to one');
});

test('dtypes follow MLX', () => {
  const i8 = mx.array([100, 100, 100], 'int8');
  assert.equal(mx.sum(i8).dtype, mx.int32);
  assert.equal(mx.sum(i8).item(), 300);
  assert.equal(mx.prod(mx.array([true, true])).dtype, mx.int32);
  assert.equal(mx.sum(mx.array([1, 2], 'uint16')).dtype, mx.uint32);
  assert.equal(mx.sum(mx.array([1, 2], 'int64')).dtype, mx.int64);
  assert.equal(mx.max(i8).dtype, mx.int8);
  assert.equal(mx.argmax(i8).dtype, mx.uint32);
  assert.equal(mx.mean(mx.array([1, 2], 'int32')).dtype, mx.float32);
  assert.equal(mx.var(mx.array([1, 2], 'float16')).dtype, mx.float16);
  assert.equal(mx.std(mx.array([1, 2], 'bfloat16')).dtype, mx.bfloat16);
  assert.equal(mx.logsumexp(mx.array([1, 2], 'int32')).dtype, mx.float32);
  assert.equal(mx.softmax(mx.array([1, 2], 'int32')).dtype, mx.float32);
  assert.equal(mx.softmax(mx.array([1, 2], 'bfloat16'), null, true).dtype, mx.bfloat16);
  assert.equal(mx.all(mx.array([1, 2])).dtype, mx.bool);
  // a half mean does not overflow through its sum
  assert.equal(mx.mean(mx.full([100], 1000, 'float16')).item(), 1000);
});

test('shapes: keepdims, 0-d inputs, argmax without an axis', () => {
  const x = mx.reshape(mx.arange(24, null, null, 'float32'), [2, 3, 4]);
  assert.deepEqual(mx.max(x, null, true).shape, [1, 1, 1]);
  assert.deepEqual(mx.argmax(x, null, true).shape, [1, 1, 1]);
  assert.deepEqual(mx.argmax(x).shape, []);
  assert.equal(mx.argmax(x).item(), 23);
  assert.deepEqual(mx.argmin(x, -2, true).shape, [2, 1, 4]);
  const s = mx.array(3.5);
  assert.equal(mx.sum(s).item(), 3.5);
  assert.equal(mx.argmax(s).item(), 0);
  assert.equal(mx.softmax(s).item(), 1);
  assert.equal(mx.logsumexp(s).item(), 3.5);
  assert.equal(mx.var(s).item(), 0);
});

test('errors name the op, the axis and the shape', () => {
  const x = mx.zeros([2, 0]);
  assert.throws(() => mx.max(x, 1), /^Error: \[max\] cannot reduce an empty axis: axis 1 of shape \(2,0\) has size 0/);
  assert.throws(() => mx.argmin(x), /^Error: \[argmin\] cannot reduce an empty axis/);
  assert.throws(() => mx.sum(mx.zeros([2, 3]), [1, -1]), /^Error: \[sum\] repeated axis/);
  assert.throws(() => mx.mean(mx.zeros([2, 3]), 2), /^Error: \[mean\] axis 2 is out of bounds for an array of dimension 2/);
  assert.throws(() => mx.argmax(mx.zeros([2, 3]), [0] as never), /^TypeError: \[argmax\] axis must be one integer or null/);
  assert.deepEqual(mx.sum(x, 1).tolist(), [0, 0]);
});

const f64 = (shape: number[], values?: number[]) => ({ shape, values });
const gradCases: [string, Case][] = [
  ['prod with several zeros in a group', { fn: (x) => mx.prod(x, [0, 2]), inputs: [f64([2, 2, 2], [0, 1.5, 2, 0, -1, 0, 0.5, 3])] }],
  ['prod with one zero over all', { fn: (x) => mx.prod(x), inputs: [f64([5], [1.2, -0.7, 0, 2, 1.1])] }],
  ['max over two axes', { fn: (x) => mx.max(x, [0, 2]), inputs: [f64([2, 3, 2])] }],
  ['min keepdims', { fn: (x) => mx.min(x, -1, true), inputs: [f64([3, 4])] }],
  ['softmax over non-adjacent axes', { fn: (x) => mx.softmax(x, [0, 2]), inputs: [f64([2, 2, 3])] }],
  ['logsumexp over axes 0 and 1, keepdims', { fn: (x) => mx.logsumexp(x, [0, 1], true), inputs: [f64([2, 3, 2])] }],
  ['logsumexp of large values', { fn: (x) => mx.logsumexp(x, 1), inputs: [f64([2, 2], [1000, 1001, -1000, -999])] }],
  ['mean', { fn: (x) => mx.mean(x, 1), inputs: [f64([2, 3])] }],
  ['var with ddof', { fn: (x) => mx.var(x, 0, false, 1), inputs: [f64([3, 2])] }],
  ['std', { fn: (x) => mx.std(x, null), inputs: [f64([2, 3])] }],
];
for (const [name, c] of gradCases) test(`gradients: ${name}`, () => checkGradients(c, 7, name));

test('max gradient is split evenly among ties', () => {
  const g = mx.grad((x: mx.Array) => mx.sum(mx.max(x, 1)))(mx.array([[1, 3, 3], [2, 0, 1]], 'float64')) as mx.Array;
  assert.deepEqual(g.tolist(), [[0, 0.5, 0.5], [1, 0, 0]]);
});

test('vmap of reductions moves the batch axis', () => {
  const cases: [string, Case][] = [
    ['sum (0,2)', { fn: (x) => mx.sum(x, [0, 2]), inputs: [f64([2, 3, 2])] }],
    ['argmax', { fn: (x) => mx.argmax(x, 1), inputs: [f64([2, 3])] }],
    ['softmax', { fn: (x) => mx.softmax(x, 0), inputs: [f64([3, 2])] }],
    ['logsumexp', { fn: (x) => mx.logsumexp(x, -1, true), inputs: [f64([3, 2])] }],
    ['all', { fn: (x) => mx.all(x, 0), inputs: [f64([3, 2])] }],
  ];
  for (const [name, c] of cases) for (const ax of [0, 1, -1]) checkVmap(c, 3, `${name}, in axis ${ax}`, [ax], 0);
});
