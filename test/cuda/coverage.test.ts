// Every primitive has a CUDA kernel (or runs through the documented host fallback): the
// backend's `unimplemented` list is empty. Needs no GPU: kernels register at import.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import '../../src/index.js';
import { cudaBackend } from '../../src/backend/cuda/index.js';

test('the CUDA backend implements every primitive', () => {
  assert.deepEqual(cudaBackend.unimplemented, []);
});
