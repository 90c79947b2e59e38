// compile()'s GEMV fusion pass (src/core/transforms/fuse-linear.ts) on tapes traced on the
// CPU, with the capability granted by hand (the CPU backend does not run fusedLinear nodes,
// so compile() on the CPU must leave tapes alone): the patterns it finds (siblings of one x,
// GLU and residual epilogues), the ones it must leave (M > 4, W not transposed, products
// read twice or returned, broadcast residuals), and that the rewritten tape, each fused node
// replaced by its reference, computes the unfused tape's values bit for bit. The node's
// rules (vjp, jvp, vmap) are checked against the unfused functions'.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as mx from '../../src/index.js';
import { swiglu, geglu } from '../../src/fast/glu.js';
import { bind } from '../../src/core/primitive.js';
import { buildTape, eliminateCommonSubexpressions, replay, standIn, type Tape } from '../../src/core/transforms/tape.js';
import { traced } from '../../src/core/transforms/trace.js';
import { compileStats } from '../../src/core/transforms/compile.js';
import { fuseLinear, fusedLinearReference, FusedLinear, MAX_WEIGHTS, type FusedLinearParams } from '../../src/core/transforms/fuse-linear.js';

type A = mx.Array;
const everywhere = () => true;

/** Deterministic values in [-1, 1). */
function rand(shape: number[], seed: number, dtype: mx.DTypeName = 'float32'): A {
  let s = (seed * 2654435761 + 1) >>> 0;
  const n = shape.reduce((a, b) => a * b, 1);
  const v = Array.from({ length: n }, () => { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; return -1 + 2 * (s / 2 ** 32); });
  const x = mx.reshape(mx.array(v, dtype), shape);
  mx.eval(x);
  return x;
}

/** x @ w.T as a Linear layer computes it. */
const lin = (x: A, w: A) => mx.matmul(x, mx.transpose(w));

/** fn's tape on stand-ins for `inputs`, after dead code and common subexpressions (as compile() builds it). */
function tapeOf(fn: (...xs: A[]) => A[], inputs: A[]): Tape {
  const firstId = mx.array(0).id;
  const ins = inputs.map(standIn);
  const outs = traced(() => fn(...ins));
  const tape = buildTape(ins, outs, firstId);
  eliminateCommonSubexpressions(tape);
  return tape;
}

/** Replays a rewritten tape with each fusedLinear node computed by its reference. */
function replayReference(tape: Tape, inputs: A[]): A[] {
  const vals: A[] = [];
  inputs.forEach((a, i) => { vals[i] = a; });
  tape.consts.forEach((c, i) => { vals[tape.nInputs + i] = c; });
  for (const n of tape.nodes) {
    const ins = n.args.map((s) => vals[s]);
    const outs = n.prim === FusedLinear ? fusedLinearReference(ins, n.params as FusedLinearParams) : bind(n.prim, ins, n.params, n.specs, n.stream);
    n.outs.forEach((s, i) => { vals[s] = outs[i]; });
  }
  return tape.outputs.map((s) => vals[s]);
}

const linearNodes = (t: Tape) => t.nodes.filter((n) => n.prim === FusedLinear).map((n) => n.params as FusedLinearParams);
const count = (t: Tape, name: string) => t.nodes.filter((n) => n.prim.name === name).length;

/** Fuses fn's tape and checks its values against the unfused tape's, bit for bit; returns the fused tape. */
function fuseAndCheck(fn: (...xs: A[]) => A[], inputs: A[], where: string): Tape {
  const tape = tapeOf(fn, inputs);
  fuseLinear(tape, everywhere);
  const want = replay(tapeOf(fn, inputs), inputs)!;
  const got = replayReference(tape, inputs);
  got.forEach((g, i) => {
    assert.deepEqual([...g.shape], [...want[i].shape], `${where}: output ${i} shape`);
    assert.deepEqual(g.dataSync(), want[i].dataSync(), `${where}: output ${i} values`);
  });
  return tape;
}

test('a Llama block: q/k/v siblings, o + residual, gate/up + swiglu, down + residual', () => {
  for (const dtype of ['float32', 'bfloat16'] as const) {
    const D = 64, F = 96;
    const [wq, wk, wv, wo, wg, wu, wd] = [[D, D], [16, D], [24, D], [D, D], [F, D], [F, D], [D, F]].map((s, i) => rand(s, 10 + i, dtype));
    const block = (x: A): A[] => {
      const q = lin(x, wq), k = lin(x, wk), v = lin(x, wv);
      const attn = mx.add(mx.multiply(q, mx.mean(k, -1, true)), mx.mean(v, -1, true));
      const h = mx.add(x, lin(attn, wo));
      return [mx.add(lin(swiglu(lin(h, wg), lin(h, wu)), wd), h)];
    };
    const tape = fuseAndCheck(block, [rand([1, 1, D], 1, dtype)], dtype);
    const made = linearNodes(tape);
    assert.deepEqual(made.map((p) => p.epilogue).sort(), ['glu', 'none', 'residual', 'residual'], dtype);
    assert.equal(made.find((p) => p.epilogue === 'none')!.weights, 3, 'q, k and v in one node');
    assert.deepEqual(made.find((p) => p.epilogue === 'glu'), { weights: 2, epilogue: 'glu', glu: 'swiglu', act: 'silu', matmul: { transposeB: true } });
    assert.equal(count(tape, 'matmul'), 0, 'every product fused');
    assert.equal(count(tape, 'swiglu'), 0);
    assert.equal(count(tape, 'add'), 1, 'only the attention stand-in keeps its add');
  }
});

test('geglu (both approximations), every row count up to 4, and batches of x folding into rows', () => {
  const [wg, wu] = [rand([33, 16], 3), rand([33, 16], 4)];
  for (const approximate of ['none', 'tanh'] as const) for (const xs of [[1, 16], [3, 16], [4, 16], [2, 2, 16], [4, 1, 16]]) {
    const tape = fuseAndCheck((x) => [geglu(lin(x, wg), lin(x, wu), { approximate })], [rand(xs, 5)], `geglu ${approximate} x (${xs})`);
    assert.deepEqual(linearNodes(tape).map((p) => [p.epilogue, p.glu, p.act]), [['glu', 'geglu', approximate === 'tanh' ? 'geluTanh' : 'gelu']]);
  }
});

test('residual: either operand order', () => {
  const w = rand([17, 8], 6);
  const r = rand([2, 17], 7);
  for (const [label, f] of [['(y, r)', (x: A) => [mx.add(lin(x, w), r)]], ['(r, y)', (x: A) => [mx.add(r, lin(x, w))]]] as const) {
    const tape = fuseAndCheck(f, [rand([2, 8], 8)], label);
    assert.deepEqual(linearNodes(tape).map((p) => p.epilogue), ['residual'], label);
    assert.equal(count(tape, 'add'), 0, label);
  }
});

test('left alone: M > 4, W not transposed, products read twice or returned, broadcast residuals, other x', () => {
  const [w1, w2] = [rand([12, 8], 20), rand([5, 8], 21)];
  const none = (fn: (...xs: A[]) => A[], inputs: A[], where: string) => assert.deepEqual(linearNodes(fuseAndCheck(fn, inputs, where)), [], where);
  none((x) => [lin(x, w1), lin(x, w2)], [rand([5, 8], 22)], 'M = 5');
  none((x) => [lin(x, w1), lin(x, w2)], [rand([3, 2, 8], 23)], 'a batch folding to 6 rows');
  none((x) => [mx.matmul(x, rand([8, 12], 24)), mx.matmul(x, rand([8, 5], 25))], [rand([1, 8], 26)], 'W (K, N): transposeB false');
  none((x, y) => [lin(x, w1), lin(y, w1)], [rand([1, 8], 27), rand([1, 8], 28)], 'different x');
  const y12 = rand([1, 12], 29);
  none((x) => { const y = lin(x, w1); return [mx.add(y, y12), mx.multiply(y, 2)]; }, [rand([1, 8], 30)], 'the product read twice');
  none((x) => { const y = lin(x, w1); return [mx.add(y, y12), y]; }, [rand([1, 8], 31)], 'the product returned');
  none((x) => [mx.add(lin(x, w1), rand([12], 32))], [rand([2, 8], 33)], 'a broadcast bias');
  none((x) => [mx.add(lin(x, mx.astype(w1, 'bfloat16')), y12)], [rand([1, 8], 34)], 'mixed dtypes (the add reads an astype)');
  none((x) => [mx.matmul(x, mx.swapaxes(rand([2, 12, 8], 35), -1, -2))], [rand([1, 8], 36)], 'a batched weight');
});

test('a gate read elsewhere keeps its swiglu, and gate and up still share one launch', () => {
  const [wg, wu] = [rand([12, 8], 40), rand([12, 8], 41)];
  const tape = fuseAndCheck((x) => { const g = lin(x, wg); return [swiglu(g, lin(x, wu)), mx.multiply(g, 3)]; }, [rand([1, 8], 42)], 'gate used twice');
  assert.deepEqual(linearNodes(tape).map((p) => [p.epilogue, p.weights]), [['none', 2]]);
  assert.equal(count(tape, 'swiglu'), 1);
});

test(`siblings: more than ${MAX_WEIGHTS} weights split into nodes; weights made inside the tape move up`, () => {
  const ws = Array.from({ length: MAX_WEIGHTS + 2 }, (_, i) => rand([3 + i, 8], 50 + i));
  const tape = fuseAndCheck((x) => ws.map((w) => lin(x, w)), [rand([1, 1, 8], 49)], `${ws.length} weights`);
  assert.deepEqual(linearNodes(tape).map((p) => p.weights), [MAX_WEIGHTS, 2]);
  // Weights passed as inputs: each is reshaped to (1, N, K) by a node of the tape, after the first product.
  const t2 = fuseAndCheck((x, a, b, c) => [lin(x, a), lin(x, b), lin(x, c)], [rand([1, 1, 8], 60), ws[0], ws[1], ws[2]], 'weights as inputs');
  assert.deepEqual(linearNodes(t2).map((p) => p.weights), [3]);
});

test('the CPU does not declare the capability: compile() leaves its tapes alone', () => {
  const [wg, wu] = [rand([12, 8], 70), rand([12, 8], 71)];
  const f = (x: A) => swiglu(lin(x, wg), lin(x, wu));
  const tape = tapeOf((x) => [f(x)], [rand([1, 8], 72)]);
  assert.deepEqual(fuseLinear(tape), { nodes: 0, ops: 0 });
  const c = mx.compile(f);
  const x = rand([1, 8], 73);
  assert.deepEqual(c(x).dataSync(), f(x).dataSync());
  assert.equal(compileStats(c)!.linearFused, 0);
});

test("the node's vjp, jvp and vmap are the unfused function's", () => {
  const x = rand([2, 8], 80), wg = rand([6, 8], 81), wu = rand([6, 8], 82), r = rand([2, 6], 83);
  const ct = rand([2, 6], 84);
  const cases: [FusedLinearParams, A[], (...a: A[]) => A[]][] = [
    [{ weights: 2, epilogue: 'glu', glu: 'swiglu', act: 'silu', matmul: { transposeB: true } }, [x, wg, wu], (a, b, c) => [swiglu(lin(a, b), lin(a, c))]],
    [{ weights: 1, epilogue: 'residual', matmul: { transposeB: true } }, [x, wg, r], (a, b, c) => [mx.add(lin(a, b), c)]],
    [{ weights: 2, epilogue: 'none', matmul: { transposeB: true } }, [x, wg, wu], (a, b, c) => [lin(a, b), lin(a, c)]],
  ];
  const close = (g: A, w: A, where: string) => {
    const gv = g.dataSync(), wv = w.dataSync();
    assert.deepEqual([...g.shape], [...w.shape], where);
    for (let i = 0; i < wv.length; i++) assert.ok(Math.abs(Number(gv[i]) - Number(wv[i])) <= 1e-6 * (1 + Math.abs(Number(wv[i]))), `${where}: element ${i}`);
  };
  for (const [p, inputs, f] of cases) {
    const outputs = fusedLinearReference(inputs, p);
    const cts = outputs.map(() => ct);
    const got = FusedLinear.vjp!(cts, { inputs, outputs, params: p });
    const want = mx.vjp(f, inputs, cts)[1];
    want.forEach((w, i) => close(got[i]!, w, `${p.epilogue} vjp ${i}`));
    const ts = inputs.map((a, i) => rand([...a.shape], 90 + i));
    const jg = FusedLinear.jvp!(ts, { inputs, outputs, params: p });
    mx.jvp(f, inputs, ts)[1].forEach((w, i) => close(jg[i], w, `${p.epilogue} jvp ${i}`));
    const xb = rand([3, ...x.shape], 95);
    const [vg, axes] = FusedLinear.vmap!([xb, ...inputs.slice(1)], [0, null, null], p);
    assert.ok(axes.every((a) => a === 0));
    (mx.vmap(f, [0, null, null]) as (...a: A[]) => A[])(xb, ...inputs.slice(1)).forEach((w, i) => close(vg[i], w, `${p.epilogue} vmap ${i}`));
  }
});
