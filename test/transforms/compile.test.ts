// mx.compile: compiled results equal eager ones, traces are cached by shapes, dtypes and
// constants, the tape is simplified (DCE, CSE, fusion), state is threaded through, and
// compiled functions compose with grad, jvp and vmap.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as mx from '../../src/index.js';
import { compileStats } from '../../src/core/transforms/compile.js';

type A = mx.Array;
type Grad = (fn: (...a: never[]) => unknown, argnums?: number | number[]) => (...a: unknown[]) => unknown;
const T = mx as unknown as {
  grad?: Grad;
  valueAndGrad?: (fn: (...a: never[]) => unknown, argnums?: number | number[]) => (...a: unknown[]) => [unknown, unknown];
  jvp?: (fn: (...a: never[]) => unknown, primals: A[], tangents: A[]) => [A[], A[]];
  vmap?: (fn: (...a: never[]) => unknown, inAxes?: unknown, outAxes?: unknown) => (...a: unknown[]) => unknown;
  matmul?: (a: A, b: A) => A;
};

/** Deterministic values in [lo, hi). */
function rand(shape: number[], dtype: mx.DTypeName = 'float32', lo = -2, hi = 2, seed = 1): A {
  let s = seed * 7919 + shape.reduce((a, b) => a * 31 + b, 17);
  const n = shape.reduce((a, b) => a * b, 1);
  const v = Array.from({ length: n }, () => { s = (s * 1103515245 + 12345) % 2147483648; return lo + (hi - lo) * (s / 2147483648); });
  return mx.reshape(mx.array(v, dtype), shape);
}

/** Same dtype, shape and bits (NaN equals NaN). */
function assertSame(got: A, want: A, where: string): void {
  assert.equal(got.dtype, want.dtype, `${where}: dtype`);
  assert.deepEqual([...got.shape], [...want.shape], `${where}: shape`);
  const g = got.dataSync(), w = want.dataSync();
  for (let i = 0; i < w.length; i++) assert.ok(Object.is(g[i], w[i]), `${where}: element ${i}: compiled ${g[i]}, eager ${w[i]}`);
}

function assertClose(got: A, want: A, where: string, tol = 1e-5): void {
  assert.deepEqual([...got.shape], [...want.shape], `${where}: shape`);
  const g = got.dataSync(), w = want.dataSync();
  for (let i = 0; i < w.length; i++) assert.ok(Math.abs(Number(g[i]) - Number(w[i])) <= tol * (1 + Math.abs(Number(w[i]))), `${where}: element ${i}: ${g[i]} vs ${w[i]}`);
}

const leaves = (t: unknown): A[] => (t instanceof mx.Array ? [t] : Array.isArray(t) ? t.flatMap(leaves) : t && typeof t === 'object' ? Object.values(t).flatMap(leaves) : []);

function agree(name: string, fn: (...a: A[]) => unknown, args: A[]): void {
  const want = leaves(fn(...args));
  const cf = mx.compile(fn);
  for (let call = 0; call < 2; call++) {
    const got = leaves(cf(...args));
    assert.equal(got.length, want.length, `${name}: number of outputs`);
    got.forEach((g, i) => assertSame(g, want[i], `${name} (call ${call}) output ${i}`));
  }
}

test('compile agrees bit for bit with eager on elementwise chains', () => {
  const x = rand([3, 4]), row = rand([4], 'float32', -1, 1, 2), col = rand([3, 1], 'float32', 0.5, 2, 3);
  agree('broadcast chain', (a, b, c) => mx.tanh(mx.divide(mx.add(mx.multiply(a, b), 0.5), c)), [x, row, col]);
  agree('scalar input', (a, s) => mx.exp(mx.subtract(mx.multiply(a, s), 1)), [x, mx.array(0.3)]);
  agree('where and comparisons', (a, b) => mx.where(mx.greater(a, b), mx.square(a), mx.negative(mx.abs(b))), [x, row]);
  agree('sqrt of negatives gives nan', (a) => mx.add(mx.sqrt(a), 1), [x]);
  agree('float16', (a, b) => mx.sigmoid(mx.add(mx.multiply(a, b), mx.exp(a))), [rand([5, 3], 'float16'), rand([3], 'float16', -1, 1, 4)]);
  agree('bfloat16', (a, b) => mx.log1p(mx.abs(mx.subtract(mx.multiply(a, 3.3), b))), [rand([4, 6], 'bfloat16'), rand([4, 1], 'bfloat16', -1, 1, 5)]);
  agree('int32 with float16 promotes', (i, h) => mx.multiply(mx.add(i, h), mx.cos(h)), [mx.array([[1, -2, 3000]]), rand([2, 3], 'float16', -1, 1, 6)]);
  agree('bfloat16 with float16 promotes to float32', (b, h) => mx.sin(mx.add(mx.multiply(b, h), 0.1)), [rand([3], 'bfloat16'), rand([2, 3], 'float16', -1, 1, 7)]);
  agree('uint8 wraps', (a) => mx.multiply(mx.add(a, 200), 3), [mx.array([1, 100, 255], 'uint8')]);
  agree('int8 wraps', (a) => mx.subtract(mx.multiply(a, a), 100), [mx.array([-128, 12, 127], 'int8')]);
  agree('int32 overflow wraps', (a) => mx.add(mx.multiply(a, a), a), [mx.array([65536, -46341, 7])]);
  agree('int64', (a, b) => mx.add(mx.multiply(a, b), mx.array(3n)), [mx.array([1n, -5n, 1n << 40n]), mx.array([7n, 9n, -3n])]);
  agree('bool logic', (a, b) => mx.logicalOr(mx.logicalAnd(mx.less(a, 0), mx.greater(b, 0)), mx.isnan(mx.log(a))), [x, row]);
  agree('astype chain', (a) => mx.astype(mx.multiply(mx.astype(mx.multiply(a, 100), 'int16'), 3), 'float32'), [x]);
  agree('0-d', (a) => mx.exp(mx.negative(mx.square(a))), [mx.array(1.25)]);
  agree('empty', (a, b) => mx.add(mx.multiply(a, 2), b), [mx.zeros([0, 3]), mx.ones([3])]);
  agree('strided broadcast of both sides', (a, b) => mx.maximum(mx.subtract(a, b), mx.multiply(a, b)), [rand([2, 1, 3]), rand([4, 1])]);
});

test('compile agrees with eager across reductions, multiple outputs and constants', () => {
  const x = rand([4, 5]), w = rand([5], 'float32', -1, 1, 9);
  agree('softmax', (a) => { const e = mx.exp(mx.subtract(a, 1)); return mx.divide(e, mx.sum(e, -1, true)); }, [x]);
  agree('norm between elementwise parts', (a) => mx.multiply(a, mx.rsqrt(mx.add(mx.sum(mx.square(a), 1, true), 1e-5))), [x]);
  agree('multiple outputs in a tree', (a) => { const y = mx.exp(a); return { y, z: [mx.multiply(y, 2), mx.sum(y)], n: 3 }; }, [x]);
  agree('closure constant', (a) => mx.add(mx.multiply(a, w), w), [x]);
  agree('returns an input unchanged', (a, b) => [a, mx.add(a, b)], [x, w]);
  // Intermediates needed outside a chain stay outputs of their own nodes.
  agree('shared intermediate', (a) => { const y = mx.exp(a); const s = mx.sum(y); return mx.multiply(mx.add(y, 1), s); }, [x]);
});

test('non-array outputs are kept and non-array arguments are constants of the trace', () => {
  let traces = 0;
  const cf = mx.compile((a: A, k: number, tag: string) => { traces++; return { out: mx.multiply(a, k), tag }; });
  const x = mx.array([1, 2]);
  assert.deepEqual(cf(x, 2, 'a').out.tolist(), [2, 4]);
  assert.deepEqual(cf(x, 3, 'a').out.tolist(), [3, 6]);
  assert.equal(cf(x, 3, 'b').tag, 'b');
  cf(x, 2, 'a');
  assert.equal(traces, 3);
});

test('dead code is dropped, common subexpressions are merged and elementwise chains fused', () => {
  const f = (a: A) => {
    mx.exp(mx.sin(a)); // dead
    const u = mx.multiply(a, 2), v = mx.multiply(a, 2); // same op, same params, same inputs (weak 2s merged)
    return mx.add(mx.cos(u), mx.cos(v));
  };
  const cf = mx.compile(f);
  assertSame(cf(rand([8])), f(rand([8])), 'cse');
  const s = compileStats(cf)!;
  assert.equal(s.traces, 1);
  assert.equal(s.nodes, 3, 'multiply, cos, add after DCE and CSE');
  assert.equal(s.fusedNodes, 1);
  assert.equal(s.fusedOps, 3);
  assert.equal(s.tapeNodes, 1);

  // exp(a) feeds a reduction as well as the chain: it must not be fused away.
  const g = mx.compile((a: A) => { const y = mx.exp(a); return mx.multiply(mx.add(y, 1), mx.sum(y)); });
  g(rand([2, 3])).eval();
  const gs = compileStats(g)!;
  assert.equal(gs.fusedOps, 2, 'only add and multiply fuse');
  assert.equal(gs.tapeNodes, 4, 'exp, sum, reshape, fused(add, multiply)');

  // Different shapes never fuse into one loop (x * y where y is a reduction of a smaller shape).
  const h = mx.compile((a: A, b: A) => mx.multiply(mx.exp(b), a));
  h(rand([3, 4]), rand([4])).eval();
  assert.equal(compileStats(h)!.fusedNodes, 0, 'exp(b) is (4,), the product (3,4)');
});

test('outputs that are also used inside a chain are exported from one fused node', () => {
  const f = (p: A, g: A, m: A) => {
    const m2 = mx.add(mx.multiply(m, 0.9), mx.multiply(g, 0.1));
    return [mx.subtract(p, mx.multiply(m2, 0.01)), m2];
  };
  const cf = mx.compile(f);
  const args: [A, A, A] = [rand([6]), rand([6], 'float32', -1, 1, 2), rand([6], 'float32', -1, 1, 3)];
  const got = cf(...args), want = f(...args);
  got.forEach((g, i) => assertSame(g, want[i], `output ${i}`));
  const s = compileStats(cf)!;
  assert.equal(s.fusedNodes, 1);
  assert.equal(s.tapeNodes, 1);
});

test('retraces when shapes or dtypes change, not when they repeat', () => {
  let traces = 0;
  const f = (a: A, b: A) => { traces++; return mx.add(mx.exp(a), b); };
  const cf = mx.compile(f);
  cf(rand([2, 3]), rand([3])).eval();
  cf(rand([2, 3], 'float32', 0, 1, 5), rand([3], 'float32', 0, 1, 6)).eval();
  assert.equal(traces, 1, 'same shapes reuse the trace');
  assertSame(cf(rand([4, 3]), rand([3])), mx.add(mx.exp(rand([4, 3])), rand([3])), 'new shape');
  assert.equal(traces, 2, 'a new shape retraces');
  cf(rand([2, 3], 'float16'), rand([3], 'float16')).eval();
  assert.equal(traces, 3, 'a new dtype retraces');
  cf(rand([2, 3]), rand([3])).eval();
  assert.equal(traces, 3, 'earlier traces stay cached');
  assert.equal(compileStats(cf)!.traces, 3);
  mx.compile(f)(rand([2, 3]), rand([3])).eval();
  assert.equal(traces, 3, 'compiling the same function again shares its traces');
});

test('shapeless compile reuses one trace across shapes, and retraces where params fix shapes', () => {
  let traces = 0;
  const f = (a: A, b: A) => { traces++; const y = mx.tanh(mx.multiply(a, b)); return mx.add(mx.sum(y, -1), 1); };
  const cf = mx.compile(f, { shapeless: true });
  for (const n of [3, 5, 1, 8]) assertSame(cf(rand([n, 4]), rand([4])), f(rand([n, 4]), rand([4])), `n=${n}`);
  assert.equal(compileStats(cf)!.traces, 1, 'one trace for every shape of the same rank');
  cf(rand([2, 4], 'float16'), rand([4], 'float16')).eval();
  assert.equal(compileStats(cf)!.traces, 2, 'a new dtype still retraces');

  // reshape to a computed size bakes the shape into the params: retraced per shape.
  const flat = mx.compile((a: A) => mx.reshape(mx.exp(a), [-1]), { shapeless: true });
  assertSame(flat(rand([2, 3])), mx.reshape(mx.exp(rand([2, 3])), [-1]), 'flatten 2x3');
  assertSame(flat(rand([4, 3])), mx.reshape(mx.exp(rand([4, 3])), [-1]), 'flatten 4x3');
  assert.equal(compileStats(flat)!.traces, 2);
});

test('disableCompile runs the function directly until enableCompile', () => {
  let calls = 0;
  const cf = mx.compile((a: A) => { calls++; return mx.exp(a); });
  const x = rand([3]);
  cf(x); cf(x);
  assert.equal(calls, 1);
  mx.disableCompile();
  try {
    cf(x); cf(x);
    assert.equal(calls, 3, 'each call runs fn');
  } finally {
    mx.enableCompile();
  }
  cf(x);
  assert.equal(calls, 3, 'the cached trace is used again');
});

test('errors: a changed output structure, and reading values during a trace', () => {
  const cf = mx.compile((a: A) => (a.shape[0] > 2 ? { y: mx.exp(a) } : [mx.exp(a)]));
  cf(rand([2]));
  assert.throws(() => cf(rand([3])), /^Error: \[compile\] the function returned a different output structure/);
  const reads = mx.compile((a: A) => mx.multiply(a, a.item() as number));
  assert.throws(() => reads(mx.array(2)), /\[compile\] cannot evaluate an array while its compiled function is being traced/);
});

test('state in inputs/outputs is read and written back on every call', () => {
  const state = { count: mx.array(0), total: mx.array(0.5) };
  let traces = 0;
  const step = mx.compile((x: A) => {
    traces++;
    state.count = mx.add(state.count, 1);
    state.total = mx.add(state.total, mx.sum(x));
    return mx.multiply(state.total, 2);
  }, { inputs: state, outputs: state });
  let out: A = mx.array(0);
  for (let i = 0; i < 3; i++) out = step(mx.array([1, 2]));
  assert.equal(traces, 1);
  assert.equal(state.count.item(), 3);
  assert.equal(state.total.item(), 9.5);
  assert.equal(out.item(), 19);
});

test('captured arrays are constants: lazy ones computed once, ones made in the trace survive tidy', () => {
  const w = mx.exp(mx.array([0.5, 1.5])); // lazy, captured
  const cf = mx.compile((a: A) => mx.multiply(mx.add(a, mx.array([0.25, -1])), w));
  const x = mx.array([1, 2], 'float32');
  const want = mx.multiply(mx.add(x, mx.array([0.25, -1])), w);
  for (let i = 0; i < 3; i++) {
    // The first call traces inside tidy, which disposes arrays made there (the [0.25, -1]).
    const got = mx.tidy(() => cf(x));
    assertSame(got, want, `call ${i}`);
  }
  assert.ok(w.isEvaluated, 'the lazy capture was evaluated once at trace time');
  assert.equal(compileStats(cf)!.constants, 2);
});

test('compiled functions nest', () => {
  const inner = mx.compile((a: A) => mx.tanh(mx.multiply(a, 3)));
  const outer = mx.compile((a: A, b: A) => mx.add(inner(a), mx.sum(inner(b))));
  const x = rand([4]), y = rand([2, 2], 'float32', -1, 1, 3);
  const want = mx.add(mx.tanh(mx.multiply(x, 3)), mx.sum(mx.tanh(mx.multiply(y, 3))));
  assertSame(outer(x, y), want, 'first call');
  assertSame(outer(x, y), want, 'replay');
});

test('grad of a compiled function and compile of grad', (t) => {
  if (typeof T.grad !== 'function') { t.skip('mx.grad is not available yet'); return; }
  const f = (a: A, b: A) => mx.sum(mx.multiply(mx.tanh(mx.add(mx.multiply(a, b), 0.5)), mx.exp(b)));
  const x = rand([3, 4]), y = rand([4], 'float32', -1, 1, 2);
  const want = T.grad(f, [0, 1])(x, y) as A[];
  const viaCompiled = T.grad(mx.compile(f), [0, 1])(x, y) as A[];
  const compiledGrad = mx.compile(T.grad(f, [0, 1]) as (a: A, b: A) => A[]);
  want.forEach((w, i) => {
    assertClose(viaCompiled[i], w, `grad(compile(f)) ${i}`);
    assertClose(compiledGrad(x, y)[i], w, `compile(grad(f)) ${i}`);
  });
  assert.ok(compileStats(compiledGrad)!.fusedNodes > 0, 'the backward pass fuses too');
  const cf = mx.compile(f);
  const second = (h: (a: A, b: A) => A) => T.grad!((a: A) => mx.sum(T.grad!(h as (...a: never[]) => unknown)(a, y) as A))(x) as A;
  assertClose(second(cf), second(f), 'grad of grad through a fused node');
});

test('jvp and vmap through fused nodes', (t) => {
  const f = (a: A, b: A) => mx.multiply(mx.sin(mx.add(a, b)), mx.exp(a));
  const cf = mx.compile(f);
  const x = rand([5]), y = rand([5], 'float32', -1, 1, 2);
  if (typeof T.jvp === 'function') {
    const tx = rand([5], 'float32', -1, 1, 3), ty = rand([5], 'float32', -1, 1, 4);
    const [, [want]] = T.jvp(f, [x, y], [tx, ty]);
    const [[out], [got]] = T.jvp(cf, [x, y], [tx, ty]);
    assertClose(out, f(x, y), 'jvp primal');
    assertClose(got, want, 'jvp tangent');
  } else t.diagnostic('mx.jvp is not available yet');
  if (typeof T.vmap === 'function') {
    const xs = rand([3, 5]);
    assertClose(T.vmap(cf, [0, null])(xs, y) as A, f(xs, y), 'vmap(compile(f))');
    assertClose(T.vmap(cf, [null, 0])(y, xs) as A, f(y, xs), 'vmap with an unbatched chain inside the fused node');
    assertClose(mx.compile(T.vmap(f, [0, null]) as (a: A, b: A) => A)(xs, y), f(xs, y), 'compile(vmap(f))');
  } else t.diagnostic('mx.vmap is not available yet');
});

test('a full MLP training step compiles, with parameters and optimizer state as state', (t) => {
  if (typeof T.valueAndGrad !== 'function') { t.skip('mx.valueAndGrad is not available yet'); return; }
  const valueAndGrad = T.valueAndGrad;
  const matmul = T.matmul ?? ((a: A, b: A) => mx.sum(mx.multiply(mx.expandDims(a, 2), mx.expandDims(b, 0)), 1));
  type Params = { w1: A; b1: A; w2: A; b2: A };
  const init = (): Params => ({ w1: rand([4, 8], 'float32', -0.5, 0.5, 11), b1: mx.zeros([8]), w2: rand([8, 1], 'float32', -0.5, 0.5, 12), b2: mx.zeros([1]) });
  const loss = (p: Params, x: A, y: A) => {
    const h = mx.maximum(mx.add(matmul(x, p.w1), p.b1), 0);
    const d = mx.subtract(mx.add(matmul(h, p.w2), p.b2), y);
    return mx.divide(mx.sum(mx.square(d)), d.size);
  };
  const lossAndGrad = valueAndGrad(loss as (...a: never[]) => unknown);
  const makeStep = (model: { params: Params }, opt: { m: Params }) => (x: A, y: A) => {
    const [l, g] = lossAndGrad(model.params, x, y) as [A, Params];
    const keys = Object.keys(g) as (keyof Params)[];
    const m = {} as Params, p = {} as Params;
    for (const k of keys) {
      m[k] = mx.add(mx.multiply(opt.m[k], 0.9), g[k]); // SGD with momentum
      p[k] = mx.subtract(model.params[k], mx.multiply(m[k], 0.05));
    }
    opt.m = m;
    model.params = p;
    return l;
  };
  const x = rand([16, 4], 'float32', -1, 1, 21);
  const y = mx.sum(mx.sin(x), 1, true);
  const zerosOf = (p: Params): Params => ({ w1: mx.zerosLike(p.w1), b1: mx.zerosLike(p.b1), w2: mx.zerosLike(p.w2), b2: mx.zerosLike(p.b2) });

  const eagerModel = { params: init() }, eagerOpt = { m: zerosOf(eagerModel.params) };
  const model = { params: init() }, opt = { m: zerosOf(model.params) };
  const eagerStep = makeStep(eagerModel, eagerOpt);
  const state = [model, opt];
  const step = mx.compile(makeStep(model, opt), { inputs: state, outputs: state });
  const losses: number[] = [];
  for (let i = 0; i < 30; i++) {
    const le = eagerStep(x, y);
    const lc = step(x, y);
    mx.eval(lc, model.params, opt.m, le, eagerModel.params, eagerOpt.m);
    assertClose(lc, le, `loss at step ${i}`, 1e-4);
    losses.push(lc.item() as number);
  }
  assert.equal(compileStats(step)!.traces, 1, 'one trace for the whole run');
  assert.ok(compileStats(step)!.fusedNodes > 0, 'the step fuses its elementwise work');
  assert.ok(losses[29] < losses[0] * 0.7, `loss goes down: ${losses[0]} -> ${losses[29]}`);
  for (const k of Object.keys(model.params) as (keyof Params)[]) assertClose(model.params[k], eagerModel.params[k], `param ${k}`, 1e-4);
});
