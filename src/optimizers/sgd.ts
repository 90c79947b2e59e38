// Stochastic gradient descent with momentum, dampening, Nesterov momentum and weight decay.
import * as mx from '../core/index.js';
import { Optimizer, LearningRate, ParamState } from './optimizer.js';
import { parseArgs, checkNumber } from './args.js';

export interface SGDOptions {
  learningRate: LearningRate;
  /** Momentum strength μ. Default 0. */
  momentum?: number;
  /** L2 penalty added to the gradient (coupled). Default 0. */
  weightDecay?: number;
  /** Dampening τ for momentum. Default 0. */
  dampening?: number;
  /** Nesterov momentum (needs momentum > 0 and no dampening). Default false. */
  nesterov?: boolean;
}

/**
 * SGD, as mlx.optimizers.SGD: v ← μ v + (1 − τ) g, w ← w − λ v (g includes weightDecay · w).
 * Momentum starts from zero, so with dampening the first step is (1 − τ) g; PyTorch's first
 * step copies g. Without dampening the two agree.
 */
export class SGD extends Optimizer {
  momentum: number;
  weightDecay: number;
  dampening: number;
  nesterov: boolean;

  constructor(options: SGDOptions);
  constructor(learningRate: LearningRate, options?: Omit<SGDOptions, 'learningRate'>);
  constructor(learningRate: LearningRate, momentum?: number, weightDecay?: number, dampening?: number, nesterov?: boolean);
  constructor(...args: unknown[]) {
    super();
    const o = parseArgs<SGDOptions>('SGD', ['learningRate', 'momentum', 'weightDecay', 'dampening', 'nesterov'], args);
    if (o.learningRate === undefined) throw new Error('[SGD] learningRate is required');
    this.momentum = checkNumber('SGD', 'momentum', o.momentum ?? 0);
    this.weightDecay = checkNumber('SGD', 'weightDecay', o.weightDecay ?? 0);
    this.dampening = checkNumber('SGD', 'dampening', o.dampening ?? 0);
    this.nesterov = o.nesterov ?? false;
    if (this.nesterov && (this.momentum <= 0 || this.dampening !== 0))
      throw new Error(`[SGD] Nesterov momentum requires a momentum and zero dampening, got momentum ${this.momentum} and dampening ${this.dampening}`);
    this.maybeSchedule('learningRate', o.learningRate);
  }

  protected initSingle(parameter: mx.Array, state: ParamState): void {
    state.v = mx.zerosLike(parameter);
  }

  protected applySingle(gradient: mx.Array, parameter: mx.Array, state: ParamState): mx.Array {
    let g = gradient;
    if (this.weightDecay !== 0) g = mx.add(g, mx.multiply(this.weightDecay, parameter));
    const lr = this.lr(g);
    if (this.momentum <= 0) return mx.subtract(parameter, mx.multiply(lr, g));
    let v = mx.multiply(this.momentum, state.v);
    v = mx.add(v, this.dampening > 0 ? mx.multiply(1 - this.dampening, g) : g);
    const update = this.nesterov ? mx.add(g, mx.multiply(this.momentum, v)) : v;
    state.v = v;
    return mx.subtract(parameter, mx.multiply(lr, update));
  }
}
