// A client that goes away cancels its generation: its rows leave the batch while the others
// go on, and memory returns to where it was. Shutdown finishes or cancels running requests.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { MODEL_ID, NO_EOS, assertFlat, batchStats, client, heldMemory, request, startServer, waitFor } from './helpers.js';

const server = await startServer({ maxConcurrency: 4 });
after(() => server.close());
const openai = client(server);

test('aborting a stream cancels its rows; the other request finishes; memory is back', async () => {
  // Warm up (first calls compile kernels and fill allocator caches).
  await openai.completions.create({ model: MODEL_ID, prompt: 'Call me', max_tokens: 4, temperature: 0 });
  const before = heldMemory(server.engine);

  const other = openai.completions.create({ model: MODEL_ID, prompt: 'The whale', max_tokens: 40, temperature: 0, logit_bias: NO_EOS });
  const abort = new AbortController();
  const stream = await openai.chat.completions.create({
    model: MODEL_ID, messages: [{ role: 'user', content: 'Tell me everything.' }], max_tokens: 300, temperature: 0, stream: true, n: 2, logit_bias: NO_EOS,
  }, { signal: abort.signal });
  let chunks = 0;
  try {
    for await (const _ of stream) if (++chunks === 4) abort.abort(); // the client ends the stream quietly
  } catch { /* or throws an abort error */ }
  assert.equal(chunks, 4);
  await waitFor(() => server.engine.stats().rows <= 1, 5_000, 'the aborted rows to leave the batch');
  const r = await other;
  assert.equal(r.choices.length, 1);
  await waitFor(() => server.engine.stats().requests === 0, 5_000, 'the engine to be idle');
  assert.deepEqual(batchStats(server.engine), { requests: 0, queued: 0, prefilling: 0, rows: 0, cacheBytes: 0 });
  assertFlat(heldMemory(server.engine), before);
});

test('a non-streaming request whose client disconnects is cancelled too', async () => {
  const abort = new AbortController();
  const p = openai.completions.create({ model: MODEL_ID, prompt: 'Call me', max_tokens: 300, temperature: 0, logit_bias: NO_EOS }, { signal: abort.signal });
  await waitFor(() => server.engine.stats().rows === 1, 10_000, 'the request to start decoding');
  abort.abort();
  await assert.rejects(p);
  await waitFor(() => server.engine.stats().requests === 0, 5_000, 'the cancelled request to leave');
});

test('memory stays flat over many requests', async () => {
  const round = () => Promise.all([0, 1, 2, 3, 4, 5].map((i) => openai.completions.create({
    model: MODEL_ID, prompt: 'Call me '.repeat(i + 1), max_tokens: 3 + i, temperature: i % 2 ? 0.7 : 0, top_p: 0.9, logprobs: i % 3, frequency_penalty: i % 2 ? 0.5 : 0,
  })));
  await round(); // the first sampled requests make a few one-time constants
  const before = heldMemory(server.engine);
  for (let i = 0; i < 3; i++) await round();
  assert.equal(server.engine.stats().cacheBytes, 0);
  assertFlat(heldMemory(server.engine), before);
  // The prompt cache is what is left: bounded (10 by default); closing frees it (next test).
  assert.ok(server.engine.stats().promptCaches > 0 && server.engine.stats().promptCaches <= 10);
});

test('close() lets running requests finish, refuses new ones, then stops', async () => {
  const s = await startServer();
  const c = client(s);
  const running = c.completions.create({ model: MODEL_ID, prompt: 'Call me', max_tokens: 10, temperature: 0, logit_bias: NO_EOS });
  await waitFor(() => s.engine.stats().requests === 1, 10_000, 'the request to start');
  const closed = s.close();
  const r = await running;
  assert.equal(r.choices[0].finish_reason === 'length' || r.choices[0].finish_reason === 'stop', true);
  await closed;
  assert.equal(s.engine.stats().promptCaches, 0, 'close() frees the prompt cache');
  await assert.rejects(request(s, 'GET', '/health'));
  // A short grace period cancels what is still running.
  const s2 = await startServer();
  const long = client(s2).completions.create({ model: MODEL_ID, prompt: 'Call me', max_tokens: 400, temperature: 0, logit_bias: NO_EOS }).then(() => null, (e: unknown) => e);
  await waitFor(() => s2.engine.stats().rows === 1, 10_000, 'the request to start decoding');
  await s2.close(50);
  const err = await long;
  assert.ok(err instanceof Error && /shut down/.test(err.message), String(err));
  assert.equal(s2.engine.stats().requests, 0);
});
