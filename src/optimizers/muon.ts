// Muon (Jordan et al., 2024): momentum whose update is orthogonalized by a Newton-Schulz
// iteration for parameters of two or more dimensions.
import * as mx from '../core/index.js';
import { Optimizer, LearningRate, ParamState } from './optimizer.js';
import { parseArgs, checkNumber } from './args.js';

export interface MuonOptions {
  learningRate: LearningRate;
  /** Momentum μ. Default 0.95. */
  momentum?: number;
  /** L2 penalty added to the gradient (coupled, as MLX; PyTorch's Muon decays the weights). Default 0.01. */
  weightDecay?: number;
  /** Nesterov momentum. Default true. */
  nesterov?: boolean;
  /** Newton-Schulz iterations. Default 5. */
  nsSteps?: number;
  /** The dtype the iteration runs in (lathe's addition). Default bfloat16, as MLX and PyTorch. */
  nsDtype?: mx.DTypeLike;
}

const [A, B, C] = [3.4445, -4.775, 2.0315];

/**
 * Approximately orthogonalizes a matrix (U Vᵀ of its SVD, with singular values spread in
 * about [0.7, 1.2]) by `steps` quintic Newton-Schulz iterations in `dtype`.
 */
export function newtonSchulz5(g: mx.Array, steps = 5, dtype: mx.DTypeLike = mx.bfloat16): mx.Array {
  if (g.ndim !== 2) throw new Error(`[newtonSchulz5] expected a matrix, got shape (${g.shape.join(',')})`);
  let x = mx.astype(g, dtype);
  const tall = x.shape[0] > x.shape[1];
  if (tall) x = mx.transpose(x);
  x = mx.divide(x, mx.add(mx.linalg.norm(x, null, null, true), 1e-7));
  for (let i = 0; i < steps; i++) {
    const a = mx.matmul(x, mx.transpose(x));
    const b = mx.addmm(mx.multiply(B, a), a, a, C, 1);
    x = mx.addmm(mx.multiply(A, x), b, x, 1, 1);
  }
  return tall ? mx.transpose(x) : x;
}

/**
 * Muon, as mlx.optimizers.Muon: v ← μ v + (1 − μ) g; the update (g (1 − μ) + μ v with
 * Nesterov, else v) is orthogonalized for parameters of 2+ dimensions (flattened to
 * (rows, rest)) and scaled by √max(1, rows/cols). Parameters of fewer dimensions get the
 * momentum update as it is. Use it for hidden weight matrices; embeddings, heads, biases
 * and norms do better with AdamW (see MultiOptimizer).
 */
export class Muon extends Optimizer {
  momentum: number;
  weightDecay: number;
  nesterov: boolean;
  nsSteps: number;
  nsDtype: mx.DType;

  constructor(options: MuonOptions);
  constructor(learningRate: LearningRate, options?: Omit<MuonOptions, 'learningRate'>);
  constructor(learningRate: LearningRate, momentum?: number, weightDecay?: number, nesterov?: boolean, nsSteps?: number);
  constructor(...args: unknown[]) {
    super();
    const o = parseArgs<MuonOptions>('Muon', ['learningRate', 'momentum', 'weightDecay', 'nesterov', 'nsSteps', 'nsDtype'], args);
    if (o.learningRate === undefined) throw new Error('[Muon] learningRate is required');
    this.momentum = checkNumber('Muon', 'momentum', o.momentum ?? 0.95, 0);
    this.weightDecay = checkNumber('Muon', 'weightDecay', o.weightDecay ?? 0.01);
    this.nesterov = o.nesterov ?? true;
    this.nsSteps = checkNumber('Muon', 'nsSteps', o.nsSteps ?? 5, 0);
    this.nsDtype = mx.toDtype(o.nsDtype ?? mx.bfloat16, 'Muon');
    if (this.nsDtype.kind !== 'float') throw new Error(`[Muon] nsDtype must be a floating dtype, got ${this.nsDtype.name}`);
    this.maybeSchedule('learningRate', o.learningRate);
  }

  protected initSingle(parameter: mx.Array, state: ParamState): void {
    state.v = mx.zerosLike(parameter);
  }

  protected applySingle(gradient: mx.Array, parameter: mx.Array, state: ParamState): mx.Array {
    const mu = this.momentum;
    const g = this.weightDecay !== 0 ? mx.add(gradient, mx.multiply(this.weightDecay, parameter)) : gradient;
    const v = mx.add(mx.multiply(mu, state.v), mx.multiply(1 - mu, g));
    state.v = v;
    let update = this.nesterov ? mx.add(mx.multiply(g, 1 - mu), mx.multiply(v, mu)) : v;
    let lr = this.lr(g);
    if (update.ndim >= 2) {
      const shape = update.shape;
      const flat = mx.reshape(update, [shape[0], -1]);
      update = mx.reshape(newtonSchulz5(flat, this.nsSteps, this.nsDtype), shape);
      lr = mx.multiply(lr, Math.sqrt(Math.max(1, shape[shape.length - 2] / shape[shape.length - 1])));
    }
    return mx.subtract(parameter, mx.multiply(lr, mx.astype(update, g.dtype)));
  }
}
