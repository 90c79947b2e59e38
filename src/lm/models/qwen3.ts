// Qwen3, as MLX-LM's models/qwen3.py: Llama's layout with RMSNorm on each query and key head
// (q_norm, k_norm) before the rotary embedding, and head_dim set apart from hidden_size.
import type { Array } from '../../core/index.js';
import { Module, Linear, RMSNorm } from '../../nn/index.js';
import { KVCache, type AttentionMask } from '../cache.js';
import { initializeRope, type Positions, type Rope } from '../rope.js';
import {
  ConfigReader, DecoderLM, DecoderModel, PreNormBlock, baseArgs, cachedAttention, fromHeads, readLayerTypes, toHeads,
  type BaseModelArgs, type ModelConfig,
} from './base.js';
import { MLP } from './llama.js';

export interface ModelArgs extends BaseModelArgs {
  intermediate_size: number;
  attention_bias: boolean;
  sliding_window: number | null;
  layer_types: string[];
}

export function parseArgs(config: ModelConfig, where = 'config.json'): ModelArgs {
  const r = new ConfigReader(config, where);
  const base = baseArgs(r, { eps: 1e-6, tie: true });
  const sliding = r.bool('use_sliding_window', false) ? r.optInt('sliding_window') : null;
  const maxWindowLayers = r.int('max_window_layers', base.num_hidden_layers);
  return {
    ...base,
    intermediate_size: r.int('intermediate_size'),
    attention_bias: r.bool('attention_bias', false),
    sliding_window: r.optInt('sliding_window'),
    layer_types: readLayerTypes(r, base.num_hidden_layers, (i) => sliding !== null && i >= maxWindowLayers),
  };
}

/** Qwen3's attention (also Qwen3-MoE's): per-head q/k RMSNorm, then rope. */
export class Attention extends Module {
  q_proj: Linear;
  k_proj: Linear;
  v_proj: Linear;
  o_proj: Linear;
  q_norm: RMSNorm;
  k_norm: RMSNorm;
  readonly nHeads: number;
  readonly nKvHeads: number;
  readonly scale: number;
  readonly rope: Rope;

  constructor(args: BaseModelArgs & { attention_bias: boolean }, config: ModelConfig) {
    super();
    const dim = args.hidden_size, hd = args.head_dim;
    this.nHeads = args.num_attention_heads;
    this.nKvHeads = args.num_key_value_heads;
    this.scale = hd ** -0.5;
    this.q_proj = new Linear(dim, this.nHeads * hd, args.attention_bias);
    this.k_proj = new Linear(dim, this.nKvHeads * hd, args.attention_bias);
    this.v_proj = new Linear(dim, this.nKvHeads * hd, args.attention_bias);
    this.o_proj = new Linear(this.nHeads * hd, dim, args.attention_bias);
    this.q_norm = new RMSNorm(hd, args.rms_norm_eps);
    this.k_norm = new RMSNorm(hd, args.rms_norm_eps);
    this.rope = initializeRope(config, hd);
  }

  override forward(x: Array, mask: AttentionMask, positions: Positions, cache?: KVCache): Array {
    const q = this.rope.forward(this.q_norm.forward(toHeads(this.q_proj.forward(x), this.nHeads)), positions);
    const k = this.rope.forward(this.k_norm.forward(toHeads(this.k_proj.forward(x), this.nKvHeads)), positions);
    const v = toHeads(this.v_proj.forward(x), this.nKvHeads);
    return this.o_proj.forward(fromHeads(cachedAttention(q, k, v, cache, this.scale, mask)));
  }
}

export class TransformerBlock extends PreNormBlock<Attention, MLP> {
  constructor(args: ModelArgs, config: ModelConfig) {
    super(new Attention(args, config), new MLP(args.hidden_size, args.intermediate_size), args.hidden_size, args.rms_norm_eps);
  }
}

export class Model extends DecoderLM<TransformerBlock> {
  constructor(override readonly args: ModelArgs, config: ModelConfig) {
    super(args, new DecoderModel(args, () => new TransformerBlock(args, config)));
  }
}

export function fromConfig(config: ModelConfig, where?: string): Model {
  return new Model(parseArgs(config, where), config);
}
