// Convolution, channels-last like MLX: input (N, spatial..., C_in), weight
// (C_out, kernel..., C_in / groups), output (N, out spatial..., C_out).
//
// One primitive covers every convolution and both of its gradients. A convolution is the
// trilinear form  T(x, w, y) = sum y[n,o,co] x[n,i,ci] w[co,k,ci]  over the positions where
// the dilated input index i*inputDilation = o*stride + k'*kernelDilation - padLo (k' = k, or
// K-1-k when flipped), channels paired within groups. The output is dT/dy, the input
// gradient dT/dx and the weight gradient dT/dw: a node computes one `mode` of the form from
// the other two operands, so every vjp and jvp is again a node of this primitive.
import { Array, ArrayLike, asArray } from '../array.js';
import { promoteTypes } from '../dtype.js';
import { OpOptions, toStream } from '../device.js';
import { definePrimitive, bind1 } from '../primitive.js';
import { fmtShape } from './util.js';
import { reshape, moveaxis, broadcastTo, expandDims } from './shape.js';
import { astype } from './astype.js';
import { add } from './binary.js';

export type ConvMode = 'input' | 'weight' | 'output';

export interface ConvParams {
  /** The operand this node computes; its inputs are the other two, in input, weight, output order. */
  mode: ConvMode;
  /** Spatial sizes of the computed operand (not derivable from the others when it is not the output). */
  spatial: number[];
  strides: number[];
  padLo: number[];
  kernelDilation: number[];
  inputDilation: number[];
  groups: number;
  flip: boolean;
}

const ROLES: ConvMode[] = ['input', 'weight', 'output'];
type Operands = Partial<Record<ConvMode, Array>>;
const others = (mode: ConvMode) => ROLES.filter((r) => r !== mode);
const spatialOf = (a: Array) => a.shape.slice(1, -1);
const last = (a: Array) => a.shape[a.ndim - 1];

function resultShape(mode: ConvMode, ops: Operands, p: Omit<ConvParams, 'mode'>): number[] {
  const { input: x, weight: w, output: y } = ops;
  if (mode === 'output') return [x!.shape[0], ...p.spatial, w!.shape[0]];
  if (mode === 'input') return [y!.shape[0], ...p.spatial, last(w!) * p.groups];
  return [last(y!), ...p.spatial, last(x!) / p.groups];
}

/** The node computing operand `mode` with spatial size `spatial` from the two others. */
function form(mode: ConvMode, ops: Operands, p: ConvParams, spatial: number[]): Array {
  const ins = others(mode).map((r) => ops[r]!);
  const params = { ...p, mode, spatial };
  return bind1(Conv, ins, params, { shape: resultShape(mode, ops, params), dtype: ins[0].dtype }, ins[0].stream);
}

function operands(mode: ConvMode, inputs: Array[]): Operands {
  const ops: Operands = {};
  others(mode).forEach((r, i) => { ops[r] = inputs[i]; });
  return ops;
}

export const Conv = definePrimitive<ConvParams>({
  name: 'conv',
  vjp: ([g], { inputs, params: p }) => {
    const ops = { ...operands(p.mode, inputs), [p.mode]: g };
    return others(p.mode).map((r, i) => form(r, ops, p, spatialOf(inputs[i])));
  },
  jvp: (tangents, { inputs, params: p }) => {
    const parts: Array[] = [];
    others(p.mode).forEach((r, i) => {
      const t = tangents[i];
      if (t) parts.push(form(p.mode, { ...operands(p.mode, inputs), [r]: t }, p, p.spatial));
    });
    return [parts.length === 2 ? add(parts[0], parts[1]) : parts[0]];
  },
  vmap: vmapConv,
});

/**
 * A batch of convolutions is one convolution: with a shared (unbatched) weight input the
 * batch joins N; otherwise it joins the channels as extra groups, laid out (B, G, C/G).
 */
function vmapConv(inputs: Array[], axes: (number | null)[], p: ConvParams): [Array[], number[]] {
  const roles = others(p.mode);
  const k = axes[0] !== null ? 0 : 1;
  const B = inputs[k].shape[axes[k]!];
  const w = roles.indexOf('weight');
  if (w >= 0 && axes[w] === null) {
    const ins = inputs.map((x, i) => {
      if (i === w) return x;
      const m = moveaxis(x, axes[i]!, 0);
      return reshape(m, [B * m.shape[1], ...m.shape.slice(2)]);
    });
    const r = form(p.mode, operands(p.mode, ins), p, p.spatial);
    return [[reshape(r, [B, r.shape[0] / B, ...r.shape.slice(1)])], [0]];
  }
  const ins = inputs.map((x, i) => toGroups(roles[i], x, axes[i], B));
  const r = form(p.mode, operands(p.mode, ins), { ...p, groups: p.groups * B }, p.spatial);
  if (p.mode === 'weight') return [[reshape(r, [B, r.shape[0] / B, ...r.shape.slice(1)])], [0]];
  return [[reshape(r, [...r.shape.slice(0, -1), B, last(r) / B])], [r.ndim - 1]];
}

/** An operand with batch size B moved into its channel axis (out-channel axis for weights). */
function toGroups(role: ConvMode, x: Array, ax: number | null, B: number): Array {
  if (role === 'weight') {
    const m = ax === null ? broadcastTo(expandDims(x, 0), [B, ...x.shape]) : moveaxis(x, ax, 0);
    return reshape(m, [B * m.shape[1], ...m.shape.slice(2)]);
  }
  const m = ax === null ? broadcastTo(expandDims(x, -2), [...x.shape.slice(0, -1), B, last(x)]) : moveaxis(x, ax, -2);
  return reshape(m, [...m.shape.slice(0, -2), B * last(m)]);
}

// ---------------------------------------------------------------- public ops

type PerDim = number | readonly number[];
/** Padding: one size for all sides, one per spatial dim, or [low per dim, high per dim]. */
export type ConvPadding = number | readonly number[] | readonly [readonly number[], readonly number[]];

function perDim(where: string, name: string, v: PerDim, d: number, min: number): number[] {
  const list = typeof v === 'number' ? new globalThis.Array<number>(d).fill(v) : [...v];
  if (list.length !== d) throw new Error(`[${where}] ${name} must have ${d} entries (one per spatial dim), got (${list.join(',')})`);
  if (list.some((s) => !Number.isInteger(s) || s < min)) throw new Error(`[${where}] ${name} (${list.join(',')}) must be integers >= ${min}`);
  return list;
}

function padPair(where: string, padding: ConvPadding, d: number): [number[], number[]] {
  if (typeof padding !== 'number' && padding.length === 2 && typeof padding[0] !== 'number') {
    const [lo, hi] = padding as readonly [readonly number[], readonly number[]];
    return [perDim(where, 'padding', lo, d, -Infinity), perDim(where, 'padding', hi, d, -Infinity)];
  }
  const p = perDim(where, 'padding', padding as PerDim, d, -Infinity);
  return [p, p];
}

/** Checks operands and builds the forward node of a general convolution. */
function convolution(where: string, input: ArrayLike, weight: ArrayLike, strides: number[], padLo: number[], padHi: number[],
  kernelDilation: number[], inputDilation: number[], groups: number, flip: boolean, opts?: OpOptions): Array {
  const x0 = asArray(input), w0 = asArray(weight);
  if (w0.ndim !== x0.ndim)
    throw new Error(`[${where}] input ${fmtShape(x0.shape)} and weight ${fmtShape(w0.shape)} must have the same rank: (N, spatial..., C_in) and (C_out, kernel..., C_in / groups)`);
  const dtype = promoteTypes(x0.dtype, w0.dtype);
  if (!dtype.isFloat) throw new TypeError(`[${where}] expected floating-point input and weight, got ${x0.dtype.name} and ${w0.dtype.name}`);
  if (!Number.isInteger(groups) || groups < 1) throw new Error(`[${where}] groups must be a positive integer, got ${groups}`);
  const cin = last(x0), cout = w0.shape[0];
  if (last(w0) * groups !== cin)
    throw new Error(`[${where}] input channels ${cin} of ${fmtShape(x0.shape)} must equal the weight's last dim ${last(w0)} times groups ${groups}`);
  if (cout % groups !== 0) throw new Error(`[${where}] output channels ${cout} must be divisible by groups ${groups}`);
  const S = spatialOf(x0), K = spatialOf(w0);
  const O = S.map((s, i) => {
    const sd = s === 0 ? 0 : (s - 1) * inputDilation[i] + 1;
    const span = sd + padLo[i] + padHi[i] - ((K[i] - 1) * kernelDilation[i] + 1);
    if (span < 0 || K[i] === 0)
      throw new Error(`[${where}] the padded input ${fmtShape(S)} is smaller than the dilated kernel ${fmtShape(K)} in spatial dim ${i}`);
    return Math.floor(span / strides[i]) + 1;
  });
  const p: ConvParams = { mode: 'output', spatial: O, strides, padLo, kernelDilation, inputDilation, groups, flip };
  const stream = opts?.stream ? toStream(opts.stream) : x0.stream;
  const x = astype(x0, dtype, { stream }), w = astype(w0, dtype, { stream });
  return bind1(Conv, [x, w], p, { shape: [x.shape[0], ...O, cout], dtype }, stream);
}

function checkRank(where: string, x: ArrayLike, d: number): void {
  const a = asArray(x);
  const names = ['L', 'H, W', 'D, H, W'][d - 1];
  if (a.ndim !== d + 2) throw new Error(`[${where}] input must be ${d + 2}-D (N, ${names}, C_in), got shape ${fmtShape(a.shape)}`);
}

/**
 * The general convolution (MLX's conv_general): strides, padding (symmetric or [lo, hi]),
 * kernel dilation, input dilation (for transposed convolutions), groups, and flip
 * (a true convolution instead of a cross-correlation).
 */
export function convGeneral(input: ArrayLike, weight: ArrayLike, stride: PerDim = 1, padding: ConvPadding = 0,
  kernelDilation: PerDim = 1, inputDilation: PerDim = 1, groups = 1, flip = false, opts?: OpOptions): Array {
  const x = asArray(input);
  if (x.ndim < 3) throw new Error(`[convGeneral] input must have a batch, at least one spatial dim and channels, got shape ${fmtShape(x.shape)}`);
  const d = x.ndim - 2;
  const [lo, hi] = padPair('convGeneral', padding, d);
  return convolution('convGeneral', x, weight, perDim('convGeneral', 'stride', stride, d, 1), lo, hi,
    perDim('convGeneral', 'kernelDilation', kernelDilation, d, 1), perDim('convGeneral', 'inputDilation', inputDilation, d, 1), groups, flip, opts);
}

function convNd(where: string, d: number, input: ArrayLike, weight: ArrayLike, stride: PerDim, padding: PerDim, dilation: PerDim, groups: number, opts?: OpOptions): Array {
  checkRank(where, input, d);
  const pad = perDim(where, 'padding', padding, d, 0);
  return convolution(where, input, weight, perDim(where, 'stride', stride, d, 1), pad, pad, perDim(where, 'dilation', dilation, d, 1),
    new globalThis.Array<number>(d).fill(1), groups, false, opts);
}

/** 1-D convolution (cross-correlation) over input (N, L, C_in) with weight (C_out, K, C_in / groups). */
export function conv1d(input: ArrayLike, weight: ArrayLike, stride = 1, padding = 0, dilation = 1, groups = 1, opts?: OpOptions): Array {
  return convNd('conv1d', 1, input, weight, stride, padding, dilation, groups, opts);
}
/** 2-D convolution over input (N, H, W, C_in) with weight (C_out, KH, KW, C_in / groups). */
export function conv2d(input: ArrayLike, weight: ArrayLike, stride: PerDim = 1, padding: PerDim = 0, dilation: PerDim = 1, groups = 1, opts?: OpOptions): Array {
  return convNd('conv2d', 2, input, weight, stride, padding, dilation, groups, opts);
}
/** 3-D convolution over input (N, D, H, W, C_in) with weight (C_out, KD, KH, KW, C_in / groups). */
export function conv3d(input: ArrayLike, weight: ArrayLike, stride: PerDim = 1, padding: PerDim = 0, dilation: PerDim = 1, groups = 1, opts?: OpOptions): Array {
  return convNd('conv3d', 3, input, weight, stride, padding, dilation, groups, opts);
}

/**
 * A transposed convolution is a convolution of the stride-dilated input with the flipped
 * kernel, padded by dilation*(K-1) - padding (plus outputPadding at the high end).
 */
function convTransposeNd(where: string, d: number, input: ArrayLike, weight: ArrayLike, stride: PerDim, padding: PerDim, dilation: PerDim,
  outputPadding: PerDim, groups: number, opts?: OpOptions): Array {
  checkRank(where, input, d);
  const w = asArray(weight);
  const s = perDim(where, 'stride', stride, d, 1), pad = perDim(where, 'padding', padding, d, 0);
  const dil = perDim(where, 'dilation', dilation, d, 1), outPad = perDim(where, 'outputPadding', outputPadding, d, 0);
  if (w.ndim !== d + 2) throw new Error(`[${where}] weight must be ${d + 2}-D (C_out, kernel..., C_in / groups), got shape ${fmtShape(w.shape)}`);
  const K = spatialOf(w);
  const lo = K.map((k, i) => dil[i] * (k - 1) - pad[i]);
  const hi = lo.map((l, i) => l + outPad[i]);
  return convolution(where, input, w, new globalThis.Array<number>(d).fill(1), lo, hi, dil, s, groups, true, opts);
}

export function convTranspose1d(input: ArrayLike, weight: ArrayLike, stride = 1, padding = 0, dilation = 1, outputPadding = 0, groups = 1, opts?: OpOptions): Array {
  return convTransposeNd('convTranspose1d', 1, input, weight, stride, padding, dilation, outputPadding, groups, opts);
}
export function convTranspose2d(input: ArrayLike, weight: ArrayLike, stride: PerDim = 1, padding: PerDim = 0, dilation: PerDim = 1, outputPadding: PerDim = 0, groups = 1, opts?: OpOptions): Array {
  return convTransposeNd('convTranspose2d', 2, input, weight, stride, padding, dilation, outputPadding, groups, opts);
}
export function convTranspose3d(input: ArrayLike, weight: ArrayLike, stride: PerDim = 1, padding: PerDim = 0, dilation: PerDim = 1, outputPadding: PerDim = 0, groups = 1, opts?: OpOptions): Array {
  return convTransposeNd('convTranspose3d', 3, input, weight, stride, padding, dilation, outputPadding, groups, opts);
}

/** NumPy's 1-D convolve: 'full' (length L+K-1), 'same' (max(L, K), centered) or 'valid'. */
export function convolve(a: ArrayLike, v: ArrayLike, mode: 'full' | 'same' | 'valid' = 'full', opts?: OpOptions): Array {
  const x = asArray(a), y = asArray(v);
  if (x.ndim !== 1 || y.ndim !== 1) throw new Error(`[convolve] inputs must be 1-D, got shapes ${fmtShape(x.shape)} and ${fmtShape(y.shape)}`);
  if (x.size === 0 || y.size === 0) throw new Error(`[convolve] inputs cannot be empty, got shapes ${fmtShape(x.shape)} and ${fmtShape(y.shape)}`);
  if (mode !== 'full' && mode !== 'same' && mode !== 'valid') throw new Error(`[convolve] mode must be 'full', 'same' or 'valid', got '${String(mode)}'`);
  const [long, short] = x.size >= y.size ? [x, y] : [y, x]; // convolution commutes, as NumPy uses
  const K = short.size;
  const lo = mode === 'full' ? K - 1 : mode === 'same' ? K - 1 - ((K - 1) >> 1) : 0;
  const hi = mode === 'full' ? K - 1 : mode === 'same' ? (K - 1) >> 1 : 0;
  const out = convolution('convolve', reshape(long, [1, long.size, 1]), reshape(short, [1, K, 1]), [1], [lo], [hi], [1], [1], 1, true, opts);
  return reshape(out, [out.shape[1]]);
}
