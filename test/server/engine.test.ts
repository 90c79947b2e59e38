// The continuous-batching engine without HTTP: the batch cache's join (extend) and leave
// (filter) operations, and greedy output identical alone, among others joining and leaving
// at different steps, and to the library's streamGenerate.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as mx from '../../src/index.js';
import { KVCache, streamGenerate } from '../../src/lm/index.js';
import { BatchCache, Engine, EngineError, type SequenceParams } from '../../src/lm/server/index.js';
import { heldMemory, tiny } from './helpers.js';

process.env.LATHE_BATCH_INVARIANT = '1'; // what the server sets

const greedy = (maxTokens: number, extra: Partial<SequenceParams> = {}): SequenceParams =>
  ({ temp: 0, topP: 0, topK: 0, minP: 0, seed: null, maxTokens, stop: [], logprobs: false, topLogprobs: 0, ...extra });

/** A one-row cache of `len` columns whose values are 100 * tag + column. */
function rowCache(len: number, tag: number): KVCache[] {
  return [0, 1].map(() => {
    const c = new KVCache();
    const [k, v] = mx.tidy(() => [0, 1].map(() => mx.reshape(mx.add(mx.arange(0, len, 1, 'float32'), 100 * tag), [1, 1, len, 1])));
    c.updateAndFetch(k, v);
    return c;
  });
}

/** Values of a cache array (reshaped in a tidy scope, so no view keeps its buffer alive). */
const read = (a: mx.Array, shape: number[]) => mx.tidy(() => mx.reshape(a, shape).tolist());

test('BatchCache: rows join left-padded with zeros, leave with the shared padding cut', () => {
  const b = BatchCache.fromSequence(rowCache(3, 1), 1);
  b.extend(BatchCache.fromSequence(rowCache(5, 2), 2));
  assert.equal(b.rows, 3);
  assert.equal(b.offset, 5);
  assert.deepEqual(b.padding, [2, 0, 0]);
  assert.deepEqual(read(b.layers[1].keys!, [3, 5]), [[0, 0, 100, 101, 102], [200, 201, 202, 203, 204], [200, 201, 202, 203, 204]]);
  assert.ok(b.layers.every((c) => c.leftPadding === b.padding));
  // A shorter sequence joins: it is the one padded now.
  b.extend(BatchCache.fromSequence(rowCache(1, 3), 1));
  assert.deepEqual(b.padding, [2, 0, 0, 4]);
  // The longer rows leave: the padding all remaining rows share (2) is cut.
  b.filter([0, 3]);
  assert.deepEqual(b.padding, [0, 2]);
  assert.equal(b.offset, 3);
  assert.deepEqual(read(b.layers[0].values!, [2, 3]), [[100, 101, 102], [0, 0, 300]]);
  b.filter([1]);
  assert.deepEqual(b.padding, [0]);
  assert.deepEqual(read(b.layers[0].keys!, [1]), [300]);
  assert.equal(b.nbytes, 2 * 2 * 4);
  const held = mx.getActiveMemory();
  b.filter([]);
  assert.equal(b.rows, 0);
  assert.equal(mx.getActiveMemory(), held - 16); // what the batch held is freed
  // Empty caches (one-token prompts) join too.
  const e = BatchCache.fromSequence([new KVCache(), new KVCache()], 2);
  e.extend(BatchCache.fromSequence(rowCache(2, 4), 1));
  assert.deepEqual(e.padding, [2, 2, 0]);
  assert.deepEqual(read(e.layers[0].keys!, [3, 2]), [[0, 0], [0, 0], [400, 401]]);
  const before = mx.getActiveMemory();
  const bytes = e.nbytes;
  e.dispose();
  assert.equal(mx.getActiveMemory(), before - bytes);
});

async function collect(engine: Engine, prompt: number[], params: SequenceParams, n = 1): Promise<{ texts: string[]; reasons: string[]; tokens: number[] }> {
  const h = engine.submit({ prompt, n, params });
  const texts = new Array<string>(n).fill(''), reasons = new Array<string>(n).fill('');
  for await (const e of h) {
    if (e.type === 'delta') texts[e.choice] += e.text;
    else reasons[e.choice] = e.reason;
  }
  return { texts, reasons, tokens: h.completionTokens };
}

test('greedy output is the same alone, among others joining and leaving, and as streamGenerate', async () => {
  const { model, tokenizer } = tiny();
  const engine = new Engine(model, tokenizer, { maxConcurrency: 6, prefillStepSize: 7 });
  const prompts = ['Call me Ishmael.', 'It is a way I have of driving off the spleen and regulating the circulation', 'x', 'The whale, the whale!'].map((p) => tokenizer.encode(p));
  const lengths = [16, 9, 12, 14];
  const alone: Awaited<ReturnType<typeof collect>>[] = [];
  for (let i = 0; i < prompts.length; i++) alone.push(await collect(engine, prompts[i], greedy(lengths[i])));
  for (let i = 0; i < prompts.length; i++) {
    let text = '';
    for await (const r of streamGenerate(model, tokenizer, prompts[i], { maxTokens: lengths[i] })) text += r.text;
    assert.equal(alone[i].texts[0], text, `prompt ${i}: the engine differs from streamGenerate`);
  }
  const before = heldMemory(engine);
  // Staggered: later requests join a running batch, shorter ones leave it early; n = 2 rows too.
  const runs = await Promise.all(prompts.flatMap((p, i) => [0, 1].map((k) => new Promise<Awaited<ReturnType<typeof collect>>>((resolve, reject) => {
    setTimeout(() => collect(engine, p, greedy(lengths[i]), k + 1).then(resolve, reject), (i * 2 + k) * 40);
  }))));
  runs.forEach((r, j) => {
    const ref = alone[Math.floor(j / 2)];
    for (let c = 0; c < r.texts.length; c++) {
      assert.equal(r.texts[c], ref.texts[0], `run ${j} choice ${c}`);
      assert.equal(r.reasons[c], ref.reasons[0]);
      assert.equal(r.tokens[c], ref.tokens[0]);
    }
  });
  // A burst: submitted in one turn, the prompts are prefilled together as one padded batch.
  const burst = await Promise.all(prompts.map((p, i) => collect(engine, p, greedy(lengths[i]))));
  burst.forEach((r, i) => assert.equal(r.texts[0], alone[i].texts[0], `burst ${i}`));
  assert.equal(heldMemory(engine), before); // the prompt cache (bounded) aside, nothing is left
  await engine.close();
});

test('the queue limit, cancelling queued requests, and closing', async () => {
  const { model, tokenizer } = tiny();
  const engine = new Engine(model, tokenizer, { maxConcurrency: 1, maxQueue: 1 });
  const prompt = tokenizer.encode('Call me');
  const a = engine.submit({ prompt, n: 1, params: greedy(30) });
  const b = engine.submit({ prompt, n: 1, params: greedy(3) });
  assert.throws(() => engine.submit({ prompt, n: 1, params: greedy(3) }), (e) => e instanceof EngineError && e.status === 429);
  assert.throws(() => engine.submit({ prompt, n: 2, params: greedy(3) }), (e) => e instanceof EngineError && e.status === 400);
  b.cancel();
  assert.equal(engine.stats().queued, 0);
  const c = engine.submit({ prompt, n: 1, params: greedy(2) });
  a.cancel();
  let events = 0;
  for await (const _ of c) events++;
  assert.ok(events >= 2);
  await engine.close();
  assert.throws(() => engine.submit({ prompt, n: 1, params: greedy(3) }), (e) => e instanceof EngineError && e.status === 503);
});
