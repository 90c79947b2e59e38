// Shape ops on the GPU (strided copies; reshape shares the buffer) give the CPU's results
// for every element size.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { skip, rand, check, pair, assertMatches, mx } from './util.js';

const d = mx.dtypes;
const SIZES = [d.bool, d.int16, d.float16, d.float32, d.int64]; // 1, 2, 2, 4 and 8 bytes
const input = (shape: number[], dtype: mx.DType, seed = 70) => ({ values: rand(shape.reduce((a, b) => a * b, 1), seed, -50, 50), shape, dtype });

describe('cuda: shape ops', { skip }, () => {
  test('transpose, broadcast, reshape', () => {
    for (const dt of SIZES) {
      check(`transpose ${dt.name}`, [input([3, 4, 5], dt)], (x) => mx.transpose(x, [2, 0, 1]));
      check(`transpose 2-d ${dt.name}`, [input([65, 33], dt)], (x) => mx.transpose(x));
      check(`batched transpose (tiled) ${dt.name}`, [input([4, 33, 65], dt)], (x) => mx.transpose(x, [0, 2, 1]));
      check(`transpose with batch gaps ${dt.name}`, [input([3, 40, 2, 36], dt)], (x) => mx.transpose(x, [2, 3, 0, 1]));
      check(`broadcastTo ${dt.name}`, [input([3, 1, 5], dt)], (x) => mx.broadcastTo(x, [2, 3, 4, 5]));
      check(`reshape ${dt.name}`, [input([6, 4], dt)], (x) => mx.reshape(mx.transpose(x), [2, 12]));
    }
  });

  test('reshape shares the buffer', () => {
    const { gpu } = pair(rand(12, 71), [3, 4], d.float32);
    gpu.eval();
    const r = mx.reshape(gpu, [4, 3]).eval();
    assert.equal(r._buf, gpu._buf);
  });

  test('strided slices (negative steps too) and slice updates', () => {
    for (const dt of SIZES) {
      check(`stridedSlice ${dt.name}`, [input([9, 8, 7], dt)], (x) => mx.stridedSlice(x, [8, 1, 0], [null, 7, 7], [-2, 3, 1]));
      check(`sliceUpdate ${dt.name}`, [input([6, 5], dt), input([3, 5], dt, 72)], (x, u) => mx.sliceUpdate(x, u, [1, 0], [0, 1]));
      check(`indexUpdate step ${dt.name}`, [input([6, 5], dt), input([3, 5], dt, 74)], (x, u) => mx.indexUpdate(x, [mx.s(null, null, 2)], u));
    }
  });

  test('concatenate, split, pad, diagonal', () => {
    for (const dt of SIZES) {
      check(`concatenate ${dt.name}`, [input([2, 3, 4], dt), input([2, 5, 4], dt, 73)], (a, b) => mx.concatenate([a, b, a], 1));
      check(`split ${dt.name}`, [input([4, 9], dt)], (x) => mx.split(x, [2, 7], 1)[1]);
      check(`split rows ${dt.name}`, [input([6, 3], dt)], (x) => mx.split(x, 3, 0)[2]);
      check(`pad constant ${dt.name}`, [input([3, 4], dt)], (x) => mx.pad(x, [[1, 2], [0, 3]], 'constant', 7));
      check(`pad edge ${dt.name}`, [input([3, 4], dt)], (x) => mx.pad(x, [[2, 1], [1, 1]], 'edge'));
      check(`diagonal ${dt.name}`, [input([5, 6, 7], dt)], (x) => mx.diagonal(x, 1, 0, 2));
    }
  });

  test('arange', () => {
    for (const dt of [d.float32, d.bfloat16, d.int32, d.int64, d.uint8])
      assertMatches(mx.arange(2, 40, 3, dt, { stream: mx.gpu }), mx.arange(2, 40, 3, dt, { stream: mx.cpu }), `arange ${dt.name}`);
  });
});
