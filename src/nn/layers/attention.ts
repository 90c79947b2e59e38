// MultiHeadAttention as mlx.nn, with the reference scaled dot-product attention it uses.
import * as mx from '../../core/index.js';
import type { Array, DTypeLike } from '../../core/index.js';
import { Module } from '../module.js';
import { Linear } from './linear.js';
import { scaledDotProductAttention as fastAttention } from '../../fast/attention.js';

/**
 * An attention mask: an additive array (0 where attended, large negative where not), a bool
 * array (true where attended), or 'causal'. Arrays broadcast against (B, heads, L, S).
 */
export type AttentionMask = Array | 'causal' | null;

/**
 * softmax(q kᵀ · scale + mask) v for q (B, Hq, L, D), k (B, Hk, S, D), v (B, Hk, S, Dv);
 * Hq a multiple of Hk (grouped-query attention); 'causal' aligns the last query with the last
 * key. fast.scaledDotProductAttention: flash attention where the backend has the kernel.
 */
export function scaledDotProductAttention(q: Array, k: Array, v: Array, scale: number, mask: AttentionMask = null): Array {
  return fastAttention(q, k, v, { scale, mask });
}

/**
 * Multi-head scaled dot-product attention with input and output projections (no biases by
 * default). Inputs are (B, L, dims); `mask` broadcasts against (B, numHeads, L, S).
 */
export class MultiHeadAttention extends Module {
  query_proj: Linear;
  key_proj: Linear;
  value_proj: Linear;
  out_proj: Linear;

  constructor(dims: number, readonly numHeads: number, queryInputDims: number | null = null, keyInputDims: number | null = null,
    valueInputDims: number | null = null, valueDims: number | null = null, valueOutputDims: number | null = null, bias = false) {
    super();
    if (dims % numHeads !== 0) throw new Error(`[MultiHeadAttention] dims (${dims}) must be divisible by numHeads (${numHeads})`);
    const qIn = queryInputDims ?? dims, kIn = keyInputDims ?? dims, vIn = valueInputDims ?? kIn;
    const vDims = valueDims ?? dims, vOut = valueOutputDims ?? dims;
    this.query_proj = new Linear(qIn, dims, bias);
    this.key_proj = new Linear(kIn, dims, bias);
    this.value_proj = new Linear(vIn, vDims, bias);
    this.out_proj = new Linear(vDims, vOut, bias);
  }

  override forward(queries: Array, keys: Array, values: Array, mask: AttentionMask = null): Array {
    const heads = (x: Array) => mx.transpose(mx.unflatten(x, -1, [this.numHeads, -1]), [0, 2, 1, 3]);
    const q = heads(this.query_proj.forward(queries));
    const k = heads(this.key_proj.forward(keys));
    const v = heads(this.value_proj.forward(values));
    const out = scaledDotProductAttention(q, k, v, Math.sqrt(1 / q.shape[3]), mask);
    return this.out_proj.forward(mx.flatten(mx.transpose(out, [0, 2, 1, 3]), -2, -1));
  }

  /** An (N, N) additive mask: 0 on and below the diagonal, the dtype's lowest value above it. */
  static createAdditiveCausalMask(N: number, dtype: DTypeLike = 'float32'): Array {
    const idx = mx.arange(N);
    const above = mx.less(mx.expandDims(idx, 1), mx.expandDims(idx, 0));
    const dt = mx.toDtype(dtype, 'createAdditiveCausalMask');
    // Weak scalars come from a shared constant cache (no new buffers per call); cast after,
    // since -65504 (float16's bound) reads as an integer.
    return mx.astype(mx.where(above, -mx.finfoMax(dt), 0), dt);
  }
}
