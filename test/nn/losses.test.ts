// Losses against PyTorch (float64 fixture) and closed forms (NumPy fixture), with every
// reduction, label smoothing, weights, class axes and bad input.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as mx from '../../src/index.js';
import * as nn from '../../src/nn/index.js';
import { torchCases, f64, assertNear, type Nested } from './torch-fixture.js';

const L = nn.losses;
const ref = torchCases.losses as Record<string, Nested> & { inputs: Record<string, Nested> };
const I = ref.inputs;
const more = JSON.parse(readFileSync(new URL('../fixtures/nn_more.json', import.meta.url), 'utf8')).losses as Record<string, Nested>;
const i32 = (v: Nested) => mx.array(v as mx.NestedArray, 'int32');

test('cross entropy: class indices, probabilities, label smoothing, class axis (vs PyTorch)', () => {
  assertNear(L.crossEntropy(f64(I.logits), i32(I.labels)), ref.crossEntropy, 'indices');
  assertNear(L.crossEntropy(f64(I.logits), i32(I.labels), null, -1, 0.1), ref.crossEntropySmooth, 'label smoothing 0.1');
  assertNear(L.crossEntropy(f64(I.logits), f64(I.probs), null, -1, 0.2), ref.crossEntropyProbsSmooth, 'probabilities, smoothing 0.2');
  assertNear(L.crossEntropy(f64(I.logits3), i32(I.labels3), null, 1), ref.crossEntropyAxis1, 'class axis 1');
  // MLX's example values, and per-sample weights.
  const ex = L.crossEntropy(mx.array([[2.0, -1.0], [-1.0, 2.0]]), mx.array([0, 1]));
  assertNear(ex, [0.0485873, 0.0485873], 'MLX example', 1e-5);
  const w = f64([1, 0, 2, 0.5]);
  assertNear(L.crossEntropy(f64(I.logits), i32(I.labels), w), mx.multiply(f64(ref.crossEntropy), w).tolist() as Nested, 'weights');
});

test('reductions: none, mean, sum', () => {
  const none = f64(ref.crossEntropy);
  const sum = (none.tolist() as number[]).reduce((a, b) => a + b, 0);
  assert.ok(Math.abs((L.crossEntropy(f64(I.logits), i32(I.labels), null, -1, 0, 'sum').item() as number) - sum) < 1e-12);
  assert.ok(Math.abs((L.crossEntropy(f64(I.logits), i32(I.labels), null, -1, 0, 'mean').item() as number) - sum / 4) < 1e-12);
  // MLX's defaults differ per loss: mse, l1, bce, smoothL1 and gaussianNll take the mean.
  const a = f64(I.a), b = f64(I.b);
  assert.deepEqual(L.mseLoss(a, b).shape, []);
  assert.deepEqual(L.mseLoss(a, b, 'none').shape, [3, 4]);
  assert.ok(Math.abs((L.mseLoss(a, b).item() as number) - (mx.mean(mx.square(mx.subtract(a, b))).item() as number)) < 1e-15);
  assert.ok(Math.abs((L.l1Loss(a, b, 'sum').item() as number) - (mx.sum(mx.abs(mx.subtract(a, b))).item() as number)) < 1e-12);
  assert.deepEqual(L.huberLoss(a, b).shape, [3, 4]);
});

test('binary cross entropy, nll, KL divergence (vs PyTorch)', () => {
  assertNear(L.binaryCrossEntropy(f64(I.z), f64(I.y01), null, true, 'none'), ref.bceLogits, 'with logits');
  assertNear(L.binaryCrossEntropy(f64(I.p01), f64(I.y01), null, false, 'none'), ref.bceProbs, 'probabilities');
  // MLX's examples.
  assertNear(L.binaryCrossEntropy(mx.array([0.105361, 0.223144, 1.20397, 0.916291]), mx.array([0, 0, 1, 1])), 0.539245, 'MLX logits example', 1e-5);
  assertNear(L.binaryCrossEntropy(mx.array([0.1, 0.1, 0.4, 0.4]), mx.array([0, 0, 1, 1]), null, false), 0.510826, 'MLX probs example', 1e-5);
  // Probabilities of exactly 0 and 1 stay finite (logs clipped at -100).
  assert.deepEqual(L.binaryCrossEntropy(mx.array([0, 1]), mx.array([1, 0]), null, false, 'none').tolist(), [100, 100]);
  assertNear(L.nllLoss(f64(I.logp), i32(I.nllLabels)), ref.nll, 'nll');
  assertNear(L.klDivLoss(f64(I.logp), f64(I.logq)), ref.klDiv, 'kl');
});

test('regression losses (vs PyTorch) and closed forms', () => {
  const a = f64(I.a), b = f64(I.b);
  assertNear(L.smoothL1Loss(a, b, 0.5, 'none'), ref.smoothL1, 'smoothL1 beta 0.5');
  assertNear(L.huberLoss(a, b, 1.5), ref.huber, 'huber delta 1.5');
  assertNear(L.gaussianNllLoss(a, b, f64(I.var), true, 1e-6, 'none'), ref.gaussianNll, 'gaussianNll full');
  assertNear(L.marginRankingLoss(a, b, f64(I.sign), 0.1), ref.marginRanking, 'marginRanking');
  assertNear(L.cosineSimilarityLoss(f64(I.c1), f64(I.c2)), ref.cosineSimilarity, 'cosineSimilarity');
  assertNear(L.tripletLoss(f64(more.anchors), f64(more.positives), f64(more.negatives)), more.triplet, 'triplet');
  assertNear(L.hingeLoss(f64(more.hingeInputs), f64(more.hingeTargets)), more.hinge, 'hinge');
  assertNear(L.logCoshLoss(f64(more.logCoshInputs), mx.zeros([5], 'float64')), more.logCosh, 'logCosh');
  // log cosh stays finite where cosh overflows.
  assertNear(L.logCoshLoss(mx.array([1000.0], 'float64'), mx.array([0.0], 'float64')), [1000 - Math.LN2], 'logCosh large');
});

test('gradients of cross entropy are softmax - onehot (smoothed)', () => {
  const x = f64(I.logits);
  const g = mx.grad((l: mx.Array) => L.crossEntropy(l, i32(I.labels), null, -1, 0.1, 'sum'))(x) as mx.Array;
  const onehot = mx.astype(mx.equal(mx.expandDims(i32(I.labels), -1), mx.arange(5)), 'float64');
  const want = mx.subtract(mx.softmax(x, -1), mx.add(mx.multiply(onehot, 0.9), 0.1 / 5));
  assertNear(g, want.tolist() as Nested, 'd/dlogits');
});

test('bad input names the loss and the shapes', () => {
  const x = mx.zeros([4, 5]);
  assert.throws(() => L.crossEntropy(x, mx.array([0, 1, 2])), /\[losses.crossEntropy\] targets \(3,\) must be class indices of shape \(4,\)/);
  assert.throws(() => L.crossEntropy(x, mx.zeros([4, 4])), /targets \(4,4\) must be probabilities of the logits' shape \(4,5\)/);
  assert.throws(() => L.crossEntropy(x, mx.array([0, 1, 2, 3]), null, -1, 1.0), /labelSmoothing must be in \[0, 1\), got 1/);
  assert.throws(() => L.crossEntropy(x, mx.array([0, 1, 2, 3]), mx.ones([5])), /weights \(5,\) must have the shape of the loss \(4,\)/);
  assert.throws(() => L.crossEntropy(x, mx.array([0, 1, 2, 3]), null, -1, 0, 'avg' as nn.losses.Reduction), /reduction must be 'none', 'mean' or 'sum', got 'avg'/);
  assert.throws(() => L.mseLoss(mx.zeros([2, 3]), mx.zeros([3, 2])), /\[losses.mseLoss\] predictions \(2,3\), targets \(3,2\) must have the same shape/);
  assert.throws(() => L.gaussianNllLoss(mx.zeros([2]), mx.zeros([2]), mx.zeros([3])), /inputs \(2,\), targets \(2,\), vars \(3,\) must have the same shape/);
});
