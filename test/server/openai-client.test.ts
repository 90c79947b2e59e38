// The official `openai` client against `lathe serve`'s routes on the shipped model: chat and
// completions, streaming and not, usage, n, logprobs, stop, seeds, models, health.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import type OpenAI from 'openai';
import { streamGenerate } from '../../src/lm/index.js';
import { MODEL_ID, client, request, startServer, tiny } from './helpers.js';

const server = await startServer();
const openai = client(server);
after(() => server.close());

const messages = [{ role: 'user' as const, content: 'Call me Ishmael.' }];

/** The library's greedy text for a prompt (the reference the server must match). */
async function libraryGreedy(prompt: Parameters<typeof streamGenerate>[2], maxTokens: number): Promise<string> {
  const { model, tokenizer } = tiny();
  let text = '';
  for await (const r of streamGenerate(model, tokenizer, prompt, { maxTokens })) text += r.text;
  return text;
}

test('GET /v1/models lists the model; GET /health answers', async () => {
  const models = await openai.models.list();
  assert.deepEqual(models.data.map((m) => [m.id, m.object, m.owned_by]), [[MODEL_ID, 'model', 'lathe']]);
  const health = await request(server, 'GET', '/health');
  assert.equal(health.status, 200);
  assert.equal((health.json as { status: string }).status, 'ok');
});

/** Usage without prompt_tokens_details (what the prompt cache held differs from one run to the next). */
const counts = (u: OpenAI.CompletionUsage | null | undefined) => u && { prompt_tokens: u.prompt_tokens, completion_tokens: u.completion_tokens, total_tokens: u.total_tokens };

test('chat: a greedy reply equals the library, with OpenAI\'s response shape and usage', async () => {
  const r = await openai.chat.completions.create({ model: MODEL_ID, messages, max_tokens: 12, temperature: 0 });
  assert.match(r.id, /^chatcmpl-/);
  assert.equal(r.object, 'chat.completion');
  assert.equal(r.model, MODEL_ID);
  assert.equal(typeof r.created, 'number');
  assert.equal(r.choices.length, 1);
  const c = r.choices[0];
  assert.equal(c.index, 0);
  assert.equal(c.message.role, 'assistant');
  assert.equal(c.message.content, await libraryGreedy(messages, 12));
  assert.ok(c.finish_reason === 'length' || c.finish_reason === 'stop');
  assert.equal(c.logprobs, null);
  const prompt = tiny().tokenizer.applyChatTemplate(messages, { addGenerationPrompt: true }).length;
  const cached = r.usage!.prompt_tokens_details!.cached_tokens; // the prompt cache may hold part of the prompt (test/server/prompt-cache.test.ts)
  assert.deepEqual(r.usage, { prompt_tokens: prompt, completion_tokens: r.usage!.completion_tokens, total_tokens: prompt + r.usage!.completion_tokens, prompt_tokens_details: { cached_tokens: cached } });
  assert.ok(Number.isInteger(cached) && cached >= 0 && cached < prompt);
  assert.ok(r.usage!.completion_tokens >= 1 && r.usage!.completion_tokens <= 12);
});

test('chat streaming: role first, content deltas, finish_reason, usage in the last chunk', async () => {
  const stream = await openai.chat.completions.create({ model: MODEL_ID, messages, max_tokens: 12, temperature: 0, stream: true, stream_options: { include_usage: true } });
  const chunks = [];
  for await (const c of stream) chunks.push(c);
  assert.equal(chunks[0].choices[0].delta.role, 'assistant');
  const text = chunks.flatMap((c) => c.choices.map((x) => x.delta.content ?? '')).join('');
  const plain = await openai.chat.completions.create({ model: MODEL_ID, messages, max_tokens: 12, temperature: 0 });
  assert.equal(text, plain.choices[0].message.content);
  const finishes = chunks.flatMap((c) => c.choices.filter((x) => x.finish_reason !== null));
  assert.equal(finishes.length, 1);
  assert.equal(finishes[0].finish_reason, plain.choices[0].finish_reason);
  const last = chunks[chunks.length - 1];
  assert.deepEqual(last.choices, []);
  assert.deepEqual(counts(last.usage), counts(plain.usage));
  assert.ok(chunks.slice(0, -1).every((c) => c.usage === null && c.object === 'chat.completion.chunk' && c.id === last.id));
});

test('completions: text, echo, streaming, usage', async () => {
  const r = await openai.completions.create({ model: MODEL_ID, prompt: 'Call me', max_tokens: 10, temperature: 0 });
  assert.equal(r.object, 'text_completion');
  assert.match(r.id, /^cmpl-/);
  assert.equal(r.choices[0].text, await libraryGreedy('Call me', 10));
  assert.equal(r.usage!.prompt_tokens, tiny().tokenizer.encode('Call me').length);
  const echo = await openai.completions.create({ model: MODEL_ID, prompt: 'Call me', max_tokens: 10, temperature: 0, echo: true });
  assert.equal(echo.choices[0].text, 'Call me' + r.choices[0].text);
  const stream = await openai.completions.create({ model: MODEL_ID, prompt: 'Call me', max_tokens: 10, temperature: 0, stream: true, stream_options: { include_usage: true } });
  let text = '', usage = null, finish = null;
  for await (const c of stream) {
    for (const ch of c.choices) { text += ch.text; finish = ch.finish_reason ?? finish; }
    if (c.usage) usage = c.usage;
  }
  assert.equal(text, r.choices[0].text);
  assert.equal(finish, r.choices[0].finish_reason);
  assert.deepEqual(counts(usage), counts(r.usage));
  // Token ids as the prompt, and several prompts at once.
  const ids = tiny().tokenizer.encode('Call me');
  const whale = tiny().tokenizer.encode('The whale');
  const multi = await openai.completions.create({ model: MODEL_ID, prompt: [ids, whale], max_tokens: 6, temperature: 0 });
  assert.deepEqual(multi.choices.map((c) => c.index), [0, 1]);
  assert.equal(multi.choices[0].text, await libraryGreedy(ids, 6));
  assert.equal(multi.choices[1].text, await libraryGreedy(whale, 6));
  const texts = await openai.completions.create({ model: MODEL_ID, prompt: ['Call me', 'The whale'], max_tokens: 6, temperature: 0, n: 2 });
  assert.deepEqual(texts.choices.map((c) => c.index), [0, 1, 2, 3]);
  assert.deepEqual(texts.choices.map((c) => c.text), [multi.choices[0].text, multi.choices[0].text, multi.choices[1].text, multi.choices[1].text]);
  assert.equal(texts.usage!.prompt_tokens, ids.length + whale.length);
});

test('n = 2: two choices; sampled with a seed they repeat, and differ from each other', async () => {
  const ask = () => openai.chat.completions.create({ model: MODEL_ID, messages, max_tokens: 12, temperature: 1.2, n: 2, seed: 7 });
  const [a, b] = [await ask(), await ask()];
  assert.deepEqual(a.choices.map((c) => c.index), [0, 1]);
  assert.deepEqual(a.choices.map((c) => c.message.content), b.choices.map((c) => c.message.content));
  assert.notEqual(a.choices[0].message.content, a.choices[1].message.content);
  const other = await openai.chat.completions.create({ model: MODEL_ID, messages, max_tokens: 12, temperature: 1.2, seed: 8 });
  assert.notEqual(other.choices[0].message.content, a.choices[0].message.content);
  assert.equal(a.usage!.completion_tokens, a.usage!.completion_tokens);
  // Greedy choices are identical.
  const g = await openai.chat.completions.create({ model: MODEL_ID, messages, max_tokens: 8, temperature: 0, n: 2 });
  assert.equal(g.choices[0].message.content, g.choices[1].message.content);
});

test('chat logprobs: content[{token, logprob, bytes, top_logprobs}] consistent with the text', async () => {
  const r = await openai.chat.completions.create({ model: MODEL_ID, messages, max_tokens: 8, temperature: 0, logprobs: true, top_logprobs: 3 });
  const content = r.choices[0].logprobs!.content!;
  assert.ok(content.length >= 1);
  for (const t of content) {
    assert.ok(t.logprob <= 0);
    assert.equal(t.top_logprobs.length, 3);
    // Greedy: the chosen token is the most likely one.
    assert.equal(t.top_logprobs[0].token, t.token);
    assert.equal(t.top_logprobs[0].logprob, t.logprob);
    assert.ok(t.top_logprobs[1].logprob <= t.top_logprobs[0].logprob);
    assert.deepEqual(t.bytes, [...Buffer.from(t.token)]);
  }
  assert.equal(Buffer.from(content.flatMap((t) => t.bytes!)).toString(), r.choices[0].message.content);
});

test('completions logprobs: tokens, token_logprobs, top_logprobs, text_offset', async () => {
  const r = await openai.completions.create({ model: MODEL_ID, prompt: 'Call me', max_tokens: 6, temperature: 0, logprobs: 2 });
  const lp = r.choices[0].logprobs!;
  assert.equal(lp.tokens!.join(''), r.choices[0].text);
  assert.equal(lp.token_logprobs!.length, lp.tokens!.length);
  assert.equal(lp.top_logprobs!.length, lp.tokens!.length);
  assert.ok(lp.top_logprobs!.every((o) => Object.keys(o).length >= 1 && Object.keys(o).length <= 2));
  let at = 0;
  lp.tokens!.forEach((t, i) => { assert.equal(lp.text_offset![i], at); at += t.length; });
});

test('stop strings cut the text and end with finish_reason stop', async () => {
  const full = await openai.completions.create({ model: MODEL_ID, prompt: 'Call me', max_tokens: 12, temperature: 0 });
  const text = full.choices[0].text;
  const stop = text.slice(4, 7);
  assert.ok(stop.length === 3);
  const cut = await openai.completions.create({ model: MODEL_ID, prompt: 'Call me', max_tokens: 12, temperature: 0, stop: [stop, 'zzzz'] });
  assert.equal(cut.choices[0].text, text.slice(0, text.indexOf(stop)));
  assert.equal(cut.choices[0].finish_reason, 'stop');
});

test('penalties and logit_bias change the output; sampling options are accepted', async () => {
  const base = await openai.completions.create({ model: MODEL_ID, prompt: 'Call me', max_tokens: 8, temperature: 0 });
  const first = tiny().tokenizer.encode(base.choices[0].text)[0];
  const biased = await openai.completions.create({ model: MODEL_ID, prompt: 'Call me', max_tokens: 8, temperature: 0, logit_bias: { [first]: -100 } });
  assert.notEqual(tiny().tokenizer.encode(biased.choices[0].text)[0], first);
  const penalized = await openai.completions.create({ model: MODEL_ID, prompt: 'the the the the', max_tokens: 8, temperature: 0, frequency_penalty: 2, presence_penalty: 1 });
  const plain = await openai.completions.create({ model: MODEL_ID, prompt: 'the the the the', max_tokens: 8, temperature: 0 });
  assert.notEqual(penalized.choices[0].text, plain.choices[0].text);
  const sampled = await openai.chat.completions.create({ model: MODEL_ID, messages, max_tokens: 6, temperature: 0.8, top_p: 0.9, seed: 1, ...({ top_k: 20, min_p: 0.05, repetition_penalty: 1.1 } as object) });
  assert.equal(sampled.choices.length, 1);
});
