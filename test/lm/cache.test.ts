// KV caches: rotating caches attend exactly as full attention within the window, quantized
// caches stay close to full precision, masks hide left padding, prompt caches round-trip
// through safetensors (MLX-LM's layout), trimming, and the errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import * as mx from '../../src/index.js';
import { saveSafetensors } from '../../src/io/index.js';
import {
  KVCache, RotatingKVCache, QuantizedKVCache, createAttentionMask, maskArray, makePromptCache, maybeQuantizeKVCache,
  savePromptCache, loadPromptCache, cacheState,
} from '../../src/lm/cache.js';
import { loadModel } from '../../src/lm/load.js';
import { scaledDotProductAttention, type LanguageModel } from '../../src/lm/models/base.js';
import { closeTo, fixtureDir, ids, lastArgmax, maxDiff, reference, tempDir } from './model-fixtures.js';

const dir = tempDir();
const key = (i: number) => mx.random.key(i);
const randn = (shape: number[], i: number) => mx.random.normal(shape, 'float32', null, null, key(i));

/** Runs chunks of random q, k, v through a cache; returns each chunk's attention output. */
function attendInChunks(cache: KVCache, chunks: number[], windowSize: number | null, maskFor?: (offset: number, L: number, S: number) => mx.Array): mx.Array[] {
  let seed = 100;
  return chunks.map((L) => {
    const q = randn([2, 4, L, 8], seed++), k = randn([2, 2, L, 8], seed++), v = randn([2, 2, L, 8], seed++);
    const offset = cache.offset;
    const mask = cache.makeMask(L, windowSize);
    const [keys, values] = cache.updateAndFetch(k, v);
    return scaledDotProductAttention(q, keys, values, 8 ** -0.5, maskFor ? maskFor(offset, L, keys.shape[2]) : mask);
  });
}

test('RotatingKVCache gives what full attention with a window gives', () => {
  const chunks = [5, 1, 1, 7, 1, 3, 1, 1];
  for (const W of [1, 4, 6]) {
    const full = attendInChunks(new KVCache(), chunks, W);
    const rot = new RotatingKVCache(W);
    const rotating = attendInChunks(rot, chunks, null);
    full.forEach((f, i) => assert.ok(maxDiff(f, rotating[i]) < 1e-6, `window ${W}, chunk ${i}: ${maxDiff(f, rotating[i])}`));
    assert.ok(rot.keys!.shape[2] <= W - 1 + 3, 'the rotating cache keeps about a window');
  }
});

test('RotatingKVCache with attention sinks: the first `keep` tokens stay visible', () => {
  const W = 5, keep = 2, chunks = [4, 1, 6, 1, 1, 2];
  // Reference: every key kept, visible when causal and (one of the last W - keep, or a sink).
  const sinkMask = (offset: number, L: number, S: number) => {
    const m: boolean[][] = [];
    for (let i = 0; i < L; i++) m.push(globalThis.Array.from({ length: S }, (_, j) => j <= offset + i && (offset + i - j < W - keep || j < keep)));
    return mx.array(m);
  };
  const want = attendInChunks(new KVCache(), chunks, null, sinkMask);
  const got = attendInChunks(new RotatingKVCache(W, keep), chunks, null);
  want.forEach((w, i) => assert.ok(maxDiff(w, got[i]) < 1e-6, `chunk ${i}: ${maxDiff(w, got[i])}`));
});

test('masks: causal, windowed, and left padding hidden per row', () => {
  assert.equal(createAttentionMask(1, null), null);
  // Keys and queries in order with nothing else to hide: 'causal' (kernels skip the hidden blocks).
  assert.equal(createAttentionMask(3, null), 'causal');
  assert.equal(createAttentionMask(3, null, 3), 'causal', 'a window the prompt fits in hides nothing more');
  assert.deepEqual(maskArray('causal', 3, 3)!.tolist(), [[true, false, false], [true, true, false], [true, true, true]]);
  assert.deepEqual(maskArray('causal', 2, 3)!.tolist(), [[true, true, false], [true, true, true]], 'the queries are the last of the keys');
  assert.deepEqual((createAttentionMask(3, null, 2) as mx.Array).tolist(), [[true, false, false], [true, true, false], [false, true, true]]);
  const chunked = new KVCache();
  chunked.updateAndFetch(randn([1, 1, 2, 4], 1), randn([1, 1, 2, 4], 2));
  assert.equal(chunked.makeMask(3, null), 'causal', 'a later prefill chunk: the 3 queries are the last of 5 keys');
  assert.deepEqual((chunked.makeMask(3, 4) as mx.Array).tolist(), [[true, true, true, false, false], [true, true, true, true, false], [false, true, true, true, true]]);
  const c = new KVCache({ leftPadding: [2, 0] });
  const m = c.makeMask(3, null) as mx.Array;
  assert.deepEqual(m.shape, [2, 1, 3, 3]);
  assert.deepEqual(m.tolist(), [[[[false, false, false], [false, false, false], [false, false, true]]], [[[true, false, false], [true, true, false], [true, true, true]]]]);
  c.updateAndFetch(randn([2, 1, 3, 4], 1), randn([2, 1, 3, 4], 2));
  assert.deepEqual((c.makeMask(1, null) as mx.Array).tolist(), [[[[false, false, true, true]]], [[[true, true, true, true]]]]);
  assert.equal(new KVCache().makeMask(1, null), null, 'one token, nothing hidden: no mask');
  assert.throws(() => c.updateAndFetch(randn([3, 1, 1, 4], 1), randn([3, 1, 1, 4], 2)), /made for a batch of 2 \(leftPadding\), got keys for 3/);
  assert.throws(() => new KVCache({ leftPadding: [-1] }), /leftPadding must be a non-empty list of non-negative integers/);
});

function decode(model: LanguageModel, prompt: number[], steps: number, cache: KVCache[]): { tokens: number[]; logits: mx.Array[] } {
  let logits = model.forward(ids([prompt]), cache);
  const tokens: number[] = [], all: mx.Array[] = [logits];
  for (let i = 0; i < steps; i++) {
    tokens.push(lastArgmax(logits)[0]);
    logits = model.forward(ids([[tokens[i]]]), cache);
    all.push(logits);
  }
  return { tokens, logits: all };
}

test('QuantizedKVCache: 8 bits stays close to full precision, 4 bits roughly', () => {
  const ref = reference('qwen3'); // head_dim 32: groups of 32
  const model = loadModel(fixtureDir('qwen3'), { dtype: 'float32' });
  const exact = decode(model, ref.prompt, 6, model.makeCache());
  assert.deepEqual(exact.tokens, ref.greedy.slice(0, 6));
  for (const [bits, rtol] of [[8, 0.02], [4, 0.3]] as const) {
    const cache = model.layers.map(() => new QuantizedKVCache(32, bits));
    const q = decode(model, ref.prompt, 6, cache);
    q.logits.forEach((l, i) => {
      const c = closeTo(l, exact.logits[i], rtol);
      assert.ok(c.ok, `${bits} bits, step ${i}: logits differ by ${c.diff} (scale ${c.scale})`);
    });
    if (bits === 8) assert.deepEqual(q.tokens, exact.tokens);
    assert.equal(cache[0].state[0].dtype.name, 'uint32');
  }
});

test('maybeQuantizeKVCache converts KVCache entries past the start, leaves rotating ones', () => {
  const ref = reference('gemma3_text'); // head_dim 32; sliding layers use rotating caches
  const model = loadModel(fixtureDir('gemma3_text'), { dtype: 'float32' });
  const cache = model.makeCache();
  const exact = decode(model, ref.prompt, 4, model.makeCache());
  model.forward(ids([ref.prompt]), cache);
  maybeQuantizeKVCache(cache, 100, 32, 8);
  assert.ok(!cache.some((c) => c instanceof QuantizedKVCache), 'below quantizedKvStart: unchanged');
  maybeQuantizeKVCache(cache, 10, 32, 8);
  assert.deepEqual(cache.map((c) => c.constructor.name), ['RotatingKVCache', 'QuantizedKVCache', 'RotatingKVCache']);
  let logits = model.forward(ids([[exact.tokens[0]]]), cache);
  const c = closeTo(logits, exact.logits[1], 0.02);
  assert.ok(c.ok, `after quantizing: ${c.diff}`);
  logits = model.forward(ids([[exact.tokens[1]]]), cache);
  assert.equal(cache[1].offset, ref.prompt.length + 2);
  assert.throws(() => new RotatingKVCache(8).toQuantized(), /cannot be quantized yet/);
});

test('prompt caches round-trip through safetensors (plain, rotating, quantized)', () => {
  for (const [arch, make] of [
    ['llama', (m: LanguageModel) => m.makeCache()],
    ['mistral', (m: LanguageModel) => m.makeCache()],
    ['qwen3', (m: LanguageModel) => m.layers.map(() => new QuantizedKVCache(32, 4))],
  ] as const) {
    const ref = reference(arch);
    const model = loadModel(fixtureDir(arch), { dtype: 'float32' });
    const cache = make(model);
    model.forward(ids([ref.prompt]), cache);
    const file = join(dir, `${arch}.safetensors`);
    savePromptCache(file, cache, { model: arch, note: 'hello' });
    const [loaded, meta] = loadPromptCache(file, true);
    assert.deepEqual(meta, { model: arch, note: 'hello' });
    assert.deepEqual(loaded.map((c) => c.constructor.name), cache.map((c) => c.constructor.name));
    assert.deepEqual(loaded.map((c) => c.offset), cache.map((c) => c.offset));
    const a = model.forward(ids([[7]]), cache), b = model.forward(ids([[7]]), loaded);
    assert.equal(maxDiff(a, b), 0, `${arch}: the loaded cache continues exactly as the original`);
  }
});

test("loadPromptCache reads MLX-LM's rotating ring buffer in temporal order", () => {
  // A ring of 4 slots after 6 tokens: slots hold tokens [4, 5, 2, 3] and idx = 2 (next write).
  const tok = (t: number) => mx.full([1, 1, 1, 2], t);
  const ring = mx.concatenate([tok(4), tok(5), tok(2), tok(3)], 2);
  const file = join(dir, 'mlx-ring.safetensors');
  saveSafetensors(file, { '0.0': ring, '0.1': ring }, { '0.0.0': '0', '0.0.1': '4', '0.0.2': '6', '0.0.3': '2', '2.0': 'RotatingKVCache' });
  const [c] = loadPromptCache(file);
  assert.ok(c instanceof RotatingKVCache);
  assert.equal(c.offset, 6);
  assert.deepEqual(mx.reshape(c.keys!, [-1]).tolist(), [2, 2, 3, 3, 4, 4, 5, 5]);
  assert.throws(() => loadPromptCache(join(fixtureDir('mistral'), 'model.safetensors')), /no cache classes in the metadata/);
});

test('trim drops the last tokens; makePromptCache bounds plain caches with maxKvSize', () => {
  const ref = reference('llama');
  const model = loadModel(fixtureDir('llama'), { dtype: 'float32' });
  const cache = model.makeCache();
  model.forward(ids([ref.prompt]), cache);
  assert.ok(cache[0].isTrimmable());
  assert.equal(cache[0].trim(4), 4);
  cache.slice(1).forEach((c) => c.trim(4));
  const again = model.forward(ids([ref.prompt.slice(20)]), cache);
  const c = closeTo(mx.squeeze(again, 0), mx.index(ref.logits, mx.s(20)), 1e-4);
  assert.ok(c.ok, `after trim: ${c.diff}`);
  const bounded = makePromptCache(model, 16);
  assert.ok(bounded.every((b) => b instanceof RotatingKVCache && b.maxSize === 16 && b.keep === 4));
  assert.equal(cacheState(cache).length, 2 * cache.length);
});
