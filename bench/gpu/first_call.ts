// Run by lathe_bench.ts in a fresh process: how long until the first result, sum(exp(x))
// over 2^20 floats read back to the host. The import (loading the libraries, probing the
// GPU) and the first result (context, kernels compiled or loaded from LATHE_CACHE_DIR,
// the work itself) are timed apart. torch_bench.py times the same program.
const t0 = performance.now();
const mx = await import('../../src/index.js');
const { cudaBackend } = await import('../../src/backend/cuda/index.js');
const t1 = performance.now();
const x = mx.multiply(mx.arange(2 ** 20), 1e-6);
const total = mx.sum(mx.exp(x)).item();
const t2 = performance.now();
if (!Number.isFinite(total)) throw new Error(`[first_call] got ${String(total)}`);
const { compiled, diskHits } = cudaBackend.kernelCache.stats;
console.log(JSON.stringify({ importMs: t1 - t0, firstMs: t2 - t1, compiled, diskHits }));
