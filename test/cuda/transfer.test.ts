// Arrays move between the CPU and the GPU with the same values, in both directions, for
// every dtype; reads are synchronous (dataSync) and asynchronous (await data()); data
// larger than the pinned staging arena moves in chunks.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { skip, rand, assertMatches, mx } from './util.js';
import { prefetchHost } from '../../src/core/eval.js';

const GPU_DTYPES = mx.allDtypes.filter((d) => d.name !== 'float64');

describe('cuda: moving arrays between devices', { skip }, () => {
  test('mx.gpu is the default device where there is a GPU', () => {
    assert.equal(mx.defaultDevice().type, process.env.LATHE_DEFAULT_DEVICE === 'cpu' ? 'cpu' : 'gpu');
  });

  test('prefetchHost: a read waits for the work queued before the prefetch only; the ring of slots wraps', () => {
    const src = mx.array(rand(4096, 90), mx.float32);
    const token = mx.argmax(src, -1);
    mx.eval(token);
    prefetchHost([token]);
    // Work queued after the prefetch: ~20 ms of matmuls the read must not wait for.
    const a = mx.random.normal([4096, 4096]);
    let y = a;
    for (let i = 0; i < 40; i++) y = mx.matmul(y, a);
    mx.eval(y);
    const t = performance.now();
    const got = token.item();
    const waited = performance.now() - t;
    const later = performance.now();
    y.dataSync();
    const rest = performance.now() - later;
    assert.equal(got, mx.argmax(mx.array(src, null, { stream: mx.cpu }), -1).item());
    assert.ok(waited < rest, `the prefetched read waited ${waited.toFixed(2)} ms, the work queued after it took ${rest.toFixed(2)} ms more`);
    // More prefetches than slots: the early ones are finished into host memory, all read right.
    const many = Array.from({ length: 40 }, (_, i) => mx.add(mx.arange(0, 8, 1, 'int32'), i));
    mx.eval(many);
    prefetchHost(many);
    many.forEach((m, i) => assert.deepEqual(m.tolist(), Array.from({ length: 8 }, (_, j) => i + j), `array ${i}`));
  });

  test('CPU -> GPU -> CPU keeps values, for every dtype', () => {
    for (const dt of GPU_DTYPES) {
      const cpu = mx.array(rand(1000, 80, -300, 300), dt, { stream: mx.cpu });
      const gpu = mx.array(cpu, null, { stream: mx.gpu });
      assert.equal(gpu.device.type, 'gpu');
      assertMatches(gpu, cpu, `to gpu ${dt.name}`, { rtol: 0, atol: 0 });
      const back = mx.array(gpu, null, { stream: mx.cpu });
      assert.deepEqual(back.dataSync(), cpu.dataSync(), `back to cpu ${dt.name}`);
    }
  });

  test('astype across streams converts and moves in one step', () => {
    const cpu = mx.array(rand(500, 81, -100, 100), mx.float32, { stream: mx.cpu });
    for (const dt of GPU_DTYPES) {
      const gpu = mx.astype(cpu, dt, { stream: mx.gpu });
      assertMatches(gpu, mx.astype(cpu, dt), `astype to gpu ${dt.name}`, { rtol: 0, atol: 0 });
      const back = mx.astype(gpu, mx.float32, { stream: mx.cpu });
      assert.equal(back.device.type, 'cpu');
      assert.deepEqual(back.dataSync(), mx.astype(mx.astype(cpu, dt), mx.float32).dataSync(), `astype back ${dt.name}`);
    }
  });

  test('ops mixing devices copy inputs to the op stream', () => {
    const a = mx.array([1, 2, 3], mx.float32, { stream: mx.cpu });
    const b = mx.array([10, 20, 30], mx.float32, { stream: mx.gpu });
    const c = mx.add(a, b, { stream: mx.gpu });
    assert.deepEqual([...c.dataSync()], [11, 22, 33]);
  });

  test('await data() and large transfers (past the 16 MiB staging arena)', async () => {
    const n = 6 << 20; // 24 MiB of float32
    const v = rand(n, 82);
    const gpu = mx.array(v, mx.float32, { stream: mx.gpu });
    const doubled = mx.multiply(gpu, 2);
    const got = await doubled.data();
    assert.equal(got.length, n);
    for (const i of [0, 1, n >> 1, n - 1]) assert.equal(got[i], Math.fround(v[i] * 2));
    assert.equal(mx.sum(mx.equal(mx.divide(doubled, 2), gpu)).item(), n);
  });

  test('item, tolist and printing read from the GPU', () => {
    const x = mx.array([[1, 2], [3, 4]], mx.int32, { stream: mx.gpu });
    assert.equal(mx.sum(x).item(), 10);
    assert.deepEqual(x.tolist(), [[1, 2], [3, 4]]);
    assert.match(String(x), /1, 2/);
  });
});
