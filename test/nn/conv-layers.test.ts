// Convolution, pooling and upsampling layers against PyTorch (float64, converted to
// channels last and MLX's weight layouts by scripts/fixtures/nn_torch.py).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as mx from '../../src/index.js';
import * as nn from '../../src/nn/index.js';
import { torchCases, f64, assertNear, type Nested } from './torch-fixture.js';

interface ConvArgs { inChannels: number; outChannels: number; kernelSize: number[]; stride: number | number[]; padding: number | number[]; dilation: number | number[]; groups?: number; outputPadding?: number | number[] }
interface ConvCase { x: Nested; weight: Nested; bias: Nested; y: Nested; args: ConvArgs }
const one = (v: number | number[]) => (typeof v === 'number' ? v : v[0]);

type ConvLayer = nn.Conv1d | nn.Conv2d | nn.Conv3d | nn.ConvTranspose1d | nn.ConvTranspose2d;
function build(kind: string, a: ConvArgs): ConvLayer {
  switch (kind) {
    case 'conv1d': return new nn.Conv1d(a.inChannels, a.outChannels, a.kernelSize[0], one(a.stride), one(a.padding), one(a.dilation), a.groups);
    case 'conv2d': return new nn.Conv2d(a.inChannels, a.outChannels, a.kernelSize, a.stride, a.padding, a.dilation, a.groups);
    case 'conv3d': return new nn.Conv3d(a.inChannels, a.outChannels, a.kernelSize, a.stride, a.padding, a.dilation);
    case 'convTranspose1d': return new nn.ConvTranspose1d(a.inChannels, a.outChannels, a.kernelSize[0], one(a.stride), one(a.padding), one(a.dilation), one(a.outputPadding!));
    default: return new nn.ConvTranspose2d(a.inChannels, a.outChannels, a.kernelSize, a.stride, a.padding, a.dilation, a.outputPadding);
  }
}

test('Conv1d/2d/3d and ConvTranspose1d/2d match PyTorch (stride, padding, dilation, groups, output padding)', () => {
  for (const kind of ['conv1d', 'conv2d', 'conv3d', 'convTranspose1d', 'convTranspose2d']) {
    for (const [i, c] of (torchCases[kind] as ConvCase[]).entries()) {
      const layer = build(kind, c.args);
      const w = f64(c.weight);
      assert.deepEqual((layer.parameters().weight as mx.Array).shape, w.shape, `${kind}[${i}] weight shape`);
      layer.update({ weight: w, bias: f64(c.bias) });
      assertNear(layer.forward(f64(c.x)), c.y, `${kind}[${i}]`);
    }
  }
});

test('conv layers: MLX init, optional bias, errors', () => {
  mx.random.seed(0);
  const conv = new nn.Conv2d(4, 6, 3);
  const w = conv.weight;
  assert.deepEqual(w.shape, [6, 3, 3, 4]);
  const bound = Math.sqrt(1 / (4 * 9));
  assert.ok((mx.max(mx.abs(w)).item() as number) <= bound && (mx.max(mx.abs(w)).item() as number) > 0.8 * bound);
  assert.deepEqual(conv.bias!.tolist(), [0, 0, 0, 0, 0, 0]);
  assert.deepEqual(Object.keys(new nn.Conv1d(2, 2, 3, 1, 0, 1, 1, false).parameters()), ['weight']);
  assert.deepEqual(new nn.Conv1d(4, 6, 3, 1, 0, 1, 2).weight.shape, [6, 3, 2]);
  assert.throws(() => new nn.Conv1d(3, 6, 3, 1, 0, 1, 2), /\[Conv1d\] the number of input channels \(3\) must be divisible by the number of groups \(2\)/);
  assert.throws(() => new nn.Conv2d(2, 2, [3, 3, 3]), /\[Conv2d\] kernelSize must be a non-negative integer or 2 of them/);
  assert.equal(conv.toString(), 'Conv2d(4, 6, kernelSize=(3,3), stride=(1,1), padding=(0,0), dilation=(1,1), groups=1, bias=true)');
  // Gradients reach the weight and the bias.
  const x = mx.random.normal([1, 5, 5, 4]);
  const [, g] = nn.valueAndGrad(conv, (xx: mx.Array) => mx.sum(conv.forward(xx)))(x) as [mx.Array, Record<string, mx.Array>];
  assert.deepEqual(g.bias.tolist(), [9, 9, 9, 9, 9, 9]);
  assert.deepEqual(g.weight.shape, [6, 3, 3, 4]);
});

interface PoolCase { x: Nested; y: Nested; kind: 'max' | 'avg'; dims: number; kernelSize: number | number[]; stride: number | number[]; padding: number | number[] }

test('MaxPool and AvgPool (1-D, 2-D; padding counts in averages) match PyTorch', () => {
  for (const [i, c] of (torchCases.pool as PoolCase[]).entries()) {
    const Cls = c.dims === 1 ? (c.kind === 'max' ? nn.MaxPool1d : nn.AvgPool1d) : (c.kind === 'max' ? nn.MaxPool2d : nn.AvgPool2d);
    assertNear(new Cls(c.kernelSize, c.stride, c.padding).forward(f64(c.x)), c.y, `pool[${i}] ${c.kind} ${c.dims}-d`);
  }
});

test('pooling: stride defaults to the kernel; gradients; 3-D; errors', () => {
  const x = mx.reshape(mx.arange(16, null, null, 'float32'), [1, 4, 4, 1]);
  assert.deepEqual(mx.reshape(new nn.MaxPool2d(2).forward(x), [4]).tolist(), [5, 7, 13, 15]);
  assert.deepEqual(mx.reshape(new nn.AvgPool2d(2).forward(x), [4]).tolist(), [2.5, 4.5, 10.5, 12.5]);
  const g = mx.grad((xx: mx.Array) => mx.sum(new nn.MaxPool2d(2).forward(xx)))(x) as mx.Array;
  assert.deepEqual(mx.reshape(g, [16]).tolist(), [0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 1, 0, 1]);
  const x3 = mx.reshape(mx.arange(2 * 4 * 4 * 4 * 3, null, null, 'float32'), [2, 4, 4, 4, 3]);
  const y3 = new nn.AvgPool3d(2).forward(x3);
  assert.deepEqual(y3.shape, [2, 2, 2, 2, 3]);
  assert.equal(mx.take(mx.reshape(y3, [-1]), 0, 0).item(), (0 + 3 + 12 + 15 + 48 + 51 + 60 + 63) / 8);
  assert.throws(() => new nn.MaxPool2d(2).forward(mx.zeros([4, 4, 1])), /\[MaxPool2d\] expected a 4-D input \(N, H, W, C\), got shape \(4,4,1\)/);
  assert.throws(() => new nn.MaxPool1d(5).forward(mx.zeros([1, 3, 1])), /\[MaxPool1d\] the padded input \(3\) is smaller than the kernel \(5\)/);
});

interface UpCase { x: Nested; y: Nested; mode: nn.UpsampleMode; scale: number | number[]; alignCorners: boolean }

test('Upsample (nearest, linear, cubic; alignCorners; non-integer scales) matches PyTorch', () => {
  for (const [i, c] of (torchCases.upsample as UpCase[]).entries()) {
    const up = new nn.Upsample(c.scale, c.mode, c.alignCorners);
    // MLX computes the sampling grid in float32, so float32 accuracy is the bar.
    assertNear(up.forward(f64(c.x)), c.y, `upsample[${i}] ${c.mode} scale ${JSON.stringify(c.scale)} alignCorners ${c.alignCorners}`, 1e-6, 1e-6);
  }
});

test("Upsample: MLX's documented example, nearest at non-integer scales, errors", () => {
  const x = mx.reshape(mx.arange(1, 5, null, 'float32'), [1, 2, 2, 1]);
  const sq = (a: mx.Array) => mx.reshape(a, [4, 4]).tolist() as number[][];
  assert.deepEqual(sq(new nn.Upsample(2, 'nearest').forward(x)), [[1, 1, 2, 2], [1, 1, 2, 2], [3, 3, 4, 4], [3, 3, 4, 4]]);
  assert.deepEqual(sq(new nn.Upsample(2, 'linear').forward(x)), [[1, 1.25, 1.75, 2], [1.5, 1.75, 2.25, 2.5], [2.5, 2.75, 3.25, 3.5], [3, 3.25, 3.75, 4]]);
  const ac = sq(new nn.Upsample(2, 'linear', true).forward(x));
  [[1, 4 / 3, 5 / 3, 2], [5 / 3, 2, 7 / 3, 8 / 3], [7 / 3, 8 / 3, 3, 10 / 3], [3, 10 / 3, 11 / 3, 4]]
    .forEach((row, i) => row.forEach((v, j) => assert.ok(Math.abs(ac[i][j] - v) < 1e-6, `alignCorners (${i},${j})`)));
  // Scale 1.5 on 4 samples: 6 outputs from round((i + 0.5) * 4/6 - 0.5), halves to even.
  const v = mx.reshape(mx.arange(4, null, null, 'float32'), [1, 4, 1]);
  assert.deepEqual(mx.reshape(new nn.Upsample(1.5).forward(v), [6]).tolist(), [0, 0, 1, 2, 2, 3]);
  // Downsampling by 0.5 picks every other sample.
  assert.deepEqual(mx.reshape(new nn.Upsample(0.5).forward(v), [2]).tolist(), [0, 2]);
  assert.throws(() => new nn.Upsample(2).forward(mx.zeros([4, 4])), /\[Upsample\] the input needs at least one spatial axis/);
  assert.throws(() => new nn.Upsample([2, 2]).forward(mx.zeros([1, 4, 1])), /one scale per spatial axis is required: got 2 scales for 1 spatial axes/);
  assert.throws(() => new nn.Upsample(2, 'area' as nn.UpsampleMode), /mode must be 'nearest', 'linear' or 'cubic', got 'area'/);
});
