// The bandwidth paths bench:gpu tunes give the CPU backend's results: elementwise loops with
// several 16-byte packs per thread step (and their single-pack and scalar tails, under each
// launch shape), and softmax rows kept in shared memory (staged) across persistent blocks,
// specials included.
import { describe, test } from 'node:test';
import { skip, rand, check, mx } from './util.js';
import { cudaBackend } from '../../src/backend/cuda/index.js';
import { ewTuning } from '../../src/backend/cuda/kernels/elementwise.js';

const d = mx.dtypes;

describe('cuda: tuned paths', { skip }, () => {
  test('elementwise loops with several packs per step, their tails, fused', () => {
    const saved = { ...ewTuning };
    try {
      const sms = cudaBackend.runtime.info.sms;
      for (const [unroll, perSm] of [[2, 1], [4, 1], [2, 0], [1, 8]]) {
        ewTuning.unroll = unroll; ewTuning.perSm = perSm;
        for (const dt of [d.float32, d.bfloat16, d.int8]) {
          const packs = 16 / dt.size, step = sms * 256;
          const n = (2 * unroll + 1) * step * packs + 3 * packs + 5; // main loop, single packs, scalar tail
          const a = { values: rand(n, 70, -5, 5), shape: [n], dtype: dt }, b = { values: rand(n, 71, -5, 5), shape: [n], dtype: dt };
          check(`add (${n}) ${dt.name} u${unroll}/${perSm}`, [a, b], (x, y) => mx.add(x, y));
          if (dt.isFloat) check(`exp (${n}) ${dt.name} u${unroll}/${perSm}`, [a], (x) => mx.exp(x));
        }
        const f = mx.compile((x: mx.Array, y: mx.Array) => mx.multiply(mx.exp(x), y));
        const n = 3 * unroll * sms * 256 * 8 + 13;
        check(`compiled (${n}) u${unroll}/${perSm}`, [{ values: rand(n, 72), shape: [n], dtype: d.bfloat16 }, { values: rand(n, 73), shape: [n], dtype: d.bfloat16 }], (x, y) => f(x, y) as mx.Array);
      }
    } finally {
      Object.assign(ewTuning, saved);
    }
  });

  test('softmax rows kept in shared memory across persistent blocks', () => {
    const rows = cudaBackend.runtime.info.sms + 5; // some blocks take two rows
    for (const [n, dt] of [[8196, d.float32], [32768, d.float32], [12296, d.bfloat16], [65536, d.bfloat16], [16384, d.float16]] as const) {
      const x = { values: rand(rows * n, 78, -8, 8), shape: [rows, n], dtype: dt };
      check(`softmax (${rows}, ${n}) ${dt.name}`, [x], (a) => mx.softmax(a, -1));
    }
    const n = 16384;
    const v = rand(4 * n, 79, -1, 1);
    v[100] = Infinity; v[n + 17] = NaN; for (let j = 0; j < n; j++) v[2 * n + j] = -Infinity; v[3 * n + 5] = -Infinity;
    check('softmax specials, staged rows', [{ values: v, shape: [4, n], dtype: d.float32 }], (a) => mx.softmax(a, -1));
  });
});
