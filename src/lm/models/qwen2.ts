// Qwen2 (and Qwen2.5), as MLX-LM's models/qwen2.py: Llama's layout with biases on the q, k and
// v projections, and sliding windows on the layers past max_window_layers when enabled.
import * as mx from '../../core/index.js';
import type { Array } from '../../core/index.js';
import { Module, Linear, Embedding, RMSNorm } from '../../nn/index.js';
import { KVCache, RotatingKVCache, type CacheOptions } from '../cache.js';
import { initializeRope, type Positions, type Rope } from '../rope.js';
import {
  ConfigReader, LanguageModel, baseArgs, cachedAttention, checkInputs, fromHeads, layerMasks, layerWindows, positionsFor, readLayerTypes, toHeads,
  type BaseModelArgs, type ModelConfig,
} from './base.js';
import { MLP } from './llama.js';

export interface ModelArgs extends BaseModelArgs {
  intermediate_size: number;
  sliding_window: number | null;
  layer_types: string[];
}

export function parseArgs(config: ModelConfig, where = 'config.json'): ModelArgs {
  const r = new ConfigReader(config, where);
  const base = baseArgs(r, { eps: 1e-6, tie: false });
  const useSliding = r.bool('use_sliding_window', false);
  const sliding = useSliding ? r.optInt('sliding_window') : null;
  const maxWindowLayers = r.int('max_window_layers', base.num_hidden_layers);
  return {
    ...base,
    intermediate_size: r.int('intermediate_size'),
    sliding_window: r.optInt('sliding_window'),
    layer_types: readLayerTypes(r, base.num_hidden_layers, (i) => sliding !== null && i >= maxWindowLayers),
  };
}

export class Attention extends Module {
  q_proj: Linear;
  k_proj: Linear;
  v_proj: Linear;
  o_proj: Linear;
  readonly nHeads: number;
  readonly nKvHeads: number;
  readonly scale: number;
  readonly rope: Rope;

  constructor(args: ModelArgs, config: ModelConfig) {
    super();
    const dim = args.hidden_size, hd = args.head_dim;
    this.nHeads = args.num_attention_heads;
    this.nKvHeads = args.num_key_value_heads;
    this.scale = hd ** -0.5;
    this.q_proj = new Linear(dim, this.nHeads * hd, true);
    this.k_proj = new Linear(dim, this.nKvHeads * hd, true);
    this.v_proj = new Linear(dim, this.nKvHeads * hd, true);
    this.o_proj = new Linear(this.nHeads * hd, dim, false);
    this.rope = initializeRope(config, hd);
  }

  override forward(x: Array, mask: Array | null, positions: Positions, cache?: KVCache): Array {
    const q = this.rope.forward(toHeads(this.q_proj.forward(x), this.nHeads), positions);
    const k = this.rope.forward(toHeads(this.k_proj.forward(x), this.nKvHeads), positions);
    const v = toHeads(this.v_proj.forward(x), this.nKvHeads);
    return this.o_proj.forward(fromHeads(cachedAttention(q, k, v, cache, this.scale, mask)));
  }
}

export class TransformerBlock extends Module {
  self_attn: Attention;
  mlp: MLP;
  input_layernorm: RMSNorm;
  post_attention_layernorm: RMSNorm;

  constructor(args: ModelArgs, config: ModelConfig) {
    super();
    this.self_attn = new Attention(args, config);
    this.mlp = new MLP(args.hidden_size, args.intermediate_size);
    this.input_layernorm = new RMSNorm(args.hidden_size, args.rms_norm_eps);
    this.post_attention_layernorm = new RMSNorm(args.hidden_size, args.rms_norm_eps);
  }

  override forward(x: Array, mask: Array | null, positions: Positions, cache?: KVCache): Array {
    const h = mx.add(x, this.self_attn.forward(this.input_layernorm.forward(x), mask, positions, cache));
    return mx.add(h, this.mlp.forward(this.post_attention_layernorm.forward(h)));
  }
}

export class Qwen2Model extends Module {
  embed_tokens: Embedding;
  layers: TransformerBlock[];
  norm: RMSNorm;

  constructor(readonly args: ModelArgs, config: ModelConfig) {
    super();
    this.embed_tokens = new Embedding(args.vocab_size, args.hidden_size);
    this.layers = globalThis.Array.from({ length: args.num_hidden_layers }, () => new TransformerBlock(args, config));
    this.norm = new RMSNorm(args.hidden_size, args.rms_norm_eps);
  }

  get windows(): (number | null)[] { return layerWindows(this.args.layer_types, this.args.sliding_window); }

  override forward(inputs: Array, cache?: KVCache[]): Array {
    const [, L] = checkInputs('Model', inputs, cache, this.layers.length);
    const positions = positionsFor(cache, L);
    const masks = layerMasks(L, cache, this.windows);
    let h = this.embed_tokens.forward(inputs);
    this.layers.forEach((layer, i) => { h = layer.forward(h, masks[i], positions, cache?.[i]); });
    return this.norm.forward(h);
  }
}

export class Model extends LanguageModel {
  model: Qwen2Model;
  declare lm_head?: Linear;

  constructor(readonly args: ModelArgs, config: ModelConfig) {
    super();
    this.model = new Qwen2Model(args, config);
    if (!args.tie_word_embeddings) this.lm_head = new Linear(args.hidden_size, args.vocab_size, false);
  }

  override forward(inputs: Array, cache?: KVCache[]): Array {
    const h = this.model.forward(inputs, cache);
    return this.lm_head ? this.lm_head.forward(h) : this.model.embed_tokens.asLinear(h);
  }

  override get layers(): TransformerBlock[] { return this.model.layers; }

  override makeCache(options: CacheOptions = {}): KVCache[] {
    return this.model.windows.map((w) => (w === null ? new KVCache(options) : new RotatingKVCache(w, 0, options)));
  }
}

export function fromConfig(config: ModelConfig, where?: string): Model {
  return new Model(parseArgs(config, where), config);
}
