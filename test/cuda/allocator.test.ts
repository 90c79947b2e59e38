// The allocator's size classes (pure arithmetic: runs without a GPU).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sizeClass } from '../../src/backend/cuda/allocator.js';

test('size classes: powers of two to 4 KiB, then at most 12.5% slack', () => {
  assert.equal(sizeClass(0), 0);
  assert.equal(sizeClass(1), 256);
  assert.equal(sizeClass(257), 512);
  assert.equal(sizeClass(4096), 4096);
  for (const n of [4097, 5000, 65537, 1e6, 3e8, 2 ** 33 + 1]) {
    const c = sizeClass(n);
    assert.ok(c >= n && c <= n * 1.125 + 1, `${n} -> ${c}`);
    assert.equal(sizeClass(c), c, 'a class is its own class');
  }
});
