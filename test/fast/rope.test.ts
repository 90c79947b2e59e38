// fast.rope: the CPU kernel against its reference (layouts, offsets of every kind, partial
// rotation, explicit frequencies; values and gradients), against closed forms, and the
// scaled frequencies against their definitions; a pending transpose folded into the node
// (the model's head split) gives the bits of the unfolded op, values and gradients.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as mx from '../../src/index.js';
import * as fast from '../../src/fast/index.js';
import { DTYPES, randn, randint, compareWithReference, assertClose, primitiveOf } from './helpers.js';

test('rope matches its reference: both layouts, partial dims, every kind of offset, every dtype', () => {
  for (const dt of ['float64', ...DTYPES] as const) {
    const x = randn([2, 3, 7, 16], dt);
    const offsets = [0, 37, mx.array(5), mx.array([2, 900]), randint(0, 4000, [2, 7])];
    for (const traditional of [false, true]) for (const dims of [16, 6]) for (const offset of offsets) {
      const o = { traditional, offset, base: 500, scale: 0.5 };
      compareWithReference(`rope traditional=${traditional} dims=${dims}`, (x) => fast.rope(x, dims, o), (x) => fast.reference.rope(x, dims, o), [x], [0], dt);
    }
  }
});

test('rope with explicit frequencies (llama3 scaling) matches its reference', () => {
  for (const dt of ['float32', 'bfloat16'] as const) {
    const x = randn([1, 2, 9, 32], dt);
    const freqs = fast.ropeFrequencies(32, 500000, { type: 'llama3', factor: 8, originalMaxPositionEmbeddings: 64 });
    const o = { freqs, offset: 3000 };
    compareWithReference('rope freqs', (x) => fast.rope(x, 32, o), (x) => fast.reference.rope(x, 32, o), [x], [0], dt);
  }
});

test('closed forms: a pair rotates by position × scale / base^(2i/dims); the gradient is the inverse rotation', () => {
  // x = (1, 0) at position p: (cos pθ, sin pθ) with θ = 1 for the first pair.
  const x = mx.reshape(mx.array([1, 0, 1, 0, 1, 0], 'float64'), [1, 3, 2]);
  const y = fast.rope(x, 2, { offset: 4, scale: 0.5 });
  const p = [4, 5, 6].map((t) => t * 0.5);
  assertClose(y, mx.reshape(mx.array(p.flatMap((a) => [Math.cos(a), Math.sin(a)]), 'float64'), [1, 3, 2]), { rtol: 0, atol: 1e-15 }, 'rotation');
  // Split-half layout pairs i with i + dims/2; traditional pairs 2i with 2i + 1.
  const v = randn([1, 1, 5, 8], 'float64');
  const perm = [0, 2, 4, 6, 1, 3, 5, 7];
  const permuted = mx.take(v, mx.array(perm), -1);
  assertClose(mx.take(fast.rope(v, 8, { traditional: true, offset: 3 }), mx.array(perm), -1), fast.rope(permuted, 8, { offset: 3 }), { rtol: 0, atol: 1e-14 }, 'layouts');
  // Rotations preserve norms, and the vjp rotates back.
  assertClose(mx.sum(mx.square(fast.rope(v, 8, { offset: 11 })), -1), mx.sum(mx.square(v), -1), { rtol: 1e-14, atol: 0 }, 'norm');
  const [, [back]] = mx.vjp((a: mx.Array) => fast.rope(a, 8, { offset: 11 }), [v], [fast.rope(v, 8, { offset: 11 })]);
  assertClose(back, v, { rtol: 0, atol: 1e-14 }, 'inverse');
  // Features past dims pass through untouched.
  const part = fast.rope(v, 4, { offset: 7 });
  assertClose(mx.split(part, [4], -1)[1], mx.split(v, [4], -1)[1], { rtol: 0, atol: 0 }, 'pass-through');
});

test('per-token positions equal per-batch offsets when they count up from them', () => {
  const x = randn([2, 4, 6, 8]);
  const starts = mx.array([3, 100]);
  const tokens = mx.add(mx.expandDims(starts, 1), mx.arange(6));
  assertClose(fast.rope(x, 8, { offset: tokens }), fast.rope(x, 8, { offset: starts }), { rtol: 0, atol: 0 }, 'tokens vs starts');
  // A packed row: two sequences restart their positions, each matching rope of the piece alone.
  const packed = mx.array([[0, 1, 2, 0, 1, 2]]);
  const y = fast.rope(mx.index(x, mx.s(0, 1)), 8, { offset: packed });
  assertClose(mx.index(y, mx.s(), mx.s(), mx.s(3, 6)), fast.rope(mx.index(x, mx.s(0, 1), mx.s(), mx.s(3, 6)), 8), { rtol: 0, atol: 0 }, 'packed');
  assert.equal(primitiveOf(y), 'rope');
});

/** Rope of an evaluated transpose (not folded: it has a buffer) and of the pending one (folded). */
function bothWays(src: mx.Array, axes: number[], f: (x: mx.Array) => mx.Array): [mx.Array, mx.Array] {
  const t = mx.transpose(src, axes);
  mx.eval(t);
  const plain = f(t);
  assert.equal(plain._node?.inputs[0], t, 'an evaluated transpose is read as it is');
  const folded = f(mx.transpose(src, axes));
  assert.equal(folded._node?.inputs[0], src, `the pending transpose (${axes}) is folded: rope reads its input`);
  assert.deepEqual((folded._node?.params as { axes: number[] }).axes, axes);
  return [folded, plain];
}

const bits = (a: mx.Array) => {
  const d = a.dataSync() as unknown as { buffer: ArrayBufferLike; byteOffset: number; byteLength: number };
  return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
};
function assertSameBits(got: mx.Array, want: mx.Array, where: string): void {
  assert.deepEqual([...got.shape], [...want.shape], `${where}: shape`);
  assert.equal(got.dtype, want.dtype, `${where}: dtype`);
  assert.deepEqual(bits(got), bits(want), `${where}: bits`);
}

test('rope folds a pending transpose that keeps the last axis: the bits of rope on the transposed array, values and gradients', () => {
  const BTHD = [0, 2, 1, 3];
  // [source shape, axes]: the head split (B, T, H, D) -> (B, H, T, D), then other permutations keeping D last.
  const layouts: [number[], number[]][] = [[[2, 7, 3, 16], BTHD], [[2, 3, 7, 16], [2, 0, 1, 3]], [[2, 4, 5, 3, 16], [0, 3, 1, 2, 4]], [[7, 2, 16], [1, 0, 2]]];
  for (const dt of ['float64', ...DTYPES] as const) for (const [shape, axes] of layouts) {
    const src = randn(shape, dt);
    const B = shape[axes[0]], T = shape[axes[axes.length - 2]];
    const offsets = [37, mx.array(5), ...(axes.length > 2 ? [mx.array(Array.from({ length: B }, (_, i) => 2 + 900 * i)), randint(0, 4000, [B, T])] : [])];
    const freqs = fast.ropeFrequencies(16, 500000, { type: 'llama3', factor: 8, originalMaxPositionEmbeddings: 64 });
    const options: fast.RopeOptions[] = [
      ...offsets.flatMap((offset) => [{ offset, base: 500 }, { offset, traditional: true, scale: 0.5, base: 500 }]),
      { freqs, offset: 3000 },
    ];
    for (const o of options) for (const dims of [16, 6]) {
      if (o.freqs && dims !== 16) continue;
      const where = `rope ${dt} (${shape}) by (${axes}) dims=${dims} traditional=${!!o.traditional} offset ${o.offset instanceof mx.Array ? `(${o.offset.shape})` : o.offset}`;
      const [folded, plain] = bothWays(src, axes, (x) => fast.rope(x, dims, o));
      assertSameBits(folded, plain, where);
      // The gradient reaches the source in its own layout: the inverse rotation of the
      // cotangent, transposed back (what the unfolded graph gives through the transpose).
      const g = randn([...plain.shape], dt);
      const [, [gs]] = mx.vjp((s: mx.Array) => fast.rope(mx.transpose(s, axes), dims, o), [src], [g]);
      const inv = axes.map((_, i) => axes.indexOf(i));
      const [, [gt]] = mx.vjp((t: mx.Array) => fast.rope(t, dims, o), [mx.transpose(src, axes).eval()], [g]);
      assertSameBits(gs, mx.transpose(gt, inv), `${where} gradient`);
      // Forward-mode: the tangent is read through the same permutation.
      const tan = randn(shape, dt);
      const [, [ts]] = mx.jvp((s: mx.Array) => fast.rope(mx.transpose(s, axes), dims, o), [src], [tan]);
      assertSameBits(ts, fast.rope(mx.transpose(tan, axes).eval(), dims, o), `${where} jvp`);
    }
  }
});

test('the folded transpose stays lazy-correct: other consumers still get it, and rope matches the reference', () => {
  const src = randn([2, 9, 4, 8], 'float32');
  const t = mx.transpose(src, [0, 2, 1, 3]);
  const y = fast.rope(t, 8, { offset: 4 });
  assert.equal(y._node?.inputs[0], src);
  const other = mx.multiply(t, 2); // the transpose still runs for this consumer
  mx.eval(y, other);
  assertClose(other, mx.multiply(mx.transpose(src, [0, 2, 1, 3]), 2), { rtol: 0, atol: 0 }, 'other consumer');
  assertClose(y, fast.reference.rope(mx.transpose(src, [0, 2, 1, 3]), 8, { offset: 4 }), { rtol: 1e-6, atol: 1e-6 }, 'reference');
  // A transpose that moves the last axis is not folded (rows of D would not be contiguous).
  const z = fast.rope(mx.transpose(src, [0, 1, 3, 2]), 4);
  assert.equal(primitiveOf(z._node!.inputs[0]), 'transpose');
});

test('ropeFrequencies: default, linear, llama3, dynamic and yarn against their definitions', () => {
  const dims = 16, base = 10000;
  const plain = Array.from({ length: dims / 2 }, (_, i) => base ** ((2 * i) / dims));
  const close = (a: mx.Array, b: number[], what: string) => assertClose(a, mx.array(b), { rtol: 1e-6, atol: 0 }, what);
  close(fast.ropeFrequencies(dims, base), plain, 'default');
  close(fast.ropeFrequencies(dims, base, { type: 'linear', factor: 4 }), plain.map((f) => 4 * f), 'linear');
  // llama3: wavelengths above old/low are stretched by factor, below old/high untouched.
  const l3 = fast.ropeFrequencies(dims, base, { type: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 256 }).tolist() as number[];
  plain.forEach((f, i) => {
    const wl = 2 * Math.PI * f;
    if (wl > 256) assert.ok(Math.abs(l3[i] - 8 * f) <= 1e-6 * 8 * f, `llama3 low frequency ${i}`);
    else if (wl < 64) assert.ok(Math.abs(l3[i] - f) <= 1e-6 * f, `llama3 high frequency ${i}`);
    else assert.ok(l3[i] > f && l3[i] < 8 * f, `llama3 smooth band ${i}`);
  });
  // dynamic NTK raises the base only past the trained length.
  close(fast.ropeFrequencies(dims, base, { type: 'dynamic', factor: 2, maxPositionEmbeddings: 100, seqLen: 50 }), plain, 'dynamic below');
  const b2 = base * ((2 * 300) / 100 - 1) ** (dims / (dims - 2));
  close(fast.ropeFrequencies(dims, base, { type: 'dynamic', factor: 2, maxPositionEmbeddings: 100, seqLen: 300 }), plain.map((_, i) => b2 ** ((2 * i) / dims)), 'dynamic above');
  // yarn keeps the fastest rotations, stretches the slowest by factor.
  const y = fast.ropeFrequencies(dims, base, { type: 'yarn', factor: 4, originalMaxPositionEmbeddings: 2048 }).tolist() as number[];
  assert.ok(Math.abs(y[0] - plain[0]) < 1e-6 && Math.abs(y[dims / 2 - 1] - 4 * plain[dims / 2 - 1]) < 1e-6 * 4 * plain[dims / 2 - 1], `yarn ends: ${y}`);
  assert.equal(fast.ropeAttentionFactor({ type: 'yarn', factor: 4 }), 0.1 * Math.log(4) + 1);
  assert.equal(fast.ropeAttentionFactor({ type: 'linear', factor: 4 }), 1);
});

test('errors: dims, offsets, base with freqs', () => {
  const x = randn([2, 3, 4, 8]);
  assert.throws(() => fast.rope(x, 5), /\[rope\] dims must be a positive even number no larger than the last axis \(8\), got 5/);
  assert.throws(() => fast.rope(x, 8, { offset: mx.array([1, 2, 3]) }), /\[rope\] offset must be .* got shape \(3,\)/);
  assert.throws(() => fast.rope(x, 8, { base: 10, freqs: mx.ones([4]) }), /give either base or freqs/);
  assert.throws(() => fast.rope(x, 8, { freqs: mx.ones([3]) }), /freqs must have shape \(4,\)/);
});
