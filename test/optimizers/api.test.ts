// The optimizer API: Modules and plain trees, constructor forms, MultiOptimizer, compile,
// and errors for bad input.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as mx from '../../src/index.js';
import * as nn from '../../src/nn/index.js';
import * as optim from '../../src/optimizers/index.js';

const vals = (a: mx.Array) => a.tolist();

test('update(model, grads) replaces the model\'s parameters; frozen ones are left alone', () => {
  mx.random.seed(3);
  const model = new nn.Sequential(new nn.Linear(3, 4), new nn.ReLU(), new nn.Linear(4, 2));
  (model.layers as nn.Module[])[0].freeze({ keys: 'bias' });
  const frozenBias = ((model.parameters() as { layers: { bias: mx.Array }[] }).layers[0]).bias;
  const before = model.parameters() as { layers: { weight: mx.Array; bias: mx.Array }[] };
  const x = mx.random.normal([5, 3]);
  const lossAndGrad = nn.valueAndGrad(model, (a: mx.Array) => mx.sum(mx.square(model.forward(a) as mx.Array)));
  const opt = new optim.SGD(0.1);
  const [, grads] = lossAndGrad(x);
  assert.equal('bias' in (grads as { layers: Record<string, unknown>[] }).layers[0], false, 'no gradient for the frozen bias');
  opt.update(model, grads);
  const after = model.parameters() as { layers: { weight: mx.Array; bias: mx.Array }[] };
  assert.equal(after.layers[0].bias, frozenBias, 'frozen bias untouched');
  const g = (grads as { layers: { weight: mx.Array }[] }).layers[2].weight;
  assert.deepEqual(vals(after.layers[2].weight), vals(mx.subtract(before.layers[2].weight, mx.multiply(0.1, g))));
});

test('constructor forms: positional in MLX order, trailing options, one options object; unknown options are errors', () => {
  const a = new optim.Adam(1e-3, [0.8, 0.9], 1e-6, true);
  const b = new optim.Adam(1e-3, { betas: [0.8, 0.9], eps: 1e-6, biasCorrection: true });
  const c = new optim.Adam({ learningRate: 1e-3, betas: [0.8, 0.9], eps: 1e-6, biasCorrection: true });
  for (const o of [a, b, c]) {
    assert.deepEqual(o.betas, [0.8, 0.9]);
    assert.equal(o.eps, 1e-6);
    assert.equal(o.biasCorrection, true);
    assert.ok(Math.abs((o.learningRate.item() as number) - 1e-3) < 1e-10);
  }
  assert.equal(new optim.AdamW(1e-3).weightDecay, 0.01, 'MLX default');
  assert.equal(new optim.Muon(0.02).weightDecay, 0.01, 'MLX default');
  assert.equal(new optim.Muon(0.02).nsDtype, mx.bfloat16);
  assert.equal(new optim.Adafactor().relativeStep, true);
  assert.throws(() => new optim.Adam(1e-3, { beta: [0.9, 0.99] } as never), /^Error: \[Adam\] unknown option 'beta'; expected one of learningRate, betas, eps, biasCorrection/);
  assert.throws(() => new optim.AdamW(1e-3, { weightdecay: 0.1 } as never), /^Error: \[AdamW\] unknown option 'weightdecay'/);
  assert.throws(() => new (optim.SGD as unknown as new () => optim.SGD)(), /^Error: \[SGD\] learningRate is required/);
  assert.throws(() => new optim.SGD(0.1, { nesterov: true }), /^Error: \[SGD\] Nesterov momentum requires a momentum and zero dampening, got momentum 0 and dampening 0/);
  assert.throws(() => new optim.Adafactor({ relativeStep: false }), /^Error: \[Adafactor\] relativeStep false needs a learningRate/);
  assert.throws(() => new optim.Adam(1e-3, [0.9] as never), /^Error: \[Adam\] betas must be two numbers, got \[0.9\]/);
  assert.throws(() => new optim.RMSprop(1e-3, { alpha: -1 }), /^Error: \[RMSprop\] alpha must be >= 0, got -1/);
  assert.throws(() => new optim.Muon(0.02, { nsDtype: 'int32' }), /^Error: \[Muon\] nsDtype must be a floating dtype, got int32/);
});

test('gradients that do not fit the parameters are errors that name the path', () => {
  const opt = new optim.Adam(1e-3);
  const params = { a: { w: mx.zeros([2, 3]) }, list: [mx.zeros([2])] };
  assert.throws(() => opt.applyGradients({ a: { w: mx.zeros([3, 2]) } }, params), /^Error: \[Adam\] the gradient at 'a\.w' has shape \(3,2\) but the parameter has shape \(2,3\)/);
  assert.throws(() => opt.applyGradients({ a: { v: mx.zeros([2]) } }, params), /^Error: \[Adam\] the gradient at 'a\.v' has no parameter: got undefined/);
  assert.throws(() => opt.applyGradients({ list: { 0: mx.zeros([2]) } } as never, params), /^Error: \[Adam\] the gradients have an object at 'list' but the parameters have a list/);
  assert.throws(() => opt.applyGradients([mx.zeros([2])] as never, params), /^Error: \[Adam\] gradients must be a tree with an object at the top/);
  assert.throws(() => opt.applyGradients({ step: mx.zeros([2]) }, { step: mx.zeros([2]) }), /may not have a top-level entry named 'step'/);
  assert.throws(() => opt.update(mx.zeros([2]) as never, {}), /^Error: \[Adam\.update\] expected a Module or a plain object of parameters, got an array of shape \(2,\)/);
});

test('applyGradients returns the gradients\' structure; lists, nested objects and empty slots work', () => {
  const params = { layers: [{ w: mx.ones([2]) }, {}, { w: mx.ones([2]), b: mx.ones([1]) }], top: mx.ones([1]) };
  const grads = { layers: [{ w: mx.ones([2]) }, {}, { w: mx.ones([2]) }] };
  const out = new optim.SGD(0.5).applyGradients(grads, params) as typeof grads;
  assert.deepEqual(vals(out.layers[0].w), [0.5, 0.5]);
  assert.deepEqual(out.layers[1], {});
  assert.deepEqual(Object.keys(out), ['layers']);
  assert.deepEqual(Object.keys(out.layers[2]), ['w']);
});

test('MultiOptimizer sends each parameter to the first optimizer whose filter takes it, as separate optimizers would', () => {
  const p0 = () => ({ w: mx.array([[1, 2], [3, 4]], mx.float32), b: mx.array([1, -1], mx.float32), emb: { w: mx.array([[0.5, 0.5]], mx.float32) } });
  const grads = (i: number) => ({ w: mx.array([[0.1 * i, -0.2], [0.3, 0.4]], mx.float32), b: mx.array([0.5, -0.5 * i], mx.float32), emb: { w: mx.array([[i, -i]], mx.float32) } });
  const multi = new optim.MultiOptimizer([new optim.Adam(1e-2), new optim.Lion(1e-3), new optim.SGD(0.1, { momentum: 0.9 })],
    [(path) => path.startsWith('emb.'), (_path, g) => g.ndim === 2]);
  const emb = new optim.Adam(1e-2), mat = new optim.Lion(1e-3), rest = new optim.SGD(0.1, { momentum: 0.9 });
  const p = p0(), q = p0();
  for (let i = 1; i <= 3; i++) {
    multi.update(p, grads(i));
    const g = grads(i);
    q.emb = emb.applyGradients({ emb: g.emb }, q).emb as typeof q.emb;
    q.w = (mat.applyGradients({ w: g.w }, q) as { w: mx.Array }).w;
    q.b = (rest.applyGradients({ b: g.b }, q) as { b: mx.Array }).b;
  }
  assert.deepEqual(vals(p.w), vals(q.w));
  assert.deepEqual(vals(p.b), vals(q.b));
  assert.deepEqual(vals(p.emb.w), vals(q.emb.w));
  const states = (multi.state as { states: Record<string, unknown>[] }).states;
  assert.deepEqual(states.map((s) => Object.keys(s)), [['step', 'learningRate', 'emb'], ['step', 'learningRate', 'w'], ['step', 'learningRate', 'b']]);
  multi.learningRate = 0.5;
  assert.deepEqual(multi.optimizers.map((o) => o.learningRate.item()), [0.5, 0.5, 0.5]);
  assert.throws(() => new optim.MultiOptimizer([new optim.SGD(1)], [() => true]), /^Error: \[MultiOptimizer\] given 1 filters but 0 needed/);
  assert.throws(() => { multi.state = { states: [] }; }, /state must be \{ states: \[\.\.\.\] \} with 3 entries, got 0/);
});

test('a whole training step compiles with the parameters and optimizer state as state (init first)', () => {
  mx.random.seed(5);
  const x = mx.random.normal([16, 3]), y = mx.sum(mx.sin(x), 1, true);
  const init = () => ({ w: mx.random.normal([3, 1], mx.float32, null, null, mx.random.key(7)), b: mx.zeros([1]) });
  const loss = (p: { w: mx.Array; b: mx.Array }, a: mx.Array, t: mx.Array) => mx.mean(mx.square(mx.subtract(mx.add(mx.matmul(a, p.w), p.b), t)));
  const lossAndGrad = mx.valueAndGrad(loss);
  const make = () => new optim.AdamW(optim.cosineDecay(5e-2, 50), { biasCorrection: true });

  const eager = init(), eagerOpt = make();
  const params = init(), opt = make();
  opt.init(params); // the state's structure must exist before tracing
  const state = [params, opt.state];
  const step = mx.compile((a: mx.Array, t: mx.Array) => {
    const [l, g] = lossAndGrad(params, a, t) as [mx.Array, typeof params];
    opt.update(params, g);
    return l;
  }, { inputs: state, outputs: state });
  for (let i = 0; i < 10; i++) {
    const [le, ge] = lossAndGrad(eager, x, y) as [mx.Array, typeof eager];
    eagerOpt.update(eager, ge);
    const lc = step(x, y);
    mx.eval(le, lc, eager, eagerOpt.state, params, opt.state);
    assert.ok(Math.abs((lc.item() as number) - (le.item() as number)) < 1e-5, `loss at step ${i}`);
  }
  assert.equal(opt.step.item(), 10n);
  const d = mx.max(mx.abs(mx.subtract(params.w, eager.w))).item() as number;
  assert.ok(d < 1e-5, `compiled and eager parameters agree (max diff ${d})`);
});

test('half-precision parameters keep their dtype and move', () => {
  for (const dt of [mx.float16, mx.bfloat16] as const) {
    for (const make of [() => new optim.Adam(0.1, { biasCorrection: true }), () => new optim.Adafactor(), () => new optim.Muon(0.1), () => new optim.Lion(0.1)]) {
      const p = { w: mx.ones([4, 4], dt) };
      const opt = make();
      opt.update(p, { w: mx.full([4, 4], 0.5, dt) });
      mx.eval(p, opt.state);
      assert.equal(p.w.dtype, dt, `${opt.constructor.name} keeps ${dt.name}`);
      assert.ok((p.w.dataSync() as Float32Array).every((v) => Number.isFinite(v) && v < 1), `${opt.constructor.name} in ${dt.name} moved the weights`);
    }
  }
});

test('newtonSchulz5 approximately orthogonalizes (singular values near 1), wide or tall', () => {
  for (const shape of [[3, 5], [6, 2]]) {
    const g = mx.random.normal(shape, mx.float64, null, null, mx.random.key(shape[0]));
    const o = optim.newtonSchulz5(g, 5, mx.float64);
    assert.deepEqual([...o.shape], shape);
    const s = mx.linalg.svd(o, false).tolist() as number[];
    for (const v of s) assert.ok(v > 0.6 && v < 1.3, `singular value ${v}`);
  }
});
