// nn.Module's tree: parameters, children, freezing, updates, dtype, weight loading; and
// nn.valueAndGrad against finite differences, and a small model that learns.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as mx from '../../src/index.js';
import * as nn from '../../src/nn/index.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { treeFlatten, treeMap } from '../../src/utils/index.js';

// A model whose attribute names are checkpoint keys (snake_case, as Hugging Face's).
class Attention extends nn.Module {
  q_proj = new nn.Linear(4, 4, false);
  o_proj = new nn.Linear(4, 4);
  numHeads = 2; // configuration: not part of the tree
  override forward(x: mx.Array): mx.Array { return this.o_proj.forward(this.q_proj.forward(x)); }
}
class Block extends nn.Module {
  self_attn = new Attention();
  input_layernorm = new nn.RMSNorm(4);
  override forward(x: mx.Array): mx.Array { return mx.add(x, this.self_attn.forward(this.input_layernorm.forward(x))); }
}
class Model extends nn.Module {
  embed_tokens = new nn.Embedding(10, 4);
  layers = [new Block(), new Block()];
  extras = { scale: mx.array([2], 'float32'), note: 'not an array' };
  config = { hiddenSize: 4, names: ['a'] }; // holds no arrays: not part of the tree
  _cache = mx.zeros([3]); // underscore: private, never a parameter
  override forward(ids: mx.Array): mx.Array {
    let h = this.embed_tokens.forward(ids);
    for (const l of this.layers) h = l.forward(h);
    return mx.multiply(h, this.extras.scale);
  }
}

const keys = (t: object) => treeFlatten(t).map(([k]) => k);
const ALL = [
  'embed_tokens.weight',
  'layers.0.self_attn.q_proj.weight', 'layers.0.self_attn.o_proj.weight', 'layers.0.self_attn.o_proj.bias', 'layers.0.input_layernorm.weight',
  'layers.1.self_attn.q_proj.weight', 'layers.1.self_attn.o_proj.weight', 'layers.1.self_attn.o_proj.bias', 'layers.1.input_layernorm.weight',
  'extras.scale',
];

test('parameters are the arrays held in properties, objects and lists, under dotted checkpoint keys', () => {
  const m = new Model();
  assert.deepEqual(keys(m.parameters()), ALL);
  assert.deepEqual(Object.keys(m.parameters()), ['embed_tokens', 'layers', 'extras']);
  // Non-array entries inside a held object become {} (MLX keeps positions that way).
  assert.deepEqual((m.parameters().extras as Record<string, unknown>).note, {});
  assert.deepEqual(keys(m.trainableParameters()), ALL);
  assert.ok(m.has('layers') && m.has('extras') && !m.has('config') && !m.has('numHeads') && !m.has('missing'));
});

test('children, leafModules, namedModules (MLX order) and modules', () => {
  const m = new Model();
  const kids = m.children();
  // As MLX, every held object or list is listed (here `extras`, as {scale: {}, note: {}}).
  assert.deepEqual(Object.keys(kids), ['embed_tokens', 'layers', 'extras']);
  assert.deepEqual(kids.extras, { scale: {}, note: {} });
  assert.ok(kids.embed_tokens instanceof nn.Embedding);
  assert.equal((kids.layers as nn.Module[]).length, 2);
  assert.deepEqual(treeFlatten(m.leafModules(), '', nn.Module.isModule).map(([k]) => k), [
    'embed_tokens', 'layers.0.self_attn.q_proj', 'layers.0.self_attn.o_proj', 'layers.0.input_layernorm',
    'layers.1.self_attn.q_proj', 'layers.1.self_attn.o_proj', 'layers.1.input_layernorm',
  ]);
  // MLX walks a stack: each module, then its children pushed in order and popped last-first.
  assert.deepEqual(m.namedModules().map(([k]) => k), [
    '', 'layers.1', 'layers.1.input_layernorm', 'layers.1.self_attn', 'layers.1.self_attn.o_proj', 'layers.1.self_attn.q_proj',
    'layers.0', 'layers.0.input_layernorm', 'layers.0.self_attn', 'layers.0.self_attn.o_proj', 'layers.0.self_attn.q_proj', 'embed_tokens',
  ]);
  assert.equal(m.modules().length, 12);
  assert.equal(m.namedModules()[0][1], m);
});

test('freeze and unfreeze: all, by key, non-recursive, strict', () => {
  const m = new Model();
  m.freeze();
  assert.deepEqual(keys(m.trainableParameters()), []);
  assert.deepEqual(keys(m.parameters()), ALL);
  m.unfreeze({ keys: 'bias' });
  assert.deepEqual(keys(m.trainableParameters()), ['layers.0.self_attn.o_proj.bias', 'layers.1.self_attn.o_proj.bias']);
  m.unfreeze();
  m.freeze({ keys: ['weight'] });
  assert.deepEqual(keys(m.trainableParameters()), ['layers.0.self_attn.o_proj.bias', 'layers.1.self_attn.o_proj.bias', 'extras.scale']);
  m.unfreeze();
  m.freeze({ recurse: false }); // only the model's own arrays
  assert.deepEqual(keys(m.trainableParameters()), ALL.filter((k) => k !== 'extras.scale'));
  m.unfreeze();
  m.layers[1].freeze();
  m.layers[1].self_attn.o_proj.unfreeze({ keys: 'bias' });
  assert.deepEqual(keys(m.trainableParameters()).filter((k) => k.startsWith('layers.1')), ['layers.1.self_attn.o_proj.bias']);
  assert.throws(() => m.layers[0].self_attn.q_proj.freeze({ keys: ['weight', 'bias'], strict: true }), /\[Module.freeze\] Linear has no member 'bias'; it has 'weight'/);
  assert.throws(() => m.unfreeze({ keys: 'nope', strict: true }), /\[Module.unfreeze\] Model has no member 'nope'/);
});

test('update: replaces arrays, strict errors name the key, non-strict skips unknown keys', () => {
  const m = new Model();
  const w = mx.ones([4, 4]);
  m.update({ layers: [{}, { self_attn: { q_proj: { weight: w } } }] });
  assert.equal(m.layers[1].self_attn.q_proj.weight, w);
  m.update({ extras: { scale: mx.array([3.0]) } });
  assert.deepEqual(m.extras.scale.tolist(), [3]);
  assert.throws(() => m.update({ layers: [{ self_attn: { k_proj: { weight: w } } }] }), /\[Module.update\] Attention has no parameter named 'layers.0.self_attn.k_proj'/);
  assert.throws(() => m.update({ embed_tokens: { weight: 3 } }), /\[Module.update\] expected an array for 'embed_tokens.weight', got number/);
  assert.throws(() => m.update({ numHeads: w }), /Model has no parameter named 'numHeads'/);
  assert.throws(() => m.update({ layers: [{}, {}, {}] }), /'layers' has 2 entries, got a value for 'layers.2'/);
  m.update({ nope: w, layers: [{}, {}, { x: w }] }, false);
  // Integer keys unflatten to a list; they still reach an object keyed '0', '1'.
  class Experts extends nn.Module { experts: Record<string, nn.Linear> = { 0: new nn.Linear(2, 2), 1: new nn.Linear(2, 2) }; }
  const e = new Experts();
  const ew = mx.zeros([2, 2]);
  e.loadWeights([['experts.1.weight', ew]], false);
  assert.equal(e.experts[1].weight, ew);
  assert.deepEqual(keys(e.parameters()), ['experts.0.weight', 'experts.0.bias', 'experts.1.weight', 'experts.1.bias']);
  // A whole parameter tree round-trips.
  const doubled = treeMap((x: mx.Array) => mx.multiply(x, 2), m.parameters());
  m.update(doubled);
  assert.deepEqual(m.extras.scale.tolist(), [6]);
});

test('updateModules swaps layers; apply and setDtype map parameters', () => {
  const m = new Model();
  const id = new nn.Identity();
  m.updateModules({ layers: [{ self_attn: { q_proj: id } }] });
  assert.equal(m.layers[0].self_attn.q_proj as unknown, id);
  assert.ok(!keys(m.parameters()).includes('layers.0.self_attn.q_proj.weight'));
  assert.throws(() => m.updateModules({ layers: [{ self_attn: { v_proj: id } }] }), /\[Module.updateModules\] Attention has no submodule named 'layers.0.self_attn.v_proj'/);
  assert.throws(() => m.updateModules({ extras: { scale: id } }), /expected a module for 'extras.scale'/);

  const n = new Model();
  (n as unknown as { steps: mx.Array }).steps = mx.array([1, 2], 'int32');
  n.setDtype('bfloat16');
  const dtypes = Object.fromEntries(treeFlatten<mx.Array>(n.parameters()).map(([k, v]) => [k, v.dtype.name]));
  assert.equal(dtypes['layers.0.self_attn.q_proj.weight'], 'bfloat16');
  assert.equal(dtypes['extras.scale'], 'bfloat16');
  assert.equal(dtypes.steps, 'int32', 'integer parameters keep their dtype');
  n.setDtype('float32', null);
  assert.equal((n as unknown as { steps: mx.Array }).steps.dtype.name, 'float32');
  n.apply((x) => mx.zerosLike(x), (_m, k, v) => k !== 'weight' && nn.Module.validParameterFilter(_m, k, v));
  assert.deepEqual(n.layers[0].self_attn.o_proj.bias!.tolist(), [0, 0, 0, 0]);
  assert.notDeepEqual(n.layers[0].self_attn.o_proj.weight.tolist(), [[0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]]);
});

test('train and eval reach every submodule', () => {
  const m = new nn.Sequential(new nn.Linear(2, 2), new nn.Dropout(0.5), new nn.Sequential(new nn.Dropout(0.1)));
  assert.ok(m.training);
  m.eval();
  assert.ok(m.modules().every((x) => !x.training));
  m.train();
  assert.ok(m.modules().every((x) => x.training));
});

test('loadWeights: pairs or an object; strict mode lists every missing, extra and mis-shaped key', () => {
  const m = new Model();
  const weights = treeFlatten<mx.Array>(m.parameters()).map(([k, v]) => [k, mx.add(mx.zerosLike(v), 1)] as [string, mx.Array]);
  m.loadWeights(weights);
  assert.deepEqual(m.extras.scale.tolist(), [1]);
  m.loadWeights(Object.fromEntries(weights.map(([k, v]) => [k, mx.multiply(v, 5)])));
  assert.deepEqual(m.extras.scale.tolist(), [5]);

  const bad = weights.filter(([k]) => k !== 'layers.1.input_layernorm.weight' && k !== 'embed_tokens.weight')
    .map(([k, v]) => [k, k === 'layers.0.self_attn.o_proj.bias' ? mx.zeros([5]) : v] as [string, mx.Array]);
  bad.push(['layers.0.self_attn.k_proj.weight', mx.zeros([4, 4])], ['lm_head.weight', mx.zeros([10, 4])]);
  let msg = '';
  try { m.loadWeights(bad); } catch (e) { msg = (e as Error).message; }
  assert.match(msg, /^\[Module.loadWeights\] the given weights do not match the parameters of Model:/);
  assert.match(msg, /2 missing: embed_tokens.weight, layers.1.input_layernorm.weight/);
  assert.match(msg, /2 not in the model: layers.0.self_attn.k_proj.weight, lm_head.weight/);
  assert.match(msg, /layers.0.self_attn.o_proj.bias: expected shape \(4,\), got \(5,\)/);
  assert.deepEqual(m.extras.scale.tolist(), [5], 'nothing was loaded');
  // Not strict: the known keys load, the rest is ignored, shapes are not checked.
  m.loadWeights(bad, false);
  assert.deepEqual(m.layers[0].self_attn.o_proj.bias!.shape, [5]);
  assert.deepEqual(m.embed_tokens.weight.shape, [10, 4]);
});

test('saveWeights and loadWeights round-trip through .safetensors and .npz; file errors name the file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lathe-nn-'));
  try {
    const a = new Model();
    for (const ext of ['safetensors', 'npz']) {
      const file = join(dir, `model.${ext}`);
      a.saveWeights(file);
      const b = new Model().loadWeights(file);
      for (const [[k, x], [k2, y]] of treeFlatten<mx.Array>(a.parameters()).map((p, i) => [p, treeFlatten<mx.Array>(b.parameters())[i]])) {
        assert.equal(k, k2);
        assert.deepEqual(y.tolist(), x.tolist(), `${ext}: ${k}`);
      }
    }
    const small = new nn.Linear(2, 2);
    small.saveWeights(join(dir, 'linear.safetensors'));
    assert.throws(() => new nn.Linear(2, 3).loadWeights(join(dir, 'linear.safetensors')),
      /\[Module.loadWeights\] '.*linear.safetensors' do not match the parameters of Linear:\n.*\n    weight: expected shape \(3,2\), got \(2,2\)\n    bias: expected shape \(3,\), got \(2,\)/);
    assert.throws(() => small.saveWeights(join(dir, 'w.bin')), /\[Module.saveWeights\] unsupported file extension for '.*w.bin': use .npz or .safetensors/);
    assert.throws(() => small.loadWeights(join(dir, 'missing.safetensors')), /missing.safetensors/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('nn.valueAndGrad: gradients of the trainable parameters match finite differences', () => {
  mx.random.seed(1);
  const model = new nn.Sequential(new nn.Linear(3, 5), nn.tanh, new nn.Linear(5, 2), new nn.LayerNorm(2));
  model.setDtype('float64');
  const x = mx.random.normal([4, 3], 'float64'), y = mx.random.normal([4, 2], 'float64');
  const lossFn = (x: mx.Array, y: mx.Array) => mx.mean(mx.square(mx.subtract(model.forward(x), y)));
  const before = treeFlatten<mx.Array>(model.parameters());
  const [loss, grads] = nn.valueAndGrad(model, lossFn)(x, y);
  assert.equal(loss.item(), lossFn(x, y).item());
  // The model holds its own arrays again, not the trace's stand-ins.
  treeFlatten<mx.Array>(model.parameters()).forEach(([k, v], i) => assert.equal(v, before[i][1], k));
  const flat = treeFlatten<mx.Array>(grads);
  assert.deepEqual(flat.map(([k]) => k), keys(model.trainableParameters()));
  const h = 1e-6;
  for (const [key, g] of flat) {
    const p = before.find(([k]) => k === key)![1];
    const base = [...p.dataSync()] as number[];
    const gv = g.dataSync();
    for (let i = 0; i < base.length; i++) {
      const at = (d: number) => {
        const v = base.slice(); v[i] += d;
        model.loadWeights([[key, mx.reshape(mx.array(new Float64Array(v)), p.shape)]], false);
        return lossFn(x, y).item() as number;
      };
      const fd = (at(h) - at(-h)) / (2 * h);
      assert.ok(Math.abs(fd - Number(gv[i])) < 1e-6 * (1 + Math.abs(fd)), `${key}[${i}]: finite difference ${fd}, grad ${gv[i]}`);
    }
    model.loadWeights([[key, p]], false);
  }
});

test('nn.valueAndGrad: frozen parameters get no gradient; aux outputs pass through; clear errors', () => {
  const model = new nn.Sequential(new nn.Linear(2, 3), new nn.Linear(3, 1));
  model.layers[0] instanceof nn.Linear && (model.layers[0] as nn.Linear).freeze();
  const x = mx.ones([5, 2]);
  const [[loss, aux], grads] = nn.valueAndGrad(model, (x: mx.Array) => {
    const out = model.forward(x);
    return [mx.sum(out), out] as const;
  })(x);
  assert.deepEqual(aux.shape, [5, 1]);
  assert.equal(loss.size, 1);
  assert.deepEqual(keys(grads), ['layers.1.weight', 'layers.1.bias']);
  assert.deepEqual((grads.layers as nn.ParamTree[])[1].bias instanceof mx.Array && ((grads.layers as nn.ParamTree[])[1].bias as mx.Array).tolist(), [5]);
  model.freeze();
  assert.throws(() => nn.valueAndGrad(model, (x: mx.Array) => mx.sum(model.forward(x)))(x), /\[nn.valueAndGrad\] Sequential has no trainable parameters/);
  const withInt = new nn.Linear(2, 2);
  (withInt as unknown as { count: mx.Array }).count = mx.array([0], 'int32');
  assert.throws(() => nn.valueAndGrad(withInt, (x: mx.Array) => mx.sum(withInt.forward(x)))(x), /trainable parameter 'count' has dtype int32/);
});

test('a 2-layer MLP trained with plain SGD fits XOR-like data, with memory held flat', () => {
  mx.random.seed(42);
  // Four noisy clusters at the corners of a square; the label is the XOR of the signs.
  const pts: number[][] = [], labels: number[] = [];
  for (let i = 0; i < 64; i++) {
    const a = i % 2, b = (i >> 1) % 2;
    pts.push([(a ? 1 : -1) + 0.2 * Math.sin(i * 1.7), (b ? 1 : -1) + 0.2 * Math.cos(i * 2.3)]);
    labels.push(a ^ b);
  }
  const X = mx.array(pts), Y = mx.array(labels, 'float32');
  const model = new nn.Sequential(new nn.Linear(2, 16), nn.relu, new nn.Linear(16, 1));
  const lossFn = (x: mx.Array, y: mx.Array) => {
    const logits = mx.squeeze(model.forward(x), -1);
    // Binary cross-entropy with logits: softplus(z) - y z.
    return mx.mean(mx.subtract(nn.softplus(logits), mx.multiply(y, logits)));
  };
  const step = nn.valueAndGrad(model, lossFn);
  const lr = 0.5;
  let first = 0, last = 0, memAfterWarmup = 0;
  for (let i = 0; i < 80; i++) {
    const old = model.parameters();
    // tidy frees the step's temporaries and keeps (and evaluates) what it returns.
    const [loss] = mx.tidy(() => {
      const [l, g] = step(X, Y);
      model.update(treeMap((p: mx.Array, gp: mx.Array) => mx.subtract(p, mx.multiply(gp, lr)), model.parameters(), [g]));
      return [l, model.parameters()] as const;
    });
    mx.dispose(old);
    if (i === 0) first = loss.item() as number;
    last = loss.item() as number;
    loss.dispose();
    if (i === 20) memAfterWarmup = mx.getActiveMemory();
  }
  assert.ok(first > 0.6 && last < 0.05, `loss from ${first} to ${last}`);
  const pred = mx.greater(mx.squeeze(model.forward(X), -1), 0);
  assert.equal(mx.sum(mx.equal(pred, mx.astype(Y, 'bool'))).item(), 64, 'every point classified');
  assert.ok(mx.getActiveMemory() <= memAfterWarmup + 4096, `memory grew from ${memAfterWarmup} to ${mx.getActiveMemory()}`);
});

test('toString shows the layer tree; forward is required', () => {
  const s = new nn.Sequential(new nn.Linear(2, 3), new nn.ReLU()).toString();
  assert.equal(s, 'Sequential(\n  (layers.0): Linear(inputDims=2, outputDims=3, bias=true)\n  (layers.1): ReLU()\n)');
  assert.throws(() => new nn.Module().forward(), /\[Module\] Module does not define forward\(\)/);
});

test('updateModules takes back leafModules() even with plain functions in a Sequential (strict)', () => {
  const m = new nn.Sequential(new nn.Linear(4, 4), nn.relu as never, new nn.Linear(4, 2));
  const replaced = new nn.Linear(4, 2);
  const leaves = m.leafModules() as { layers: unknown[] };
  leaves.layers[2] = replaced;
  m.updateModules(leaves);
  assert.equal((m as unknown as { layers: unknown[] }).layers[2], replaced);
});
