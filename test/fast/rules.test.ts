// The transform rules of every fast primitive, with the core's rule checker: vjp against
// central finite differences in float64, jvp against vjp and finite differences, vmap
// against a loop (several inAxes/outAxes). The *Vjp cases differentiate a gradient, so
// they check the backward primitives' own rules (second order) and their batching.
import { test } from 'node:test';
import * as mx from '../../src/index.js';
import * as fast from '../../src/fast/index.js';
import { Case, InputSpec, checkGradients, checkVmap, vmapVariants } from '../transforms/check.js';

const f64 = (shape: number[], more: Partial<InputSpec> = {}): InputSpec => ({ shape, ...more });
const EPS = 1e-5;
type F = (...xs: mx.Array[]) => mx.Array | mx.Array[];
/** The gradient of `f` (all float inputs) for cotangent g, as a function of (...inputs, g). */
const gradOf = (f: (...xs: mx.Array[]) => mx.Array, n: number): F => (...xs) => mx.vjp(f, xs.slice(0, n), [xs[n]])[1] as mx.Array[];

const rms = (x: mx.Array, w: mx.Array) => fast.rmsNorm(x, w, EPS);
const ln = (x: mx.Array, w: mx.Array, b: mx.Array) => fast.layerNorm(x, w, b, EPS);
const attn = (o: fast.AttentionOptions) => (q: mx.Array, k: mx.Array, v: mx.Array) => fast.scaledDotProductAttention(q, k, v, o);
const ce = (t: mx.Array) => (z: mx.Array) => fast.crossEntropy(z, t, { reduction: 'none', ignoreIndex: 1, labelSmoothing: 0.1 });

const table: Record<string, Case[]> = {
  rmsNorm: [
    { fn: rms, inputs: [f64([2, 3, 4]), f64([4])] },
    { fn: (x) => fast.rmsNorm(x, null, EPS), inputs: [f64([3, 5])], label: 'no weight' },
  ],
  rmsNormVjp: [{ fn: gradOf(rms, 2), inputs: [f64([2, 4]), f64([4]), f64([2, 4])], vmap: false }],
  layerNorm: [
    { fn: ln, inputs: [f64([2, 3, 4]), f64([4]), f64([4])] },
    { fn: (x) => fast.layerNorm(x, null, null, EPS), inputs: [f64([3, 5])], label: 'no affine' },
  ],
  layerNormVjp: [{ fn: gradOf(ln, 3), inputs: [f64([2, 4]), f64([4]), f64([4]), f64([2, 4])], vmap: false }],
  rope: [
    { fn: (x) => fast.rope(x, 4, { offset: 3, base: 100 }), inputs: [f64([2, 3, 5, 6])], label: 'partial, split halves' },
    { fn: (x) => fast.rope(x, 6, { traditional: true, offset: mx.array([1, 7]), scale: 0.5 }), inputs: [f64([2, 3, 4, 6])], label: 'traditional, per-batch offsets' },
    { fn: (x) => fast.rope(x, 6, { offset: mx.array([[0, 1, 2, 0], [5, 6, 7, 8]]) }), inputs: [f64([2, 1, 4, 6])], label: 'per-token positions' },
    // A pending transpose folded into the node (param axes): rules on the untransposed input.
    { fn: (x) => fast.rope(mx.transpose(x, [0, 2, 1, 3]), 4, { offset: 3, base: 100 }), inputs: [f64([2, 5, 3, 6])], label: 'folded head split, partial' },
    { fn: (x) => fast.rope(mx.transpose(x, [0, 2, 1, 3]), 6, { traditional: true, offset: mx.array([1, 7]) }), inputs: [f64([2, 4, 3, 6])], label: 'folded head split, per-batch offsets' },
    { fn: (x) => fast.rope(mx.transpose(x, [2, 0, 1, 3]), 6, { offset: mx.array([[0, 1, 2], [5, 6, 7]]) }), inputs: [f64([2, 3, 2, 6])], label: 'folded permutation, per-token positions' },
  ],
  scaledDotProductAttention: [
    { fn: attn({ mask: 'causal' }), inputs: [f64([1, 2, 3, 4]), f64([1, 1, 4, 4]), f64([1, 1, 4, 3])], label: 'causal, multi-query' },
    { fn: attn({ softcap: 1.5, windowSize: 2, mask: 'causal', keyLengths: [3, 2] }), inputs: [f64([2, 2, 3, 4]), f64([2, 2, 3, 4]), f64([2, 2, 3, 4])], label: 'softcap, window, key lengths' },
    { fn: attn({ mask: mx.array([[0, -1, 2], [-Infinity, 0, 1]], 'float64') }), inputs: [f64([1, 1, 2, 3]), f64([1, 1, 3, 3]), f64([1, 1, 3, 2])], label: 'additive mask' },
  ],
  scaledDotProductAttentionVjp: [
    { fn: gradOf(attn({ mask: 'causal' }), 3), inputs: [f64([1, 2, 3, 4]), f64([1, 1, 3, 4]), f64([1, 1, 3, 2]), f64([1, 2, 3, 2])], vmap: false },
  ],
  crossEntropy: [
    { fn: (z, t) => ce(t)(z), inputs: [f64([3, 5]), { shape: [3], dtype: 'int32', lo: 0, hi: 4 }] },
    { fn: (z) => fast.crossEntropy(z, mx.array([2, 0]), { reduction: 'mean' }), inputs: [f64([2, 4])], label: 'mean' },
  ],
  crossEntropyVjp: [{ fn: (z, g) => gradOf(ce(mx.array([0, 1, 3])), 1)(z, g), inputs: [f64([3, 5]), f64([3])] }],
  swiglu: [{ fn: (a, b) => fast.swiglu(a, b), inputs: [f64([2, 3]), f64([2, 3])] }],
  swigluVjp: [{ fn: gradOf((a, b) => fast.swiglu(a, b), 2), inputs: [f64([2, 3]), f64([2, 3]), f64([2, 3])], vmap: false }],
  geglu: [
    { fn: (a, b) => fast.geglu(a, b), inputs: [f64([2, 3]), f64([2, 3])] },
    { fn: (a, b) => fast.geglu(a, b, { approximate: 'tanh' }), inputs: [f64([2, 3]), f64([3])], label: 'tanh, broadcast' },
  ],
  gegluVjp: [{ fn: gradOf((a, b) => fast.geglu(a, b, { approximate: 'tanh' }), 2), inputs: [f64([2, 3]), f64([2, 3]), f64([2, 3])], vmap: false }],
};

// Gradients of a gradient map over a batch through the reference (checked here once per
// backward primitive, with one variant: every input mapped on axis 0).
const backwardVmap: Record<string, Case> = {
  rmsNormVjp: table.rmsNormVjp[0], layerNormVjp: table.layerNormVjp[0],
  scaledDotProductAttentionVjp: table.scaledDotProductAttentionVjp[0], swigluVjp: table.swigluVjp[0], gegluVjp: table.gegluVjp[0],
};

for (const [prim, cases] of Object.entries(table)) {
  test(`rules: ${prim}`, () => {
    cases.forEach((c, i) => {
      const where = `${prim}[${i}]${c.label ? ` (${c.label})` : ''}`;
      checkGradients(c, 3000 + i, where);
      if (c.vmap !== false) for (const [j, v] of vmapVariants(c).entries())
        checkVmap(c, 4000 + 10 * i + j, `${where} vmap inAxes [${v.inAxes.join(',')}] outAxes ${v.outAxis}`, v.inAxes, v.outAxis);
    });
    const b = backwardVmap[prim];
    if (b) checkVmap(b, 5000, `${prim} vmap`, b.inputs.map(() => 0), 0);
  });
}
