// convert(modelDir, outDir): a model folder rewritten with its weights cast to a dtype and/or
// quantized in MLX's layout (MLX-LM's convert): quantized layers keep `weight` (packed
// uint32), `scales` and `biases`, and config.json gets a `quantization` entry, so lathe's
// loadModel and MLX-LM both load the result. Files other than weights are copied.
import { copyFileSync, existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as mx from '../core/index.js';
import type { Array, DType } from '../core/index.js';
import { Embedding, Linear, quantize, type Module } from '../nn/index.js';
import { saveSafetensors } from '../io/index.js';
import { treeFlatten } from '../utils/index.js';
import { loadConfig, loadModel } from './load.js';
import { ggufFileOf, loadGgufModel } from './gguf/load.js';
import { writeGgufSideFiles } from './gguf/files.js';

export interface ConvertOptions {
  quantize?: boolean;
  /** Bits per quantized weight. Default 4. */
  qBits?: number;
  /** Weights per scale and bias. Default 64. */
  qGroupSize?: number;
  /** Cast floating-point weights to this dtype first ('bf16', 'float16', ...). */
  dtype?: string;
  /** Largest shard in bytes (default 5 GB, as MLX-LM). */
  maxShardBytes?: number;
  /** Progress lines. */
  log?: (line: string) => void;
}

const DTYPES: Record<string, DType> = {
  float16: mx.float16, fp16: mx.float16, f16: mx.float16, half: mx.float16,
  bfloat16: mx.bfloat16, bf16: mx.bfloat16,
  float32: mx.float32, fp32: mx.float32, f32: mx.float32, float: mx.float32,
};
const TORCH_NAMES = new Map<DType, string>([[mx.float16, 'float16'], [mx.bfloat16, 'bfloat16'], [mx.float32, 'float32']]);

function weightFile(name: string): boolean {
  return name.endsWith('.safetensors') || name === 'model.safetensors.index.json' || /\.(bin|pt|pth|gguf)$/.test(name);
}

/** Writes `weights` as one model.safetensors, or shards with an index when they exceed maxShardBytes. */
function saveShards(out: string, weights: [string, Array][], maxShardBytes: number, metadata: Record<string, string>): string[] {
  const shards: [string, Array][][] = [[]];
  let size = 0;
  for (const entry of weights) {
    if (size > 0 && size + entry[1].nbytes > maxShardBytes) { shards.push([]); size = 0; }
    shards[shards.length - 1].push(entry);
    size += entry[1].nbytes;
  }
  if (shards.length === 1) {
    saveSafetensors(join(out, 'model.safetensors'), Object.fromEntries(shards[0]), metadata);
    return ['model.safetensors'];
  }
  const names = shards.map((_, i) => `model-${String(i + 1).padStart(5, '0')}-of-${String(shards.length).padStart(5, '0')}.safetensors`);
  const weightMap: Record<string, string> = {};
  shards.forEach((s, i) => {
    saveSafetensors(join(out, names[i]), Object.fromEntries(s), metadata);
    for (const [k] of s) weightMap[k] = names[i];
  });
  const total = weights.reduce((n, [, a]) => n + a.nbytes, 0);
  writeFileSync(join(out, 'model.safetensors.index.json'), JSON.stringify({ metadata: { total_size: total }, weight_map: weightMap }, null, 2) + '\n');
  return names;
}

/** Converts the model folder `modelDir` into `outDir` (created; must be empty if it exists). */
export function convert(modelDir: string, outDir: string, options: ConvertOptions = {}): void {
  const { quantize: q = false, qBits = 4, qGroupSize = 64, maxShardBytes = 5 * 2 ** 30, log = () => {} } = options;
  let dtype: DType | undefined;
  if (options.dtype !== undefined) {
    dtype = DTYPES[options.dtype.toLowerCase()];
    if (!dtype) throw new Error(`[convert] unknown dtype '${options.dtype}' (use one of ${Object.keys(DTYPES).join(', ')})`);
  }
  if (q && ![2, 3, 4, 6, 8].includes(qBits)) throw new Error(`[convert] qBits must be 2, 3, 4, 6 or 8, got ${qBits}`);
  if (q && ![32, 64, 128].includes(qGroupSize)) throw new Error(`[convert] qGroupSize must be 32, 64 or 128, got ${qGroupSize}`);
  if (existsSync(outDir) && (!statSync(outDir).isDirectory() || readdirSync(outDir).length > 0))
    throw new Error(`[convert] ${outDir} exists and is not an empty folder; choose a new output folder`);

  const gguf = ggufFileOf(modelDir); // a llama.cpp file: its metadata gives config.json and the tokenizer
  log(`[convert] loading ${gguf ?? modelDir}`);
  const model = gguf ? loadGgufModel(gguf, { dtype, dequantize: q }) : loadModel(modelDir);
  const config = gguf ? model.config : loadConfig(modelDir);
  if (q && (config.quantization || config.quantization_config)) throw new Error(`[convert] ${join(modelDir, 'config.json')}: the model is already quantized`);
  if (dtype && !gguf) {
    log(`[convert] casting to ${dtype.name}`);
    model.setDtype(dtype);
  }
  const newConfig: Record<string, unknown> = { ...config };
  if (dtype) newConfig.torch_dtype = TORCH_NAMES.get(dtype);
  if (q) {
    log(`[convert] quantizing to ${qBits} bits, groups of ${qGroupSize}`);
    // As MLX-LM: every Linear and Embedding whose rows split into whole groups.
    let skipped = 0;
    quantize(model, qGroupSize, qBits, (_path: string, m: Module) => {
      if (!(m instanceof Linear || m instanceof Embedding)) return false;
      const fits = m.weight.shape[m.weight.ndim - 1] % qGroupSize === 0;
      if (!fits) skipped++;
      return fits;
    });
    if (skipped) log(`[convert] ${skipped} layers kept unquantized (their input size is not a multiple of ${qGroupSize})`);
    newConfig.quantization = { group_size: qGroupSize, bits: qBits };
    newConfig.quantization_config = { group_size: qGroupSize, bits: qBits };
  }
  mkdirSync(outDir, { recursive: true });
  const weights = treeFlatten<Array>(model.parameters());
  log(`[convert] writing ${weights.length} tensors`);
  const files = saveShards(outDir, weights, maxShardBytes, { format: 'mlx' });
  writeFileSync(join(outDir, 'config.json'), JSON.stringify(newConfig, null, 2) + '\n');
  if (gguf) files.push(...writeGgufSideFiles(gguf, outDir));
  else for (const name of readdirSync(modelDir)) {
    const src = join(modelDir, name);
    if (name === 'config.json' || weightFile(name) || !statSync(src).isFile()) continue;
    copyFileSync(src, join(outDir, name));
  }
  const bytes = weights.reduce((n, [, a]) => n + a.nbytes, 0);
  log(`[convert] wrote ${outDir} (${files.join(', ')}; ${(bytes / 2 ** 20).toFixed(1)} MB of weights)`);
}
