// Gemma 3 (text), as MLX-LM's models/gemma3_text.py: Gemma 2's block (four norms, GELU MLP,
// scaled embeddings, (1 + weight) RMSNorm) with RMSNorm on each query and key head, sliding
// windows on most layers (every sliding_window_pattern-th layer is global), and a separate
// rope schedule for the sliding layers (local base, usually unscaled).
import * as mx from '../../core/index.js';
import type { Array } from '../../core/index.js';
import { Module, Linear, Embedding } from '../../nn/index.js';
import { KVCache, RotatingKVCache, type CacheOptions } from '../cache.js';
import { initializeRope, type Positions, type Rope } from '../rope.js';
import {
  LanguageModel, cachedAttention, checkInputs, fromHeads, layerMasks, layerWindows, positionsFor, scaleAs, softcap, toHeads,
  type ModelConfig,
} from './base.js';
import { GemmaRMSNorm, MLP, parseGemmaArgs, type ModelArgs } from './gemma2.js';

export type { ModelArgs } from './gemma2.js';

export function parseArgs(config: ModelConfig, where = 'config.json'): ModelArgs {
  const pattern = Number(config.sliding_window_pattern ?? config._sliding_window_pattern ?? 6);
  return parseGemmaArgs(config, where, (i) => (i + 1) % pattern !== 0);
}

export class Attention extends Module {
  q_proj: Linear;
  k_proj: Linear;
  v_proj: Linear;
  o_proj: Linear;
  q_norm: GemmaRMSNorm;
  k_norm: GemmaRMSNorm;
  readonly nHeads: number;
  readonly nKvHeads: number;
  readonly scale: number;
  readonly softcap: number | null;
  readonly rope: Rope;

  constructor(args: ModelArgs, config: ModelConfig, layerType: string, where?: string) {
    super();
    const dim = args.hidden_size, hd = args.head_dim;
    this.nHeads = args.num_attention_heads;
    this.nKvHeads = args.num_key_value_heads;
    this.scale = args.query_pre_attn_scalar ** -0.5;
    this.softcap = args.attn_logit_softcapping;
    this.q_proj = new Linear(dim, this.nHeads * hd, args.attention_bias);
    this.k_proj = new Linear(dim, this.nKvHeads * hd, args.attention_bias);
    this.v_proj = new Linear(dim, this.nKvHeads * hd, args.attention_bias);
    this.o_proj = new Linear(this.nHeads * hd, dim, args.attention_bias);
    this.q_norm = new GemmaRMSNorm(hd, args.rms_norm_eps);
    this.k_norm = new GemmaRMSNorm(hd, args.rms_norm_eps);
    this.rope = initializeRope(config, hd, layerType, where);
  }

  override forward(x: Array, mask: Array | null, positions: Positions, cache?: KVCache): Array {
    const q = this.rope.forward(this.q_norm.forward(toHeads(this.q_proj.forward(x), this.nHeads)), positions);
    const k = this.rope.forward(this.k_norm.forward(toHeads(this.k_proj.forward(x), this.nKvHeads)), positions);
    const v = toHeads(this.v_proj.forward(x), this.nKvHeads);
    return this.o_proj.forward(fromHeads(cachedAttention(q, k, v, cache, this.scale, mask, this.softcap)));
  }
}

export class TransformerBlock extends Module {
  self_attn: Attention;
  mlp: MLP;
  input_layernorm: GemmaRMSNorm;
  post_attention_layernorm: GemmaRMSNorm;
  pre_feedforward_layernorm: GemmaRMSNorm;
  post_feedforward_layernorm: GemmaRMSNorm;

  constructor(args: ModelArgs, config: ModelConfig, layerType: string, where?: string) {
    super();
    const d = args.hidden_size, eps = args.rms_norm_eps;
    this.self_attn = new Attention(args, config, layerType, where);
    this.mlp = new MLP(d, args.intermediate_size, args.hidden_activation);
    this.input_layernorm = new GemmaRMSNorm(d, eps);
    this.post_attention_layernorm = new GemmaRMSNorm(d, eps);
    this.pre_feedforward_layernorm = new GemmaRMSNorm(d, eps);
    this.post_feedforward_layernorm = new GemmaRMSNorm(d, eps);
  }

  override forward(x: Array, mask: Array | null, positions: Positions, cache?: KVCache): Array {
    const r = this.self_attn.forward(this.input_layernorm.forward(x), mask, positions, cache);
    const h = mx.add(x, this.post_attention_layernorm.forward(r));
    const m = this.mlp.forward(this.pre_feedforward_layernorm.forward(h));
    return mx.add(h, this.post_feedforward_layernorm.forward(m));
  }
}

export class Gemma3Model extends Module {
  embed_tokens: Embedding;
  layers: TransformerBlock[];
  norm: GemmaRMSNorm;

  constructor(readonly args: ModelArgs, config: ModelConfig, where?: string) {
    super();
    this.embed_tokens = new Embedding(args.vocab_size, args.hidden_size);
    this.layers = args.layer_types.map((t) => new TransformerBlock(args, config, t, where));
    this.norm = new GemmaRMSNorm(args.hidden_size, args.rms_norm_eps);
  }

  get windows(): (number | null)[] { return layerWindows(this.args.layer_types, this.args.sliding_window); }

  override forward(inputs: Array, cache?: KVCache[]): Array {
    const [, L] = checkInputs('Model', inputs, cache, this.layers.length);
    const positions = positionsFor(cache, L);
    const masks = layerMasks(L, cache, this.windows);
    let h = scaleAs(this.embed_tokens.forward(inputs), Math.sqrt(this.args.hidden_size));
    this.layers.forEach((layer, i) => { h = layer.forward(h, masks[i], positions, cache?.[i]); });
    return this.norm.forward(h);
  }
}

export class Model extends LanguageModel {
  model: Gemma3Model;
  declare lm_head?: Linear;

  constructor(readonly args: ModelArgs, config: ModelConfig, where?: string) {
    super();
    this.model = new Gemma3Model(args, config, where);
    if (!args.tie_word_embeddings) this.lm_head = new Linear(args.hidden_size, args.vocab_size, false);
  }

  override forward(inputs: Array, cache?: KVCache[]): Array {
    const h = this.model.forward(inputs, cache);
    return softcap(this.lm_head ? this.lm_head.forward(h) : this.model.embed_tokens.asLinear(h), this.args.final_logit_softcapping);
  }

  override get layers(): TransformerBlock[] { return this.model.layers; }

  override makeCache(options: CacheOptions = {}): KVCache[] {
    return this.model.windows.map((w) => (w === null ? new KVCache(options) : new RotatingKVCache(w, 0, options)));
  }
}

export function fromConfig(config: ModelConfig, where?: string): Model {
  return new Model(parseArgs(config, where), config, where);
}
