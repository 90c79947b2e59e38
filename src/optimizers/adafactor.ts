// Adafactor (Shazeer and Stern, 2018): second moments of matrices kept as row and column
// averages, so the state is sublinear in the parameter's size.
import * as mx from '../core/index.js';
import { Optimizer, LearningRate, ParamState, computeDtype } from './optimizer.js';
import { parseArgs, checkNumber } from './args.js';

export interface AdafactorOptions {
  /** Used only when relativeStep is false. Default none. */
  learningRate?: LearningRate;
  /** [ε1 added to g², ε2 the floor of the parameter scale]. Default [1e-30, 1e-3]. */
  eps?: [number, number];
  /** Clips the unscaled update's RMS at this value. Default 1. */
  clipThreshold?: number;
  /** β2 at step t is 1 − t^decayRate. Default −0.8. */
  decayRate?: number;
  /** Keep a first moment with this β1 (null: none). Default null. */
  beta1?: number | null;
  /** Decoupled weight decay. Default 0. */
  weightDecay?: number;
  /** Scale the step by max(ε2, RMS(w)). Default true. */
  scaleParameter?: boolean;
  /** Use the step size min(1e-2, 1/√t) instead of learningRate. Default true. */
  relativeStep?: boolean;
  /** With relativeStep: min(1e-6 t, 1/√t). Default false. */
  warmupInit?: boolean;
}

const rms = (x: mx.Array) => mx.sqrt(mx.mean(mx.square(x)));

/**
 * Adafactor, as mlx.optimizers.Adafactor and Hugging Face's transformers.Adafactor. Values
 * of two or more dimensions keep row and column averages of g² over the last two axes.
 */
export class Adafactor extends Optimizer {
  eps: [number, number];
  clipThreshold: number;
  decayRate: number;
  beta1: number | null;
  weightDecay: number;
  scaleParameter: boolean;
  relativeStep: boolean;
  warmupInit: boolean;

  constructor(options?: AdafactorOptions);
  constructor(learningRate: LearningRate | null, options?: Omit<AdafactorOptions, 'learningRate'>);
  constructor(learningRate?: LearningRate | null, eps?: [number, number], clipThreshold?: number, decayRate?: number, beta1?: number | null,
    weightDecay?: number, scaleParameter?: boolean, relativeStep?: boolean, warmupInit?: boolean);
  constructor(...args: unknown[]) {
    super();
    const o = parseArgs<AdafactorOptions>('Adafactor', ['learningRate', 'eps', 'clipThreshold', 'decayRate', 'beta1', 'weightDecay',
      'scaleParameter', 'relativeStep', 'warmupInit'], args.length === 1 && args[0] === null ? [] : args);
    const eps = o.eps ?? [1e-30, 1e-3];
    if (!Array.isArray(eps) || eps.length !== 2 || eps.some((e) => typeof e !== 'number'))
      throw new Error(`[Adafactor] eps must be two numbers, got ${JSON.stringify(eps)}`);
    this.eps = [eps[0], eps[1]];
    this.clipThreshold = checkNumber('Adafactor', 'clipThreshold', o.clipThreshold ?? 1);
    this.decayRate = checkNumber('Adafactor', 'decayRate', o.decayRate ?? -0.8);
    this.beta1 = o.beta1 ?? null;
    this.weightDecay = checkNumber('Adafactor', 'weightDecay', o.weightDecay ?? 0);
    this.scaleParameter = o.scaleParameter ?? true;
    this.relativeStep = o.relativeStep ?? true;
    this.warmupInit = o.warmupInit ?? false;
    if (o.learningRate !== undefined && o.learningRate !== null) this.maybeSchedule('learningRate', o.learningRate);
    else if (!this.relativeStep) throw new Error('[Adafactor] relativeStep false needs a learningRate');
  }

  protected initSingle(parameter: mx.Array, state: ParamState): void {
    const { shape, dtype } = parameter;
    if (parameter.ndim >= 2) {
      state.expAvgSqRow = mx.zeros(shape.slice(0, -1), dtype);
      state.expAvgSqCol = mx.zeros([...shape.slice(0, -2), shape[shape.length - 1]], dtype);
    } else {
      state.expAvgSq = mx.zerosLike(parameter);
    }
    if (this.beta1 !== null) state.expAvg = mx.zerosLike(parameter);
  }

  protected applySingle(gradient: mx.Array, parameter: mx.Array, state: ParamState): mx.Array {
    const dt = parameter.dtype;
    const cd = computeDtype(dt);
    const t = mx.astype(this.step, cd);
    const paramRms = rms(parameter);
    const relative = this.relativeStep
      ? mx.minimum(this.warmupInit ? mx.multiply(1e-6, t) : 1e-2, mx.rsqrt(t))
      : this.learningRate;
    const rel = mx.astype(relative, dt);
    const lr = this.scaleParameter ? mx.multiply(mx.maximum(this.eps[1], paramRms), rel) : rel;
    const beta2 = mx.astype(mx.subtract(1, mx.power(t, this.decayRate)), dt);
    const keep = mx.subtract(1, beta2);
    let update = mx.add(mx.square(gradient), this.eps[0]);

    if (gradient.ndim >= 2) {
      const row = mx.add(mx.multiply(beta2, state.expAvgSqRow), mx.multiply(keep, mx.mean(update, -1)));
      const col = mx.add(mx.multiply(beta2, state.expAvgSqCol), mx.multiply(keep, mx.mean(update, -2)));
      state.expAvgSqRow = row;
      state.expAvgSqCol = col;
      // The outer product of the row and column factors, per matrix of the last two axes.
      const r = mx.rsqrt(mx.divide(row, mx.mean(row, -1, true)));
      const c = mx.rsqrt(col);
      update = mx.multiply(mx.multiply(mx.expandDims(r, -1), mx.expandDims(c, -2)), gradient);
    } else {
      const sq = mx.add(mx.multiply(beta2, state.expAvgSq), mx.multiply(keep, update));
      state.expAvgSq = sq;
      update = mx.multiply(mx.rsqrt(sq), gradient);
    }
    update = mx.divide(update, mx.maximum(1, mx.divide(rms(update), this.clipThreshold)));
    update = mx.multiply(lr, update);
    if (this.beta1 !== null) {
      const avg = mx.add(mx.multiply(this.beta1, state.expAvg), mx.multiply(1 - this.beta1, update));
      state.expAvg = avg;
      update = avg;
    }
    let w = parameter;
    if (this.weightDecay !== 0) w = mx.add(w, mx.multiply(w, mx.multiply(-this.weightDecay, lr)));
    return mx.subtract(w, update);
  }
}
