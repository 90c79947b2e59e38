// Llama (and Mistral, whose checkpoints are Llama's with a sliding window), as MLX-LM's
// models/llama.py. Attribute names are the Hugging Face checkpoint keys.
import type { Array } from '../../core/index.js';
import { Module, Linear } from '../../nn/index.js';
import { swiglu } from '../../fast/glu.js';
import { KVCache, type AttentionMask } from '../cache.js';
import { initializeRope, type Positions, type Rope } from '../rope.js';
import {
  ConfigReader, DecoderLM, DecoderModel, PreNormBlock, baseArgs, cachedAttention, fromHeads, readLayerTypes, toHeads,
  type BaseModelArgs, type ModelConfig,
} from './base.js';

export interface ModelArgs extends BaseModelArgs {
  intermediate_size: number;
  attention_bias: boolean;
  mlp_bias: boolean;
  /** Window of the sliding-window layers (Mistral: every layer), or null. */
  sliding_window: number | null;
  /** 'full_attention' or 'sliding_attention' per layer. */
  layer_types: string[];
}

export function parseArgs(config: ModelConfig, where = 'config.json'): ModelArgs {
  const r = new ConfigReader(config, where);
  const base = baseArgs(r, { eps: 1e-6 });
  const sliding = r.optInt('sliding_window');
  const types = readLayerTypes(r, base.num_hidden_layers, () => sliding !== null);
  return {
    ...base,
    intermediate_size: r.int('intermediate_size'),
    attention_bias: r.bool('attention_bias', false),
    mlp_bias: r.bool('mlp_bias', false),
    sliding_window: sliding,
    layer_types: types,
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
    this.q_proj = new Linear(dim, this.nHeads * hd, args.attention_bias);
    this.k_proj = new Linear(dim, this.nKvHeads * hd, args.attention_bias);
    this.v_proj = new Linear(dim, this.nKvHeads * hd, args.attention_bias);
    this.o_proj = new Linear(this.nHeads * hd, dim, args.attention_bias);
    this.rope = initializeRope(config, hd);
  }

  override forward(x: Array, mask: AttentionMask, positions: Positions, cache?: KVCache): Array {
    const q = this.rope.forward(toHeads(this.q_proj.forward(x), this.nHeads), positions);
    const k = this.rope.forward(toHeads(this.k_proj.forward(x), this.nKvHeads), positions);
    const v = toHeads(this.v_proj.forward(x), this.nKvHeads);
    return this.o_proj.forward(fromHeads(cachedAttention(q, k, v, cache, this.scale, mask)));
  }
}

export class MLP extends Module {
  gate_proj: Linear;
  down_proj: Linear;
  up_proj: Linear;

  constructor(dim: number, hidden: number, bias = false) {
    super();
    this.gate_proj = new Linear(dim, hidden, bias);
    this.down_proj = new Linear(hidden, dim, bias);
    this.up_proj = new Linear(dim, hidden, bias);
  }

  override forward(x: Array): Array {
    return this.down_proj.forward(swiglu(this.gate_proj.forward(x), this.up_proj.forward(x)));
  }
}

export class TransformerBlock extends PreNormBlock<Attention, MLP> {
  constructor(args: ModelArgs, config: ModelConfig) {
    super(new Attention(args, config), new MLP(args.hidden_size, args.intermediate_size, args.mlp_bias), args.hidden_size, args.rms_norm_eps);
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
