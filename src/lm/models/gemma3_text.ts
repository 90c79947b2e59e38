// Gemma 3 (text), as MLX-LM's models/gemma3_text.py: Gemma 2's block (four norms, GELU MLP,
// scaled embeddings, (1 + weight) RMSNorm) with RMSNorm on each query and key head, sliding
// windows on most layers (every sliding_window_pattern-th layer is global), and a separate
// rope schedule for the sliding layers (local base, usually unscaled).
import type { Array } from '../../core/index.js';
import { Module, Linear } from '../../nn/index.js';
import { KVCache, type AttentionMask } from '../cache.js';
import { initializeRope, type Positions, type Rope } from '../rope.js';
import { cachedAttention, fromHeads, toHeads, type ModelConfig } from './base.js';
import { GemmaLM, GemmaRMSNorm, SandwichBlock, parseGemmaArgs, type ModelArgs } from './gemma2.js';

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

  override forward(x: Array, mask: AttentionMask, positions: Positions, cache?: KVCache): Array {
    const q = this.rope.forward(this.q_norm.forward(toHeads(this.q_proj.forward(x), this.nHeads)), positions);
    const k = this.rope.forward(this.k_norm.forward(toHeads(this.k_proj.forward(x), this.nKvHeads)), positions);
    const v = toHeads(this.v_proj.forward(x), this.nKvHeads);
    return this.o_proj.forward(fromHeads(cachedAttention(q, k, v, cache, this.scale, mask, this.softcap)));
  }
}

export class TransformerBlock extends SandwichBlock<Attention> {
  constructor(args: ModelArgs, config: ModelConfig, layerType: string, where?: string) {
    super(new Attention(args, config, layerType, where), args);
  }
}

export class Model extends GemmaLM<TransformerBlock> {
  constructor(args: ModelArgs, config: ModelConfig, where?: string) {
    super(args, (i) => new TransformerBlock(args, config, args.layer_types[i], where));
  }
}

export function fromConfig(config: ModelConfig, where?: string): Model {
  return new Model(parseArgs(config, where), config, where);
}
