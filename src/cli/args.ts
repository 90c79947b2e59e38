// Flags shared by the lathe commands: the model folder (the shipped tiny model by default)
// and the sampling options, parsed with node:util's parseArgs and checked.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { GenerateOptions } from '../lm/index.js';
import { resolveModelPath } from '../lm/hub/cache.js';
import { ggufFileOf } from '../lm/gguf/load.js';

/** An error to print without a stack trace (bad flags, missing files). */
export class UsageError extends Error {}

/** The package root: the first folder above this file with lathe's package.json. */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'lathe') return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error('[lathe] cannot find the lathe package root above ' + fileURLToPath(import.meta.url));
    dir = up;
  }
}

/** The model folder: --model (a folder, or an org/name repo in the Hugging Face cache), else the small model that ships with lathe. */
export function modelDir(flag: string | undefined): string {
  if (flag !== undefined && ggufFileOf(flag)) return flag; // a GGUF file (loadModel and load read it)
  const dir = flag !== undefined ? resolveModelPath(flag, 'lathe') : join(packageRoot(), 'models', 'tiny-llama');
  if (!existsSync(join(dir, 'config.json'))) throw new UsageError(`[lathe] ${dir} is not a model folder (no config.json)${flag ? '' : '; pass --model <dir>'}`);
  return dir;
}

export function int(name: string, v: string | undefined, min = 0): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new UsageError(`[lathe] --${name} must be an integer >= ${min}, got '${v}'`);
  return n;
}

export function num(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n)) throw new UsageError(`[lathe] --${name} must be a number, got '${v}'`);
  return n;
}

/** parseArgs option specs of the sampling flags (MLX-LM's names). */
export const samplingFlags = {
  'max-tokens': { type: 'string', short: 'm' },
  temp: { type: 'string' },
  'top-p': { type: 'string' },
  'top-k': { type: 'string' },
  'min-p': { type: 'string' },
  'min-tokens-to-keep': { type: 'string' },
  seed: { type: 'string' },
  'repetition-penalty': { type: 'string' },
  'repetition-context-size': { type: 'string' },
  'presence-penalty': { type: 'string' },
  'frequency-penalty': { type: 'string' },
  stop: { type: 'string', multiple: true },
  'max-kv-size': { type: 'string' },
  'kv-bits': { type: 'string' },
  'kv-group-size': { type: 'string' },
  'quantized-kv-start': { type: 'string' },
  'prefill-step-size': { type: 'string' },
} as const;

export type SamplingValues = { [K in keyof typeof samplingFlags]?: (typeof samplingFlags)[K] extends { multiple: true } ? string[] : string };

/** GenerateOptions from the sampling flags. */
export function generateOptions(v: SamplingValues, defaultMaxTokens: number): GenerateOptions {
  const kvBits = int('kv-bits', v['kv-bits'], 1);
  if (kvBits !== undefined && kvBits !== 4 && kvBits !== 8) throw new UsageError(`[lathe] --kv-bits must be 4 or 8, got ${kvBits}`);
  const o: GenerateOptions = {
    maxTokens: int('max-tokens', v['max-tokens']) ?? defaultMaxTokens,
    temp: num('temp', v.temp),
    topP: num('top-p', v['top-p']),
    topK: int('top-k', v['top-k']),
    minP: num('min-p', v['min-p']),
    minTokensToKeep: int('min-tokens-to-keep', v['min-tokens-to-keep'], 1),
    seed: int('seed', v.seed),
    repetitionPenalty: num('repetition-penalty', v['repetition-penalty']),
    repetitionContextSize: int('repetition-context-size', v['repetition-context-size'], 1),
    presencePenalty: num('presence-penalty', v['presence-penalty']),
    frequencyPenalty: num('frequency-penalty', v['frequency-penalty']),
    stop: v.stop,
    maxKvSize: int('max-kv-size', v['max-kv-size'], 1),
    kvBits,
    kvGroupSize: int('kv-group-size', v['kv-group-size'], 1),
    quantizedKvStart: int('quantized-kv-start', v['quantized-kv-start']),
    prefillStepSize: int('prefill-step-size', v['prefill-step-size'], 1),
  };
  // Unset flags stay unset, so the library's defaults apply.
  for (const k of Object.keys(o) as (keyof GenerateOptions)[]) if (o[k] === undefined) delete o[k];
  return o;
}

export const SAMPLING_HELP = `Sampling:
  -m, --max-tokens N        tokens to generate at most
  --temp T                  temperature (0: greedy, the default)
  --top-p P, --top-k K, --min-p P, --min-tokens-to-keep N
  --seed N                  seed the sampler (repeatable output)
  --repetition-penalty R, --repetition-context-size N
  --presence-penalty P, --frequency-penalty P
  --stop TEXT               stop when the output contains TEXT (repeatable)
Cache:
  --max-kv-size N           keep at most N tokens in the KV cache (rotating)
  --kv-bits 4|8, --kv-group-size N, --quantized-kv-start N
  --prefill-step-size N     prompt tokens per forward pass`;
