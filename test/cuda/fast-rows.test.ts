// The CUDA kernels of the row-wise fast primitives (rmsNorm, layerNorm, rope, swiglu/geglu,
// crossEntropy, each with its backward) against the CPU kernels on the same inputs: values
// and gradients in float32, float16 and bfloat16, rows of odd length and rows longer than a
// block's registers hold, every rope variant, a 128256-word vocabulary, ignored rows; rope
// reading strided views (test/cuda/views.ts) bit for bit as the dense path.
// The registration check needs no GPU; the rest skips without one.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as mx from '../../src/index.js';
import * as fast from '../../src/fast/index.js';
import { cudaBackend } from '../../src/backend/cuda/index.js';
import { skip, rand, pair, assertMatches, type Tol } from './util.js';
import { throughViews, assertSameBits } from './views.js';

const NAMES = ['rmsNorm', 'rmsNormVjp', 'layerNorm', 'layerNormVjp', 'rope', 'swiglu', 'swigluVjp', 'geglu', 'gegluVjp', 'crossEntropy', 'crossEntropyVjp'];

test('the row-wise fast primitives have CUDA kernels (src/fast routes to them by name)', () => {
  const missing = cudaBackend.unimplemented.filter((n) => NAMES.includes(n));
  assert.deepEqual(missing, []);
});

type D = 'float32' | 'float16' | 'bfloat16';
const DTYPES: D[] = ['float32', 'float16', 'bfloat16'];
/** Values: about an ulp or two of the dtype (both sides round float/double work once). Sums over rows get `sum`. */
const TOL: Record<D, { value: Tol; sum: Tol }> = {
  float32: { value: { rtol: 5e-5, atol: 5e-6 }, sum: { rtol: 2e-4, atol: 2e-4 } },
  float16: { value: { rtol: 4e-3, atol: 4e-3 }, sum: { rtol: 8e-3, atol: 8e-3 } },
  bfloat16: { value: { rtol: 3e-2, atol: 3e-2 }, sum: { rtol: 6e-2, atol: 6e-2 } },
};

let seed = 100;
const input = (shape: number[], dtype: D | mx.DType, lo = -2, hi = 2) =>
  pair(rand(shape.reduce((a, b) => a * b, 1), seed++, lo, hi), shape, typeof dtype === 'string' ? mx.dtypes[dtype] : dtype);
const ints = (values: number[], shape: number[]) => pair(Float32Array.from(values), shape, mx.int32);
type Pair = ReturnType<typeof input>;
/** Whether the (unevaluated) graph of `a` has a node of primitive `name`. */
function uses(a: mx.Array, name: string): boolean {
  const seen = new Set<mx.Array>(), stack = [a];
  while (stack.length) {
    const n = stack.pop()!._node;
    if (!n) continue;
    if (n.prim.name === name) return true;
    for (const x of n.inputs) if (!seen.has(x)) { seen.add(x); stack.push(x); }
  }
  return false;
}

/** The kernels (their cache keys' first field: 'rope', 'copy', 'transpose'…) that `work` launches through the runtime. */
function launchesOf(work: () => void): string[] {
  const rt = cudaBackend.runtime, kc = cudaBackend.kernelCache;
  const names = new Map<bigint, string>(), seen: string[] = [];
  const get = kc.get, launch = rt.launch;
  kc.get = ((key: string, render: never) => { const fn = get.call(kc, key, render); names.set(fn, key.split('|')[0]); return fn; }) as typeof kc.get;
  rt.launch = ((fn: bigint, ...rest: never[]) => { seen.push(names.get(fn) ?? 'unknown'); return (launch as (...a: unknown[]) => void).call(rt, fn, ...rest); }) as typeof rt.launch;
  try { work(); } finally { delete (kc as { get?: unknown }).get; delete (rt as { launch?: unknown }).launch; } // back to the class methods
  return seen;
}

/**
 * Runs `f` on the CPU and the GPU copies, checks the GPU graph uses the kernel `prim`, compares
 * the outputs, then (with `grads`) the vjps for a random cotangent (their graph uses the
 * backward kernel: `${prim}Vjp`, rope's own), gradient k with tols[k].
 */
function compare(where: string, prim: string, f: (...xs: mx.Array[]) => mx.Array, ins: Pair[], tol: Tol, grads: number[] = [], gradTols: Tol[] = []): void {
  const yg = f(...ins.map((p) => p.gpu));
  assert.ok(uses(yg, prim), `${where}: the GPU graph should use the ${prim} kernel`);
  const yc = f(...ins.map((p) => p.cpu));
  assertMatches(yg, yc, `${where} value`, tol);
  if (!grads.length) return;
  const ct = input([...yc.shape], yc.dtype);
  const run = (side: 'cpu' | 'gpu') => {
    const xs = ins.map((p) => p[side]);
    const fn = (...ds: mx.Array[]) => f(...xs.map((x, i) => (grads.includes(i) ? ds[grads.indexOf(i)] : x)));
    return mx.vjp(fn, grads.map((i) => xs[i]), [ct[side]])[1];
  };
  const gg = run('gpu'), gc = run('cpu');
  const bwd = prim === 'rope' ? prim : `${prim}Vjp`;
  assert.ok(uses(gg[0], bwd), `${where}: the GPU gradient should use the ${bwd} kernel`);
  grads.forEach((i, k) => assertMatches(gg[k], gc[k], `${where} gradient ${i}`, gradTols[k] ?? tol));
}

describe('row-wise fast kernels on the GPU match the CPU kernels', { skip }, () => {
  // Rows: a warp per row (64), cached in registers (1000, 4096), odd (4097: element loads),
  // longer than registers hold (40000, 70001: read again), and many rows per block (3000 x 256).
  const normShapes = [[3, 5, 64], [7, 4096], [5, 1000], [6, 4097], [3, 40000], [2, 70001], [3000, 256]];

  for (const dt of DTYPES) test(`rmsNorm and its vjp, ${dt}`, () => {
    const t = TOL[dt];
    for (const shape of normShapes) {
      const D = shape[shape.length - 1];
      const x = input(shape, dt), w = input([D], dt, 0.5, 1.5);
      compare(`rmsNorm ${shape} ${dt}`, 'rmsNorm', (x, w) => fast.rmsNorm(x, w, 1e-5), [x, w], t.value, [0, 1], [t.value, t.sum]);
      compare(`rmsNorm ${shape} ${dt} no weight`, 'rmsNorm', (x) => fast.rmsNorm(x, null, 1e-5), [x], t.value, [0]);
    }
    // Mixed: half x, float32 weight (a float32 result and cotangent).
    const x = input([4, 512], dt), w = input([512], 'float32');
    compare(`rmsNorm ${dt} x, float32 weight`, 'rmsNorm', (x, w) => fast.rmsNorm(x, w, 1e-6), [x, w], t.value, [0, 1], [t.value, TOL.float32.sum]);
  });

  for (const dt of DTYPES) test(`layerNorm and its vjp, ${dt}`, () => {
    const t = TOL[dt];
    for (const shape of normShapes) {
      const D = shape[shape.length - 1];
      const x = input(shape, dt, -1, 3), w = input([D], dt, 0.5, 1.5), b = input([D], dt);
      compare(`layerNorm ${shape} ${dt}`, 'layerNorm', (x, w, b) => fast.layerNorm(x, w, b, 1e-5), [x, w, b], t.value, [0, 1, 2], [t.value, t.sum, t.sum]);
      compare(`layerNorm ${shape} ${dt} bias only`, 'layerNorm', (x, b) => fast.layerNorm(x, null, b, 1e-5), [x, b], t.value, [0, 1], [t.value, t.sum]);
      compare(`layerNorm ${shape} ${dt} bare`, 'layerNorm', (x) => fast.layerNorm(x, null, null, 1e-5), [x], t.value, [0]);
    }
  });

  test('rope: both layouts, partial dims, every kind of offset, freqs, every dtype; the vjp is the inverse rotation', () => {
    for (const dt of DTYPES) {
      const t = TOL[dt].value;
      // (2, 3, 7, 16): packs; (2, 2, 5, 10): D = 10 takes element or pair loads.
      for (const shape of [[2, 3, 7, 16], [2, 2, 5, 10]]) {
        const D = shape[3], x = input(shape, dt);
        const offsets: [string, () => Pair | number][] = [
          ['number', () => 37], ['scalar', () => ints([5], [])], ['batch', () => ints([2, 900], [2])],
          ['token', () => ints(Array.from({ length: 2 * shape[2] }, (_, i) => (i * 613) % 4000), [2, shape[2]])],
        ];
        for (const traditional of [false, true]) for (const dims of [D, D - 4]) for (const [kind, make] of offsets) {
          const o = make();
          const ins = typeof o === 'number' ? [x] : [x, o];
          const f = (x: mx.Array, off?: mx.Array) => fast.rope(x, dims, { traditional, base: 500, scale: 0.5, offset: off ?? (o as number) });
          compare(`rope ${shape} ${dt} traditional=${traditional} dims=${dims} offset=${kind}`, 'rope', f, ins, t, [0]);
        }
      }
      // Frequencies (llama3 scaling) at long positions, a vectorized size.
      const x = input([1, 4, 33, 64], dt);
      const freqs = fast.ropeFrequencies(64, 500000, { type: 'llama3', factor: 8, originalMaxPositionEmbeddings: 64 });
      const fp = { cpu: mx.astype(freqs, 'float32', { stream: mx.cpu }), gpu: mx.astype(freqs, 'float32', { stream: mx.gpu }) };
      compare(`rope freqs ${dt}`, 'rope', (x, fr) => fast.rope(x, 64, { freqs: fr, offset: 3000 }), [x, fp], t, [0]);
      compare(`rope freqs traditional ${dt}`, 'rope', (x, fr) => fast.rope(x, 48, { freqs: mx.index(fr, mx.s(0, 24)), offset: 7, traditional: true }), [x, fp], t, [0]);
    }
    // Llama-sized: (1, 32, 257, 128) bfloat16 at per-token positions.
    const x = input([1, 32, 257, 128], 'bfloat16');
    const pos = ints(Array.from({ length: 257 }, (_, i) => 8000 + i), [1, 257]);
    compare('rope (1, 32, 257, 128) bf16 tokens', 'rope', (x, p) => fast.rope(x, 128, { base: 500000, offset: p }), [x, pos], TOL.bfloat16.value, [0]);
  });

  test('rope reads strided views in place: (B, H, T, D) views of (B, T, H, D) arrays give the bits of the dense path', () => {
    const T_ = [0, 2, 1, 3];
    // [source shape, axes, dtype, dims, traditional, offset]: views whose rows take one or two
    // axes (packs of 8, 4 and 2; element loads), partial dims, every kind of offset, freqs;
    // then layouts the kernel cannot read (copied dense): D strided, three row axes.
    const cases: [number[], number[], D, number, boolean, string][] = [
      [[2, 37, 4, 64], T_, 'bfloat16', 64, false, 'number'],
      [[1, 300, 8, 128], T_, 'bfloat16', 128, false, 'token'],
      [[2, 19, 3, 40], T_, 'float16', 32, false, 'batch'],
      [[2, 19, 3, 40], T_, 'bfloat16', 40, true, 'scalar'],
      [[3, 11, 5, 10], T_, 'float32', 10, false, 'number'],
      [[3, 11, 5, 10], T_, 'float32', 6, true, 'batch'],
      [[2, 9, 4, 64], T_, 'bfloat16', 64, false, 'freqs'],
      [[2, 4, 64, 9], [0, 1, 3, 2], 'bfloat16', 64, false, 'number'],
      [[2, 3, 7, 4, 16], [0, 3, 1, 2, 4], 'float16', 16, false, 'batch'],
    ];
    for (const [shape, axes, dt, dims, traditional, kind] of cases) {
      const src = input(shape, dt).gpu;
      const B = shape[0], Tn = shape[axes[axes.length - 2]];
      const offset = kind === 'scalar' ? ints([5], []).gpu : kind === 'batch' ? ints(Array.from({ length: B }, (_, i) => 3 + 900 * i), [B]).gpu
        : kind === 'token' ? ints(Array.from({ length: B * Tn }, (_, i) => (i * 613) % 4000), [B, Tn]).gpu : 17;
      const freqs = kind === 'freqs' ? mx.astype(fast.ropeFrequencies(dims, 500000, { type: 'llama3', factor: 8, originalMaxPositionEmbeddings: 64 }), 'float32', { stream: mx.gpu }) : null;
      const opts = { traditional, offset, ...(freqs ? { freqs } : { base: 500 }) };
      const where = `rope view of ${shape} by (${axes}) ${dt} dims=${dims} traditional=${traditional} ${kind}`;
      // The dense path: rope of the transpose made first (evaluated, so fast.rope does not fold it).
      const want = fast.rope(mx.transpose(src, axes).eval(), dims, opts);
      assert.ok(uses(want, 'rope'));
      const [got] = throughViews(want, [src], [axes]);
      assertSameBits(got, want, where);
      // fast.rope folds the pending transpose (when it keeps D last): the kernel reads the
      // source as the view, with no copy where its rows take at most two axes.
      mx.eval(src, ...[offset, freqs].filter((a): a is mx.Array => a instanceof mx.Array));
      const folded = fast.rope(mx.transpose(src, axes), dims, opts);
      const foldable = axes[axes.length - 1] === axes.length - 1, inPlace = foldable && shape.length === 4;
      assert.equal(folded._node?.inputs[0] === src, foldable, `${where}: folded`);
      const names = launchesOf(() => folded.eval());
      assert.deepEqual(names.filter((n) => n !== 'rope').length === 0, inPlace, `${where}: launches ${names.join(', ')}`);
      assertSameBits(folded, want, `${where} (folded)`);
    }
  });

  test('the head split of a projection (reshape, transpose to (B, H, L, D)) feeds rope with no copy launched, same bits', () => {
    // Llama-3.2-1B's q and k at a 512-token prefill: x (1, 512, 2048) @ W^T, heads of 64.
    for (const [H, kind] of [[32, 'batch'], [8, 'number']] as const) {
      const L = 512, x = input([1, L, 2048], 'bfloat16').gpu, w = input([H * 64, 2048], 'bfloat16', -0.05, 0.05).gpu;
      const freqs = mx.astype(fast.ropeFrequencies(64, 500000, { type: 'llama3', factor: 32, originalMaxPositionEmbeddings: 8192 }), 'float32', { stream: mx.gpu });
      const offset = kind === 'batch' ? ints([0], [1]).gpu : 0;
      mx.eval(x, w, freqs, ...(offset instanceof mx.Array ? [offset] : []));
      const heads = () => mx.transpose(mx.unflatten(mx.matmul(x, mx.transpose(w)), -1, [H, 64]), [0, 2, 1, 3]);
      const q = fast.rope(heads(), 64, { freqs, offset });
      assert.ok(!uses(q, 'transpose'), 'the transpose is folded into rope');
      const names = launchesOf(() => q.eval());
      assert.deepEqual(names.filter((n) => n === 'copy' || n === 'transpose'), [], `launches: ${names.join(', ')}`);
      assert.equal(names.filter((n) => n === 'rope').length, 1, `launches: ${names.join(', ')}`);
      assertSameBits(q, fast.rope(heads().eval(), 64, { freqs, offset }), `H=${H} ${kind}`);
    }
  });

  test('swiglu and geglu (erf and tanh) with their vjps, every dtype, with a tail past the last pack', () => {
    for (const dt of DTYPES) for (const shape of [[8, 300], [7, 333]]) {
      const a = input(shape, dt, -4, 4), b = input(shape, dt), t = TOL[dt].value;
      compare(`swiglu ${shape} ${dt}`, 'swiglu', (a, b) => fast.swiglu(a, b), [a, b], t, [0, 1]);
      compare(`geglu ${shape} ${dt}`, 'geglu', (a, b) => fast.geglu(a, b), [a, b], t, [0, 1]);
      compare(`geglu tanh ${shape} ${dt}`, 'geglu', (a, b) => fast.geglu(a, b, { approximate: 'tanh' }), [a, b], t, [0, 1]);
    }
  });

  // Losses are float32 sums; gradients are probabilities in the logits' dtype (an ulp of a
  // small number, hence the small atol).
  const ceTol = (dt: D): [Tol, Tol] => [{ rtol: 5e-5, atol: 5e-5 }, dt === 'float32' ? { rtol: 5e-5, atol: 1e-8 } : { rtol: TOL[dt].value.rtol, atol: 1e-7 }];
  const targetsFor = (N: number, V: number, ignore: number) =>
    ints(Array.from({ length: N }, (_, i) => (i % 5 === 3 ? ignore : (i * 7919) % V)), [N]);

  test('crossEntropy and its vjp: label smoothing, ignored rows, every dtype, odd vocabularies', () => {
    for (const dt of DTYPES) {
      const [lt, gt] = ceTol(dt);
      for (const [N, V] of [[12, 5000], [20, 1001]]) for (const s of [0, 0.1]) {
        const z = input([N, V], dt, -4, 4), tg = targetsFor(N, V, -100);
        const f = (z: mx.Array, t: mx.Array) => fast.crossEntropy(z, t, { labelSmoothing: s, reduction: 'none' });
        compare(`crossEntropy (${N}, ${V}) ${dt} s=${s}`, 'crossEntropy', f, [z, tg], lt, [0], [gt]);
      }
    }
  });

  test('crossEntropy over a 128256-word vocabulary: rows split across blocks (few rows) and a block per row', () => {
    for (const [N, V, dt, ignore] of [[3, 128256, 'bfloat16', -100], [300, 128256, 'bfloat16', 7], [5, 50257, 'float32', -1], [4, 50257, 'float16', -100]] as const) {
      const [lt, gt] = ceTol(dt);
      const z = input([N, V], dt, -8, 8), tg = targetsFor(N, V, ignore);
      const f = (z: mx.Array, t: mx.Array) => fast.crossEntropy(z, t, { ignoreIndex: ignore, labelSmoothing: 0.05, reduction: 'none' });
      compare(`crossEntropy (${N}, ${V}) ${dt}`, 'crossEntropy', f, [z, tg], lt, [0], [gt]);
      const mean = (z: mx.Array, t: mx.Array) => fast.crossEntropy(z, t, { ignoreIndex: ignore });
      // The mean's gradients are N times smaller: in float16 many are subnormal, whose spacing
      // (2^-24) is the least difference a rounding can make.
      const meanAtol = Math.max(gt.atol / N, dt === 'float16' ? 2 ** -24 : 0);
      compare(`crossEntropy (${N}, ${V}) ${dt} mean`, 'crossEntropy', mean, [z, tg], lt, [0], [{ rtol: gt.rtol, atol: meanAtol }]);
    }
  });

  test('crossEntropy: an all-ignored batch has loss 0 and gradient 0; a target outside the vocabulary gives NaN on the GPU', () => {
    const z = input([4, 300], 'float32');
    const none = ints([-100, -100, -100, -100], [4]);
    const [loss, g] = mx.valueAndGrad((z: mx.Array) => fast.crossEntropy(z, none.gpu))(z.gpu);
    assert.equal(loss.item(), 0);
    assert.ok(g.dataSync().every((v) => v === 0));
    const bad = fast.crossEntropy(z.gpu, ints([1, 300, 2, 3], [4]).gpu, { reduction: 'none' }).dataSync();
    assert.ok(Number.isNaN(bad[1]) && Number.isFinite(bad[0]), `row 1 (target 300 of 300 classes) should be NaN, got ${bad[1]}`);
  });
});
