// GGUF models: files written by llama.cpp's own Python package (scripts/fixtures/lm_gguf.py)
// load to transformers' logits and greedy tokens, with their tokenizers; lathe's writer
// round-trips the shipped model (exact in F32, within quantization error in Q8_0/Q4_0, kept
// quantized in MLX's layout); convert writes a folder; bad files name what is wrong.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as mx from '../../src/index.js';
import * as nn from '../../src/nn/index.js';
import { loadGguf, saveGguf } from '../../src/io/index.js';
import { load, loadModel, loadTokenizer, convert, generateStep, saveGgufModel, loadGgufTokenizer } from '../../src/lm/index.js';
import type { LanguageModel } from '../../src/lm/index.js';
import { closeTo, fixtureDir, maxDiff, reference, tempDir } from './model-fixtures.js';
import { TINY_LLAMA } from './text-fixtures.js';

const GGUF = fileURLToPath(new URL('../fixtures/lm_gguf', import.meta.url));
const TEXT = fileURLToPath(new URL('../fixtures/lm_text', import.meta.url));
const dir = tempDir();
const PROMPT = [72, 392, 355, 302, 825, 114, 102, 784, 51, 37, 300, 12];

const greedy = (model: LanguageModel, prompt: number[], n: number): number[] => [...generateStep(prompt, model, { maxTokens: n })].map((s) => s.token);
const logitsOf = (model: LanguageModel, prompt: number[]) => model.forward(mx.array([prompt], mx.int32));

test('a Q8_0 Llama file from llama.cpp\'s gguf package: config, rope_freqs and permuted q/k undone', () => {
  const ref = reference('llama');
  const model = loadModel(join(GGUF, 'llama-q8_0.gguf'), { dtype: 'float32' });
  const c = model.config;
  assert.equal(c.model_type, 'llama');
  assert.deepEqual([c.hidden_size, c.num_hidden_layers, c.num_attention_heads, c.num_key_value_heads, c.head_dim, c.rms_norm_eps], [64, 2, 4, 2, 16, 1e-6]);
  assert.equal(c.tie_word_embeddings, false);
  assert.deepEqual(c.rope_scaling, { rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 16 });
  assert.deepEqual(c.quantization, { group_size: 32, bits: 8 });
  assert.ok((model as unknown as { lm_head: nn.Module }).lm_head instanceof nn.QuantizedLinear, 'Q8_0 matrices stay quantized');
  // Q8_0 of random weights: about 2% of the logits' scale (measured 2.1%).
  const r = closeTo(logitsOf(model, ref.prompt), ref.logits, 0.04);
  assert.ok(r.ok, `logits differ by ${r.diff} (scale ${r.scale})`);
  // Dequantized, the same values through plain matmuls.
  const plain = loadModel(join(GGUF, 'llama-q8_0.gguf'), { dtype: 'float32', dequantize: true });
  assert.ok(maxDiff(logitsOf(plain, ref.prompt), logitsOf(model, ref.prompt)) < 1e-4);
  assert.deepEqual(greedy(model, ref.prompt, 3), ref.greedy.slice(0, 3));
});

test('an F16 Qwen2 file (biases, tied embeddings) gives transformers\' logits and greedy tokens', () => {
  const ref = reference('qwen2');
  const model = loadModel(join(GGUF, 'qwen2-f16.gguf'), { dtype: 'float32' });
  assert.equal(model.config.tie_word_embeddings, true);
  const r = closeTo(logitsOf(model, ref.prompt), ref.logits, 1e-4);
  assert.ok(r.ok, `logits differ by ${r.diff} (scale ${r.scale})`);
  assert.deepEqual(greedy(model, ref.prompt, ref.greedy.length), ref.greedy);
  // Default dtype: the token embedding's (F16).
  assert.equal(loadModel(join(GGUF, 'qwen2-f16.gguf')).model.embed_tokens.weight.dtype, mx.float16);
});

test('GGUF tokenizers (gpt2 and llama) encode, decode and render chats as the originals', () => {
  const reference = JSON.parse(readFileSync(join(TEXT, 'reference.json'), 'utf8')) as {
    encode: Record<string, Record<string, { ids: number[]; ids_special: number[]; decode: string }>>;
    chat: Record<string, { messages: never[]; kwargs: Record<string, unknown>; text: string; ids: number[] }[]>;
  };
  for (const kind of ['bytelevel', 'sentencepiece']) {
    const tok = loadGgufTokenizer(join(GGUF, `${kind}-tokenizer.gguf`));
    const orig = loadTokenizer(join(TEXT, kind));
    assert.equal(tok.detokenizerKind, orig.detokenizerKind);
    assert.deepEqual([...tok.eosTokenIds], [...orig.eosTokenIds]);
    for (const [text, r] of Object.entries(reference.encode[kind])) {
      // The original SentencePiece tokenizer.json splits words at "▁" (Metaspace, split); a GGUF
      // keeps no pre-tokenizer and llama.cpp runs BPE over the whole text, so runs of spaces merge differently.
      if (kind === 'sentencepiece' && text.includes('  ')) continue;
      assert.deepEqual(tok.encode(text, { addSpecialTokens: false }), r.ids, `${kind}: ${JSON.stringify(text)}`);
      assert.deepEqual(tok.encode(text), r.ids_special, `${kind} with special tokens: ${JSON.stringify(text)}`);
      assert.equal(tok.decode(r.ids), orig.decode(r.ids));
    }
    for (const c of reference.chat[kind]) {
      if (Object.keys(c.kwargs).length || c.text === undefined) continue; // template options and errors: test/lm/chat.test.ts
      assert.equal(tok.applyChatTemplate(c.messages, { tokenize: false }), c.text, `${kind} chat '${JSON.stringify(c.messages).slice(0, 40)}'`);
    }
  }
});

test('saveGgufModel round-trips the shipped model: F32 exactly, Q8_0 and Q4_0 quantized in MLX layout', async () => {
  const ref = loadModel(TINY_LLAMA);
  const refLogits = logitsOf(ref, PROMPT);
  const refTokens = greedy(ref, PROMPT, 12);
  const f32 = join(dir, 'tiny-f32.gguf');
  saveGgufModel(TINY_LLAMA, f32, { outType: 'f32' });
  const meta = loadGguf(f32);
  assert.equal(meta.metadata['general.architecture'], 'llama');
  assert.equal(meta.metadataTypes['llama.rope.freq_base'], 'float32');
  assert.equal(meta.metadata['tokenizer.ggml.pre'], 'gpt-2');
  assert.ok(!('output.weight' in meta.info), 'tied embeddings: no output tensor');
  const { model, tokenizer } = load(f32);
  assert.equal(maxDiff(logitsOf(model, PROMPT), refLogits), 0);
  assert.deepEqual(greedy(model, PROMPT, 12), refTokens);
  // The tokenizer too: the same ids for a page of Moby-Dick, the same chat rendering.
  const original = loadTokenizer(TINY_LLAMA);
  const page = readFileSync(join(TINY_LLAMA, '../../data/moby-dick.txt'), 'utf8').slice(0, 5000);
  assert.deepEqual(tokenizer.encode(page), original.encode(page));
  const chat = [{ role: 'user', content: 'Call me Ishmael.' }];
  assert.deepEqual(tokenizer.applyChatTemplate(chat), original.applyChatTemplate(chat));
  assert.deepEqual([...tokenizer.eosTokenIds].sort(), [...original.eosTokenIds].sort());

  for (const [type, bits, rtol] of [['q8_0', 8, 0.03], ['q4_0', 4, 0.3]] as const) {
    const path = join(dir, `tiny-${type}.gguf`);
    saveGgufModel(TINY_LLAMA, path, { outType: type });
    assert.equal(loadGguf(path).info['blk.0.attn_q.weight'].type, type.toUpperCase());
    const q = loadModel(path, { dtype: 'float32' });
    assert.deepEqual(q.config.quantization, { group_size: 32, bits });
    const layer = q.layers[0] as unknown as { self_attn: { q_proj: nn.QuantizedLinear } };
    assert.ok(layer.self_attn.q_proj instanceof nn.QuantizedLinear && layer.self_attn.q_proj.bits === bits);
    const r = closeTo(logitsOf(q, PROMPT), refLogits, rtol);
    assert.ok(r.ok, `${type}: logits differ by ${r.diff} (scale ${r.scale})`);
    if (type === 'q8_0') assert.deepEqual(greedy(q, PROMPT, 12), refTokens);
  }
});

test('convert turns a GGUF file into a model folder that loads to the same model', () => {
  const src = join(dir, 'tiny-q8_0-conv.gguf');
  saveGgufModel(TINY_LLAMA, src, { outType: 'q8_0' });
  const out = join(dir, 'converted');
  convert(src, out, { dtype: 'float32' });
  const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
  assert.deepEqual(config.quantization, { group_size: 32, bits: 8 });
  const a = load(out), b = load(src, { dtype: 'float32' });
  assert.equal(maxDiff(logitsOf(a.model, PROMPT), logitsOf(b.model, PROMPT)), 0);
  assert.deepEqual(a.tokenizer.encode('Call me Ishmael.'), b.tokenizer.encode('Call me Ishmael.'));
  assert.deepEqual(JSON.parse(readFileSync(join(out, 'generation_config.json'), 'utf8')).eos_token_id, [0, 4]);
});

test('bad GGUF files name the problem: architecture, missing tensor, unreadable type', () => {
  const good = loadGguf(join(dir, 'tiny-f32.gguf'));
  const write = (name: string, tensors: Record<string, mx.Array>, metadata: typeof good.metadata) => {
    const p = join(dir, name);
    saveGguf(p, tensors, metadata, { metadataTypes: good.metadataTypes });
    return p;
  };
  const tensors = { ...good.tensors };
  const arch = write('neox.gguf', tensors, { ...good.metadata, 'general.architecture': 'gptneox' });
  assert.throws(() => loadModel(arch), /neox\.gguf: GGUF architecture 'gptneox' is not supported; supported: gemma2, gemma3, llama, mistral, qwen2, qwen3/);
  const { ['blk.1.attn_k.weight']: _drop, ...rest } = tensors;
  const missing = write('missing.gguf', rest, good.metadata);
  assert.throws(() => loadModel(missing), /missing\.gguf: 1 tensors the llama model needs are missing: 'blk\.1\.attn_k\.weight' \(model\.layers\.1\.self_attn\.k_proj\.weight\)/);
  const noMeta = write('nometa.gguf', tensors, Object.fromEntries(Object.entries(good.metadata).filter(([k]) => k !== 'llama.block_count')));
  assert.throws(() => loadModel(noMeta), /metadata 'llama\.block_count' is missing/);
  // A Q2_K tensor: an I8 tensor of the right byte size, its ggml type patched in the header.
  const q2 = write('q2k.gguf', { ...tensors, 'token_embd.weight': mx.zeros([5376], mx.int8) }, good.metadata);
  const bytes = readFileSync(q2);
  const at = bytes.indexOf(Buffer.from('token_embd.weight')) + 'token_embd.weight'.length;
  assert.equal(bytes.readUInt32LE(at), 1); // one dim, 5376 = 21 Q2_K blocks of 256 in 1764 bytes
  bytes.writeUInt32LE(10, at + 4 + 8); // GGML_TYPE_Q2_K
  writeFileSync(q2, bytes);
  assert.throws(() => loadModel(q2), /tensor 'token_embd\.weight' has ggml type Q2_K, which lathe cannot read yet/);
  assert.throws(() => saveGgufModel(fixtureDir('phi3'), join(dir, 'phi3.gguf')), /model_type 'phi3' has no GGUF writer; supported: gemma2, gemma3, llama, mistral, qwen2, qwen3/);
});

test('saveGguf\'s Q8_0 and Q4_0 blocks are byte for byte gguf-py\'s (llama.cpp\'s reference quantizer)', () => {
  const ref = loadGguf(join(GGUF, 'quant-blocks.gguf'));
  const path = join(dir, 'blocks.gguf');
  saveGguf(path, { q8_0: ref.tensors.source, q4_0: ref.tensors.source }, {}, { tensorTypes: { q8_0: 'Q8_0', q4_0: 'Q4_0' } });
  const mine = loadGguf(path);
  const raw = (f: string, i: { offset: number; nbytes: number | null }) => readFileSync(f).subarray(i.offset, i.offset + i.nbytes!);
  for (const t of ['q8_0', 'q4_0']) {
    assert.equal(mine.info[t].type, t.toUpperCase());
    assert.ok(raw(path, mine.info[t]).equals(raw(join(GGUF, 'quant-blocks.gguf'), ref.info[t])), `${t} bytes`);
  }
});

test('mistral, qwen3 (yarn), gemma2 and gemma3 round-trip through GGUF exactly in F32', () => {
  const prompt = reference('llama').prompt;
  // Where a fixture's config says what llama.cpp cannot store, it is set to what llama.cpp derives.
  const patches: Record<string, Record<string, unknown>> = {
    mistral: {}, qwen3: {}, gemma2: { query_pre_attn_scalar: 32 }, gemma3_text: { layer_types: undefined, sliding_window_pattern: 2 },
  };
  for (const [arch, patch] of Object.entries(patches)) {
    const d = join(dir, `rt-${arch}`);
    cpSync(fixtureDir(arch), d, { recursive: true });
    const config = { ...JSON.parse(readFileSync(join(d, 'config.json'), 'utf8')), ...patch };
    writeFileSync(join(d, 'config.json'), JSON.stringify(config));
    const ref = loadModel(d, { dtype: 'float32' });
    saveGgufModel(d, join(dir, `${arch}.gguf`), { outType: 'f32' });
    const m = loadModel(join(dir, `${arch}.gguf`));
    assert.equal(maxDiff(logitsOf(m, prompt), logitsOf(ref, prompt)), 0, arch);
  }
  // The fixture's own gemma2 config (query_pre_attn_scalar 24) is refused rather than changed.
  assert.throws(() => saveGgufModel(fixtureDir('gemma2'), join(dir, 'g2.gguf')), /query_pre_attn_scalar 24 \(llama\.cpp uses 32\) cannot be stored in GGUF/);
});
