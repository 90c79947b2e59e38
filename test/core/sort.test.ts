// Sorting beyond the NumPy goldens: partition, argpartition and topk checked by their
// defining properties on long lines (their exact order is unspecified), stability on long
// lines with ties, lines along inner axes, and the gradients through the permutation.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as mx from '../../src/index.js';
import { Case, checkGradients, checkVmap, rng } from '../transforms/check.js';

const r = rng(17);
/** NumPy's order: NaN last, otherwise by value. */
const cmp = (a: number, b: number) => (Number.isNaN(a) ? (Number.isNaN(b) ? 0 : 1) : Number.isNaN(b) ? -1 : a < b ? -1 : a > b ? 1 : 0);
const same = (a: number, b: number) => a === b || (Number.isNaN(a) && Number.isNaN(b));
/** Values compared as NumPy does: -0 equals 0. */
const plain = (xs: number[]) => xs.map((v) => v + 0);

const patterns: Record<string, (n: number) => number[]> = {
  random: (n) => Array.from({ length: n }, () => Math.round(r() * 200 - 100) / 4),
  'many ties': (n) => Array.from({ length: n }, () => Math.floor(r() * 3)),
  sorted: (n) => Array.from({ length: n }, (_, i) => i),
  reversed: (n) => Array.from({ length: n }, (_, i) => n - i),
  'all equal': (n) => new Array(n).fill(2),
  'organ pipe': (n) => Array.from({ length: n }, (_, i) => Math.min(i, n - i)),
  'with NaN and inf': (n) => Array.from({ length: n }, (_, i) => (i % 7 === 3 ? NaN : i % 11 === 5 ? -Infinity : i % 13 === 0 ? Infinity : r())),
};

function checkPartition(vals: number[], kth: number, part: number[], idx: number[], where: string): void {
  const sorted = [...vals].sort(cmp);
  assert.ok(same(part[kth], sorted[kth]), `${where}: element ${kth} is ${part[kth]}, the sorted order has ${sorted[kth]}`);
  for (let i = 0; i < kth; i++) assert.ok(cmp(part[i], part[kth]) <= 0, `${where}: ${part[i]} at ${i} is after the pivot ${part[kth]}`);
  for (let i = kth + 1; i < vals.length; i++) assert.ok(cmp(part[i], part[kth]) >= 0, `${where}: ${part[i]} at ${i} is before the pivot ${part[kth]}`);
  assert.deepEqual(plain([...part].sort(cmp)), plain(sorted), `${where}: not a permutation`);
  assert.deepEqual([...idx].sort((a, b) => a - b), vals.map((_, i) => i), `${where}: indices are not a permutation`);
  idx.forEach((k, i) => assert.ok(same(vals[k], part[i]), `${where}: argpartition disagrees with partition at ${i}`));
}

test('partition and argpartition put the kth element in place, smaller before and larger after', () => {
  for (const [name, make] of Object.entries(patterns)) {
    for (const n of [5, 17, 100, 1000]) {
      const vals = make(n);
      for (const kth of [0, 1, n >> 1, n - 2, n - 1]) {
        const x = mx.array(vals, 'float64');
        const part = [...mx.partition(x, kth).dataSync()].map(Number);
        const idx = [...mx.argpartition(x, kth).dataSync()].map(Number);
        checkPartition(vals, kth, part, idx, `${name}, n ${n}, kth ${kth}`);
      }
    }
  }
});

test('partition along an inner axis and for every dtype family', () => {
  const vals = Array.from({ length: 40 * 3 }, () => Math.floor(r() * 60 - 30));
  for (const dtype of ['int32', 'int64', 'float16', 'bfloat16', 'uint8'] as const) {
    const x = mx.reshape(mx.abs(mx.array(vals, dtype)), [40, 3]);
    const part = mx.partition(x, 25, 0), idx = mx.argpartition(x, -15, 0);
    const h = x.tolist() as number[][], p = part.tolist() as number[][], ix = idx.tolist() as number[][];
    for (let c = 0; c < 3; c++) {
      const col = h.map((row) => Number(row[c]));
      checkPartition(col, 25, p.map((row) => Number(row[c])), col.map((_, i) => ix[i][c]).map((k) => k), `${dtype} column ${c} (values)`);
    }
  }
});

test('topk returns the k largest (NaN counts as largest)', () => {
  for (const [name, make] of Object.entries(patterns)) {
    const vals = make(1200);
    const x = mx.reshape(mx.array(vals, 'float32'), [3, 400]);
    for (const k of [0, 1, 7, 99, 400]) {
      const top = mx.topk(x, k).tolist() as number[][];
      for (let row = 0; row < 3; row++) {
        const want = vals.slice(row * 400, row * 400 + 400).map(Math.fround).sort(cmp).slice(400 - k);
        assert.deepEqual(plain(top[row].sort(cmp)), plain(want), `${name}, k ${k}, row ${row}`);
      }
    }
  }
  assert.deepEqual(mx.topk(mx.array([[5, 1], [2, 9], [4, 4]]), 1, 0).tolist(), [[5, 9]]);
});

test('argsort is stable on long lines with ties, along any axis', () => {
  const n = 2000;
  const vals = Array.from({ length: n }, () => Math.floor(r() * 5));
  vals[7] = NaN; vals[3] = NaN; vals[100] = -0; vals[50] = 0;
  const want = vals.map((v, i) => i).sort((a, b) => cmp(vals[a], vals[b]) || a - b);
  assert.deepEqual([...mx.argsort(mx.array(vals, 'float64')).dataSync()], want);
  // the same line along axis 0 of a (n, 2) array
  const col = mx.broadcastTo(mx.reshape(mx.array(vals, 'float64'), [n, 1]), [n, 2]);
  const idx = mx.argsort(col, 0).tolist() as number[][];
  assert.deepEqual(idx.map((row) => row[1]), want);
  assert.deepEqual(plain((mx.sort(col, 0).tolist() as number[][]).map((row) => row[0]).slice(0, 5)), [0, 0, 0, 0, 0]);
});

test('argsort agrees with a stable reference for every key width', () => {
  for (const dtype of ['float32', 'float16', 'bfloat16', 'int8', 'uint8', 'int16', 'uint16', 'int32', 'uint32', 'int64', 'uint64', 'bool', 'float64'] as const) {
    const d = mx.dtypes[dtype];
    const raw = Array.from({ length: 700 }, (_, i) => (d.isFloat ? (i % 17 === 3 ? NaN : i % 29 === 1 ? -Infinity : Math.round(r() * 800 - 400) / 8) : Math.floor(r() * 300 - 150)));
    const ints = raw.map((v) => (d.kind === 'uint' ? Math.abs(v) : v));
    const x = d.isBig ? mx.array(ints.map((v) => BigInt(v)), dtype) : mx.array(d.isFloat ? raw : ints, dtype);
    const vals = [...x.dataSync()].map(Number);
    const want = vals.map((_, i) => i).sort((a, b) => cmp(vals[a], vals[b]) || a - b);
    assert.deepEqual([...mx.argsort(x).dataSync()], want, dtype);
    assert.deepEqual(plain([...mx.sort(x).dataSync()].map(Number)), plain(want.map((i) => vals[i])), `${dtype} values`);
  }
  const wide = mx.array([-(2n ** 62n), 2n ** 62n, -1n, 0n, 2n ** 40n, -(2n ** 40n)], 'int64');
  assert.deepEqual(mx.sort(wide).tolist(), [-(2n ** 62n), -(2n ** 40n), -1n, 0n, 2n ** 40n, 2n ** 62n]);
});

test('sort keeps NaN last for halves along an inner axis', () => {
  const x = mx.array([[3, NaN], [NaN, 1], [-Infinity, 2]], 'float16');
  assert.deepEqual(mx.sort(x, 0).tolist(), [[-Infinity, 1], [3, 2], [NaN, NaN]]);
  assert.deepEqual(mx.argsort(x, 0).tolist(), [[2, 1], [0, 2], [1, 0]]);
});

test('errors and output dtypes', () => {
  const x = mx.zeros([2, 3]);
  assert.throws(() => mx.partition(x, 3), /^Error: \[partition\] kth 3 is out of bounds for axis 1 of size 3 in shape \(2,3\)/);
  assert.throws(() => mx.topk(x, 4), /^Error: \[topk\] k=4 is out of range for axis 1 of size 3/);
  assert.throws(() => mx.sort(mx.array(1)), /^Error: \[sort\] axis -1 is out of bounds for an array of dimension 0/);
  assert.deepEqual(mx.sort(mx.array(1), null).tolist(), [1]);
  assert.equal(mx.argsort(x).dtype, mx.uint32);
  assert.equal(mx.argpartition(x, 0).dtype, mx.uint32);
  assert.equal(mx.sort(mx.array([1, 2], 'int8')).dtype, mx.int8);
});

test('gradients flow through the permutation', () => {
  const w = mx.array([1, 10, 100], 'float64');
  const g = mx.grad((a: mx.Array) => mx.sum(mx.multiply(mx.sort(a), w)))(mx.array([3, 1, 2], 'float64')) as mx.Array;
  assert.deepEqual(g.tolist(), [100, 1, 10]);
  const t = mx.grad((a: mx.Array) => mx.sum(mx.multiply(mx.topk(a, 2), mx.array([1, 10], 'float64'))))(mx.array([5, 9, 1], 'float64')) as mx.Array;
  assert.deepEqual(t.tolist(), [1, 10, 0]);
  const f64 = (shape: number[]) => ({ shape });
  const cases: [string, Case][] = [
    ['sort along axis 0 of 3-d', { fn: (x) => mx.sort(x, 0), inputs: [f64([3, 2, 2])] }],
    ['partition along axis 1', { fn: (x) => mx.partition(x, 2, 1), inputs: [f64([2, 5])] }],
    ['topk of the flattened array', { fn: (x) => mx.topk(x, 3, null), inputs: [f64([2, 3])] }],
  ];
  for (const [name, c] of cases) {
    checkGradients(c, 13, name);
    for (const ax of [0, -1]) checkVmap(c, 3, `${name}, in axis ${ax}`, [ax], 0);
  }
  checkVmap({ fn: (x) => mx.argsort(x, -1), inputs: [f64([2, 4])] }, 3, 'argsort', [1], 0);
  checkVmap({ fn: (x) => mx.argpartition(x, 1, 0), inputs: [f64([4, 2])] }, 3, 'argpartition', [0], 1);
});
