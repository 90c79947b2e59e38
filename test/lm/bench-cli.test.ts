// `lathe bench` as a user runs it: MLX-LM's benchmark lines (warmup, trials, averages), JSON,
// batches and a quantized KV cache on the shipped model, and flag errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lathe } from './run-cli.js';


const runs = {
  plain: lathe(['bench', '-p', '48', '-g', '8', '-n', '2']),
  json: lathe(['bench', '-p', '32', '-g', '6', '-b', '3', '-n', '1', '--kv-bits', '8', '--kv-group-size', '32', '--json']),
  bad: lathe(['bench', '--kv-bits', '3']),
  long: lathe(['bench', '-p', '600', '-g', '2', '-n', '1']),
};

test('lathe bench prints the warmup, each trial and the averages', async () => {
  const r = await runs.plain;
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  assert.equal(lines[0], 'Running warmup..');
  assert.equal(lines[1], 'Timing with prompt_tokens=48, generation_tokens=8, batch_size=1.');
  const num = '\\d+\\.\\d{3}';
  assert.match(lines[2], new RegExp(`^Trial 1:  prompt_tps=${num}, generation_tps=${num}, peak_memory=${num}$`));
  assert.match(lines[3], /^Trial 2:  /);
  assert.match(lines[4], new RegExp(`^Averages: prompt_tps=${num}, generation_tps=${num}, peak_memory=${num}$`));
  const tps = Number(/generation_tps=([\d.]+)/.exec(lines[4])![1]);
  assert.ok(tps > 0);
});

test('lathe bench --json with a batch and a quantized KV cache', async () => {
  const r = await runs.json;
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { batchSize: number; trials: { promptTps: number; generationTps: number; peakMemory: number }[]; averages: { generationTps: number } };
  assert.equal(out.batchSize, 3);
  assert.equal(out.trials.length, 1);
  assert.ok(out.trials[0].promptTps > 0 && out.trials[0].generationTps > 0 && out.trials[0].peakMemory > 0);
  assert.equal(out.averages.generationTps, out.trials[0].generationTps);
});

test('lathe bench rejects bad flags and prompts past the context', async () => {
  const bad = await runs.bad;
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--kv-bits must be 4 or 8, got 3/);
  const long = await runs.long;
  assert.equal(long.code, 2);
  assert.match(long.stderr, /-p 600 is longer than the model's context of 512 tokens/);
});
