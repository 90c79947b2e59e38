// Per-coordinate adaptive learning rates: RMSprop, Adagrad, AdaDelta.
import * as mx from '../core/index.js';
import { Optimizer, LearningRate, ParamState } from './optimizer.js';
import { parseArgs, checkNumber } from './args.js';

export interface RMSpropOptions {
  learningRate: LearningRate;
  /** Smoothing constant α. Default 0.99. */
  alpha?: number;
  /** Added to the denominator. Default 1e-8. */
  eps?: number;
}

/** RMSprop (Tieleman and Hinton, 2012): v ← α v + (1 − α) g², w ← w − λ g / (√v + ε). PyTorch's rule with momentum 0, not centered. */
export class RMSprop extends Optimizer {
  alpha: number;
  eps: number;

  constructor(options: RMSpropOptions);
  constructor(learningRate: LearningRate, options?: Omit<RMSpropOptions, 'learningRate'>);
  constructor(learningRate: LearningRate, alpha?: number, eps?: number);
  constructor(...args: unknown[]) {
    super();
    const o = parseArgs<RMSpropOptions>('RMSprop', ['learningRate', 'alpha', 'eps'], args);
    if (o.learningRate === undefined) throw new Error('[RMSprop] learningRate is required');
    this.alpha = checkNumber('RMSprop', 'alpha', o.alpha ?? 0.99, 0);
    this.eps = checkNumber('RMSprop', 'eps', o.eps ?? 1e-8, 0);
    this.maybeSchedule('learningRate', o.learningRate);
  }

  protected initSingle(parameter: mx.Array, state: ParamState): void {
    state.v = mx.zerosLike(parameter);
  }

  protected applySingle(gradient: mx.Array, parameter: mx.Array, state: ParamState): mx.Array {
    const v = mx.add(mx.multiply(this.alpha, state.v), mx.multiply(1 - this.alpha, mx.square(gradient)));
    state.v = v;
    return mx.subtract(parameter, mx.divide(mx.multiply(this.lr(gradient), gradient), mx.add(mx.sqrt(v), this.eps)));
  }
}

export interface AdagradOptions {
  learningRate: LearningRate;
  /** Added to the denominator. Default 1e-8 (PyTorch's default is 1e-10). */
  eps?: number;
}

/** Adagrad (Duchi et al., 2011): v ← v + g², w ← w − λ g / (√v + ε). */
export class Adagrad extends Optimizer {
  eps: number;

  constructor(options: AdagradOptions);
  constructor(learningRate: LearningRate, options?: Omit<AdagradOptions, 'learningRate'>);
  constructor(learningRate: LearningRate, eps?: number);
  constructor(...args: unknown[]) {
    super();
    const o = parseArgs<AdagradOptions>('Adagrad', ['learningRate', 'eps'], args);
    if (o.learningRate === undefined) throw new Error('[Adagrad] learningRate is required');
    this.eps = checkNumber('Adagrad', 'eps', o.eps ?? 1e-8, 0);
    this.maybeSchedule('learningRate', o.learningRate);
  }

  protected initSingle(parameter: mx.Array, state: ParamState): void {
    state.v = mx.zerosLike(parameter);
  }

  protected applySingle(gradient: mx.Array, parameter: mx.Array, state: ParamState): mx.Array {
    const v = mx.add(state.v, mx.square(gradient));
    state.v = v;
    return mx.subtract(parameter, mx.divide(mx.multiply(this.lr(gradient), gradient), mx.add(mx.sqrt(v), this.eps)));
  }
}

export interface AdaDeltaOptions {
  learningRate: LearningRate;
  /** Decay of the running averages ρ. Default 0.9. */
  rho?: number;
  /** Added inside the square roots. Default 1e-6. */
  eps?: number;
}

/**
 * AdaDelta (Zeiler, 2012) with a learning rate: v ← ρ v + (1 − ρ) g²,
 * Δ = √(u + ε) / √(v + ε) · g, u ← ρ u + (1 − ρ) Δ², w ← w − λ Δ. PyTorch's rule.
 */
export class AdaDelta extends Optimizer {
  rho: number;
  eps: number;

  constructor(options: AdaDeltaOptions);
  constructor(learningRate: LearningRate, options?: Omit<AdaDeltaOptions, 'learningRate'>);
  constructor(learningRate: LearningRate, rho?: number, eps?: number);
  constructor(...args: unknown[]) {
    super();
    const o = parseArgs<AdaDeltaOptions>('AdaDelta', ['learningRate', 'rho', 'eps'], args);
    if (o.learningRate === undefined) throw new Error('[AdaDelta] learningRate is required');
    this.rho = checkNumber('AdaDelta', 'rho', o.rho ?? 0.9, 0);
    this.eps = checkNumber('AdaDelta', 'eps', o.eps ?? 1e-6, 0);
    this.maybeSchedule('learningRate', o.learningRate);
  }

  protected initSingle(parameter: mx.Array, state: ParamState): void {
    state.v = mx.zerosLike(parameter);
    state.u = mx.zerosLike(parameter);
  }

  protected applySingle(gradient: mx.Array, parameter: mx.Array, state: ParamState): mx.Array {
    const { rho, eps } = this;
    const v = mx.add(mx.multiply(rho, state.v), mx.multiply(1 - rho, mx.square(gradient)));
    const d = mx.multiply(mx.divide(mx.sqrt(mx.add(state.u, eps)), mx.sqrt(mx.add(v, eps))), gradient);
    state.u = mx.add(mx.multiply(rho, state.u), mx.multiply(1 - rho, mx.square(d)));
    state.v = v;
    return mx.subtract(parameter, mx.multiply(this.lr(gradient), d));
  }
}
