// Prompt-cache reuse across requests (MLX-LM's server): finished rows store their KV, later
// prompts fetch the nearest and prefill only the rest. Greedy outputs must equal those of an
// engine without reuse token for token: the same prompt again, a conversation continued
// through the chat template, a shared prefix only, n > 1, and requests arriving together.
// The store stays bounded, memory is the store's bytes and nothing else, cached_tokens is
// reported over HTTP, and bad options are refused.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as mx from '../../src/index.js';
import { Engine, type JobHandle, type SequenceParams } from '../../src/lm/server/index.js';
import { MODEL_ID, NO_EOS, assertFlat, client, startServer, tiny } from './helpers.js';

process.env.LATHE_BATCH_INVARIANT = '1'; // what the server sets

const greedy = (maxTokens: number, extra: Partial<SequenceParams> = {}): SequenceParams =>
  ({ temp: 0, topP: 0, topK: 0, minP: 0, seed: null, maxTokens, stop: [], logprobs: false, topLogprobs: 0, ...extra });

interface Result { tokens: number[][]; texts: string[]; cached: number }

/** Runs a request; the generated ids per choice come from logprobs (TokenInfo.id). */
async function run(engine: Engine, prompt: number[], params: SequenceParams, n = 1): Promise<Result> {
  const h: JobHandle = engine.submit({ prompt, n, params: { ...params, logprobs: true } });
  const tokens: number[][] = Array.from({ length: n }, () => []), texts = new Array<string>(n).fill('');
  for await (const e of h) {
    if (e.type !== 'delta') continue;
    texts[e.choice] += e.text;
    tokens[e.choice].push(...e.tokens.map((t) => t.id));
  }
  return { tokens, texts, cached: h.cachedTokens };
}

const { model, tokenizer } = tiny();
const cold = new Engine(model, tokenizer, { maxConcurrency: 6, prefillStepSize: 16, promptCacheSize: 0 });
const warm = new Engine(model, tokenizer, { maxConcurrency: 6, prefillStepSize: 16 });
after(() => Promise.all([cold.close(), warm.close()]));

/** The same request on both engines: equal tokens and text; returns the warm run. */
async function same(prompt: number[], params: SequenceParams, n = 1, what = ''): Promise<Result> {
  const [c, w] = await Promise.all([run(cold, prompt, params, n), run(warm, prompt, params, n)]);
  assert.equal(c.cached, 0);
  assert.deepEqual(w.tokens, c.tokens, `${what}: tokens differ with the prompt cache`);
  assert.deepEqual(w.texts, c.texts, what);
  return w;
}

test('reused caches give the tokens of full prefills: repeat, conversation, shared prefix, n > 1, concurrent', async () => {
  const memBefore = mx.getActiveMemory();
  const storeBefore = warm.stats().promptCacheBytes;
  const chat = [{ role: 'user' as const, content: 'Call me Ishmael. Some years ago, never mind how long precisely.' }];
  const p1 = tokenizer.applyChatTemplate(chat, { addGenerationPrompt: true });
  const first = await same(p1, greedy(20, { logitBias: NO_EOS }), 1, 'first');
  assert.equal(first.cached, 0);
  assert.equal(warm.stats().promptCaches, 1);

  // The same prompt again: everything but its last token (the first decode input) is reused.
  const again = await same(p1, greedy(20, { logitBias: NO_EOS }), 1, 'repeat');
  assert.equal(again.cached, p1.length - 1);

  // The conversation goes on: previous prompt + the answer + a new user turn, through the template.
  const p2 = tokenizer.applyChatTemplate([...chat, { role: 'assistant', content: first.texts[0] }, { role: 'user', content: 'Where is the whale?' }], { addGenerationPrompt: true });
  assert.deepEqual(p2.slice(0, p1.length), p1);
  const turn2 = await same(p2, greedy(12), 1, 'conversation');
  assert.ok(turn2.cached >= p1.length, `the second turn reused ${turn2.cached} tokens, the first prompt has ${p1.length}`);
  assert.ok(turn2.cached < p2.length);

  // Only a prefix shared: a stored sequence is trimmed back to it.
  const p3 = [...p1.slice(0, 12), ...tokenizer.encode(' a damp, drizzly November in my soul', { addSpecialTokens: false })];
  const shared = await same(p3, greedy(10), 1, 'shared prefix');
  assert.equal(shared.cached, 12);

  // n > 1 from a cached prompt: every choice is the greedy answer.
  const many = await same(p2, greedy(8), 3, 'n = 3');
  assert.equal(many.cached, p2.length - 1); // the second turn's sequence holds all of p2
  assert.deepEqual(many.tokens[1], many.tokens[0]);

  // Requests arriving together: hits prefill alone on their caches, misses together, all in one batch.
  const prompts = [p1, p2, p3, tokenizer.encode('It is a way I have of driving off the spleen'), [...p2, ...tokenizer.encode(' Ahab', { addSpecialTokens: false })]];
  const lengths = [9, 14, 6, 11, 7];
  const [c, w] = await Promise.all([cold, warm].map((e) => Promise.all(prompts.map((p, i) => run(e, p, greedy(lengths[i]), i === 3 ? 2 : 1)))));
  w.forEach((r, i) => assert.deepEqual(r.tokens, c[i].tokens, `concurrent request ${i}`));
  assert.ok(w.filter((r) => r.cached > 0).length >= 3, `cached: ${w.map((r) => r.cached).join(', ')}`);

  // The store is bounded by its count; idle, memory is what it was plus the store's bytes.
  const s = warm.stats();
  assert.ok(s.promptCaches >= 1 && s.promptCaches <= 10, `${s.promptCaches} caches`);
  assert.equal(s.cacheBytes, 0);
  assertFlat(mx.getActiveMemory() - s.promptCacheBytes, memBefore - storeBefore);
});

test('the store keeps at most promptCacheSize caches and promptCacheBytes bytes; close() frees it', async () => {
  const base = mx.getActiveMemory();
  const e = new Engine(model, tokenizer, { maxConcurrency: 4, promptCacheSize: 2 });
  const prompts = ['Call me', 'The whale', 'It is a way I have', 'Whenever I find myself'].map((t) => tokenizer.encode(t));
  await Promise.all(prompts.map((p) => run(e, p, greedy(5, { logitBias: NO_EOS }))));
  assert.equal(e.stats().promptCaches, 2);
  assert.equal(mx.getActiveMemory() - e.stats().promptCacheBytes, base);
  await e.close();
  assert.equal(e.stats().promptCaches, 0);
  assert.equal(mx.getActiveMemory(), base);

  // One layer of one row of this model: 2 arrays x kvHeads 2 x headDim 32 x 4 bytes per token; 4 layers.
  const perToken = 4 * 2 * 2 * 32 * 4;
  const b = new Engine(model, tokenizer, { maxConcurrency: 4, promptCacheBytes: 12 * perToken });
  await run(b, tokenizer.encode('Call me'), greedy(3, { logitBias: NO_EOS })); // a few tokens: kept
  assert.equal(b.stats().promptCaches, 1);
  assert.ok(b.stats().promptCacheBytes <= 12 * perToken);
  await run(b, prompts[3], greedy(12, { logitBias: NO_EOS })); // more than the bound: evicted with the rest
  assert.ok(b.stats().promptCacheBytes <= 12 * perToken, `${b.stats().promptCacheBytes} bytes`);
  await b.close();
  assert.equal(mx.getActiveMemory(), base);
});

test('bad prompt-cache options are refused with the option named', () => {
  for (const [opts, re] of [
    [{ promptCacheSize: -1 }, /promptCacheSize must be an integer >= 0, got -1/],
    [{ promptCacheSize: 2.5 }, /promptCacheSize must be an integer >= 0, got 2.5/],
    [{ promptCacheBytes: -5 }, /promptCacheBytes must be an integer >= 0 \(or Infinity: no limit\), got -5/],
    [{ promptCacheBytes: Number.NaN }, /promptCacheBytes .* got NaN/],
  ] as const) assert.throws(() => new Engine(model, tokenizer, opts), re);
  const off = new Engine(model, tokenizer, { promptCacheBytes: 0 });
  assert.equal(off.promptCache, null);
  void off.close();
});

test('HTTP: usage.prompt_tokens_details.cached_tokens counts the reused prompt tokens; answers equal a server without reuse', async () => {
  const [on, off] = await Promise.all([startServer(), startServer({ promptCacheSize: 0 })]);
  try {
    const messages = [{ role: 'user' as const, content: 'Tell me about the sea.' }];
    const ask = (s: typeof on, m: typeof messages) => client(s).chat.completions.create({ model: MODEL_ID, messages: m, max_tokens: 10, temperature: 0 });
    const a = await ask(on, messages);
    assert.equal(a.usage?.prompt_tokens_details?.cached_tokens, 0);
    const b = await ask(on, messages);
    assert.equal(b.usage?.prompt_tokens_details?.cached_tokens, a.usage!.prompt_tokens - 1);
    assert.equal(b.choices[0].message.content, a.choices[0].message.content);
    const next = [...messages, { role: 'assistant' as const, content: a.choices[0].message.content ?? '' }, { role: 'user' as const, content: 'And the whale?' }];
    const [c, ref] = await Promise.all([ask(on, next), ask(off, next)]);
    assert.equal(c.choices[0].message.content, ref.choices[0].message.content);
    assert.ok(c.usage!.prompt_tokens_details!.cached_tokens >= a.usage!.prompt_tokens, JSON.stringify(c.usage));
    assert.equal(ref.usage?.prompt_tokens_details?.cached_tokens, 0);
    // Completions (a list of prompts: summed over them), streamed with usage.
    const stream = await client(on).completions.create({ model: MODEL_ID, prompt: ['Call me', 'Call me'], max_tokens: 4, temperature: 0, stream: true, stream_options: { include_usage: true } });
    let usage = null;
    for await (const ch of stream) if (ch.usage) usage = ch.usage;
    assert.ok(usage);
    const again = await client(on).completions.create({ model: MODEL_ID, prompt: 'Call me', max_tokens: 4, temperature: 0 });
    assert.equal(again.usage?.prompt_tokens_details?.cached_tokens, again.usage!.prompt_tokens - 1);
    const health = await (await fetch(`${on.url}/health`)).json() as { promptCaches: number; promptCacheBytes: number };
    assert.ok(health.promptCaches >= 2 && health.promptCacheBytes > 0, JSON.stringify(health));
  } finally {
    await Promise.all([on.close(), off.close()]);
  }
});
