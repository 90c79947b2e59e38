// Phi-3, as MLX-LM's models/phi3.py: one fused qkv_proj and one fused gate_up_proj, partial
// rotary embeddings, and LongRoPE ("su") scaling that switches to the long factors once the
// sequence passes original_max_position_embeddings.
import * as mx from '../../core/index.js';
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

  override forward(x: Array, mask: AttentionMask, positions: Positions, cache?: KVCache): Array {
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
    return this.down_proj.forward(swiglu(gate, up));
  }
}

export class TransformerBlock extends PreNormBlock<Attention, MLP> {
  constructor(args: ModelArgs, config: ModelConfig, where?: string) {
    super(new Attention(args, config, where), new MLP(args.hidden_size, args.intermediate_size), args.hidden_size, args.rms_norm_eps);
  }
}

export class Model extends DecoderLM<TransformerBlock> {
  constructor(override readonly args: ModelArgs, config: ModelConfig, where?: string) {
    super(args, new DecoderModel(args, () => new TransformerBlock(args, config, where)));
  }
}

export function fromConfig(config: ModelConfig, where?: string): Model {
  return new Model(parseArgs(config, where), config, where);
}
