// Max and average pooling over the spatial axes of channels-last inputs (N, spatial..., C),
// as mlx.nn. A window of size k with stride s reduces over k^d strided views of the padded
// input (one per position inside the window), so no windowed copy is built and gradients
// flow through plain slices. Max pools pad with -inf, average pools with zeros (which
// count in the average, as MLX and PyTorch's count_include_pad).
import * as mx from '../../core/index.js';
import type { Array } from '../../core/index.js';
import { Module } from '../module.js';

type PerDim = number | readonly number[];

function perDim(where: string, name: string, v: PerDim, d: number, min: number): number[] {
  const list = typeof v === 'number' ? new globalThis.Array<number>(d).fill(v) : [...v];
  if (list.length !== d || list.some((x) => !Number.isInteger(x) || x < min))
    throw new Error(`[${where}] ${name} must be an integer >= ${min} or a list of ${d} of them, got ${JSON.stringify(v)}`);
  return list;
}

abstract class Pool extends Module {
  readonly kernelSize: number[];
  readonly stride: number[];
  readonly padding: number[];

  constructor(private readonly where: string, private readonly dims: number, private readonly kind: 'max' | 'avg',
    kernelSize: PerDim, stride: PerDim | null, padding: PerDim) {
    super();
    this.kernelSize = perDim(where, 'kernelSize', kernelSize, dims, 1);
    this.stride = stride === null || stride === undefined ? [...this.kernelSize] : perDim(where, 'stride', stride, dims, 1);
    this.padding = perDim(where, 'padding', padding, dims, 0);
  }

  override forward(x: Array): Array {
    const d = this.dims;
    if (x.ndim !== d + 2) throw new Error(`[${this.where}] expected a ${d + 2}-D input (N, ${['L', 'H, W', 'D, H, W'][d - 1]}, C), got shape (${x.shape.join(',')})`);
    if (this.padding.some((p) => p > 0)) {
      const widths = [[0, 0], ...this.padding.map((p) => [p, p]), [0, 0]];
      x = mx.pad(x, widths, 'constant', this.kind === 'max' ? -Infinity : 0);
    }
    const spatial = x.shape.slice(1, -1);
    const out = spatial.map((n, i) => Math.floor((n - this.kernelSize[i]) / this.stride[i]) + 1);
    if (out.some((o) => o < 1))
      throw new Error(`[${this.where}] the padded input (${spatial.join(',')}) is smaller than the kernel (${this.kernelSize.join(',')})`);
    let acc: Array | null = null;
    for (const offset of windowOffsets(this.kernelSize)) {
      const start = [0, ...offset, 0];
      const stop = [x.shape[0], ...offset.map((k, i) => k + (out[i] - 1) * this.stride[i] + 1), x.shape[x.ndim - 1]];
      const view = mx.stridedSlice(x, start, stop, [1, ...this.stride, 1]);
      acc = acc === null ? view : this.kind === 'max' ? mx.maximum(acc, view) : mx.add(acc, view);
    }
    const count = this.kernelSize.reduce((p, k) => p * k, 1);
    return this.kind === 'max' ? acc! : mx.divide(acc!, count);
  }

  protected override extraRepr(): string {
    return `kernelSize=(${this.kernelSize.join(',')}), stride=(${this.stride.join(',')}), padding=(${this.padding.join(',')})`;
  }
}

/** Every position inside a window, in row-major order. */
function windowOffsets(kernel: number[]): number[][] {
  let out: number[][] = [[]];
  for (const k of kernel) out = out.flatMap((o) => globalThis.Array.from({ length: k }, (_, i) => [...o, i]));
  return out;
}

/** Max over sliding windows of (N, L, C); stride defaults to the kernel size. */
export class MaxPool1d extends Pool {
  constructor(kernelSize: PerDim, stride: PerDim | null = null, padding: PerDim = 0) { super('MaxPool1d', 1, 'max', kernelSize, stride, padding); }
}
/** Average over sliding windows of (N, L, C); stride defaults to the kernel size. */
export class AvgPool1d extends Pool {
  constructor(kernelSize: PerDim, stride: PerDim | null = null, padding: PerDim = 0) { super('AvgPool1d', 1, 'avg', kernelSize, stride, padding); }
}
/** Max over sliding windows of (N, H, W, C). */
export class MaxPool2d extends Pool {
  constructor(kernelSize: PerDim, stride: PerDim | null = null, padding: PerDim = 0) { super('MaxPool2d', 2, 'max', kernelSize, stride, padding); }
}
/** Average over sliding windows of (N, H, W, C). */
export class AvgPool2d extends Pool {
  constructor(kernelSize: PerDim, stride: PerDim | null = null, padding: PerDim = 0) { super('AvgPool2d', 2, 'avg', kernelSize, stride, padding); }
}
/** Max over sliding windows of (N, D, H, W, C). */
export class MaxPool3d extends Pool {
  constructor(kernelSize: PerDim, stride: PerDim | null = null, padding: PerDim = 0) { super('MaxPool3d', 3, 'max', kernelSize, stride, padding); }
}
/** Average over sliding windows of (N, D, H, W, C). */
export class AvgPool3d extends Pool {
  constructor(kernelSize: PerDim, stride: PerDim | null = null, padding: PerDim = 0) { super('AvgPool3d', 3, 'avg', kernelSize, stride, padding); }
}
