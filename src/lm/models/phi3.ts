// Phi-3, as MLX-LM's models/phi3.py: one fused qkv_proj and one fused gate_up_proj, partial
// rotary embeddings, and LongRoPE ("su") scaling that switches to the long factors once the
// sequence passes original_max_position_embeddings.
import * as mx from '../../core/index.js';
import type { Array } from '../../core/index.js';
import { Module, Linear, Embedding, RMSNorm, silu } from '../../nn/index.js';
import { KVCache, RotatingKVCache, type CacheOptions } from '../cache.js';
import { initializeRope, type Positions, type Rope } from '../rope.js';
import {
  ConfigReader, LanguageModel, baseArgs, cachedAttention, checkInputs, fromHeads, layerMasks, layerWindows, positionsFor, readLayerTypes, toHeads,
  type BaseModelArgs, type ModelConfig,
} from './base.js';

export interface ModelArgs extends BaseModelArgs {
  intermediate_size: number;
  sliding_window: number | null;
  layer_types: string[];
}

export function parseArgs(config: ModelConfig, where = 'config.json'): ModelArgs {
  const r = new ConfigReader(config, where);
  const base = baseArgs(r, { eps: 1e-5, tie: false });
  const sliding = r.optInt('sliding_window');
  return {
    ...base,
    intermediate_size: r.int('intermediate_size'),
    sliding_window: sliding,
    layer_types: readLayerTypes(r, base.num_hidden_layers, () => sliding !== null),
  };
}

export class Attention extends Module {
  qkv_proj: Linear;
  o_proj: Linear;
  readonly nHeads: number;
  readonly nKvHeads: number;
  readonly headDim: number;
  readonly scale: number;
  readonly rope: Rope;

  constructor(args: ModelArgs, config: ModelConfig, where?: string) {
    super();
    const dim = args.hidden_size, hd = args.head_dim;
    this.nHeads = args.num_attention_heads;
    this.nKvHeads = args.num_key_value_heads;
    this.headDim = hd;
    this.scale = hd ** -0.5;
    this.qkv_proj = new Linear(dim, (this.nHeads + 2 * this.nKvHeads) * hd, false);
    this.o_proj = new Linear(this.nHeads * hd, dim, false);
    this.rope = initializeRope(config, hd, null, where);
  }

  override forward(x: Array, mask: Array | null, positions: Positions, cache?: KVCache): Array {
    const qSize = this.nHeads * this.headDim, kvSize = this.nKvHeads * this.headDim;
    const [qs, ks, vs] = mx.split(this.qkv_proj.forward(x), [qSize, qSize + kvSize], -1);
    const q = this.rope.forward(toHeads(qs, this.nHeads), positions);
    const k = this.rope.forward(toHeads(ks, this.nKvHeads), positions);
    return this.o_proj.forward(fromHeads(cachedAttention(q, k, toHeads(vs, this.nKvHeads), cache, this.scale, mask)));
  }
}

export class MLP extends Module {
  gate_up_proj: Linear;
  down_proj: Linear;

  constructor(dim: number, hidden: number) {
    super();
    this.gate_up_proj = new Linear(dim, 2 * hidden, false);
    this.down_proj = new Linear(hidden, dim, false);
  }

  override forward(x: Array): Array {
    const [gate, up] = mx.split(this.gate_up_proj.forward(x), 2, -1);
    return this.down_proj.forward(mx.multiply(silu(gate), up));
  }
}

export class TransformerBlock extends Module {
  self_attn: Attention;
  mlp: MLP;
  input_layernorm: RMSNorm;
  post_attention_layernorm: RMSNorm;

  constructor(args: ModelArgs, config: ModelConfig, where?: string) {
    super();
    this.self_attn = new Attention(args, config, where);
    this.mlp = new MLP(args.hidden_size, args.intermediate_size);
    this.input_layernorm = new RMSNorm(args.hidden_size, args.rms_norm_eps);
    this.post_attention_layernorm = new RMSNorm(args.hidden_size, args.rms_norm_eps);
  }

  override forward(x: Array, mask: Array | null, positions: Positions, cache?: KVCache): Array {
    const h = mx.add(x, this.self_attn.forward(this.input_layernorm.forward(x), mask, positions, cache));
    return mx.add(h, this.mlp.forward(this.post_attention_layernorm.forward(h)));
  }
}

export class Phi3Model extends Module {
  embed_tokens: Embedding;
  layers: TransformerBlock[];
  norm: RMSNorm;

  constructor(readonly args: ModelArgs, config: ModelConfig, where?: string) {
    super();
    this.embed_tokens = new Embedding(args.vocab_size, args.hidden_size);
    this.layers = globalThis.Array.from({ length: args.num_hidden_layers }, () => new TransformerBlock(args, config, where));
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
  model: Phi3Model;
  declare lm_head?: Linear;

  constructor(readonly args: ModelArgs, config: ModelConfig, where?: string) {
    super();
    this.model = new Phi3Model(args, config, where);
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
  return new Model(parseArgs(config, where), config, where);
}
