// The table of bench/gpu/lm.sh: lathe's numbers (lm.ts) beside HF transformers' (lm_hf.py),
// with the targets of issue 7.
import { readFileSync } from 'node:fs';

type Nums = Record<string, number | string | undefined>;
const [lathe, hf] = process.argv.slice(2).map((f) => JSON.parse(readFileSync(f, 'utf8').trim().split('\n').pop()!) as Nums);
const n = (v: unknown) => (typeof v === 'number' ? v : NaN);
const f = (v: number, d = 0) => (Number.isFinite(v) ? v.toFixed(d) : 'n/a');
const rows: [string, number, string, string, string][] = [];
const bound = n(lathe.decodeBoundTps);
rows.push(['decode, batch 1 (tok/s)', n(lathe.decode1), f(n(hf.decode1), 1),
  `${f(n(lathe.decode1) / bound * 100)}% of the ${f(bound)} tok/s bound`, '≥ 70% of the bound']);
rows.push(['prefill, 1 × 2048 (tok/s)', n(lathe.prefill2048), f(n(hf.prefill2048)), `${f(n(lathe.prefill2048) / n(hf.prefill2048), 2)}x HF`, '≥ 1.2x HF']);
rows.push(['decode, batch 1, 4-bit (tok/s)', n(lathe.decode1q4), '', `${f(n(lathe.decode1q4) / n(lathe.decode1), 2)}x our bf16`, '≥ 2.5x our bf16']);
rows.push(['decode, batch 32 (tok/s)', n(lathe.decode32), f(n(hf.decode32)), `${f(n(lathe.decode32) / n(hf.decode32), 2)}x HF`, '≥ 3x HF']);
rows.push(['Qwen3-4B shape decode, batch 1 (tok/s)', n(lathe.qwenDecode1), '209 (MLX, H100, published)', `${f(n(lathe.qwenDecode1) / 209, 2)}x MLX`, 'vs MLX']);
console.log(`Llama-3.2-1B shape, random bf16 weights; ${hf.device ?? 'GPU'}; torch ${hf.torch ?? '?'}, transformers ${hf.transformers ?? '?'}; ${new Date().toISOString().slice(0, 10)}`);
console.log(`copy bandwidth ${f(n(lathe.copyBandwidthGBs))} GB/s (read + write); weights ${f(n(lathe.llamaWeightGB), 2)} GB bf16, ${f(n(lathe.q4WeightGB), 2)} GB 4-bit; decode peak ${f(n(lathe.decode1PeakGB), 2)} GB${hf.error ? `; HF: ${hf.error}` : ''}\n`);
console.log('| workload | lathe | HF transformers | ratio | target |');
console.log('| --- | ---: | ---: | --- | --- |');
for (const [name, v, ref, ratio, target] of rows) console.log(`| ${name} | ${f(v, 1)} | ${ref} | ${ratio} | ${target} |`);
