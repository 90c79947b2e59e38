// The [lm] benchmark: lathe/lm beside Hugging Face transformers on the same card, in one run
// (bench/gpu/lm.sh runs this, then lm_hf.py). Random bf16 weights at the real shapes of
// ../shared/BENCHMARKS.md: shapes decide the cost.
//   node --import tsx bench/gpu/lm.ts [--only prefill,decode1,decode32,q4,qwen3] [--tokens N] > lathe.json
// Prints one JSON line: tok/s per workload, peak memory, the measured copy bandwidth and the
// bandwidth bound of batch-1 decode (every weight read once per token).
import * as mx from '../../src/index.js';
import * as nn from '../../src/nn/index.js';
import { LLAMA_1B, QWEN3_4B, TINY, randomModel } from './random-model.js';
import type { LanguageModel } from '../../src/lm/models/base.js';
import { streamGenerate, batchGenerate } from '../../src/lm/index.js';
import { treeFlatten } from '../../src/utils/index.js';

const args = process.argv.slice(2);
const opt = (name: string, fallback: string) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : fallback; };
const only = new Set(opt('--only', 'prefill,decode1,decode32,q4,qwen3').split(','));
const GEN = Number(opt('--tokens', '128'));
const smoke = args.includes('--smoke');
const log = (s: string) => console.error(s);
if (!smoke) mx.setDefaultDevice(mx.gpu);

const weightBytes = (model: LanguageModel) => treeFlatten<mx.Array>(model.parameters()).reduce((s, [, p]) => s + p.nbytes, 0);
const tokens = (B: number, L: number, seed: number) => mx.random.randint(0, 1000, [B, L], mx.int32, mx.random.key(seed));

/** Device memory bandwidth (bytes read + written per second) of a 1 GiB elementwise pass. */
function copyBandwidth(): number {
  const x = mx.random.uniform(0, 1, [1 << 28], mx.float32, mx.random.key(99));
  mx.eval(x);
  const times: number[] = [];
  for (let i = 0; i < 8; i++) {
    const t = performance.now();
    const y = mx.negative(x); // one read, one write
    mx.eval(y); mx.synchronize();
    if (i > 1) times.push(performance.now() - t);
    y.dispose();
  }
  x.dispose();
  return (2 * (1 << 30)) / (Math.min(...times) / 1e3);
}

async function decode(model: LanguageModel, B: number, gen: number): Promise<{ tps: number; peak: number }> {
  mx.resetPeakMemory();
  const prompt = (tokens(B, 32, 7).tolist() as number[][]);
  if (B === 1) {
    let n = 0, start = 0;
    for await (const r of streamGenerate(model, null, prompt[0], { maxTokens: gen + 1 })) {
      if (n++ === 0) start = performance.now(); // the first token ends the prefill
      void r;
    }
    return { tps: (n - 1) / ((performance.now() - start) / 1e3), peak: mx.getPeakMemory() };
  }
  const r = await batchGenerate(model, null, prompt, { maxTokens: gen });
  return { tps: r.stats.generationTps * 1, peak: mx.getPeakMemory() };
}

function prefill(model: LanguageModel, L: number): number {
  const x = tokens(1, L, 3);
  mx.eval(x);
  const times: number[] = [];
  for (let i = 0; i < 5; i++) {
    const cache = model.makeCache();
    const t = performance.now();
    const logits = model.forward(x, cache);
    mx.eval(logits); mx.synchronize();
    if (i > 0) times.push(performance.now() - t);
    mx.dispose([logits, ...cache.flatMap((c) => c.state)]);
  }
  times.sort((a, b) => a - b);
  return L / (times[times.length >> 1] / 1e3);
}

const out: Record<string, number | string> = {};
const bw = smoke ? 1e9 : copyBandwidth();
out.copyBandwidthGBs = bw / 1e9; // read + write, as a device-to-device copy counts it
{
  const model = randomModel(smoke ? TINY : LLAMA_1B);
  const bytes = weightBytes(model);
  out.llamaWeightGB = bytes / 1e9;
  // Batch-1 decode reads every weight once per token: the bound is bandwidth / weight bytes.
  out.decodeBoundTps = bw / bytes;
  if (only.has('prefill')) { out.prefill2048 = prefill(model, smoke ? 64 : 2048); log(`prefill 2048: ${(out.prefill2048 as number).toFixed(0)} tok/s`); }
  if (only.has('decode1')) { const r = await decode(model, 1, GEN); out.decode1 = r.tps; out.decode1PeakGB = r.peak / 1e9; log(`decode b=1: ${r.tps.toFixed(1)} tok/s`); }
  if (only.has('decode32')) { const r = await decode(model, 32, GEN); out.decode32 = r.tps; log(`decode b=32: ${r.tps.toFixed(1)} tok/s`); }
  if (only.has('q4')) {
    nn.quantize(model, 64, 4);
    mx.eval(model.parameters());
    out.q4WeightGB = weightBytes(model) / 1e9;
    const r = await decode(model, 1, GEN); out.decode1q4 = r.tps; log(`decode b=1 4-bit: ${r.tps.toFixed(1)} tok/s`);
  }
  mx.dispose(treeFlatten<mx.Array>(model.parameters()).map(([, p]) => p));
  mx.clearCache();
}
if (only.has('qwen3') && !smoke) {
  const model = randomModel(QWEN3_4B);
  out.qwenWeightGB = weightBytes(model) / 1e9;
  const r = await decode(model, 1, GEN); out.qwenDecode1 = r.tps; log(`qwen3-4b decode b=1: ${r.tps.toFixed(1)} tok/s`);
}
console.log(JSON.stringify(out));
