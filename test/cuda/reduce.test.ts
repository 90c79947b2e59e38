// Reductions on the GPU give the CPU backend's results: every op over the last axis, the
// first, middle, non-adjacent and all axes, sizes that take each kernel shape (warp per row,
// block per row, column-wise, split into partials), NaN handling and argmax ties.
import { describe, test } from 'node:test';
import { skip, rand, check, mx } from './util.js';

const d = mx.dtypes;
const DTYPES = [d.float32, d.float16, d.bfloat16, d.int32, d.int64, d.uint8, d.int8, d.uint32, d.bool];
type Red = (x: mx.Array, axis?: number | number[] | null, keepdims?: boolean) => mx.Array;
const red = (name: string) => (mx as unknown as Record<string, Red>)[name];

/** Float sums differ from the CPU's (double) order of additions: allow error growing with length. */
const sumTol = (dt: mx.DType, n: number) => (dt === d.float32 ? { rtol: 1e-5, atol: 2e-6 * Math.sqrt(n) } : {});

const SHAPES: [number[], (number | number[] | null)[]][] = [
  [[6, 50], [-1, 0, null]],               // short rows (warp per row), columns
  [[3, 3000], [-1, 0]],                   // long rows (block per row), few columns
  [[4, 7, 9], [1, [0, 2], [0, 1], null]], // middle axis, non-adjacent axes (gathered first), leading axes
  [[1 << 18], [0]],                       // one long row: split into partials
  [[20000, 3], [0]],                      // long columns: split into partials
  [[0, 4], [0, 1]],                       // empty reduced axis (identity) and empty output
];

describe('cuda: reductions', { skip }, () => {
  for (const op of ['sum', 'prod', 'max', 'min', 'all', 'any']) {
    test(op, () => {
      for (const dt of DTYPES) for (const [shape, axes] of SHAPES) for (const axis of axes) {
        const n = shape.reduce((a, b) => a * b, 1);
        if ((op === 'max' || op === 'min') && n === 0) continue;
        if (op === 'prod' && n > 5000 && dt.isFloat) continue; // overflows to inf/0 differently
        const [lo, hi] = op === 'prod' ? (dt.isFloat ? [0.9, 1.1] : [-3, 3]) : dt.isFloat ? [-1, 1] : [-100, 100];
        const len = axis === null ? n : [axis].flat().reduce((a, ax) => a * shape[ax < 0 ? ax + shape.length : ax], 1);
        check(`${op}(${shape}, axis ${JSON.stringify(axis)}) ${dt.name}`, [{ values: rand(n, 30 + shape.length, lo, hi), shape, dtype: dt }],
          (x) => red(op)(x, axis, true), op === 'sum' || op === 'prod' ? sumTol(dt, len) : {});
      }
    });
  }

  test('argmax and argmin: first index wins ties, first NaN wins', () => {
    for (const op of ['argmax', 'argmin']) {
      for (const dt of DTYPES) for (const [shape, axes] of SHAPES.slice(0, 5)) for (const axis of axes) {
        if (axis === null || Array.isArray(axis)) continue;
        const n = shape.reduce((a, b) => a * b, 1);
        // Few distinct values, so ties are common.
        check(`${op}(${shape}, ${axis}) ${dt.name}`, [{ values: rand(n, 40, -4, 4).map(Math.round), shape, dtype: dt }], (x) => red(op)(x, axis));
      }
      const v = new Float32Array([1, NaN, 3, NaN, -Infinity, 3]);
      for (const dt of [d.float32, d.float16]) check(`${op} NaN ${dt.name}`, [{ values: v, shape: [6], dtype: dt }], (x) => red(op)(x, 0));
    }
  });

  test('argmax over columns split into chunks: ties and NaNs across chunk boundaries', () => {
    // 4096 rows x 40 columns splits each column into partial (value, index) pairs.
    const rows = 4096, cols = 40;
    const v = rand(rows * cols, 41, -3, 3).map(Math.round);
    for (let c = 0; c < cols; c += 3) v[(rows - 1 - c) * cols + c] = NaN; // a late NaN in some columns
    for (let c = 1; c < cols; c += 4) { v[(10 + c) * cols + c] = 9; v[(3000 + c) * cols + c] = 9; } // a tie far apart
    for (const dt of [d.float32, d.bfloat16]) for (const op of ['argmax', 'argmin'])
      check(`${op} split columns ${dt.name}`, [{ values: v, shape: [rows, cols], dtype: dt }], (x) => red(op)(x, 0));
    check('argmax split columns int32', [{ values: v.map((x) => (Number.isNaN(x) ? 7 : x)), shape: [rows, cols], dtype: d.int32 }], (x) => red('argmax')(x, 0));
    const row = rand(1 << 16, 42, -3, 3).map(Math.round);
    row[60000] = 9; row[20000] = 9;
    check('argmax one long row with a tie', [{ values: row, shape: [1 << 16], dtype: d.float32 }], (x) => red('argmax')(x, 0));
  });

  test('softmax keeps rows on chip (cached) and streams longer ones (online max and sum)', () => {
    for (const n of [300, 4096, 5000, 32768, 40000]) for (const dt of [d.float32, d.bfloat16]) {
      const x = { values: rand(3 * n, 46, -8, 8), shape: [3, n], dtype: dt };
      check(`softmax (3, ${n}) ${dt.name}`, [x], (a) => mx.softmax(a, -1));
      check(`logsumexp (3, ${n}) ${dt.name}`, [x], (a) => mx.logsumexp(a, -1), dt === d.float32 ? { rtol: 1e-5 } : {});
    }
    const v = rand(3 * 5000, 47, -1, 1);
    v[4000] = Infinity; v[5000 + 17] = NaN; for (let j = 0; j < 5000; j++) v[10000 + j] = -Infinity;
    check('softmax specials, long rows', [{ values: v, shape: [3, 5000], dtype: d.float32 }], (a) => mx.softmax(a, -1));
    check('logsumexp specials, long rows', [{ values: v, shape: [3, 5000], dtype: d.float32 }], (a) => mx.logsumexp(a, -1));
  });

  test('max and min propagate NaN', () => {
    const v = new Float32Array(1000).fill(1);
    v[517] = NaN;
    for (const op of ['max', 'min']) for (const shape of [[1000], [10, 100], [100, 10]])
      for (const axis of [0, -1]) check(`${op} NaN ${shape} ${axis}`, [{ values: v, shape, dtype: d.float32 }], (x) => red(op)(x, axis));
  });

  test('logsumexp and softmax over rows, columns and non-adjacent axes', () => {
    for (const dt of [d.float32, d.float16, d.bfloat16, d.int32]) {
      for (const [shape, axes] of [[[6, 50], [-1, 0]], [[3, 3000], [-1]], [[4, 7, 9], [1, [0, 2], null]], [[0, 4], [0]]] as [number[], (number | number[] | null)[]][]) {
        for (const axis of axes) {
          const x = { values: rand(shape.reduce((a, b) => a * b, 1), 45, -5, 5), shape, dtype: dt };
          check(`logsumexp(${shape}, ${JSON.stringify(axis)}) ${dt.name}`, [x], (a) => mx.logsumexp(a, axis, true));
          check(`softmax(${shape}, ${JSON.stringify(axis)}) ${dt.name}`, [x], (a) => mx.softmax(a, axis));
        }
      }
    }
    const v = new Float32Array([1, Infinity, 2, -Infinity, -Infinity, -Infinity, 0, NaN, 1]);
    check('logsumexp specials', [{ values: v, shape: [3, 3], dtype: d.float32 }], (a) => mx.logsumexp(a, -1));
    check('softmax specials', [{ values: v, shape: [3, 3], dtype: d.float32 }], (a) => mx.softmax(a, -1));
  });

  test('mean and var compose on the GPU', () => {
    const x = { values: rand(4096, 50), shape: [64, 64], dtype: d.float32 };
    check('mean', [x], (a) => mx.mean(a, -1), { rtol: 1e-5, atol: 1e-6 });
    check('var', [x], (a) => mx.var(a, 0), { rtol: 1e-4, atol: 1e-6 });
  });
});
