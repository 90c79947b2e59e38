// Affine quantization: exact packing against MLX's algorithm (NumPy fixture and hand-worked
// words), round-trip error bounds, quantizedMatmul against matmul with the dequantized
// weight (including the blocked kernel), gradients, and the quantized layers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as mx from '../../src/index.js';
import * as nn from '../../src/nn/index.js';

interface QCase { bits: number; groupSize: number; wq: number[][]; scales: number[][]; biases: number[][]; dequantized?: number[][] }
const fixture = JSON.parse(readFileSync(new URL('../fixtures/nn_more.json', import.meta.url), 'utf8')) as { w: number[][]; quantize: QCase[] };

const flat = (a: mx.Array) => [...a.dataSync()].map(Number);
function assertClose(got: mx.Array, want: mx.Array | number[], tol: number, what: string): void {
  const g = flat(got), w = want instanceof mx.Array ? flat(want) : want;
  assert.equal(g.length, w.length, `${what}: sizes`);
  let worst = 0, at = -1;
  for (let i = 0; i < g.length; i++) {
    const e = Math.abs(g[i] - w[i]) / (1 + Math.abs(w[i]));
    if (!(e <= worst)) { worst = e; at = i; }
  }
  assert.ok(worst <= tol, `${what}: element ${at}: got ${g[at]}, expected ${w[at]} (relative error ${worst} > ${tol})`);
}
const key = (n: number) => mx.random.key(n);

test('quantize packs, scales and biases exactly as MLX (NumPy port of its CPU kernel)', () => {
  const w = mx.array(fixture.w, 'float32');
  for (const c of fixture.quantize) {
    const [wq, scales, biases] = mx.quantize(w, c.groupSize, c.bits);
    const where = `bits ${c.bits}, groupSize ${c.groupSize}`;
    assert.equal(wq.dtype.name, 'uint32');
    assert.deepEqual(wq.shape, [3, (256 * c.bits) / 32], where);
    assert.deepEqual(wq.tolist(), c.wq, `${where}: packed words`);
    assert.deepEqual(scales.tolist(), c.scales, `${where}: scales`);
    assert.deepEqual(biases.tolist(), c.biases, `${where}: biases`);
    if (c.dequantized) assert.deepEqual(mx.dequantize(wq, scales, biases, c.groupSize, c.bits).tolist(), c.dequantized, `${where}: dequantized`);
  }
});

test('hand-worked packing: 4-bit and 3-bit values, least significant bits first', () => {
  // 0..15 twice: min 0, max 15, so the max is kept exactly (scale -1, bias 15) and q = 15 - w.
  const w4 = mx.array([Array.from({ length: 32 }, (_, j) => j % 16)], 'float32');
  const [q4, s4, b4] = mx.quantize(w4, 32, 4);
  assert.deepEqual(q4.tolist(), [[0x89abcdef, 0x01234567, 0x89abcdef, 0x01234567]]);
  assert.deepEqual(s4.tolist(), [[-1]]);
  assert.deepEqual(b4.tolist(), [[15]]);
  assert.deepEqual(mx.dequantize(q4, s4, b4, 32, 4).tolist(), w4.tolist());
  // 3 bits: q = 7 - (j % 8); value j sits at bits [3j, 3j + 3) of the row, across word boundaries.
  const w3 = mx.array([Array.from({ length: 32 }, (_, j) => j % 8)], 'float32');
  const [q3] = mx.quantize(w3, 32, 3);
  let stream = 0n;
  for (let j = 31; j >= 0; j--) stream = (stream << 3n) | BigInt(7 - (j % 8));
  const words = [0, 1, 2].map((i) => Number((stream >> BigInt(32 * i)) & 0xffffffffn));
  assert.deepEqual(q3.tolist(), [words]);
  // A group whose larger-magnitude end is its minimum keeps that minimum exactly (positive scale).
  const [, s, b] = mx.quantize(mx.array([Array.from({ length: 32 }, (_, j) => -8 + j / 31)], 'float32'), 32, 4);
  assert.ok((s.item() as number) > 0);
  assert.equal(b.item(), -8);
});

test('round trip: each value is within one step (|scale|) of its group, for every width and dtype', () => {
  for (const dtype of ['float32', 'float16', 'bfloat16'] as const) {
    const w = mx.astype(mx.random.normal([4, 256], 'float32', null, null, key(3)), dtype);
    for (const bits of [2, 3, 4, 5, 6, 8]) for (const gs of [32, 64, 128]) {
      const [wq, s, b] = mx.quantize(w, gs, bits);
      assert.equal(s.dtype.name, dtype);
      const back = mx.dequantize(wq, s, b, gs, bits);
      assert.equal(back.dtype.name, dtype);
      const err = mx.reshape(mx.abs(mx.subtract(mx.astype(w, 'float32'), mx.astype(back, 'float32'))), [4, 256 / gs, gs]);
      const bound = mx.add(mx.expandDims(mx.abs(mx.astype(s, 'float32')), -1), dtype === 'float32' ? 1e-6 : 2e-2);
      assert.ok(mx.all(mx.lessEqual(err, bound)).item(), `${dtype} ${bits} bits, group ${gs}`);
      // More bits, smaller error: the mean error shrinks about 2x per bit.
      const mean = mx.mean(err).item() as number;
      assert.ok(mean < 1.6 * 2 ** -bits * 4, `${dtype} ${bits} bits: mean error ${mean}`);
    }
  }
});

test('quantizedMatmul equals matmul with the dequantized weight', () => {
  for (const bits of [2, 3, 4, 5, 6, 8]) for (const gs of [32, 64, 128]) {
    const w = mx.random.normal([48, 128], 'float32', null, null, key(bits * 1000 + gs));
    const [wq, s, b] = mx.quantize(w, gs, bits);
    const dense = mx.dequantize(wq, s, b, gs, bits);
    const x = mx.random.normal([2, 3, 128], 'float32', null, null, key(5));
    assertClose(mx.quantizedMatmul(x, wq, s, b, true, gs, bits), mx.matmul(x, mx.transpose(dense)), 1e-5, `transpose, ${bits} bits, group ${gs}`);
    // Not transposed: the packed weight is (K, N) and x contracts with its rows.
    const x2 = mx.random.normal([5, 48], 'float32', null, null, key(6));
    assertClose(mx.quantizedMatmul(x2, wq, s, b, false, gs, bits), mx.matmul(x2, dense), 1e-5, `no transpose, ${bits} bits, group ${gs}`);
  }
  // A vector x, a batched weight broadcast against x's batch, float16 and float64.
  const w = mx.random.normal([2, 6, 64], 'float32', null, null, key(7));
  const [wq, s, b] = mx.quantize(w, 32, 4);
  const dense = mx.dequantize(wq, s, b, 32, 4);
  const xv = mx.random.normal([64], 'float32', null, null, key(8));
  assertClose(mx.quantizedMatmul(xv, wq, s, b, true, 32, 4), mx.matmul(xv, mx.swapaxes(dense, -1, -2)), 1e-5, 'vector x, batched weight');
  const xb = mx.random.normal([3, 1, 4, 64], 'float32', null, null, key(9));
  const yb = mx.quantizedMatmul(xb, wq, s, b, true, 32, 4);
  assert.deepEqual(yb.shape, [3, 2, 4, 6]);
  assertClose(yb, mx.matmul(xb, mx.swapaxes(dense, -1, -2)), 1e-5, 'broadcast batch');
  const h = mx.quantizedMatmul(mx.astype(xb, 'float16'), wq, mx.astype(s, 'float16'), mx.astype(b, 'float16'), true, 32, 4);
  assert.equal(h.dtype.name, 'float16');
  assertClose(h, yb, 2e-2, 'float16');
});

test('quantizedMatmul on weights larger than one dequantization block', () => {
  // Transposed: 600 x 1024 weight rows span several blocks of 256 rows.
  const w = mx.random.normal([600, 1024], 'float32', null, null, key(11));
  const [wq, s, b] = mx.quantize(w, 64, 4);
  const x = mx.random.normal([3, 1024], 'float32', null, null, key(12));
  assertClose(mx.quantizedMatmul(x, wq, s, b), mx.matmul(x, mx.transpose(mx.dequantize(wq, s, b))), 1e-5, 'transpose, blocked');
  // Not transposed: 4200 contraction rows of 64 outputs span two blocks of 4096 rows.
  const w2 = mx.random.normal([4200, 64], 'float32', null, null, key(13));
  const [wq2, s2, b2] = mx.quantize(w2, 32, 3);
  const x2 = mx.random.normal([2, 4200], 'float32', null, null, key(14));
  assertClose(mx.quantizedMatmul(x2, wq2, s2, b2, false, 32, 3), mx.matmul(x2, mx.dequantize(wq2, s2, b2, 32, 3)), 1e-5, 'no transpose, blocked');
});

test('gradients flow to x (and to scales and biases), not to the packed weight', () => {
  const w = mx.random.normal([8, 64], 'float32', null, null, key(21));
  const [wq, s, b] = mx.quantize(w, 32, 4);
  const dense = mx.dequantize(wq, s, b, 32, 4);
  const x = mx.random.normal([3, 64], 'float32', null, null, key(22));
  const gq = mx.grad((xx: mx.Array) => mx.sum(mx.square(mx.quantizedMatmul(xx, wq, s, b, true, 32, 4))))(x) as mx.Array;
  const gd = mx.grad((xx: mx.Array) => mx.sum(mx.square(mx.matmul(xx, mx.transpose(dense)))))(x) as mx.Array;
  assertClose(gq, gd, 1e-5, 'd/dx');
  const [ds, db] = mx.grad((ss: mx.Array, bb: mx.Array) => mx.sum(mx.square(mx.quantizedMatmul(x, wq, ss, bb, true, 32, 4))), [0, 1])(s, b) as mx.Array[];
  const [ds2, db2] = mx.grad((ss: mx.Array, bb: mx.Array) => mx.sum(mx.square(mx.matmul(x, mx.transpose(mx.dequantize(wq, ss, bb, 32, 4))))), [0, 1])(s, b) as mx.Array[];
  assertClose(ds, ds2, 1e-4, 'd/dscales');
  assertClose(db, db2, 1e-4, 'd/dbiases');
});

test('bad input is refused with what was expected', () => {
  const w = mx.zeros([4, 64]);
  assert.throws(() => mx.quantize(w, 48, 4), /\[quantize\] groupSize must be one of 32, 64, 128, got 48/);
  assert.throws(() => mx.quantize(w, 64, 7), /\[quantize\] bits must be one of 2, 3, 4, 5, 6, 8, got 7/);
  assert.throws(() => mx.quantize(mx.zeros([4, 96]), 64, 4), /last dimension 96 .* divisible by the group size 64/);
  assert.throws(() => mx.quantize(mx.zeros([64]), 64, 4), /at least 2 dimensions/);
  assert.throws(() => mx.quantize(mx.zeros([2, 64], 'int32'), 64, 4), /floating-point/);
  const [wq, s, b] = mx.quantize(w, 32, 4);
  assert.throws(() => mx.dequantize(wq, s, b, 64, 4), /holds 64 values per row at 4 bits, but scales \(4,2\) with groupSize 64 describe 128/);
  assert.throws(() => mx.dequantize(mx.astype(wq, 'int32'), s, b, 32, 4), /must be uint32, got int32/);
  assert.throws(() => mx.dequantize(wq, s, mx.zeros([4, 3]), 32, 4), /scales \(4,2\) and biases \(4,3\) must have the same shape/);
  assert.throws(() => mx.quantizedMatmul(mx.zeros([2, 32]), wq, s, b, true, 32, 4), /last dim of x \(2,32\) must equal K of the weight, stored \(N, K\) = \(4, 64\) with transpose=true/);
  assert.throws(() => mx.quantizedMatmul(mx.zeros([2, 64]), wq, s, b, false, 32, 4), /must equal K of the weight, stored \(K, N\) = \(4, 64\)/);
});

test('QuantizedLinear and QuantizedEmbedding, and nn.quantize swapping layers in place', () => {
  mx.random.seed(3);
  const lin = new nn.Linear(64, 16);
  const ql = nn.QuantizedLinear.fromLinear(lin, 32, 8);
  const x = mx.random.normal([5, 64], 'float32', null, null, key(31));
  assertClose(ql.forward(x), lin.forward(x), 2e-2, 'QuantizedLinear (8 bits) vs Linear');
  assertClose(ql.forward(x), mx.add(mx.quantizedMatmul(x, ql.weight, ql.scales, ql.biases, true, 32, 8), lin.bias!), 1e-6, 'QuantizedLinear formula');
  assert.deepEqual(Object.keys(ql.parameters()).sort(), ['bias', 'biases', 'scales', 'weight']);
  // As MLX: the packed weight, scales and biases are frozen; a bias carried over from Linear is not.
  assert.deepEqual(Object.keys(ql.trainableParameters()), ['bias']);
  ql.unfreeze();
  assert.deepEqual(Object.keys(ql.trainableParameters()), []);
  assert.match(ql.toString(), /QuantizedLinear\(inputDims=64, outputDims=16, bias=true, groupSize=32, bits=8\)/);

  const emb = new nn.Embedding(10, 64);
  const qe = nn.QuantizedEmbedding.fromEmbedding(emb, 64, 4);
  const ids = mx.array([[1, 7], [3, 3]]);
  const rows = qe.forward(ids);
  assert.deepEqual(rows.shape, [2, 2, 64]);
  assertClose(rows, mx.take(mx.dequantize(qe.weight, qe.scales, qe.biases, 64, 4), ids, 0), 1e-7, 'QuantizedEmbedding rows');
  assertClose(qe.asLinear(x), mx.matmul(x, mx.transpose(mx.dequantize(qe.weight, qe.scales, qe.biases, 64, 4))), 1e-5, 'asLinear');

  const model = new nn.Sequential(new nn.Embedding(10, 64), new nn.Linear(64, 32), nn.relu, new nn.Linear(32, 10));
  const before = model.forward(ids);
  nn.quantize(model, 32, 8);
  const [e, l1, , l2] = model.layers;
  assert.ok(e instanceof nn.QuantizedEmbedding && l1 instanceof nn.QuantizedLinear && l2 instanceof nn.QuantizedLinear);
  assertClose(model.forward(ids), before, 5e-2, 'quantized model output');
  // A predicate picks layers and may override the scheme per layer.
  const m2 = new nn.Sequential(new nn.Linear(64, 64), new nn.Linear(64, 32));
  nn.quantize(m2, 64, 4, (path) => (path === 'layers.0' ? { bits: 2, groupSize: 32 } : false));
  const [a, b2] = m2.layers;
  assert.ok(a instanceof nn.QuantizedLinear && a.bits === 2 && a.groupSize === 32);
  assert.ok(b2 instanceof nn.Linear);
  assert.throws(() => nn.quantize(new nn.Sequential(new nn.LayerNorm(64)), 64, 4, () => true), /\[nn.quantize\] cannot quantize 'layers.0' of type LayerNorm/);
});
