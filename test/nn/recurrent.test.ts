// RNN, GRU and LSTM against PyTorch (float64, identical weights in MLX's layout; see
// scripts/fixtures/nn_torch.py for how PyTorch's biases fold into MLX's).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as mx from '../../src/index.js';
import * as nn from '../../src/nn/index.js';
import { torchCases, f64, assertNear, type Nested } from './torch-fixture.js';

interface RecCase { x: Nested; h0?: Nested; c0?: Nested; hidden: Nested; cells?: Nested; params: Record<string, Nested>; sizes: number[]; nonlinearity: string }
const params = (c: RecCase) => Object.fromEntries(Object.entries(c.params).map(([k, v]) => [k, f64(v)]));

test('RNN matches torch.nn.RNN (tanh and relu, with and without an initial state)', () => {
  for (const [i, c] of (torchCases.rnn as RecCase[]).entries()) {
    const [, , D, H] = c.sizes;
    const rnn = new nn.RNN(D, H, true, c.nonlinearity === 'relu' ? nn.relu : null).update(params(c));
    const out = rnn.forward(f64(c.x), c.h0 ? f64(c.h0) : null);
    assertNear(out, c.hidden, `rnn[${i}]`);
    // An unbatched (L, D) sequence is the batch's first row.
    const one = rnn.forward(mx.take(f64(c.x), 0, 0), c.h0 ? mx.take(f64(c.h0), 0, 0) : null);
    assertNear(one, (c.hidden as Nested[])[0], `rnn[${i}] unbatched`);
  }
});

test('GRU matches torch.nn.GRU given an initial state', () => {
  for (const [i, c] of (torchCases.gru as RecCase[]).entries()) {
    const [, , D, H] = c.sizes;
    const gru = new nn.GRU(D, H).update(params(c));
    assertNear(gru.forward(f64(c.x), f64(c.h0!)), c.hidden, `gru[${i}]`);
  }
});

test("GRU without a state follows MLX: the first step's candidate omits r * bhn", () => {
  const c = (torchCases.gru as RecCase[])[0];
  const [, , D, H] = c.sizes;
  const gru = new nn.GRU(D, H).update(params(c));
  const x = f64(c.x);
  const first = mx.take(gru.forward(x), 0, 1);
  const proj = mx.addmm(gru.b!, mx.take(x, 0, 1), mx.transpose(gru.Wx));
  const [, z, n] = mx.split(proj, 3, -1);
  const want = mx.multiply(mx.subtract(1, mx.sigmoid(z)), mx.tanh(n));
  assertNear(first, want.tolist() as Nested, 'gru first step');
});

test('LSTM matches torch.nn.LSTM: hidden and cell states of every step', () => {
  for (const [i, c] of (torchCases.lstm as RecCase[]).entries()) {
    const [, , D, H] = c.sizes;
    const lstm = new nn.LSTM(D, H).update(params(c));
    const [h, cell] = lstm.forward(f64(c.x), c.h0 ? f64(c.h0) : null, c.c0 ? f64(c.c0) : null);
    assertNear(h, c.hidden, `lstm[${i}] hidden`);
    assertNear(cell, c.cells!, `lstm[${i}] cells`);
  }
});

test('parameter names and shapes are MLX\'s; gradients reach every parameter', () => {
  const shapes = (m: nn.Module) => Object.fromEntries(Object.entries(m.parameters()).map(([k, v]) => [k, (v as mx.Array).shape]));
  assert.deepEqual(shapes(new nn.RNN(3, 4)), { Wxh: [4, 3], Whh: [4, 4], bias: [4] });
  assert.deepEqual(shapes(new nn.GRU(3, 4)), { Wx: [12, 3], Wh: [12, 4], b: [12], bhn: [4] });
  assert.deepEqual(shapes(new nn.LSTM(3, 4)), { Wx: [16, 3], Wh: [16, 4], bias: [16] });
  assert.deepEqual(shapes(new nn.LSTM(3, 4, false)), { Wx: [16, 3], Wh: [16, 4] });
  const lstm = new nn.LSTM(3, 4);
  const x = mx.random.normal([2, 5, 3], 'float32', null, null, mx.random.key(1));
  const [, grads] = nn.valueAndGrad(lstm, (xx: mx.Array) => mx.sum(lstm.forward(xx)[0]))(x) as [mx.Array, Record<string, mx.Array>];
  for (const k of ['Wx', 'Wh', 'bias']) assert.ok((mx.sum(mx.abs(grads[k])).item() as number) > 0, `gradient of ${k}`);
  assert.throws(() => lstm.forward(mx.zeros([2, 5, 4])), /\[LSTM\] the input's last dim 4 must equal the input size 3/);
  assert.throws(() => new nn.GRU(3, 4).forward(mx.zeros([5])), /\[GRU\] expected an input \(N, L, D\) or \(L, D\), got shape \(5\)/);
});
