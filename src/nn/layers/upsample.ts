// Spatial upsampling of channels-last inputs (N, spatial..., C), as mlx.nn.Upsample:
// nearest neighbour, linear (bilinear, trilinear, ...) and cubic interpolation, with MLX's
// sampling grids (half-pixel centers, or alignCorners).
import * as mx from '../../core/index.js';
import type { Array } from '../../core/index.js';
import { Module } from '../module.js';

export type UpsampleMode = 'nearest' | 'linear' | 'cubic';

/** Source coordinates (float32) of the M = floor(scale * N) outputs along one axis. */
function scaledIndices(N: number, scale: number, alignCorners: boolean): Float32Array {
  const M = Math.floor(scale * N);
  const out = new Float32Array(M);
  if (alignCorners) {
    const step = Math.fround(M > 1 ? (N - 1) / (M - 1) : 0);
    for (let i = 0; i < M; i++) out[i] = i * step;
  } else {
    // In float32 as MLX (the grid is an arange times a scalar).
    const step = Math.fround(1 / scale), start = Math.fround(((M - 1) * (1 / scale) - N + 1) / 2);
    for (let i = 0; i < M; i++) out[i] = Math.fround(i * step) - start;
  }
  return out;
}

/** An int32 index vector shaped to broadcast along spatial axis `dim` of a `dims`-axis grid. */
function along(values: ArrayLike<number>, dim: number, dims: number): Array {
  const shape = new globalThis.Array<number>(dims).fill(1);
  shape[dim] = values.length;
  return mx.reshape(mx.array(Int32Array.from(values)), shape);
}
function weightsAlong(values: ArrayLike<number>, dim: number, dims: number): Array {
  const shape = new globalThis.Array<number>(dims + 1).fill(1);
  shape[dim] = values.length;
  return mx.reshape(mx.array(Float32Array.from(values)), shape);
}

const rint = (x: number) => { const r = Math.round(x); return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r; };

export function upsampleNearest(x: Array, scale: readonly number[]): Array {
  const dims = x.ndim - 2;
  if (scale.every(Number.isInteger)) {
    // Integer scales: repeat each element by broadcasting (no gather).
    const shape = [x.shape[0]];
    for (let d = 0; d < dims; d++) shape.push(x.shape[d + 1], 1);
    shape.push(x.shape[x.ndim - 1]);
    const big = shape.slice();
    for (let d = 0; d < dims; d++) big[2 + 2 * d] = scale[d];
    const out = [x.shape[0], ...x.shape.slice(1, -1).map((n, d) => n * scale[d]), x.shape[x.ndim - 1]];
    return mx.reshape(mx.broadcastTo(mx.reshape(x, shape), big), out);
  }
  const idx = x.shape.slice(1, -1).map((N, d) => {
    const M = Math.floor(scale[d] * N);
    const v = new Float32Array(M);
    for (let i = 0; i < M; i++) v[i] = M > N ? rint(Math.fround(Math.fround((i + 0.5) * Math.fround(N / M)) - 0.5)) : Math.fround(i * Math.fround(N / M));
    return along(Uint32Array.from(v, Math.trunc), d, dims);
  });
  return mx.index(x, mx.s(), ...idx);
}

type Tap = [Array, Array]; // indices along one axis, and their weights

function linearTaps(N: number, scale: number, alignCorners: boolean, d: number, dims: number): Tap[] {
  const src = scaledIndices(N, scale, alignCorners).map((v) => Math.min(Math.max(v, 0), N - 1));
  const lo = src.map(Math.floor), hi = src.map(Math.ceil), w = src.map((v, i) => v - lo[i]);
  return [[along(lo, d, dims), weightsAlong(w.map((v) => 1 - v), d, dims)], [along(hi, d, dims), weightsAlong(w, d, dims)]];
}

/** Keys' cubic convolution with a = -0.75 (as PyTorch without antialiasing), border-clamped. */
function cubicTaps(N: number, scale: number, alignCorners: boolean, d: number, dims: number): Tap[] {
  const src = scaledIndices(N, scale, alignCorners);
  const a = -0.75;
  const near = (t: number) => ((a + 2) * t - (a + 3)) * t * t + 1;
  const far = (t: number) => (((t - 5) * t + 8) * t - 4) * a;
  const clamp = (v: number) => Math.min(Math.max(v, 0), N - 1);
  const taps: [number, (t: number) => number][] = [[0, near], [1, near], [-1, far], [2, far]];
  return taps.map(([off, f]) => {
    const pos = src.map((v) => Math.floor(v) + off);
    return [along(pos.map(clamp), d, dims), weightsAlong(pos.map((p, i) => f(Math.abs(src[i] - p))), d, dims)];
  });
}

function interpolate(x: Array, scale: readonly number[], alignCorners: boolean, tapsFor: typeof linearTaps): Array {
  const dims = x.ndim - 2;
  const perAxis = x.shape.slice(1, -1).map((N, d) => tapsFor(N, scale[d], alignCorners, d, dims));
  let out: Array | null = null;
  const visit = (d: number, idx: Array[], weight: Array | null) => {
    if (d === dims) {
      const term = mx.multiply(mx.astype(weight!, x.dtype.isFloat ? x.dtype : 'float32'), mx.index(x, mx.s(), ...idx));
      out = out === null ? term : mx.add(out, term);
      return;
    }
    for (const [i, w] of perAxis[d]) visit(d + 1, [...idx, i], weight === null ? w : mx.multiply(weight, w));
  };
  visit(0, [], null);
  return out!;
}

export function upsampleLinear(x: Array, scale: readonly number[], alignCorners = false): Array {
  return interpolate(x, scale, alignCorners, linearTaps);
}
export function upsampleCubic(x: Array, scale: readonly number[], alignCorners = false): Array {
  return interpolate(x, scale, alignCorners, cubicTaps);
}

/**
 * Upsamples spatial axes 1..ndim-2 by `scaleFactor` (one number, or one per spatial axis);
 * each output size is floor(scale * size).
 */
export class Upsample extends Module {
  readonly scaleFactor: number | number[];
  readonly mode: UpsampleMode;
  readonly alignCorners: boolean;

  constructor(scaleFactor: number | readonly number[], mode: UpsampleMode = 'nearest', alignCorners = false) {
    super();
    if (mode !== 'nearest' && mode !== 'linear' && mode !== 'cubic') throw new Error(`[Upsample] mode must be 'nearest', 'linear' or 'cubic', got '${String(mode)}'`);
    const list = typeof scaleFactor === 'number' ? [scaleFactor] : [...scaleFactor];
    if (list.some((s) => !(s > 0))) throw new Error(`[Upsample] scale factors must be positive, got ${JSON.stringify(scaleFactor)}`);
    this.scaleFactor = typeof scaleFactor === 'number' ? scaleFactor : list;
    this.mode = mode;
    this.alignCorners = alignCorners;
  }

  override forward(x: Array): Array {
    const dims = x.ndim - 2;
    if (dims <= 0) throw new Error(`[Upsample] the input needs at least one spatial axis (N, spatial..., C), got shape (${x.shape.join(',')})`);
    const s = this.scaleFactor;
    if (typeof s !== 'number' && s.length !== dims)
      throw new Error(`[Upsample] one scale per spatial axis is required: got ${s.length} scales for ${dims} spatial axes of (${x.shape.join(',')})`);
    const scale = typeof s === 'number' ? new globalThis.Array<number>(dims).fill(s) : s;
    if (this.mode === 'nearest') return upsampleNearest(x, scale);
    if (this.mode === 'linear') return upsampleLinear(x, scale, this.alignCorners);
    return upsampleCubic(x, scale, this.alignCorners);
  }

  protected override extraRepr(): string {
    return `scaleFactor=${JSON.stringify(this.scaleFactor)}, mode='${this.mode}', alignCorners=${this.alignCorners}`;
  }
}
