import * as mx from '/work/main/src/index.js';
import * as nn from '/work/main/src/nn/index.js';
import * as optim from '/work/main/src/optimizers/index.js';
import { treeFlatten } from '/work/main/src/utils/index.js';
import { TinyLlama } from '/work/main/scripts/tiny-llama/model.ts';
const [H, Lyr, B, L, comp] = process.argv.slice(2).map(Number);
const cfg = { vocab_size: 1024, hidden_size: H, intermediate_size: H * 3, num_hidden_layers: Lyr, num_attention_heads: H / 32, num_key_value_heads: H / 64, rms_norm_eps: 1e-5, rope_theta: 10000, max_position_embeddings: 512, tie_word_embeddings: true };
mx.random.seed(0);
const model = new TinyLlama(cfg); mx.eval(model.parameters());
console.log('params', treeFlatten<mx.Array>(model.parameters()).reduce((n, [, a]) => n + a.size, 0));
const mask = nn.MultiHeadAttention.createAdditiveCausalMask(L); mx.eval(mask);
const opt = new optim.AdamW(1e-3, { weightDecay: 0.1 });
const lg = nn.valueAndGrad(model, (x: mx.Array, y: mx.Array) => nn.losses.crossEntropy(model.forward(x, mask), y, null, -1, 0, 'mean'));
let step = (x: mx.Array, y: mx.Array) => { const [l, g] = lg(x, y); opt.update(model, g); return l; };
if (comp) {
  opt.init(model.trainableParameters());
  const eager = step;
  const state: any = { model: model.parameters(), optimizer: opt.state };
  const c = mx.compile((x: mx.Array, y: mx.Array) => { model.update(state.model); const l = eager(x, y); state.model = model.parameters(); return l; }, { inputs: state, outputs: state });
  step = (x, y) => { const before = treeFlatten<mx.Array>(state).map(([, a]) => a); const l = c(x, y); model.update(state.model); mx.eval(l, state); const live = new Set(treeFlatten<mx.Array>(state).map(([, a]) => a)); for (const a of before) if (!live.has(a)) a.dispose(); return l; };
}
for (let i = 0; i < 6; i++) {
  const t0 = performance.now();
  const x = mx.random.randint(0, 1024, [B, L], mx.int32), y = mx.random.randint(0, 1024, [B, L], mx.int32);
  const l = step(x, y); mx.eval(l, model.parameters(), opt.state);
  console.log(i, l.item(), ((performance.now() - t0)).toFixed(0), 'ms', (B * L / (performance.now() - t0) * 1000).toFixed(0), 'tok/s', mx.getActiveMemory());
  mx.dispose(l, x, y);
}
