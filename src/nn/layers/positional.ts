// Positional encodings as mlx.nn: RoPE (rotary), SinusoidalPositionalEncoding, ALiBi.
import * as mx from '../../core/index.js';
import type { Array, DTypeLike } from '../../core/index.js';
import { Module } from '../module.js';
import { rope as fastRope } from '../../fast/rope.js';

export interface RopeOptions {
  /** Rotate consecutive pairs (x0, x1), (x2, x3)... instead of (x_i, x_{i+dims/2}). Default false. */
  traditional?: boolean;
  /** Base of the frequencies base^(-2i/dims). Default 10000. Ignored when `freqs` is given. */
  base?: number;
  /** Scale applied to the positions. Default 1. */
  scale?: number;
  /** Position of the first entry along the sequence axis (-2): a number or a scalar array. Default 0. */
  offset?: number | Array;
  /** Explicit frequencies of shape (dims/2,) (their reciprocals scale the positions). */
  freqs?: Array | null;
}

/**
 * Rotary positional encoding of the first `dims` features of x (shape (..., L, D)), the
 * positions running along axis -2: fast.rope (angles and the rotation in float32, float64
 * for float64 inputs).
 */
export function rope(x: Array, dims: number, { traditional = false, base = 10000, scale = 1, offset = 0, freqs = null }: RopeOptions = {}): Array {
  return fastRope(x, dims, { traditional, base: freqs ? null : base, scale, offset, freqs });
}

/**
 * Rotary positional encoding (RoFormer). The default rotates pairs (x_i, x_{i+dims/2});
 * `traditional` rotates consecutive pairs. Features past `dims` pass unchanged.
 */
export class RoPE extends Module {
  constructor(readonly dims: number, readonly traditional = false, readonly base = 10000, readonly scale = 1.0) { super(); }

  protected override extraRepr(): string { return `${this.dims}, traditional=${this.traditional}`; }

  /** x of shape (..., L, D); `offset` is the position of x's first entry (a KV cache's length). */
  override forward(x: Array, offset: number | Array = 0): Array {
    return rope(x, this.dims, { traditional: this.traditional, base: this.base, scale: this.scale, offset });
  }
}

/**
 * Sinusoidal positional encoding ("Attention Is All You Need"): x (positions, any shape)
 * maps to [sin(x σ), cos(x σ)] (or cos first) with frequencies σ geometrically spaced from
 * maxFreq down to minFreq, times `scale` (default sqrt(2 / dims)).
 */
export class SinusoidalPositionalEncoding extends Module {
  private readonly _sigmas: Array;
  readonly scale: number;

  constructor(readonly dims: number, minFreq = 0.0001, maxFreq = 1, scale: number | null = null, readonly cosFirst = false, fullTurns = false) {
    super();
    const halfDims = Math.floor(dims / 2);
    if (halfDims < 2) throw new Error(`[SinusoidalPositionalEncoding] dims must be at least 4, got ${dims}`);
    const oneZero = mx.subtract(1, mx.divide(mx.arange(0, halfDims), halfDims - 1));
    const lo = Math.log(minFreq), hi = Math.log(maxFreq);
    let sigmas = mx.exp(mx.add(mx.multiply(oneZero, hi - lo), lo));
    if (fullTurns) sigmas = mx.multiply(sigmas, 2 * Math.PI);
    this._sigmas = sigmas;
    this.scale = scale ?? Math.sqrt(2 / dims);
  }

  override forward(x: Array): Array {
    const y = mx.multiply(mx.expandDims(x, -1), this._sigmas);
    const cos = mx.cos(y), sin = mx.sin(y);
    const out = mx.concatenate(this.cosFirst ? [cos, sin] : [sin, cos], -1);
    return this.scale !== 1 ? mx.multiply(out, this.scale) : out;
  }
}

/**
 * Attention with linear biases (ALiBi): adds -slope_h |i - j| to the attention scores of
 * head h, with slopes 2^(-8h/numHeads) for h = 1..numHeads.
 */
export class ALiBi extends Module {
  /** The (numHeads, 1, 1) slopes. */
  static createAlibiSlope(numHeads: number): Array {
    const x = Math.pow(2 ** 8, 1 / numHeads);
    return mx.expandDims(mx.power(x, mx.negative(mx.arange(1, numHeads + 1, 1, 'float32'))), [-1, -2]);
  }

  /** The (1, numHeads, qLen - offset, kLen) biases for queries at positions offset..qLen-1 and keys 0..kLen-1. */
  static createAlibiMatrix(qSequenceLength: number, kSequenceLength: number, numHeads: number, offset: number, dtype: DTypeLike = 'float32'): Array {
    const x1 = mx.arange(offset, qSequenceLength), x2 = mx.arange(0, kSequenceLength);
    const distance = mx.negative(mx.abs(mx.subtract(mx.expandDims(x1, 1), mx.expandDims(x2, 0))));
    return mx.astype(mx.multiply(mx.expandDims(distance, [0, 1]), ALiBi.createAlibiSlope(numHeads)), dtype);
  }

  /** scores of shape (B, numHeads, L, S); `mask` (additive) is added to the biases. */
  override forward(attentionScores: Array, offset = 0, mask: Array | null = null): Array {
    if (attentionScores.ndim !== 4) throw new Error(`[ALiBi] expected attention scores of shape (batch, heads, queries, keys), got (${attentionScores.shape.join(',')})`);
    const [, heads, q, k] = attentionScores.shape;
    let bias = ALiBi.createAlibiMatrix(q + offset, k, heads, offset, attentionScores.dtype);
    if (mask) bias = mx.add(bias, mask);
    return mx.add(attentionScores, bias);
  }
}
