// Optimizer state is a tree: its layout, assigning it, flattening it, and saving it to a
// safetensors file so that training resumes exactly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as mx from '../../src/index.js';
import * as nn from '../../src/nn/index.js';
import * as optim from '../../src/optimizers/index.js';
import { saveSafetensors, loadSafetensors } from '../../src/io/index.js';

const dir = mkdtempSync(join(tmpdir(), 'lathe-optim-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

function mlp(seed: number) {
  mx.random.seed(seed);
  return new nn.Sequential(new nn.Linear(4, 8), new nn.Tanh(), new nn.Linear(8, 2));
}
const data = (i: number) => {
  const x = mx.random.normal([16, 4], mx.float32, null, null, mx.random.key(100 + i));
  return [x, mx.tanh(mx.matmul(x, mx.ones([4, 2])))] as const;
};

function train(model: nn.Module, opt: optim.Optimizer, from: number, to: number): number[] {
  const lossAndGrad = nn.valueAndGrad(model, (x: mx.Array, y: mx.Array) => nn.losses.mseLoss(model.forward(x) as mx.Array, y));
  const losses: number[] = [];
  for (let i = from; i < to; i++) {
    const [x, y] = data(i);
    const [loss, grads] = lossAndGrad(x, y);
    opt.update(model, grads);
    mx.eval(loss, model.parameters(), opt.state);
    losses.push(loss.item() as number);
  }
  return losses;
}

const makers: [string, () => optim.Optimizer][] = [
  ['AdamW with warmup and cosine decay', () => new optim.AdamW(optim.joinSchedules([optim.linearSchedule(0, 1e-2, 5), optim.cosineDecay(1e-2, 30)], [5]), { biasCorrection: true })],
  ['SGD with Nesterov momentum', () => new optim.SGD(0.05, { momentum: 0.9, nesterov: true, weightDecay: 1e-4 })],
  ['Adafactor with a first moment', () => new optim.Adafactor({ beta1: 0.9 })],
  ['Muon and AdamW (MultiOptimizer)', () => new optim.MultiOptimizer([new optim.Muon(0.02), new optim.AdamW(1e-2)], [(_p, g) => g.ndim === 2])],
];

for (const [name, make] of makers) {
  test(`${name}: saving and loading the state resumes training exactly`, () => {
    // One uninterrupted run of 20 steps...
    const ref = mlp(1);
    const refLosses = train(ref, make(), 0, 20);
    // ...against 10 steps, a save, and 10 more steps by a new model and optimizer from the files.
    const first = mlp(1);
    const opt1 = make();
    train(first, opt1, 0, 10);
    const weights = join(dir, `${name.split(' ')[0]}.weights.safetensors`), state = join(dir, `${name.split(' ')[0]}.state.safetensors`);
    first.saveWeights(weights);
    optim.saveOptimizerState(state, opt1);

    const second = mlp(99); // different initial weights: all of it must come from the files
    second.loadWeights(weights);
    const opt2 = make();
    optim.loadOptimizerState(state, opt2);
    assert.equal(BigInt(opt2.step.item() as bigint), 10n);
    const resumed = train(second, opt2, 10, 20);
    assert.deepEqual(resumed, refLosses.slice(10), 'the losses after resuming are bit-identical');
    const a = ref.parameters() as Record<string, unknown>, b = second.parameters() as Record<string, unknown>;
    assert.deepEqual(flat(b), flat(a), 'final parameters are bit-identical');
  });
}

function flat(t: unknown): unknown {
  if (t instanceof mx.Array) return t.tolist();
  if (Array.isArray(t)) return t.map(flat);
  if (t && typeof t === 'object') return Object.fromEntries(Object.entries(t).map(([k, v]) => [k, flat(v)]));
  return t;
}

test('the state mirrors the parameters, as MLX: step, learningRate, then one object per parameter', () => {
  const model = new nn.Sequential(new nn.Linear(2, 3), new nn.ReLU(), new nn.Linear(3, 1));
  const opt = new optim.Adam(1e-3);
  opt.init(model.trainableParameters());
  const s = opt.state as Record<string, unknown>;
  assert.deepEqual(Object.keys(s), ['step', 'learningRate', 'layers']);
  assert.equal((s.step as mx.Array).dtype, mx.uint64);
  assert.equal((s.learningRate as mx.Array).dtype, mx.float32);
  const layers = s.layers as Record<string, Record<string, mx.Array>>[];
  assert.equal(layers.length, 3);
  assert.deepEqual(Object.keys(layers[0]), ['weight', 'bias']);
  assert.deepEqual(Object.keys(layers[0].weight), ['m', 'v']);
  assert.deepEqual(layers[1], {});
  assert.deepEqual([...layers[2].weight.v.shape], [1, 3]);
  assert.deepEqual(Object.keys(optim.flattenState(opt.state)), [
    'step', 'learningRate', 'layers.0.weight.m', 'layers.0.weight.v', 'layers.0.bias.m', 'layers.0.bias.v',
    'layers.2.weight.m', 'layers.2.weight.v', 'layers.2.bias.m', 'layers.2.bias.v']);
  // Adafactor keeps row and column averages for matrices.
  const af = new optim.Adafactor();
  af.init({ w: mx.zeros([5, 7]), b: mx.zeros([7]) });
  const st = af.state as Record<string, Record<string, mx.Array>>;
  assert.deepEqual(Object.keys(st.w), ['expAvgSqRow', 'expAvgSqCol']);
  assert.deepEqual([...st.w.expAvgSqRow.shape, -1, ...st.w.expAvgSqCol.shape], [5, -1, 7]);
  assert.deepEqual(Object.keys(st.b), ['expAvgSq']);
});

test('MLX-style state round trip: flatten to a safetensors file with lathe/io, assign the tree back', () => {
  const params = { w: mx.array([[1, 2], [3, 4]], mx.float32) };
  const grad = { w: mx.array([[0.1, -0.2], [0.3, -0.4]], mx.float32) };
  const a = new optim.Lion(1e-2, { weightDecay: 0.1 });
  a.update(params, grad);
  const file = join(dir, 'lion.safetensors');
  saveSafetensors(file, optim.flattenState(a.state));
  const b = new optim.Lion(1e-2, { weightDecay: 0.1 });
  b.state = optim.unflattenState(loadSafetensors(file).tensors);
  const p1 = { ...params }, p2 = { ...params };
  a.update(p1, grad);
  b.update(p2, grad);
  assert.deepEqual(p2.w.tolist(), p1.w.tolist());
  assert.deepEqual((b.state.w as Record<string, mx.Array>).m.tolist(), (a.state.w as Record<string, mx.Array>).m.tolist());
});

test('loading a state that does not fit the optimizer lists every difference and names the file', () => {
  const opt = new optim.Adam(1e-3);
  opt.update({ w: mx.zeros([2, 2]) }, { w: mx.ones([2, 2]) });
  const file = join(dir, 'adam.safetensors');
  optim.saveOptimizerState(file, opt);
  const other = new optim.Adam(1e-3);
  other.init({ w: mx.zeros([3, 2]), extra: mx.zeros([1]) });
  assert.throws(() => optim.loadOptimizerState(file, other), (e: Error) => {
    assert.match(e.message, /^\[loadOptimizerState\] .*adam\.safetensors does not match the optimizer's state/);
    assert.match(e.message, /'w\.m' is float32 \(2,2\), expected float32 \(3,2\)/);
    assert.match(e.message, /missing 'extra\.m'/);
    return true;
  });
  assert.throws(() => optim.loadOptimizerState(file, new optim.SGD(0.1)), /holds the state of a Adam, not of a SGD/);
  assert.throws(() => { opt.state = { w: {} }; }, /^Error: \[Adam\] state must hold 'step' as an array/);
});
