// Indexing on the GPU gives the CPU backend's results: gathers (take, windows of several
// index arrays, along an axis) with negative and out-of-range indices; scatters of every
// reduction with duplicate indices (later writes win; reductions combine); searchsorted.
import { describe, test } from 'node:test';
import { skip, rand, check, pair, assertMatches, mx } from './util.js';

const d = mx.dtypes;
const SIZES = [d.bool, d.int8, d.float16, d.bfloat16, d.float32, d.int32, d.uint32, d.int64, d.uint64];
const input = (shape: number[], dtype: mx.DType, seed = 110, lo = -50, hi = 50) => ({ values: rand(shape.reduce((a, b) => a * b, 1), seed, lo, hi).map(Math.round), shape, dtype });

/** The same index values on the CPU and the GPU. */
function indices(values: number[], shape: number[], dtype: mx.DType = d.int32) {
  return pair(Float32Array.from(values), shape, dtype);
}

/** Runs `fn` with CPU and GPU copies of x and the index arrays and compares. */
function checkIdx(where: string, x: ReturnType<typeof input>, idx: { cpu: mx.Array; gpu: mx.Array }[], fn: (x: mx.Array, ...i: mx.Array[]) => mx.Array): void {
  const p = pair(x.values, x.shape, x.dtype);
  assertMatches(fn(p.gpu, ...idx.map((i) => i.gpu)), fn(p.cpu, ...idx.map((i) => i.cpu)), where);
}

describe('cuda: indexing', { skip }, () => {
  test('take, gather windows and takeAlongAxis (negative indices wrap, out of range clamps)', () => {
    for (const dt of SIZES) {
      const x = input([6, 7, 5], dt);
      for (const idt of [d.int32, d.uint8, d.int64, d.uint64]) {
        const signed = idt.kind === 'int';
        const i = indices(signed ? [0, -1, 5, 9, -9, 2] : [0, 1, 5, 9, 250, 2], [2, 3], idt);
        checkIdx(`take axis 0 ${dt.name} idx ${idt.name}`, x, [i], (a, k) => mx.take(a, k, 0));
        checkIdx(`take axis 1 ${dt.name} idx ${idt.name}`, x, [i], (a, k) => mx.take(a, k, 1));
        checkIdx(`take flat ${dt.name} idx ${idt.name}`, x, [i], (a, k) => mx.take(a, k));
      }
      const i0 = indices([0, 5, -2, 3], [4]), i2 = indices([4, 0, 1, -1], [4], d.int64);
      checkIdx(`gather windows ${dt.name}`, x, [i0, i2], (a, p, q) => mx.gather(a, [p, q], [0, 2], [2, 7, 3]));
      checkIdx(`gather no index arrays ${dt.name}`, x, [], (a) => mx.gather(a, [], [], [3, 2, 5]));
      const along = indices(rand(6 * 4 * 5, 111, -8, 8).map(Math.round) as unknown as number[], [6, 4, 5]);
      checkIdx(`takeAlongAxis ${dt.name}`, x, [along], (a, k) => mx.takeAlongAxis(a, k, 1));
    }
    const big = input([1000, 64], d.float32);
    checkIdx('embedding rows', big, [indices(Array.from(rand(5000, 112, 0, 999), Math.floor), [50, 100])], (a, k) => mx.take(a, k, 0));
  });

  test('scatter and its reductions, with duplicates', () => {
    for (const dt of SIZES) {
      const x = input([5, 4], dt, 113, -5, 5);
      // Index 1 appears three times, -1 wraps to 4, 7 and -9 are out of bounds (dropped).
      const i = indices([1, 3, 1, -1, 7, 1, -9], [7]);
      const u = input([7, 1, 4], dt, 114, -5, 5);
      const ups = pair(u.values, u.shape, dt);
      for (const op of ['scatter', 'scatterAdd', 'scatterProd', 'scatterMax', 'scatterMin'] as const) {
        const f = mx[op] as (a: mx.Array, i: mx.Array, u: mx.Array, axes: number) => mx.Array;
        const p = pair(x.values, x.shape, dt);
        assertMatches(f(p.gpu, i.gpu, ups.gpu, 0), f(p.cpu, i.cpu, ups.cpu, 0), `${op} ${dt.name}`);
      }
      // Two index arrays, windows of 1 x 2 (overlapping windows of one row).
      const r = indices([0, 4, 0, 2], [4]), c = indices([1, 2, 1, 0], [4]);
      const w = input([4, 1, 2], dt, 115, -5, 5);
      for (const op of ['scatter', 'scatterAdd', 'scatterMax'] as const) {
        const f = mx[op] as (a: mx.Array, i: mx.Array[], u: mx.Array, axes: number[]) => mx.Array;
        const p = pair(x.values, x.shape, dt), q = pair(w.values, w.shape, dt);
        assertMatches(f(p.gpu, [r.gpu, c.gpu], q.gpu, [0, 1]), f(p.cpu, [r.cpu, c.cpu], q.cpu, [0, 1]), `${op} windows ${dt.name}`);
      }
    }
    // Many duplicates: float sums differ only in the order of additions.
    const x = input([100], d.float32, 116, -1, 1);
    const i = indices(Array.from(rand(20000, 118, 0, 100), Math.floor), [20000]);
    const p = pair(x.values, x.shape, d.float32), q = pair(rand(20000, 117), [20000, 1], d.float32);
    assertMatches(mx.scatterAdd(p.gpu, i.gpu, q.gpu, 0), mx.scatterAdd(p.cpu, i.cpu, q.cpu, 0), 'scatterAdd many duplicates', { rtol: 1e-4, atol: 1e-4 });
    assertMatches(mx.scatter(p.gpu, i.gpu, q.gpu, 0), mx.scatter(p.cpu, i.cpu, q.cpu, 0), 'scatter many duplicates: the last write wins');
  });

  test('putAlongAxis (scatterAxis), later duplicates win', () => {
    for (const dt of SIZES) {
      const x = input([4, 6], dt, 119);
      const i = indices([0, 5, 0, -1, 9, 2, 3, 3, 3, 1, -7, 0], [4, 3]);
      const v = input([4, 3], dt, 120);
      const p = pair(x.values, x.shape, dt), q = pair(v.values, v.shape, dt);
      assertMatches(mx.putAlongAxis(p.gpu, i.gpu, q.gpu, 1), mx.putAlongAxis(p.cpu, i.cpu, q.cpu, 1), `putAlongAxis ${dt.name}`);
      const j = indices([0, 3, 0, 1, 1, 1, 2, 2, -1, 3, 0, 0], [2, 6]), w = input([2, 6], dt, 121);
      const r = pair(w.values, w.shape, dt);
      assertMatches(mx.putAlongAxis(p.gpu, j.gpu, r.gpu, 0), mx.putAlongAxis(p.cpu, j.cpu, r.cpu, 0), `putAlongAxis axis 0 ${dt.name}`);
    }
  });

  test('searchsorted, left and right, NaN last', () => {
    for (const dt of [d.float32, d.float16, d.bfloat16, d.int32, d.uint8, d.int64]) {
      const sorted = Float32Array.from([0, 1, 1, 1, 3, 7, 7, 20, 40, 41]);
      const v = input([3, 5], dt, 122, -3, 45);
      for (const side of ['left', 'right'] as const)
        check(`searchsorted ${side} ${dt.name}`, [{ values: sorted, shape: [10], dtype: dt }, v], (a, x) => mx.searchsorted(a, x, side));
    }
    const withNan = Float32Array.from([-1, 0, 2, NaN, NaN]);
    for (const side of ['left', 'right'] as const)
      check(`searchsorted NaN ${side}`, [{ values: withNan, shape: [5], dtype: d.float32 }, { values: Float32Array.from([NaN, 2, -5, 3]), shape: [4], dtype: d.float32 }], (a, x) => mx.searchsorted(a, x, side));
  });
});
