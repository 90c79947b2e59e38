// Batched generation for prompts of different lengths (MLX-LM's batch_generate): prompts are
// left-padded to one length, a cache made with that padding hides the padding from
// attention and gives each row its own positions, and every step samples one token per row.
// Rows that finish leave the batch: their cache rows are dropped, so they cost no more compute.
//
// Where generateStep would decode through the compiled step (compiled-step.ts: the GPU by
// default), the batch does too: the prompts are prefilled into a left-padded StaticKVCache,
// then each token is one compiled step over the whole batch (one CUDA graph launch). There a
// change of batch size means a new trace and a new graph, so finished rows stay in the batch
// (their tokens are ignored) until the running rows fit in half of it; then the batch shrinks
// to the smallest of B/2, B/4, ... that holds them (topped up with finished rows). A batch of
// B rows so records at most log2(B) + 1 graphs, and later batches of the same B reuse them.
import * as mx from '../core/index.js';
import type { Array } from '../core/index.js';
import type { Tokenizer } from './tokenizer.js';
import { makePromptCache, type KVCache } from './cache.js';
import { CompiledStep, compiledCacheSize } from './compiled-step.js';
import { makeStaticCache } from './static-cache.js';
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

/** The batch size to shrink a compiled batch of `size` rows to, for `running` rows still generating (size: no change). */
function compiledBatchSize(size: number, running: number): number {
  while (size >> 1 >= running && size > 1) size >>= 1;
  return size;
}

/**
 * Generates for several prompts at once. Options are streamGenerate's (the sampler,
 * processors, stop strings and limits apply to every row, and `compiled` as generateStep's)
 * except draftModel and promptCache.
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
  const staticSize = compiledCacheSize(width, model, options, 'batchGenerate', B);
  const staticCache = staticSize === null ? null : makeStaticCache(model, staticSize, { leftPadding });
  const cache: KVCache[] = staticCache ?? makePromptCache(model, options.maxKvSize ?? null, { leftPadding });
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
  // The prompt of each batch row: running, or (compiled) finished and kept until the batch shrinks.
  let rows = ids.map((_, b) => b);
  const compiled = staticCache && new CompiledStep(model, staticCache);
  const isRunning = (j: number) => finish[rows[j]] === null;

  try {
    for (let step = 0; step < maxTokens && rows.some((_, j) => isRunning(j)); step++) {
      const arrays = withMemoryContext('batchGenerate', () => `generating token ${step + 1} for ${rows.length} rows`, () => tidyStep([cache], () => {
        const x = mx.array(input, mx.int32);
        let last = compiled ? compiled.run(x) : mx.squeeze(mx.stridedSlice(model.forward(x, cache), [null, -1], [null, null]), 1); // (B, V)
        if (cfg.processors.length > 0) {
          // Each row's own history (no padding), so penalties count only its tokens.
          const split = mx.split(last, rows.length, 0).map((row, j) => {
            if (!isRunning(j)) return row;
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
        if (!isRunning(j)) continue;
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
      const running = rows.flatMap((_, j) => (isRunning(j) ? [j] : []));
      let keep = running;
      if (compiled) { // shrink only to B/2, B/4, ...: topped up with finished rows, in batch order
        const size = compiledBatchSize(rows.length, running.length);
        const filler = rows.flatMap((_, j) => (isRunning(j) ? [] : [j])).slice(0, size - running.length);
        keep = [...running, ...filler].sort((a, b) => a - b);
      }
      if (keep.length < rows.length && running.length > 0) {
        filterRows(cache, keep);
        input = keep.map((j) => [tokens[j]]);
        rows = keep.map((j) => rows[j]);
      } else input = tokens.map((t) => [t]); // finished rows' tokens only feed their ignored rows
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (options.signal?.aborted) break;
    }
  } finally {
    compiled?.dispose();
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
