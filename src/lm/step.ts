// One generation step and what it is made of (MLX-LM's generate_step): chunked prefill into
// a KV cache, then one token per step through the logits processors and the sampler. Each
// step runs in mx.tidy keeping only the cache's arrays, and frees the cache arrays it
// replaced, so memory stays flat however long the generation.
import * as mx from '../core/index.js';
import type { Array } from '../core/index.js';
import type { ChatTemplateOptions } from './chat-template.js';
import { makeLogitsProcessors, makeSampler, type LogitsProcessor, type LogitsProcessorOptions, type Sampler, type SamplerOptions } from './sample.js';
import { cacheState, makePromptCache, maybeQuantizeKVCache, type CacheOptions, type KVCache } from './cache.js';
import { compiledSteps } from './compiled-step.js';

/**
 * What generation needs of a model: logits (B, L, V) for int ids (B, L) with a KV cache per
 * layer (every model loadModel returns; any module of this shape works).
 */
export interface GenerationModel {
  forward(inputs: Array, cache?: KVCache[]): Array;
  makeCache?(options?: CacheOptions): KVCache[];
  readonly layers: readonly unknown[];
  readonly args?: object;
}

export interface GenerateOptions extends SamplerOptions, LogitsProcessorOptions {
  /** The most tokens to generate. Default 256. */
  maxTokens?: number;
  /** Replaces the sampler made from temp/topP/minP/topK. */
  sampler?: Sampler;
  /** Replaces the processors made from logitBias and the penalties. */
  logitsProcessors?: LogitsProcessor[];
  /** Seeds mx.random before generating, so sampling repeats. */
  seed?: number;
  /** Generation stops when the text contains one of these; the stop string is not emitted. */
  stop?: readonly string[];
  /** Extra token ids that end generation (besides the tokenizer's eos ids). */
  stopTokens?: readonly number[];
  /** Report each token's log-probability. */
  logprobs?: boolean;
  /** Also report the k most likely tokens at each step (implies logprobs). */
  topLogprobs?: number;
  /** Prompt tokens per forward pass while filling the cache. Default 2048. */
  prefillStepSize?: number;
  /** A cache to fill and extend (from makePromptCache, maybe already holding a prefix). Updated in place. */
  promptCache?: KVCache[];
  /** Keep at most this many tokens in the cache (a rotating cache). */
  maxKvSize?: number;
  /** Quantize the KV cache to this many bits (4 or 8) once it holds quantizedKvStart tokens. */
  kvBits?: number;
  kvGroupSize?: number;
  quantizedKvStart?: number;
  /** A smaller model with the same tokenizer, for speculative decoding (its cache starts empty, even with a promptCache). */
  draftModel?: GenerationModel;
  /** Tokens the draft model proposes per step. Default 3. */
  numDraftTokens?: number;
  /** Chat prompts: options for the chat template (addGenerationPrompt defaults to true here). */
  chatTemplateOptions?: ChatTemplateOptions;
  /** A prompt longer than the model's context: keep its end instead of throwing. */
  truncatePrompt?: boolean;
  /** Called as the prompt is processed: (tokens done, total). */
  promptProgress?: (processed: number, total: number) => void;
  /** Stops the generation (finishReason 'abort'). */
  signal?: AbortSignal;
  /**
   * Decode through one compiled step over a static KV cache (compiled-step.ts): a CUDA graph
   * per token on the GPU. Falls back to the usual loop where the model or the cache options
   * cannot (LATHE_DEBUG=1 says why). Default: on when the default device is the GPU and the
   * cache needs at most 4096 positions; false turns it off.
   */
  compiled?: boolean;
}

export interface TokenLogprobs {
  /** The log-probability of the generated token. */
  logprob: number;
  /** The most likely tokens at this step, most likely first (with topLogprobs). */
  topLogprobs: { token: number; logprob: number }[];
}

/** One generated token with what the step computed. */
export interface StepToken {
  token: number;
  logprobs?: TokenLogprobs;
  fromDraft: boolean;
}

/**
 * Runs fn in mx.tidy keeping what it returns and every array the caches hold, then frees the
 * cache arrays that fn replaced (caches append by concatenation, leaving the old arrays
 * behind), so a step leaves nothing else allocated.
 */
export function tidyStep<T>(caches: readonly (readonly KVCache[])[], fn: () => T): T {
  const before = new Set(caches.flatMap((c) => cacheState(c)));
  const [result] = mx.tidy(() => {
    const r = fn();
    return [r, caches.map((c) => cacheState(c))] as const;
  });
  const after = new Set(caches.flatMap((c) => cacheState(c)));
  for (const a of before) if (!after.has(a)) a.dispose();
  return result;
}

/** Quantizes the cache entries holding at least quantizedKvStart tokens (kvBits), freeing the plain arrays. */
export function maybeQuantizeCache(cache: KVCache[], kvBits: number | undefined, kvGroupSize: number, quantizedKvStart: number): void {
  if (kvBits === undefined) return;
  tidyStep([cache], () => maybeQuantizeKVCache(cache, quantizedKvStart, kvGroupSize, kvBits));
}

/** Log-probabilities (B, V) of logits (B, V). */
export function toLogprobs(logits: Array): Array {
  const l = mx.astype(logits, mx.float32);
  return mx.subtract(l, mx.logsumexp(l, -1, true));
}

/** The chosen tokens' logprobs and the top-k per row, as arrays to read after the step. */
export function logprobArrays(logprobs: Array, tokens: Array, k: number): Array[] {
  const chosen = mx.squeeze(mx.takeAlongAxis(logprobs, mx.expandDims(mx.astype(tokens, mx.int32), -1), -1), -1);
  if (k <= 0) return [chosen];
  const V = logprobs.shape[logprobs.ndim - 1];
  const kk = Math.min(k, V);
  const order = mx.argsort(mx.negative(logprobs), -1);
  const top = mx.stridedSlice(order, [null, 0], [null, kk]);
  return [chosen, top, mx.takeAlongAxis(logprobs, top, -1)];
}

/** Reads logprobArrays' output for row b. */
export function readLogprobs(arrays: Array[], b: number): TokenLogprobs {
  const chosen = (arrays[0].tolist() as number[])[b];
  if (arrays.length === 1) return { logprob: chosen, topLogprobs: [] };
  const ids = (arrays[1].tolist() as number[][])[b], lps = (arrays[2].tolist() as number[][])[b];
  return { logprob: chosen, topLogprobs: ids.map((token, i) => ({ token, logprob: lps[i] })) };
}

export interface StepConfig {
  sampler: Sampler;
  processors: LogitsProcessor[];
  topLogprobs: number;
  wantLogprobs: boolean;
  kvBits?: number;
  kvGroupSize: number;
  quantizedKvStart: number;
}

export function stepConfig(options: GenerateOptions): StepConfig {
  const { temp, topP, minP, minTokensToKeep, topK } = options;
  return {
    sampler: options.sampler ?? makeSampler({ temp, topP, minP, minTokensToKeep, topK }),
    processors: options.logitsProcessors ?? makeLogitsProcessors(options),
    topLogprobs: options.topLogprobs ?? 0,
    wantLogprobs: options.logprobs === true || (options.topLogprobs ?? 0) > 0,
    kvBits: options.kvBits,
    kvGroupSize: options.kvGroupSize ?? 64,
    quantizedKvStart: options.quantizedKvStart ?? 0,
  };
}

/**
 * The next token from one sequence's last logits (1, V): the processors over the history
 * (prompt included), then the sampler; with the logprob arrays when asked (read them with readStep).
 */
export function sampleLast(last: Array, history: readonly number[], cfg: StepConfig): Array[] {
  if (cfg.processors.length > 0) {
    const h = mx.array(history as number[], mx.int32);
    for (const p of cfg.processors) last = p(h, last);
  }
  const logprobs = toLogprobs(last);
  const token = cfg.sampler(logprobs);
  return [token, ...(cfg.wantLogprobs ? logprobArrays(logprobs, token, cfg.topLogprobs) : [])];
}

/** sampleLast's arrays as a StepToken; frees them. */
export function readStep(out: Array[], cfg: StepConfig): StepToken {
  const step: StepToken = { token: (out[0].tolist() as number[])[0], fromDraft: false };
  if (cfg.wantLogprobs) step.logprobs = readLogprobs(out.slice(1), 0);
  mx.dispose(out);
  return step;
}

/** Fills the cache with all prompt tokens but the last, prefillStepSize at a time; returns the rest. */
export function prefill(model: GenerationModel, cache: KVCache[], prompt: number[], stepSize: number, cfg: Pick<StepConfig, 'kvBits' | 'kvGroupSize' | 'quantizedKvStart'>, progress?: (done: number, total: number) => void): number[] {
  if (!Number.isInteger(stepSize) || stepSize < 1) throw new Error(`[prefill] prefillStepSize must be a positive integer, got ${stepSize}`);
  let done = 0;
  const total = prompt.length;
  progress?.(0, total);
  while (total - done > 1) {
    const n = Math.min(stepSize, total - done - 1);
    const chunk = prompt.slice(done, done + n);
    tidyStep([cache], () => {
      model.forward(mx.array([chunk], mx.int32), cache);
      return null;
    });
    maybeQuantizeCache(cache, cfg.kvBits, cfg.kvGroupSize, cfg.quantizedKvStart);
    done += n;
    progress?.(done, total);
  }
  return prompt.slice(done);
}

/**
 * The token generator behind streamGenerate (MLX-LM's generate_step): prefill, then one
 * sampled token per step, forever or until maxTokens. Synchronous; streamGenerate adds the
 * awaits. The history passed to logits processors includes the prompt.
 */
export function* generateStep(prompt: readonly number[], model: GenerationModel, options: GenerateOptions = {}): Generator<StepToken> {
  const compiled = compiledSteps(prompt, model, options);
  if (compiled) return yield* compiled;
  const cfg = stepConfig(options);
  const maxTokens = options.maxTokens ?? 256;
  const cache = options.promptCache ?? makePromptCache(model, options.maxKvSize ?? null);
  const history = [...prompt];
  let input = prefill(model, cache, [...prompt], options.prefillStepSize ?? 2048, cfg, options.promptProgress);
  for (let n = 0; n !== maxTokens; n++) {
    const out = tidyStep([cache], () => {
      const logits = model.forward(mx.array([input], mx.int32), cache);
      return sampleLast(mx.squeeze(mx.stridedSlice(logits, [null, -1], [null, null]), 1), history, cfg);
    });
    maybeQuantizeCache(cache, cfg.kvBits, cfg.kvGroupSize, cfg.quantizedKvStart);
    const step = readStep(out, cfg);
    history.push(step.token);
    input = [step.token];
    yield step;
  }
}

