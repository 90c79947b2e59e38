// Gemma 2, as MLX-LM's models/gemma2.py: embeddings scaled by sqrt(hidden_size), RMSNorm with
// (1 + weight), a norm before and after both the attention and the MLP, GELU (tanh) MLP,
// attention logits soft-capped and scaled by query_pre_attn_scalar, sliding-window attention on
// alternate layers, final logits soft-capped. The output projection is tied to the embeddings.
import * as mx from '../../core/index.js';
import type { Array } from '../../core/index.js';
import { Module, Linear } from '../../nn/index.js';
import { geglu, swiglu } from '../../fast/glu.js';
import { rmsNorm } from '../../fast/norm.js';
import { KVCache, type AttentionMask } from '../cache.js';
import { initializeRope, type Positions, type Rope } from '../rope.js';
import {
  ConfigReader, DecoderLM, DecoderModel, baseArgs, cachedAttention, fromHeads, readLayerTypes, softcap, toHeads,
  type AttentionLayer, type BaseModelArgs, type DecoderBlock, type ModelConfig,
} from './base.js';

export interface ModelArgs extends BaseModelArgs {
  intermediate_size: number;
  query_pre_attn_scalar: number;
  attn_logit_softcapping: number | null;
  final_logit_softcapping: number | null;
  sliding_window: number | null;
  layer_types: string[];
  attention_bias: boolean;
  hidden_activation: string;
}

/** The arguments Gemma 2 and Gemma 3 share; `sliding(i)` is the layer pattern of configs without layer_types. */
export function parseGemmaArgs(config: ModelConfig, where: string, sliding: (i: number) => boolean): ModelArgs {
  const r = new ConfigReader(config, where);
  const base = baseArgs(r, { eps: 1e-6, tie: true });
  return {
    ...base,
    intermediate_size: r.int('intermediate_size'),
    query_pre_attn_scalar: r.num('query_pre_attn_scalar', base.head_dim),
    attn_logit_softcapping: r.optNum('attn_logit_softcapping'),
    final_logit_softcapping: r.optNum('final_logit_softcapping'),
    sliding_window: r.optInt('sliding_window'),
    layer_types: readLayerTypes(r, base.num_hidden_layers, sliding),
    attention_bias: r.bool('attention_bias', false),
    hidden_activation: r.str('hidden_activation', r.str('hidden_act', 'gelu_pytorch_tanh')),
  };
}

export function parseArgs(config: ModelConfig, where = 'config.json'): ModelArgs {
  return parseGemmaArgs(config, where, (i) => i % 2 === 0);
}

/** Gemma's RMSNorm: x / rms(x) · (1 + weight), all in float32, cast back (weights are stored around 0). */
export class GemmaRMSNorm extends Module {
  weight: Array;

  constructor(dims: number, readonly eps = 1e-6) {
    super();
    this.weight = mx.zeros([dims]);
  }

  override forward(x: Array): Array {
    return mx.astype(rmsNorm(mx.astype(x, 'float32'), mx.add(mx.astype(this.weight, 'float32'), 1), this.eps), x.dtype);
  }
}

/** act(gate) · up for the configured activation, as one fused op. */
function gatedActivation(name: string): (gate: Array, up: Array) => Array {
  if (['gelu_pytorch_tanh', 'gelu_new', 'gelu_fast', 'gelu_python_tanh'].includes(name)) return (g, u) => geglu(g, u, { approximate: 'tanh' });
  if (name === 'gelu') return (g, u) => geglu(g, u);
  if (name === 'silu' || name === 'swish') return (g, u) => swiglu(g, u);
  throw new Error(`[loadModel] hidden_activation '${name}' is not supported (gelu_pytorch_tanh, gelu, silu)`);
}

export class MLP extends Module {
  gate_proj: Linear;
  down_proj: Linear;
  up_proj: Linear;
  readonly act: (gate: Array, up: Array) => Array;

  constructor(dim: number, hidden: number, act: string) {
    super();
    this.gate_proj = new Linear(dim, hidden, false);
    this.down_proj = new Linear(hidden, dim, false);
    this.up_proj = new Linear(dim, hidden, false);
    this.act = gatedActivation(act);
  }

  override forward(x: Array): Array {
    return this.down_proj.forward(this.act(this.gate_proj.forward(x), this.up_proj.forward(x)));
  }
}

export class Attention extends Module {
  q_proj: Linear;
  k_proj: Linear;
  v_proj: Linear;
  o_proj: Linear;
  readonly nHeads: number;
  readonly nKvHeads: number;
  readonly scale: number;
  readonly softcap: number | null;
  readonly rope: Rope;

  constructor(args: ModelArgs, config: ModelConfig) {
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
    this.rope = initializeRope(config, hd);
  }

  override forward(x: Array, mask: AttentionMask, positions: Positions, cache?: KVCache): Array {
    const q = this.rope.forward(toHeads(this.q_proj.forward(x), this.nHeads), positions);
    const k = this.rope.forward(toHeads(this.k_proj.forward(x), this.nKvHeads), positions);
    const v = toHeads(this.v_proj.forward(x), this.nKvHeads);
    return this.o_proj.forward(fromHeads(cachedAttention(q, k, v, cache, this.scale, mask, this.softcap)));
  }
}

/**
 * Gemma's block: a norm before and after both the attention and the MLP (Gemma 2 and 3 differ
 * in their attention only). Attribute names are the checkpoint keys.
 */
export class SandwichBlock<A extends AttentionLayer> extends Module implements DecoderBlock {
  self_attn: A;
  mlp: MLP;
  input_layernorm: GemmaRMSNorm;
  post_attention_layernorm: GemmaRMSNorm;
  pre_feedforward_layernorm: GemmaRMSNorm;
  post_feedforward_layernorm: GemmaRMSNorm;

  constructor(selfAttn: A, args: ModelArgs) {
    super();
    const d = args.hidden_size, eps = args.rms_norm_eps;
    this.self_attn = selfAttn;
    this.mlp = new MLP(d, args.intermediate_size, args.hidden_activation);
    this.input_layernorm = new GemmaRMSNorm(d, eps);
    this.post_attention_layernorm = new GemmaRMSNorm(d, eps);
    this.pre_feedforward_layernorm = new GemmaRMSNorm(d, eps);
    this.post_feedforward_layernorm = new GemmaRMSNorm(d, eps);
  }

  override forward(x: Array, mask: AttentionMask, positions: Positions, cache?: KVCache): Array {
    const r = this.self_attn.forward(this.input_layernorm.forward(x), mask, positions, cache);
    const h = mx.add(x, this.post_attention_layernorm.forward(r));
    const m = this.mlp.forward(this.pre_feedforward_layernorm.forward(h));
    return mx.add(h, this.post_feedforward_layernorm.forward(m));
  }
}

export class TransformerBlock extends SandwichBlock<Attention> {
  constructor(args: ModelArgs, config: ModelConfig) {
    super(new Attention(args, config), args);
  }
}

/** Gemma's decoder and head: embeddings scaled by sqrt(hidden_size), Gemma norms, soft-capped logits. */
export class GemmaLM<B extends DecoderBlock> extends DecoderLM<B> {
  constructor(override readonly args: ModelArgs, makeBlock: (i: number) => B) {
    super(args, new DecoderModel(args, makeBlock, {
      norm: (d, eps) => new GemmaRMSNorm(d, eps), embedScale: Math.sqrt(args.hidden_size),
    }));
  }

  override forward(inputs: Array, cache?: KVCache[]): Array {
    return softcap(super.forward(inputs, cache), this.args.final_logit_softcapping);
  }
}

export class Model extends GemmaLM<TransformerBlock> {
  constructor(args: ModelArgs, config: ModelConfig) {
    super(args, () => new TransformerBlock(args, config));
  }
}

export function fromConfig(config: ModelConfig, where?: string): Model {
  return new Model(parseArgs(config, where), config);
}
