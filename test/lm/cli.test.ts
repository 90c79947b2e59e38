// The `lathe` command, run as a user runs it (a child process): generate, chat over a pipe,
// convert, and usage errors. The runs start together: each pays Node + tsx startup.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { load, generate, type ChatMessage } from '../../src/lm/index.js';
import { TINY_LLAMA } from './text-fixtures.js';
import { lathe as run, ROOT } from './run-cli.js';

const lathe = (args: string[], stdin = '') => run(args, { stdin });


const out = mkdtempSync(join(tmpdir(), 'lathe-cli-'));
const runs = {
  // No --model: the shipped model is the default.
  generate: lathe(['generate', '--prompt', 'Call me', '--max-tokens', '12', '--ignore-chat-template', '--verbose']),
  chat: lathe(['chat', '--model', TINY_LLAMA, '-m', '8'], 'Call me Ishmael.\nWhere is the whale?\n/reset\nWhere is the whale?\n'),
  convert: lathe(['convert', '--model', TINY_LLAMA, '--out', join(out, 'q4'), '-q', '--q-bits', '4', '--q-group-size', '64']),
  badFlag: lathe(['generate', '--prompt', 'x', '--max-tokens', 'many']),
};

test('lathe generate streams the greedy continuation of the shipped model', async () => {
  const r = await runs.generate;
  assert.equal(r.code, 0, r.stderr);
  const { model, tokenizer } = load(TINY_LLAMA);
  const expected = await generate(model, tokenizer, 'Call me', { maxTokens: 12 });
  assert.equal(r.stdout, expected + '\n');
  assert.match(r.stderr, /Prompt: \d+ tokens, [\d.]+ tokens\/s\nGeneration: \d+ tokens/);
});

test('lathe chat answers each line of piped input, keeps the conversation; /reset starts over', async () => {
  const r = await runs.chat;
  assert.equal(r.code, 0, r.stderr);
  // The replies equal generating for the whole conversation so far (the chat reuses its KV
  // cache between turns, and must get the same tokens).
  const { model, tokenizer } = load(TINY_LLAMA);
  const reply = (messages: ChatMessage[]) => generate(model, tokenizer, messages, { maxTokens: 8 });
  const u1 = { role: 'user', content: 'Call me Ishmael.' }, u2 = { role: 'user', content: 'Where is the whale?' };
  const r1 = await reply([u1]);
  const r2 = await reply([u1, { role: 'assistant', content: r1 }, u2]);
  const r3 = await reply([u2]);
  assert.equal(r.stdout, `${r1}\n${r2}\n${r3}\n`);
});

test('lathe convert -q writes a 4-bit model that loads and generates', async () => {
  const r = await runs.convert;
  assert.equal(r.code, 0, r.stderr);
  const dir = join(out, 'q4');
  const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
  assert.deepEqual(config.quantization, { group_size: 64, bits: 4 });
  assert.ok(existsSync(join(dir, 'tokenizer.json')) && existsSync(join(dir, 'generation_config.json')));
  const { model, tokenizer } = load(dir);
  const text = await generate(model, tokenizer, 'Call me', { maxTokens: 5 });
  assert.equal(typeof text, 'string');
  const plain = readFileSync(join(TINY_LLAMA, 'model.safetensors')).length;
  assert.ok(readFileSync(join(dir, 'model.safetensors')).length < plain / 4, '4-bit weights are far smaller');
});

test('bad flags exit with status 2 and a message', async () => {
  const r = await runs.badFlag;
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--max-tokens must be an integer >= 0, got 'many'/);
});
