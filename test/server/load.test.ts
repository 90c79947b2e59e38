// Load from a second process on loopback: 64 concurrent streaming clients (chat and
// completions, arriving staggered so rows join and leave a running batch) against a server
// decoding 16 rows at once, reusing prompt caches (8 prompts, each asked 8 times). Every
// response is complete and identical to its prompt's solo greedy run on a server without
// prompt-cache reuse, and the server's memory is flat afterwards (its bounded prompt cache aside).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { MODEL_ID, assertFlat, batchStats, client, heldMemory, startServer } from './helpers.js';

const server = await startServer({ maxConcurrency: 16, maxQueue: 64 });
const cold = await startServer({ promptCacheSize: 0 }); // the references: full prefills only
after(() => Promise.all([server.close(), cold.close()]));
const openai = client(cold);

const MAX_TOKENS = 24;
const PROMPTS: { kind: 'chat' | 'completion'; prompt: string }[] = [
  { kind: 'chat', prompt: 'Call me Ishmael.' },
  { kind: 'chat', prompt: 'Where is the whale?' },
  { kind: 'chat', prompt: 'It is a way I have of driving off the spleen and regulating the circulation.' },
  { kind: 'chat', prompt: 'Hi' },
  { kind: 'completion', prompt: 'Call me' },
  { kind: 'completion', prompt: 'Whenever I find myself growing grim about the mouth; whenever it is a damp, drizzly November in my soul' },
  { kind: 'completion', prompt: 'The whale' },
  { kind: 'completion', prompt: 'There now is your insular city of the Manhattoes, belted round by wharves' },
];

async function solo(p: (typeof PROMPTS)[number]): Promise<{ text: string; finish: string }> {
  if (p.kind === 'chat') {
    const r = await openai.chat.completions.create({ model: MODEL_ID, messages: [{ role: 'user', content: p.prompt }], max_tokens: MAX_TOKENS, temperature: 0 });
    return { text: r.choices[0].message.content ?? '', finish: r.choices[0].finish_reason };
  }
  const r = await openai.completions.create({ model: MODEL_ID, prompt: p.prompt, max_tokens: MAX_TOKENS, temperature: 0 });
  return { text: r.choices[0].text, finish: r.choices[0].finish_reason };
}

function runClients(specs: unknown): Promise<{ text: string; finish: string | null; done: boolean; chunks: number; firstTokenMs: number | null; error: string | null }[]> {
  const script = fileURLToPath(new URL('./load-client.ts', import.meta.url));
  const child = spawn(process.execPath, ['--import', 'tsx', script, server.url, JSON.stringify(specs)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '', err = '';
  child.stdout.on('data', (d) => { out += d; });
  child.stderr.on('data', (d) => { err += d; });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { child.kill(); reject(new Error('the load client took over 120 s')); }, 120_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      if (code !== 0) reject(new Error(`the load client exited with ${code}: ${err}`));
      else resolve(JSON.parse(out));
    });
  });
}

test('64 concurrent streaming clients: all complete, each equal to its solo greedy run; memory flat', async () => {
  const refs: { text: string; finish: string }[] = [];
  for (const p of PROMPTS) refs.push(await solo(p)); // one at a time: alone in the batch
  const warmUp = await client(server).completions.create({ model: MODEL_ID, prompt: 'Call me', max_tokens: 2, temperature: 0 }); // one-time constants
  assert.equal(warmUp.choices.length, 1);
  const memBefore = heldMemory(server.engine);
  const rssBefore = process.memoryUsage().rss;

  let maxRows = 0;
  const probe = setInterval(() => { maxRows = Math.max(maxRows, server.engine.stats().rows); }, 5);
  const start = performance.now();
  const specs = Array.from({ length: 64 }, (_, i) => ({ ...PROMPTS[i % PROMPTS.length], delayMs: (i * 37) % 1500 }));
  const results = await runClients({ requests: specs, maxTokens: MAX_TOKENS, model: MODEL_ID });
  const seconds = (performance.now() - start) / 1000;
  clearInterval(probe);

  assert.equal(results.length, 64);
  results.forEach((r, i) => {
    const ref = refs[i % PROMPTS.length];
    assert.equal(r.error, null, `request ${i}: ${r.error}`);
    assert.ok(r.done, `request ${i} did not end with [DONE]`);
    assert.equal(r.finish, ref.finish, `request ${i}`);
    assert.equal(r.text, ref.text, `request ${i} (${specs[i].kind} '${specs[i].prompt}') differs from its solo run`);
  });
  assert.ok(maxRows > 1 && maxRows <= 16, `rows decoded at once: ${maxRows}`);
  const ttft = results.map((r) => r.firstTokenMs ?? 0).sort((a, b) => a - b);
  const tokens = results.reduce((n, r) => n + r.chunks, 0);
  process.stdout.write(`# 64 clients in ${seconds.toFixed(1)} s, up to ${maxRows} rows at once, ~${(tokens / seconds).toFixed(0)} chunks/s, first token median ${ttft[32].toFixed(0)} ms\n`);

  assert.deepEqual(batchStats(server.engine), { requests: 0, queued: 0, prefilling: 0, rows: 0, cacheBytes: 0 });
  assert.ok(server.engine.stats().promptCaches <= 10);
  assertFlat(heldMemory(server.engine), memBefore);
  const rssGrowth = process.memoryUsage().rss - rssBefore;
  assert.ok(rssGrowth < 200 * 2 ** 20, `RSS grew by ${(rssGrowth / 2 ** 20).toFixed(0)} MiB`);
});
