// fast.rmsNorm and fast.layerNorm over the last axis, as MLX's mx.fast.rms_norm and
// mx.fast.layer_norm. Each is a primitive with an analytic backward primitive beside it,
// so a backend kernel reads each row once forward and once backward, and the backward
// pass keeps none of the reference's intermediates (squares, means, centered copies).
import * as mx from '../core/index.js';
import type { Array, StreamOrDevice } from '../core/index.js';
import { defineFast, streamOf, checkFloat, rowwiseVmap, fmt, type FastPrimitive } from './primitive.js';

const isHalf = (x: Array) => x.dtype.isFloat && x.dtype.size === 2;
/** Statistics are computed in float32 for half inputs (float64 stays float64). */
const stats = (x: Array): Array => (isHalf(x) ? mx.astype(x, 'float32') : x);
const rowsOf = (x: Array): number => x.size / x.shape[x.ndim - 1];
/** Sums a per-row quantity (..., D) into the parameter's shape (D,). */
const sumRows = (x: Array): Array => mx.sum(mx.reshape(x, [rowsOf(x), x.shape[x.ndim - 1]]), 0);

// ---------------------------------------------------------------- references

/** x / sqrt(mean(x²) + eps) over the last axis, times weight. */
export function rmsNormReference(x: Array, weight: Array | null, eps: number): Array {
  const outType = weight ? mx.resultType(x, weight) : x.dtype;
  const xs = stats(x);
  const y = mx.astype(mx.multiply(xs, mx.rsqrt(mx.add(mx.mean(mx.square(xs), -1, true), eps))), outType);
  return weight ? mx.multiply(weight, y) : y;
}

/** (x - mean) / sqrt(var + eps) over the last axis, times weight, plus bias. */
export function layerNormReference(x: Array, weight: Array | null, bias: Array | null, eps: number): Array {
  const outType = mx.resultType(x, ...(weight ? [weight] : []), ...(bias ? [bias] : []));
  const xs = stats(x);
  const centered = mx.subtract(xs, mx.mean(xs, -1, true));
  let y = mx.astype(mx.multiply(centered, mx.rsqrt(mx.add(mx.mean(mx.square(centered), -1, true), eps))), outType);
  if (weight) y = mx.multiply(y, weight);
  if (bias) y = mx.add(y, bias);
  return y;
}

/**
 * Gradients of rmsNorm for cotangent g: with r = 1/rms(x) and gw = g·w,
 * dx = r·gw − x·r³·mean(gw·x) and dw = Σ_rows g·x·r.
 */
export function rmsNormVjpReference(x: Array, weight: Array | null, g: Array, eps: number): Array[] {
  const xs = stats(x), gs = mx.astype(g, xs.dtype);
  const r = mx.rsqrt(mx.add(mx.mean(mx.square(xs), -1, true), eps));
  const gw = weight ? mx.multiply(gs, mx.astype(weight, xs.dtype)) : gs;
  const dot = mx.mean(mx.multiply(gw, xs), -1, true);
  const dx = mx.subtract(mx.multiply(gw, r), mx.multiply(xs, mx.multiply(mx.power(r, 3), dot)));
  const out = [mx.astype(dx, x.dtype)];
  if (weight) out.push(mx.astype(sumRows(mx.multiply(gs, mx.multiply(xs, r))), weight.dtype));
  return out;
}

/**
 * Gradients of layerNorm: with x̂ the standardized x and gw = g·w,
 * dx = r·(gw − mean(gw) − x̂·mean(gw·x̂)), dw = Σ_rows g·x̂, db = Σ_rows g.
 */
export function layerNormVjpReference(x: Array, weight: Array | null, g: Array, eps: number, biasDtype: mx.DType | null): Array[] {
  const xs = stats(x), gs = mx.astype(g, xs.dtype);
  const centered = mx.subtract(xs, mx.mean(xs, -1, true));
  const r = mx.rsqrt(mx.add(mx.mean(mx.square(centered), -1, true), eps));
  const xhat = mx.multiply(centered, r);
  const gw = weight ? mx.multiply(gs, mx.astype(weight, xs.dtype)) : gs;
  const inner = mx.subtract(mx.subtract(gw, mx.mean(gw, -1, true)), mx.multiply(xhat, mx.mean(mx.multiply(gw, xhat), -1, true)));
  const out = [mx.astype(mx.multiply(r, inner), x.dtype)];
  if (weight) out.push(mx.astype(sumRows(mx.multiply(gs, xhat)), weight.dtype));
  if (biasDtype) out.push(mx.astype(sumRows(gs), biasDtype));
  return out;
}

// ---------------------------------------------------------------- primitives

interface RmsParams { eps: number }
/** The bias is not an input of the backward primitive: its dtype says it exists and what dbias is. */
interface LayerParams { eps: number; hasWeight: boolean; biasDtype: mx.DTypeName | null }

/** [x, weight?] -> [y]. */
const RmsNorm: FastPrimitive<RmsParams> = defineFast<RmsParams>({
  name: 'rmsNorm',
  reference: ([x, w], { eps }) => [rmsNormReference(x, w ?? null, eps)],
  vjp: ([g], { inputs: [x, w], params }) => {
    const grads = rmsNormVjp(x, w ?? null, g, params.eps);
    return w ? grads : [grads[0]];
  },
  vmap: rowwiseVmap(() => RmsNorm, 1, ([x, w], { eps }) => [rmsNorm(x, w ?? null, eps)]),
});

/** [x, weight?, g] -> [dx, dweight?]. Rules come from its reference. */
const RmsNormVjp: FastPrimitive<RmsParams> = defineFast<RmsParams>({
  name: 'rmsNormVjp',
  reference: (ins, { eps }) => rmsNormVjpReference(ins[0], ins.length === 3 ? ins[1] : null, ins[ins.length - 1], eps),
});

function rmsNormVjp(x: Array, w: Array | null, g: Array, eps: number): Array[] {
  const specs = [{ shape: x.shape, dtype: x.dtype }, ...(w ? [{ shape: w.shape, dtype: w.dtype }] : [])];
  return RmsNormVjp.apply(w ? [x, w, g] : [x, g], { eps }, specs, x.stream);
}

/** [x, weight?, bias?] -> [y]. */
const LayerNorm: FastPrimitive<LayerParams> = defineFast<LayerParams>({
  name: 'layerNorm',
  reference: (ins, p) => [layerNormReference(ins[0], p.hasWeight ? ins[1] : null, p.biasDtype ? ins[ins.length - 1] : null, p.eps)],
  vjp: ([g], { inputs, params: p }) => {
    const [x] = inputs;
    const w = p.hasWeight ? inputs[1] : null, b = p.biasDtype ? inputs[inputs.length - 1] : null;
    const specs = [x, ...(w ? [w] : []), ...(b ? [b] : [])].map((a) => ({ shape: a.shape, dtype: a.dtype }));
    return LayerNormVjp.apply(w ? [x, w, g] : [x, g], p, specs, x.stream);
  },
  vmap: rowwiseVmap(() => LayerNorm, 1, (ins, p) =>
    [layerNorm(ins[0], p.hasWeight ? ins[1] : null, p.biasDtype ? ins[ins.length - 1] : null, p.eps)]),
});

/** [x, weight?, g] -> [dx, dweight?, dbias?]. */
const LayerNormVjp: FastPrimitive<LayerParams> = defineFast<LayerParams>({
  name: 'layerNormVjp',
  reference: (ins, p) => layerNormVjpReference(ins[0], p.hasWeight ? ins[1] : null, ins[ins.length - 1], p.eps,
    p.biasDtype ? mx.dtypes[p.biasDtype] : null),
});

// ---------------------------------------------------------------- public ops

function checkParam(where: string, name: string, p: Array | null, x: Array): void {
  if (!p) return;
  checkFloat(where, name, p);
  const D = x.shape[x.ndim - 1];
  if (p.ndim !== 1 || p.shape[0] !== D)
    throw new Error(`[${where}] ${name} must have shape (${D},) to match the last axis of x ${fmt(x.shape)}, got ${fmt(p.shape)}`);
}

function checkInput(where: string, x: Array, eps: number): void {
  checkFloat(where, 'x', x);
  if (x.ndim === 0) throw new Error(`[${where}] expected an input with at least one axis, got a scalar`);
  if (!(eps >= 0)) throw new Error(`[${where}] eps must be a non-negative number, got ${eps}`);
}

/**
 * Root-mean-square normalization over the last axis: x / sqrt(mean(x²) + eps) · weight
 * (mx.fast.rms_norm). `weight` has shape (D,), or is null for none. Statistics of half
 * inputs are computed in float32; the result has the dtype of x and weight promoted.
 */
export function rmsNorm(x: Array, weight: Array | null, eps: number, opts: { stream?: StreamOrDevice } = {}): Array {
  checkInput('rmsNorm', x, eps);
  checkParam('rmsNorm', 'weight', weight, x);
  const dtype = weight ? mx.resultType(x, weight) : x.dtype;
  return RmsNorm.apply(weight ? [x, weight] : [x], { eps }, [{ shape: x.shape, dtype }], streamOf(x, opts.stream))[0];
}

/**
 * Layer normalization over the last axis: (x − mean) / sqrt(var + eps) · weight + bias
 * (mx.fast.layer_norm). `weight` and `bias` have shape (D,) or are null.
 */
export function layerNorm(x: Array, weight: Array | null, bias: Array | null, eps: number, opts: { stream?: StreamOrDevice } = {}): Array {
  checkInput('layerNorm', x, eps);
  checkParam('layerNorm', 'weight', weight, x);
  checkParam('layerNorm', 'bias', bias, x);
  const dtype = mx.resultType(x, ...(weight ? [weight] : []), ...(bias ? [bias] : []));
  const params: LayerParams = { eps, hasWeight: !!weight, biasDtype: bias ? bias.dtype.name : null };
  const ins = [x, ...(weight ? [weight] : []), ...(bias ? [bias] : [])];
  return LayerNorm.apply(ins, params, [{ shape: x.shape, dtype }], streamOf(x, opts.stream))[0];
}
