// batchGenerate drops rows as they finish: the forward passes shrink, and every row still
// gets exactly what it gets alone (tokens, logprobs, penalties over its own history).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Array } from '../../src/index.js';
import { load, streamGenerate, batchGenerate, type GenerateOptions, type GenerationModel, type KVCache } from '../../src/lm/index.js';
import { TINY_LLAMA } from './text-fixtures.js';

const { model, tokenizer } = load(TINY_LLAMA);

async function solo(ids: number[], options: GenerateOptions) {
  const tokens: number[] = [], logprobs: number[] = [];
  for await (const r of streamGenerate(model, null, ids, options)) {
    if (r.finishReason === 'stop' && options.stopTokens?.includes(r.token)) break;
    tokens.push(r.token);
    if (r.logprobs) logprobs.push(r.logprobs.logprob);
  }
  return { tokens, logprobs };
}

test('finished rows leave the batch; the others still equal their solo runs', async () => {
  const prompts = ['Call me', 'It is a way I have of driving off the spleen', 'The whale', 'Some years ago'].map((p) => tokenizer.encode(p));
  const free = await Promise.all(prompts.map((p) => solo(p, { maxTokens: 12 })));
  // A stop token that ends the first row early and (maybe) others at other steps.
  const stop = free[0].tokens[2];
  const options: GenerateOptions = { maxTokens: 12, stopTokens: [stop], logprobs: true, repetitionPenalty: 1.3 };
  const expected = await Promise.all(prompts.map((p) => solo(p, options)));
  assert.ok(new Set(expected.map((e) => e.tokens.length)).size > 1, 'rows finish at different steps');

  const batchSizes: number[] = [];
  const counting: GenerationModel = {
    forward: (inputs: Array, cache?: KVCache[]) => { batchSizes.push(inputs.shape[0]); return model.forward(inputs, cache); },
    makeCache: (o) => model.makeCache(o),
    layers: model.layers,
    args: model.args,
  };
  // The eager loop drops each row as it finishes (the compiled step keeps rows until half have
  // finished: test/lm/compiled-batch.test.ts); on the GPU the compiled step is the default.
  const batch = await batchGenerate(counting, null, prompts, { ...options, compiled: false });
  for (let i = 0; i < prompts.length; i++) {
    assert.deepEqual(batch.tokens[i], expected[i].tokens, `row ${i}`);
    batch.logprobs![i].forEach((l, k) => assert.ok(Math.abs(l.logprob - expected[i].logprobs[k]) < 1e-4, `row ${i} token ${k} logprob`));
    assert.equal(batch.finishReasons[i], expected[i].tokens.length < 12 ? 'stop' : 'length');
  }
  const decode = batchSizes.slice(-expected.reduce((n, e) => Math.max(n, e.tokens.length + 1), 0));
  assert.ok(decode.every((b, i) => i === 0 || b <= decode[i - 1]), `the batch only shrinks: ${batchSizes.join(',')}`);
  assert.ok(decode[decode.length - 1] < prompts.length, `finished rows left the batch: ${batchSizes.join(',')}`);
  // Rows still running at each step: the steps each row took.
  const steps = expected.map((e) => Math.min(e.tokens.length + 1, 12));
  const lastPrefill = batchSizes.length - Math.max(...steps);
  assert.deepEqual(batchSizes.slice(lastPrefill), Array.from({ length: Math.max(...steps) }, (_, k) => steps.filter((s) => s > k).length));
});
