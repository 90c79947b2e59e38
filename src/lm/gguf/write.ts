// saveGgufModel: a Hugging Face model folder to one GGUF file laid out as llama.cpp's
// convert_hf_to_gguf.py lays it out (its tensor names and metadata keys, Llama's q/k rows
// permuted, Gemma's norms plus one, Llama 3's rope scaling as a rope_freqs tensor, the
// tokenizer as tokenizer.ggml.*), with F32, F16, BF16, Q8_0 or Q4_0 matrices.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as mx from '../../core/index.js';
import type { Array } from '../../core/index.js';
import { saveGguf, type GgufValue } from '../../io/index.js';
import { treeFlatten } from '../../utils/index.js';
import { loadModel } from '../load.js';
import { readChatTemplate } from '../chat-template.js';
import { Rope, ropeSettings } from '../rope.js';
import { ggufMetadata } from './config.js';
import { ggufArchitectureOf, ggufName, isNormWeight, permuteRows, permutedHeads, supportedGgufArchitectures } from './names.js';
import { ggufTokenizerMetadata } from './tokenizer.js';

export type GgufOutType = 'f32' | 'f16' | 'bf16' | 'q8_0' | 'q4_0';

export interface SaveGgufOptions {
  /** How matrices are stored (norms and biases stay F32, as llama.cpp). Default 'f16'. */
  outType?: GgufOutType;
}

// llama.cpp's LlamaFileType for general.file_type.
const FILE_TYPES: Record<GgufOutType, number> = { f32: 0, f16: 1, q4_0: 2, q8_0: 7, bf16: 32 };

/** Writes the model folder `modelDir` (config.json, safetensors, tokenizer) as the GGUF file `path`. */
export function saveGgufModel(modelDir: string, path: string, options: SaveGgufOptions = {}): void {
  const outType = options.outType ?? 'f16';
  if (!(outType in FILE_TYPES)) throw new Error(`[saveGgufModel] outType must be one of ${Object.keys(FILE_TYPES).join(', ')}, got '${outType}'`);
  const model = loadModel(modelDir);
  const config = model.config;
  if (config.quantization || config.quantization_config) throw new Error(`[saveGgufModel] ${modelDir}: the model is quantized (MLX layout); convert from the unquantized model`);
  const arch = ggufArchitectureOf(String(config.model_type));
  if (!arch) throw new Error(`[saveGgufModel] ${modelDir}: model_type '${String(config.model_type)}' has no GGUF writer; supported: ${supportedGgufArchitectures().join(', ')}`);
  const where = join(modelDir, 'config.json');
  if (globalThis.Array.isArray(config.layer_types) && arch.gguf === 'gemma3') {
    const pattern = Number(config.sliding_window_pattern ?? config._sliding_window_pattern ?? 6);
    const ok = (config.layer_types as string[]).every((t, i) => (t === 'sliding_attention') === ((i + 1) % pattern !== 0));
    if (!ok) throw new Error(`[saveGgufModel] ${where}: layer_types do not follow a sliding_window_pattern, which is all llama.cpp reads`);
  }

  const metadata: Record<string, GgufValue> = { ...ggufMetadata(config, arch, where) };
  metadata['general.name'] = String(config._name_or_path ?? modelDir.split('/').filter(Boolean).pop() ?? 'model');
  metadata['general.file_type'] = FILE_TYPES[outType];
  if (outType.startsWith('q')) metadata['general.quantization_version'] = 2;
  metadata[`${arch.gguf}.vocab_size`] = Number(config.vocab_size);
  if (existsSync(join(modelDir, 'tokenizer.json'))) {
    const read = (f: string) => (existsSync(join(modelDir, f)) ? JSON.parse(readFileSync(join(modelDir, f), 'utf8')) as Record<string, unknown> : {});
    const tokenizerConfig = read('tokenizer_config.json');
    Object.assign(metadata, ggufTokenizerMetadata(read('tokenizer.json'), tokenizerConfig, readChatTemplate(modelDir, tokenizerConfig), join(modelDir, 'tokenizer.json')));
    const gen = { ...read('config.json'), ...read('generation_config.json') };
    const eos: unknown[] = globalThis.Array.isArray(gen.eos_token_id) ? gen.eos_token_id : [gen.eos_token_id];
    if (metadata['tokenizer.ggml.eos_token_id'] === undefined && typeof eos[0] === 'number') metadata['tokenizer.ggml.eos_token_id'] = eos[0];
    if (typeof eos[1] === 'number') metadata['tokenizer.ggml.eot_token_id'] = eos[1];
  }

  const heads = Number(config.num_attention_heads), kvHeads = Number(config.num_key_value_heads ?? heads);
  const tensors: Record<string, Array> = {};
  const tensorTypes: Record<string, 'Q8_0' | 'Q4_0'> = {};
  const matrixDtype = { f32: mx.float32, f16: mx.float16, bf16: mx.bfloat16, q8_0: mx.float16, q4_0: mx.float16 }[outType];
  const settings = ropeSettings(config, null, where);
  if (settings.ropeType === 'llama3') {
    const hd = Number(config.head_dim ?? Number(config.hidden_size) / heads);
    const inv = new Rope(settings, hd, Number(config.max_position_embeddings)).frequencies(0).invFreq;
    tensors['rope_freqs.weight'] = mx.array(Float32Array.from(inv, (f, i) => 1 / (f * settings.base ** ((2 * i) / hd))));
  }
  for (const [key, value] of treeFlatten<Array>(model.parameters())) {
    const name = ggufName(arch, key);
    if (name === null) throw new Error(`[saveGgufModel] ${modelDir}: '${key}' has no GGUF tensor name for architecture ${arch.gguf}`);
    let x = value;
    const p = permutedHeads(arch, key, heads, kvHeads);
    if (p !== null) x = permuteRows(x, p, false);
    if (arch.normShift && isNormWeight(key)) x = mx.add(mx.astype(x, mx.float32), arch.normShift);
    if (x.ndim === 2) {
      const q = outType === 'q8_0' ? 'Q8_0' : outType === 'q4_0' ? 'Q4_0' : null;
      if (q && x.shape[1] % 32 === 0) tensorTypes[name] = q;
      x = mx.astype(x, q ? mx.float32 : matrixDtype);
    } else {
      x = mx.astype(x, mx.float32);
    }
    tensors[name] = x;
  }
  // Whole numbers would be inferred as integers; llama.cpp reads these keys as float32.
  const floats = ['rope.freq_base', 'rope.scaling.factor', 'layer_norm_rms_epsilon', 'logit_softcapping', 'tokenizer.ggml.scores'];
  const metadataTypes = Object.fromEntries(Object.keys(metadata).filter((k) => floats.some((f) => k.endsWith(f))).map((k) => [k, 'float32' as const]));
  saveGguf(path, tensors, metadata, { tensorTypes, metadataTypes });
}
