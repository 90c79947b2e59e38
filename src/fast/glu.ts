// fast.swiglu and fast.geglu: the gated MLPs of Llama/Qwen/Mistral (silu(gate)·up) and
// Gemma (gelu(gate)·up) as one elementwise pass each way. Forward keeps no activation; the
// backward primitive recomputes σ or Φ from gate and writes both gradients in one pass.
import * as mx from '../core/index.js';
import type { Array, StreamOrDevice } from '../core/index.js';
import { defineFast, streamOf, checkFloat, type FastPrimitive } from './primitive.js';

export type GeluApproximation = 'none' | 'tanh';
interface GluParams { act: 'silu' | 'gelu' | 'geluTanh' }

const SQRT_2_PI = Math.sqrt(2 / Math.PI), GELU_C = 0.044715;

// ---------------------------------------------------------------- references

const activation = (x: Array, act: GluParams['act']): Array => {
  if (act === 'silu') return mx.multiply(x, mx.sigmoid(x));
  if (act === 'gelu') return mx.divide(mx.multiply(x, mx.add(mx.erf(mx.divide(x, Math.SQRT2)), 1)), 2);
  const inner = mx.multiply(mx.add(x, mx.multiply(mx.power(x, 3), GELU_C)), SQRT_2_PI);
  return mx.multiply(mx.multiply(x, 0.5), mx.add(mx.tanh(inner), 1));
};

/** Half inputs are computed in float32 and rounded once (gelu′ cancels badly in float16). */
const wide = (x: Array) => (x.dtype.size === 2 ? mx.astype(x, 'float32') : x);

function gluRef(gate: Array, up: Array, act: GluParams['act']): Array {
  return mx.astype(mx.multiply(activation(wide(gate), act), wide(up)), mx.resultType(gate, up));
}

function gluVjpRef(gate: Array, up: Array, g: Array, act: GluParams['act']): Array[] {
  const [a, b, c] = [gate, up, g].map(wide);
  return [
    mx.astype(mx.multiply(mx.multiply(c, b), activationGrad(a, act)), gate.dtype),
    mx.astype(mx.multiply(c, activation(a, act)), up.dtype),
  ];
}

/** silu(gate) · up from basic ops. */
export function swigluReference(gate: Array, up: Array): Array {
  return gluRef(gate, up, 'silu');
}

/** gelu(gate) · up from basic ops; 'tanh' is gelu_pytorch_tanh (Gemma). */
export function gegluReference(gate: Array, up: Array, approximate: GeluApproximation = 'none'): Array {
  return gluRef(gate, up, approximate === 'tanh' ? 'geluTanh' : 'gelu');
}

/** d(act)/dx from basic ops: σ(1 + x(1 − σ)) for silu, Φ + xφ for gelu, and tanh's chain rule. */
function activationGrad(x: Array, act: GluParams['act']): Array {
  if (act === 'silu') {
    const s = mx.sigmoid(x);
    return mx.multiply(s, mx.add(mx.multiply(x, mx.subtract(1, s)), 1));
  }
  if (act === 'gelu') {
    const cdf = mx.divide(mx.add(mx.erf(mx.divide(x, Math.SQRT2)), 1), 2);
    const pdf = mx.multiply(mx.exp(mx.multiply(mx.square(x), -0.5)), 1 / Math.sqrt(2 * Math.PI));
    return mx.add(cdf, mx.multiply(x, pdf));
  }
  const t = mx.tanh(mx.multiply(mx.add(x, mx.multiply(mx.power(x, 3), GELU_C)), SQRT_2_PI));
  const dInner = mx.multiply(mx.add(mx.multiply(mx.square(x), 3 * GELU_C), 1), SQRT_2_PI);
  return mx.add(mx.multiply(mx.add(t, 1), 0.5), mx.multiply(mx.multiply(mx.multiply(x, 0.5), mx.subtract(1, mx.square(t))), dInner));
}

// ---------------------------------------------------------------- primitives

const sameSpec = (a: Array) => ({ shape: a.shape, dtype: a.dtype });
type Pair = { fwd: FastPrimitive<GluParams>; bwd: FastPrimitive<GluParams> };

/**
 * The forward primitive `name`, [gate, up] (one shape and dtype) -> [act(gate) · up], and
 * `${name}Vjp`, [gate, up, g] -> [g · up · act′(gate), g · act(gate)].
 */
function gluPair(name: string): Pair {
  const pair: Pair = {
    fwd: defineFast<GluParams>({
      name,
      reference: ([gate, up], { act }) => [gluRef(gate, up, act)],
      vjp: ([g], { inputs: [gate, up], params }) => pair.bwd.apply([gate, up, g], params, [sameSpec(gate), sameSpec(up)], gate.stream),
      vmap: (ins, axes, p) => { const [a, b] = mx.batchFront(ins, axes); return [bindGlu(pair, a, b, p), [0]]; },
    }),
    bwd: defineFast<GluParams>({
      name: `${name}Vjp`,
      reference: ([gate, up, g], { act }) => gluVjpRef(gate, up, g, act),
    }),
  };
  return pair;
}
const Swiglu = gluPair('swiglu'), Geglu = gluPair('geglu');

/** act(gate) · up with gate and up broadcast to one shape (a copy only where they differ). */
function bindGlu(pair: Pair, gate0: Array, up0: Array, p: GluParams, stream = gate0.stream): Array[] {
  const shape = mx.broadcastShapes('glu', gate0.shape, up0.shape);
  const [gate, up] = [gate0, up0].map((a) => (a.shape.length === shape.length && a.shape.every((d, i) => d === shape[i]) ? a : mx.broadcastTo(a, shape)));
  return pair.fwd.apply([gate, up], p, [sameSpec(gate)], stream);
}

function glu(where: string, pair: Pair, gate: Array, up: Array, p: GluParams, stream?: StreamOrDevice): Array {
  checkFloat(where, 'gate', gate);
  checkFloat(where, 'up', up);
  mx.broadcastShapes(where, gate.shape, up.shape);
  const dtype = mx.resultType(gate, up);
  return bindGlu(pair, mx.astype(gate, dtype), mx.astype(up, dtype), p, streamOf(gate, stream))[0];
}

/** silu(gate) · up (SwiGLU, the Llama MLP), one fused pass forward and backward. */
export function swiglu(gate: Array, up: Array, opts: { stream?: StreamOrDevice } = {}): Array {
  return glu('swiglu', Swiglu, gate, up, { act: 'silu' }, opts.stream);
}

/** gelu(gate) · up (GeGLU); `approximate: 'tanh'` uses gelu's tanh form (Gemma's gelu_pytorch_tanh). */
export function geglu(gate: Array, up: Array, opts: { approximate?: GeluApproximation; stream?: StreamOrDevice } = {}): Array {
  const { approximate = 'none' } = opts;
  if (approximate !== 'none' && approximate !== 'tanh') throw new Error(`[geglu] approximate must be 'none' or 'tanh', got '${String(approximate)}'`);
  return glu('geglu', Geglu, gate, up, { act: approximate === 'tanh' ? 'geluTanh' : 'gelu' }, opts.stream);
}
