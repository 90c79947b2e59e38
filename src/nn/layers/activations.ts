// Activations as functions and as layers, with mlx.nn's names and formulas in camelCase.
import * as mx from '../../core/index.js';
import type { Array } from '../../core/index.js';
import { Module } from '../module.js';

export const sigmoid = (x: Array): Array => mx.sigmoid(x);
export const relu = (x: Array): Array => mx.maximum(x, 0);
export const leakyRelu = (x: Array, negativeSlope = 0.01): Array => mx.maximum(mx.multiply(x, negativeSlope), x);
export const logSoftmax = (x: Array, axis = -1): Array => mx.subtract(x, mx.logsumexp(x, axis, true));
export const elu = (x: Array, alpha = 1.0): Array => mx.where(mx.greater(x, 0), x, mx.multiply(mx.expm1(x), alpha));
export const relu6 = (x: Array): Array => mx.minimum(mx.maximum(x, 0), 6);
export const softmax = (x: Array, axis = -1): Array => mx.softmax(x, axis);
/** log(1 + exp(x)), computed as logaddexp(x, 0) so large x does not overflow. */
export const softplus = (x: Array): Array => mx.logaddexp(x, 0);
export const softsign = (x: Array): Array => mx.divide(x, mx.add(mx.abs(x), 1));
export const softshrink = (x: Array, lambd = 0.5): Array => mx.where(mx.greater(mx.abs(x), lambd), mx.subtract(x, mx.multiply(mx.sign(x), lambd)), 0);
export const celu = (x: Array, alpha = 1.0): Array =>
  mx.add(mx.maximum(x, 0), mx.multiply(mx.expm1(mx.divide(mx.minimum(x, 0), alpha)), alpha));
export const silu = (x: Array): Array => mx.multiply(x, mx.sigmoid(x));
export const logSigmoid = (x: Array): Array => mx.negative(softplus(mx.negative(x)));
/** The exact GELU, x Φ(x) with the Gaussian CDF Φ. */
export const gelu = (x: Array): Array => mx.divide(mx.multiply(x, mx.add(mx.erf(mx.divide(x, Math.SQRT2)), 1)), 2);
/** The tanh approximation: 0.5 x (1 + tanh(sqrt(2/π) (x + 0.044715 x³))), max error < 5e-4 on [-6, 6]. */
export const geluApprox = (x: Array): Array =>
  mx.multiply(mx.multiply(x, 0.5), mx.add(mx.tanh(mx.multiply(mx.add(x, mx.multiply(mx.power(x, 3), 0.044715)), Math.sqrt(2 / Math.PI))), 1));
/** x σ(1.702 x); max error about 0.02 on [-6, 6] (MLX's docs say < 0.015). */
export const geluFastApprox = (x: Array): Array => mx.multiply(x, mx.sigmoid(mx.multiply(x, 1.702)));
/** Splits `axis` in two halves a and b and returns a σ(b). */
export function glu(x: Array, axis = -1): Array {
  if (x.ndim === 0 || x.shape[axis < 0 ? x.ndim + axis : axis] % 2 !== 0)
    throw new Error(`[glu] the size of axis ${axis} must be even, got shape (${x.shape.join(',')})`);
  const [a, b] = mx.split(x, 2, axis);
  return mx.multiply(a, mx.sigmoid(b));
}
/** 1 where x > threshold, else 0 (int32, as MLX). */
export const step = (x: Array, threshold = 0.0): Array => mx.where(mx.greater(x, threshold), 1, 0);
/** λ elu(x, α) with λ = 1.0507, α = 1.67326. */
export const selu = (x: Array): Array => mx.multiply(elu(x, 1.67326), 1.0507);
/** max(0, x) + α min(0, x), with α an array (broadcast against x). */
export const prelu = (x: Array, alpha: Array): Array => mx.add(mx.maximum(x, 0), mx.multiply(alpha, mx.minimum(x, 0)));
export const mish = (x: Array): Array => mx.multiply(x, mx.tanh(softplus(x)));
export const hardswish = (x: Array): Array => mx.divide(mx.multiply(x, mx.minimum(mx.maximum(mx.add(x, 3), 0), 6)), 6);
export const hardTanh = (x: Array, minVal = -1.0, maxVal = 1.0): Array => mx.minimum(mx.maximum(x, minVal), maxVal);
export const hardShrink = (x: Array, lambd = 0.5): Array => mx.where(mx.greater(mx.abs(x), lambd), x, 0);
export const softmin = (x: Array, axis = -1): Array => mx.softmax(mx.negative(x), axis);
export const tanh = (x: Array): Array => mx.tanh(x);

// ---------------------------------------------------------------- layers

export class Sigmoid extends Module { override forward(x: Array): Array { return sigmoid(x); } }
export class Mish extends Module { override forward(x: Array): Array { return mish(x); } }
export class ReLU extends Module { override forward(x: Array): Array { return relu(x); } }
export class ReLU6 extends Module { override forward(x: Array): Array { return relu6(x); } }
export class Softplus extends Module { override forward(x: Array): Array { return softplus(x); } }
export class Softsign extends Module { override forward(x: Array): Array { return softsign(x); } }
export class SiLU extends Module { override forward(x: Array): Array { return silu(x); } }
export class LogSigmoid extends Module { override forward(x: Array): Array { return logSigmoid(x); } }
export class Tanh extends Module { override forward(x: Array): Array { return tanh(x); } }
export class Hardswish extends Module { override forward(x: Array): Array { return hardswish(x); } }
export class SELU extends Module { override forward(x: Array): Array { return selu(x); } }

export class LeakyReLU extends Module {
  constructor(readonly negativeSlope = 0.01) { super(); }
  override forward(x: Array): Array { return leakyRelu(x, this.negativeSlope); }
  protected override extraRepr(): string { return `negativeSlope=${this.negativeSlope}`; }
}

export class ELU extends Module {
  constructor(readonly alpha = 1.0) { super(); }
  override forward(x: Array): Array { return elu(x, this.alpha); }
}

export class CELU extends Module {
  constructor(readonly alpha = 1.0) { super(); }
  override forward(x: Array): Array { return celu(x, this.alpha); }
}

export class Softshrink extends Module {
  constructor(readonly lambd = 0.5) { super(); }
  override forward(x: Array): Array { return softshrink(x, this.lambd); }
}

export class HardShrink extends Module {
  constructor(readonly lambd = 0.5) { super(); }
  override forward(x: Array): Array { return hardShrink(x, this.lambd); }
}

export class HardTanh extends Module {
  constructor(readonly minVal = -1.0, readonly maxVal = 1.0) { super(); }
  override forward(x: Array): Array { return hardTanh(x, this.minVal, this.maxVal); }
}

export class Softmax extends Module {
  constructor(readonly axis = -1) { super(); }
  override forward(x: Array): Array { return softmax(x, this.axis); }
}

export class Softmin extends Module {
  constructor(readonly axis = -1) { super(); }
  override forward(x: Array): Array { return softmin(x, this.axis); }
}

export class LogSoftmax extends Module {
  constructor(readonly axis = -1) { super(); }
  override forward(x: Array): Array { return logSoftmax(x, this.axis); }
}

export class GLU extends Module {
  constructor(readonly axis = -1) { super(); }
  override forward(x: Array): Array { return glu(x, this.axis); }
}

export class Step extends Module {
  constructor(readonly threshold = 0.0) { super(); }
  override forward(x: Array): Array { return step(x, this.threshold); }
}

/** max(0, x) + a min(0, x) with a learned `weight` of `numParameters` slopes (broadcast on the last axis). */
export class PReLU extends Module {
  weight: Array;
  constructor(numParameters = 1, init = 0.25) {
    super();
    this.weight = mx.full([numParameters], init);
  }
  override forward(x: Array): Array { return prelu(x, this.weight); }
}

/** GELU; `approx`: 'none' (exact), 'precise' or 'tanh' (geluApprox), 'fast' (geluFastApprox). */
export class GELU extends Module {
  private readonly _act: (x: Array) => Array;
  constructor(readonly approx: 'none' | 'precise' | 'tanh' | 'fast' = 'none') {
    super();
    const act = { none: gelu, precise: geluApprox, tanh: geluApprox, fast: geluFastApprox }[approx];
    if (!act) throw new Error(`[GELU] approx must be 'none', 'precise', 'tanh' or 'fast', got '${approx}'`);
    this._act = act;
  }
  override forward(x: Array): Array { return this._act(x); }
}
