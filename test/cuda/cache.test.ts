// Compiled kernels are cached on disk (under LATHE_CACHE_DIR): once the in-memory cache is
// dropped, the same kernel loads from disk without compiling, in about a millisecond.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { skip, rand, mx } from './util.js';
import { cudaBackend } from '../../src/backend/cuda/index.js';
import { kernelCacheDir } from '../../src/backend/cuda/compiler.js';

describe('cuda: kernel cache', { skip }, () => {
  test('a kernel compiled once loads from disk afterwards', () => {
    const dir = mkdtempSync(join(tmpdir(), 'lathe-cache-'));
    const saved = process.env.LATHE_CACHE_DIR;
    process.env.LATHE_CACHE_DIR = dir;
    try {
      const stats = cudaBackend.kernelCache.stats;
      const x = mx.array(rand(100, 100), mx.float32, { stream: mx.gpu });
      // An op no other test in this process has run, so its kernel is new here.
      const run = () => mx.arctan2(mx.sinh(x), mx.add(x, 3)).dataSync();
      const c0 = stats.compiled;
      const first = run();
      assert.ok(stats.compiled > c0, 'the first run compiles');
      assert.ok(readdirSync(kernelCacheDir()).some((f) => f.endsWith('.cubin')), 'CUBINs are written to the cache folder');
      cudaBackend.kernelCache.forgetLoaded();
      const c1 = stats.compiled, h1 = stats.diskHits, ms1 = stats.loadMs;
      const second = run();
      assert.equal(stats.compiled, c1, 'no compile once cached on disk');
      assert.ok(stats.diskHits > h1, 'loaded from disk');
      assert.deepEqual(second, first);
      const perKernel = (stats.loadMs - ms1) / (stats.diskHits - h1);
      console.log(`# kernel cache: ${perKernel.toFixed(2)} ms per kernel loaded from disk; compiling took ${(stats.compileMs / Math.max(1, stats.compiled)).toFixed(1)} ms per kernel`);
      assert.ok(perKernel < 20, `loading a cached kernel took ${perKernel} ms`);
    } finally {
      if (saved === undefined) delete process.env.LATHE_CACHE_DIR; else process.env.LATHE_CACHE_DIR = saved;
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
