// Bad requests get 4xx answers in OpenAI's error format naming the field, and the server
// keeps serving; the API key, CORS, the body limit and the queue limit.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { MODEL_ID, NO_EOS, client, request, startServer, waitFor, type RawResponse } from './helpers.js';

const server = await startServer();
after(() => server.close());

const chat = (extra: Record<string, unknown>) => ({ model: MODEL_ID, messages: [{ role: 'user', content: 'Hi' }], max_tokens: 2, ...extra });

function assertError(r: RawResponse, status: number, param: string | null, code?: string): void {
  assert.equal(r.status, status, r.text);
  const body = r.json as { error: { message: string; type: string; param: string | null; code: string | null } };
  assert.deepEqual(Object.keys(body), ['error']);
  assert.deepEqual(Object.keys(body.error).sort(), ['code', 'message', 'param', 'type']);
  assert.equal(typeof body.error.message, 'string');
  assert.ok(body.error.message.length > 0);
  assert.equal(body.error.param, param, body.error.message);
  if (code) assert.equal(body.error.code, code);
  assert.equal(body.error.type, status >= 500 ? 'server_error' : status === 429 ? 'rate_limit_error' : 'invalid_request_error');
  assert.match(r.headers.get('content-type') ?? '', /application\/json/);
}

test('malformed bodies and unknown models', async () => {
  assertError(await request(server, 'POST', '/v1/chat/completions', '{"model": '), 400, null, 'invalid_json');
  assertError(await request(server, 'POST', '/v1/chat/completions', ''), 400, null, 'invalid_json');
  assertError(await request(server, 'POST', '/v1/chat/completions', '[1, 2]'), 400, null);
  assertError(await request(server, 'POST', '/v1/chat/completions', { messages: [{ role: 'user', content: 'x' }] }), 400, 'model', 'missing_required_parameter');
  assertError(await request(server, 'POST', '/v1/chat/completions', chat({ model: 'gpt-4o' })), 404, 'model', 'model_not_found');
  assertError(await request(server, 'POST', '/v1/completions', { model: 'nope', prompt: 'x' }), 404, 'model', 'model_not_found');
});

test('chat fields: wrong types and values name the field', async () => {
  const cases: [Record<string, unknown>, string][] = [
    [{ messages: undefined }, 'messages'],
    [{ messages: [] }, 'messages'],
    [{ messages: 'hi' }, 'messages'],
    [{ messages: [{ role: 'wizard', content: 'x' }] }, 'messages[0].role'],
    [{ messages: [{ role: 'user', content: 'x' }, { content: 'y' }] }, 'messages[1].role'],
    [{ messages: [{ role: 'user', content: 42 }] }, 'messages[0].content'],
    [{ messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'x' } }] }] }, 'messages[0].content[0].type'],
    [{ messages: [{ role: 'tool', content: 'x' }] }, 'messages[0].tool_call_id'],
    [{ max_tokens: -1 }, 'max_tokens'],
    [{ max_tokens: 0 }, 'max_tokens'],
    [{ max_tokens: 2.5 }, 'max_tokens'],
    [{ max_tokens: '10' }, 'max_tokens'],
    [{ max_tokens: 1e12 }, 'max_tokens'],
    [{ max_completion_tokens: 100000 }, 'max_completion_tokens'],
    [{ max_completion_tokens: -5 }, 'max_completion_tokens'],
    [{ temperature: 'hot' }, 'temperature'],
    [{ temperature: 3 }, 'temperature'],
    [{ top_p: 0 }, 'top_p'],
    [{ top_k: 1.5 }, 'top_k'],
    [{ min_p: 2 }, 'min_p'],
    [{ n: 0 }, 'n'],
    [{ n: 1000 }, 'n'],
    [{ seed: 'x' }, 'seed'],
    [{ stop: 5 }, 'stop'],
    [{ stop: [''] }, 'stop'],
    [{ presence_penalty: 3 }, 'presence_penalty'],
    [{ frequency_penalty: -3 }, 'frequency_penalty'],
    [{ repetition_penalty: 0 }, 'repetition_penalty'],
    [{ logit_bias: { abc: 1 } }, 'logit_bias'],
    [{ logit_bias: { 5: 500 } }, 'logit_bias'],
    [{ logit_bias: { 99999: 1 } }, 'logit_bias'],
    [{ logprobs: 'yes' }, 'logprobs'],
    [{ top_logprobs: 3 }, 'top_logprobs'],
    [{ logprobs: true, top_logprobs: 50 }, 'top_logprobs'],
    [{ stream: 'yes' }, 'stream'],
    [{ stream_options: { include_usage: true } }, 'stream_options'],
    [{ response_format: 'json' }, 'response_format'],
    [{ response_format: { type: 'xml' } }, 'response_format.type'],
    [{ tools: {} }, 'tools'],
    [{ tools: [{ type: 'retrieval' }] }, 'tools[0].type'],
    [{ tools: [{ type: 'function', function: { name: 'bad name!' } }] }, 'tools[0].function.name'],
    [{ tool_choice: 'auto' }, 'tool_choice'],
    [{ tool_choice: 'sometimes', tools: [{ type: 'function', function: { name: 'f' } }] }, 'tool_choice'],
  ];
  for (const [extra, param] of cases) {
    const r = await request(server, 'POST', '/v1/chat/completions', chat(extra));
    assert.equal(r.status, 400, `${JSON.stringify(extra)}: ${r.text}`);
    assertError(r, 400, param);
  }
});

test('completions fields', async () => {
  const base = { model: MODEL_ID, max_tokens: 2 };
  const cases: [Record<string, unknown>, string][] = [
    [{}, 'prompt'],
    [{ prompt: [] }, 'prompt'],
    [{ prompt: '' }, 'prompt'],
    [{ prompt: [1, -2] }, 'prompt'],
    [{ prompt: [5, 99999] }, 'prompt'],
    [{ prompt: { text: 'x' } }, 'prompt'],
    [{ prompt: 'x', suffix: 'y' }, 'suffix'],
    [{ prompt: 'x', best_of: 3 }, 'best_of'],
    [{ prompt: 'x', logprobs: true }, 'logprobs'],
    [{ prompt: 'x', logprobs: 100 }, 'logprobs'],
    [{ prompt: 'x', echo: 1 }, 'echo'],
    [{ prompt: 'x'.repeat(3000) }, 'prompt'],
  ];
  for (const [extra, param] of cases) assertError(await request(server, 'POST', '/v1/completions', { ...base, ...extra }), 400, param);
});

test('unknown routes are 404, wrong methods 405 (with Allow)', async () => {
  assertError(await request(server, 'GET', '/v1/engines'), 404, null, 'not_found');
  assertError(await request(server, 'POST', '/v2/chat/completions', chat({})), 404, null, 'not_found');
  const r = await request(server, 'GET', '/v1/chat/completions');
  assertError(r, 405, null, 'method_not_allowed');
  assert.match(r.headers.get('allow') ?? '', /POST/);
  assertError(await request(server, 'DELETE', '/health'), 405, null);
  assertError(await request(server, 'POST', '/v1/models', {}), 405, null);
});

test('the server still answers after all of that, and a good request works', async () => {
  assert.equal((await request(server, 'GET', '/health')).status, 200);
  const r = await request(server, 'POST', '/v1/chat/completions', chat({ temperature: 0 }));
  assert.equal(r.status, 200, r.text);
});

test('an API key: 401 without it or with a wrong one, through the openai client too', async () => {
  const s = await startServer({ apiKey: 'sekrit' });
  try {
    assertError(await request(s, 'GET', '/v1/models'), 401, null, 'invalid_api_key');
    assertError(await request(s, 'POST', '/v1/chat/completions', chat({}), { authorization: 'Bearer nope' }), 401, null, 'invalid_api_key');
    assertError(await request(s, 'GET', '/v1/models', undefined, { authorization: 'sekrit' }), 401, null, 'invalid_api_key');
    assert.equal((await request(s, 'GET', '/v1/models', undefined, { authorization: 'Bearer sekrit' })).status, 200);
    await assert.rejects(client(s, 'wrong').models.list(), (e) => e instanceof OpenAI.AuthenticationError);
    assert.equal((await client(s, 'sekrit').models.list()).data[0].id, MODEL_ID);
    assert.equal((await request(s, 'GET', '/health')).status, 200); // health needs no key
  } finally {
    await s.close();
  }
});

test('CORS: preflight and allowed origins', async () => {
  const pre = await fetch(server.url + '/v1/chat/completions', {
    method: 'OPTIONS', headers: { origin: 'http://app.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' },
  });
  assert.equal(pre.status, 204);
  assert.equal(pre.headers.get('access-control-allow-origin'), '*');
  assert.match(pre.headers.get('access-control-allow-methods') ?? '', /POST/);
  assert.equal(pre.headers.get('access-control-allow-headers'), 'authorization, content-type');
  assert.equal((await request(server, 'GET', '/v1/models', undefined, { origin: 'http://x' })).headers.get('access-control-allow-origin'), '*');
  const s = await startServer({ corsOrigin: 'http://a.example, http://b.example', apiKey: 'k' });
  try {
    const ok = await request(s, 'GET', '/health', undefined, { origin: 'http://b.example' });
    assert.equal(ok.headers.get('access-control-allow-origin'), 'http://b.example');
    const no = await request(s, 'GET', '/health', undefined, { origin: 'http://evil.example' });
    assert.equal(no.headers.get('access-control-allow-origin'), null);
    const preflight = await fetch(s.url + '/v1/models', { method: 'OPTIONS', headers: { origin: 'http://a.example' } });
    assert.equal(preflight.status, 204); // no key needed for a preflight
    assert.equal(preflight.headers.get('access-control-allow-origin'), 'http://a.example');
  } finally {
    await s.close();
  }
  const none = await startServer({ corsOrigin: null });
  try {
    assert.equal((await request(none, 'GET', '/health', undefined, { origin: 'http://x' })).headers.get('access-control-allow-origin'), null);
  } finally {
    await none.close();
  }
});

test('a body over the limit is 413', async () => {
  const s = await startServer({ maxBodyBytes: 1000 });
  try {
    assertError(await request(s, 'POST', '/v1/chat/completions', chat({ messages: [{ role: 'user', content: 'x'.repeat(5000) }] })), 413, null, 'request_too_large');
    // Without a Content-Length (chunked), the limit holds while reading.
    const body = new ReadableStream({ start(c) { c.enqueue(new TextEncoder().encode(JSON.stringify(chat({ messages: [{ role: 'user', content: 'y'.repeat(5000) }] })))); c.close(); } });
    const r = await fetch(s.url + '/v1/chat/completions', { method: 'POST', body, headers: { 'content-type': 'application/json' }, duplex: 'half' } as RequestInit);
    assert.equal(r.status, 413);
    assert.equal(((await r.json()) as { error: { code: string } }).error.code, 'request_too_large');
    assert.equal((await request(s, 'GET', '/health')).status, 200);
  } finally {
    await s.close();
  }
});

test('a full queue answers 429 (RateLimitError in the client); the queued request still completes', async () => {
  const s = await startServer({ maxConcurrency: 1, maxQueue: 1 });
  try {
    const c = client(s);
    const long = c.chat.completions.create({ model: MODEL_ID, messages: [{ role: 'user', content: 'Call me' }], max_tokens: 40, temperature: 0, logit_bias: NO_EOS });
    await waitFor(() => s.engine.stats().requests === 1, 10_000, 'the first request to start');
    const queued = c.chat.completions.create({ model: MODEL_ID, messages: [{ role: 'user', content: 'Hi' }], max_tokens: 2, temperature: 0 });
    await waitFor(() => s.engine.stats().queued === 1, 10_000, 'the second request to queue');
    const r = await request(s, 'POST', '/v1/chat/completions', chat({}));
    assertError(r, 429, null, 'rate_limit_exceeded');
    assert.equal(r.headers.get('retry-after'), '1');
    await assert.rejects(c.chat.completions.create(chat({}) as never), (e) => e instanceof OpenAI.RateLimitError);
    assert.equal((await long).choices.length, 1);
    assert.equal((await queued).choices.length, 1);
  } finally {
    await s.close();
  }
});

test('an error inside generation is a 500 for that request only', async () => {
  const s = await startServer({ maxConcurrency: 2 });
  try {
    const model = s.engine.model as { forward: (...a: unknown[]) => unknown };
    const forward = model.forward;
    let calls = 0, failAt = 0;
    model.forward = function (this: unknown, ...a: unknown[]) {
      if (calls++ === failAt) throw new Error('device lost');
      return forward.apply(this, a);
    };
    try {
      // The prefill fails: a 500 in the error format.
      const r = await request(s, 'POST', '/v1/completions', { model: MODEL_ID, prompt: 'Call me', max_tokens: 3 });
      assertError(r, 500, null, 'internal_error');
      assert.match((r.json as { error: { message: string } }).error.message, /device lost/);
      // A decode step fails mid-stream: an SSE error event ends the stream.
      failAt = calls + 2;
      const sse = await request(s, 'POST', '/v1/completions', { model: MODEL_ID, prompt: 'Call me', max_tokens: 10, stream: true, temperature: 0, logit_bias: NO_EOS });
      assert.equal(sse.status, 200);
      const events = sse.text.split('\n\n').filter(Boolean).map((e) => JSON.parse(e.replace(/^data: /, '')));
      assert.ok(events.length >= 2);
      assert.match(events[events.length - 1].error.message, /device lost/);
      await assert.rejects(async () => {
        const stream = await client(s).completions.create({ model: MODEL_ID, prompt: 'Call me', max_tokens: 300, stream: true, logit_bias: NO_EOS });
        failAt = calls + 1;
        for await (const _ of stream) { /* the error event throws */ }
      }, (e) => e instanceof OpenAI.APIError && /device lost/.test(e.message));
    } finally {
      model.forward = forward;
    }
    const ok = await request(s, 'POST', '/v1/completions', { model: MODEL_ID, prompt: 'Call me', max_tokens: 3 });
    assert.equal(ok.status, 200);
    assert.equal(s.engine.stats().requests, 0);
  } finally {
    await s.close();
  }
});
