// Device memory stays flat in long loops (the caching allocator reuses blocks), cached
// blocks are released on demand, and limits are enforced with clear errors.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { skip, rand, mx } from './util.js';
import * as nn from '../../src/nn/index.js';
import * as optim from '../../src/optimizers/index.js';

describe('cuda: memory', { skip }, () => {
  test('10,000 steps of elementwise, matmul and reduction inside tidy keep device memory flat', () => {
    const w = mx.array(rand(64 * 64, 90, -0.1, 0.1), mx.float32, { stream: mx.gpu }).reshape([64, 64]);
    let x = mx.array(rand(16 * 64, 91), mx.float32, { stream: mx.gpu }).reshape([16, 64]);
    mx.eval(w, x);
    let base = -1, cache = -1;
    for (let i = 0; i < 10_000; i++) {
      const next = mx.tidy(() => {
        const h = mx.tanh(mx.matmul(x, w));
        const norm = mx.sqrt(mx.sum(mx.square(h), -1, true));
        return mx.divide(h, mx.add(norm, 1e-3));
      });
      x.dispose();
      x = next;
      if (i === 5) { base = mx.getActiveMemory(); cache = mx.getCacheMemory(); }
      else if (i > 5 && i % 100 === 0) {
        assert.equal(mx.getActiveMemory(), base, `step ${i}: active memory grew`);
        assert.ok(mx.getCacheMemory() <= cache, `step ${i}: cache grew from ${cache} to ${mx.getCacheMemory()}`);
      }
    }
    assert.ok(Number.isFinite(mx.sum(x).item() as number));
    x.dispose(); w.dispose();
  });

  test('10,000 training steps (MLP forward, backward, AdamW update) keep device memory flat with no frees', () => {
    mx.random.seed(7);
    const model = new nn.Sequential(new nn.Linear(16, 64), new nn.GELU(), new nn.Linear(64, 1));
    const x = mx.array(rand(64 * 16, 94), mx.float32, { stream: mx.gpu }).reshape([64, 16]);
    const y = mx.sum(mx.sin(x), 1, true);
    mx.eval(model.parameters(), x, y);
    const lossAndGrad = nn.valueAndGrad(model, (a: mx.Array, b: mx.Array) => nn.losses.mseLoss(model.forward(a) as mx.Array, b));
    const opt = new optim.AdamW(1e-3);
    let base = -1, first = 0, last = 0;
    for (let i = 0; i < 10_000; i++) {
      // tidy frees the step's temporaries; the optimizer frees the parameters and state it replaced.
      last = mx.tidy(() => {
        const [loss, grads] = lossAndGrad(x, y);
        opt.update(model, grads);
        mx.eval(loss, model.parameters(), opt.state);
        return loss.item() as number;
      });
      if (i === 0) first = last;
      if (i === 5) base = mx.getActiveMemory();
      else if (i > 5 && i % 100 === 0) assert.equal(mx.getActiveMemory(), base, `step ${i}: active memory grew`);
    }
    assert.ok(last < first * 0.5, `trains: ${first} -> ${last}`);
  });

  test('memory queries report device memory; clearCache releases cached blocks', () => {
    mx.clearCache();
    const before = mx.getActiveMemory();
    const x = mx.array(rand(1 << 20, 92), mx.float32, { stream: mx.gpu });
    mx.eval(x);
    assert.ok(mx.getActiveMemory() >= before + (4 << 20));
    assert.ok(mx.getPeakMemory() >= mx.getActiveMemory());
    x.dispose();
    assert.equal(mx.getActiveMemory(), before);
    assert.ok(mx.getCacheMemory() >= 4 << 20);
    mx.clearCache();
    assert.equal(mx.getCacheMemory(), 0);
  });

  test('the memory limit is enforced (after releasing the cache) with a clear error', () => {
    const old = mx.setMemoryLimit(mx.getActiveMemory() + (1 << 20));
    try {
      assert.throws(() => mx.eval(mx.zeros([1 << 20], mx.float32, { stream: mx.gpu })), /\[memory\].*memory limit/);
    } finally {
      mx.setMemoryLimit(old);
    }
  });

  test('the cache limit trims cached blocks', () => {
    const old = mx.setCacheLimit(1 << 20);
    try {
      const xs = [0, 1, 2].map((k) => mx.array(rand(1 << 20, 93 + k), mx.float32, { stream: mx.gpu }));
      mx.eval(xs);
      mx.dispose(xs);
      assert.ok(mx.getCacheMemory() <= 1 << 20, `cache ${mx.getCacheMemory()} past its limit`);
    } finally {
      mx.setCacheLimit(old);
    }
  });
});
