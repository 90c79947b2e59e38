// Generation on the shipped model: greedy decoding with the cache equals argmax over the full
// sequence recomputed each step; batches equal solo runs; stop strings and tokens; logprobs;
// speculative decoding; cache options; flat memory over a long generation.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as mx from '../../src/index.js';
import {
  load, loadModel, streamGenerate, generate, batchGenerate, makePromptCache, cacheState, generateStep,
  type GenerateOptions, type GenerationResponse, type Prompt,
} from '../../src/lm/index.js';
import { TINY_LLAMA } from './text-fixtures.js';

const { model, tokenizer } = load(TINY_LLAMA);

/** Greedy continuation recomputing the whole sequence each step (no cache): the reference. */
function referenceGreedy(prompt: number[], n: number): number[] {
  const seq = [...prompt];
  for (let i = 0; i < n; i++) {
    const next = mx.tidy(() => {
      const logits = model.forward(mx.array([seq], mx.int32));
      return mx.argmax(mx.reshape(mx.stridedSlice(logits, [0, seq.length - 1], [1, seq.length]), [-1])).item() as number;
    });
    seq.push(next);
  }
  return seq.slice(prompt.length);
}

async function collect(prompt: Prompt, options: GenerateOptions, tok: typeof tokenizer | null = null): Promise<GenerationResponse[]> {
  const out: GenerationResponse[] = [];
  for await (const r of streamGenerate(model, tok, prompt, options)) out.push(r);
  return out;
}

const PROMPT = tokenizer.encode('Call me Ishmael. Some years ago');
let reference: number[] | null = null;
/** The first n greedy tokens after PROMPT (computed once: the model runs ~25 ms a token here). */
const greedyRef = (n: number) => (reference ??= referenceGreedy(PROMPT, 30)).slice(0, n);

test('greedy streamGenerate with a KV cache equals argmax over the recomputed sequence', async () => {
  const n = 24;
  const responses = await collect(PROMPT, { maxTokens: n }); // no tokenizer: no eos, ids only
  assert.equal(responses.length, n);
  assert.deepEqual(responses.map((r) => r.token), greedyRef(n));
  assert.ok(responses.slice(0, -1).every((r) => r.finishReason === null));
  assert.equal(responses[n - 1].finishReason, 'length');
  assert.equal(responses[n - 1].generationTokens, n);
  assert.equal(responses[n - 1].promptTokens, PROMPT.length);
});

test('generate returns the streamed text; the low-level generateStep gives the same tokens', async () => {
  const text = await generate(model, tokenizer, 'Call me', { maxTokens: 16 });
  const responses = await collect('Call me', { maxTokens: 16 }, tokenizer);
  assert.equal(responses.map((r) => r.text).join(''), text);
  const last = responses[responses.length - 1];
  const tokens = responses.map((r) => r.token).filter((t) => !tokenizer.eosTokenIds.has(t));
  assert.equal(tokenizer.decode(tokens), text);
  assert.ok(last.finishReason === 'stop' ? tokenizer.eosTokenIds.has(last.token) : last.generationTokens === 16);
  const steps = [...generateStep(tokenizer.encode('Call me'), model, { maxTokens: responses.length })].map((s) => s.token);
  assert.deepEqual(steps, responses.map((r) => r.token));
});

test('chunked prefill gives the same tokens', async () => {
  const b = (await collect(PROMPT, { maxTokens: 8, prefillStepSize: 3 })).map((r) => r.token);
  assert.deepEqual(b, greedyRef(8));
});

test('a chat prompt goes through the chat template', async () => {
  const messages = [{ role: 'user', content: 'Call me Ishmael.' }];
  const ids = tokenizer.applyChatTemplate(messages, { addGenerationPrompt: true });
  const viaChat = (await collect(messages, { maxTokens: 4, stopTokens: [] }, tokenizer)).map((r) => r.token);
  const viaIds = (await collect(ids, { maxTokens: 4 }, tokenizer)).map((r) => r.token);
  assert.deepEqual(viaChat, viaIds);
});

test('batchGenerate over prompts of different lengths equals greedy solo runs', async () => {
  const prompts = ['Call me', 'It is a way I have of driving off the spleen', 'The whale'].map((p) => tokenizer.encode(p));
  const n = 8;
  const batch = await batchGenerate(model, null, prompts, { maxTokens: n });
  assert.deepEqual(batch.finishReasons, ['length', 'length', 'length']);
  for (let i = 0; i < prompts.length; i++) {
    const solo = (await collect(prompts[i], { maxTokens: n })).map((r) => r.token);
    assert.deepEqual(batch.tokens[i], solo, `prompt ${i}`);
  }
  // With the tokenizer: texts, and rows ending at their own eos.
  const withText = await batchGenerate(model, tokenizer, ['Call me', 'The whale'], { maxTokens: 8 });
  for (let i = 0; i < 2; i++) assert.equal(withText.texts[i], tokenizer.decode(withText.tokens[i]));
});

test('stop strings cut the text before them; stop tokens end generation', async () => {
  const tokens = greedyRef(30);
  const full = tokenizer.decode(tokens);
  // A stop string from the middle of the greedy text (spanning tokens, most likely).
  const stop = full.slice(12, 17);
  const cut = full.slice(0, full.indexOf(stop));
  const stopped = await collect(PROMPT, { maxTokens: 30, stop: [stop, 'no such text'] }, tokenizer);
  assert.equal(stopped.map((r) => r.text).join(''), cut);
  assert.equal(stopped[stopped.length - 1].finishReason, 'stop');
  // A stop token: generation ends at its first occurrence, which is not part of the text.
  const at = tokens.indexOf(tokens[6]);
  const byToken = await collect(PROMPT, { maxTokens: 30, stopTokens: [tokens[6]] }, tokenizer);
  assert.equal(byToken.length, at + 1);
  assert.equal(byToken[at].finishReason, 'stop');
  assert.equal(byToken[at].token, tokens[6]);
  assert.equal(byToken.map((r) => r.text).join(''), tokenizer.decode(tokens.slice(0, at)));
});

test('logprobs and top logprobs match the model\'s log-softmax', async () => {
  const rs = await collect(PROMPT, { maxTokens: 3, topLogprobs: 4 });
  const ref = mx.tidy(() => {
    const logits = model.forward(mx.array([PROMPT], mx.int32));
    const last = mx.reshape(mx.stridedSlice(logits, [0, PROMPT.length - 1], [1, PROMPT.length]), [-1]);
    return (mx.subtract(last, mx.logsumexp(last)).tolist() as number[]);
  });
  const first = rs[0].logprobs!;
  assert.ok(Math.abs(first.logprob - ref[rs[0].token]) < 1e-4);
  assert.equal(first.topLogprobs.length, 4);
  assert.equal(first.topLogprobs[0].token, rs[0].token, 'greedy picks the most likely token');
  for (let i = 1; i < 4; i++) assert.ok(first.topLogprobs[i].logprob <= first.topLogprobs[i - 1].logprob);
  for (const t of first.topLogprobs) assert.ok(Math.abs(t.logprob - ref[t.token]) < 1e-4);
  const plain = await collect(PROMPT, { maxTokens: 2, logprobs: true });
  assert.equal(plain[0].logprobs!.topLogprobs.length, 0);
  assert.equal((await collect(PROMPT, { maxTokens: 2 }))[0].logprobs, undefined);
});

test('sampling with a seed repeats; penalties change the output', async () => {
  const opts: GenerateOptions = { maxTokens: 10, temp: 0.9, topP: 0.95, seed: 11 };
  const a = (await collect(PROMPT, opts)).map((r) => r.token);
  const b = (await collect(PROMPT, opts)).map((r) => r.token);
  assert.deepEqual(a, b);
  const greedy = greedyRef(16);
  const biased = (await collect(PROMPT, { maxTokens: 2, logitBias: { [greedy[0]]: -100 } })).map((r) => r.token);
  assert.notEqual(biased[0], greedy[0]);
  const penalized = (await collect(PROMPT, { maxTokens: 16, repetitionPenalty: 5, repetitionContextSize: 64 })).map((r) => r.token);
  assert.ok(new Set(penalized).size >= new Set(greedy).size, 'a strong repetition penalty repeats less');
});

test('speculative decoding with a draft model gives the main model\'s greedy tokens', async () => {
  const draft = loadModel(TINY_LLAMA, { dtype: 'bfloat16' }); // close to the model, not equal
  const n = 12;
  const cache = makePromptCache(model);
  const rs = await collect(PROMPT, { maxTokens: n, draftModel: draft, numDraftTokens: 3, promptCache: cache });
  assert.deepEqual(rs.map((r) => r.token), greedyRef(n));
  assert.ok(rs.some((r) => r.fromDraft), 'some tokens come from the draft');
  // The cache holds the prompt and every generated token but the last (the next input).
  assert.equal(cache[0].offset, PROMPT.length + n - 1);
  mx.dispose(cacheState(cache));
});

test('a rotating cache (maxKvSize) and a quantized cache (kvBits) generate', async () => {
  const ref = greedyRef(30);
  const rotating = (await collect(PROMPT, { maxTokens: 20, maxKvSize: 16 })).map((r) => r.token);
  assert.equal(rotating.length, 20);
  // Until the window is full the rotating cache sees everything: the same tokens.
  const whole = 16 - PROMPT.length;
  assert.deepEqual(rotating.slice(0, whole), ref.slice(0, whole));
  const quantized = (await collect(PROMPT, { maxTokens: 5, kvBits: 8, kvGroupSize: 32, quantizedKvStart: 0 })).map((r) => r.token);
  assert.equal(quantized.length, 5);
  assert.deepEqual(quantized.slice(0, 3), ref.slice(0, 3), '8-bit keys and values barely move the logits');
});

test('a prompt longer than the context is an error, or is truncated when asked', async () => {
  const long = new Array(600).fill(PROMPT[1]);
  await assert.rejects(collect(long, { maxTokens: 2 }), /the prompt has 600 tokens, more than the model's context of 512; pass truncatePrompt/);
  const rs = await collect(long, { maxTokens: 2, truncatePrompt: true });
  assert.equal(rs[0].promptTokens, 510);
  await assert.rejects(collect('text', { maxTokens: 2 }, null), /a text prompt needs a tokenizer/);
});

test('an abort signal stops generation', async () => {
  const ac = new AbortController();
  const out: GenerationResponse[] = [];
  for await (const r of streamGenerate(model, null, PROMPT, { maxTokens: 50, signal: ac.signal })) {
    out.push(r);
    if (out.length === 3) ac.abort();
  }
  assert.equal(out.length, 4);
  assert.equal(out[3].finishReason, 'abort');
});

test('memory stays flat over 200 generated tokens: only the KV cache grows', async () => {
  const cache = makePromptCache(model);
  const cacheBytes = () => cacheState(cache).reduce((n, a) => n + a.nbytes, 0);
  const extra: number[] = [];
  let n = 0;
  for await (const r of streamGenerate(model, null, PROMPT, { maxTokens: 200, promptCache: cache, temp: 0.8, topK: 50, repetitionPenalty: 1.1 })) {
    void r;
    if (++n % 20 === 0) extra.push(mx.getActiveMemory() - cacheBytes());
  }
  assert.equal(n, 200);
  // Beyond the cache, nothing accumulates: the last reading is no higher than the first.
  assert.ok(extra[extra.length - 1] <= extra[0] + 4096, `memory beyond the cache grew: ${extra.join(', ')}`);
  mx.dispose(cacheState(cache));
});
