// Text generation (MLX-LM's stream_generate and generate): prompts as text, ids or chats;
// an async iterator of responses that yields to the event loop between tokens, with eos
// tokens, stop strings and maxTokens ending it.
import * as mx from '../core/index.js';
import type { ChatMessage, ChatTemplateOptions } from './chat-template.js';
import type { Tokenizer } from './tokenizer.js';
import { generateStep, type GenerateOptions, type GenerationModel, type StepToken, type TokenLogprobs } from './step.js';
import { StopStringMatcher } from './stop.js';
import { speculativeSteps } from './speculative.js';
import { isOutOfMemory, outOfMemoryError } from './oom.js';

/** A prompt: text, token ids, or chat messages (rendered with the tokenizer's chat template). */
export type Prompt = string | readonly number[] | Int32Array | readonly ChatMessage[];

export type FinishReason = 'stop' | 'length' | 'abort';

export interface GenerationResponse {
  /** The new text (may be empty while a character or a possible stop string is incomplete). */
  text: string;
  /** The token generated (on the final response: the last token, possibly the eos). */
  token: number;
  logprobs?: TokenLogprobs;
  /** Set on the last response only. */
  finishReason: FinishReason | null;
  /** Whether the draft model proposed this token (speculative decoding). */
  fromDraft: boolean;
  promptTokens: number;
  promptTps: number;
  generationTokens: number;
  generationTps: number;
  /** mx.getPeakMemory() in bytes. */
  peakMemory: number;
}

const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/** The model's context length, from its config (max_position_embeddings), if it has one. */
export function contextLength(model: GenerationModel): number | null {
  const a = model.args as Record<string, unknown> | undefined;
  const n = a?.max_position_embeddings ?? a?.maxPositionEmbeddings;
  return typeof n === 'number' && n > 0 ? n : null;
}

/** Token ids of a prompt: text is encoded (adding a BOS unless it starts with one), chats go through the template. */
export function promptTokens(tokenizer: Tokenizer | null, prompt: Prompt, chatOptions: ChatTemplateOptions = {}): number[] {
  if (typeof prompt === 'string') {
    if (!tokenizer) throw new Error('[streamGenerate] a text prompt needs a tokenizer; pass token ids to generate without one');
    const addSpecialTokens = tokenizer.bosToken === null || !prompt.startsWith(tokenizer.bosToken);
    return tokenizer.encode(prompt, { addSpecialTokens });
  }
  if (prompt instanceof Int32Array) return [...prompt];
  if (!globalThis.Array.isArray(prompt)) throw new TypeError(`[streamGenerate] the prompt must be a string, token ids or chat messages, got ${typeof prompt}`);
  if (prompt.length === 0) throw new Error('[streamGenerate] the prompt is empty');
  if (typeof prompt[0] === 'number') {
    for (const t of prompt as readonly number[]) if (!Number.isInteger(t) || t < 0) throw new Error(`[streamGenerate] token ids must be non-negative integers, got ${t}`);
    return [...(prompt as readonly number[])];
  }
  if (!tokenizer) throw new Error('[streamGenerate] chat messages need a tokenizer (for the chat template)');
  return tokenizer.applyChatTemplate(prompt as readonly ChatMessage[], { addGenerationPrompt: true, ...chatOptions });
}

/**
 * Generates text for a prompt, one response per token: `for await (const r of
 * streamGenerate(model, tokenizer, 'Call me', { maxTokens: 50 })) process.stdout.write(r.text)`.
 * The last response has a finishReason: 'stop' (an eos token or a stop string), 'length'
 * (maxTokens) or 'abort' (the signal). Without a tokenizer, prompts are token ids and
 * responses have empty text.
 */
export async function* streamGenerate(model: GenerationModel, tokenizer: Tokenizer | null, prompt: Prompt, options: GenerateOptions = {}): AsyncGenerator<GenerationResponse> {
  const maxTokens = options.maxTokens ?? 256;
  if (!Number.isInteger(maxTokens) || maxTokens < 0) throw new Error(`[streamGenerate] maxTokens must be a non-negative integer, got ${maxTokens}`);
  let ids = promptTokens(tokenizer, prompt, options.chatTemplateOptions);
  if (ids.length === 0) throw new Error('[streamGenerate] the prompt has no tokens');
  const context = contextLength(model);
  if (context !== null && ids.length > context && options.maxKvSize === undefined) {
    if (!options.truncatePrompt)
      throw new Error(`[streamGenerate] the prompt has ${ids.length} tokens, more than the model's context of ${context}; pass truncatePrompt: true to keep its last tokens, or maxKvSize for a rotating cache`);
    ids = ids.slice(ids.length - Math.max(1, context - maxTokens));
  }
  if (options.seed !== undefined) mx.random.seed(options.seed);
  const eos = new Set<number>([...(tokenizer?.eosTokenIds ?? []), ...(options.stopTokens ?? [])]);
  const detokenizer = tokenizer?.detokenizer ?? null;
  const stops = new StopStringMatcher(options.stop ?? []);

  const start = performance.now();
  let promptTps = 0, genStart = start, n = 0;
  let last: StepToken = { token: -1, fromDraft: false };
  let finish: FinishReason = 'length';
  let pending = ''; // text of the last token, held for the final response
  const response = (text: string, s: StepToken, finishReason: FinishReason | null): GenerationResponse => {
    const genSeconds = (performance.now() - genStart) / 1000;
    return {
      text, token: s.token, logprobs: s.logprobs, finishReason, fromDraft: s.fromDraft,
      promptTokens: ids.length, promptTps, generationTokens: n,
      generationTps: genSeconds > 0 ? n / genSeconds : 0, peakMemory: mx.getPeakMemory(),
    };
  };
  if (maxTokens > 0) {
    const steps = options.draftModel
      ? speculativeSteps(ids, model, options.draftModel, { ...options, maxTokens })
      : generateStep(ids, model, { ...options, maxTokens });
    try {
      for (const s of steps) {
        if (n === 0) {
          promptTps = ids.length / ((performance.now() - start) / 1000);
          genStart = performance.now();
        }
        n++;
        last = s;
        if (eos.has(s.token)) { finish = 'stop'; break; }
        detokenizer?.addToken(s.token);
        const hit = stops.push(detokenizer?.lastSegment ?? '');
        if (hit.stopped) {
          yield response(hit.text, s, 'stop');
          return;
        }
        if (n >= maxTokens) { pending = hit.text; break; }
        yield response(hit.text, s, null);
        await yieldToEventLoop();
        if (options.signal?.aborted) { finish = 'abort'; break; }
      }
    } catch (e) {
      if (!isOutOfMemory(e)) throw e;
      throw outOfMemoryError('streamGenerate', n === 0 ? `processing the prompt (${ids.length} tokens)` : `generating token ${n + 1} after a prompt of ${ids.length} tokens`, e);
    } finally {
      steps.return(undefined); // runs the generator's cleanup (speculative caches rewind)
    }
  }
  detokenizer?.finalize();
  const tail = stops.flush(detokenizer?.lastSegment ?? '');
  yield response(pending + tail.text, last, tail.stopped ? 'stop' : finish);
}

/** The whole generated text (streamGenerate's segments joined). */
export async function generate(model: GenerationModel, tokenizer: Tokenizer, prompt: Prompt, options: GenerateOptions = {}): Promise<string> {
  let text = '';
  for await (const r of streamGenerate(model, tokenizer, prompt, options)) text += r.text;
  return text;
}
