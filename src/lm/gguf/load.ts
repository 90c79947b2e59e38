// GGUF model files (llama.cpp's) to lathe models: metadata to a Hugging Face config, tensor
// names to checkpoint keys (undoing llama.cpp's q/k permutation and Gemma's norm offset), and
// quantized tensors either kept in MLX's affine layout (when ggml's groups map onto it
// exactly) or dequantized to the model's dtype.
import { closeSync, existsSync, openSync, readSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import * as mx from '../../core/index.js';
import type { Array, DType, DTypeLike } from '../../core/index.js';
import { quantize } from '../../nn/index.js';
import { loadGguf, type GgufFile } from '../../io/index.js';
import { treeFlatten } from '../../utils/index.js';
import type { LanguageModel, ModelConfig, Weights } from '../models/base.js';
import { getArchitecture } from '../models/registry.js';
import { affineBits, ggmlToAffine } from './affine.js';
import { configFromGguf } from './config.js';
import { ggufArchitecture, ggufName, hfName, isMatrixWeight, isNormWeight, permuteRows, permutedHeads, type GgufArchitecture } from './names.js';
import { generationConfigFromGguf } from './tokenizer.js';
import { withMemoryContext } from '../oom.js';

export interface LoadGgufOptions {
  /** The floating-point dtype of the model (default: the token embedding's, float16 when it is quantized). */
  dtype?: DTypeLike;
  /** Dequantize every quantized tensor instead of keeping the ones that map onto MLX's layout. */
  dequantize?: boolean;
  /** Every tensor must belong to the model (default true). */
  strict?: boolean;
}

/** The .gguf file that `path` names: the file itself, or the one .gguf in a folder without config.json. */
export function ggufFileOf(path: string): string | null {
  let st;
  try { st = statSync(path); } catch { return null; }
  if (st.isFile()) return path.toLowerCase().endsWith('.gguf') ? path : null;
  if (!st.isDirectory() || existsSync(join(path, 'config.json'))) return null;
  const files = readdirSync(path).filter((f) => f.toLowerCase().endsWith('.gguf') && !f.startsWith('mmproj'));
  if (files.length > 1) throw new Error(`[loadModel] ${path}: several GGUF files (${files.join(', ')}); pass the one to load`);
  return files.length ? join(path, files[0]) : null;
}

/** Everything a GGUF file gives: the config, the weights under Hugging Face keys, and which layers stay quantized. */
export interface GgufModelParts {
  file: GgufFile;
  arch: GgufArchitecture;
  config: ModelConfig;
  weights: Weights;
  /** Module path -> MLX quantization of the layers kept quantized. */
  quantized: Record<string, { group_size: number; bits: number }>;
  dtype: DType;
}

const FLOAT_DTYPES: Record<string, DType> = { F32: mx.float32, F16: mx.float16, BF16: mx.bfloat16 };

function readBytes(path: string, offset: number, length: number): Uint8Array {
  const out = new Uint8Array(length);
  const fd = openSync(path, 'r');
  try {
    for (let done = 0; done < length;) {
      const n = readSync(fd, out, done, length - done, offset + done);
      if (n === 0) throw new Error(`[loadModel] ${path}: unexpected end of file at byte ${offset + done}`);
      done += n;
    }
  } finally { closeSync(fd); }
  return out;
}

/** Reads a GGUF model's config and weights (see loadGgufModel). */
export function readGgufModel(path: string, options: LoadGgufOptions = {}): GgufModelParts {
  const file = loadGguf(path);
  const meta = file.metadata;
  const archName = meta['general.architecture'];
  if (typeof archName !== 'string') throw new Error(`[loadModel] ${path}: no 'general.architecture' string in the GGUF metadata`);
  const splits = meta['split.count'];
  if (splits !== undefined && Number(splits) > 1) throw new Error(`[loadModel] ${path}: a split GGUF (${String(splits)} files); merge it first (llama-gguf-split --merge)`);
  const arch = ggufArchitecture(archName, path);
  const info = file.info;
  const config = configFromGguf(meta, arch, {
    shape: (n) => info[n]?.shape,
    ropeFreqs: () => (info['rope_freqs.weight'] ? (mx.astype(file.tensors['rope_freqs.weight'], mx.float32).dataSync() as Float32Array) : null),
  }, path);
  const dtype = options.dtype !== undefined ? mx.toDtype(options.dtype, 'loadModel') : FLOAT_DTYPES[info['token_embd.weight'].type] ?? mx.float16;
  if (!dtype.isFloat) throw new Error(`[loadModel] ${path}: dtype must be a floating-point type, got ${dtype.name}`);
  const heads = config.num_attention_heads as number, kvHeads = config.num_key_value_heads as number;

  const weights: Weights = {};
  const quantized: GgufModelParts['quantized'] = {};
  const unknown: string[] = [];
  for (const name of Object.keys(info)) {
    if (name === 'rope_freqs.weight') continue;
    const key = hfName(arch, name);
    if (key === null) { unknown.push(name); continue; }
    const ti = info[name];
    withMemoryContext('loadModel', () => `reading '${name}' (${ti.type}, shape (${ti.shape.join(', ')})) from ${path}`, () => convertTensor(name, key, ti));
  }
  function convertTensor(name: string, key: string, ti: (typeof info)[string]): void {
    const permute = permutedHeads(arch, key, heads, kvHeads);
    const bits = affineBits(ti.type);
    if (!options.dequantize && bits !== undefined && isMatrixWeight(key) && ti.shape.length === 2) {
      const [rows, cols] = ti.shape;
      const a = ggmlToAffine(ti.type, readBytes(path, ti.offset, ti.nbytes!), rows, cols);
      const base = key.slice(0, -'.weight'.length);
      const parts = mx.tidy(() => {
        let w = mx.reshape(mx.array(a.packed, mx.uint32), [rows, (cols * a.bits) / 32]);
        let s = mx.astype(mx.reshape(mx.array(a.scales), [rows, cols / 32]), dtype);
        let b = mx.astype(mx.reshape(mx.array(a.biases), [rows, cols / 32]), dtype);
        if (permute !== null) [w, s, b] = [w, s, b].map((x) => permuteRows(x, permute, true));
        return [w, s, b];
      });
      [weights[`${base}.weight`], weights[`${base}.scales`], weights[`${base}.biases`]] = parts;
      quantized[base] = { group_size: 32, bits: a.bits };
      return;
    }
    weights[key] = mx.tidy(() => {
      let x = file.tensors[name];
      if (x.dtype.isFloat || !FLOAT_DTYPES[ti.type]) {
        if (arch.normShift && isNormWeight(key)) x = mx.subtract(mx.astype(x, mx.float32), arch.normShift);
        x = mx.astype(x, dtype);
      }
      return permute !== null ? permuteRows(x, permute, true) : x;
    });
  }
  const layers = Object.entries(quantized);
  if (layers.length) {
    // MLX's entry: the most common scheme, and per-layer entries for the others.
    const count = new Map<number, number>();
    for (const [, q] of layers) count.set(q.bits, (count.get(q.bits) ?? 0) + 1);
    const bits = [...count].sort((a, b) => b[1] - a[1])[0][0];
    const q: ModelConfig = { group_size: 32, bits };
    for (const [p, s] of layers) if (s.bits !== bits) q[p] = s;
    config.quantization = q;
    config.quantization_config = q;
  }
  if (unknown.length && options.strict !== false)
    throw new Error(`[loadModel] ${path}: ${unknown.length} tensors have no counterpart in lathe's ${config.model_type} model: ${unknown.slice(0, 10).join(', ')}${unknown.length > 10 ? ', ...' : ''} (pass { strict: false } to skip them)`);
  return { file, arch, config, weights, quantized, dtype };
}

/**
 * Loads a GGUF file (or the folder holding one) as a lathe model: llama, mistral, qwen2,
 * qwen3, gemma2 and gemma3 files. Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K and Q5_K matrices stay
 * quantized (MLX's layout, groups of 32); other quantized types are dequantized to `dtype`.
 */
export function loadGgufModel(path: string, options: LoadGgufOptions = {}): LanguageModel {
  const { file, arch, config, weights, quantized } = readGgufModel(path, options);
  const model = getArchitecture(config.model_type as string, path).fromConfig(config, path);
  if (Object.keys(quantized).length) quantize(model, 32, 4, (p) => (quantized[p] ? { groupSize: 32, bits: quantized[p].bits } : false));
  const params = treeFlatten<Array>(model.parameters()).map(([k]) => k);
  const missing = params.filter((k) => !(k in weights));
  if (missing.length) {
    const named = missing.map((k) => `'${ggufName(arch, k) ?? '?'}' (${k})`);
    throw new Error(`[loadModel] ${path}: ${missing.length} tensors the ${config.model_type} model needs are missing: ${named.slice(0, 10).join(', ')}${named.length > 10 ? ', ...' : ''}`);
  }
  const own = new Set(params);
  const extra = Object.keys(weights).filter((k) => !own.has(k));
  if (extra.length && options.strict !== false)
    throw new Error(`[loadModel] ${path}: tensors not in the ${config.model_type} model built from the metadata: ${extra.map((k) => `'${ggufName(arch, k) ?? k}'`).join(', ')}`);
  model.loadWeights(params.map((k) => [k, weights[k]] as const), false);
  model.eval();
  model.config = config;
  model.generationConfig = generationConfigFromGguf(file.metadata);
  return model;
}
