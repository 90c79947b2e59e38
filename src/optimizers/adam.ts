// Adam and its variants: Adam (optional bias correction), AdamW (decoupled weight decay), Adamax.
import * as mx from '../core/index.js';
import { Optimizer, LearningRate, ParamState, computeDtype } from './optimizer.js';
import { parseArgs, checkNumber, checkBetas } from './args.js';

export interface AdamOptions {
  learningRate: LearningRate;
  /** (β1, β2) for the running averages of g and g². Default [0.9, 0.999]. */
  betas?: [number, number];
  /** Added to the denominator. Default 1e-8. */
  eps?: number;
  /** Divide the averages by 1 − βᵗ (PyTorch always does). Default false, as MLX. */
  biasCorrection?: boolean;
}

/**
 * Adam (Kingma and Ba, 2015), as mlx.optimizers.Adam: m ← β1 m + (1 − β1) g,
 * v ← β2 v + (1 − β2) g², w ← w − λ m / (√v + ε). With `biasCorrection` it is PyTorch's
 * Adam: w ← w − λ / (1 − β1ᵗ) · m / (√v / √(1 − β2ᵗ) + ε).
 */
export class Adam extends Optimizer {
  betas: [number, number];
  eps: number;
  biasCorrection: boolean;

  constructor(options: AdamOptions);
  constructor(learningRate: LearningRate, options?: Omit<AdamOptions, 'learningRate'>);
  constructor(learningRate: LearningRate, betas?: [number, number], eps?: number, biasCorrection?: boolean);
  constructor(...args: unknown[]) {
    super();
    const o = parseArgs<AdamOptions>(this.name, ['learningRate', 'betas', 'eps', 'biasCorrection'], args);
    if (o.learningRate === undefined) throw new Error(`[${this.name}] learningRate is required`);
    this.betas = checkBetas(this.name, o.betas ?? [0.9, 0.999]);
    this.eps = checkNumber(this.name, 'eps', o.eps ?? 1e-8, 0);
    this.biasCorrection = o.biasCorrection ?? false;
    this.maybeSchedule('learningRate', o.learningRate);
  }

  protected initSingle(parameter: mx.Array, state: ParamState): void {
    state.m = mx.zerosLike(parameter);
    state.v = mx.zerosLike(parameter);
  }

  protected applySingle(gradient: mx.Array, parameter: mx.Array, state: ParamState): mx.Array {
    const [b1, b2] = this.betas;
    const m = mx.add(mx.multiply(b1, state.m), mx.multiply(1 - b1, gradient));
    const v = mx.add(mx.multiply(b2, state.v), mx.multiply(1 - b2, mx.square(gradient)));
    state.m = m;
    state.v = v;
    if (!this.biasCorrection) return mx.subtract(parameter, mx.divide(mx.multiply(this.lr(gradient), m), mx.add(mx.sqrt(v), this.eps)));
    // The corrections are scalars: computed in float32 (float64 for float64 values), then cast.
    const cd = computeDtype(gradient.dtype);
    const t = mx.astype(this.step, cd);
    const stepSize = mx.astype(mx.divide(mx.astype(this.learningRate, cd), mx.subtract(1, mx.power(b1, t))), gradient.dtype);
    const c2 = mx.astype(mx.sqrt(mx.subtract(1, mx.power(b2, t))), gradient.dtype);
    return mx.subtract(parameter, mx.divide(mx.multiply(stepSize, m), mx.add(mx.divide(mx.sqrt(v), c2), this.eps)));
  }
}

export interface AdamWOptions extends AdamOptions {
  /** Decoupled weight decay λ: w ← w (1 − lr λ) before the Adam step. Default 0.01. */
  weightDecay?: number;
}

/** AdamW (Loshchilov and Hutter, 2019): Adam on w (1 − lr · weightDecay). With `biasCorrection`, PyTorch's AdamW. */
export class AdamW extends Adam {
  weightDecay: number;

  constructor(options: AdamWOptions);
  constructor(learningRate: LearningRate, options?: Omit<AdamWOptions, 'learningRate'>);
  constructor(learningRate: LearningRate, betas?: [number, number], eps?: number, weightDecay?: number, biasCorrection?: boolean);
  constructor(...args: unknown[]) {
    const o = parseArgs<AdamWOptions>('AdamW', ['learningRate', 'betas', 'eps', 'weightDecay', 'biasCorrection'], args);
    const { weightDecay, ...adam } = o;
    super(adam as AdamOptions);
    this.weightDecay = checkNumber('AdamW', 'weightDecay', weightDecay ?? 0.01);
  }

  protected override applySingle(gradient: mx.Array, parameter: mx.Array, state: ParamState): mx.Array {
    const decayed = mx.multiply(parameter, mx.subtract(1, mx.multiply(this.lr(gradient), this.weightDecay)));
    return super.applySingle(gradient, decayed, state);
  }
}

export interface AdamaxOptions {
  learningRate: LearningRate;
  /** (β1, β2). Default [0.9, 0.999]. */
  betas?: [number, number];
  /** Added to the denominator. Default 1e-8. */
  eps?: number;
}

/**
 * Adamax (Kingma and Ba, 2015), as mlx.optimizers.Adamax: m ← β1 m + (1 − β1) g,
 * v ← max(β2 v, |g|), w ← w − λ m / (v + ε). No bias correction; PyTorch divides λ by
 * 1 − β1ᵗ and puts ε inside the max (use a schedule and eps 0 to get its rule; docs/optimizers.md).
 */
export class Adamax extends Adam {
  constructor(options: AdamaxOptions);
  constructor(learningRate: LearningRate, options?: Omit<AdamaxOptions, 'learningRate'>);
  constructor(learningRate: LearningRate, betas?: [number, number], eps?: number);
  constructor(...args: unknown[]) {
    const o = parseArgs<AdamaxOptions>('Adamax', ['learningRate', 'betas', 'eps'], args);
    super(o as AdamOptions);
  }

  protected override applySingle(gradient: mx.Array, parameter: mx.Array, state: ParamState): mx.Array {
    const [b1, b2] = this.betas;
    const m = mx.add(mx.multiply(b1, state.m), mx.multiply(1 - b1, gradient));
    const v = mx.maximum(mx.multiply(b2, state.v), mx.abs(gradient));
    state.m = m;
    state.v = v;
    return mx.subtract(parameter, mx.divide(mx.multiply(this.lr(gradient), m), mx.add(v, this.eps)));
  }
}
