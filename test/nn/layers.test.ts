// Layers against NumPy references (test/fixtures/nn_layers.json), with parameters loaded
// under MLX's checkpoint keys; then behaviour the references do not cover.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as mx from '../../src/index.js';
import * as nn from '../../src/nn/index.js';
import { treeFlatten } from '../../src/utils/index.js';
import { fixture, dec, assertClose, LayerCase } from './fixture.js';

type Ctor = (args: unknown[]) => nn.Module;
const n = (v: unknown) => v as number;
const build: Record<string, Ctor> = {
  Linear: (a) => new nn.Linear(n(a[0]), n(a[1]), a[2] as boolean),
  Bilinear: (a) => new nn.Bilinear(n(a[0]), n(a[1]), n(a[2]), a[3] as boolean),
  Embedding: (a) => new nn.Embedding(n(a[0]), n(a[1])),
  LayerNorm: (a) => new nn.LayerNorm(n(a[0]), (a[1] as number) ?? 1e-5, (a[2] as boolean) ?? true, (a[3] as boolean) ?? true),
  RMSNorm: (a) => new nn.RMSNorm(n(a[0]), n(a[1])),
  GroupNorm: (a) => new nn.GroupNorm(n(a[0]), n(a[1]), (a[2] as number) ?? 1e-5, (a[3] as boolean) ?? true, (a[4] as boolean) ?? false),
  InstanceNorm: (a) => new nn.InstanceNorm(n(a[0]), (a[1] as number) ?? 1e-5, (a[2] as boolean) ?? false),
  BatchNorm: (a) => new nn.BatchNorm(n(a[0])),
  RoPE: (a) => new nn.RoPE(n(a[0]), a[1] as boolean, n(a[2]), n(a[3])),
  SinusoidalPositionalEncoding: (a) => new nn.SinusoidalPositionalEncoding(n(a[0]), n(a[1]), n(a[2]), a[3] as number | null, a[4] as boolean, a[5] as boolean),
  ALiBi: () => new nn.ALiBi(),
  MultiHeadAttention: (a) => new nn.MultiHeadAttention(...(a as [number, number, null, null, null, null, null, boolean])),
  TransformerEncoder: (a) => new nn.TransformerEncoder(n(a[0]), n(a[1]), n(a[2]), n(a[3]), n(a[4]), undefined, a[6] as boolean),
  TransformerDecoder: (a) => new nn.TransformerDecoder(n(a[0]), n(a[1]), n(a[2]), n(a[3]), n(a[4]), undefined, a[6] as boolean),
  Sequential: () => new nn.Sequential(new nn.Linear(3, 5), nn.relu, new nn.Linear(5, 2)),
  PReLU: (a) => new nn.PReLU(n(a[0])),
};

/** Runs one fixture case: a fresh layer, its parameters loaded strictly by key, forward on the inputs. */
function run(c: LayerCase): mx.Array {
  const kind = c.name.split(/[:.]/)[0];
  const layer = build[kind](c.args);
  layer.loadWeights(c.params.map(([k, v]) => [k, dec(v)] as [string, mx.Array]));
  const xs = c.inputs.map((e) => dec(e));
  const call = layer as unknown as { forward(...a: unknown[]): mx.Array };
  switch (kind) {
    case 'Embedding': return c.name.endsWith('asLinear') ? (layer as nn.Embedding).asLinear(xs[0]) : call.forward(xs[0]);
    case 'BatchNorm': {
      if (c.name.endsWith('eval')) layer.eval();
      const out = call.forward(xs[0]);
      if (c.running_mean) {
        assertClose((layer as nn.BatchNorm).running_mean!, c.running_mean, `${c.name} running_mean`);
        assertClose((layer as nn.BatchNorm).running_var!, c.running_var!, `${c.name} running_var`);
      } else {
        assertClose((layer as nn.BatchNorm).running_mean!, c.params.find(([k]) => k === 'running_mean')![1], `${c.name} running_mean unchanged in eval`);
      }
      return out;
    }
    case 'RoPE': case 'ALiBi': return call.forward(xs[0], c.offset);
    case 'MultiHeadAttention': {
      const mask = c.mask === 'causal' ? 'causal' : c.mask === 'additive' ? xs[3] : null;
      return call.forward(xs[0], xs[1], xs[2], mask);
    }
    case 'TransformerEncoder': return call.forward(xs[0], nn.MultiHeadAttention.createAdditiveCausalMask(xs[0].shape[1]));
    case 'TransformerDecoder': return call.forward(xs[0], xs[1], nn.MultiHeadAttention.createAdditiveCausalMask(xs[0].shape[1]), null);
    default: return call.forward(...xs);
  }
}

test('every layer matches its NumPy reference, with parameters loaded under MLX checkpoint keys', () => {
  const kinds = new Set<string>();
  for (const c of fixture.layers) {
    kinds.add(c.name.split(/[:.]/)[0]);
    assertClose(run(c), c.out, `${c.name} ${JSON.stringify(c.args)}`, 1e-4, 2e-5);
  }
  assert.deepEqual([...kinds].sort(), Object.keys(build).sort(), 'every layer kind has fixture cases');
});

test('the same layers agree with the references in float64 and float16', () => {
  const c = fixture.layers.find((l) => l.name === 'TransformerEncoder')!;
  const layer = build.TransformerEncoder(c.args);
  layer.loadWeights(c.params.map(([k, v]) => [k, dec(v, 'float64')] as [string, mx.Array]));
  const x = dec(c.inputs[0], 'float64');
  const out = (layer as nn.TransformerEncoder).forward(x, nn.MultiHeadAttention.createAdditiveCausalMask(x.shape[1], 'float64'));
  assert.equal(out.dtype.name, 'float64');
  assertClose(out, c.out, 'TransformerEncoder float64', 1e-6, 1e-7);
  for (const name of ['LayerNorm', 'RMSNorm', 'GroupNorm']) {
    const lc = fixture.layers.find((l) => l.name === name)!;
    const m = build[name](lc.args).setDtype('float16');
    m.loadWeights(lc.params.map(([k, v]) => [k, dec(v, 'float16')] as [string, mx.Array]));
    const y = (m as unknown as { forward(x: mx.Array): mx.Array }).forward(dec(lc.inputs[0], 'float16'));
    assert.equal(y.dtype.name, 'float16', name);
    assertClose(y, lc.out, `${name} float16`, 1e-2, 1e-2);
  }
});

test('initialization follows MLX: Linear uniform on ±1/sqrt(in), Embedding N(0, 1/dims), norms at 1 and 0', () => {
  mx.random.seed(3);
  const lin = new nn.Linear(64, 200);
  const w = lin.weight.dataSync(), b = lin.bias!.dataSync();
  const bound = 1 / 8;
  assert.ok([...w, ...b].every((v) => Math.abs(v as number) <= bound), 'within the bound');
  assert.ok(Math.max(...[...w].map(Number)) > 0.95 * bound && Math.min(...[...w].map(Number)) < -0.95 * bound, 'fills the range');
  const emb = new nn.Embedding(500, 16);
  const std = Math.sqrt(mx.variance(emb.weight).item() as number);
  assert.ok(Math.abs(std - 0.25) < 0.01, `Embedding std ${std}`);
  assert.equal(lin.bias!.dtype.name, 'float32');
  assert.deepEqual(new nn.LayerNorm(3).weight!.tolist(), [1, 1, 1]);
  assert.deepEqual(new nn.LayerNorm(3).bias!.tolist(), [0, 0, 0]);
  assert.equal(new nn.Linear(3, 2, false).bias, undefined);
  assert.deepEqual(Object.keys(new nn.Linear(3, 2, false).parameters()), ['weight']);
  // Same seed, same parameters: initialization draws from mx.random's global key.
  mx.random.seed(11); const a = new nn.Linear(4, 4).weight.tolist();
  mx.random.seed(11); const b2 = new nn.Linear(4, 4).weight.tolist();
  assert.deepEqual(a, b2);
});

test('Dropout zeroes about p of the elements in training, scales the rest, and is the identity in eval', () => {
  mx.random.seed(0);
  const d = new nn.Dropout(0.25);
  const y = d.forward(mx.ones([200, 50])).dataSync();
  const zeros = [...y].filter((v) => v === 0).length / y.length;
  assert.ok(Math.abs(zeros - 0.25) < 0.02, `dropped ${zeros}`);
  assert.ok([...y].every((v) => v === 0 || Math.abs((v as number) - 1 / 0.75) < 1e-6));
  d.eval();
  assert.deepEqual(d.forward(mx.ones([2, 2])).tolist(), [[1, 1], [1, 1]]);
  assert.throws(() => new nn.Dropout(1), /\[Dropout\] the dropout probability must be in \[0, 1\), got 1/);

  const d2 = new nn.Dropout2d(0.5);
  const z = d2.forward(mx.ones([4, 3, 3, 16])); // whole channels drop: each (n, c) is all zero or all 2
  const vals = mx.transpose(z, [0, 3, 1, 2]).reshape(64, 9).tolist() as number[][];
  assert.ok(vals.every((row) => row.every((v) => v === row[0]) && (row[0] === 0 || row[0] === 2)));
  assert.ok(vals.some((r) => r[0] === 0) && vals.some((r) => r[0] === 2));
  assert.throws(() => d2.forward(mx.ones([3, 3])), /\[Dropout2d\] expected an input with 3 or 4 dimensions/);
});

test('BatchNorm: running statistics stay frozen, even after unfreeze, and are saved with the weights', () => {
  const bn = new nn.BatchNorm(3);
  assert.deepEqual(Object.keys(bn.trainableParameters()).sort(), ['bias', 'weight']);
  bn.unfreeze();
  assert.deepEqual(Object.keys(bn.trainableParameters()).sort(), ['bias', 'weight']);
  const net = new nn.Sequential(new nn.Linear(2, 3), bn);
  net.freeze(); net.unfreeze();
  assert.deepEqual(treeFlatten(net.trainableParameters()).map(([k]) => k), ['layers.0.weight', 'layers.0.bias', 'layers.1.weight', 'layers.1.bias']);
  assert.deepEqual(treeFlatten(net.parameters()).map(([k]) => k).slice(-2), ['layers.1.running_mean', 'layers.1.running_var']);
  assert.throws(() => bn.forward(mx.ones([2])), /\[BatchNorm\] expected an input with 2, 3 or 4 dimensions/);
  // Without tracking, eval mode still normalizes with the batch's statistics.
  const plain = new nn.BatchNorm(2, 1e-5, 0.1, false, false).eval();
  const out = plain.forward(mx.array([[1, 10], [3, 30]])).tolist() as number[][];
  assert.ok(Math.abs(out[0][0] + 1) < 1e-4 && Math.abs(out[1][1] - 1) < 1e-4);
});

test('RoPE: the default and traditional layouts agree up to a permutation; offset shifts positions', () => {
  const x = mx.random.normal([1, 2, 6, 8], 'float64');
  const rope = new nn.RoPE(8);
  // Positions 3..5 of a sequence equal offset 3 on its tail.
  const full = rope.forward(x);
  const tail = rope.forward(mx.index(x, '...', mx.s(3, null), mx.s()), 3);
  const close = (a: mx.Array, b: mx.Array) => assert.ok(mx.allclose(a, b, 1e-10, 1e-12).item(), 'close');
  close(mx.index(full, '...', mx.s(3, null), mx.s()), tail);
  // Traditional on interleaved features = default on the halves.
  const perm = mx.array([0, 2, 4, 6, 1, 3, 5, 7]);
  const inv = mx.argsort(perm);
  close(mx.take(new nn.RoPE(8, true).forward(mx.take(x, inv, -1)), perm, -1), rope.forward(x));
  // A scalar-array offset works like a number.
  close(rope.forward(x, mx.array(2)), rope.forward(x, 2));
  assert.equal(new nn.RoPE(8).forward(mx.ones([3, 8], 'float16')).dtype.name, 'float16');
  assert.throws(() => new nn.RoPE(5).forward(x), /\[rope\] dims must be a positive even number/);
});

test('MultiHeadAttention: boolean masks equal additive ones; the causal mask hides the future', () => {
  mx.random.seed(5);
  const mha = new nn.MultiHeadAttention(8, 2, null, null, null, null, null, true);
  const x = mx.random.normal([2, 5, 8]);
  const additive = nn.MultiHeadAttention.createAdditiveCausalMask(5);
  const boolMask = mx.tril(mx.ones([5, 5], 'bool'));
  const a = mha.forward(x, x, x, additive), b = mha.forward(x, x, x, boolMask), c = mha.forward(x, x, x, 'causal');
  assert.ok(mx.allclose(a, b, 1e-5, 1e-6).item() && mx.allclose(a, c, 1e-5, 1e-6).item());
  // Changing a later token leaves earlier outputs unchanged under the causal mask.
  const x2 = mx.indexUpdate(x, [mx.s(), 4], mx.random.normal([2, 8]));
  const d = mha.forward(x2, x2, x2, 'causal');
  assert.ok(mx.allclose(mx.index(a, mx.s(), mx.s(0, 4)), mx.index(d, mx.s(), mx.s(0, 4)), 1e-5, 1e-6).item());
  assert.ok(!mx.allclose(mx.index(a, mx.s(), 4), mx.index(d, mx.s(), 4)).item());
  const m = nn.MultiHeadAttention.createAdditiveCausalMask(3).tolist() as number[][];
  assert.equal(m[0][0], 0); assert.equal(m[1][0], 0); assert.ok(m[0][1] < -1e38);
  assert.deepEqual(treeFlatten(mha.parameters()).map(([k]) => k),
    ['query_proj.weight', 'query_proj.bias', 'key_proj.weight', 'key_proj.bias', 'value_proj.weight', 'value_proj.bias', 'out_proj.weight', 'out_proj.bias']);
  assert.throws(() => new nn.MultiHeadAttention(10, 3), /\[MultiHeadAttention\] dims \(10\) must be divisible by numHeads \(3\)/);
});

test('TransformerEncoder with checkpoint gives the same values and gradients', () => {
  mx.random.seed(9);
  const plain = new nn.TransformerEncoder(2, 8, 2, 16);
  const ckpt = new nn.TransformerEncoder(2, 8, 2, 16, 0, nn.gelu, true, true);
  ckpt.update(plain.parameters());
  const p2 = new nn.TransformerEncoder(2, 8, 2, 16, 0, nn.gelu);
  p2.update(plain.parameters());
  const x = mx.random.normal([2, 4, 8]);
  const loss = (m: nn.TransformerEncoder) => nn.valueAndGrad(m, (x: mx.Array) => mx.sum(mx.square(m.forward(x, 'causal'))));
  const before = treeFlatten<mx.Array>(ckpt.parameters());
  const [la, ga] = loss(p2)(x), [lb, gb] = loss(ckpt)(x);
  assert.ok(Math.abs((la.item() as number) - (lb.item() as number)) < 1e-4);
  const fa = treeFlatten<mx.Array>(ga), fb = treeFlatten<mx.Array>(gb);
  assert.deepEqual(fa.map(([k]) => k), fb.map(([k]) => k));
  fa.forEach(([k, g], i) => assert.ok(mx.allclose(g, fb[i][1], 1e-4, 1e-5).item(), k));
  // The checkpointed model holds its own arrays again afterwards, not a trace's stand-ins.
  treeFlatten<mx.Array>(ckpt.parameters()).forEach(([k, v], i) => assert.equal(v, before[i][1], `${k} is the model's own array`));
});

test('Embedding rejects float indices; Linear and Bilinear shapes', () => {
  assert.throws(() => new nn.Embedding(4, 2).forward(mx.array([0.5])), /\[Embedding\] expected integer indices/);
  assert.deepEqual(new nn.Linear(3, 4).forward(mx.ones([2, 5, 3])).shape, [2, 5, 4]);
  assert.deepEqual(new nn.Bilinear(3, 2, 4).forward(mx.ones([5, 3]), mx.ones([5, 2])).shape, [5, 4]);
  assert.throws(() => new nn.Bilinear(3, 2, 4).forward(mx.ones([5, 2]), mx.ones([5, 2])), /\[Bilinear\] expected inputs with last dims 3 and 2/);
  assert.deepEqual(new nn.Identity(1, 'a').forward(mx.ones([2])).tolist(), [1, 1]);
  assert.throws(() => new nn.LayerNorm(4).forward(mx.ones([2, 3])), /\[LayerNorm\] expected an input whose last axis has 4 features, got shape \(2,3\)/);
});
