// Embedding: a lookup table of `numEmbeddings` vectors, initialized N(0, 1/dims) as MLX.
import * as mx from '../../core/index.js';
import type { Array } from '../../core/index.js';
import { Module } from '../module.js';

export class Embedding extends Module {
  weight: Array;

  constructor(numEmbeddings: number, dims: number) {
    super();
    this.weight = mx.random.normal([numEmbeddings, dims], 'float32', null, Math.sqrt(1 / dims));
  }

  protected override extraRepr(): string { return `${this.weight.shape[0]}, ${this.weight.shape[1]}`; }

  /** The rows of `weight` at the integer indices `x`: shape x.shape + (dims,). */
  override forward(x: Array): Array {
    if (x.dtype.isFloat) throw new TypeError(`[Embedding] expected integer indices, got an array of dtype ${x.dtype.name}`);
    return mx.take(this.weight, x, 0);
  }

  /** x Wᵀ: the embedding used as the output projection (tied input and output weights). */
  asLinear(x: Array): Array { return mx.matmul(x, mx.transpose(this.weight)); }
}
