// fast.rope: rotary positional encoding as MLX's mx.fast.rope, plus per-token positions for
// packed sequences, and ropeFrequencies for the scaled variants (linear, llama3, dynamic NTK,
// yarn) that checkpoints ask for, which MLX-LM and Hugging Face express as frequencies.
// The rotation is linear in x, so its gradient is the inverse rotation: the same primitive.
// A pending transpose feeding rope (the (B, L, H, D) -> (B, H, L, D) head split of a
// projection) is folded in, as matmul folds transposed operands: the primitive takes the
// transpose's input and reads it permuted (param `axes`), so no copy is made for it.
import * as mx from '../core/index.js';
import type { Array, Stream, StreamOrDevice } from '../core/index.js';
import { rotate } from './rotate.js';
import { defineFast, streamOf, checkFloat, fmt, type FastPrimitive } from './primitive.js';

export interface RopeOptions {
  /** Rotate consecutive pairs (x0, x1), (x2, x3)… instead of (x_i, x_{i+dims/2}). Default false. */
  traditional?: boolean;
  /** Base of the frequencies base^(2i/dims). Default 10000; leave it out when `freqs` is given. */
  base?: number | null;
  /** Scale applied to the positions. Default 1. */
  scale?: number;
  /**
   * Position of the first token: a number, a 0-d array, or a (B,) array with one start per
   * batch entry (as MLX). A (B, T) array gives every token its own position (packed
   * sequences); those positions are absolute (nothing is added to them).
   */
  offset?: number | Array;
  /** Frequencies of shape (dims/2,) instead of base^(2i/dims): θ_i = position / freqs[i]. */
  freqs?: Array | null;
  stream?: StreamOrDevice;
}

/** How positions are given: a start for all rows, one start per batch entry, or one per token. */
type Positions = 'number' | 'scalar' | 'batch' | 'token';

interface RopeParams {
  dims: number;
  traditional: boolean;
  base: number;
  scale: number;
  /** The start position when `positions` is 'number'. */
  offset: number;
  positions: Positions;
  hasFreqs: boolean;
  /** Rotate by −θ: the gradient. */
  inverse: boolean;
  /**
   * x is the primitive's input read as transpose(input, axes) (a folded transpose; the last
   * axis stays last), absent or null: the input is x. The output is always x's dense shape.
   */
  axes?: number[] | null;
}

// ---------------------------------------------------------------- reference

/**
 * Rotation angles θ (float32, float64 for float64 inputs): positions × scale / freqs, shaped
 * to broadcast against the rotated half of x (..., T, dims/2).
 */
function angles(x: Array, p: RopeParams, offset: Array | null, freqs: Array | null): Array {
  const half = p.dims / 2, T = x.shape[x.ndim - 2];
  const ct = x.dtype.name === 'float64' ? 'float64' : 'float32';
  const invFreqs = freqs
    ? mx.reciprocal(mx.astype(freqs, ct))
    : mx.exp(mx.multiply(mx.arange(0, half, 1, ct), -Math.log(p.base) / half));
  const t = mx.arange(0, T, 1, ct);
  let pos: Array;
  if (p.positions === 'number') pos = mx.add(t, p.offset);
  else if (p.positions === 'scalar') pos = mx.add(t, mx.astype(offset!, ct));
  else if (p.positions === 'batch') pos = mx.add(mx.expandDims(t, 0), mx.expandDims(mx.astype(offset!, ct), 1));
  else pos = mx.astype(offset!, ct);
  pos = mx.multiply(pos, p.scale);
  // (B, T) positions line up with x's first axis: (B, 1, …, 1, T).
  if (pos.ndim === 2) pos = mx.reshape(pos, [pos.shape[0], ...new globalThis.Array<number>(x.ndim - 3).fill(1), T]);
  return mx.multiply(mx.expandDims(pos, -1), invFreqs);
}

/** The x a primitive input stands for: the input itself or its folded transpose. */
const logical = (x: Array, p: RopeParams): Array => (p.axes ? mx.transpose(x, p.axes) : x);

function ropeRef(input: Array, p: RopeParams, offset: Array | null, freqs: Array | null): Array {
  const x = logical(input, p);
  const theta = angles(x, p, offset, freqs);
  const cos = mx.cos(theta), sin = p.inverse ? mx.negative(mx.sin(theta)) : mx.sin(theta);
  return rotate(x, cos, sin, p.dims, p.traditional, theta.dtype);
}

/** fast.rope from basic ops: angles and the rotation in float32 (float64 for float64 inputs). */
export function ropeReference(x: Array, dims: number, opts: RopeOptions = {}): Array {
  const { params, offset, freqs } = resolve(x, dims, opts);
  return ropeRef(x, params, offset, freqs);
}

// ---------------------------------------------------------------- primitive

const inputsOf = (ins: Array[], p: RopeParams) => {
  let i = 1;
  const offset = p.positions === 'number' ? null : ins[i++];
  return { x: ins[0], offset, freqs: p.hasFreqs ? ins[i] : null };
};

/**
 * [x, offset?, freqs?] -> [rotated x], x read through `axes` when given. Only x is
 * differentiated (offsets and freqs are constants, as in MLX).
 */
const Rope: FastPrimitive<RopeParams> = defineFast<RopeParams>({
  name: 'rope',
  reference: (ins, p) => { const { x, offset, freqs } = inputsOf(ins, p); return [ropeRef(x, p, offset, freqs)]; },
  // The inverse rotation of the dense cotangent, put back in the input's layout.
  vjp: ([g], { inputs, params }) => {
    const back = ropeOf(g, inputs.slice(1), { ...params, inverse: !params.inverse, axes: null });
    return [params.axes ? mx.transpose(back, inversePerm(params.axes)) : back, ...inputs.slice(1).map(() => null)];
  },
  jvp: ([t], { inputs, outputs: [y], params }) => [t ? ropeOf(logical(t, params), inputs.slice(1), params) : mx.zerosLike(y)],
  vmap: (ins, axes, p) => {
    const ax = axes[0];
    if (ax === null || axes.slice(1).some((a) => a !== null)) return Rope.referenceVmap(ins, axes, p);
    // x batched on axis 0 (a transpose of the input when it was folded; folded again below).
    const x = p.axes ? mx.transpose(ins[0], [ax, ...p.axes.map((a) => (a < ax ? a : a + 1))]) : mx.moveaxis(ins[0], ax, 0);
    // Per-batch positions index x's first axis: keep it first and put the mapped axis after it.
    const to = p.positions === 'batch' || p.positions === 'token' ? 1 : 0;
    return [[ropeOf(mx.moveaxis(x, 0, to), ins.slice(1), p)], [to]];
  },
});

function inversePerm(p: readonly number[]): number[] {
  const inv = new globalThis.Array<number>(p.length);
  p.forEach((a, i) => { inv[a] = i; });
  return inv;
}

/**
 * x's source and permutation when x is the pending output of a transpose (no buffer yet) that
 * keeps the last axis last, on rope's stream: rope reads the source permuted instead. Only
 * this node changes; the transpose still runs if anything else consumes it.
 */
function foldable(x: Array, stream: Stream): { src: Array; axes: number[] } | null {
  const node = x._node;
  if (x._buf || !node || node.prim.name !== 'transpose') return null;
  const axes = (node.params as { axes: number[] }).axes, src = node.inputs[0], n = axes.length;
  if (n < 2 || axes[n - 1] !== n - 1 || src.stream !== stream) return null;
  return { src, axes: [...axes] };
}

/** The rope node (or reference) for x (the logical input; params' axes are replaced) on `stream`. */
function ropeOf(x: Array, rest: Array[], p: RopeParams, stream: Stream = x.stream): Array {
  const f = foldable(x, stream);
  const params: RopeParams = { ...p, axes: f ? f.axes : null };
  return Rope.apply([f ? f.src : x, ...rest], params, [{ shape: x.shape, dtype: x.dtype }], stream)[0];
}

// ---------------------------------------------------------------- public op

function resolve(x: Array, dims: number, opts: RopeOptions): { params: RopeParams; offset: Array | null; freqs: Array | null } {
  const { traditional = false, scale = 1, offset = 0, freqs = null } = opts;
  checkFloat('rope', 'x', x);
  if (x.ndim < 2) throw new Error(`[rope] expected an input of shape (..., T, D), got ${fmt(x.shape)}`);
  const D = x.shape[x.ndim - 1], T = x.shape[x.ndim - 2];
  if (!Number.isInteger(dims) || dims <= 0 || dims % 2 !== 0 || dims > D)
    throw new Error(`[rope] dims must be a positive even number no larger than the last axis (${D}), got ${dims}`);
  if (freqs && opts.base !== undefined && opts.base !== null)
    throw new Error('[rope] give either base or freqs, not both (as MLX: exactly one of them is None)');
  const base = opts.base ?? 10000;
  if (!freqs && !(base > 0)) throw new Error(`[rope] base must be positive, got ${base}`);
  if (freqs && (freqs.ndim !== 1 || freqs.shape[0] !== dims / 2))
    throw new Error(`[rope] freqs must have shape (${dims / 2},) for dims ${dims}, got ${fmt(freqs.shape)}`);
  let positions: Positions = 'number';
  if (offset instanceof mx.Array) {
    const B = x.shape[0];
    if (offset.ndim === 0) positions = 'scalar';
    else if (offset.ndim === 1 && x.ndim >= 3 && offset.shape[0] === B) positions = 'batch';
    else if (offset.ndim === 2 && x.ndim >= 3 && offset.shape[0] === B && offset.shape[1] === T) positions = 'token';
    else throw new Error(`[rope] offset must be a number, a 0-d array, a (B,) array of starts or a (B, T) array of positions for x ${fmt(x.shape)} (B = ${x.ndim >= 3 ? B : 'none: x needs 3 axes'}), got shape ${fmt(offset.shape)}`);
  } else if (!Number.isFinite(offset)) throw new Error(`[rope] offset must be a finite number, got ${offset}`);
  const params: RopeParams = { dims, traditional, base, scale, offset: typeof offset === 'number' ? offset : 0, positions, hasFreqs: !!freqs, inverse: false, axes: null };
  return { params, offset: offset instanceof mx.Array ? offset : null, freqs };
}

/**
 * Rotary positional encoding of the first `dims` features of x, shape (B, *, T, D), with
 * positions along axis −2 (mx.fast.rope). Features past `dims` pass unchanged. Angles are
 * position × scale / base^(2i/dims), or position × scale / freqs[i].
 */
export function rope(x: Array, dims: number, opts: RopeOptions = {}): Array {
  const { params, offset, freqs } = resolve(x, dims, opts);
  return ropeOf(x, [...(offset ? [offset] : []), ...(freqs ? [freqs] : [])], params, streamOf(x, opts.stream));
}

// ---------------------------------------------------------------- scaled frequencies

/** A checkpoint's rope_scaling, in camelCase (Hugging Face's keys; `type` is its rope_type). */
export type RopeScaling =
  | { type: 'default' }
  | { type: 'linear'; factor: number }
  | { type: 'llama3'; factor: number; lowFreqFactor?: number; highFreqFactor?: number; originalMaxPositionEmbeddings?: number }
  | { type: 'dynamic'; factor: number; maxPositionEmbeddings: number; seqLen: number }
  | { type: 'yarn'; factor: number; originalMaxPositionEmbeddings?: number; betaFast?: number; betaSlow?: number; mscale?: number; mscaleAllDim?: number };

/** base^(2i/dims) for i < dims/2, in float64. */
const plain = (dims: number, base: number) => Float64Array.from({ length: dims / 2 }, (_, i) => base ** ((2 * i) / dims));

/**
 * Frequencies (dims/2,) float32 for `rope(x, dims, { freqs })`: θ_i = position / freqs[i].
 * The variants follow MLX-LM (llama3, yarn) and Hugging Face (linear, dynamic NTK): linear
 * stretches every wavelength by `factor`; llama3 stretches long wavelengths only, with a
 * smooth band between; dynamic raises the base once `seqLen` passes maxPositionEmbeddings;
 * yarn blends stretched and original frequencies by wavelength (pair it with
 * ropeAttentionFactor, which scales the rotated features).
 */
export function ropeFrequencies(dims: number, base = 10000, scaling: RopeScaling | null = null): Array {
  if (!Number.isInteger(dims) || dims <= 0 || dims % 2 !== 0) throw new Error(`[ropeFrequencies] dims must be a positive even number, got ${dims}`);
  const s = scaling ?? { type: 'default' };
  const needFactor = s.type !== 'default';
  if (needFactor && !((s as { factor: number }).factor > 0)) throw new Error(`[ropeFrequencies] ${s.type} scaling needs a positive factor, got ${(s as { factor: number }).factor}`);
  let f: Float64Array;
  switch (s.type) {
    case 'default': f = plain(dims, base); break;
    case 'linear': f = plain(dims, base).map((v) => v * s.factor); break;
    case 'llama3': {
      const low = s.lowFreqFactor ?? 1, high = s.highFreqFactor ?? 4, old = s.originalMaxPositionEmbeddings ?? 8192;
      const lowWavelen = old / low, highWavelen = old / high;
      f = plain(dims, base).map((v) => {
        const wavelen = 2 * Math.PI * v;
        if (wavelen > lowWavelen) return v * s.factor;
        if (wavelen > highWavelen && wavelen < lowWavelen) {
          const smooth = (old / wavelen - low) / (high - low);
          return v / ((1 - smooth) / s.factor + smooth);
        }
        return v;
      });
      break;
    }
    case 'dynamic': {
      const b = s.seqLen > s.maxPositionEmbeddings
        ? base * ((s.factor * s.seqLen) / s.maxPositionEmbeddings - (s.factor - 1)) ** (dims / (dims - 2))
        : base;
      f = plain(dims, b);
      break;
    }
    case 'yarn': {
      const old = s.originalMaxPositionEmbeddings ?? 4096, betaFast = s.betaFast ?? 32, betaSlow = s.betaSlow ?? 1;
      const correction = (rotations: number) => (dims * Math.log(old / (rotations * 2 * Math.PI))) / (2 * Math.log(base));
      const lo = Math.max(Math.floor(correction(betaFast)), 0);
      let hi = Math.min(Math.ceil(correction(betaSlow)), dims - 1);
      if (lo === hi) hi += 0.001;
      f = plain(dims, base).map((extra, i) => {
        const inter = s.factor * extra;
        const mask = 1 - Math.min(1, Math.max(0, (i - lo) / (hi - lo)));
        return (inter * extra) / (inter * mask + extra * (1 - mask));
      });
      break;
    }
    default: throw new Error(`[ropeFrequencies] unknown scaling type '${(s as { type: string }).type}' (expected default, linear, llama3, dynamic or yarn)`);
  }
  return mx.array(Float32Array.from(f));
}

/**
 * The factor yarn scales the rotated features by (MLX-LM's mscale, Hugging Face's
 * attention_factor): 1 for the other variants. Multiply x[..., :dims] by it before rope.
 */
export function ropeAttentionFactor(scaling: RopeScaling | null): number {
  if (!scaling || scaling.type !== 'yarn') return 1;
  const m = (scale: number, mscale: number) => (scale <= 1 ? 1 : 0.1 * mscale * Math.log(scale) + 1);
  return m(scaling.factor, scaling.mscale ?? 1) / m(scaling.factor, scaling.mscaleAllDim ?? 0);
}
