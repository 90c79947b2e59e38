// Convolution beyond the NumPy goldens: a direct-loop reference on configurations that
// exercise chunked im2col and the 1x1 fast path, and transform rules for every mode of
// the conv primitive (input and weight gradients are conv nodes too, so second-order
// gradients and vmap over batched weights run through them).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as mx from '../../src/index.js';
import { rng, checkGradients, checkVmap, Case } from '../transforms/check.js';

const rand = (shape: number[], seed: number, dtype: mx.DTypeName = 'float32'): mx.Array => {
  const r = rng(seed), n = shape.reduce((a, b) => a * b, 1);
  return mx.reshape(mx.array(Float64Array.from({ length: n }, () => r() * 2 - 1), dtype), shape);
};

/** 1-D conv_general by direct loops over (n, o, co, k, ci). */
function conv1dRef(x: mx.Array, w: mx.Array, stride: number, padLo: number, padHi: number, kdil: number, idil: number, groups: number, flip: boolean): { data: Float64Array; shape: number[] } {
  const [N, L, Cin] = x.shape, [Cout, K, Cig] = w.shape;
  const xd = x.dataSync(), wd = w.dataSync();
  const Ld = (L - 1) * idil + 1;
  const O = Math.floor((Ld + padLo + padHi - ((K - 1) * kdil + 1)) / stride) + 1;
  const out = new Float64Array(N * O * Cout), Cog = Cout / groups;
  for (let n = 0; n < N; n++) for (let o = 0; o < O; o++) for (let co = 0; co < Cout; co++) {
    const g = Math.floor(co / Cog);
    let s = 0;
    for (let k = 0; k < K; k++) {
      const pos = o * stride + (flip ? K - 1 - k : k) * kdil - padLo;
      if (pos < 0 || pos % idil !== 0 || pos / idil >= L) continue;
      const i = pos / idil;
      for (let c = 0; c < Cig; c++) s += xd[(n * L + i) * Cin + g * Cig + c] * wd[(co * K + k) * Cig + c];
    }
    out[(n * O + o) * Cout + co] = s;
  }
  return { data: out, shape: [N, O, Cout] };
}

function assertClose(got: mx.Array, ref: { data: Float64Array; shape: number[] }, tol: number, what: string): void {
  assert.deepEqual([...got.shape], ref.shape, `${what}: shape`);
  const g = got.dataSync();
  for (let i = 0; i < g.length; i++) assert.ok(Math.abs(g[i] - ref.data[i]) <= tol * (1 + Math.abs(ref.data[i])), `${what}: element ${i}: ${g[i]} vs ${ref.data[i]}`);
}

test('conv matches direct loops, including chunked im2col (many output rows, wide patches)', () => {
  const x = rand([1, 1500, 400], 1), w = rand([5, 3, 400], 2);
  assertClose(mx.conv1d(x, w, 1, 1), conv1dRef(x, w, 1, 1, 1, 1, 1, 1, false), 1e-4, 'chunked');
  const x2 = rand([2, 11, 6], 3), w2 = rand([4, 3, 3], 4);
  assertClose(mx.convGeneral(x2, w2, 2, [[3], [1]], 2, 3, 2, true), conv1dRef(x2, w2, 2, 3, 1, 2, 3, 2, true), 1e-5, 'every option at once');
});

test('a 1x1 convolution equals a matmul over channels (the im2col-free path), grouped too', () => {
  const x = rand([2, 5, 4, 6], 5), w = rand([9, 1, 1, 6], 6);
  const ref = mx.matmul(x, mx.transpose(mx.reshape(w, [9, 6])));
  const err = mx.max(mx.abs(mx.subtract(mx.conv2d(x, w), ref))).item() as number;
  assert.ok(err < 1e-5, `pointwise: ${err}`);
  const wg = rand([4, 1, 3], 7), xg = rand([1, 5, 6], 8);
  assertClose(mx.conv1d(xg, wg, 1, 0, 1, 2), conv1dRef(xg, wg, 1, 0, 0, 1, 1, 2, false), 1e-5, 'grouped pointwise');
});

test('half-precision convolution computes in float32 and rounds once', () => {
  const x = rand([1, 6, 3], 9, 'float16'), w = rand([2, 3, 3], 10, 'float16');
  const y = mx.conv1d(x, w);
  assert.equal(y.dtype, mx.float16);
  const ref = mx.astype(mx.conv1d(mx.astype(x, 'float32'), mx.astype(w, 'float32')), 'float16');
  assert.deepEqual(y.tolist(), ref.tolist());
});

const f64 = (shape: number[]) => ({ shape, dtype: 'float64' as const });
/** Gradients of a squared conv, so the rules of the input- and weight-gradient nodes are exercised too. */
const secondOrder = (conv: (x: mx.Array, w: mx.Array) => mx.Array) => (x: mx.Array, w: mx.Array) =>
  mx.grad((a: mx.Array, b: mx.Array) => mx.sum(mx.square(conv(a, b))), [0, 1])(x, w) as mx.Array[];
const cases: [string, Case][] = [
  ['conv3d, stride and padding', { fn: (x, w) => mx.conv3d(x, w, [1, 2, 1], [1, 0, 1]), inputs: [f64([1, 3, 4, 3, 2]), f64([2, 2, 2, 2, 2])] }],
  ['convGeneral, every option', { fn: (x, w) => mx.convGeneral(x, w, 2, [[2], [1]], 2, 2, 2, true), inputs: [f64([2, 5, 4]), f64([4, 2, 2])] }],
  ['convTranspose2d, output padding, groups', { fn: (x, w) => mx.convTranspose2d(x, w, 2, 1, 1, 1, 2), inputs: [f64([1, 3, 2, 4]), f64([2, 3, 2, 2])] }],
  ['convolve same', { fn: (a, v) => mx.convolve(a, v, 'same'), inputs: [f64([4]), f64([6])] }],
  ['second order (input and weight gradient nodes)', { fn: secondOrder((x, w) => mx.conv1d(x, w, 2, 1, 1, 2)), inputs: [f64([2, 5, 4]), f64([4, 3, 2])] }],
];
for (const [name, c] of cases) {
  test(`rules: ${name}`, () => {
    checkGradients(c, 300, name);
    // Batched weights fold into groups; batched inputs alone fold into N.
    checkVmap(c, 400, `${name} vmap both`, c.inputs.map(() => 0), 0);
    checkVmap(c, 401, `${name} vmap weight only`, [null, 1], 0);
    checkVmap(c, 402, `${name} vmap input only`, [1, null], 1);
  });
}
