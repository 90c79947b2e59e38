// Elementwise ops on the GPU give the CPU backend's results on random inputs, for every
// dtype family, with broadcasting, scalars, 0-d and empty arrays.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { skip, rand, check, pair, mx } from './util.js';

const d = mx.dtypes;
const FLOATS = [d.float32, d.float16, d.bfloat16];
const INTS = [d.int8, d.uint8, d.int16, d.uint16, d.int32, d.uint32, d.int64, d.uint64];
const ALL = [...FLOATS, ...INTS, d.bool];

type Op1 = (x: mx.Array) => mx.Array;
const fn1 = (name: string): Op1 => (x) => (mx as unknown as Record<string, Op1>)[name](x);
const fn2 = (name: string) => (a: mx.Array, b: mx.Array) => (mx as unknown as Record<string, (a: mx.Array, b: mx.Array) => mx.Array>)[name](a, b);

// Input ranges that keep each function in its domain.
const domain: Record<string, [number, number]> = {
  log: [0.1, 4], log1p: [0, 4], log2: [0.1, 4], log10: [0.1, 4], sqrt: [0, 4], rsqrt: [0.1, 4],
  arcsin: [-0.95, 0.95], arccos: [-0.95, 0.95], arctanh: [-0.9, 0.9], erfinv: [-0.9, 0.9], arccosh: [1.05, 4],
  tan: [-1.2, 1.2], reciprocal: [0.25, 4],
};
const FLOAT_UNARY = ['exp', 'expm1', 'log', 'log1p', 'log2', 'log10', 'sqrt', 'rsqrt', 'reciprocal', 'sin', 'cos', 'tan', 'arcsin', 'arccos',
  'arctan', 'sinh', 'cosh', 'tanh', 'arcsinh', 'arccosh', 'arctanh', 'erf', 'erfinv', 'sigmoid'];
const ANY_UNARY = ['abs', 'negative', 'sign', 'square', 'floor', 'ceil', 'round', 'isnan', 'isinf', 'isfinite', 'logicalNot', 'stopGradient'];

describe('cuda: elementwise', { skip }, () => {
  test('packed 16-byte loops: every width, lengths with a scalar tail, fused', () => {
    for (const n of [1, 7, 8, 1001, 4099]) for (const dt of [d.float32, d.bfloat16, d.float16, d.int8, d.int64, d.bool]) {
      const a = { values: rand(n, 60, -5, 5), shape: [n], dtype: dt }, b = { values: rand(n, 61, -5, 5), shape: [n], dtype: dt };
      check(`maximum (${n}) ${dt.name}`, [a, b], fn2('maximum'));
      check(`greater then astype (${n}) ${dt.name}`, [a], (x) => mx.astype(mx.greater(x, 0), d.float32));
      if (dt.isFloat) check(`exp (${n}) ${dt.name}`, [a], fn1('exp'));
    }
    const f = mx.compile((x: mx.Array, y: mx.Array) => mx.multiply(mx.exp(x), y));
    for (const n of [9, 1027]) check(`compiled (${n})`, [{ values: rand(n, 62), shape: [n], dtype: d.bfloat16 }, { values: rand(n, 63), shape: [n], dtype: d.bfloat16 }], (x, y) => f(x, y) as mx.Array);
  });

  test('float unary ops (float32, float16, bfloat16)', () => {
    for (const op of FLOAT_UNARY) for (const dt of FLOATS) {
      const [lo, hi] = domain[op] ?? [-3, 3];
      check(`${op} ${dt.name}`, [{ values: rand(1000, 1, lo, hi), shape: [10, 100], dtype: dt }], fn1(op));
    }
  });

  test('unary ops on every dtype', () => {
    for (const op of ANY_UNARY) for (const dt of ALL) {
      if (op === 'negative' && dt === d.bool) continue;
      check(`${op} ${dt.name}`, [{ values: rand(777, 2, -100, 100), shape: [7, 111], dtype: dt }], fn1(op));
    }
    for (const dt of [...INTS, d.bool]) check(`bitwiseInvert ${dt.name}`, [{ values: rand(300, 3, -100, 100), shape: [300], dtype: dt }], fn1('bitwiseInvert'));
    check('round(x, 2)', [{ values: rand(300, 4, -10, 10), shape: [300], dtype: d.float32 }], (x) => mx.round(x, 2));
    check('round(x, -1) int32', [{ values: rand(300, 4, -1000, 1000), shape: [300], dtype: d.int32 }], (x) => mx.round(x, -1));
  });

  test('NaN and infinities', () => {
    const v = new Float32Array([NaN, Infinity, -Infinity, 0, -0, 1, -1, 65504, 1e30]);
    for (const op of ['isnan', 'isinf', 'isfinite', 'abs', 'exp', 'sign', 'floor', 'logicalNot']) {
      for (const dt of FLOATS) check(`${op} ${dt.name} specials`, [{ values: v, shape: [9], dtype: dt }], fn1(op));
    }
    check('maximum with NaN', [{ values: v, shape: [9], dtype: d.float32 }, { values: v.slice().reverse(), shape: [9], dtype: d.float32 }], fn2('maximum'));
    check('minimum with NaN', [{ values: v, shape: [9], dtype: d.float32 }, { values: v.slice().reverse(), shape: [9], dtype: d.float32 }], fn2('minimum'));
  });

  test('binary arithmetic with broadcasting, every dtype', () => {
    const ops = ['add', 'subtract', 'multiply', 'floorDivide', 'remainder', 'maximum', 'minimum', 'power',
      'equal', 'notEqual', 'less', 'lessEqual', 'greater', 'greaterEqual', 'logicalAnd', 'logicalOr'];
    for (const op of ops) for (const dt of ALL) {
      if (dt === d.bool && ['subtract', 'floorDivide', 'remainder'].includes(op)) continue;
      const [lo, hi] = op === 'power' ? (dt.isFloat ? [0.1, 3] : [-3, 6]) : [-50, 50];
      check(`${op} ${dt.name}`, [
        { values: rand(3 * 5, 5, lo, hi), shape: [3, 1, 5], dtype: dt },
        { values: rand(4 * 5, 6, op === 'power' ? -2 : lo, op === 'power' ? 5 : hi), shape: [4, 5], dtype: dt },
      ], fn2(op));
    }
    for (const op of ['divide', 'arctan2', 'logaddexp']) for (const dt of FLOATS) {
      check(`${op} ${dt.name}`, [{ values: rand(200, 7, -5, 5), shape: [2, 100], dtype: dt }, { values: rand(100, 8, -5, 5), shape: [100], dtype: dt }], fn2(op));
    }
  });

  test('integer division and remainder by zero give 0; shifts saturate', () => {
    const a = new Float32Array([7, -7, 7, -7, 0, 5, -128, 100]);
    const b = new Float32Array([0, 0, -2, 2, 3, -1, -1, 3]);
    for (const dt of [d.int8, d.int32, d.int64, d.uint32]) for (const op of ['floorDivide', 'remainder'])
      check(`${op} ${dt.name}`, [{ values: a, shape: [8], dtype: dt }, { values: b, shape: [8], dtype: dt }], fn2(op));
    const s = new Float32Array([-2, -1, 0, 1, 7, 31, 32, 40, 63, 64, 70, 3]);
    for (const dt of [d.int8, d.uint8, d.int32, d.uint32, d.int64, d.uint64]) for (const op of ['leftShift', 'rightShift', 'bitwiseAnd', 'bitwiseOr', 'bitwiseXor']) {
      const sv = dt.kind === 'uint' ? s.map(Math.abs) : s;
      check(`${op} ${dt.name}`, [{ values: rand(12, 9, -100, 100), shape: [12], dtype: dt }, { values: sv, shape: [12], dtype: dt }], fn2(op));
    }
  });

  test('weak JS scalars, 0-d and empty arrays', () => {
    for (const dt of [d.float32, d.bfloat16, d.int32, d.uint8]) {
      check(`add scalar ${dt.name}`, [{ values: rand(50, 10, 0, 50), shape: [50], dtype: dt }], (x) => mx.add(x, 3));
      check(`multiply 0-d ${dt.name}`, [{ values: rand(1, 11, 1, 5), shape: [], dtype: dt }, { values: rand(6, 12, 0, 9), shape: [2, 3], dtype: dt }], fn2('multiply'));
      check(`negative empty ${dt.name}`, [{ values: new Float32Array(0), shape: [0, 3], dtype: dt }], fn1('negative'));
    }
  });

  test('astype between every pair of dtypes', () => {
    const v = rand(64, 13, -200, 200);
    for (const from of ALL) for (const to of ALL) check(`astype ${from.name} -> ${to.name}`, [{ values: v, shape: [8, 8], dtype: from }], (x) => mx.astype(x, to));
  });

  test('where (select) with broadcasting', () => {
    for (const dt of ALL) {
      check(`where ${dt.name}`, [
        { values: rand(20, 14, -1, 1), shape: [4, 5], dtype: d.bool },
        { values: rand(5, 15, -9, 9), shape: [5], dtype: dt },
        { values: rand(4, 16, -9, 9), shape: [4, 1], dtype: dt },
      ], (c, a, b) => mx.where(c, a, b));
    }
  });

  test('large arrays and strided broadcasts', () => {
    check('add 3M', [{ values: rand(3 << 20, 17), shape: [3, 1 << 20], dtype: d.float32 }, { values: rand(1 << 20, 18), shape: [1 << 20], dtype: d.float32 }], fn2('add'));
    check('multiply strided', [{ values: rand(64 * 33, 19), shape: [64, 1, 33], dtype: d.float16 }, { values: rand(17 * 33, 20), shape: [17, 33], dtype: d.float16 }], fn2('multiply'));
  });

  test('float64 on the GPU is refused, saying so', () => {
    assert.throws(() => mx.array([1, 2], d.float64, { stream: mx.gpu }), /float64 is not supported on the GPU/);
    const x = pair(rand(4, 21), [4], d.float32).gpu;
    assert.throws(() => mx.astype(x, d.float64).eval(), /float64 is not supported on the GPU/);
  });
});
