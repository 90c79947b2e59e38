// LRUPromptCache: generation that reuses a cached prefix (shorter, longer and trimmed, exact)
// gives the tokens of a cold run while prefilling only the rest; entries and bytes stay
// bounded and evicted caches are disposed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as mx from '../../src/index.js';
import { loadModel, makePromptCache, streamGenerate, LRUPromptCache, type KVCache } from '../../src/lm/index.js';
import { TINY_LLAMA } from './text-fixtures.js';

const model = loadModel(TINY_LLAMA);
const MODEL = 'tiny-llama';
const prompt = (n: number, seed: number) => Array.from({ length: n }, (_, i) => 5 + ((i * 37 + seed * 101) % 1000));

async function run(ids: number[], cache?: KVCache[], maxTokens = 6): Promise<{ tokens: number[]; prefilled: number }> {
  const tokens: number[] = [];
  let prefilled = 0;
  for await (const r of streamGenerate(model, null, ids, { maxTokens, promptCache: cache, promptProgress: (_d, total) => { prefilled = total; } })) tokens.push(r.token);
  return { tokens, prefilled };
}

/** Generates for `ids` through the LRU: fetch, generate on the rest, insert what the cache holds. */
async function cached(lru: LRUPromptCache, ids: number[]): Promise<{ tokens: number[]; prefilled: number; reused: number }> {
  const { cache, rest, cached: reused } = lru.fetchNearestCache(MODEL, ids);
  const c = cache ?? makePromptCache(model);
  const out = await run(rest, c);
  lru.insertCache(MODEL, [...ids, ...out.tokens.slice(0, -1)], c); // the last token was never fed
  return { ...out, reused };
}

test('reusing cached prefixes gives the cold run\'s tokens and prefills only the rest', async () => {
  const lru = new LRUPromptCache();
  const a = prompt(40, 1);
  const cold = await run(a);
  const first = await cached(lru, a);
  assert.deepEqual(first.tokens, cold.tokens);
  assert.equal(first.reused, 0);

  // A continuation of the conversation: everything cached is reused.
  const b = [...a, ...first.tokens, ...prompt(10, 2)];
  const second = await cached(lru, b);
  assert.deepEqual(second.tokens, (await run(b)).tokens);
  assert.equal(second.reused, a.length + first.tokens.length - 1);
  assert.equal(second.prefilled, b.length - second.reused);
  assert.equal(lru.size, 1, 'the shorter entry is dropped: the longer cache can trim back to it');

  // A prompt that leaves the cached one halfway: the longer cache is trimmed to the common prefix.
  const c = [...a.slice(0, 25), ...prompt(8, 3)];
  const third = await cached(lru, c);
  assert.deepEqual(third.tokens, (await run(c)).tokens);
  assert.equal(third.reused, 25);
  assert.equal(lru.size, 2);

  // The exact prompt again: all but its last token come from the cache.
  const again = lru.fetchNearestCache(MODEL, c);
  assert.equal(again.cached, c.length - 1);
  assert.deepEqual((await run(again.rest, again.cache!)).tokens, third.tokens);
  mx.dispose(again.cache!.flatMap((x) => x.state));

  // The stored entries were not disturbed by generations that extended their shared arrays.
  const b2 = lru.fetchNearestCache(MODEL, b);
  assert.equal(b2.cached, b.length - 1);
  assert.deepEqual((await run(b2.rest, b2.cache!)).tokens, second.tokens);
  mx.dispose(b2.cache!.flatMap((x) => x.state));

  // Another model's caches never answer.
  assert.equal(lru.fetchNearestCache('other', b).cache, null);
  lru.clear();
  assert.equal(lru.size, 0);
  assert.equal(lru.nbytes, 0);
});

test('entries and bytes stay bounded; evicted caches are disposed and memory returns', async () => {
  const lru = new LRUPromptCache({ maxSize: 2 });
  const base = mx.getActiveMemory();
  const inserted: KVCache[][] = [];
  for (let s = 0; s < 5; s++) {
    const ids = prompt(30, 10 + s);
    const c = makePromptCache(model);
    const out = await run(ids, c, 3);
    lru.insertCache(MODEL, [...ids, ...out.tokens.slice(0, -1)], c);
    inserted.push(c);
    assert.ok(lru.size <= 2);
  }
  assert.equal(lru.size, 2);
  for (const c of inserted.slice(0, 3)) for (const a of c.flatMap((x) => x.state)) assert.ok(a._disposed, 'evicted arrays are disposed');
  const perEntry = lru.nbytes / 2;
  assert.ok(mx.getActiveMemory() - base <= lru.nbytes + perEntry, `memory ${mx.getActiveMemory() - base} for ${lru.nbytes} bytes of caches`);

  lru.trimTo({ nBytes: perEntry * 1.5 });
  assert.equal(lru.size, 1);
  const small = new LRUPromptCache({ maxBytes: perEntry * 1.5 });
  for (let s = 0; s < 3; s++) {
    const ids = prompt(30, 20 + s);
    const c = makePromptCache(model);
    const out = await run(ids, c, 3);
    small.insertCache(MODEL, [...ids, ...out.tokens.slice(0, -1)], c);
    assert.ok(small.nbytes <= perEntry * 1.5);
  }
  assert.equal(small.size, 1);
  lru.clear();
  small.clear();
  assert.ok(mx.getActiveMemory() - base < perEntry / 4, 'clear frees the caches');
  assert.throws(() => lru.insertCache(MODEL, [1, 2, 3], makePromptCache(model)), /the cache holds 0 tokens but 3 tokens were given/);
});
