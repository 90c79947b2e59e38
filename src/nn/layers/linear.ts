// Identity, Linear and Bilinear, initialized as MLX: uniform on ±1/sqrt(input dims).
import * as mx from '../../core/index.js';
import type { Array } from '../../core/index.js';
import { Module } from '../module.js';

/** Returns its input unchanged (any constructor arguments are ignored). */
export class Identity extends Module {
  constructor(..._args: unknown[]) { super(); }
  override forward(x: Array): Array { return x; }
}

/** y = x Wᵀ + b, with `weight` of shape (outputDims, inputDims) and `bias` of shape (outputDims,). */
export class Linear extends Module {
  weight: Array;
  declare bias?: Array;

  constructor(inputDims: number, outputDims: number, bias = true) {
    super();
    const scale = Math.sqrt(1 / inputDims);
    this.weight = mx.random.uniform(-scale, scale, [outputDims, inputDims]);
    if (bias) this.bias = mx.random.uniform(-scale, scale, [outputDims]);
  }

  protected override extraRepr(): string {
    return `inputDims=${this.weight.shape[1]}, outputDims=${this.weight.shape[0]}, bias=${this.bias !== undefined}`;
  }

  override forward(x: Array): Array {
    const wt = mx.transpose(this.weight);
    return this.bias !== undefined ? mx.addmm(this.bias, x, wt) : mx.matmul(x, wt);
  }
}

/**
 * y_i = x1ᵀ W_i x2 + b_i, with `weight` of shape (outputDims, input2Dims, input1Dims) (MLX's
 * layout) and `bias` of shape (outputDims,).
 */
export class Bilinear extends Module {
  weight: Array;
  declare bias?: Array;

  constructor(input1Dims: number, input2Dims: number, outputDims: number, bias = true) {
    super();
    const scale = Math.sqrt(1 / input1Dims);
    this.weight = mx.random.uniform(-scale, scale, [outputDims, input2Dims, input1Dims]);
    if (bias) this.bias = mx.random.uniform(-scale, scale, [outputDims]);
  }

  protected override extraRepr(): string {
    const [out, in2, in1] = this.weight.shape;
    return `input1Dims=${in1}, input2Dims=${in2}, outputDims=${out}, bias=${this.bias !== undefined}`;
  }

  override forward(x1: Array, x2: Array): Array {
    const [out, in2, in1] = this.weight.shape;
    if (x1.shape[x1.ndim - 1] !== in1 || x2.shape[x2.ndim - 1] !== in2)
      throw new Error(`[Bilinear] expected inputs with last dims ${in1} and ${in2}, got shapes (${x1.shape.join(',')}) and (${x2.shape.join(',')})`);
    const lead = x1.shape.slice(0, -1);
    // (n, in1) @ (in1, out*in2) -> (n, out, in2); then each row's (1, in2) @ (in2, out).
    const a = mx.matmul(mx.reshape(x1, [-1, in1]), mx.transpose(mx.reshape(this.weight, [out * in2, in1])));
    const y = mx.matmul(mx.reshape(x2, [-1, 1, in2]), mx.swapaxes(mx.reshape(a, [-1, out, in2]), -2, -1));
    const res = mx.reshape(mx.squeeze(y, 1), [...lead, out]);
    return this.bias !== undefined ? mx.add(res, this.bias) : res;
  }
}
