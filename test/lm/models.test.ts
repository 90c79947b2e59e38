// Every architecture against Hugging Face transformers (test/fixtures/lm, made by
// scripts/fixtures/lm_models.py): float32 logits within 1e-4 of the logits' scale, the same
// greedy tokens with the KV cache (prefill, then one token at a time), chunked prefill, and
// left-padded batches of prompts of different lengths.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as mx from '../../src/index.js';
import { loadModel } from '../../src/lm/load.js';
import { KVCache } from '../../src/lm/cache.js';
import type { LanguageModel } from '../../src/lm/models/base.js';
import { ARCHS, closeTo, fixtureDir, ids, lastArgmax, reference } from './model-fixtures.js';

const RTOL = 1e-4;

function greedyWithCache(model: LanguageModel, prompt: number[][], steps: number, cache = model.makeCache()): number[][] {
  let logits = model.forward(ids(prompt), cache);
  const out: number[][] = prompt.map(() => []);
  for (let i = 0; i < steps; i++) {
    const next = lastArgmax(logits);
    next.forEach((t, b) => out[b].push(t));
    logits = model.forward(ids(next.map((t) => [t])), cache);
  }
  return out;
}

for (const arch of ARCHS) {
  test(`${arch}: logits and greedy tokens match transformers`, () => {
    const ref = reference(arch);
    const model = loadModel(fixtureDir(arch), { dtype: 'float32' });
    assert.equal(model.args.model_type, arch);

    const logits = model.forward(ids([ref.prompt]));
    assert.deepEqual(logits.shape, [1, ref.prompt.length, model.args.vocab_size]);
    assert.equal(logits.dtype.name, 'float32');
    const a = closeTo(mx.squeeze(logits, 0), ref.logits, RTOL);
    assert.ok(a.ok, `prompt logits differ by ${a.diff} (scale ${a.scale})`);
    const b = closeTo(mx.squeeze(model.forward(ids([ref.prompt_b])), 0), ref.logits_b, RTOL);
    assert.ok(b.ok, `second prompt's logits differ by ${b.diff} (scale ${b.scale})`);

    assert.deepEqual(greedyWithCache(model, [ref.prompt], ref.greedy.length)[0], ref.greedy);
  });

  test(`${arch}: chunked prefill through the cache gives the same logits`, () => {
    const ref = reference(arch);
    const model = loadModel(fixtureDir(arch), { dtype: 'float32' });
    const cache = model.makeCache();
    // Chunks of 17, 1 and 6: the rotating caches (window 8) trim between multi-token updates.
    // (The first chunk is past Phi-3's original_max_position_embeddings, 16: LongRoPE picks its
    // factors by the sequence length so far, so a shorter first chunk would rotate differently.)
    const cuts = [0, 17, 18, ref.prompt.length];
    for (let i = 0; i + 1 < cuts.length; i++) {
      const out = model.forward(ids([ref.prompt.slice(cuts[i], cuts[i + 1])]), cache);
      const want = mx.index(ref.logits, mx.s(cuts[i], cuts[i + 1]));
      const c = closeTo(mx.squeeze(out, 0), want, RTOL);
      assert.ok(c.ok, `chunk ${cuts[i]}..${cuts[i + 1]}: differs by ${c.diff} (scale ${c.scale})`);
    }
    assert.equal(cache[0].offset, ref.prompt.length);
  });

  test(`${arch}: left-padded batch of two prompts matches each prompt alone`, () => {
    const ref = reference(arch);
    const model = loadModel(fixtureDir(arch), { dtype: 'float32' });
    // Phi-3's LongRoPE picks its factors by the longest row (as transformers does), so there the
    // short row is a 20-token prefix of the prompt, past original_max_position_embeddings (16).
    const [short, shortLogits] = arch === 'phi3' ? [ref.prompt.slice(0, 20), mx.index(ref.logits, mx.s(0, 20))] : [ref.prompt_b, ref.logits_b];
    const pad = ref.prompt.length - short.length;
    const batch = [ref.prompt, [...new globalThis.Array<number>(pad).fill(0), ...short]];
    const cache = model.makeCache({ leftPadding: [0, pad] });
    const logits = model.forward(ids(batch), cache);
    const r0 = closeTo(mx.index(logits, 0), ref.logits, RTOL);
    assert.ok(r0.ok, `row 0 differs by ${r0.diff}`);
    const r1 = closeTo(mx.index(logits, 1, mx.s(pad)), shortLogits, RTOL);
    assert.ok(r1.ok, `row 1 (padded) differs by ${r1.diff}`);
    // Decoding the batch: each row continues as it would alone.
    const steps = 4;
    const fromBatch = greedyWithCache(model, batch, steps, model.makeCache({ leftPadding: [0, pad] }));
    assert.deepEqual(fromBatch[0], ref.greedy.slice(0, steps));
    assert.deepEqual(fromBatch[1], greedyWithCache(model, [short], steps)[0]);
  });
}

test('a plain KVCache on sliding-window layers gives what the rotating caches give', () => {
  // Mistral's window (8) is smaller than prompt + continuation: the mask, not the cache, sets the window.
  const ref = reference('mistral');
  const model = loadModel(fixtureDir('mistral'), { dtype: 'float32' });
  const plain = model.layers.map(() => new KVCache());
  assert.deepEqual(greedyWithCache(model, [ref.prompt], ref.greedy.length, plain)[0], ref.greedy);
  assert.equal(plain[0].keys!.shape[2], ref.prompt.length + ref.greedy.length);
  const rotating = model.makeCache();
  greedyWithCache(model, [ref.prompt], ref.greedy.length, rotating);
  assert.equal(rotating[0].keys!.shape[2], 8); // only the window is kept
});
