// Random bits on the GPU are the CPU's bits exactly (Threefry-2x32 with MLX's layout), for
// every width, odd and even word counts, and split keys; distributions built on them agree.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { skip, assertMatches, mx } from './util.js';

const on = (stream: mx.Device) => ({ stream });

describe('cuda: random', { skip }, () => {
  test('bits equal the CPU bits', () => {
    for (const seed of [0, 7, 2 ** 40 + 3]) for (const width of [4, 2, 1]) for (const shape of [[], [1], [3], [5, 7], [2, 3, 11], [0]]) {
      const g = mx.random.bits(shape, width, mx.random.key(seed, on(mx.gpu)), on(mx.gpu));
      const c = mx.random.bits(shape, width, mx.random.key(seed, on(mx.cpu)), on(mx.cpu));
      assertMatches(g, c, `bits(${shape}, width ${width}) seed ${seed}`);
    }
  });

  test('split keys and distributions', () => {
    const kg = mx.random.key(42, on(mx.gpu)), kc = mx.random.key(42, on(mx.cpu));
    assertMatches(mx.random.split(kg, 5, on(mx.gpu)), mx.random.split(kc, 5, on(mx.cpu)), 'split');
    assertMatches(mx.random.uniform(0, 1, [64, 33], mx.float32, kg, on(mx.gpu)), mx.random.uniform(0, 1, [64, 33], mx.float32, kc, on(mx.cpu)), 'uniform');
    assertMatches(mx.random.normal([1000], mx.float32, null, null, kg, on(mx.gpu)), mx.random.normal([1000], mx.float32, null, null, kc, on(mx.cpu)), 'normal', { rtol: 1e-5, atol: 1e-6 });
    const p = mx.random.permutation(50, 0, kg, on(mx.gpu));
    assert.deepEqual([...(p.dataSync() as Uint32Array)], [...(mx.random.permutation(50, 0, kc, on(mx.cpu)).dataSync() as Uint32Array)], 'permutation');
  });
});
