// Convolution layers, channels last as MLX: inputs (N, spatial..., C_in), weights
// (C_out, kernel..., C_in / groups), outputs (N, out spatial..., C_out). Weights start
// uniform in +-sqrt(1 / (C_in * prod(kernel))), biases at zero, as MLX.
import * as mx from '../../core/index.js';
import type { Array } from '../../core/index.js';
import { Module } from '../module.js';

type PerDim = number | readonly number[];

function perDim(where: string, name: string, v: PerDim, d: number): number[] {
  const list = typeof v === 'number' ? new globalThis.Array<number>(d).fill(v) : [...v];
  if (list.length !== d || list.some((x) => !Number.isInteger(x) || x < 0))
    throw new Error(`[${where}] ${name} must be a non-negative integer or ${d} of them, got ${JSON.stringify(v)}`);
  return list;
}

function initWeight(where: string, inChannels: number, outChannels: number, kernel: number[], groups: number): Array {
  if (!Number.isInteger(groups) || groups < 1 || inChannels % groups !== 0)
    throw new Error(`[${where}] the number of input channels (${inChannels}) must be divisible by the number of groups (${groups})`);
  if (outChannels % groups !== 0) throw new Error(`[${where}] the number of output channels (${outChannels}) must be divisible by the number of groups (${groups})`);
  const scale = Math.sqrt(1 / (inChannels * kernel.reduce((p, k) => p * k, 1)));
  return mx.random.uniform(-scale, scale, [outChannels, ...kernel, inChannels / groups]);
}

/** Shared parameters and bookkeeping of the convolution layers. */
abstract class ConvBase extends Module {
  weight: Array;
  bias?: Array;
  readonly stride: number[];
  readonly padding: number[];
  readonly dilation: number[];
  readonly groups: number;

  constructor(where: string, d: number, inChannels: number, outChannels: number, kernelSize: PerDim, stride: PerDim,
    padding: PerDim, dilation: PerDim, groups: number, bias: boolean) {
    super();
    const kernel = perDim(where, 'kernelSize', kernelSize, d);
    this.weight = initWeight(where, inChannels, outChannels, kernel, groups);
    if (bias) this.bias = mx.zeros([outChannels]);
    this.stride = perDim(where, 'stride', stride, d);
    this.padding = perDim(where, 'padding', padding, d);
    this.dilation = perDim(where, 'dilation', dilation, d);
    this.groups = groups;
  }

  protected withBias(y: Array): Array { return this.bias ? mx.add(y, this.bias) : y; }

  protected override extraRepr(): string {
    const w = this.weight.shape;
    return `${w[w.length - 1] * this.groups}, ${w[0]}, kernelSize=(${w.slice(1, -1).join(',')}), stride=(${this.stride.join(',')}), ` +
      `padding=(${this.padding.join(',')}), dilation=(${this.dilation.join(',')}), groups=${this.groups}, bias=${this.has('bias')}`;
  }
}

/** 1-D convolution over (N, L, C_in). */
export class Conv1d extends ConvBase {
  constructor(inChannels: number, outChannels: number, kernelSize: number, stride = 1, padding = 0, dilation = 1, groups = 1, bias = true) {
    super('Conv1d', 1, inChannels, outChannels, kernelSize, stride, padding, dilation, groups, bias);
  }
  override forward(x: Array): Array {
    return this.withBias(mx.conv1d(x, this.weight, this.stride[0], this.padding[0], this.dilation[0], this.groups));
  }
}

/** 2-D convolution over (N, H, W, C_in). */
export class Conv2d extends ConvBase {
  constructor(inChannels: number, outChannels: number, kernelSize: PerDim, stride: PerDim = 1, padding: PerDim = 0, dilation: PerDim = 1, groups = 1, bias = true) {
    super('Conv2d', 2, inChannels, outChannels, kernelSize, stride, padding, dilation, groups, bias);
  }
  override forward(x: Array): Array {
    return this.withBias(mx.conv2d(x, this.weight, this.stride, this.padding, this.dilation, this.groups));
  }
}

/** 3-D convolution over (N, D, H, W, C_in). */
export class Conv3d extends ConvBase {
  constructor(inChannels: number, outChannels: number, kernelSize: PerDim, stride: PerDim = 1, padding: PerDim = 0, dilation: PerDim = 1, bias = true) {
    super('Conv3d', 3, inChannels, outChannels, kernelSize, stride, padding, dilation, 1, bias);
  }
  override forward(x: Array): Array {
    return this.withBias(mx.conv3d(x, this.weight, this.stride, this.padding, this.dilation));
  }
}

/** Shared parts of the transposed convolutions (weights (C_out, kernel..., C_in), as MLX). */
abstract class ConvTransposeBase extends ConvBase {
  readonly outputPadding: number[];
  constructor(where: string, d: number, inChannels: number, outChannels: number, kernelSize: PerDim, stride: PerDim, padding: PerDim,
    dilation: PerDim, outputPadding: PerDim, bias: boolean) {
    super(where, d, inChannels, outChannels, kernelSize, stride, padding, dilation, 1, bias);
    this.outputPadding = perDim(where, 'outputPadding', outputPadding, d);
  }
  protected override extraRepr(): string { return `${super.extraRepr()}, outputPadding=(${this.outputPadding.join(',')})`; }
}

/** 1-D transposed convolution over (N, L, C_in). */
export class ConvTranspose1d extends ConvTransposeBase {
  constructor(inChannels: number, outChannels: number, kernelSize: number, stride = 1, padding = 0, dilation = 1, outputPadding = 0, bias = true) {
    super('ConvTranspose1d', 1, inChannels, outChannels, kernelSize, stride, padding, dilation, outputPadding, bias);
  }
  override forward(x: Array): Array {
    return this.withBias(mx.convTranspose1d(x, this.weight, this.stride[0], this.padding[0], this.dilation[0], this.outputPadding[0]));
  }
}

/** 2-D transposed convolution over (N, H, W, C_in). */
export class ConvTranspose2d extends ConvTransposeBase {
  constructor(inChannels: number, outChannels: number, kernelSize: PerDim, stride: PerDim = 1, padding: PerDim = 0, dilation: PerDim = 1,
    outputPadding: PerDim = 0, bias = true) {
    super('ConvTranspose2d', 2, inChannels, outChannels, kernelSize, stride, padding, dilation, outputPadding, bias);
  }
  override forward(x: Array): Array {
    return this.withBias(mx.convTranspose2d(x, this.weight, this.stride, this.padding, this.dilation, this.outputPadding));
  }
}

/** 3-D transposed convolution over (N, D, H, W, C_in). */
export class ConvTranspose3d extends ConvTransposeBase {
  constructor(inChannels: number, outChannels: number, kernelSize: PerDim, stride: PerDim = 1, padding: PerDim = 0, dilation: PerDim = 1,
    outputPadding: PerDim = 0, bias = true) {
    super('ConvTranspose3d', 3, inChannels, outChannels, kernelSize, stride, padding, dilation, outputPadding, bias);
  }
  override forward(x: Array): Array {
    return this.withBias(mx.convTranspose3d(x, this.weight, this.stride, this.padding, this.dilation, this.outputPadding));
  }
}
