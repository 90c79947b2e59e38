// Decoding through one compiled step over a static KV cache (src/lm/compiled-step.ts): the
// same greedy tokens as transformers and as the usual loop, for every architecture whose
// rotary schedule does not depend on the sequence length; the static cache alone (eager)
// gives the usual logits; memory stays flat; options it cannot serve fall back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as mx from '../../src/index.js';
import { loadModel } from '../../src/lm/load.js';
import { generateStep, tidyStep, type GenerateOptions } from '../../src/lm/step.js';
import { StaticKVCache, makeStaticCache } from '../../src/lm/static-cache.js';
import { CompiledStep, compiledStepStats, compiledStepUnsupported, staticCacheSize } from '../../src/lm/compiled-step.js';
import { ARCHS, closeTo, fixtureDir, ids, reference } from './model-fixtures.js';

for (const arch of ARCHS) {
  test(`${arch}: compiled decoding gives transformers' greedy tokens and the usual loop's`, () => {
    const ref = reference(arch);
    const model = loadModel(fixtureDir(arch), { dtype: 'float32' });
    const why = compiledStepUnsupported(model);
    const usual = [...generateStep(ref.prompt, model, { maxTokens: ref.greedy.length, compiled: false })].map((s) => s.token);
    const compiled = [...generateStep(ref.prompt, model, { maxTokens: ref.greedy.length, compiled: true })].map((s) => s.token);
    assert.deepEqual(usual, ref.greedy);
    assert.deepEqual(compiled, ref.greedy, why ? `fell back (${why}) yet differs` : 'compiled step');
    if (arch === 'phi3') assert.match(why ?? '', /longrope/, 'Phi-3 longrope depends on the sequence length');
    else assert.equal(why, null);
  });
}

test('greedy sampling and logprobs inside the compiled step, random sampling and processors after it, all as the usual loop', () => {
  const ref = reference('llama');
  const model = loadModel(fixtureDir('llama'), { dtype: 'float32' });
  const run = (options: GenerateOptions, compiled: boolean) => { mx.random.seed(3); return [...generateStep(ref.prompt, model, { maxTokens: 6, ...options, compiled })]; };
  for (const options of [{ topLogprobs: 3 }, { logprobs: true }, { temp: 0.8 }, { repetitionPenalty: 1.3 }] as GenerateOptions[]) {
    const usual = run(options, false), compiled = run(options, true);
    assert.deepEqual(compiled.map((s) => s.token), usual.map((s) => s.token), JSON.stringify(options));
    compiled.forEach((s, i) => {
      const u = usual[i].logprobs;
      if (!u) return assert.equal(s.logprobs, undefined);
      assert.ok(Math.abs(s.logprobs!.logprob - u.logprob) < 1e-4, `${JSON.stringify(options)} step ${i}: logprob ${s.logprobs!.logprob} vs ${u.logprob}`);
      assert.deepEqual(s.logprobs!.topLogprobs.map((t) => t.token), u.topLogprobs.map((t) => t.token));
    });
  }
  assert.ok(compiledStepStats(model, 'greedy:true:3')!.traces >= 1, 'greedy decoding samples inside the step');
});

test('the static cache gives the usual logits, one token or several at a time', () => {
  const ref = reference('llama');
  const model = loadModel(fixtureDir('llama'), { dtype: 'float32' });
  const cache = makeStaticCache(model, 64);
  const cuts = [0, 7, 8, 9, ref.prompt.length];
  for (let i = 0; i + 1 < cuts.length; i++) {
    const out = model.forward(ids([ref.prompt.slice(cuts[i], cuts[i + 1])]), cache);
    const c = closeTo(mx.squeeze(out, 0), mx.index(ref.logits, mx.s(cuts[i], cuts[i + 1])), 1e-4);
    assert.ok(c.ok, `chunk ${cuts[i]}..${cuts[i + 1]}: differs by ${c.diff} (scale ${c.scale})`);
  }
  assert.deepEqual(cache[0].keys!.shape.slice(2), [64, 16]);
  assert.equal(cache[0].offset, ref.prompt.length);
  assert.throws(() => model.forward(ids([new Array(64).fill(1)]), cache), /do not fit its 64 positions/);
});

test('a compiled step advances the cache like the eager model, and keeps memory flat', () => {
  const ref = reference('qwen3');
  const model = loadModel(fixtureDir('qwen3'), { dtype: 'float32' });
  const eager = makeStaticCache(model, 256), cache = makeStaticCache(model, 256);
  model.forward(ids([ref.prompt]), eager);
  model.forward(ids([ref.prompt]), cache);
  mx.eval(eager.map((c) => c.state), cache.map((c) => c.state));
  const step = new CompiledStep(model, cache);
  let token = 3, base = -1;
  for (let i = 0; i < 12; i++) {
    const [want, got] = tidyStep([eager, cache], () => {
      const w = mx.squeeze(model.forward(ids([[token]]), eager), 1);
      return [w, step.run(ids([[token]]))];
    });
    const c = mx.tidy(() => closeTo(got, want, 1e-5));
    assert.ok(c.ok, `token ${i}: compiled logits differ by ${c.diff}`);
    token = mx.tidy(() => (mx.argmax(got, -1).tolist() as number[])[0]);
    mx.dispose([want, got]);
    if (i === 4) base = mx.getActiveMemory();
    if (i > 4) assert.equal(mx.getActiveMemory(), base, `step ${i}: active memory grew`);
  }
  assert.equal(cache[0].offset, ref.prompt.length + 12);
  step.dispose();
});

test('static cache sizes round up to 256 within the context; options a static cache cannot serve fall back', () => {
  assert.equal(staticCacheSize(10, 20, 2048), 256);
  assert.equal(staticCacheSize(300, 20, 2048), 512);
  assert.equal(staticCacheSize(100, 20, 128), 128);
  assert.equal(staticCacheSize(100, 50, 128), null);
  assert.equal(staticCacheSize(100, -1, 4096), null);
  const ref = reference('llama');
  const model = loadModel(fixtureDir('llama'), { dtype: 'float32' });
  const rotating = [...generateStep(ref.prompt, model, { maxTokens: 4, maxKvSize: 64, compiled: true })].map((s) => s.token);
  assert.deepEqual(rotating, ref.greedy.slice(0, 4));
  assert.equal(compiledStepStats(model), undefined, 'a rotating cache falls back to the usual loop');
  [...generateStep(ref.prompt, model, { maxTokens: 4 })];
  if (mx.defaultDevice().type === 'cpu') assert.equal(compiledStepStats(model), undefined, 'off the GPU the compiled step is opt-in');
  else assert.equal(compiledStepStats(model)!.graphs, 1, 'on the GPU it is the default');
  assert.throws(() => new StaticKVCache(0), /positive integer/);
  assert.deepEqual(new StaticKVCache(8, { leftPadding: [1, 0] }).leftPadding, [1, 0], 'left-padded batches: test/lm/compiled-batch.test.ts');
});
