// Transformer encoder and decoder stacks as mlx.nn (pre-norm by default).
import * as mx from '../../core/index.js';
import type { Array } from '../../core/index.js';
import { Module } from '../module.js';
import { checkpoint } from '../value-and-grad.js';
import { relu } from './activations.js';
import { Dropout } from './dropout.js';
import { Linear } from './linear.js';
import { LayerNorm } from './normalization.js';
import { MultiHeadAttention, AttentionMask } from './attention.js';

/** The MLP's activation: a function or a module with a one-argument forward. */
export type Activation = ((x: Array) => Array) | { forward(x: Array): Array };
const act = (a: Activation, x: Array): Array => (typeof a === 'function' ? a(x) : a.forward(x));

/**
 * Self-attention then an MLP (dims -> mlpDims -> dims), each with a residual connection.
 * normFirst (default) normalizes before each block; otherwise after the residual sum.
 */
export class TransformerEncoderLayer extends Module {
  attention: MultiHeadAttention;
  ln1: LayerNorm;
  ln2: LayerNorm;
  linear1: Linear;
  linear2: Linear;
  dropout1: Dropout;
  dropout2: Dropout;

  constructor(dims: number, numHeads: number, mlpDims: number | null = null, dropout = 0.0, readonly activation: Activation = relu, readonly normFirst = true) {
    super();
    const hidden = mlpDims ?? dims * 4;
    this.attention = new MultiHeadAttention(dims, numHeads);
    this.ln1 = new LayerNorm(dims);
    this.ln2 = new LayerNorm(dims);
    this.linear1 = new Linear(dims, hidden);
    this.linear2 = new Linear(hidden, dims);
    this.dropout1 = new Dropout(dropout);
    this.dropout2 = new Dropout(dropout);
  }

  private mlp(x: Array): Array {
    return this.linear2.forward(this.dropout2.forward(act(this.activation, this.linear1.forward(x))));
  }

  override forward(x: Array, mask: AttentionMask = null): Array {
    if (this.normFirst) {
      const y = this.ln1.forward(x);
      x = mx.add(x, this.dropout1.forward(this.attention.forward(y, y, y, mask)));
      return mx.add(x, this.mlp(this.ln2.forward(x)));
    }
    x = this.ln1.forward(mx.add(x, this.dropout1.forward(this.attention.forward(x, x, x, mask))));
    return this.ln2.forward(mx.add(x, this.mlp(x)));
  }
}

/** `numLayers` encoder layers and a final LayerNorm; `checkpoint` recomputes each layer in the backward pass. */
export class TransformerEncoder extends Module {
  layers: TransformerEncoderLayer[];
  ln: LayerNorm;

  constructor(numLayers: number, dims: number, numHeads: number, mlpDims: number | null = null, dropout = 0.0,
    activation: Activation = relu, normFirst = true, readonly checkpoint = false) {
    super();
    this.layers = globalThis.Array.from({ length: numLayers }, () => new TransformerEncoderLayer(dims, numHeads, mlpDims, dropout, activation, normFirst));
    this.ln = new LayerNorm(dims);
  }

  override forward(x: Array, mask: AttentionMask = null): Array {
    for (const l of this.layers) x = this.checkpoint ? checkpoint(l, (a: Array) => l.forward(a, mask))(x) : l.forward(x, mask);
    return this.ln.forward(x);
  }
}

/** Self-attention, cross-attention over `memory`, then an MLP, each with a residual connection. */
export class TransformerDecoderLayer extends Module {
  self_attention: MultiHeadAttention;
  cross_attention: MultiHeadAttention;
  ln1: LayerNorm;
  ln2: LayerNorm;
  ln3: LayerNorm;
  linear1: Linear;
  linear2: Linear;
  dropout1: Dropout;
  dropout2: Dropout;
  dropout3: Dropout;

  constructor(dims: number, numHeads: number, mlpDims: number | null = null, dropout = 0.0, readonly activation: Activation = relu, readonly normFirst = true) {
    super();
    const hidden = mlpDims ?? dims * 4;
    this.self_attention = new MultiHeadAttention(dims, numHeads);
    this.cross_attention = new MultiHeadAttention(dims, numHeads);
    this.ln1 = new LayerNorm(dims);
    this.ln2 = new LayerNorm(dims);
    this.ln3 = new LayerNorm(dims);
    this.linear1 = new Linear(dims, hidden);
    this.linear2 = new Linear(hidden, dims);
    this.dropout1 = new Dropout(dropout);
    this.dropout2 = new Dropout(dropout);
    this.dropout3 = new Dropout(dropout);
  }

  private mlp(x: Array): Array {
    return this.linear2.forward(this.dropout3.forward(act(this.activation, this.linear1.forward(x))));
  }

  override forward(x: Array, memory: Array, xMask: AttentionMask = null, memoryMask: AttentionMask = null): Array {
    if (this.normFirst) {
      let y = this.ln1.forward(x);
      x = mx.add(x, this.dropout1.forward(this.self_attention.forward(y, y, y, xMask)));
      y = this.ln2.forward(x);
      x = mx.add(x, this.dropout2.forward(this.cross_attention.forward(y, memory, memory, memoryMask)));
      return mx.add(x, this.mlp(this.ln3.forward(x)));
    }
    // Post-norm. MLX feeds the self-attention output (before the residual and norm) to the
    // cross-attention; this follows the usual definition (PyTorch's) and feeds the normed sum.
    x = this.ln1.forward(mx.add(x, this.dropout1.forward(this.self_attention.forward(x, x, x, xMask))));
    x = this.ln2.forward(mx.add(x, this.dropout2.forward(this.cross_attention.forward(x, memory, memory, memoryMask))));
    return this.ln3.forward(mx.add(x, this.mlp(x)));
  }
}

/** `numLayers` decoder layers and a final LayerNorm. */
export class TransformerDecoder extends Module {
  layers: TransformerDecoderLayer[];
  ln: LayerNorm;

  constructor(numLayers: number, dims: number, numHeads: number, mlpDims: number | null = null, dropout = 0.0,
    activation: Activation = relu, normFirst = true, readonly checkpoint = false) {
    super();
    this.layers = globalThis.Array.from({ length: numLayers }, () => new TransformerDecoderLayer(dims, numHeads, mlpDims, dropout, activation, normFirst));
    this.ln = new LayerNorm(dims);
  }

  override forward(x: Array, memory: Array, xMask: AttentionMask = null, memoryMask: AttentionMask = null): Array {
    for (const l of this.layers) {
      x = this.checkpoint ? checkpoint(l, (a: Array, m: Array) => l.forward(a, m, xMask, memoryMask))(x, memory) : l.forward(x, memory, xMask, memoryMask);
    }
    return this.ln.forward(x);
  }
}

/** An encoder-decoder Transformer ("Attention Is All You Need"), defaults as MLX's. */
export class Transformer extends Module {
  encoder: TransformerEncoder;
  decoder: TransformerDecoder;

  constructor(dims = 512, numHeads = 8, numEncoderLayers = 6, numDecoderLayers = 6, mlpDims: number | null = null, dropout = 0.0,
    activation: Activation = relu, customEncoder: TransformerEncoder | null = null, customDecoder: TransformerDecoder | null = null,
    normFirst = true, checkpoint = false) {
    super();
    this.encoder = customEncoder ?? new TransformerEncoder(numEncoderLayers, dims, numHeads, mlpDims, dropout, activation, normFirst, checkpoint);
    this.decoder = customDecoder ?? new TransformerDecoder(numDecoderLayers, dims, numHeads, mlpDims, dropout, activation, normFirst, checkpoint);
  }

  override forward(src: Array, tgt: Array, srcMask: AttentionMask, tgtMask: AttentionMask, memoryMask: AttentionMask): Array {
    const memory = this.encoder.forward(src, srcMask);
    return this.decoder.forward(tgt, memory, tgtMask, memoryMask);
  }
}
