// batchGenerate through the compiled step over a left-padded StaticKVCache (src/lm/batch.ts,
// compiled-step.ts, static-cache.ts): the same tokens, logprobs and finish reasons as the
// eager loop over KVCache for prompts of different lengths, across architectures (sliding
// windows and soft-capping included); finished rows kept until the batch halves; one trace
// for batches with other paddings; and the padded static cache's masks, positions and logits
// against KVCache's with the same padding.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as mx from '../../src/index.js';
import type { Array } from '../../src/index.js';
import { loadModel } from '../../src/lm/load.js';
import { batchGenerate, generateStep, load as loadWithTokenizer, KVCache, type GenerateOptions, type GenerationModel } from '../../src/lm/index.js';
import { StaticKVCache, makeStaticCache } from '../../src/lm/static-cache.js';
import { compiledStepStats, compiledStepUnsupported } from '../../src/lm/compiled-step.js';
import { positionsFor } from '../../src/lm/models/base.js';
import type { LanguageModel } from '../../src/lm/models/base.js';
import { closeTo, fixtureDir, ids, reference } from './model-fixtures.js';
import { TINY_LLAMA } from './text-fixtures.js';

const load = (arch: string): LanguageModel => loadModel(fixtureDir(arch), { dtype: 'float32' }) as LanguageModel;

/** Prompts of 24, 13, 7 and 1 tokens (left padding 0, 11, 17, 23). */
function prompts(arch: string): number[][] {
  const ref = reference(arch);
  return [ref.prompt, ref.prompt_b, ref.prompt.slice(5, 12), [ref.prompt[3]]];
}

const solo = (model: GenerationModel, prompt: number[], maxTokens: number) =>
  [...generateStep(prompt, model, { maxTokens, compiled: false })].map((s) => s.token);

for (const arch of ['llama', 'qwen3', 'gemma2', 'gemma3_text'] as const) {
  test(`${arch}: a compiled batch gives the eager batch's greedy tokens and each prompt's solo tokens`, async () => {
    const model = load(arch);
    assert.equal(compiledStepUnsupported(model), null);
    const ps = prompts(arch);
    const eager = await batchGenerate(model, null, ps, { maxTokens: 8, compiled: false });
    assert.equal(compiledStepStats(model), undefined, 'compiled: false stays eager');
    const compiled = await batchGenerate(model, null, ps, { maxTokens: 8, compiled: true });
    assert.ok(compiledStepStats(model)!.traces >= 1, 'compiled: true decodes through the compiled step');
    assert.deepEqual(compiled.tokens, eager.tokens);
    ps.forEach((p, i) => assert.deepEqual(compiled.tokens[i], solo(model, p, 8), `row ${i} (${p.length} tokens) alone`));
    assert.deepEqual(compiled.finishReasons, ['length', 'length', 'length', 'length']);
    assert.equal(compiled.stats.generationTokens, 32);
    if (arch === 'llama') assert.deepEqual(compiled.tokens[0], reference(arch).greedy, "transformers' greedy tokens");
  });
}

test('phi3 (longrope), and mixtral past its experts (routed on the host), fall back to the eager loop', async () => {
  const phi3 = load('phi3');
  assert.match(compiledStepUnsupported(phi3) ?? '', /longrope/);
  const ps = prompts('phi3');
  const compiled = await batchGenerate(phi3, null, ps, { maxTokens: 4, compiled: true });
  assert.equal(compiledStepStats(phi3), undefined);
  assert.deepEqual(compiled.tokens, (await batchGenerate(phi3, null, ps, { maxTokens: 4, compiled: false })).tokens);

  // 4 experts, 2 per token: up to 2 rows gather on the device (compiled); 4 rows sort on the host.
  const mixtral = load('mixtral');
  assert.equal(compiledStepUnsupported(mixtral, 2), null);
  assert.match(compiledStepUnsupported(mixtral, 4) ?? '', /mixture-of-experts.*4 rows × 2 experts/);
  const four = prompts('mixtral'), two = four.slice(1, 3);
  const eager4 = await batchGenerate(mixtral, null, four, { maxTokens: 4, compiled: false });
  assert.deepEqual((await batchGenerate(mixtral, null, four, { maxTokens: 4, compiled: true })).tokens, eager4.tokens);
  assert.equal(compiledStepStats(mixtral), undefined, '4 rows fall back');
  const eager2 = await batchGenerate(mixtral, null, two, { maxTokens: 4, compiled: false });
  assert.deepEqual((await batchGenerate(mixtral, null, two, { maxTokens: 4, compiled: true })).tokens, eager2.tokens);
  assert.ok(compiledStepStats(mixtral)!.traces >= 1, '2 rows compile');
});

test('rows finishing early (stopTokens), logprobs and penalties: as the eager batch; the batch halves, keeping finished rows until then', async () => {
  const model = load('qwen3');
  const ref = reference('qwen3');
  const ps = [ref.prompt, ref.prompt_b, ref.prompt.slice(2, 9), ref.prompt_b.slice(4), ref.prompt.slice(10)];
  const free = await batchGenerate(model, null, ps, { maxTokens: 10, compiled: false, repetitionPenalty: 1.3 });
  // Stop tokens that end row 3 at step 0, row 0 at 1, row 1 at 2 and row 2 at 4 (unless they come earlier elsewhere).
  const stopTokens = [free.tokens[3][0], free.tokens[0][1], free.tokens[1][2], free.tokens[2][4]];
  const options: GenerateOptions = { maxTokens: 10, stopTokens, topLogprobs: 3, repetitionPenalty: 1.3 };
  const eager = await batchGenerate(model, null, ps, { ...options, compiled: false });
  assert.ok(new Set(eager.tokens.map((t) => t.length)).size > 1, `rows finish at different steps: ${eager.tokens.map((t) => t.length)}`);

  // The batch size of each trace of the compiled step: the forward calls after the prefill.
  const sizes: number[] = [];
  const counting: GenerationModel = {
    forward: (inputs: Array, cache) => { sizes.push(inputs.shape[0]); return model.forward(inputs, cache); },
    layers: model.layers,
    args: model.args,
  };
  const compiled = await batchGenerate(counting, null, ps, { ...options, compiled: true });
  assert.deepEqual(compiled.tokens, eager.tokens);
  assert.deepEqual(compiled.finishReasons, eager.finishReasons);
  assert.equal(compiled.stats.generationTokens, eager.stats.generationTokens);
  for (let i = 0; i < ps.length; i++) {
    assert.equal(compiled.logprobs![i].length, eager.logprobs![i].length);
    compiled.logprobs![i].forEach((l, k) => {
      const e = eager.logprobs![i][k];
      assert.ok(Math.abs(l.logprob - e.logprob) < 1e-4, `row ${i} token ${k}: logprob ${l.logprob} vs ${e.logprob}`);
      assert.deepEqual(l.topLogprobs.map((t) => t.token), e.topLogprobs.map((t) => t.token), `row ${i} token ${k}: top tokens`);
    });
  }
  // Prefill (one forward of the whole batch), then one trace per batch size: 5, then halves.
  const traced = sizes.slice(1);
  assert.equal(sizes[0], 5);
  assert.equal(traced[0], 5);
  traced.forEach((b, k) => { if (k > 0) assert.equal(b, traced[k - 1] >> 1, `batch sizes ${sizes}`); });
  const runningAt = (step: number) => eager.tokens.filter((t, i) => t.length + (eager.finishReasons[i] === 'stop' ? 1 : 0) > step).length;
  const expected = [5];
  for (let step = 1; step < 10 && runningAt(step) > 0; step++) {
    let b = expected[expected.length - 1];
    while (b >> 1 >= runningAt(step) && b > 1) b >>= 1;
    if (b !== expected[expected.length - 1]) expected.push(b);
  }
  assert.deepEqual(traced, expected, `traced batch sizes, for rows running ${Array.from({ length: 10 }, (_, s) => runningAt(s))}`);
  assert.deepEqual(traced, [5, 2, 1], 'the batch halved twice');
});

test('batches with other paddings replay the same trace; the abort signal stops a compiled batch', async () => {
  const model = load('llama');
  const ref = reference('llama');
  await batchGenerate(model, null, [ref.prompt, ref.prompt_b], { maxTokens: 4, compiled: true });
  const traces = compiledStepStats(model)!.traces;
  const other = [ref.prompt.slice(0, 20), ref.prompt_b.slice(0, 3)];
  const r = await batchGenerate(model, null, other, { maxTokens: 4, compiled: true });
  assert.equal(compiledStepStats(model)!.traces, traces, 'no new trace for another padding');
  assert.deepEqual(r.tokens, other.map((p) => solo(model, p, 4)));

  const ctrl = new AbortController();
  let seen = 0;
  const aborted = await batchGenerate(model, null, [ref.prompt, ref.prompt_b], {
    maxTokens: 8, compiled: true, logitsProcessors: [(_h, logits) => { if (++seen === 2) ctrl.abort(); return logits; }], signal: ctrl.signal,
  });
  assert.deepEqual(aborted.finishReasons, ['abort', 'abort']);
  assert.deepEqual(aborted.tokens.map((t) => t.length), [1, 1]);
});

test('stop strings and texts on the compiled path; memory is back where it was after a compiled batch', async () => {
  const { model, tokenizer } = loadWithTokenizer(TINY_LLAMA);
  const prompts = ['Call me', 'It is a way I have of driving off the spleen', 'The whale'];
  const free = await batchGenerate(model, tokenizer, prompts, { maxTokens: 16, compiled: false });
  const stop = free.texts[1].slice(6, 10); // ends row 1 mid-text (and maybe others)
  const eager = await batchGenerate(model, tokenizer, prompts, { maxTokens: 16, stop: [stop], compiled: false });
  const compiled = await batchGenerate(model, tokenizer, prompts, { maxTokens: 16, stop: [stop], compiled: true });
  assert.equal(eager.finishReasons[1], 'stop');
  assert.deepEqual(compiled.texts, eager.texts);
  assert.deepEqual(compiled.tokens, eager.tokens);
  assert.deepEqual(compiled.finishReasons, eager.finishReasons);
  await batchGenerate(model, tokenizer, prompts, { maxTokens: 16, stop: [stop], compiled: true }); // on the GPU: records the graphs
  const before = mx.getActiveMemory();
  await batchGenerate(model, tokenizer, prompts, { maxTokens: 16, stop: [stop], compiled: true });
  const after = mx.getActiveMemory(); // (less when the GC finalizes earlier tests' arrays meanwhile)
  assert.ok(after <= before, `a compiled batch frees its cache, position and padding: ${before} bytes before, ${after} after`);
});

test('a left-padded StaticKVCache: masks and positions as KVCache with the same padding, host or device position', () => {
  const leftPadding = [3, 0, 5];
  const kv = new KVCache({ leftPadding });
  const st = new StaticKVCache(16, { leftPadding });
  const x = mx.random.normal([3, 2, 6, 4], mx.float32, null, null, mx.random.key(1));
  kv.updateAndFetch(x, x);
  st.updateAndFetch(x, x);
  assert.equal(st.offset, 6);
  for (const L of [1, 3]) for (const w of [null, 2]) {
    const want = kv.makeMask(L, w) as Array; // (B, 1, L, 6 + L)
    const device = StaticKVCache.over(st.keys!, st.values!, mx.array(6, mx.int32), 0, mx.array(leftPadding, mx.int32));
    for (const [name, got] of [['host', st.makeMask(L, w)], ['device', device.makeMask(L, w)]] as const) {
      assert.deepEqual(got.shape, [3, 1, L, 16], name);
      const seen = mx.index(got, mx.s(), mx.s(), mx.s(), mx.s(0, 6 + L));
      assert.deepEqual(seen.tolist(), want.tolist(), `${name} mask L=${L} window ${w}`);
      assert.equal(mx.any(mx.index(got, mx.s(), mx.s(), mx.s(), mx.s(6 + L))).item(), false, `${name}: unwritten columns hidden`);
    }
    const pk = positionsFor([kv], L), ps = positionsFor([st], L), pd = device.positions(L);
    for (const [name, p] of [['host', ps], ['device', pd]] as const) {
      assert.deepEqual((p.starts() as Array).tolist(), (pk.starts() as Array).tolist(), `${name} starts`);
      assert.deepEqual(p.values().tolist(), pk.values().tolist(), `${name} positions (B, 1, L)`);
    }
  }
  assert.throws(() => StaticKVCache.over(st.keys!, st.values!, null, 0, mx.array([1, 2], mx.int32)), /padding must be integer \(B,\) = \(3\)/);
  assert.throws(() => st.updateAndFetch(mx.zeros([2, 2, 1, 4]), mx.zeros([2, 2, 1, 4])), /batch of 3/);
});

test('a left-padded StaticKVCache gives the logits of KVCache with the same padding (gemma2: window and soft-capping)', () => {
  const model = load('gemma2');
  const ref = reference('gemma2');
  const rows = [ref.prompt.slice(0, 12), ref.prompt_b.slice(0, 5)];
  const leftPadding = [0, 7];
  const padded = rows.map((r, b) => [...new Array<number>(leftPadding[b]).fill(0), ...r]);
  const kv = model.makeCache({ leftPadding }), st = makeStaticCache(model, 32, { leftPadding });
  // Columns 0..8 at once, then 9..11 one at a time: the masks of a chunk and of steps.
  for (const [a, b] of [[0, 9], [9, 10], [10, 11], [11, 12]]) {
    const chunk = ids(padded.map((r) => r.slice(a, b)));
    const want = model.forward(chunk, kv), got = model.forward(chunk, st);
    for (let r = 0; r < 2; r++) {
      const from = Math.max(0, leftPadding[r] - a); // padding columns' outputs are meaningless
      if (from >= b - a) continue;
      const w = mx.index(want, r, mx.s(from)), g = mx.index(got, r, mx.s(from));
      const c = closeTo(g, w, 1e-4);
      assert.ok(c.ok, `row ${r} columns ${a + from}..${b}: differs by ${c.diff} (scale ${c.scale})`);
    }
  }
  // One more token for both rows: row 1 gives what it gives alone, without padding.
  const next = [[ref.prompt[20]], [ref.prompt[21]]];
  const batched = model.forward(ids(next), st);
  const alone = model.makeCache();
  model.forward(ids([rows[1]]), alone);
  const c = closeTo(mx.index(batched, 1), mx.index(model.forward(ids([next[1]]), alone), 0), 1e-4);
  assert.ok(c.ok, `row 1 after 7 padding columns vs alone: differs by ${c.diff}`);
});
