// Speculative decoding (MLX-LM's speculative_generate_step): a draft model proposes a few
// tokens, the main model scores them all in one forward pass, and the tokens it agrees with
// are accepted; both caches are then trimmed back to the accepted prefix. With greedy
// sampling the output equals the main model's alone.
import * as mx from '../core/index.js';
import type { Array } from '../core/index.js';
import { makePromptCache, type KVCache } from './cache.js';
import {
  logprobArrays, prefill, readLogprobs, stepConfig, tidyStep, toLogprobs, maybeQuantizeCache,
  type GenerateOptions, type GenerationModel, type StepConfig, type StepToken,
} from './step.js';

function trimmable(cache: KVCache[], which: string): void {
  const bad = cache.filter((c) => !c.isTrimmable());
  if (bad.length > 0)
    throw new Error(`[speculative decoding] the ${which} cache must be trimmable; got ${[...new Set(bad.map((c) => c.constructor.name))].join(', ')} (a rotating cache past its size is not)`);
}

function trim(cache: KVCache[], n: number): void {
  if (n > 0) for (const c of cache) c.trim(n);
}

/**
 * Samples one token from each of the last `count` positions of model(input). `before` holds
 * the tokens before `input`; the processors see every token up to the position they score.
 */
function scorePositions(model: GenerationModel, cache: KVCache[], input: number[], count: number, before: number[], cfg: StepConfig): { tokens: number[]; logprobs: StepToken['logprobs'][] } {
  const arrays = tidyStep([cache], () => {
    const logits = model.forward(mx.array([input], mx.int32), cache);
    const L = logits.shape[1];
    const out: Array[] = [];
    for (let i = 0; i < count; i++) {
      let row = mx.squeeze(mx.stridedSlice(logits, [null, L - count + i], [null, L - count + i + 1]), 1);
      if (cfg.processors.length > 0) {
        const h = mx.array([...before, ...input.slice(0, input.length - count + i + 1)], mx.int32);
        for (const p of cfg.processors) row = p(h, row);
      }
      const lp = toLogprobs(row);
      const t = cfg.sampler(lp);
      out.push(t, ...(cfg.wantLogprobs ? logprobArrays(lp, t, cfg.topLogprobs) : []));
    }
    return out;
  });
  maybeQuantizeCache(cache, cfg.kvBits, cfg.kvGroupSize, cfg.quantizedKvStart);
  const per = arrays.length / count;
  const tokens: number[] = [], logprobs: StepToken['logprobs'][] = [];
  for (let i = 0; i < count; i++) {
    tokens.push((arrays[i * per].tolist() as number[])[0]);
    logprobs.push(cfg.wantLogprobs ? readLogprobs(arrays.slice(i * per + 1, (i + 1) * per), 0) : undefined);
  }
  mx.dispose(arrays);
  return { tokens, logprobs };
}

/** Tokens from speculative decoding; `fromDraft` marks the accepted draft tokens. */
export function* speculativeSteps(prompt: readonly number[], model: GenerationModel, draftModel: GenerationModel, options: GenerateOptions = {}): Generator<StepToken> {
  const cfg = stepConfig(options);
  const maxTokens = options.maxTokens ?? 256;
  const numDraftTokens = options.numDraftTokens ?? 3;
  if (!Number.isInteger(numDraftTokens) || numDraftTokens < 1) throw new Error(`[speculative decoding] numDraftTokens must be a positive integer, got ${numDraftTokens}`);
  if (options.maxKvSize !== undefined) throw new Error('[speculative decoding] maxKvSize (a rotating cache) cannot be trimmed back; leave it unset with a draft model');
  const modelCache = options.promptCache ?? makePromptCache(model);
  const draftCache = makePromptCache(draftModel);
  trimmable(modelCache, 'model');
  trimmable(draftCache, 'draft model');
  const stepSize = options.prefillStepSize ?? 2048;
  // `all` is every token so far; y and draftY are its ends that each model has yet to see.
  const all = [...prompt];
  let draftY = prefill(draftModel, draftCache, [...prompt], stepSize, cfg);
  let y = prefill(model, modelCache, [...prompt], stepSize, cfg, options.promptProgress);
  const draftCfg = { ...cfg, wantLogprobs: false };
  let ntoks = 0, numDraft = 0, accepted = 0;
  try {
    while (ntoks < maxTokens) {
      numDraft = Math.min(maxTokens - ntoks, numDraftTokens);
      accepted = 0;
      // The draft proposes numDraft tokens, one at a time.
      const draft: number[] = [];
      for (let i = 0; i < numDraft; i++) {
        const input = i === 0 ? draftY : [draft[i - 1]];
        const before = i === 0 ? all.slice(0, all.length - draftY.length) : [...all, ...draft.slice(0, i - 1)];
        draft.push(scorePositions(draftModel, draftCache, input, 1, before, draftCfg).tokens[0]);
      }
      // The main model scores y and every draft token at once.
      const { tokens, logprobs } = scorePositions(model, modelCache, [...y, ...draft], numDraft + 1, all.slice(0, all.length - y.length), cfg);
      while (accepted < numDraft && tokens[accepted] === draft[accepted]) {
        ntoks++;
        all.push(draft[accepted]);
        yield { token: draft[accepted], logprobs: logprobs[accepted], fromDraft: true };
        accepted++;
        if (ntoks === maxTokens) break;
      }
      if (ntoks === maxTokens) break;
      ntoks++;
      all.push(tokens[accepted]);
      yield { token: tokens[accepted], logprobs: logprobs[accepted], fromDraft: false };
      // Rewind both caches to the accepted prefix; the new token is the next input.
      trim(modelCache, numDraft - accepted);
      trim(draftCache, Math.max(numDraft - accepted - 1, 0));
      y = [tokens[accepted]];
      // All drafts accepted: the draft model has not seen its own last token yet.
      draftY = accepted === numDraft ? [draft[numDraft - 1], tokens[accepted]] : y;
      numDraft = 0;
    }
  } finally {
    // Leave the caches holding exactly the tokens generated (a prompt cache can be reused).
    trim(modelCache, numDraft - accepted);
    trim(draftCache, Math.max(numDraft - accepted - 1, 0));
  }
}
