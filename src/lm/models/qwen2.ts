// Qwen2 (and Qwen2.5), as MLX-LM's models/qwen2.py: Llama's layout with biases on the q, k and
// v projections, and sliding windows on the layers past max_window_layers when enabled.
import type { Array } from '../../core/index.js';
import { Module, Linear } from '../../nn/index.js';
import { KVCache, type AttentionMask } from '../cache.js';
import { initializeRope, type Positions, type Rope } from '../rope.js';
import {
  ConfigReader, DecoderLM, DecoderModel, PreNormBlock, baseArgs, cachedAttention, fromHeads, readLayerTypes, toHeads,
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

  override forward(x: Array, mask: AttentionMask, positions: Positions, cache?: KVCache): Array {
    const q = this.rope.forward(toHeads(this.q_proj.forward(x), this.nHeads), positions);
    const k = this.rope.forward(toHeads(this.k_proj.forward(x), this.nKvHeads), positions);
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
