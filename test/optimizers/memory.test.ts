// Device memory stays flat over long training loops: the optimizer disposes the parameters
// and state it replaced once their successors are evaluated. Exact byte counts from the CPU
// backend, so one leaked buffer per step fails.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as mx from '../../src/index.js';
import * as nn from '../../src/nn/index.js';
import * as optim from '../../src/optimizers/index.js';
import { treeFlatten } from '../../src/utils/index.js';

const STEPS = 2000;
const key = (k: number) => mx.random.key(k);

/** A small MLP (or one Linear layer) on a fixed regression batch. */
function setup(seed: number, hidden = true) {
  mx.random.seed(seed);
  const model = hidden ? new nn.Sequential(new nn.Linear(8, 16), new nn.ReLU(), new nn.Linear(16, 1)) : new nn.Linear(8, 1);
  const x = mx.random.normal([32, 8], mx.float32, null, null, key(seed + 1));
  const y = mx.sum(mx.sin(x), 1, true);
  mx.eval(model.parameters(), x, y);
  const lossAndGrad = nn.valueAndGrad(model, (a: mx.Array, b: mx.Array) => nn.losses.mseLoss(model.forward(a) as mx.Array, b));
  return { model, x, y, lossAndGrad };
}

/** Runs `step` n times and fails at the first step whose active memory differs from step 3's. */
function assertFlat(n: number, step: (i: number) => number): number[] {
  const losses: number[] = [];
  let base = -1;
  for (let i = 0; i < n; i++) {
    losses.push(step(i));
    const now = mx.getActiveMemory();
    if (i === 3) base = now;
    else if (i > 3 && now !== base) assert.fail(`step ${i}: active memory ${now} bytes, ${now - base} more than at step 3`);
  }
  return losses;
}

test(`the MLX loop (update, then eval parameters and state): ${STEPS} steps of AdamW with a schedule, flat memory`, () => {
  const { model, x, y, lossAndGrad } = setup(0, false);
  const opt = new optim.AdamW(optim.joinSchedules([optim.linearSchedule(0, 5e-2, 50), optim.cosineDecay(5e-2, STEPS)], [50]));
  const losses = assertFlat(STEPS, () => {
    const [loss, grads] = lossAndGrad(x, y);
    opt.update(model, grads);
    mx.eval(loss, model.parameters(), opt.state);
    const v = loss.item() as number;
    loss.dispose(); // the loss is the caller's: it is the only array the loop itself keeps
    return v;
  });
  assert.ok(losses[STEPS - 1] < losses[0] * 0.5, `trains: ${losses[0]} -> ${losses[STEPS - 1]}`);
});

test('a tidy loop that evaluates inside and returns a number: 150 steps of Muon + Adafactor (MultiOptimizer), flat memory', () => {
  const { model, x, y, lossAndGrad } = setup(10);
  const opt = new optim.MultiOptimizer([new optim.Muon(0.02), new optim.Adafactor()], [(_path, g) => g.ndim >= 2]);
  const losses = assertFlat(150, () => mx.tidy(() => {
    const [loss, grads] = lossAndGrad(x, y);
    const [clipped] = optim.clipGradNorm(grads, 10);
    opt.update(model, clipped);
    mx.eval(loss, model.parameters(), opt.state);
    return loss.item() as number;
  }));
  assert.ok(losses[149] < losses[0] * 0.5, `trains: ${losses[0]} -> ${losses[149]}`);
});

test('plain parameter trees with applyGradients, evaluated every 4 steps: flat at every 4th step', () => {
  const w = mx.random.normal([64, 64], mx.float32, null, null, key(3));
  const target = mx.random.normal([64, 64], mx.float32, null, null, key(4));
  let params: optim.ParamTree = { w, layers: [{ b: mx.zeros([64]) }] };
  mx.eval(params, target);
  const opt = new optim.Adam(1e-2, { biasCorrection: true });
  const lossAndGrad = mx.valueAndGrad((p: { w: mx.Array; layers: { b: mx.Array }[] }) =>
    mx.mean(mx.square(mx.subtract(mx.add(p.w, p.layers[0].b), target))));
  let base = -1;
  for (let i = 0; i < 200; i++) {
    const [, grads] = lossAndGrad(params) as [mx.Array, optim.ParamTree];
    params = opt.applyGradients(grads, params);
    if (i % 4 !== 3) continue; // lazy for three steps: nothing can be freed until the graph is evaluated
    mx.eval(params, opt.state);
    const now = mx.getActiveMemory();
    if (i === 15) base = now;
    else if (i > 15 && now !== base) assert.fail(`step ${i}: active memory ${now}, expected ${base}`);
  }
});

test('without disposeReplaced, a synchronous loop grows by the replaced parameters and state every step', () => {
  const { model, x, y, lossAndGrad } = setup(20);
  const opt = new optim.Adam(1e-3);
  opt.disposeReplaced = false;
  const bytes = (t: unknown) => treeFlatten<mx.Array>(t).reduce((s, [, a]) => s + a.nbytes, 0);
  const before: number[] = [];
  for (let i = 0; i < 20; i++) {
    const [loss, grads] = lossAndGrad(x, y);
    opt.update(model, grads);
    mx.eval(model.parameters(), opt.state);
    loss.dispose();
    before.push(mx.getActiveMemory());
  }
  const perStep = 3 * bytes(model.parameters()); // parameters, m and v
  assert.ok(before[19] - before[9] >= 10 * perStep, `grew by ${before[19] - before[9]} bytes over 10 steps, expected at least ${10 * perStep}`);
});

test('only arrays the optimizer made are disposed, and never while they are in the parameters', () => {
  const w0 = mx.array([1, 2, 3], mx.float32);
  const params = { w: w0 };
  const opt = new optim.SGD(0.1, { momentum: 0.9 });
  const kept: mx.Array[] = [];
  for (let i = 0; i < 5; i++) {
    opt.update(params, { w: mx.ones([3]) });
    mx.eval(params, opt.state);
    kept.push(params.w);
  }
  assert.deepEqual(w0.tolist(), [1, 2, 3], 'the caller\'s initial array is not disposed');
  // Parameters the optimizer made are disposed at the update after the one that replaced them...
  assert.throws(() => kept[0].tolist(), /was disposed/);
  // ...unless they are back in the parameters when that happens.
  params.w = kept[3];
  opt.update(params, { w: mx.ones([3]) });
  mx.eval(params, opt.state);
  assert.equal(kept[3].tolist().length, 3, 'in the parameters again: kept alive');
  opt.update(params, { w: mx.ones([3]) });
  assert.throws(() => kept[3].tolist(), /was disposed/, 'replaced once more, and no longer held by the parameters');
});

test('updates evaluated only now and then: replaced arrays are still freed, and the bookkeeping stays small', () => {
  const opt = new optim.Adam(1e-2);
  let params: optim.ParamTree = { w: mx.ones([8]) };
  const pending = () => (opt as unknown as { pending: unknown[] }).pending.length;
  for (let i = 0; i < 100; i++) {
    params = opt.applyGradients({ w: mx.full([8], 0.5) }, params);
    if (i % 10 === 9) mx.eval(params, opt.state);
    assert.ok(pending() <= 11, `step ${i}: ${pending()} updates waiting to be freed`);
  }
});
