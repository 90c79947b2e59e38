// `lathe serve` as a user runs it: a child process that prints its URL, answers the openai
// client, and on SIGTERM finishes and exits 0; --adapter and bad flags are errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import OpenAI from 'openai';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

function lathe(args: string[], env: Record<string, string> = {}): ChildProcessWithoutNullStreams {
  return spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { cwd: ROOT, env: { ...process.env, ...env } });
}

function exit(p: ChildProcessWithoutNullStreams): Promise<{ code: number | null; stderr: string }> {
  let stderr = '';
  p.stderr.on('data', (d) => { stderr += d; });
  return new Promise((resolve) => p.on('close', (code) => resolve({ code, stderr })));
}

test('lathe serve: listens, serves the openai client with an API key, logs, stops on SIGTERM', async () => {
  const p = lathe(['serve', '--port', '0', '--max-concurrency', '2', '--prompt-cache-size', '4', '--prompt-cache-bytes', '1.5MB'], { LATHE_API_KEY: 'k1' });
  const done = exit(p);
  const url = await new Promise<string>((resolve, reject) => {
    let err = '';
    p.stderr.on('data', (d) => {
      err += d;
      const m = /at (http:\/\/127\.0\.0\.1:\d+)\/v1/.exec(err);
      if (m) resolve(m[1]);
    });
    p.on('close', () => reject(new Error(`lathe serve exited: ${err}`)));
  });
  const openai = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'k1', maxRetries: 0 });
  const models = await openai.models.list();
  assert.equal(models.data[0].id, 'tiny-llama'); // the folder's name
  const r = await openai.chat.completions.create({ model: 'tiny-llama', messages: [{ role: 'user', content: 'Hi' }], max_tokens: 3, temperature: 0 });
  assert.equal(r.choices.length, 1);
  const again = await openai.chat.completions.create({ model: 'tiny-llama', messages: [{ role: 'user', content: 'Hi' }], max_tokens: 3, temperature: 0 });
  assert.equal(again.usage?.prompt_tokens_details?.cached_tokens, r.usage!.prompt_tokens - 1, 'the prompt cache is on');
  await assert.rejects(new OpenAI({ baseURL: `${url}/v1`, apiKey: 'wrong', maxRetries: 0 }).models.list(), (e) => e instanceof OpenAI.AuthenticationError);
  p.kill('SIGTERM');
  const { code, stderr } = await done;
  assert.equal(code, 0, stderr);
  assert.match(stderr, /API key required/);
  assert.match(stderr, /POST \/v1\/chat\/completions 200 \d+ms/);
  assert.match(stderr, /SIGTERM, finishing running requests/);
});

test('lathe serve --adapter says adapters are not supported yet; bad flags exit 2', async () => {
  const [a, b, c, d] = await Promise.all([
    exit(lathe(['serve', '--adapter', '/tmp/adapters'])),
    exit(lathe(['serve', '--port', 'eighty'])),
    exit(lathe(['serve', '--model', '/nonexistent/model'])),
    exit(lathe(['serve', '--prompt-cache-bytes', '4XB'])),
  ]);
  assert.equal(d.code, 2);
  assert.match(d.stderr, /--prompt-cache-bytes must be a byte count, optionally with M, G, MB or GB \(e\.g\. 4GB\), got '4XB'/);
  assert.equal(a.code, 2);
  assert.match(a.stderr, /LoRA adapters are not supported yet/);
  assert.equal(b.code, 2);
  assert.match(b.stderr, /--port must be an integer/);
  assert.notEqual(c.code, 0);
  assert.match(c.stderr, /not a model folder|nonexistent/);
});
