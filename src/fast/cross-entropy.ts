// fast.crossEntropy for large vocabularies: the forward pass keeps one log-sum-exp per row
// (computed over the vocabulary in chunks, with a running max and sum), and the backward
// pass writes softmax − target straight into a gradient of the logits' own dtype. The
// reference (and autodiff through it) makes float32 copies of the whole (N, V) logits for
// the softmax and its gradient: for a 128k vocabulary that is most of a training step's memory.
import * as mx from '../core/index.js';
import type { Array, StreamOrDevice } from '../core/index.js';
import { defineFast, streamOf, checkFloat, fmt, rowwiseVmap, type FastPrimitive } from './primitive.js';

export interface CrossEntropyOptions {
  /** Rows whose target equals this contribute no loss and no gradient. Default −100 (PyTorch's). */
  ignoreIndex?: number;
  /** s in [0, 1): the target distribution is (1 − s)·onehot + s/V. Default 0. */
  labelSmoothing?: number;
  /** 'mean' (over rows not ignored, the default), 'sum', or 'none' (the targets' shape). */
  reduction?: 'none' | 'mean' | 'sum';
  stream?: StreamOrDevice;
}

interface CeParams { ignoreIndex: number; labelSmoothing: number }

/** float32 losses (float64 for float64 logits): a loss is a sum, and halves would round it early. */
const lossType = (logits: Array) => (logits.dtype.name === 'float64' ? mx.float64 : mx.float32);

// ---------------------------------------------------------------- reference

/** [loss, lse] per row of (N, V) logits and (N,) targets, from logsumexp and a gather. */
function ceRef(logits: Array, targets: Array, { ignoreIndex, labelSmoothing: s }: CeParams): Array[] {
  const z = mx.astype(logits, lossType(logits));
  const valid = mx.notEqual(targets, ignoreIndex);
  const t = mx.where(valid, targets, 0);
  const lse = mx.logsumexp(z, -1);
  const zt = mx.squeeze(mx.takeAlongAxis(z, mx.expandDims(t, -1), -1), -1);
  let loss = mx.subtract(lse, zt);
  if (s > 0) loss = mx.subtract(mx.subtract(lse, mx.multiply(zt, 1 - s)), mx.multiply(mx.mean(z, -1), s));
  return [mx.where(valid, loss, 0), lse];
}

/**
 * The gradient of row losses for row cotangents g: g·(softmax(z) − (1 − s)·onehot − s/V), 0
 * on ignored rows. It recomputes the log-sum-exp rather than read the forward's (a kernel
 * reads it), so differentiating this gradient sees lse as the function of z it is.
 */
function ceVjpRef(logits: Array, targets: Array, g: Array, { ignoreIndex, labelSmoothing: s }: CeParams): Array {
  const ct = lossType(logits), V = logits.shape[logits.ndim - 1];
  const z = mx.astype(logits, ct);
  const p = mx.exp(mx.subtract(z, mx.logsumexp(z, -1, true)));
  const onehot = mx.equal(mx.expandDims(targets, -1), mx.arange(0, V, 1, 'int32', { stream: logits.stream }));
  let d = mx.subtract(p, mx.multiply(mx.astype(onehot, ct), 1 - s));
  if (s > 0) d = mx.subtract(d, s / V);
  const gv = mx.where(mx.notEqual(targets, ignoreIndex), g, 0);
  return mx.astype(mx.multiply(d, mx.expandDims(gv, -1)), logits.dtype);
}

/** fast.crossEntropy from basic ops (float32 (N, V) intermediates, and their gradients under autodiff). */
export function crossEntropyReference(logits: Array, targets: Array, opts: CrossEntropyOptions = {}): Array {
  const { rows, flat, params, reduction } = resolve(logits, targets, opts);
  return reduce(ceRef(rows, flat, params)[0], flat, targets.shape, params, reduction);
}

// ---------------------------------------------------------------- primitives

/** [logits (..., V), targets (...)] -> [loss (...), lse (...)]. */
const CrossEntropy: FastPrimitive<CeParams> = defineFast<CeParams>({
  name: 'crossEntropy',
  reference: ([z, t], p) => ceRef(z, t, p),
  // lse is read only by the backward primitive, whose reference recomputes it: its cotangent is zero.
  vjp: ([g], { inputs: [z, t], outputs: [, lse], params }) =>
    [CrossEntropyVjp.apply([z, t, lse, g], params, [{ shape: z.shape, dtype: z.dtype }], z.stream)[0], null],
  vmap: rowwiseVmap(() => CrossEntropy, 2, ([z, t], p) => bindCe(z, t, p)),
});

/** [logits, targets, lse, g] -> [dlogits], in the logits' dtype. */
const CrossEntropyVjp: FastPrimitive<CeParams> = defineFast<CeParams>({
  name: 'crossEntropyVjp',
  reference: ([z, t, , g], p) => [ceVjpRef(z, t, g, p)],
  vmap: rowwiseVmap(() => CrossEntropyVjp, 4, ([z, t, lse, g], p) =>
    CrossEntropyVjp.apply([z, t, lse, g], p, [{ shape: z.shape, dtype: z.dtype }], z.stream)),
});

function bindCe(z: Array, t: Array, p: CeParams, stream = z.stream): Array[] {
  const spec = { shape: t.shape, dtype: lossType(z) };
  return CrossEntropy.apply([z, t], p, [spec, spec], stream);
}

// ---------------------------------------------------------------- public op

function resolve(logits: Array, targets: Array, opts: CrossEntropyOptions) {
  const { ignoreIndex = -100, labelSmoothing = 0, reduction = 'mean' } = opts;
  checkFloat('crossEntropy', 'logits', logits);
  if (targets.dtype.isFloat || targets.dtype.name === 'bool')
    throw new Error(`[crossEntropy] targets must be integer class indices, got ${targets.dtype.name}`);
  if (logits.ndim < 1 || targets.ndim !== logits.ndim - 1 || targets.shape.some((d, i) => d !== logits.shape[i]))
    throw new Error(`[crossEntropy] targets ${fmt(targets.shape)} must be the logits' shape ${fmt(logits.shape)} without its last (class) axis`);
  if (!(labelSmoothing >= 0 && labelSmoothing < 1)) throw new Error(`[crossEntropy] labelSmoothing must be in [0, 1), got ${labelSmoothing}`);
  if (!Number.isInteger(ignoreIndex)) throw new Error(`[crossEntropy] ignoreIndex must be an integer, got ${ignoreIndex}`);
  if (!['none', 'mean', 'sum'].includes(reduction)) throw new Error(`[crossEntropy] reduction must be 'none', 'mean' or 'sum', got '${String(reduction)}'`);
  const V = logits.shape[logits.ndim - 1];
  const rows = mx.reshape(logits, [targets.size, V]);
  const flat = mx.reshape(mx.astype(targets, 'int32'), [targets.size]);
  return { rows, flat, params: { ignoreIndex, labelSmoothing } as CeParams, reduction };
}

function reduce(loss: Array, targets: Array, shape: readonly number[], p: CeParams, reduction: string): Array {
  if (reduction === 'none') return mx.reshape(loss, shape);
  const total = mx.sum(loss);
  if (reduction === 'sum') return total;
  // An all-ignored batch has mean 0 rather than 0/0.
  const count = mx.sum(mx.astype(mx.notEqual(targets, p.ignoreIndex), loss.dtype));
  return mx.divide(total, mx.maximum(count, 1));
}

/**
 * Cross entropy of `logits` (..., V) against integer `targets` (...):
 * logsumexp(z) − (1 − s)·z[target] − s·mean(z) per row. Losses are float32 (float64 for
 * float64 logits); the gradient of the logits keeps their dtype and is never held in float32.
 */
export function crossEntropy(logits: Array, targets: Array, opts: CrossEntropyOptions = {}): Array {
  const { rows, flat, params, reduction } = resolve(logits, targets, opts);
  const [loss] = bindCe(rows, flat, params, streamOf(logits, opts.stream));
  return reduce(loss, flat, targets.shape, params, reduction);
}
