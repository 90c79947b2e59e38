// Samplers and logits processors on crafted logits: which tokens each filter keeps, sampling
// frequencies against softmax(logits / temp), seeded repeatability, and the penalties.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as mx from '../../src/index.js';
import { makeSampler, makeLogitsProcessors, applyTopK, applyTopP, applyMinP } from '../../src/lm/index.js';

const logOf = (p: number[]) => mx.log(mx.array([p], mx.float32)); // (1, V) log-probabilities
const P = [0.5, 0.3, 0.15, 0.05];
const N = 2000;

/** Draws N tokens from one row of log-probabilities (broadcast to N rows); returns the counts per token. */
function draw(sampler: (x: mx.Array) => mx.Array, logprobs: mx.Array): number[] {
  const tokens = sampler(mx.broadcastTo(logprobs, [N, logprobs.shape[1]])).tolist() as number[];
  const counts = new Array(logprobs.shape[1]).fill(0);
  for (const t of tokens) counts[t]++;
  return counts;
}

const finite = (a: mx.Array) => (a.tolist() as number[][])[0].map((v) => v > -Infinity);

test('greedy: temp 0 takes the argmax of each row', () => {
  const s = makeSampler();
  assert.deepEqual(s(mx.array([[0.1, 3, 2], [5, 1, 1]])).tolist(), [1, 0]);
});

test('the filters keep the right tokens', () => {
  const lp = logOf(P);
  assert.deepEqual(finite(applyTopK(lp, 2)), [true, true, false, false]);
  assert.deepEqual(finite(applyTopK(logOf([0.1, 0.2, 0.6, 0.1]), 1)), [false, false, true, false]);
  // Sorted ascending 0.05, 0.15, 0.3, 0.5: cumulative 0.05, 0.2, 0.5, 1; keep those above 1 - topP.
  assert.deepEqual(finite(applyTopP(lp, 0.75)), [true, true, false, false]);
  assert.deepEqual(finite(applyTopP(lp, 0.9)), [true, true, true, false]);
  assert.deepEqual(finite(applyTopP(lp, 0.4)), [true, false, false, false]);
  // min-p 0.4: keep p >= 0.4 · 0.5 = 0.2; min-tokens-to-keep 3 adds the third.
  assert.deepEqual(finite(applyMinP(lp, 0.4)), [true, true, false, false]);
  assert.deepEqual(finite(applyMinP(lp, 0.4, 3)), [true, true, true, false]);
  // Kept entries keep their values.
  assert.ok(mx.allclose(mx.stridedSlice(applyTopK(lp, 2), [0, 0], [1, 2]), mx.stridedSlice(lp, [0, 0], [1, 2])).item());
  assert.throws(() => applyTopK(lp, 4), /topK must be an integer in \(0, 4\)/);
  assert.throws(() => applyMinP(lp, 1.5), /minP must be in \[0, 1\]/);
});

test('sampling follows softmax(logits / temp) and its filters', () => {
  mx.random.seed(7);
  const lp = logOf(P);
  const near = (counts: number[], expected: number[]) => counts.forEach((c, i) =>
    assert.ok(Math.abs(c / N - expected[i]) < 0.04, `token ${i}: frequency ${c / N}, expected ${expected[i]} (counts ${counts})`));
  near(draw(makeSampler({ temp: 1 }), lp), P);
  // temp 0.5 squares the probabilities (then renormalizes).
  const sq = P.map((p) => p * p), z = sq.reduce((a, b) => a + b);
  near(draw(makeSampler({ temp: 0.5 }), lp), sq.map((p) => p / z));
  near(draw(makeSampler({ temp: 1, topK: 2 }), lp), [0.5 / 0.8, 0.3 / 0.8, 0, 0]);
  near(draw(makeSampler({ temp: 1, topP: 0.9 }), lp), [0.5 / 0.95, 0.3 / 0.95, 0.15 / 0.95, 0]);
  near(draw(makeSampler({ temp: 1, minP: 0.4 }), lp), [0.5 / 0.8, 0.3 / 0.8, 0, 0]);
  const none = draw(makeSampler({ temp: 2, topK: 1 }), lp);
  assert.deepEqual(none, [N, 0, 0, 0]);
});

test('a seed makes sampling repeat', () => {
  const lp = mx.log(mx.softmax(mx.random.normal([1, 50])));
  const sampler = makeSampler({ temp: 1, topP: 0.95 });
  const run = (seed: number) => { mx.random.seed(seed); return sampler(mx.broadcastTo(lp, [64, 50])).tolist(); };
  assert.deepEqual(run(3), run(3));
  assert.notDeepEqual(run(3), run(4));
});

test('makeSampler checks its options', () => {
  assert.throws(() => makeSampler({ temp: -1 }), /temp must be >= 0/);
  assert.throws(() => makeSampler({ temp: 1, topP: 2 }), /topP must be in \[0, 1\]/);
  assert.throws(() => makeSampler({ temp: 1, topK: 1.5 }), /topK must be a non-negative integer/);
});

const logits = () => mx.array([[2, 2, -1, -1, 0.5]], mx.float32);
const apply = (procs: ReturnType<typeof makeLogitsProcessors>, tokens: number[] | number[][]) => {
  let l = logits();
  const t = mx.array(tokens, mx.int32);
  for (const p of procs) l = p(t, l);
  return (l.tolist() as number[][])[0];
};

test('repetition penalty: divides positive logits and multiplies negative ones of recent tokens', () => {
  assert.deepEqual(apply(makeLogitsProcessors({ repetitionPenalty: 2 }), [1, 1, 3]), [2, 1, -1, -2, 0.5]);
  // Only the last repetitionContextSize tokens count.
  assert.deepEqual(apply(makeLogitsProcessors({ repetitionPenalty: 2, repetitionContextSize: 1 }), [1, 1, 3]), [2, 2, -1, -2, 0.5]);
  assert.deepEqual(apply(makeLogitsProcessors({ repetitionPenalty: 2 }), []), [2, 2, -1, -1, 0.5]);
  assert.equal(makeLogitsProcessors({ repetitionPenalty: 1 }).length, 0);
});

test('presence and frequency penalties: once per token, once per occurrence', () => {
  assert.deepEqual(apply(makeLogitsProcessors({ presencePenalty: 0.5 }), [1, 1, 3]), [2, 1.5, -1, -1.5, 0.5]);
  assert.deepEqual(apply(makeLogitsProcessors({ frequencyPenalty: 0.5 }), [1, 1, 3]), [2, 1, -1, -1.5, 0.5]);
  assert.deepEqual(apply(makeLogitsProcessors({ frequencyPenalty: 0.5, frequencyContextSize: 2 }), [1, 1, 3]), [2, 1.5, -1, -1.5, 0.5]);
});

test('logit bias, and processors combined in order', () => {
  assert.deepEqual(apply(makeLogitsProcessors({ logitBias: { 0: -10, 4: 1.5 } }), [1]), [-8, 2, -1, -1, 2]);
  assert.deepEqual(apply(makeLogitsProcessors({ logitBias: new Map([[2, 3]]), repetitionPenalty: 2 }), [2]), [2, 2, 1, -1, 0.5]);
  assert.throws(() => apply(makeLogitsProcessors({ logitBias: { 9: 1 } }), [1]), /token id 9 is out of range for 5 logits/);
  assert.throws(() => makeLogitsProcessors({ logitBias: { [-1]: 1 } }), /non-negative integers/);
});

test('penalties on a batch: each row counts its own history', () => {
  const procs = makeLogitsProcessors({ frequencyPenalty: 1 });
  const l = mx.array([[0, 0, 0], [0, 0, 0]], mx.float32);
  const out = procs[0](mx.array([[0, 0], [2, 1]], mx.int32), l).tolist();
  assert.deepEqual(out, [[-2, 0, 0], [0, -1, -1]]);
});
