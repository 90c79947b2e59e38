// Each optimizer's first 20 steps against PyTorch (or, where torch.optim has no such rule, a
// NumPy transcription of the published one), from scripts/fixtures/optimizers.py.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as mx from '../../src/index.js';
import { fixture, makeOptimizer, toParams, worst } from './helpers.js';

const TOL = { float64: { atol: 1e-6, rtol: 1e-6 }, float32: { atol: 1e-5, rtol: 1e-5 } };

test('the fixture is present and covers every optimizer', (t) => {
  assert.ok(fixture, 'test/fixtures/optimizers/optimizers.json is missing: run scripts/fixtures/optimizers.py');
  const covered = new Set(fixture.cases.map((c) => c.optimizer));
  for (const name of ['SGD', 'RMSprop', 'Adagrad', 'AdaDelta', 'Adam', 'AdamW', 'Adamax', 'Lion', 'Adafactor', 'Muon'])
    assert.ok(covered.has(name), `no reference case for ${name}`);
  for (const n of fixture.notes) t.diagnostic(n);
});

for (const c of fixture?.cases ?? []) {
  test(`${c.name} (${c.dtype}) matches ${c.reference === 'numpy' ? 'the NumPy transcription' : c.reference}`, (t) => {
    const tol = c.tol ?? TOL[c.dtype];
    const params = toParams(fixture!.params, c.keys, c.dtype);
    const opt = makeOptimizer(c.optimizer, c.args);
    let maxDiff = 0;
    c.steps.forEach((want, i) => {
      opt.update(params, toParams(fixture!.grads[i], c.keys, c.dtype));
      mx.eval(params, opt.state);
      for (const k of c.keys) {
        assert.equal(params[k].dtype.name, c.dtype, `${k} keeps its dtype`);
        const { ratio, diff } = worst(params[k], want[k], tol.atol, tol.rtol);
        maxDiff = Math.max(maxDiff, diff);
        assert.ok(ratio <= 1, `step ${i + 1}, '${k}': off by ${diff.toExponential(2)} (atol ${tol.atol}, rtol ${tol.rtol})`);
      }
    });
    t.diagnostic(`max |diff| over ${c.steps.length} steps: ${maxDiff.toExponential(2)}${c.why_tol ? ` (tolerance widened: ${c.why_tol})` : ''}`);
  });
}

test('training a linear model with AdamW: the loss curve matches PyTorch', (t) => {
  const tr = fixture?.training;
  if (!tr) { t.skip('the fixture has no training run (made without PyTorch)'); return; }
  const x = mx.array(tr.x, mx.float64), y = mx.array(tr.y, mx.float64);
  const params = toParams(fixture!.params, ['w', 'b'], 'float64');
  const loss = (p: Record<string, mx.Array>) => mx.mean(mx.square(mx.subtract(mx.add(mx.matmul(x, p.w), p.b), y)));
  const lossAndGrad = mx.valueAndGrad(loss);
  const opt = makeOptimizer(tr.optimizer, tr.args);
  tr.losses.forEach((want, i) => {
    const [l, g] = lossAndGrad(params) as [mx.Array, Record<string, mx.Array>];
    opt.update(params, g);
    mx.eval(l, params, opt.state);
    const got = l.item() as number;
    assert.ok(Math.abs(got - want) <= 1e-6 * Math.max(1, Math.abs(want)), `step ${i + 1}: loss ${got}, PyTorch ${want}`);
  });
  for (const k of ['w', 'b']) assert.ok(worst(params[k], tr.final[k], 1e-6, 1e-6).ratio <= 1, `final ${k}`);
  assert.ok(tr.losses[tr.losses.length - 1] < tr.losses[0] * 0.8, 'the run does learn');
});
