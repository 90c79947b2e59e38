// loadModel: MLX-quantized checkpoints, transformers 5's fused experts, dtypes, tied heads,
// generation_config.json, and every kind of bad input naming the file and the problem.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readdirSync, writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as mx from '../../src/index.js';
import * as nn from '../../src/nn/index.js';
import { loadSafetensors, saveSafetensors } from '../../src/io/index.js';
import { loadModel } from '../../src/lm/load.js';
import { supportedModelTypes, getArchitecture } from '../../src/lm/models/registry.js';
import { QuantizedSwitchLinear } from '../../src/lm/models/switch_layers.js';
import type { LanguageModel } from '../../src/lm/models/base.js';
import { closeTo, fixtureDir, ids, maxDiff, reference, tempDir } from './model-fixtures.js';

const root = tempDir();
let n = 0;

/** A copy of a fixture folder (or a fresh one), to break. */
function folder(from: string | null = null): string {
  const d = join(root, `m${n++}`);
  mkdirSync(d);
  if (from) for (const f of readdirSync(fixtureDir(from))) copyFileSync(join(fixtureDir(from), f), join(d, f));
  return d;
}
const readConfig = (d: string) => JSON.parse(readFileSync(join(d, 'config.json'), 'utf8')) as Record<string, unknown>;
const writeConfig = (d: string, c: unknown) => writeFileSync(join(d, 'config.json'), typeof c === 'string' ? c : JSON.stringify(c));

test('an MLX-quantized checkpoint loads quantized and computes what the quantized model computes', () => {
  const ref = reference('llama');
  const model = loadModel(fixtureDir('llama'), { dtype: 'float32' });
  // lm_head at 8 bits, the embeddings left as they are: per-layer entries of MLX's config.
  nn.quantize(model, 32, 4, (path, m) => (path === 'lm_head' ? { bits: 8 } : m instanceof nn.Linear));
  const d = folder();
  model.saveWeights(join(d, 'model.safetensors'));
  writeConfig(d, { ...readConfig(fixtureDir('llama')), quantization: { group_size: 32, bits: 4, lm_head: { group_size: 32, bits: 8 } } });
  const loaded = loadModel(d) as LanguageModel & { lm_head: nn.QuantizedLinear; model: { embed_tokens: nn.Module } };
  assert.ok(loaded.lm_head instanceof nn.QuantizedLinear && loaded.lm_head.bits === 8);
  assert.ok(loaded.layers[0] instanceof nn.Module);
  assert.ok(loaded.model.embed_tokens instanceof nn.Embedding, 'layers without scales stay unquantized');
  const want = model.forward(ids([ref.prompt])), got = loaded.forward(ids([ref.prompt]));
  assert.equal(maxDiff(want, got), 0);
});

test('a quantized mixture of experts (QuantizedSwitchLinear) round-trips the same way', () => {
  const ref = reference('qwen3_moe');
  const model = loadModel(fixtureDir('qwen3_moe'), { dtype: 'float32' });
  // moe_intermediate_size 48 is not a multiple of a group size: down projections stay dense.
  nn.quantize(model, 32, 8, (path, m) => !path.endsWith('down_proj') && (m instanceof nn.Linear || 'toQuantized' in m));
  const d = folder();
  model.saveWeights(join(d, 'model.safetensors'));
  writeConfig(d, { ...readConfig(fixtureDir('qwen3_moe')), quantization: { group_size: 32, bits: 8 } });
  const loaded = loadModel(d) as LanguageModel & { model: { layers: { mlp: { switch_mlp: { gate_proj: unknown; down_proj: unknown } } }[] } };
  assert.ok(loaded.model.layers[0].mlp.switch_mlp.gate_proj instanceof QuantizedSwitchLinear);
  assert.ok(!(loaded.model.layers[0].mlp.switch_mlp.down_proj instanceof QuantizedSwitchLinear));
  assert.equal(maxDiff(model.forward(ids([ref.prompt])), loaded.forward(ids([ref.prompt]))), 0);
  // The gathered path (one token, 2 experts) too.
  assert.equal(maxDiff(model.forward(ids([[5]])), loaded.forward(ids([[5]]))), 0);
});

test("transformers 5's fused experts (gate_up_proj, down_proj) load as the per-expert checkpoint", () => {
  const ref = reference('qwen3_moe');
  const src = loadSafetensors(join(fixtureDir('qwen3_moe'), 'model.safetensors')).tensors;
  const out: Record<string, mx.Array> = {};
  for (const k of Object.keys(src)) if (!k.includes('.experts.')) out[k] = src[k];
  const p = 'model.layers.0.mlp.experts';
  const stack = (name: string) => mx.stack([0, 1, 2, 3].map((e) => src[`${p}.${e}.${name}.weight`]));
  out[`${p}.gate_up_proj`] = mx.concatenate([stack('gate_proj'), stack('up_proj')], 1);
  out[`${p}.down_proj`] = stack('down_proj');
  const d = folder();
  saveSafetensors(join(d, 'model.safetensors'), out);
  copyFileSync(join(fixtureDir('qwen3_moe'), 'config.json'), join(d, 'config.json'));
  const logits = loadModel(d, { dtype: 'float32' }).forward(ids([ref.prompt]));
  assert.ok(closeTo(mx.squeeze(logits, 0), ref.logits, 1e-4).ok);
});

test('dtype: as stored by default (bfloat16 here), or cast; config and generation config attached', () => {
  const ref = reference('qwen2');
  const model = loadModel(fixtureDir('qwen2'));
  const w = model.layers[0] as unknown as { self_attn: { q_proj: nn.Linear } };
  assert.equal(w.self_attn.q_proj.weight.dtype.name, 'bfloat16');
  const logits = model.forward(ids([ref.prompt]));
  assert.equal(logits.dtype.name, 'bfloat16');
  const c = closeTo(mx.squeeze(logits, 0), ref.logits, 0.1);
  assert.ok(c.ok, `bf16 logits differ by ${c.diff} (scale ${c.scale})`);
  assert.equal(model.generationConfig.eos_token_id, 2);
  assert.equal(model.config.model_type, 'qwen2');
  assert.equal(loadModel(fixtureDir('qwen2'), { dtype: 'float16' }).parameters().model !== undefined, true);
});

test('a tied model ignores an lm_head.weight in its checkpoint', () => {
  const ref = reference('qwen2');
  const d = folder('qwen2');
  const f = loadSafetensors(join(fixtureDir('qwen2'), 'model.safetensors')).tensors;
  saveSafetensors(join(d, 'model.safetensors'), { ...Object.fromEntries(Object.keys(f).map((k) => [k, f[k]])), 'lm_head.weight': f['model.embed_tokens.weight'] });
  assert.ok(closeTo(mx.squeeze(loadModel(d, { dtype: 'float32' }).forward(ids([ref.prompt])), 0), ref.logits, 1e-4).ok);
});

test('unknown architectures and bad configs give errors naming the file and the problem', () => {
  const d = folder('llama');
  writeConfig(d, { ...readConfig(d), model_type: 'gpt_neox' });
  assert.throws(() => loadModel(d), (e: Error) => e.message.includes(`${join(d, 'config.json')}: model_type 'gpt_neox' is not supported; supported: ${supportedModelTypes().join(', ')}`));
  assert.deepEqual(supportedModelTypes(), ['gemma2', 'gemma3_text', 'llama', 'mistral', 'mixtral', 'phi3', 'qwen2', 'qwen3', 'qwen3_moe']);
  assert.throws(() => getArchitecture('bert'), /model_type 'bert' is not supported; supported: gemma2, gemma3_text, llama/);

  writeConfig(d, '{"model_type": "llama",');
  assert.throws(() => loadModel(d), /config\.json: not valid JSON/);
  writeConfig(d, { hidden_size: 64 });
  assert.throws(() => loadModel(d), /config\.json: no "model_type" string/);
  writeConfig(d, { ...readConfig(fixtureDir('llama')), hidden_size: 'wide' });
  assert.throws(() => loadModel(d), /config\.json: 'hidden_size' must be a non-negative integer, got "wide"/);
  const { intermediate_size: _, ...noFfn } = readConfig(fixtureDir('llama'));
  writeConfig(d, noFfn);
  assert.throws(() => loadModel(d), /'intermediate_size' must be an integer, got nothing \(the key is missing\)/);
  writeConfig(d, { ...readConfig(fixtureDir('llama')), rope_parameters: { rope_type: 'mrope', rope_theta: 1e4 } });
  assert.throws(() => loadModel(d), (e: Error) => e.message.includes(`${join(d, 'config.json')}: rope type 'mrope' is not supported`));
  writeConfig(d, { ...readConfig(fixtureDir('llama')), num_key_value_heads: 3 });
  assert.throws(() => loadModel(d), /num_attention_heads \(4\) must be a multiple of num_key_value_heads \(3\)/);

  const empty = folder();
  assert.throws(() => loadModel(empty), new RegExp(`${join(empty, 'config.json').replace(/[.\\]/g, '\\$&')}: not found`));
  assert.throws(() => loadModel(join(empty, 'nope')), /not a folder/);
  copyFileSync(join(fixtureDir('llama'), 'config.json'), join(empty, 'config.json'));
  writeFileSync(join(empty, 'pytorch_model.bin'), '');
  assert.throws(() => loadModel(empty), /no safetensors weights .*found pytorch_model\.bin, which loadModel does not read/);
});

test('missing, extra and misshaped weights are listed with their files', () => {
  const d = folder('mistral');
  const f = loadSafetensors(join(fixtureDir('mistral'), 'model.safetensors')).tensors;
  const broken: Record<string, mx.Array> = {};
  for (const k of Object.keys(f)) if (k !== 'model.norm.weight') broken[k] = f[k];
  broken['model.layers.0.self_attn.k_proj.weight'] = mx.zeros([16, 64], 'bfloat16');
  broken['model.layers.0.self_attn.rogue.weight'] = mx.zeros([2]);
  saveSafetensors(join(d, 'model.safetensors'), broken);
  assert.throws(() => loadModel(d), (e: Error) => {
    const m = e.message;
    return m.includes('the weights in model.safetensors do not match the mistral model')
      && m.includes('1 missing: model.norm.weight')
      && m.includes('1 not in the model: model.layers.0.self_attn.rogue.weight in model.safetensors')
      && m.includes('model.layers.0.self_attn.k_proj.weight: expected shape (32, 64), got (16, 64) in model.safetensors')
      && m.includes('strict: false');
  });
  // Not strict: the matching weights load (the misshaped one is the caller's problem).
  broken['model.layers.0.self_attn.k_proj.weight'] = f['model.layers.0.self_attn.k_proj.weight'];
  saveSafetensors(join(d, 'model.safetensors'), broken);
  const m = loadModel(d, { strict: false });
  assert.equal((m as unknown as { model: { norm: nn.RMSNorm } }).model.norm.weight.dtype.name, 'float32', 'the missing norm keeps its initial value');

  // A sharded checkpoint names the shard.
  const s = folder('llama');
  const shard = readdirSync(s).find((x) => x.startsWith('model-00002-'))!;
  const t = loadSafetensors(join(s, shard)).tensors;
  const changed = Object.fromEntries(Object.keys(t).map((k) => [k, k === 'lm_head.weight' ? mx.zeros([255, 64], 'bfloat16') : t[k]]));
  saveSafetensors(join(s, shard), changed);
  assert.throws(() => loadModel(s), new RegExp(`lm_head\\.weight: expected shape \\(256, 64\\), got \\(255, 64\\) in ${shard}`));
});
