// Normalization layers as mlx.nn: LayerNorm, RMSNorm, GroupNorm, InstanceNorm, BatchNorm.
// Features are on the last axis. Statistics of half-precision inputs are computed in float32.
import * as mx from '../../core/index.js';
import type { Array } from '../../core/index.js';
import { Module } from '../module.js';
import { layerNorm, rmsNorm } from '../../fast/norm.js';

const isHalf = (x: Array) => x.dtype.isFloat && x.dtype.size === 2;
/** The dtype statistics are computed in: float32 for halves and integers, else the input's. */
const statsInput = (x: Array): Array => (isHalf(x) || !x.dtype.isFloat ? mx.astype(x, 'float32') : x);

/** (x - mean) / sqrt(var + eps) over `axes`. */
function standardize(x: Array, axes: number[], eps: number): Array {
  const mean = mx.mean(x, axes, true);
  const centered = mx.subtract(x, mean);
  return mx.multiply(centered, mx.rsqrt(mx.add(mx.mean(mx.square(centered), axes, true), eps)));
}

function checkFeatures(where: string, x: Array, dims: number): void {
  if (x.ndim === 0 || x.shape[x.ndim - 1] !== dims)
    throw new Error(`[${where}] expected an input whose last axis has ${dims} features, got shape (${x.shape.join(',')})`);
}

/** The functional forms are lathe/fast's (fused kernels where the backend has them). */
export { layerNorm, rmsNorm };

/** Layer normalization over the last axis, with a learned scale (`weight`) and shift (`bias`). */
export class LayerNorm extends Module {
  declare weight?: Array;
  declare bias?: Array;

  constructor(readonly dims: number, readonly eps = 1e-5, affine = true, bias = true) {
    super();
    if (affine) {
      this.weight = mx.ones([dims]);
      if (bias) this.bias = mx.zeros([dims]);
    }
  }

  protected override extraRepr(): string { return `${this.dims}, eps=${this.eps}, affine=${this.weight !== undefined}`; }

  override forward(x: Array): Array {
    checkFeatures('LayerNorm', x, this.dims);
    return layerNorm(x, this.weight ?? null, this.bias ?? null, this.eps);
  }
}

/** Root-mean-square normalization over the last axis, with a learned scale (`weight`). */
export class RMSNorm extends Module {
  weight: Array;

  constructor(dims: number, readonly eps = 1e-5) {
    super();
    this.weight = mx.ones([dims]);
  }

  protected override extraRepr(): string { return `${this.weight.shape[0]}, eps=${this.eps}`; }

  override forward(x: Array): Array {
    checkFeatures('RMSNorm', x, this.weight.shape[0]);
    return rmsNorm(x, this.weight, this.eps);
  }
}

/**
 * Group normalization: the features (last axis) are split into `numGroups` groups and each
 * is standardized over the spatial axes (all but the first and last) and its features.
 * MLX's default grouping takes every numGroups-th feature into one group; with
 * `pytorchCompatible` the groups are contiguous blocks of features, as PyTorch's.
 */
export class GroupNorm extends Module {
  declare weight?: Array;
  declare bias?: Array;

  constructor(readonly numGroups: number, readonly dims: number, readonly eps = 1e-5, affine = true, readonly pytorchCompatible = false) {
    super();
    if (dims % numGroups !== 0) throw new Error(`[GroupNorm] dims (${dims}) must be divisible by numGroups (${numGroups})`);
    if (affine) {
      this.bias = mx.zeros([dims]);
      this.weight = mx.ones([dims]);
    }
  }

  protected override extraRepr(): string {
    return `${this.numGroups}, ${this.dims}, eps=${this.eps}, affine=${this.weight !== undefined}, pytorchCompatible=${this.pytorchCompatible}`;
  }

  override forward(x: Array): Array {
    checkFeatures('GroupNorm', x, this.dims);
    if (x.ndim < 2) throw new Error(`[GroupNorm] expected an input of shape (batch, ..., ${this.dims}), got shape (${x.shape.join(',')})`);
    const batch = x.shape[0], g = this.numGroups, groupSize = this.dims / g;
    const xs = statsInput(x);
    let y: Array;
    if (this.pytorchCompatible) {
      const grouped = mx.reshape(mx.transpose(mx.reshape(xs, [batch, -1, g, groupSize]), [0, 2, 1, 3]), [batch, g, -1]);
      const normed = mx.reshape(standardize(grouped, [-1], this.eps), [batch, g, -1, groupSize]);
      y = mx.reshape(mx.transpose(normed, [0, 2, 1, 3]), x.shape);
    } else {
      y = mx.reshape(standardize(mx.reshape(xs, [batch, -1, g]), [1], this.eps), x.shape);
    }
    y = mx.astype(y, x.dtype.isFloat ? x.dtype : 'float32');
    return this.weight ? mx.add(mx.multiply(this.weight, y), this.bias!) : y;
  }
}

/** Instance normalization: each channel (last axis) standardized over the spatial axes (all but first and last). */
export class InstanceNorm extends Module {
  declare weight?: Array;
  declare bias?: Array;

  constructor(readonly dims: number, readonly eps = 1e-5, affine = false) {
    super();
    if (affine) {
      this.weight = mx.ones([dims]);
      this.bias = mx.zeros([dims]);
    }
  }

  protected override extraRepr(): string { return `${this.dims}, eps=${this.eps}, affine=${this.weight !== undefined}`; }

  override forward(x: Array): Array {
    checkFeatures('InstanceNorm', x, this.dims);
    if (x.ndim < 3) throw new Error(`[InstanceNorm] expected an input of shape (batch, ..., ${this.dims}) with at least one spatial axis, got shape (${x.shape.join(',')})`);
    const axes = globalThis.Array.from({ length: x.ndim - 2 }, (_, i) => i + 1);
    const y = mx.astype(standardize(statsInput(x), axes, this.eps), x.dtype.isFloat ? x.dtype : 'float32');
    return this.weight ? mx.add(mx.multiply(this.weight, y), this.bias!) : y;
  }
}

/**
 * Batch normalization over inputs of shape (N, C), (N, L, C) or (N, H, W, C). In training
 * mode it normalizes with the batch's statistics and updates `running_mean` / `running_var`
 * (momentum-weighted, biased variance as MLX); in eval mode it uses the running statistics.
 * The running statistics are never trainable, even after unfreeze().
 */
export class BatchNorm extends Module {
  declare weight?: Array;
  declare bias?: Array;
  declare running_mean?: Array;
  declare running_var?: Array;

  constructor(readonly numFeatures: number, readonly eps = 1e-5, readonly momentum = 0.1, affine = true, readonly trackRunningStats = true) {
    super();
    if (affine) {
      this.weight = mx.ones([numFeatures]);
      this.bias = mx.zeros([numFeatures]);
    }
    if (trackRunningStats) {
      this.running_mean = mx.zeros([numFeatures]);
      this.running_var = mx.ones([numFeatures]);
      this.freezeOwn(['running_mean', 'running_var'], false);
    }
  }

  protected override unfreezeOwn(keys: string | readonly string[] | null, strict: boolean): void {
    super.unfreezeOwn(keys, strict);
    if (this.trackRunningStats) this.freezeOwn(['running_mean', 'running_var'], false);
  }

  protected override extraRepr(): string {
    return `${this.numFeatures}, eps=${this.eps}, momentum=${this.momentum}, affine=${this.weight !== undefined}, trackRunningStats=${this.trackRunningStats}`;
  }

  override forward(x: Array): Array {
    if (x.ndim < 2 || x.ndim > 4) throw new Error(`[BatchNorm] expected an input with 2, 3 or 4 dimensions (N, ..., C), got shape (${x.shape.join(',')})`);
    checkFeatures('BatchNorm', x, this.numFeatures);
    const axes = globalThis.Array.from({ length: x.ndim - 1 }, (_, i) => i);
    let mean = mx.mean(x, axes), variance = mx.variance(x, axes);
    if (this.training && this.trackRunningStats) {
      const mu = this.momentum;
      this.running_mean = mx.add(mx.multiply(this.running_mean!, 1 - mu), mx.multiply(mean, mu));
      this.running_var = mx.add(mx.multiply(this.running_var!, 1 - mu), mx.multiply(variance, mu));
    } else if (this.trackRunningStats) {
      mean = this.running_mean!;
      variance = this.running_var!;
    }
    const y = mx.multiply(mx.subtract(x, mean), mx.rsqrt(mx.add(variance, this.eps)));
    return this.weight ? mx.add(mx.multiply(this.weight, y), this.bias!) : y;
  }
}
