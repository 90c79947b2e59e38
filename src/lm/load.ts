// loadModel(dir): a Hugging Face (or MLX-LM) model folder to a ready LanguageModel:
// config.json picks the architecture, safetensors weights (one file or shards) are sanitized
// and checked against the model's parameters, MLX-quantized checkpoints are quantized first,
// generation_config.json rides along. Synchronous, like lathe/io.
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import * as mx from '../core/index.js';
import type { Array, DTypeLike } from '../core/index.js';
import { quantize, Linear, Embedding, type Module, type QuantizeChoice } from '../nn/index.js';
import { loadSafetensorsDir, type TensorInfo } from '../io/index.js';
import { treeFlatten } from '../utils/index.js';
import type { LanguageModel, ModelConfig, Weights } from './models/base.js';
import { getArchitecture } from './models/registry.js';
import { ggufFileOf, loadGgufModel } from './gguf/load.js';
import { withMemoryContext } from './oom.js';
import { resolveModelPath } from './hub/cache.js';

export interface LoadModelOptions {
  /** Cast the floating-point weights to this dtype (default: as stored). */
  dtype?: DTypeLike;
  /** Require the weights to match the parameters exactly (default true). */
  strict?: boolean;
}

function readJson(path: string, required: boolean): ModelConfig | null {
  if (!existsSync(path)) {
    if (required) throw new Error(`[loadModel] ${path}: not found (a model folder needs config.json beside its weights)`);
    return null;
  }
  let value: unknown;
  try { value = JSON.parse(readFileSync(path, 'utf8')); } catch (e) { throw new Error(`[loadModel] ${path}: not valid JSON: ${(e as Error).message}`); }
  if (typeof value !== 'object' || value === null || globalThis.Array.isArray(value)) throw new Error(`[loadModel] ${path}: expected a JSON object`);
  return value as ModelConfig;
}

/** config.json of a model folder, checked to be an object with a model_type. */
export function loadConfig(dir: string): ModelConfig {
  const path = join(dir, 'config.json');
  const config = readJson(path, true)!;
  if (typeof config.model_type !== 'string') throw new Error(`[loadModel] ${path}: no "model_type" string, so the architecture is unknown`);
  return config;
}

/** generation_config.json of a model folder ({} when there is none). */
export function loadGenerationConfig(dir: string): ModelConfig {
  return readJson(join(dir, 'generation_config.json'), false) ?? {};
}

/** MLX's quantization entry ({ group_size, bits, and per-layer overrides }), or null. */
function quantizationOf(config: ModelConfig, where: string): ModelConfig | null {
  const q = (config.quantization ?? config.quantization_config) as ModelConfig | undefined;
  if (q === undefined || q === null) return null;
  if (typeof q !== 'object') throw new Error(`[loadModel] ${where}: "quantization" must be an object, got ${JSON.stringify(q)}`);
  if (q.quant_method !== undefined && q.group_size === undefined)
    throw new Error(`[loadModel] ${where}: quantization method '${String(q.quant_method)}' is not supported; lathe loads MLX's layout (quantization: { group_size, bits })`);
  if (!Number.isInteger(q.group_size) || !Number.isInteger(q.bits))
    throw new Error(`[loadModel] ${where}: quantization needs integer group_size and bits, got ${JSON.stringify(q)}`);
  return q;
}

const quantizable = (m: Module) => typeof (m as { toQuantized?: unknown }).toQuantized === 'function' || m instanceof Linear || m instanceof Embedding;

/** Quantizes the layers the checkpoint holds quantized (those with `<path>.scales`), as MLX-LM does. */
function quantizeFor(model: LanguageModel, q: ModelConfig, weights: Weights): void {
  quantize(model, q.group_size as number, q.bits as number, (path, m): QuantizeChoice => {
    const own = q[path];
    if (own === false) return false;
    if (typeof own === 'object' && own !== null) {
      const o = own as ModelConfig;
      return { groupSize: o.group_size as number | undefined, bits: o.bits as number | undefined };
    }
    return quantizable(m) && `${path}.scales` in weights;
  });
}

const fmt = (s: readonly number[]) => `(${s.join(', ')})`;

/** Every mismatch between the weights and the model's parameters, with the file of each weight. */
function checkWeights(model: LanguageModel, weights: Weights, info: Record<string, TensorInfo>, dir: string): void {
  const params = new Map(treeFlatten<Array>(model.parameters()));
  const file = (k: string) => (info[k] ? ` in ${basename(info[k].path)}` : '');
  const missing = [...params.keys()].filter((k) => !(k in weights)).sort();
  const extra = Object.keys(weights).filter((k) => !params.has(k)).sort();
  const wrong: string[] = [];
  for (const [k, p] of params) {
    if (!(k in weights)) continue;
    const shape = info[k]?.shape ?? weights[k].shape;
    if (shape.length !== p.shape.length || shape.some((d, i) => d !== p.shape[i])) wrong.push(`${k}: expected shape ${fmt(p.shape)}, got ${fmt(shape)}${file(k)}`);
  }
  if (!missing.length && !extra.length && !wrong.length) return;
  const files = [...new Set(Object.values(info).map((i) => basename(i.path)))].sort();
  const lines = [`[loadModel] ${dir}: the weights in ${files.join(', ')} do not match the ${model.args.model_type} model built from config.json:`];
  const list = (ks: string[], withFile: boolean) => ks.slice(0, 20).map((k) => `${k}${withFile ? file(k) : ''}`).join(', ') + (ks.length > 20 ? `, ... (${ks.length - 20} more)` : '');
  if (missing.length) lines.push(`  ${missing.length} missing: ${list(missing, false)}`);
  if (extra.length) lines.push(`  ${extra.length} not in the model: ${list(extra, true)}`);
  if (wrong.length) lines.push(`  ${wrong.length} with the wrong shape:`, ...wrong.slice(0, 20).map((w) => `    ${w}`));
  lines.push('  (pass { strict: false } to load only the matching weights)');
  throw new Error(lines.join('\n'));
}

function loadWeightsFiles(dir: string): { tensors: Weights; info: Record<string, TensorInfo> } {
  const files = readdirSync(dir);
  if (!files.some((f) => f.endsWith('.safetensors') || f.endsWith('.safetensors.index.json'))) {
    const other = files.filter((f) => /\.(bin|pt|pth|gguf)$/.test(f));
    throw new Error(`[loadModel] ${dir}: no safetensors weights (model.safetensors, or shards with model.safetensors.index.json)`
      + (other.length ? `; found ${other.join(', ')}, which loadModel does not read: convert them to safetensors` : ''));
  }
  const f = loadSafetensorsDir(dir);
  return { tensors: f.tensors, info: f.info };
}

/**
 * Loads the model in `dir` (MLX-LM's load_model), a folder or the id (`org/name`) of a repo
 * in the Hugging Face cache (see `lathe download`): the architecture from config.json's
 * model_type, the weights from its safetensors, quantized first if config.json has MLX's
 * `quantization` entry. Returns the model in eval mode with `config` and `generationConfig`
 * attached. Synchronous (`await loadModel(dir)` works too).
 */
export function loadModel(dir: string, options: LoadModelOptions = {}): LanguageModel {
  const { dtype, strict = true } = options;
  const gguf = ggufFileOf(dir); // a .gguf file, or a folder holding one (no config.json)
  if (gguf) return loadGgufModel(gguf, { dtype, strict });
  dir = resolveModelPath(dir, 'loadModel'); // 'org/name' -> its snapshot in the Hugging Face cache
  let isDir = false;
  try { isDir = statSync(dir).isDirectory(); } catch { /* reported below */ }
  if (!isDir) throw new Error(`[loadModel] ${dir}: not a folder (expected a model folder with config.json and safetensors weights)`);
  const configPath = join(dir, 'config.json');
  const config = loadConfig(dir);
  const model = withMemoryContext('loadModel', () => `building the ${String(config.model_type)} model from ${configPath}`,
    () => getArchitecture(config.model_type as string, configPath).fromConfig(config, configPath));
  const { tensors, info } = loadWeightsFiles(dir);
  // Tensors are read when first touched (by sanitize, most often): name the one that ran out of memory.
  const named: Weights = {};
  for (const k of Object.keys(tensors)) {
    const what = () => `reading '${k}' (${info[k].dtype}, shape (${info[k].shape.join(', ')})) from ${basename(info[k].path)}`;
    Object.defineProperty(named, k, { enumerable: true, configurable: true, get: () => withMemoryContext('loadModel', what, () => tensors[k]) });
  }
  let weights = model.sanitize(named);
  const q = quantizationOf(config, configPath);
  if (q) quantizeFor(model, q, weights);
  if (strict) checkWeights(model, weights, info, dir);
  else {
    const params = new Set(treeFlatten<Array>(model.parameters()).map(([k]) => k));
    weights = Object.fromEntries(Object.keys(weights).filter((k) => params.has(k)).map((k) => [k, weights[k]]));
  }
  model.loadWeights(Object.keys(weights).map((k) => [k, weights[k]] as const), false);
  if (dtype !== undefined) model.setDtype(dtype);
  withMemoryContext('loadModel', () => (dtype !== undefined ? `casting the weights to ${String(dtype)}` : 'evaluating the weights'), () => mx.eval(model.parameters()));
  model.eval();
  model.config = config;
  model.generationConfig = loadGenerationConfig(dir);
  return model;
}
