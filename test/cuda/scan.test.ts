// Scans on the GPU give the CPU backend's results: every op, forward and reverse,
// inclusive and exclusive, over rows (one block per row), long rows split into chunks,
// many columns (a thread per column) and few long columns (transposed into rows).
import { describe, test } from 'node:test';
import { skip, rand, check, mx } from './util.js';

const d = mx.dtypes;
type Scan = (a: mx.Array, axis?: number | null, reverse?: boolean, inclusive?: boolean) => mx.Array;
const scan = (name: string) => (mx as unknown as Record<string, Scan>)[name];

const SHAPES: [number[], number[]][] = [
  [[7, 50], [-1, 0]],     // short rows; many short columns
  [[3, 3000], [-1]],      // rows of several tiles
  [[2, 40000], [-1]],     // few long rows: chunked (totals, carries, scan)
  [[300, 9], [0]],        // few long-ish columns: transposed into rows
  [[4, 5, 6], [1]],       // a middle axis
  [[0, 4], [0, 1]],       // empty
];

describe('cuda: scans', { skip }, () => {
  for (const op of ['cumsum', 'cumprod', 'cummax', 'cummin', 'logcumsumexp']) {
    test(op, () => {
      const dtypes = op === 'logcumsumexp' ? [d.float32, d.float16, d.bfloat16] : [d.float32, d.float16, d.bfloat16, d.int32, d.int8, d.uint8, d.int64, d.uint32, d.bool];
      for (const dt of dtypes) for (const [shape, axes] of SHAPES) for (const axis of axes) for (const [reverse, inclusive] of [[false, true], [true, false], [true, true], [false, false]]) {
        const n = shape.reduce((a, b) => a * b, 1);
        const [lo, hi] = op === 'cumprod' ? (dt.isFloat ? [0.999, 1.001] : [-3, 3]) : dt.isFloat ? [-1, 1] : [-100, 100];
        // Float sums grow like sqrt(n): allow for the error of the CPU's and GPU's roundings to the dtype.
        const tol = dt === d.float32 && op === 'cumsum' ? { atol: 1e-5 } : {};
        check(`${op}(${shape}, ${axis}, reverse ${reverse}, inclusive ${inclusive}) ${dt.name}`,
          [{ values: rand(n, 80 + shape.length, lo, hi), shape, dtype: dt }], (x) => scan(op)(x, axis, reverse, inclusive), tol);
      }
    });
  }

  test('NaN and infinities propagate as on the CPU', () => {
    const v = new Float32Array([1, NaN, 3, -Infinity, 2, Infinity, -Infinity, 0, 5]);
    for (const op of ['cumsum', 'cumprod', 'cummax', 'cummin', 'logcumsumexp'])
      for (const dt of [d.float32, d.float16]) for (const reverse of [false, true])
        check(`${op} specials ${dt.name} reverse ${reverse}`, [{ values: v, shape: [9], dtype: dt }], (x) => scan(op)(x, 0, reverse));
    const inf = new Float32Array([-Infinity, -Infinity, Infinity, 1, Infinity]);
    check('logcumsumexp infinities', [{ values: inf, shape: [5], dtype: d.float32 }], (x) => mx.logcumsumexp(x, 0));
  });

  test('integers wrap in their dtype', () => {
    check('cumsum int8 wraps', [{ values: rand(5000, 90, 50, 120).map(Math.round), shape: [5000], dtype: d.int8 }], (x) => mx.cumsum(x));
    check('cumprod int32 wraps', [{ values: rand(200, 91, 2, 9).map(Math.round), shape: [200], dtype: d.int32 }], (x) => mx.cumprod(x));
    check('cumsum bool -> int32', [{ values: rand(3000, 92), shape: [3000], dtype: d.bool }], (x) => mx.cumsum(x));
  });
});
