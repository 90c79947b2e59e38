// What every architecture file shares (MLX-LM's models/base.py): reading config.json into
// typed arguments, the reference attention (grouped-query, optional soft-capping, quantized
// caches), and the LanguageModel base class with MLX-LM's model interface.
import * as mx from '../../core/index.js';
import type { Array } from '../../core/index.js';
import { Module, Embedding, Linear, RMSNorm } from '../../nn/index.js';
import { KVCache, QuantizedKVCache, RotatingKVCache, createAttentionMask, maskArray, type AttentionMask, type CacheOptions, type QuantizedArrays } from '../cache.js';
import { Positions, ropeSettings } from '../rope.js';
import { StaticKVCache } from '../static-cache.js';
import { scaledDotProductAttention as fastAttention } from '../../fast/attention.js';
import { isKeepingGraph } from '../../core/eval.js';

export type ModelConfig = Record<string, unknown>;
export type Weights = Record<string, Array>;

/** Typed reads of config.json; errors name the file, the key and what was found. */
export class ConfigReader {
  constructor(readonly config: ModelConfig, readonly where = 'config.json') {}

  private fail(key: string, expected: string): never {
    const got = this.config[key];
    throw new Error(`[loadModel] ${this.where}: '${key}' must be ${expected}, got ${got === undefined ? 'nothing (the key is missing)' : JSON.stringify(got)}`);
  }

  private present(key: string): boolean { return this.config[key] !== undefined && this.config[key] !== null; }

  int(key: string, fallback?: number): number {
    if (!this.present(key)) return fallback ?? this.fail(key, 'an integer');
    const v = this.config[key];
    return typeof v === 'number' && Number.isInteger(v) && v >= 0 ? v : this.fail(key, 'a non-negative integer');
  }

  /** An integer, or null when the key is absent or null (a disabled sliding window, say). */
  optInt(key: string): number | null { return this.present(key) ? this.int(key) : null; }

  num(key: string, fallback?: number): number {
    if (!this.present(key)) return fallback ?? this.fail(key, 'a number');
    const v = this.config[key];
    return typeof v === 'number' && Number.isFinite(v) ? v : this.fail(key, 'a finite number');
  }

  optNum(key: string): number | null { return this.present(key) ? this.num(key) : null; }

  bool(key: string, fallback?: boolean): boolean {
    if (!this.present(key)) return fallback ?? this.fail(key, 'true or false');
    const v = this.config[key];
    return typeof v === 'boolean' ? v : this.fail(key, 'true or false');
  }

  str(key: string, fallback?: string): string {
    if (!this.present(key)) return fallback ?? this.fail(key, 'a string');
    const v = this.config[key];
    return typeof v === 'string' ? v : this.fail(key, 'a string');
  }

  intList(key: string, fallback: number[]): number[] {
    if (!this.present(key)) return fallback;
    const v = this.config[key];
    return globalThis.Array.isArray(v) && v.every((x) => Number.isInteger(x)) ? (v as number[]) : this.fail(key, 'a list of integers');
  }

  strList(key: string): string[] | null {
    if (!this.present(key)) return null;
    const v = this.config[key];
    return globalThis.Array.isArray(v) && v.every((x) => typeof x === 'string') ? (v as string[]) : this.fail(key, 'a list of strings');
  }

  /** The per-head size: head_dim when set, else hidden_size / num_attention_heads. */
  headDim(): number {
    const hidden = this.int('hidden_size'), heads = this.int('num_attention_heads');
    if (this.present('head_dim')) return this.int('head_dim');
    if (hidden % heads !== 0) this.fail('hidden_size', `divisible by num_attention_heads (${heads}) when head_dim is not given`);
    return hidden / heads;
  }
}

/**
 * 'sliding_attention' or 'full_attention' per layer: config.json's layer_types when present
 * (transformers 5 writes it), else what the architecture's older configs imply (`sliding(i)`).
 */
export function readLayerTypes(r: ConfigReader, numLayers: number, sliding: (i: number) => boolean): string[] {
  const types = r.strList('layer_types') ?? globalThis.Array.from({ length: numLayers }, (_, i) => (sliding(i) ? 'sliding_attention' : 'full_attention'));
  if (types.length !== numLayers) throw new Error(`[loadModel] ${r.where}: layer_types has ${types.length} entries for ${numLayers} layers`);
  const bad = types.find((t) => t !== 'sliding_attention' && t !== 'full_attention');
  if (bad !== undefined) throw new Error(`[loadModel] ${r.where}: layer_types entries must be 'sliding_attention' or 'full_attention', got '${bad}'`);
  return types;
}

/** The window of each layer: sliding_window for sliding layers, null for full attention. */
export function layerWindows(types: readonly string[], slidingWindow: number | null): (number | null)[] {
  return types.map((t) => (t === 'sliding_attention' ? slidingWindow : null));
}

/** The fields every architecture's arguments carry. */
export interface BaseModelArgs {
  model_type: string;
  hidden_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  num_key_value_heads: number;
  head_dim: number;
  vocab_size: number;
  rms_norm_eps: number;
  tie_word_embeddings: boolean;
  max_position_embeddings: number;
}

/** The fields of BaseModelArgs read from a config (defaults as transformers'). */
export function baseArgs(r: ConfigReader, defaults: { tie?: boolean; eps?: number } = {}): BaseModelArgs {
  const heads = r.int('num_attention_heads');
  const args: BaseModelArgs = {
    model_type: r.str('model_type'),
    hidden_size: r.int('hidden_size'),
    num_hidden_layers: r.int('num_hidden_layers'),
    num_attention_heads: heads,
    num_key_value_heads: r.int('num_key_value_heads', heads),
    head_dim: r.headDim(),
    vocab_size: r.int('vocab_size'),
    rms_norm_eps: r.num('rms_norm_eps', defaults.eps ?? 1e-6),
    tie_word_embeddings: r.bool('tie_word_embeddings', defaults.tie ?? false),
    max_position_embeddings: r.int('max_position_embeddings', 2048),
  };
  if (heads % args.num_key_value_heads !== 0)
    throw new Error(`[loadModel] ${r.where}: num_attention_heads (${heads}) must be a multiple of num_key_value_heads (${args.num_key_value_heads})`);
  ropeSettings(r.config, null, r.where); // rope errors name the file here, before any layer is built
  return args;
}

/** Hides masked scores with the dtype's lowest value (a fully masked row averages instead of giving NaN). */
function applyMask(scores: Array, attentionMask: AttentionMask): Array {
  const mask = maskArray(attentionMask, scores.shape[scores.ndim - 2], scores.shape[scores.ndim - 1]);
  if (!mask) return scores;
  if (mask.dtype.name === 'bool') return mx.where(mask, scores, mx.array(-mx.finfoMax(scores.dtype), scores.dtype));
  return mx.add(scores, mx.astype(mask, scores.dtype));
}

/** tanh(scores / cap) * cap: Gemma 2's attention logit soft-capping. */
export function softcap(x: Array, cap: number | null): Array {
  return cap === null ? x : mx.multiply(mx.tanh(mx.divide(x, cap)), cap);
}

/**
 * softmax(q kᵀ · scale [soft-capped] + mask) v for q (B, Hq, L, D), k and v (B, Hk, S, D),
 * grouped-query without repeating keys: fast.scaledDotProductAttention (flash attention where
 * the backend has the kernel; the work in float32).
 */
export function scaledDotProductAttention(q: Array, k: Array, v: Array, scale: number, mask: AttentionMask, cap: number | null = null): Array {
  return fastAttention(q, k, v, { scale, mask, softcap: cap });
}

/** The same attention over keys and values stored quantized (MLX-LM's quantized_scaled_dot_product_attention). */
export function quantizedScaledDotProductAttention(q: Array, qk: QuantizedArrays, qv: QuantizedArrays, scale: number, mask: AttentionMask,
  groupSize: number, bits: number, cap: number | null = null): Array {
  const [B, Hq, L, D] = q.shape, Hk = qk[0].shape[1], S = qk[0].shape[2];
  const rep = Hq / Hk;
  // Query heads grouped per key head: (B, Hk, rep, L, D) against keys (B, Hk, 1, S, ...).
  const grouped = (t: QuantizedArrays) => t.map((a) => mx.expandDims(a, 2)) as QuantizedArrays;
  const qg = rep > 1 ? mx.reshape(q, [B, Hk, rep, L, D]) : q;
  const [kq, vq] = rep > 1 ? [grouped(qk), grouped(qv)] : [qk, qv];
  let scores = mx.multiply(mx.quantizedMatmul(qg, kq[0], kq[1], kq[2], true, groupSize, bits), scale);
  if (rep > 1) scores = mx.reshape(scores, [B, Hq, L, S]);
  scores = applyMask(softcap(scores, cap), mask);
  let probs = mx.softmax(scores, -1, true);
  if (rep > 1) probs = mx.reshape(probs, [B, Hk, rep, L, S]);
  const out = mx.quantizedMatmul(probs, vq[0], vq[1], vq[2], false, groupSize, bits);
  return rep > 1 ? mx.reshape(out, [B, Hq, L, -1]) : out;
}

/**
 * Attention of q over the new keys and values appended to `cache` (if any): what every
 * architecture's attention layer calls once it has projected, normed and rotated q, k, v.
 */
export function cachedAttention(q: Array, k: Array, v: Array, cache: KVCache | undefined, scale: number, mask: AttentionMask, cap: number | null = null): Array {
  if (cache instanceof QuantizedKVCache) {
    const [qk, qv] = cache.updateAndFetchQuantized(k, v);
    return quantizedScaledDotProductAttention(q, qk, qv, scale, mask, cache.groupSize, cache.bits, cap);
  }
  if (cache) [k, v] = cache.updateAndFetch(k, v);
  return scaledDotProductAttention(q, k, v, scale, mask, cap);
}

/** (B, L, heads · D) to (B, heads, L, D), and back. */
export const toHeads = (x: Array, heads: number): Array => mx.transpose(mx.unflatten(x, -1, [heads, -1]), [0, 2, 1, 3]);
export const fromHeads = (x: Array): Array => mx.flatten(mx.transpose(x, [0, 2, 1, 3]), -2, -1);

/** Checks the token ids (int [B, L]) and the cache (one entry per layer); returns [B, L]. */
export function checkInputs(model: string, inputs: Array, cache: readonly KVCache[] | undefined, numLayers: number): [number, number] {
  if (inputs.ndim !== 2 || !inputs.dtype.isInteger)
    throw new Error(`[${model}.forward] expected integer token ids of shape [B, L], got ${inputs.dtype.name} of shape (${inputs.shape.join(',')})`);
  if (cache && cache.length !== numLayers)
    throw new Error(`[${model}.forward] expected a cache with one entry per layer (${numLayers}), got ${cache.length}: make it with model.makeCache()`);
  return [inputs.shape[0], inputs.shape[1]];
}

/** Where this call's tokens sit, from the first cache (all layers share offset and padding). */
export function positionsFor(cache: readonly KVCache[] | undefined, L: number): Positions {
  const c = cache?.[0];
  if (c instanceof StaticKVCache) return c.positions(L); // maybe a device array (compiled steps)
  return new Positions(c?.offset ?? 0, L, c?.leftPadding ?? null);
}

/**
 * The mask of each layer, given the window each attends to (null: full attention). Layers with
 * the same window and the same kind of cache share one mask.
 */
export function layerMasks(L: number, cache: readonly KVCache[] | undefined, windows: readonly (number | null)[]): AttentionMask[] {
  const memo = new Map<string, AttentionMask>();
  return windows.map((w, i) => {
    const key = `${w}:${cache?.[i]?.constructor.name ?? ''}`;
    if (!memo.has(key)) memo.set(key, createAttentionMask(L, cache?.[i], w));
    return memo.get(key)!;
  });
}

/** x · scale, the scale rounded to x's dtype first (as Gemma's embedding normalizer). */
export const scaleAs = (x: Array, scale: number): Array => mx.multiply(x, mx.array(scale, x.dtype));

/**
 * The interface of every architecture's Model (MLX-LM's): token ids in, logits out, with an
 * optional cache; `layers` for code that walks the blocks; `sanitize` to adapt a checkpoint's
 * weights (tied heads, stacked experts) before loading; `makeCache` for the right cache per layer.
 */
export abstract class LanguageModel extends Module {
  abstract readonly args: BaseModelArgs;
  /** config.json as read (set by loadModel). */
  config: ModelConfig = {};
  /** generation_config.json as read, or {} (set by loadModel). */
  generationConfig: ModelConfig = {};
  /** The decoder blocks, one cache entry each. */
  abstract get layers(): Module[];
  /** Token ids (int, [B, L]) to logits [B, L, vocab_size]. The cache, if given, is updated in place. */
  abstract override forward(inputs: Array, cache?: KVCache[]): Array;

  /** One KVCache per layer (architectures with sliding windows return rotating caches for those layers). */
  makeCache(options: CacheOptions = {}): KVCache[] {
    return this.layers.map(() => new KVCache(options));
  }

  /** Drops what transformers saves but the model does not hold: rotary buffers, and the head of tied models. */
  sanitize(weights: Weights): Weights {
    const out: Weights = {};
    for (const k of Object.keys(weights)) { // keys only: a lazy record reads a tensor when its value is taken
      if (k.includes('rotary_emb.inv_freq')) continue;
      if (this.args.tie_word_embeddings && k.startsWith('lm_head.')) continue;
      out[k] = weights[k];
    }
    return out;
  }
}

/** The arguments the generic decoder reads beyond BaseModelArgs: which layers slide, and how far. */
export interface DecoderArgs extends BaseModelArgs {
  sliding_window: number | null;
  layer_types: string[];
}

/** One decoder block: hidden states in and out, given its mask, the positions and its cache entry. */
export interface DecoderBlock extends Module {
  forward(x: Array, mask: AttentionMask, positions: Positions, cache?: KVCache): Array;
}

/** An attention layer as the blocks call it: normed hidden states in, attended states out. */
export interface AttentionLayer extends Module {
  forward(x: Array, mask: AttentionMask, positions: Positions, cache?: KVCache): Array;
}

/** A feed-forward layer (dense MLP or mixture of experts). */
export interface FeedForward extends Module {
  forward(x: Array): Array;
}

/**
 * Llama's pre-norm block, which most architectures share: h = x + self_attn(norm(x)), then
 * h + mlp(norm(h)); attribute names are the checkpoint keys. An architecture file subclasses
 * it with its own attention and MLP.
 */
export class PreNormBlock<A extends AttentionLayer = AttentionLayer, M extends FeedForward = FeedForward> extends Module implements DecoderBlock {
  self_attn: A;
  mlp: M;
  input_layernorm: RMSNorm;
  post_attention_layernorm: RMSNorm;

  constructor(selfAttn: A, mlp: M, dims: number, eps: number) {
    super();
    this.self_attn = selfAttn;
    this.mlp = mlp;
    this.input_layernorm = new RMSNorm(dims, eps);
    this.post_attention_layernorm = new RMSNorm(dims, eps);
  }

  override forward(x: Array, mask: AttentionMask, positions: Positions, cache?: KVCache): Array {
    const h = mx.add(x, this.self_attn.forward(this.input_layernorm.forward(x), mask, positions, cache));
    return mx.add(h, this.mlp.forward(this.post_attention_layernorm.forward(h)));
  }
}

/** A norm over the last axis (RMSNorm, GemmaRMSNorm). */
export interface NormLayer extends Module {
  forward(x: Array): Array;
}

export interface DecoderOptions {
  /** The final norm (default RMSNorm). */
  norm?: (dim: number, eps: number) => NormLayer;
  /** Multiplies the embeddings by this (rounded to their dtype), as Gemma's sqrt(hidden_size). */
  embedScale?: number | null;
}

/**
 * The decoder body every architecture shares (MLX-LM's `XModel`): embed_tokens, the blocks
 * `layers` (made by `makeBlock(i)`), and the final norm; attribute names are the checkpoint keys.
 */
export class DecoderModel<B extends DecoderBlock = DecoderBlock> extends Module {
  embed_tokens: Embedding;
  layers: B[];
  norm: NormLayer;
  readonly embedScale: number | null;

  constructor(readonly args: DecoderArgs, makeBlock: (i: number) => B, options: DecoderOptions = {}) {
    super();
    this.embed_tokens = new Embedding(args.vocab_size, args.hidden_size);
    this.layers = globalThis.Array.from({ length: args.num_hidden_layers }, (_, i) => makeBlock(i));
    this.norm = options.norm ? options.norm(args.hidden_size, args.rms_norm_eps) : new RMSNorm(args.hidden_size, args.rms_norm_eps);
    this.embedScale = options.embedScale ?? null;
  }

  /** The window of each layer (null: full attention). */
  get windows(): (number | null)[] { return layerWindows(this.args.layer_types, this.args.sliding_window); }

  override forward(inputs: Array, cache?: KVCache[]): Array {
    const [, L] = checkInputs('Model', inputs, cache, this.layers.length);
    const positions = positionsFor(cache, L);
    const masks = layerMasks(L, cache, this.windows);
    let h = this.embed_tokens.forward(inputs);
    if (this.embedScale !== null) h = scaleAs(h, this.embedScale);
    // On the GPU the layers are sent off four at a time as they are built, so the device runs
    // them while JS builds the next ones (building a 2048-token prefill's graph takes
    // milliseconds of host time the device would otherwise wait through). Their cache entries
    // are evaluated with them (an evaluation frees the intermediates it does not return), and
    // the masks every layer shares first. Not inside transforms, whose traces need the graph
    // whole; evaluation queues kernels without waiting for them.
    const pipeline = h.device.type === 'gpu' && !isKeepingGraph();
    if (pipeline) mx.eval(masks.filter((m): m is Array => m instanceof mx.Array));
    let sent = h;
    this.layers.forEach((layer, i) => {
      h = layer.forward(h, masks[i], positions, cache?.[i]);
      if (!pipeline || (i + 1) % PIPELINE_LAYERS !== 0 || i === this.layers.length - 1) return;
      mx.eval(h, cache?.slice(i + 1 - PIPELINE_LAYERS, i + 1).flatMap((c) => c.state) ?? []);
      if (sent !== h) sent.dispose(); // evaluated, and read by nothing else now: its memory goes back at once, not at the next GC
      sent = h;
    });
    return this.norm.forward(h);
  }
}

/** Layers a GPU forward builds before sending them off (DecoderModel.forward). */
const PIPELINE_LAYERS = 4;

/**
 * A decoder body with its head (MLX-LM's `Model`): `model`, and `lm_head` unless the embeddings
 * are tied; rotating caches for the sliding-window layers.
 */
export class DecoderLM<B extends DecoderBlock = DecoderBlock> extends LanguageModel {
  model: DecoderModel<B>;
  declare lm_head?: Linear;

  constructor(readonly args: DecoderArgs, model: DecoderModel<B>) {
    super();
    this.model = model;
    if (!args.tie_word_embeddings) this.lm_head = new Linear(args.hidden_size, args.vocab_size, false);
  }

  override forward(inputs: Array, cache?: KVCache[]): Array {
    const h = this.model.forward(inputs, cache);
    return this.lm_head ? this.lm_head.forward(h) : this.model.embed_tokens.asLinear(h);
  }

  override get layers(): B[] { return this.model.layers; }

  override makeCache(options: CacheOptions = {}): KVCache[] {
    return this.model.windows.map((w) => (w === null ? new KVCache(options) : new RotatingKVCache(w, 0, options)));
  }
}
