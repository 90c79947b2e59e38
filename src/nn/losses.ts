// Loss functions, as mlx.nn.losses (`nn.losses.crossEntropy(...)`), with MLX's argument
// order and defaults. Every loss takes a reduction: 'none' (per element), 'mean' or 'sum'.
import * as mx from '../core/index.js';
import type { Array, ArrayLike } from '../core/index.js';

export type Reduction = 'none' | 'mean' | 'sum';

const fmt = (s: readonly number[]) => `(${s.join(',')}${s.length === 1 ? ',' : ''})`;
const sameShape = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((d, i) => d === b[i]);

function reduce(where: string, loss: Array, reduction: Reduction): Array {
  if (reduction === 'mean') return mx.mean(loss);
  if (reduction === 'sum') return mx.sum(loss);
  if (reduction === 'none') return loss;
  throw new Error(`[losses.${where}] reduction must be 'none', 'mean' or 'sum', got '${String(reduction)}'`);
}

function checkSame(where: string, names: string[], arrays: Array[]): void {
  if (arrays.every((a) => sameShape(a.shape, arrays[0].shape))) return;
  throw new Error(`[losses.${where}] ${names.map((n, i) => `${n} ${fmt(arrays[i].shape)}`).join(', ')} must have the same shape`);
}

function applyWeights(where: string, loss: Array, weights: ArrayLike | null | undefined): Array {
  if (weights === null || weights === undefined) return loss;
  const w = mx.array(weights);
  if (!sameShape(w.shape, loss.shape)) throw new Error(`[losses.${where}] weights ${fmt(w.shape)} must have the shape of the loss ${fmt(loss.shape)}`);
  return mx.multiply(loss, w);
}

/**
 * Cross entropy of `logits` against class indices (targets without the class axis) or
 * class probabilities (targets of the logits' shape). With label smoothing s the target
 * distribution is (1 - s) * targets + s / C.
 */
export function crossEntropy(logits: ArrayLike, targets: ArrayLike, weights: ArrayLike | null = null, axis = -1,
  labelSmoothing = 0.0, reduction: Reduction = 'none'): Array {
  const x = mx.array(logits), t = mx.array(targets);
  if (!(labelSmoothing >= 0 && labelSmoothing < 1)) throw new Error(`[losses.crossEntropy] labelSmoothing must be in [0, 1), got ${labelSmoothing}`);
  const ax = axis < 0 ? axis + x.ndim : axis;
  if (ax < 0 || ax >= x.ndim) throw new Error(`[losses.crossEntropy] axis ${axis} is out of bounds for logits ${fmt(x.shape)}`);
  const asProbs = t.ndim === x.ndim;
  const expected = asProbs ? x.shape : x.shape.filter((_, i) => i !== ax);
  if (!sameShape(t.shape, expected))
    throw new Error(`[losses.crossEntropy] targets ${fmt(t.shape)} must be ${asProbs ? 'probabilities of the logits\' shape' : 'class indices of shape'} ${fmt(expected)} (logits ${fmt(x.shape)}, axis ${axis})`);
  const score = asProbs ? mx.sum(mx.multiply(x, t), ax) : mx.squeeze(mx.takeAlongAxis(x, mx.expandDims(t, ax), ax), ax);
  const lse = mx.logsumexp(x, ax);
  const loss = labelSmoothing > 0
    ? mx.subtract(mx.subtract(lse, mx.multiply(score, 1 - labelSmoothing)), mx.multiply(mx.mean(x, ax), labelSmoothing))
    : mx.subtract(lse, score);
  return reduce('crossEntropy', applyWeights('crossEntropy', loss, weights), reduction);
}

/**
 * Binary cross entropy of logits (withLogits, the default: log(1 + e^x) - x t) or of
 * probabilities (logs clipped at -100, as PyTorch) against targets in [0, 1].
 */
export function binaryCrossEntropy(inputs: ArrayLike, targets: ArrayLike, weights: ArrayLike | null = null, withLogits = true,
  reduction: Reduction = 'mean'): Array {
  const x = mx.array(inputs), t = mx.array(targets);
  checkSame('binaryCrossEntropy', ['inputs', 'targets'], [x, t]);
  let loss: Array;
  if (withLogits) loss = mx.subtract(mx.logaddexp(0.0, x), mx.multiply(x, t));
  else {
    const logP = mx.maximum(mx.log(x), -100), log1mP = mx.maximum(mx.log(mx.subtract(1, x)), -100);
    loss = mx.negative(mx.add(mx.multiply(t, logP), mx.multiply(mx.subtract(1, t), log1mP)));
  }
  return reduce('binaryCrossEntropy', applyWeights('binaryCrossEntropy', loss, weights), reduction);
}

/** |predictions - targets|. */
export function l1Loss(predictions: ArrayLike, targets: ArrayLike, reduction: Reduction = 'mean'): Array {
  const p = mx.array(predictions), t = mx.array(targets);
  checkSame('l1Loss', ['predictions', 'targets'], [p, t]);
  return reduce('l1Loss', mx.abs(mx.subtract(p, t)), reduction);
}

/** (predictions - targets)^2. */
export function mseLoss(predictions: ArrayLike, targets: ArrayLike, reduction: Reduction = 'mean'): Array {
  const p = mx.array(predictions), t = mx.array(targets);
  checkSame('mseLoss', ['predictions', 'targets'], [p, t]);
  return reduce('mseLoss', mx.square(mx.subtract(p, t)), reduction);
}

/** -inputs[target] along `axis`, for inputs that are log probabilities. */
export function nllLoss(inputs: ArrayLike, targets: ArrayLike, axis = -1, reduction: Reduction = 'none'): Array {
  const x = mx.array(inputs), t = mx.array(targets);
  const ax = axis < 0 ? axis + x.ndim : axis;
  if (ax < 0 || ax >= x.ndim) throw new Error(`[losses.nllLoss] axis ${axis} is out of bounds for inputs ${fmt(x.shape)}`);
  const expected = x.shape.filter((_, i) => i !== ax);
  if (!sameShape(t.shape, expected)) throw new Error(`[losses.nllLoss] targets ${fmt(t.shape)} must be class indices of shape ${fmt(expected)} (inputs ${fmt(x.shape)}, axis ${axis})`);
  return reduce('nllLoss', mx.negative(mx.squeeze(mx.takeAlongAxis(x, mx.expandDims(t, ax), ax), ax)), reduction);
}

/**
 * Negative log likelihood of targets under N(inputs, vars):
 * 0.5 (log(max(vars, eps)) + (targets - inputs)^2 / max(vars, eps)), plus 0.5 log(2 pi) if full.
 */
export function gaussianNllLoss(inputs: ArrayLike, targets: ArrayLike, vars: ArrayLike, full = false, eps = 1e-6,
  reduction: Reduction = 'mean'): Array {
  const x = mx.array(inputs), t = mx.array(targets), v0 = mx.array(vars);
  checkSame('gaussianNllLoss', ['inputs', 'targets', 'vars'], [x, t, v0]);
  const v = mx.maximum(v0, eps);
  let loss = mx.multiply(mx.add(mx.log(v), mx.divide(mx.square(mx.subtract(t, x)), v)), 0.5);
  if (full) loss = mx.add(loss, 0.5 * Math.log(2 * Math.PI));
  return reduce('gaussianNllLoss', loss, reduction);
}

/** KL(targets || inputs) for log probabilities: sum(exp(targets) (targets - inputs)) along `axis`. */
export function klDivLoss(inputs: ArrayLike, targets: ArrayLike, axis = -1, reduction: Reduction = 'none'): Array {
  const x = mx.array(inputs), t = mx.array(targets);
  return reduce('klDivLoss', mx.sum(mx.multiply(mx.exp(t), mx.subtract(t, x)), axis), reduction);
}

/** 0.5 d^2 / beta where |d| < beta, else |d| - 0.5 beta (d = predictions - targets). */
export function smoothL1Loss(predictions: ArrayLike, targets: ArrayLike, beta = 1.0, reduction: Reduction = 'mean'): Array {
  const p = mx.array(predictions), t = mx.array(targets);
  checkSame('smoothL1Loss', ['predictions', 'targets'], [p, t]);
  const d = mx.abs(mx.subtract(p, t));
  const loss = mx.where(mx.less(d, beta), mx.divide(mx.multiply(mx.square(d), 0.5), beta), mx.subtract(d, 0.5 * beta));
  return reduce('smoothL1Loss', loss, reduction);
}

/**
 * max(||a - p|| - ||a - n|| + margin, 0), with ||v|| = sqrt(sum(v^p) + eps) along `axis`
 * (MLX's formula: a true p-norm only for p = 2).
 */
export function tripletLoss(anchors: ArrayLike, positives: ArrayLike, negatives: ArrayLike, axis = -1, p = 2, margin = 1.0,
  eps = 1e-6, reduction: Reduction = 'none'): Array {
  const a = mx.array(anchors);
  const dist = (b: ArrayLike) => mx.sqrt(mx.add(mx.sum(mx.power(mx.subtract(a, b), p), axis), eps));
  const loss = mx.maximum(mx.add(mx.subtract(dist(positives), dist(negatives)), margin), 0);
  return reduce('tripletLoss', loss, reduction);
}

/** max(0, 1 - inputs * targets), for targets in {-1, 1}. */
export function hingeLoss(inputs: ArrayLike, targets: ArrayLike, reduction: Reduction = 'none'): Array {
  return reduce('hingeLoss', mx.maximum(mx.subtract(1, mx.multiply(inputs, targets)), 0), reduction);
}

/** 0.5 d^2 for |d| <= delta, else delta (|d| - 0.5 delta) (d = inputs - targets). */
export function huberLoss(inputs: ArrayLike, targets: ArrayLike, delta = 1.0, reduction: Reduction = 'none'): Array {
  const d = mx.abs(mx.subtract(inputs, targets));
  const quadratic = mx.minimum(d, delta);
  const linear = mx.subtract(d, quadratic);
  return reduce('huberLoss', mx.add(mx.multiply(mx.square(quadratic), 0.5), mx.multiply(linear, delta)), reduction);
}

/** log(cosh(inputs - targets)), computed stably as logaddexp(d, -d) - log 2. */
export function logCoshLoss(inputs: ArrayLike, targets: ArrayLike, reduction: Reduction = 'none'): Array {
  const d = mx.subtract(inputs, targets);
  return reduce('logCoshLoss', mx.subtract(mx.logaddexp(d, mx.negative(d)), Math.LN2), reduction);
}

/** x1 . x2 / max(||x1|| ||x2||, eps) along `axis` (a similarity: higher is closer). */
export function cosineSimilarityLoss(x1: ArrayLike, x2: ArrayLike, axis = 1, eps = 1e-8, reduction: Reduction = 'none'): Array {
  const a = mx.array(x1), b = mx.array(x2);
  const norms = mx.multiply(mx.linalg.norm(a, null, axis), mx.linalg.norm(b, null, axis));
  return reduce('cosineSimilarityLoss', mx.divide(mx.sum(mx.multiply(a, b), axis), mx.maximum(norms, eps)), reduction);
}

/** max(0, -targets * (inputs1 - inputs2) + margin), for targets in {-1, 1}. */
export function marginRankingLoss(inputs1: ArrayLike, inputs2: ArrayLike, targets: ArrayLike, margin = 0.0, reduction: Reduction = 'none'): Array {
  const x1 = mx.array(inputs1), x2 = mx.array(inputs2), t = mx.array(targets);
  checkSame('marginRankingLoss', ['inputs1', 'inputs2', 'targets'], [x1, x2, t]);
  return reduce('marginRankingLoss', mx.maximum(mx.add(mx.multiply(mx.negative(t), mx.subtract(x1, x2)), margin), 0), reduction);
}
