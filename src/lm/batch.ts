// Batched generation for prompts of different lengths (MLX-LM's batch_generate): prompts are
// left-padded to one length, a cache made with that padding hides the padding from
// attention and gives each row its own positions, and every step samples one token per row.
// Rows that finish leave the batch: their cache rows are dropped, so they cost no more compute.
import * as mx from '../core/index.js';
import type { Array } from '../core/index.js';
import type { Tokenizer } from './tokenizer.js';
import { makePromptCache, type KVCache } from './cache.js';
import { StopStringMatcher } from './stop.js';
import { logprobArrays, maybeQuantizeCache, readLogprobs, stepConfig, tidyStep, toLogprobs, type GenerateOptions, type GenerationModel, type TokenLogprobs } from './step.js';
import { promptTokens, type FinishReason, type Prompt } from './generate.js';
import { withMemoryContext } from './oom.js';

/** Keeps only the batch rows `keep` (positions in the batch) of every cache entry, freeing the rest. */
function filterRows(cache: KVCache[], keep: number[]): void {
  tidyStep([cache], () => {
    const idx = mx.array(keep, mx.int32);
    for (const c of cache) {
      const offset = c.offset;
      c.state = c.state.map((a) => mx.take(a, idx, 0));
      c.offset = offset;
      if (c.leftPadding) c.leftPadding = keep.map((j) => c.leftPadding![j]);
    }
    return null;
  });
}

export interface BatchResponse {
  /** The generated text of each prompt. */
  texts: string[];
  /** The generated tokens of each prompt (without the eos that ended it). */
  tokens: number[][];
  finishReasons: FinishReason[];
  /** Per prompt, per token (with options.logprobs / topLogprobs). */
  logprobs?: TokenLogprobs[][];
  stats: { promptTokens: number; promptTps: number; generationTokens: number; generationTps: number; peakMemory: number };
}

/**
 * Generates for several prompts at once. Options are streamGenerate's (the sampler,
 * processors, stop strings and limits apply to every row) except draftModel and promptCache.
 */
export async function batchGenerate(model: GenerationModel, tokenizer: Tokenizer | null, prompts: readonly Prompt[], options: GenerateOptions = {}): Promise<BatchResponse> {
  if (!globalThis.Array.isArray(prompts) || prompts.length === 0) throw new Error('[batchGenerate] expected a non-empty list of prompts');
  if (options.draftModel) throw new Error('[batchGenerate] speculative decoding (draftModel) works one prompt at a time: use streamGenerate');
  if (options.promptCache) throw new Error('[batchGenerate] promptCache is not supported for batches (each call makes its own padded cache)');
  const maxTokens = options.maxTokens ?? 256;
  if (!Number.isInteger(maxTokens) || maxTokens < 0) throw new Error(`[batchGenerate] maxTokens must be a non-negative integer, got ${maxTokens}`);
  const ids = prompts.map((p) => promptTokens(tokenizer, p, options.chatTemplateOptions));
  ids.forEach((p, i) => { if (p.length === 0) throw new Error(`[batchGenerate] prompt ${i} has no tokens`); });
  if (options.seed !== undefined) mx.random.seed(options.seed);
  const cfg = stepConfig(options);
  const B = ids.length;
  const width = Math.max(...ids.map((p) => p.length));
  const leftPadding = ids.map((p) => width - p.length);
  const padId = 0; // any id: padded columns are masked out
  const cache = makePromptCache(model, options.maxKvSize ?? null, { leftPadding });
  const eos = new Set<number>([...(tokenizer?.eosTokenIds ?? []), ...(options.stopTokens ?? [])]);

  const start = performance.now();
  // Prefill every column but the last, in chunks.
  const padded = ids.map((p, b) => [...globalThis.Array<number>(leftPadding[b]).fill(padId), ...p]);
  const stepSize = options.prefillStepSize ?? 2048;
  let done = 0;
  options.promptProgress?.(0, width);
  while (width - done > 1) {
    const n = Math.min(stepSize, width - done - 1);
    withMemoryContext('batchGenerate', () => `processing the prompts (${B} rows of up to ${width} tokens)`, () => tidyStep([cache], () => {
      model.forward(mx.array(padded.map((row) => row.slice(done, done + n)), mx.int32), cache);
      return null;
    }));
    maybeQuantizeCache(cache, cfg.kvBits, cfg.kvGroupSize, cfg.quantizedKvStart);
    done += n;
    options.promptProgress?.(done, width);
  }

  const history = ids.map((p) => [...p]);
  const out: number[][] = ids.map(() => []);
  const lps: TokenLogprobs[][] = ids.map(() => []);
  const finish: (FinishReason | null)[] = ids.map(() => null);
  const detok = ids.map(() => tokenizer?.detokenizer ?? null);
  const stops = ids.map(() => new StopStringMatcher(options.stop ?? []));
  const texts = ids.map(() => '');
  const cutByStop = ids.map(() => false);
  let input: number[][] = padded.map((row) => row.slice(done));
  let promptTps = 0, genStart = start, generated = 0;
  let rows = ids.map((_, b) => b); // the prompt of each batch row still running

  for (let step = 0; step < maxTokens && rows.length > 0; step++) {
    const arrays = withMemoryContext('batchGenerate', () => `generating token ${step + 1} for ${rows.length} rows`, () => tidyStep([cache], () => {
      const logits = model.forward(mx.array(input, mx.int32), cache);
      let last = mx.squeeze(mx.stridedSlice(logits, [null, -1], [null, null]), 1); // (B, V)
      if (cfg.processors.length > 0) {
        // Each row's own history (no padding), so penalties count only its tokens.
        const split = mx.split(last, rows.length, 0).map((row, j) => {
          const h = mx.array(history[rows[j]], mx.int32);
          for (const p of cfg.processors) row = p(h, row);
          return row;
        });
        last = mx.concatenate(split, 0);
      }
      const logprobs = toLogprobs(last);
      const tokens = cfg.sampler(logprobs);
      return [tokens, ...(cfg.wantLogprobs ? logprobArrays(logprobs, tokens, cfg.topLogprobs) : [])] as Array[];
    }));
    maybeQuantizeCache(cache, cfg.kvBits, cfg.kvGroupSize, cfg.quantizedKvStart);
    if (step === 0) {
      promptTps = ids.reduce((n, p) => n + p.length, 0) / ((performance.now() - start) / 1000);
      genStart = performance.now();
    }
    const tokens = arrays[0].tolist() as number[];
    for (let j = 0; j < rows.length; j++) {
      const b = rows[j], t = tokens[j];
      generated++;
      if (eos.has(t)) { finish[b] = 'stop'; continue; }
      out[b].push(t);
      history[b].push(t);
      if (cfg.wantLogprobs) lps[b].push(readLogprobs(arrays.slice(1), j));
      const d = detok[b];
      d?.addToken(t);
      const hit = stops[b].push(d?.lastSegment ?? '');
      texts[b] += hit.text;
      if (hit.stopped) { finish[b] = 'stop'; cutByStop[b] = true; }
      else if (out[b].length >= maxTokens) finish[b] = 'length';
    }
    mx.dispose(arrays);
    const running = rows.flatMap((b, j) => (finish[b] === null ? [j] : []));
    if (running.length < rows.length && running.length > 0) filterRows(cache, running);
    input = running.map((j) => [tokens[j]]);
    rows = running.map((j) => rows[j]);
    await new Promise<void>((resolve) => setImmediate(resolve));
    if (options.signal?.aborted) break;
  }
  for (let b = 0; b < B; b++) {
    if (finish[b] === null) finish[b] = options.signal?.aborted ? 'abort' : 'length';
    const d = detok[b];
    if (d && !cutByStop[b]) { // flush what the detokenizer and the stop matcher held back
      d.finalize();
      const tail = stops[b].flush(d.lastSegment);
      texts[b] += tail.text;
      if (tail.stopped) finish[b] = 'stop';
    }
  }
  mx.dispose(cache.flatMap((c) => c.state));
  const seconds = (performance.now() - genStart) / 1000;
  return {
    texts, tokens: out, finishReasons: finish as FinishReason[], ...(cfg.wantLogprobs ? { logprobs: lps } : {}),
    stats: {
      promptTokens: ids.reduce((n, p) => n + p.length, 0), promptTps, generationTokens: generated,
      generationTps: seconds > 0 ? generated / seconds : 0, peakMemory: mx.getPeakMemory(),
    },
  };
}
