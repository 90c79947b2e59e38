// `lathe bench`: prompt and generation throughput and peak memory on random token prompts
// (MLX-LM's mlx_lm.benchmark): a warmup, then N trials, then their averages.
import { parseArgs } from 'node:util';
import * as mx from '../index.js';
import { batchGenerate, loadModel, streamGenerate, type GenerateOptions, type GenerationModel } from '../lm/index.js';
import { UsageError, int, modelDir } from './args.js';

export const BENCH_HELP = `lathe bench [--model DIR] [-p 512] [-g 128] [-b 1] [-n 5] [--kv-bits 4|8]

Measures prompt processing and generation speed and peak memory on random token ids (no
tokenizer needed): a warmup run, then N timed trials and their averages, as MLX-LM's
mlx_lm.benchmark prints them.

  --model DIR|FILE.gguf     model folder or GGUF file (default: the tiny-llama that ships with lathe)
  -p, --prompt-tokens N     prompt length (default 512)
  -g, --generation-tokens N tokens generated per prompt (default 128)
  -b, --batch-size N        prompts generated together (default 1)
  -n, --num-trials N        timed trials (default 5)
  --kv-bits 4|8, --kv-group-size N   quantize the KV cache
  --prefill-step-size N     prompt tokens per forward pass (default 2048)
  --dtype D                 cast the model (float16, bfloat16, float32)
  --seed N                  seed of the random prompts (default 0)
  --json                    print the trials and averages as JSON instead`;

export interface BenchTrial { promptTps: number; generationTps: number; peakMemory: number }

/** One timed run: b random prompts of p tokens, g tokens each. */
async function trial(model: GenerationModel, prompts: number[][], g: number, options: GenerateOptions): Promise<BenchTrial> {
  mx.resetPeakMemory();
  if (prompts.length === 1) {
    let last: BenchTrial = { promptTps: 0, generationTps: 0, peakMemory: 0 };
    for await (const r of streamGenerate(model, null, prompts[0], { ...options, maxTokens: g }))
      last = { promptTps: r.promptTps, generationTps: r.generationTps, peakMemory: r.peakMemory };
    return last;
  }
  const { stats } = await batchGenerate(model, null, prompts, { ...options, maxTokens: g });
  return { promptTps: stats.promptTps, generationTps: stats.generationTps, peakMemory: stats.peakMemory };
}

const fmt = (t: BenchTrial) => `prompt_tps=${t.promptTps.toFixed(3)}, generation_tps=${t.generationTps.toFixed(3)}, peak_memory=${(t.peakMemory / 1e9).toFixed(3)}`;

export async function benchCommand(argv: string[]): Promise<void> {
  const { values: v } = parseArgs({
    args: argv,
    options: {
      model: { type: 'string' },
      'prompt-tokens': { type: 'string', short: 'p' },
      'generation-tokens': { type: 'string', short: 'g' },
      'batch-size': { type: 'string', short: 'b' },
      'num-trials': { type: 'string', short: 'n' },
      'kv-bits': { type: 'string' },
      'kv-group-size': { type: 'string' },
      'prefill-step-size': { type: 'string' },
      dtype: { type: 'string' },
      seed: { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (v.help) { process.stdout.write(BENCH_HELP + '\n'); return; }
  const p = int('prompt-tokens', v['prompt-tokens'], 1) ?? 512;
  const g = int('generation-tokens', v['generation-tokens'], 1) ?? 128;
  const b = int('batch-size', v['batch-size'], 1) ?? 1;
  const n = int('num-trials', v['num-trials'], 1) ?? 5;
  const kvBits = int('kv-bits', v['kv-bits'], 1);
  if (kvBits !== undefined && kvBits !== 4 && kvBits !== 8) throw new UsageError(`[lathe bench] --kv-bits must be 4 or 8, got ${kvBits}`);
  const options: GenerateOptions = {
    ...(kvBits !== undefined ? { kvBits, kvGroupSize: int('kv-group-size', v['kv-group-size'], 1) ?? 64 } : {}),
    ...(v['prefill-step-size'] !== undefined ? { prefillStepSize: int('prefill-step-size', v['prefill-step-size'], 1) } : {}),
  };
  const model = loadModel(modelDir(v.model), v.dtype !== undefined ? { dtype: v.dtype as mx.DTypeLike } : {});
  const vocab = Number((model.args as { vocab_size?: number }).vocab_size);
  const context = Number((model.args as { max_position_embeddings?: number }).max_position_embeddings);
  if (p > context) throw new UsageError(`[lathe bench] -p ${p} is longer than the model's context of ${context} tokens`);
  // Random ids (uniform over the vocabulary), drawn with lathe's seeded generator so runs repeat.
  const key = mx.random.key(int('seed', v.seed) ?? 0);
  const prompts = mx.random.randint(0, vocab, [b, p], 'int32', key).tolist() as number[][];
  const run = (gen: number) => trial(model, prompts, gen, options);

  const log = (s: string) => process.stdout.write(s + '\n');
  if (!v.json) log('Running warmup..');
  await run(Math.min(g, 4));
  if (!v.json) log(`Timing with prompt_tokens=${p}, generation_tokens=${g}, batch_size=${b}.`);
  const trials: BenchTrial[] = [];
  for (let i = 0; i < n; i++) {
    trials.push(await run(g));
    if (!v.json) log(`Trial ${i + 1}:  ${fmt(trials[i])}`);
  }
  const mean = (k: keyof BenchTrial) => trials.reduce((s, t) => s + t[k], 0) / trials.length;
  const avg: BenchTrial = { promptTps: mean('promptTps'), generationTps: mean('generationTps'), peakMemory: mean('peakMemory') };
  if (v.json) log(JSON.stringify({ promptTokens: p, generationTokens: g, batchSize: b, trials, averages: avg }));
  else log(`Averages: ${fmt(avg)}`);
}
