// Samplers and logits processors (MLX-LM's sample_utils). A sampler maps log-probabilities
// (B, V) to token ids (B,); a logits processor maps (tokens so far, logits (B, V)) to new
// logits. Filters mask tokens with -inf, then the sampler draws from what is left.
import * as mx from '../core/index.js';
import type { Array } from '../core/index.js';

export type Sampler = (logprobs: Array) => Array;
/** `tokens` holds the ids so far: (T,) for one sequence or (B, T) for a batch. */
export type LogitsProcessor = (tokens: Array, logits: Array) => Array;

export interface SamplerOptions {
  /** Temperature; 0 takes the most likely token (greedy). Default 0. */
  temp?: number;
  /** Nucleus sampling: keep the smallest set of tokens whose probabilities sum past topP. 0 or 1: off. */
  topP?: number;
  /** Keep tokens at least minP times as likely as the most likely one. 0: off. */
  minP?: number;
  /** How many tokens min-p always keeps. Default 1. */
  minTokensToKeep?: number;
  /** Keep the k most likely tokens. 0: off. */
  topK?: number;
}

const NEG_INF = -Infinity;

/** The most likely token of each row. */
export const greedySampler: Sampler = (logprobs) => mx.argmax(logprobs, -1);

/** Masks all but the k largest log-probabilities of each row. */
export function applyTopK(logprobs: Array, topK: number): Array {
  const V = logprobs.shape[logprobs.ndim - 1];
  if (!Number.isInteger(topK) || !(topK > 0 && topK < V)) throw new Error(`[applyTopK] topK must be an integer in (0, ${V}), got ${topK}`);
  const drop = mx.stridedSlice(mx.argpartition(mx.negative(logprobs), topK - 1, -1), [...logprobs.shape.slice(0, -1).map(() => null), topK], [...logprobs.shape.slice(0, -1).map(() => null), null]);
  return mx.putAlongAxis(logprobs, drop, mx.array(NEG_INF, logprobs.dtype), -1);
}

/** Masks tokens less likely than minP times the most likely one, keeping at least minTokensToKeep. */
export function applyMinP(logprobs: Array, minP: number, minTokensToKeep = 1): Array {
  if (!(minP >= 0 && minP <= 1)) throw new Error(`[applyMinP] minP must be in [0, 1], got ${minP}`);
  if (!Number.isInteger(minTokensToKeep) || minTokensToKeep < 1) throw new Error(`[applyMinP] minTokensToKeep must be a positive integer, got ${minTokensToKeep}`);
  const threshold = mx.add(mx.max(logprobs, -1, true), Math.log(minP));
  let remove = mx.less(logprobs, threshold);
  if (minTokensToKeep > 1) {
    const V = logprobs.shape[logprobs.ndim - 1];
    const lead = logprobs.shape.slice(0, -1).map(() => null);
    const top = mx.stridedSlice(mx.argpartition(logprobs, V - minTokensToKeep, -1), [...lead, V - minTokensToKeep], [...lead, null]);
    remove = mx.putAlongAxis(remove, top, mx.array(false), -1);
  }
  return mx.where(remove, mx.array(NEG_INF, logprobs.dtype), logprobs);
}

/** Keeps the most likely tokens whose probabilities sum past topP (the tokens above 1 - topP of the sorted cumulative sum). */
export function applyTopP(logprobs: Array, topP: number): Array {
  const order = mx.argsort(logprobs, -1); // ascending
  const sortedProbs = mx.takeAlongAxis(mx.exp(logprobs), order, -1);
  const keepSorted = mx.greater(mx.cumsum(sortedProbs, -1), 1 - topP);
  const keep = mx.putAlongAxis(mx.zerosLike(keepSorted), order, keepSorted, -1);
  return mx.where(keep, logprobs, mx.array(NEG_INF, logprobs.dtype));
}

/** A token from softmax(logits / temp) for each row. */
export function categoricalSampling(logits: Array, temp: number, key: Array | null = null): Array {
  return mx.random.categorical(mx.multiply(logits, 1 / temp), -1, null, null, key);
}

/**
 * A sampler: greedy at temperature 0, else top-p, min-p and top-k filters (in MLX-LM's order)
 * then a categorical draw at the temperature. Options rather than MLX's positional
 * arguments: each one is usually given alone.
 */
export function makeSampler({ temp = 0, topP = 0, minP = 0, minTokensToKeep = 1, topK = 0 }: SamplerOptions = {}): Sampler {
  if (!(temp >= 0)) throw new Error(`[makeSampler] temp must be >= 0, got ${temp}`);
  if (!(topP >= 0 && topP <= 1)) throw new Error(`[makeSampler] topP must be in [0, 1], got ${topP}`);
  if (!Number.isInteger(topK) || topK < 0) throw new Error(`[makeSampler] topK must be a non-negative integer, got ${topK}`);
  if (temp === 0) return greedySampler;
  const filters: ((x: Array) => Array)[] = [];
  if (topP > 0 && topP < 1) filters.push((x) => applyTopP(x, topP));
  if (minP !== 0) filters.push((x) => applyMinP(x, minP, minTokensToKeep));
  if (topK > 0) filters.push((x) => (topK < x.shape[x.ndim - 1] ? applyTopK(x, topK) : x));
  // Draws use the global random state: mx.random.seed(s) makes them repeat (as MLX-LM).
  return (logprobs) => {
    for (const f of filters) logprobs = f(logprobs);
    return categoricalSampling(logprobs, temp);
  };
}

export interface LogitsProcessorOptions {
  /** Added to the logits of the given token ids. */
  logitBias?: Record<number, number> | Map<number, number> | null;
  /** Divides positive logits (multiplies negative ones) of recent tokens. 1 or unset: off. */
  repetitionPenalty?: number | null;
  /** How many recent tokens the repetition penalty looks at. Default 20. */
  repetitionContextSize?: number;
  /** Subtracted once from the logit of each token present in the recent context. */
  presencePenalty?: number | null;
  presenceContextSize?: number;
  /** Subtracted from a token's logit once per occurrence in the recent context. */
  frequencyPenalty?: number | null;
  frequencyContextSize?: number;
}

/** The last `n` tokens along the last axis, as (B, n) (a 1-d history counts as one row). */
function recent(tokens: Array, n: number): Array {
  const t = tokens.ndim === 1 ? mx.expandDims(tokens, 0) : tokens;
  const T = t.shape[1];
  return T > n ? mx.stridedSlice(t, [null, T - n], [null, null]) : t;
}

/** Per-row counts (B, V) of the tokens in `t` (B, n). */
function counts(t: Array, V: number, dtype: mx.DType): Array {
  const [B, n] = t.shape;
  const rows = mx.broadcastTo(mx.expandDims(mx.arange(B, null, null, mx.int32), 1), [B, n]);
  return mx.scatterAdd(mx.zeros([B, V], dtype), [rows, mx.astype(t, mx.int32)], mx.ones([B, n, 1, 1], dtype), [0, 1]);
}

/** Multiplicative penalty on the logits of recent tokens (CTRL, arXiv:1909.05858), sign-aware. */
export function makeRepetitionPenalty(penalty: number, contextSize = 20): LogitsProcessor {
  if (!(penalty >= 0)) throw new Error(`[makeRepetitionPenalty] penalty must be a non-negative number, got ${penalty}`);
  return (tokens, logits) => {
    if (tokens.size === 0) return logits;
    const seen = mx.greater(counts(recent(tokens, contextSize), logits.shape[logits.ndim - 1], mx.float32), 0);
    const penalized = mx.where(mx.less(logits, 0), mx.multiply(logits, penalty), mx.divide(logits, penalty));
    return mx.where(seen, penalized, logits);
  };
}

/** Subtracts `penalty` once from the logit of every token present in the recent context. */
export function makePresencePenalty(penalty: number, contextSize = 20): LogitsProcessor {
  return (tokens, logits) => {
    if (tokens.size === 0) return logits;
    const seen = mx.greater(counts(recent(tokens, contextSize), logits.shape[logits.ndim - 1], mx.float32), 0);
    return mx.subtract(logits, mx.multiply(mx.astype(seen, logits.dtype), penalty));
  };
}

/** Subtracts `penalty` from a token's logit for each time it occurs in the recent context. */
export function makeFrequencyPenalty(penalty: number, contextSize = 20): LogitsProcessor {
  return (tokens, logits) => {
    if (tokens.size === 0) return logits;
    const c = counts(recent(tokens, contextSize), logits.shape[logits.ndim - 1], logits.dtype);
    return mx.subtract(logits, mx.multiply(c, penalty));
  };
}

/** The logits processors for the given options, in MLX-LM's order: bias, repetition, presence, frequency. */
export function makeLogitsProcessors(options: LogitsProcessorOptions = {}): LogitsProcessor[] {
  const out: LogitsProcessor[] = [];
  const bias = options.logitBias instanceof Map ? [...options.logitBias] : Object.entries(options.logitBias ?? {}).map(([k, v]) => [Number(k), v] as const);
  if (bias.length > 0) {
    for (const [id] of bias) if (!Number.isInteger(id) || id < 0) throw new Error(`[makeLogitsProcessors] logitBias keys must be token ids (non-negative integers), got ${id}`);
    const ids = bias.map(([id]) => id), values = bias.map(([, v]) => v);
    out.push((_tokens, logits) => {
      const V = logits.shape[logits.ndim - 1];
      for (const id of ids) if (id >= V) throw new Error(`[logitBias] token id ${id} is out of range for ${V} logits`);
      const dense = mx.scatterAdd(mx.zeros([V], logits.dtype), [mx.array(ids, mx.int32)], mx.reshape(mx.array(values, logits.dtype), [ids.length, 1]), [0]);
      return mx.add(logits, dense);
    });
  }
  const { repetitionPenalty, presencePenalty, frequencyPenalty } = options;
  if (repetitionPenalty && repetitionPenalty !== 1) out.push(makeRepetitionPenalty(repetitionPenalty, options.repetitionContextSize ?? 20));
  if (presencePenalty) out.push(makePresencePenalty(presencePenalty, options.presenceContextSize ?? 20));
  if (frequencyPenalty) out.push(makeFrequencyPenalty(frequencyPenalty, options.frequencyContextSize ?? 20));
  return out;
}
