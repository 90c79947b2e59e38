// Sorting on the GPU: sort and argsort give the CPU's results exactly (stable, NaN last,
// -0 equal to 0) for lines sorted in shared memory and for long lines merged in global
// memory; partitions are checked by their defining property (any valid order may differ
// from the CPU's), and topk by its sorted values.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { skip, rand, check, pair, mx } from './util.js';

const d = mx.dtypes;
const DTYPES = [d.float32, d.float16, d.bfloat16, d.int8, d.uint8, d.int16, d.int32, d.uint32, d.int64, d.uint64, d.bool];

const SHAPES: [number[], number[]][] = [
  [[5, 37], [-1, 0]],    // short lines, along rows and (strided) columns
  [[3, 4096], [-1]],     // the longest line sorted in shared memory
  [[2, 10000], [-1]],    // runs of 4096 merged twice
  [[1, 1], [0, 1]],
  [[0, 3], [0, 1]],
];

/** Values with many ties (to see stability) in a range every dtype holds. */
const values = (n: number, seed: number, dt: mx.DType) => rand(n, seed, dt.kind === 'uint' ? 0 : -40, 40).map(Math.round);

/** The lines along `axis` of row-major `values` of a 2-D `shape`. */
function hostLines(values: number[], shape: number[], axis: number): number[][] {
  const [r, c] = shape;
  return axis === 1
    ? Array.from({ length: r }, (_, i) => values.slice(i * c, (i + 1) * c))
    : Array.from({ length: c }, (_, j) => Array.from({ length: r }, (_, i) => values[i * c + j]));
}

describe('cuda: sorting', { skip }, () => {
  test('sort and argsort', () => {
    for (const dt of DTYPES) for (const [shape, axes] of SHAPES) for (const axis of axes) {
      const x = { values: values(shape.reduce((a, b) => a * b, 1), 100, dt), shape, dtype: dt };
      check(`sort(${shape}, ${axis}) ${dt.name}`, [x], (a) => mx.sort(a, axis));
      check(`argsort(${shape}, ${axis}) ${dt.name}`, [x], (a) => mx.argsort(a, axis));
    }
  });

  test('NaN last, -0 equals 0, infinities in order', () => {
    const v = new Float32Array([3, NaN, -0, 0, -Infinity, Infinity, NaN, -0, 1, -2, 0, Infinity]);
    for (const dt of [d.float32, d.float16, d.bfloat16]) {
      check(`argsort specials ${dt.name}`, [{ values: v, shape: [12], dtype: dt }], (a) => mx.argsort(a));
      check(`sort specials ${dt.name}`, [{ values: v, shape: [3, 4], dtype: dt }], (a) => mx.sort(a, 0));
    }
    const long = rand(9000, 101);
    for (let i = 0; i < long.length; i += 7) long[i] = i % 2 ? NaN : -0;
    check('argsort long with NaN', [{ values: long, shape: [9000], dtype: d.float32 }], (a) => mx.argsort(a));
  });

  test('partition and argpartition: the kth in place, nothing larger before it or smaller after', () => {
    for (const dt of [d.float32, d.int32, d.float16]) for (const [shape, axis] of [[[6, 33], 1], [[33, 6], 0], [[2, 9000], 1]] as [number[], number][]) {
      const n = shape[axis];
      const vals = values(shape.reduce((a, b) => a * b, 1), 102, dt);
      const { gpu } = pair(vals, shape, dt);
      const x = hostLines(Array.from(gpu.dataSync() as ArrayLike<number>), shape, axis);
      for (const kth of [0, 5, n - 1]) {
        const where = `partition(${shape}, ${kth}, ${axis}) ${dt.name}`;
        const p = mx.partition(gpu, kth, axis), ip = mx.argpartition(gpu, kth, axis);
        assert.equal(p.device.type, 'gpu', where);
        const byValue = hostLines(Array.from(p.dataSync() as ArrayLike<number>), shape, axis);
        const byIndex = hostLines(Array.from(ip.dataSync() as Uint32Array), shape, axis).map((line, l) => line.map((i) => x[l][i]));
        for (const [kind, lines] of [['partition', byValue], ['argpartition', byIndex]] as const) {
          lines.forEach((line, l) => {
            const sorted = [...x[l]].sort((a, b) => a - b);
            assert.deepEqual([...line].sort((a, b) => a - b), sorted, `${where} ${kind} line ${l}: not a permutation`);
            assert.equal(line[kth], sorted[kth], `${where} ${kind} line ${l}: kth value`);
            assert.ok(line.every((v, j) => (j < kth ? v <= line[kth] : j > kth ? v >= line[kth] : true)), `${where} ${kind} line ${l}: not partitioned`);
          });
        }
      }
    }
  });

  test('topk', () => {
    for (const dt of [d.float32, d.bfloat16, d.int64]) {
      const x = { values: values(4 * 5000, 103, dt), shape: [4, 5000], dtype: dt };
      for (const k of [1, 7, 5000]) check(`topk ${k} ${dt.name}`, [x], (a) => mx.sort(mx.topk(a, k), -1));
    }
  });
});
