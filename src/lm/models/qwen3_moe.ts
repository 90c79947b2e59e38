// Qwen3-MoE, as MLX-LM's models/qwen3_moe.py: Qwen3's attention; the feed-forward of most
// layers is a mixture of experts (softmax router, top-k, optionally renormalized), the rest
// (mlp_only_layers, or off the decoder_sparse_step) a dense MLP.
import * as mx from '../../core/index.js';
import type { Array } from '../../core/index.js';
import { Module, Linear } from '../../nn/index.js';
import {
  ConfigReader, DecoderLM, DecoderModel, PreNormBlock, baseArgs, readLayerTypes,
  type BaseModelArgs, type ModelConfig, type Weights,
} from './base.js';
import { MLP } from './llama.js';
import { Attention } from './qwen3.js';
import { SwitchGLU, stackExperts } from './switch_layers.js';

export interface ModelArgs extends BaseModelArgs {
  intermediate_size: number;
  moe_intermediate_size: number;
  num_experts: number;
  num_experts_per_tok: number;
  norm_topk_prob: boolean;
  decoder_sparse_step: number;
  mlp_only_layers: number[];
  attention_bias: boolean;
  sliding_window: number | null;
  layer_types: string[];
}

export function parseArgs(config: ModelConfig, where = 'config.json'): ModelArgs {
  const r = new ConfigReader(config, where);
  const base = baseArgs(r, { eps: 1e-6, tie: false });
  const sliding = r.bool('use_sliding_window', false) ? r.optInt('sliding_window') : null;
  const maxWindowLayers = r.int('max_window_layers', base.num_hidden_layers);
  const numExperts = config.num_experts !== undefined ? r.int('num_experts') : r.int('num_local_experts');
  return {
    ...base,
    intermediate_size: r.int('intermediate_size'),
    moe_intermediate_size: r.int('moe_intermediate_size'),
    num_experts: numExperts,
    num_experts_per_tok: r.int('num_experts_per_tok'),
    norm_topk_prob: r.bool('norm_topk_prob', false),
    decoder_sparse_step: r.int('decoder_sparse_step', 1),
    mlp_only_layers: r.intList('mlp_only_layers', []),
    attention_bias: r.bool('attention_bias', false),
    sliding_window: r.optInt('sliding_window'),
    layer_types: readLayerTypes(r, base.num_hidden_layers, (i) => sliding !== null && i >= maxWindowLayers),
  };
}

/** Whether layer i's feed-forward is a mixture of experts (transformers' rule). */
const isSparse = (args: ModelArgs, i: number) =>
  !args.mlp_only_layers.includes(i) && args.num_experts > 0 && (i + 1) % args.decoder_sparse_step === 0;

export class SparseMoeBlock extends Module {
  gate: Linear;
  switch_mlp: SwitchGLU;
  readonly topK: number;
  readonly normTopkProb: boolean;

  constructor(args: ModelArgs) {
    super();
    this.topK = args.num_experts_per_tok;
    this.normTopkProb = args.norm_topk_prob;
    this.gate = new Linear(args.hidden_size, args.num_experts, false);
    this.switch_mlp = new SwitchGLU(args.hidden_size, args.moe_intermediate_size, args.num_experts);
  }

  override forward(x: Array): Array {
    const k = this.topK;
    const gates = mx.softmax(mx.astype(this.gate.forward(x), 'float32'), -1, true);
    const inds = mx.stopGradient(mx.index(mx.argpartition(mx.negative(gates), k - 1, -1), '...', mx.s(0, k)));
    let scores = mx.takeAlongAxis(gates, inds, -1);
    if (this.normTopkProb) scores = mx.divide(scores, mx.sum(scores, -1, true));
    const y = this.switch_mlp.forward(x, inds);
    return mx.sum(mx.multiply(y, mx.expandDims(mx.astype(scores, y.dtype), -1)), -2);
  }
}

export class TransformerBlock extends PreNormBlock<Attention, SparseMoeBlock | MLP> {
  constructor(args: ModelArgs, config: ModelConfig, index: number) {
    super(new Attention(args, config), isSparse(args, index) ? new SparseMoeBlock(args) : new MLP(args.hidden_size, args.intermediate_size), args.hidden_size, args.rms_norm_eps);
  }
}

export class Model extends DecoderLM<TransformerBlock> {
  constructor(override readonly args: ModelArgs, config: ModelConfig) {
    super(args, new DecoderModel(args, (i) => new TransformerBlock(args, config, i)));
  }

  /** Stacks each MoE layer's per-expert weights into SwitchGLU's arrays. */
  override sanitize(weights: Weights): Weights {
    const out = super.sanitize(weights);
    this.model.layers.forEach((layer, i) => {
      if (layer.mlp instanceof SparseMoeBlock)
        stackExperts(out, `model.layers.${i}.mlp`, this.args.num_experts, { gate: 'gate_proj', up: 'up_proj', down: 'down_proj' });
    });
    return out;
  }
}

export function fromConfig(config: ModelConfig, where?: string): Model {
  return new Model(parseArgs(config, where), config);
}
