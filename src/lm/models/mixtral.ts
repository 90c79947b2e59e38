// Mixtral, as MLX-LM's models/mixtral.py: Llama's attention, and a mixture of experts in every
// layer (router logits, top-k, softmax over the chosen ones). Hugging Face checkpoints keep each
// expert apart (block_sparse_moe.experts.<e>.w1/w2/w3); sanitize stacks them for SwitchGLU.
import * as mx from '../../core/index.js';
import type { Array } from '../../core/index.js';
import { Module, Linear, RMSNorm } from '../../nn/index.js';
import { KVCache, type AttentionMask } from '../cache.js';
import type { Positions } from '../rope.js';
import {
  ConfigReader, DecoderLM, DecoderModel, baseArgs, readLayerTypes,
  type ModelConfig, type Weights,
} from './base.js';
import { Attention, type ModelArgs as LlamaArgs } from './llama.js';
import { SwitchGLU, stackExperts } from './switch_layers.js';

export interface ModelArgs extends LlamaArgs {
  num_local_experts: number;
  num_experts_per_tok: number;
}

export function parseArgs(config: ModelConfig, where = 'config.json'): ModelArgs {
  const r = new ConfigReader(config, where);
  const base = baseArgs(r, { eps: 1e-5, tie: false });
  const sliding = r.optInt('sliding_window');
  return {
    ...base,
    intermediate_size: r.int('intermediate_size'),
    attention_bias: false,
    mlp_bias: false,
    sliding_window: sliding,
    layer_types: readLayerTypes(r, base.num_hidden_layers, () => sliding !== null),
    num_local_experts: r.int('num_local_experts'),
    num_experts_per_tok: r.int('num_experts_per_tok'),
  };
}

export class SparseMoeBlock extends Module {
  gate: Linear;
  switch_mlp: SwitchGLU;
  readonly topK: number;

  constructor(args: ModelArgs) {
    super();
    this.topK = args.num_experts_per_tok;
    this.gate = new Linear(args.hidden_size, args.num_local_experts, false);
    this.switch_mlp = new SwitchGLU(args.hidden_size, args.intermediate_size, args.num_local_experts);
  }

  override forward(x: Array): Array {
    const k = this.topK;
    const gates = this.gate.forward(x);
    const inds = mx.stopGradient(mx.index(mx.argpartition(mx.negative(gates), k - 1, -1), '...', mx.s(0, k)));
    // Softmax over the chosen logits = the full softmax renormalized over the top k (transformers' order).
    const scores = mx.softmax(mx.astype(mx.takeAlongAxis(gates, inds, -1), 'float32'), -1, true);
    const y = this.switch_mlp.forward(x, inds);
    return mx.sum(mx.multiply(y, mx.expandDims(mx.astype(scores, y.dtype), -1)), -2);
  }
}

export class TransformerBlock extends Module {
  self_attn: Attention;
  block_sparse_moe: SparseMoeBlock;
  input_layernorm: RMSNorm;
  post_attention_layernorm: RMSNorm;

  constructor(args: ModelArgs, config: ModelConfig) {
    super();
    this.self_attn = new Attention(args, config);
    this.block_sparse_moe = new SparseMoeBlock(args);
    this.input_layernorm = new RMSNorm(args.hidden_size, args.rms_norm_eps);
    this.post_attention_layernorm = new RMSNorm(args.hidden_size, args.rms_norm_eps);
  }

  override forward(x: Array, mask: AttentionMask, positions: Positions, cache?: KVCache): Array {
    const h = mx.add(x, this.self_attn.forward(this.input_layernorm.forward(x), mask, positions, cache));
    return mx.add(h, this.block_sparse_moe.forward(this.post_attention_layernorm.forward(h)));
  }
}

export class Model extends DecoderLM<TransformerBlock> {
  constructor(override readonly args: ModelArgs, config: ModelConfig) {
    super(args, new DecoderModel(args, () => new TransformerBlock(args, config)));
  }

  /** Stacks per-expert weights (w1 gate, w3 up, w2 down); accepts transformers 5's `mlp.` prefix and fused experts too. */
  override sanitize(weights: Weights): Weights {
    const out: Weights = {};
    for (const [k, v] of Object.entries(super.sanitize(weights))) out[k.replace(/^(model\.layers\.\d+)\.mlp\./, '$1.block_sparse_moe.')] = v;
    for (let i = 0; i < this.args.num_hidden_layers; i++)
      stackExperts(out, `model.layers.${i}.block_sparse_moe`, this.args.num_local_experts, { gate: 'w1', up: 'w3', down: 'w2' });
    return out;
  }
}

export function fromConfig(config: ModelConfig, where?: string): Model {
  return new Model(parseArgs(config, where), config);
}
