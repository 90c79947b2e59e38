// Schedules (against closed forms and torch.optim.lr_scheduler), schedules driving an
// optimizer's learning rate, and clipGradNorm (against torch.nn.utils.clip_grad_norm_).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as mx from '../../src/index.js';
import * as optim from '../../src/optimizers/index.js';
import { fixture, toParams } from './helpers.js';

const close = (got: number, want: number, where: string, tol = 1e-6) =>
  assert.ok(Math.abs(got - want) <= tol * Math.max(1e-3, Math.abs(want)), `${where}: got ${got}, expected ${want}`);
const at = (s: optim.BuiltSchedule, step: number) => s(mx.array(step, mx.uint64)).item() as number;

test('schedules match their closed forms, for array and number steps', () => {
  const cases: [string, optim.BuiltSchedule, (s: number) => number][] = [
    ['exponentialDecay', optim.exponentialDecay(0.1, 0.9), (s) => 0.1 * 0.9 ** s],
    ['stepDecay', optim.stepDecay(0.1, 0.5, 3), (s) => 0.1 * 0.5 ** Math.floor(s / 3)],
    ['cosineDecay', optim.cosineDecay(0.1, 10, 0.01), (s) => 0.01 + 0.5 * (1 + Math.cos((Math.PI * Math.min(s, 10)) / 10)) * 0.09],
    ['cosineDecay end 0', optim.cosineDecay(1, 4), (s) => 0.5 * (1 + Math.cos((Math.PI * Math.min(s, 4)) / 4))],
    ['linearSchedule', optim.linearSchedule(0, 1e-3, 5), (s) => 1e-3 * Math.min(s, 5) / 5],
    ['joinSchedules', optim.joinSchedules([optim.linearSchedule(0, 0.1, 4), optim.cosineDecay(0.1, 6)], [4]),
      (s) => (s < 4 ? 0.1 * s / 4 : 0.5 * (1 + Math.cos((Math.PI * Math.min(s - 4, 6)) / 6)) * 0.1)],
    ['joinSchedules of three', optim.joinSchedules([() => 1, () => 2, (st) => mx.add(mx.astype(st, mx.float32), 10)], [2, 5]),
      (s) => (s < 2 ? 1 : s < 5 ? 2 : 10 + s - 5)],
  ];
  for (const [name, sched, want] of cases) {
    for (let s = 0; s <= 14; s++) {
      close(at(sched, s), want(s), `${name} at step ${s}`);
      close(sched(s).item() as number, want(s), `${name} at step ${s} (a JS number)`);
    }
  }
});

test('schedules match torch.optim.lr_scheduler', (t) => {
  if (!fixture?.schedules) { t.skip('the fixture has no PyTorch schedules'); return; }
  const fns = optim as unknown as Record<string, (...a: number[]) => optim.BuiltSchedule>;
  for (const s of fixture.schedules) {
    const sched = fns[s.lathe.fn](...s.lathe.args);
    s.values.forEach((want, i) => close(at(sched, i), want, `${s.lathe.fn} vs ${s.name} at step ${i}`));
  }
});

test('schedule arguments are checked as MLX does', () => {
  assert.throws(() => optim.linearSchedule(0, 1, 0), /^Error: \[linearSchedule\] steps must be at least 1, got 0/);
  assert.throws(() => optim.joinSchedules([], []), /^Error: \[joinSchedules\] needs at least one schedule/);
  assert.throws(() => optim.joinSchedules([optim.linearSchedule(0, 1, 2)], [3]), /got 1 boundaries for 1 schedules; expected 0/);
});

test('a schedule drives the learning rate: step 0 at the first update, state.learningRate follows', () => {
  const seen: number[] = [];
  const opt = new optim.SGD((step: mx.Array) => { seen.push(Number(step.item())); return mx.multiply(0.1, mx.power(0.5, step)); });
  const p = { w: mx.array([1], mx.float32) };
  for (let i = 0; i < 4; i++) opt.update(p, { w: mx.array([1], mx.float32) });
  // The schedule also runs once at construction (for the initial state), at step 0.
  assert.deepEqual(seen, [0, 0, 1, 2, 3]);
  close(p.w.item() as number, 1 - 0.1 * (1 + 0.5 + 0.25 + 0.125), 'w after 4 steps');
  close(opt.learningRate.item() as number, 0.1 * 0.125, 'learningRate in the state is the last step\'s');
  assert.equal(opt.step.item(), 4n);
  // A plain function of the step returning a number works too; assigning a number stops the schedule.
  const o2 = new optim.SGD(() => 0.5);
  const q = { w: mx.array([1], mx.float32) };
  o2.update(q, { w: mx.array([1], mx.float32) });
  o2.learningRate = 0.25;
  o2.update(q, { w: mx.array([1], mx.float32) });
  close(q.w.item() as number, 1 - 0.5 - 0.25, 'number from a schedule, then a fixed rate');
});

test('warmup then cosine decay (joinSchedules) inside AdamW', () => {
  const lr = optim.joinSchedules([optim.linearSchedule(0, 1e-2, 5), optim.cosineDecay(1e-2, 20)], [5]);
  const opt = new optim.AdamW(lr, { weightDecay: 0 });
  const p = { w: mx.ones([3]) };
  const lrs: number[] = [];
  for (let i = 0; i < 8; i++) { opt.update(p, { w: mx.ones([3]) }); lrs.push(opt.learningRate.item() as number); }
  [0, 2e-3, 4e-3, 6e-3, 8e-3, 1e-2].forEach((v, i) => close(lrs[i], v, `lr at update ${i + 1}`));
  assert.ok(lrs[6] < 1e-2 && lrs[7] < lrs[6], `decaying after warmup: ${lrs}`);
});

test('clipGradNorm matches torch.nn.utils.clip_grad_norm_', (t) => {
  if (!fixture?.clip) { t.skip('the fixture has no PyTorch clipping'); return; }
  for (const c of fixture.clip) {
    const g = toParams(fixture.grads[0], ['w', 'b'], 'float64');
    const [clipped, norm] = optim.clipGradNorm(g, c.maxNorm);
    close(norm.item() as number, c.totalNorm, `norm (maxNorm ${c.maxNorm})`, 1e-12);
    for (const k of ['w', 'b']) {
      const want = [c.clipped[k]].flat(2) as number[];
      const got = clipped[k].dataSync();
      want.forEach((v, i) => close(Number(got[i]), v, `${k}[${i}] (maxNorm ${c.maxNorm})`, 1e-12));
    }
  }
});

test('clipGradNorm: nested trees, dtypes kept, norm accumulated in float32 for halves', () => {
  const grads = { a: [mx.array([3, 0], mx.float32), { b: mx.array([4], mx.bfloat16) }] };
  const [clipped, norm] = optim.clipGradNorm(grads, 1);
  assert.equal(norm.dtype, mx.float32);
  close(norm.item() as number, 5, 'norm');
  const [c0, inner] = clipped.a as [mx.Array, { b: mx.Array }];
  assert.equal(c0.dtype, mx.float32);
  assert.equal(inner.b.dtype, mx.bfloat16);
  close(c0.tolist()[0] as number, 3 / (5 + 1e-6), 'scaled a');
  close(inner.b.item() as number, 0.8, 'scaled b', 1e-2);
  const [same] = optim.clipGradNorm(grads, 10);
  assert.deepEqual((same.a as mx.Array[])[0].tolist(), [3, 0], 'below maxNorm: unchanged');
});
