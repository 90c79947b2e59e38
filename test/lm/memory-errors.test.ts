// Running out of memory while loading or generating says what was being allocated and how
// much was free (the CPU backend's memory limit stands in for a full GPU).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import * as mx from '../../src/index.js';
import { loadModel, streamGenerate, saveGgufModel } from '../../src/lm/index.js';
import { TINY_LLAMA } from './text-fixtures.js';
import { tempDir } from './model-fixtures.js';

async function drain(it: AsyncIterable<unknown>): Promise<void> {
  for await (const _ of it) { /* consume */ }
}

/** Runs fn with `extra` bytes of headroom; a tidy scope frees what a failed load made. */
function withLimit<T>(extra: number, fn: () => T): T {
  const old = mx.setMemoryLimit(mx.getActiveMemory() + extra);
  try { return mx.tidy(fn); } finally { mx.setMemoryLimit(old); }
}

test('generating past the memory limit says whether the prompt or a new token needed it', async () => {
  const model = loadModel(TINY_LLAMA);
  const prompt = Array.from({ length: 300 }, (_, i) => 5 + (i % 900));
  const old = mx.setMemoryLimit(mx.getActiveMemory() + 200_000);
  try {
    await assert.rejects(drain(streamGenerate(model, null, prompt, { maxTokens: 4 })),
      /\[streamGenerate\] out of memory while processing the prompt \(300 tokens\): [\d.]+ MiB requested; [\d.]+ MiB free under the memory limit/);
  } finally {
    mx.setMemoryLimit(old);
  }
  // Enough for the prompt, not for the cache's growth over many tokens.
  const base = mx.getActiveMemory();
  mx.setMemoryLimit(base + 1_200_000); // the prompt fits; the KV cache grows by 2 KB a token (copied as it grows)
  try {
    await assert.rejects(drain(streamGenerate(model, null, prompt.slice(0, 8), { maxTokens: 400, prefillStepSize: 4 })),
      /\[streamGenerate\] out of memory while generating token \d+ after a prompt of 8 tokens: /);
  } finally {
    mx.setMemoryLimit(old);
  }
});

test('loading past the memory limit names the tensor and the free memory', () => {
  assert.throws(() => withLimit(1_000_000, () => loadModel(TINY_LLAMA)),
    /^Error: \[loadModel\] out of memory while reading '[\w.]+' \(F32, shape \(\d+(, \d+)?\)\) from model\.safetensors: [\d.]+ MiB requested; [\d.]+ MiB free under the memory limit of [\d.]+ MiB; [\d.]+ MiB held by lathe arrays/);
  const gguf = join(tempDir(), 'tiny.gguf');
  saveGgufModel(TINY_LLAMA, gguf, { outType: 'q8_0' });
  assert.throws(() => withLimit(300_000, () => loadModel(gguf)), /\[loadModel\] out of memory while reading '[\w.]+' \((Q8_0|F32), shape .*\) from .*tiny\.gguf: /);
});
