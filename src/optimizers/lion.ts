// Lion (Chen et al., 2023): the sign of an interpolated momentum.
import * as mx from '../core/index.js';
import { Optimizer, LearningRate, ParamState } from './optimizer.js';
import { parseArgs, checkNumber, checkBetas } from './args.js';

export interface LionOptions {
  learningRate: LearningRate;
  /** (β1, β2): β1 mixes the update direction, β2 the momentum. Default [0.9, 0.99]. */
  betas?: [number, number];
  /** Decoupled weight decay λ. Default 0. */
  weightDecay?: number;
}

/**
 * Lion, as mlx.optimizers.Lion: c = β1 m + (1 − β1) g, m ← β2 m + (1 − β2) g,
 * w ← w (1 − η λ) − η sign(c). Updates have unit size per coordinate, so use a learning
 * rate 3-10x smaller than AdamW's and a weight decay 3-10x larger.
 */
export class Lion extends Optimizer {
  betas: [number, number];
  weightDecay: number;

  constructor(options: LionOptions);
  constructor(learningRate: LearningRate, options?: Omit<LionOptions, 'learningRate'>);
  constructor(learningRate: LearningRate, betas?: [number, number], weightDecay?: number);
  constructor(...args: unknown[]) {
    super();
    const o = parseArgs<LionOptions>('Lion', ['learningRate', 'betas', 'weightDecay'], args);
    if (o.learningRate === undefined) throw new Error('[Lion] learningRate is required');
    this.betas = checkBetas('Lion', o.betas ?? [0.9, 0.99]);
    this.weightDecay = checkNumber('Lion', 'weightDecay', o.weightDecay ?? 0);
    this.maybeSchedule('learningRate', o.learningRate);
  }

  protected initSingle(parameter: mx.Array, state: ParamState): void {
    state.m = mx.zerosLike(parameter);
  }

  protected applySingle(gradient: mx.Array, parameter: mx.Array, state: ParamState): mx.Array {
    const [b1, b2] = this.betas;
    const lr = this.lr(gradient);
    const m = state.m;
    const c = mx.add(mx.multiply(b1, m), mx.multiply(1 - b1, gradient));
    state.m = mx.add(mx.multiply(b2, m), mx.multiply(1 - b2, gradient));
    const w = this.weightDecay > 0 ? mx.multiply(mx.subtract(1, mx.multiply(lr, this.weightDecay)), parameter) : parameter;
    return mx.subtract(w, mx.multiply(lr, mx.sign(c)));
  }
}
