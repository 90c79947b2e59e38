// fast.rope: the CPU kernel against its reference (layouts, offsets of every kind, partial
// rotation, explicit frequencies; values and gradients), against closed forms, and the
// scaled frequencies against their definitions.
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
