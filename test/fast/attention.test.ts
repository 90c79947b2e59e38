// fast.scaledDotProductAttention: the CPU kernel (online softmax over key blocks, backward by
// recomputation) against the explicit softmax(QKᵀ)V reference for every mask kind, grouped
// heads, windows, soft-capping and key lengths (values and gradients, four dtypes), against
// closed forms, and its memory: no L × S matrix.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as mx from '../../src/index.js';
import * as fast from '../../src/fast/index.js';
import type { AttentionOptions } from '../../src/fast/index.js';
import { DTYPES, randn, compareWithReference, assertClose, primitiveOf } from './helpers.js';

const sdpa = (o: AttentionOptions) => (q: mx.Array, k: mx.Array, v: mx.Array) => fast.scaledDotProductAttention(q, k, v, o);
const ref = (o: AttentionOptions) => (q: mx.Array, k: mx.Array, v: mx.Array) => fast.reference.scaledDotProductAttention(q, k, v, o);

// [name, q shape, k/v shape, options]; 130 queries and 300 keys span two blocks each (128, 256).
const cases: [string, number[], number[], () => AttentionOptions][] = [
  ['no mask', [2, 2, 5, 8], [2, 2, 7, 8], () => ({})],
  ['causal, grouped heads, two blocks each way', [1, 4, 130, 8], [1, 2, 300, 8], () => ({ mask: 'causal' })],
  ['multi-query, sliding window', [1, 4, 9, 8], [1, 1, 9, 8], () => ({ mask: 'causal', windowSize: 3 })],
  ['sliding window across blocks', [1, 1, 300, 8], [1, 1, 300, 8], () => ({ mask: 'causal', windowSize: 40 })],
  ['soft-capping, custom scale', [1, 2, 5, 8], [1, 2, 6, 8], () => ({ softcap: 2, scale: 0.9 })],
  ['boolean mask', [2, 2, 5, 8], [2, 2, 6, 8], () => ({ mask: mx.greater(randn([2, 1, 5, 6]), -0.5) })],
  ['additive mask', [2, 2, 5, 8], [2, 2, 6, 8], () => ({ mask: randn([5, 6]) })],
  ['key lengths (one row empty), causal', [3, 2, 5, 8], [3, 2, 6, 8], () => ({ keyLengths: [6, 2, 0], mask: 'causal' })],
  ['decode: one query, long cache, Dv ≠ D', [1, 4, 1, 8], [1, 2, 600, 8], () => ({})],
];

// Every case in float32 (float64 is checked against finite differences in rules.test.ts); in the halves (where the kernel's float32 work is
// rounded once) the cases that exercise the most code: blocks, grouping, masks, capping.
const halfCases = new Set(['causal, grouped heads, two blocks each way', 'soft-capping, custom scale']);

test('the kernel matches the reference for every mask kind and head grouping, in float32, float16 and bfloat16', () => {
  for (const dt of DTYPES) for (const [name, qs, ks, opts] of cases) {
    if (dt !== 'float32' && !halfCases.has(name)) continue;
    const o = opts();
    const q = randn(qs, dt), k = randn(ks, dt), v = randn(name.startsWith('decode') ? [...ks.slice(0, 3), 12] : ks, dt);
    compareWithReference(`sdpa ${name}`, sdpa(o), ref(o), [q, k, v], [0, 1, 2], dt, 3);
  }
});

test('the kernel runs forward and backward on the CPU', () => {
  const q = randn([1, 2, 4, 8]), k = randn([1, 2, 4, 8]);
  const y = fast.scaledDotProductAttention(q, k, k, { mask: 'causal' });
  assert.equal(primitiveOf(y), 'scaledDotProductAttention');
  const [, [dq]] = mx.vjp((a: mx.Array) => fast.scaledDotProductAttention(a, k, k), [q], [y]);
  assert.equal(primitiveOf(dq), 'scaledDotProductAttentionVjp');
});

test('closed forms: zero queries average the values; causal row 0 sees key 0; empty rows give zeros', () => {
  const k = randn([1, 1, 6, 4], 'float64'), v = randn([1, 1, 6, 4], 'float64');
  const zeros = mx.zeros([1, 1, 3, 4], 'float64');
  assertClose(fast.scaledDotProductAttention(zeros, k, v), mx.broadcastTo(mx.mean(v, 2, true), [1, 1, 3, 4]), { rtol: 1e-14, atol: 1e-15 }, 'uniform');
  const q6 = randn([1, 1, 6, 4], 'float64');
  const causal = fast.scaledDotProductAttention(q6, k, v, { mask: 'causal' });
  assertClose(mx.index(causal, mx.s(), mx.s(), 0), mx.index(v, mx.s(), mx.s(), 0), { rtol: 0, atol: 1e-15 }, 'first causal row');
  // Queries aligned with the last keys: with L = 3 < S = 6, the first query sees keys 0..3.
  const tail = fast.scaledDotProductAttention(mx.zeros([1, 1, 3, 4], 'float64'), k, v, { mask: 'causal' });
  assertClose(mx.index(tail, mx.s(), mx.s(), 0), mx.mean(mx.index(v, mx.s(), mx.s(), mx.s(0, 4)), 2), { rtol: 1e-14, atol: 1e-15 }, 'bottom-right alignment');
  const none = fast.scaledDotProductAttention(q6, k, v, { mask: mx.zeros([6, 6], 'bool') });
  assertClose(none, mx.zeros([1, 1, 6, 4], 'float64'), { rtol: 0, atol: 0 }, 'nothing to attend');
  const [, grads] = mx.vjp((q: mx.Array, k: mx.Array, v: mx.Array) => fast.scaledDotProductAttention(q, k, v, { keyLengths: [0] }), [q6, k, v], [v]);
  for (const g of grads) assert.ok(mx.all(mx.equal(g, 0)).item(), 'no gradient through an empty row');
});

test('grouped-query attention equals attention over repeated key/value heads', () => {
  const q = randn([2, 6, 5, 8]), k = randn([2, 2, 7, 8]), v = randn([2, 2, 7, 8]);
  const rep = (a: mx.Array) => mx.repeat(a, 3, 1);
  assertClose(fast.scaledDotProductAttention(q, k, v, { mask: 'causal' }), fast.scaledDotProductAttention(q, rep(k), rep(v), { mask: 'causal' }), { rtol: 1e-6, atol: 1e-6 }, 'gqa');
  const project = (f: (k: mx.Array, v: mx.Array) => mx.Array) => (k: mx.Array, v: mx.Array) => mx.sum(mx.multiply(f(k, v), q));
  const [gk] = mx.grad(project((k, v) => fast.scaledDotProductAttention(q, k, v)), [0, 1])(k, v) as mx.Array[];
  const [gkr] = mx.grad(project((k, v) => fast.scaledDotProductAttention(q, rep(k), rep(v))), [0, 1])(k, v) as mx.Array[];
  assertClose(gk, gkr, { rtol: 1e-5, atol: 1e-5 }, 'gqa key gradient');
});

test('windows and key lengths are the boolean masks they stand for', () => {
  const q = randn([2, 2, 6, 8]), k = randn([2, 2, 9, 8]), v = randn([2, 2, 9, 8]);
  const qpos = mx.expandDims(mx.arange(3, 9), 1), kpos = mx.arange(9);
  const windowMask = mx.logicalAnd(mx.lessEqual(kpos, qpos), mx.less(mx.subtract(qpos, kpos), 4));
  assertClose(fast.scaledDotProductAttention(q, k, v, { mask: 'causal', windowSize: 4 }), fast.scaledDotProductAttention(q, k, v, { mask: windowMask }), { rtol: 1e-6, atol: 1e-6 }, 'window');
  const lensMask = mx.reshape(mx.less(kpos, mx.expandDims(mx.array([9, 4]), 1)), [2, 1, 1, 9]);
  assertClose(fast.scaledDotProductAttention(q, k, v, { keyLengths: mx.array([9, 4]) }), fast.scaledDotProductAttention(q, k, v, { mask: lensMask }), { rtol: 1e-6, atol: 1e-6 }, 'key lengths');
});

test('memory: the kernel holds no L × S matrix, the reference holds several', () => {
  const L = 1024, q = randn([1, 1, L, 32]), k = randn([1, 1, L, 32]), v = randn([1, 1, L, 32]);
  mx.eval(q, k, v);
  const peak = (f: () => mx.Array) => {
    mx.clearCache();
    const base = mx.getActiveMemory();
    mx.resetPeakMemory();
    const y = f();
    mx.eval(y);
    const p = mx.getPeakMemory() - base;
    mx.dispose(y);
    return p;
  };
  const scores = L * L * 4;
  const kernel = peak(() => fast.scaledDotProductAttention(q, k, v, { mask: 'causal' }));
  const reference = peak(() => fast.reference.scaledDotProductAttention(q, k, v, { mask: 'causal' }));
  assert.ok(kernel < scores / 8, `kernel peak ${kernel} bytes should be far below one L × S float32 matrix (${scores})`);
  assert.ok(reference >= scores, `reference peak ${reference} bytes should hold at least one L × S matrix`);
  const grads = peak(() => mx.grad((q: mx.Array) => mx.sum(fast.scaledDotProductAttention(q, k, v, { mask: 'causal' })))(q));
  assert.ok(grads < scores / 4, `backward peak ${grads} bytes should be far below an L × S matrix (${scores})`);
});

test('errors: ranks, heads, masks, key lengths, options', () => {
  const q = randn([1, 4, 3, 8]), k = randn([1, 3, 5, 8]);
  assert.throws(() => fast.scaledDotProductAttention(mx.ones([4, 3, 8]), k, k), /expected 4-d queries, keys and values/);
  assert.throws(() => fast.scaledDotProductAttention(q, k, k), /the query heads \(4\) must be a multiple of the key\/value heads \(3\)/);
  const k2 = randn([1, 2, 5, 8]);
  assert.throws(() => fast.scaledDotProductAttention(q, k2, k2, { mask: mx.ones([3, 4]) }), /mask \(3,4\) must broadcast to \(B, Hq, L, S\) = \(1,4,3,5\)/);
  assert.throws(() => fast.scaledDotProductAttention(q, k2, k2, { keyLengths: [1, 2] }), /keyLengths must be an integer array of shape \(1,\)/);
  assert.throws(() => fast.scaledDotProductAttention(q, k2, k2, { windowSize: 0 }), /windowSize must be a positive integer/);
  assert.throws(() => fast.scaledDotProductAttention(q, k2, k2, { mask: mx.ones([3, 5], 'int32') }), /mask must be boolean or floating point/);
});
