// fast.scaledDotProductAttention as MLX's mx.fast.scaled_dot_product_attention, with the
// masks LLMs need folded in (causal, sliding window, per-row key lengths, soft-capped logits)
// so a kernel never builds an L × S matrix: it streams key blocks with an online softmax
// and keeps one log-sum-exp per query row, from which the backward pass recomputes the
// probabilities block by block (FlashAttention-2).
import * as mx from '../core/index.js';
import type { Array, StreamOrDevice } from '../core/index.js';
import { defineFast, streamOf, checkFloat, fmt, type FastPrimitive } from './primitive.js';

export interface AttentionOptions {
  /** Multiplies q·k. Default 1/sqrt(D). */
  scale?: number;
  /**
   * 'causal' (the last query sees up to the last key), a boolean array (true where a query
   * may attend) or an additive array (added to the scores), broadcastable to (B, Hq, L, S).
   * Array masks get no gradient.
   */
  mask?: 'causal' | Array | null;
  /**
   * Sliding window: keys j ≤ p − windowSize are masked for a query at position p (positions
   * aligned as 'causal' aligns them); with 'causal' a query sees p − windowSize < j ≤ p.
   */
  windowSize?: number | null;
  /** Logit soft-capping (Gemma 2): scores become softcap · tanh(scores / softcap) before masking. */
  softcap?: number | null;
  /** (B,) valid keys per batch row (right padding): keys at or past keyLengths[b] are masked. */
  keyLengths?: Array | readonly number[] | null;
  stream?: StreamOrDevice;
}

/** What a kernel needs besides the arrays. Inputs: [q, k, v, mask?, keyLengths?]; the mask is 4-D. */
interface SdpaParams {
  scale: number;
  causal: boolean;
  mask: 'none' | 'bool' | 'additive';
  windowSize: number | null;
  softcap: number | null;
  hasKeyLengths: boolean;
}

const optional = (ins: Array[], p: SdpaParams, from: number) => {
  let i = from;
  const mask = p.mask !== 'none' ? ins[i++] : null;
  return { mask, lens: p.hasKeyLengths ? ins[i] : null };
};

// ---------------------------------------------------------------- reference

/**
 * Where each query may attend, (B or 1, 1, L, S), from causal/window/key lengths and a
 * boolean mask; null when everything is allowed.
 */
function allowed(L: number, S: number, p: SdpaParams, mask: Array | null, lens: Array | null, stream: mx.Stream): Array | null {
  const both = (a: Array | null, b: Array) => (a ? mx.logicalAnd(a, b) : b);
  let ok: Array | null = null;
  const qpos = mx.expandDims(mx.arange(S - L, S, 1, 'int32', { stream }), 1), kpos = mx.arange(0, S, 1, 'int32', { stream });
  if (p.causal) ok = both(ok, mx.lessEqual(kpos, qpos));
  if (p.windowSize !== null) ok = both(ok, mx.less(mx.subtract(qpos, kpos), p.windowSize));
  if (lens) ok = both(ok, mx.less(kpos, mx.reshape(lens, [lens.shape[0], 1, 1, 1])));
  if (mask && p.mask === 'bool') ok = both(ok, mask);
  return ok;
}

/** [out, lse]: explicit softmax(q kᵀ · scale) v in float32 (float64 for float64), grouped heads by reshaping. */
function sdpaRef(q: Array, k: Array, v: Array, mask: Array | null, lens: Array | null, p: SdpaParams): Array[] {
  const [B, Hq, L, D] = q.shape, Hk = k.shape[1], S = k.shape[2], Dv = v.shape[3], rep = Hq / Hk;
  const ct = q.dtype.name === 'float64' ? 'float64' : 'float32';
  // Grouped heads: q as (B, Hk, rep·L, D), so each key head serves its query heads without a copy of k.
  const qs = mx.reshape(mx.astype(q, ct), [B, Hk, rep * L, D]);
  let scores = mx.reshape(mx.multiply(mx.matmul(qs, mx.swapaxes(mx.astype(k, ct), -1, -2)), p.scale), [B, Hq, L, S]);
  if (p.softcap !== null) scores = mx.multiply(mx.tanh(mx.divide(scores, p.softcap)), p.softcap);
  if (mask && p.mask === 'additive') scores = mx.add(scores, mx.astype(mask, ct));
  const ok = allowed(L, S, p, mask, lens, q.stream);
  if (ok) scores = mx.where(ok, scores, -Infinity);
  // A row with no allowed key gives zeros (and lse −inf), not NaN.
  const m = mx.stopGradient(mx.max(scores, -1, true));
  const shift = mx.where(mx.isneginf(m), 0, m);
  const e = mx.exp(mx.subtract(scores, shift));
  const total = mx.sum(e, -1, true);
  const probs = mx.divide(e, mx.where(mx.equal(total, 0), 1, total));
  const out = mx.reshape(mx.matmul(mx.reshape(probs, [B, Hk, rep * L, S]), mx.astype(v, ct)), [B, Hq, L, Dv]);
  const lse = mx.squeeze(mx.add(mx.log(total), shift), -1);
  return [mx.astype(out, q.dtype), lse];
}

/** fast.scaledDotProductAttention from basic ops (the L × S scores and probabilities in memory). */
export function scaledDotProductAttentionReference(q: Array, k: Array, v: Array, opts: AttentionOptions = {}): Array {
  const { ins, params } = resolve(q, k, v, opts);
  const { mask, lens } = optional(ins, params, 3);
  return sdpaRef(ins[0], ins[1], ins[2], mask, lens, params)[0];
}

// ---------------------------------------------------------------- primitives

/** [q, k, v, mask?, keyLengths?] -> [out, lse (B, Hq, L) float32, float64 for float64]. */
const Sdpa: FastPrimitive<SdpaParams> = defineFast<SdpaParams>({
  name: 'scaledDotProductAttention',
  reference: (ins, p) => { const { mask, lens } = optional(ins, p, 3); return sdpaRef(ins[0], ins[1], ins[2], mask, lens, p); },
  // lse never leaves the op: only the backward primitive reads it, and its reference does not
  // depend on it, so lse's cotangent is always zero and is not read.
  vjp: ([dout], { inputs, outputs: [out, lse], params }) => {
    const [q, k, v, ...rest] = inputs;
    const grads = SdpaVjp.apply([q, k, v, out, lse, dout, ...rest], params, [q, k, v].map((a) => ({ shape: a.shape, dtype: a.dtype })), q.stream);
    return [...grads, ...rest.map(() => null)];
  },
});

/**
 * [q, k, v, out, lse, dout, mask?, keyLengths?] -> [dq, dk, dv]. The reference differentiates
 * the forward reference; a kernel recomputes the probabilities from lse instead.
 */
const SdpaVjp: FastPrimitive<SdpaParams> = defineFast<SdpaParams>({
  name: 'scaledDotProductAttentionVjp',
  reference: (ins, p) => {
    const [q, k, v, , , dout] = ins;
    const { mask, lens } = optional(ins, p, 6);
    return mx.vjp((a: Array, b: Array, c: Array) => sdpaRef(a, b, c, mask, lens, p)[0], [q, k, v], [dout])[1];
  },
});

// ---------------------------------------------------------------- public op

function resolve(q0: Array, k0: Array, v0: Array, opts: AttentionOptions): { ins: Array[]; params: SdpaParams } {
  const where = 'scaledDotProductAttention';
  if (q0.ndim !== 4 || k0.ndim !== 4 || v0.ndim !== 4)
    throw new Error(`[${where}] expected 4-d queries, keys and values (B, heads, L, D), got shapes ${fmt(q0.shape)}, ${fmt(k0.shape)}, ${fmt(v0.shape)}`);
  for (const [n, a] of [['queries', q0], ['keys', k0], ['values', v0]] as const) checkFloat(where, n, a);
  const dtype = mx.resultType(q0, k0, v0);
  const [q, k, v] = [q0, k0, v0].map((a) => mx.astype(a, dtype));
  const [B, Hq, L, D] = q.shape, [Bk, Hk, S, Dk] = k.shape, [Bv, Hv, Sv] = v.shape;
  if (Bk !== B || Bv !== B || Hv !== Hk || Sv !== S || Dk !== D)
    throw new Error(`[${where}] keys ${fmt(k.shape)} must be (${B}, Hk, S, ${D}) and values ${fmt(v.shape)} (${B}, Hk, S, Dv) for queries ${fmt(q.shape)}`);
  if (Hk === 0 || Hq % Hk !== 0) throw new Error(`[${where}] the query heads (${Hq}) must be a multiple of the key/value heads (${Hk})`);
  const { scale = 1 / Math.sqrt(D), mask = null, windowSize = null, softcap = null, keyLengths = null } = opts;
  if (!Number.isFinite(scale)) throw new Error(`[${where}] scale must be a finite number, got ${scale}`);
  if (windowSize !== null && !(Number.isInteger(windowSize) && windowSize > 0)) throw new Error(`[${where}] windowSize must be a positive integer, got ${windowSize}`);
  if (softcap !== null && !(softcap > 0)) throw new Error(`[${where}] softcap must be a positive number, got ${softcap}`);
  const params: SdpaParams = { scale, causal: mask === 'causal', mask: 'none', windowSize, softcap, hasKeyLengths: keyLengths !== null };
  const ins = [q, k, v];
  if (mask !== null && mask !== 'causal') {
    if (!(mask instanceof mx.Array)) throw new Error(`[${where}] mask must be 'causal', an array or null, got ${String(mask)}`);
    if (mask.dtype.name !== 'bool' && !mask.dtype.isFloat) throw new Error(`[${where}] mask must be boolean or floating point (additive), got ${mask.dtype.name}`);
    const full = [B, Hq, L, S];
    if (mask.ndim > 4 || mask.shape.some((d, i) => d !== 1 && d !== full[4 - mask.ndim + i]))
      throw new Error(`[${where}] mask ${fmt(mask.shape)} must broadcast to (B, Hq, L, S) = ${fmt(full)}`);
    params.mask = mask.dtype.name === 'bool' ? 'bool' : 'additive';
    ins.push(mx.reshape(mask, [...new globalThis.Array<number>(4 - mask.ndim).fill(1), ...mask.shape]));
  }
  if (keyLengths !== null) {
    const lens = keyLengths instanceof mx.Array ? keyLengths : mx.array(keyLengths as number[], 'int32');
    if (lens.ndim !== 1 || lens.shape[0] !== B || lens.dtype.isFloat || lens.dtype.name === 'bool')
      throw new Error(`[${where}] keyLengths must be an integer array of shape (${B},), got ${lens.dtype.name} ${fmt(lens.shape)}`);
    ins.push(lens);
  }
  return { ins, params };
}

/**
 * softmax(q kᵀ · scale + mask) v for q (B, Hq, L, D), k (B, Hk, S, D), v (B, Hk, S, Dv), with
 * Hq a multiple of Hk (grouped-query and multi-query attention). Queries are aligned with
 * the last L keys ('causal' and windowSize). A query with no key to attend gives zeros.
 */
export function scaledDotProductAttention(q: Array, k: Array, v: Array, opts: AttentionOptions = {}): Array {
  const { ins, params } = resolve(q, k, v, opts);
  const [B, Hq, L] = q.shape, Dv = v.shape[3];
  const specs = [{ shape: [B, Hq, L, Dv], dtype: ins[0].dtype }, { shape: [B, Hq, L], dtype: ins[0].dtype.name === 'float64' ? mx.float64 : mx.float32 }];
  return Sdpa.apply(ins, params, specs, streamOf(q, opts.stream))[0];
}
