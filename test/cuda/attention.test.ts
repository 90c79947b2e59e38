// The CUDA attention kernels (src/backend/cuda/kernels/fast/attention*.ts) against the CPU
// kernel on the same inputs: out, lse and the backward primitive's dq, dk, dv, over every
// mask kind, grouped and multi-query heads, L ≠ S, head dims on and off the tensor-core
// path, split keys (decode), empty rows, in float32, float16 and bfloat16. The primitives
// are bound directly (lse is not public), the backward fed the CPU's out and lse so that
// each kernel is checked on its own. Skips without a usable GPU.
import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as mx from '../../src/index.js';
import * as fast from '../../src/fast/index.js'; // also defines the primitives
import { getPrimitive, bind } from '../../src/core/primitive.js';
import { attentionTuning } from '../../src/backend/cuda/kernels/fast/attention.js';
import { skip, rand } from './util.js';

interface Params { scale: number; causal: boolean; mask: 'none' | 'bool' | 'additive'; windowSize: number | null; softcap: number | null; hasKeyLengths: boolean }
interface Case {
  name: string; B: number; Hq: number; Hk: number; L: number; S: number; D: number; Dv?: number;
  causal?: boolean; window?: number; softcap?: number; scale?: number;
  /** Mask shape (4-d, size-1 axes broadcast) and kind. */
  mask?: { shape: number[]; kind: 'bool' | 'additive' };
  lens?: number[];
  dtypes?: mx.DTypeName[];
  tuning?: Partial<typeof attentionTuning>;
}

const cases: Case[] = [
  { name: 'causal, L = S = 300 (tiles not multiples of the block)', B: 2, Hq: 2, Hk: 2, L: 300, S: 300, D: 64, causal: true, dtypes: ['float32', 'float16', 'bfloat16'] },
  { name: 'no mask, L ≠ S, D 128', B: 1, Hq: 2, Hk: 2, L: 100, S: 257, D: 128 },
  { name: 'grouped heads 4:1, causal, L < S', B: 1, Hq: 8, Hk: 2, L: 130, S: 200, D: 64, causal: true },
  { name: 'multi-query, causal sliding window, D 128', B: 1, Hq: 4, Hk: 1, L: 150, S: 150, D: 128, causal: true, window: 16 },
  { name: 'window without causal', B: 1, Hq: 2, Hk: 2, L: 150, S: 150, D: 64, window: 20 },
  { name: 'boolean mask (B, 1, L, S) with empty rows', B: 2, Hq: 2, Hk: 1, L: 96, S: 96, D: 64, mask: { shape: [2, 1, 96, 96], kind: 'bool' } },
  { name: 'additive mask (1, 1, L, S), causal', B: 1, Hq: 4, Hk: 2, L: 80, S: 112, D: 64, causal: true, mask: { shape: [1, 1, 80, 112], kind: 'additive' } },
  { name: 'soft cap, custom scale', B: 1, Hq: 2, Hk: 2, L: 70, S: 90, D: 64, softcap: 5, scale: 0.3, dtypes: ['float32', 'float16', 'bfloat16'] },
  { name: 'key lengths (one row empty), causal', B: 3, Hq: 2, Hk: 2, L: 100, S: 100, D: 64, causal: true, lens: [100, 37, 0] },
  { name: 'more queries than keys, causal: leading rows empty', B: 1, Hq: 2, Hk: 2, L: 80, S: 50, D: 64, causal: true },
  { name: 'head dim 80', B: 1, Hq: 4, Hk: 2, L: 90, S: 130, D: 80, causal: true },
  { name: 'head dim 40 (CUDA-core path), Dv ≠ D', B: 1, Hq: 2, Hk: 1, L: 50, S: 70, D: 40, Dv: 24, causal: true },
  { name: 'decode: 1 query, 4096 keys (split keys)', B: 1, Hq: 8, Hk: 2, L: 1, S: 4096, D: 128, dtypes: ['float32', 'bfloat16'] },
  { name: 'decode: 4 queries, grouped 4:1, key lengths (split keys, tensor cores)', B: 2, Hq: 8, Hk: 2, L: 4, S: 1500, D: 64, causal: true, lens: [1500, 900] },
  { name: 'a chunk of 20 queries over 700 keys (40 grouped rows, split keys)', B: 2, Hq: 4, Hk: 2, L: 20, S: 700, D: 64, causal: true, dtypes: ['float32', 'bfloat16'] },
  { name: 'forced 3 splits with every mask', B: 1, Hq: 4, Hk: 2, L: 100, S: 400, D: 64, causal: true, window: 150, softcap: 8, mask: { shape: [1, 4, 100, 400], kind: 'additive' }, lens: [350], tuning: { splits: 3 } },
  // Other tile shapes of the tensor-core kernels (attentionTuning), each with a mask kind.
  { name: 'tiles: 32 rows per warp, Q in registers; backward 32 queries, two buffers', B: 2, Hq: 2, Hk: 2, L: 190, S: 260, D: 64, causal: true, mask: { shape: [2, 1, 190, 260], kind: 'additive' }, dtypes: ['bfloat16', 'float16'],
    tuning: { wide: { NW: 4, MT: 2, BN: 64, qreg: true, stages: 2, perSm: 3, minTiles: 4 }, bwdWide: { NW: 4, BM: 32, dbuf: true } } },
  { name: 'tiles: 32 rows per warp, Q in shared memory, one stage; backward 4 warps, one buffer', B: 1, Hq: 4, Hk: 2, L: 200, S: 230, D: 128, causal: true, window: 100, dtypes: ['bfloat16'],
    tuning: { deep: { NW: 4, MT: 2, BN: 64, qreg: false, stages: 1, perSm: 3, minTiles: 4 }, bwdDeep: { NW: 4, BM: 64, dbuf: false } } },
  { name: 'tiles: 128 keys, 8 warps; backward two buffers', B: 1, Hq: 2, Hk: 1, L: 300, S: 300, D: 64, softcap: 4, lens: [270], dtypes: ['bfloat16'],
    tuning: { wide: { NW: 8, MT: 1, BN: 128, qreg: true, stages: 2, perSm: 3, minTiles: 4 }, bwdWide: { NW: 4, BM: 64, dbuf: true } } },
  { name: 'tiles: 16 rows per warp, Q in registers, D 128; backward 4 warps, 32 queries', B: 1, Hq: 2, Hk: 2, L: 150, S: 170, D: 128, causal: true, dtypes: ['bfloat16'],
    tuning: { deep: { NW: 4, MT: 1, BN: 64, qreg: true, stages: 2, perSm: 3, minTiles: 4 }, bwdDeep: { NW: 4, BM: 32, dbuf: true } } },
  { name: 'tiles: decode with 32-key tiles, and with one stage', B: 2, Hq: 8, Hk: 2, L: 2, S: 3000, D: 128, causal: true, lens: [3000, 1234], dtypes: ['bfloat16'],
    tuning: { decode: { NW: 1, MT: 1, BN: 32, qreg: true, stages: 2, perSm: 8, minTiles: 2 } } },
  { name: 'tiles: decode with one stage, bool mask', B: 1, Hq: 4, Hk: 1, L: 3, S: 2000, D: 96, mask: { shape: [1, 4, 3, 2000], kind: 'bool' }, dtypes: ['float16'],
    tuning: { decode: { NW: 1, MT: 1, BN: 64, qreg: true, stages: 1, perSm: 8, minTiles: 1 } } },
  { name: 'CUDA-core path for halves', B: 1, Hq: 2, Hk: 1, L: 70, S: 90, D: 64, causal: true, dtypes: ['bfloat16'], tuning: { path: 'simt' } },
  { name: 'no keys', B: 1, Hq: 2, Hk: 2, L: 5, S: 0, D: 64, dtypes: ['float32', 'bfloat16'] },
];

/** Largest |got − want| over the largest |want| (gradients cancel, so elementwise relative error is meaningless near 0). */
function relErr(got: mx.Array, want: mx.Array, where: string): number {
  assert.deepEqual([...got.shape], [...want.shape], `${where}: shape`);
  const g = mx.astype(got, 'float32', { stream: mx.cpu }).dataSync() as Float32Array, w = mx.astype(want, 'float32', { stream: mx.cpu }).dataSync() as Float32Array;
  let err = 0, big = 0;
  for (let i = 0; i < w.length; i++) {
    if (Number.isNaN(g[i]) !== Number.isNaN(w[i])) assert.fail(`${where}: element ${i}: GPU ${g[i]}, CPU ${w[i]}`);
    if (!Number.isFinite(w[i])) { assert.equal(g[i], w[i], `${where}: element ${i}`); continue; }
    err = Math.max(err, Math.abs(g[i] - w[i]));
    big = Math.max(big, Math.abs(w[i]));
  }
  return big > 0 ? err / big : err;
}

const TOL: Record<string, { out: number; grad: number }> = {
  float32: { out: 2e-5, grad: 1e-4 },
  float16: { out: 2e-3, grad: 6e-3 },
  bfloat16: { out: 1.6e-2, grad: 3e-2 },
};

const saved = { ...attentionTuning };
after(() => Object.assign(attentionTuning, saved));

describe('CUDA attention kernels match the CPU kernel', { skip }, () => {
  const fwd = getPrimitive('scaledDotProductAttention')!, bwd = getPrimitive('scaledDotProductAttentionVjp')!;
  const gpu = mx.defaultStream(mx.gpu), cpu = mx.defaultStream(mx.cpu);
  let seed = 100;
  for (const c of cases) for (const dtype of (c.dtypes ?? ['float32', 'bfloat16']) as mx.DTypeName[]) test(`${c.name} ${dtype}`, () => {
    Object.assign(attentionTuning, saved, c.tuning ?? {});
    const Dv = c.Dv ?? c.D, dt = mx.dtypes[dtype];
    const make = (shape: number[], lo = -2, hi = 2) => {
      const vals = rand(shape.reduce((a, b) => a * b, 1), seed++, lo, hi);
      return mx.reshape(mx.array(vals, dt, { stream: mx.cpu }), shape, { stream: mx.cpu });
    };
    const q = make([c.B, c.Hq, c.L, c.D]), k = make([c.B, c.Hk, c.S, c.D]), v = make([c.B, c.Hk, c.S, Dv]);
    const ins = [q, k, v];
    if (c.mask) {
      const n = c.mask.shape.reduce((a, b) => a * b, 1);
      const vals = rand(n, seed++, -1, 1);
      if (c.mask.kind === 'bool') {
        // A quarter of the keys allowed, and (with more than 8 rows) the first 3 rows of each (B, H) slice empty.
        const [, , mL, mS] = c.mask.shape;
        const bits = vals.map((x, i) => (Math.floor(i / mS) % mL < (mL > 8 ? 3 : 0) ? 0 : x > 0.5 ? 1 : 0));
        ins.push(mx.reshape(mx.array(bits, mx.bool, { stream: mx.cpu }), c.mask.shape, { stream: mx.cpu }));
      } else ins.push(mx.reshape(mx.array(vals.map((x) => 3 * x), dt, { stream: mx.cpu }), c.mask.shape, { stream: mx.cpu }));
    }
    if (c.lens) ins.push(mx.array(c.lens, 'int32', { stream: mx.cpu }));
    const params: Params = {
      scale: c.scale ?? 1 / Math.sqrt(c.D), causal: !!c.causal, mask: c.mask?.kind ?? 'none',
      windowSize: c.window ?? null, softcap: c.softcap ?? null, hasKeyLengths: !!c.lens,
    };
    const specs = [{ shape: [c.B, c.Hq, c.L, Dv], dtype: dt }, { shape: [c.B, c.Hq, c.L], dtype: mx.float32 }];
    const [outC, lseC] = bind(fwd, ins, params, specs, cpu);
    const [outG, lseG] = bind(fwd, ins, params, specs, gpu);
    const tol = TOL[dtype];
    const eo = relErr(outG, outC, 'out');
    assert.ok(eo <= tol.out, `out: max error ${eo.toExponential(2)} of the largest value (tolerance ${tol.out})`);
    const el = relErr(lseG, lseC, 'lse');
    assert.ok(el <= 2e-5, `lse: max error ${el.toExponential(2)} (tolerance 2e-5)`);
    // Backward on the CPU's forward results, so each kernel is judged alone.
    const dout = make([c.B, c.Hq, c.L, Dv], -1, 1);
    const bIns = [q, k, v, outC, lseC, dout, ...ins.slice(3)];
    const gspecs = [q, k, v].map((a) => ({ shape: a.shape, dtype: a.dtype }));
    const gC = bind(bwd, bIns, params, gspecs, cpu), gG = bind(bwd, bIns, params, gspecs, gpu);
    ['dq', 'dk', 'dv'].forEach((n, i) => {
      assert.equal(gG[i].device.type, 'gpu');
      const e = relErr(gG[i], gC[i], n);
      assert.ok(e <= tol.grad, `${n}: max error ${e.toExponential(2)} of the largest value (tolerance ${tol.grad})`);
    });
  });

  test('the public op runs the CUDA primitives, forward and backward', () => {
    Object.assign(attentionTuning, saved);
    const q = mx.random.normal([1, 4, 64, 64], 'bfloat16', null, null, mx.random.key(1), { stream: mx.gpu });
    const k = mx.random.normal([1, 2, 64, 64], 'bfloat16', null, null, mx.random.key(2), { stream: mx.gpu });
    const f = (a: mx.Array) => mx.sum(mx.astype(fast.scaledDotProductAttention(a, k, k, { mask: 'causal' }), 'float32'));
    const [y, g] = mx.valueAndGrad(f)(q);
    assert.equal(g.device.type, 'gpu');
    assert.ok(Number.isFinite(y.item() as number));
    assert.ok(mx.all(mx.isfinite(g)).item());
  });
});
