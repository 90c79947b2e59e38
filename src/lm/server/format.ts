// Response objects shaped as OpenAI's: chat completions and their chunks, text completions,
// and the two log-probability layouts (chat: content[{token, logprob, bytes, top_logprobs}];
// completions: tokens / token_logprobs / top_logprobs / text_offset).
import { randomBytes } from 'node:crypto';
import type { Tokenizer } from '../tokenizer.js';
import type { ToolCall } from '../tool-calls.js';
import type { TokenInfo } from './engine.js';

export const SYSTEM_FINGERPRINT = 'fp_lathe';

export const newId = (prefix: string): string => `${prefix}-${randomBytes(12).toString('hex')}`;
export const now = (): number => Math.floor(Date.now() / 1000);

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  /** cached_tokens: prompt tokens whose keys and values came from the prompt cache. */
  prompt_tokens_details: { cached_tokens: number };
}
export const usage = (prompt: number, completion: number, cached: number): Usage =>
  ({ prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion, prompt_tokens_details: { cached_tokens: cached } });


export interface ChatLogprob { token: string; logprob: number; bytes: number[] | null; top_logprobs: { token: string; logprob: number; bytes: number[] | null }[] }

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** A token as OpenAI shows it: its text, or `bytes:\xNN...` when its bytes are not whole UTF-8 characters. */
export class TokenText {
  private readonly memo = new Map<number, { text: string; bytes: number[] | null }>();
  constructor(private readonly tokenizer: Tokenizer | null) {}

  get(id: number): { text: string; bytes: number[] | null } {
    let v = this.memo.get(id);
    if (v) return v;
    if (!this.tokenizer) v = { text: `token:${id}`, bytes: null };
    else {
      let bytes: Uint8Array | null = null;
      try { bytes = this.tokenizer.tokenBytes(id); } catch { /* not a byte tokenizer */ }
      if (!bytes) {
        const text = this.tokenizer.decode([id]);
        v = { text, bytes: [...new TextEncoder().encode(text)] };
      } else {
        let text: string;
        try { text = strictUtf8.decode(bytes); } catch { text = 'bytes:' + [...bytes].map((b) => `\\x${b.toString(16).padStart(2, '0')}`).join(''); }
        v = { text, bytes: [...bytes] };
      }
    }
    this.memo.set(id, v);
    return v;
  }

  chat(t: TokenInfo): ChatLogprob {
    const me = this.get(t.id);
    return {
      token: me.text, logprob: t.logprob ?? 0, bytes: me.bytes,
      top_logprobs: t.top.map((x) => { const o = this.get(x.id); return { token: o.text, logprob: x.logprob, bytes: o.bytes }; }),
    };
  }
}

/** Completions' log-probabilities for a run of tokens, text offsets counted from `offset`. */
export function completionLogprobs(tt: TokenText, tokens: readonly TokenInfo[], offset: number, withTop: boolean) {
  const out = { tokens: [] as string[], token_logprobs: [] as number[], top_logprobs: withTop ? [] as Record<string, number>[] : null, text_offset: [] as number[] };
  let at = offset;
  for (const t of tokens) {
    const text = tt.get(t.id).text;
    out.tokens.push(text);
    out.token_logprobs.push(t.logprob ?? 0);
    out.text_offset.push(at);
    at += text.length;
    if (out.top_logprobs) {
      const top: Record<string, number> = {};
      for (const x of t.top) top[tt.get(x.id).text] ??= x.logprob;
      out.top_logprobs.push(top);
    }
  }
  return out;
}

export interface ChatChoiceResult {
  index: number;
  /** null: only tool calls. */
  text: string | null;
  toolCalls: ToolCall[] | null;
  finishReason: string;
  logprobs: ChatLogprob[] | null;
}

export function chatCompletion(id: string, created: number, model: string, choices: ChatChoiceResult[], u: Usage) {
  return {
    id, object: 'chat.completion', created, model, system_fingerprint: SYSTEM_FINGERPRINT,
    choices: choices.map((c) => ({
      index: c.index,
      message: { role: 'assistant', content: c.text, refusal: null, ...(c.toolCalls ? { tool_calls: c.toolCalls } : {}) },
      logprobs: c.logprobs ? { content: c.logprobs, refusal: null } : null,
      finish_reason: c.finishReason,
    })),
    usage: u,
  };
}

export interface ChatDelta { role?: 'assistant'; content?: string | null; tool_calls?: (ToolCall & { index: number })[]; refusal?: null }

export function chatChunk(id: string, created: number, model: string, index: number, delta: ChatDelta, finishReason: string | null, logprobs: ChatLogprob[] | null, withUsage: boolean) {
  return {
    id, object: 'chat.completion.chunk', created, model, system_fingerprint: SYSTEM_FINGERPRINT,
    choices: [{ index, delta, logprobs: logprobs ? { content: logprobs, refusal: null } : null, finish_reason: finishReason }],
    ...(withUsage ? { usage: null } : {}),
  };
}

/** The last chunk of a stream with stream_options.include_usage: no choices, the usage. */
export function usageChunk(object: 'chat.completion.chunk' | 'text_completion', id: string, created: number, model: string, u: Usage) {
  return { id, object, created, model, system_fingerprint: SYSTEM_FINGERPRINT, choices: [], usage: u };
}

export function completionChoice(index: number, text: string, logprobs: ReturnType<typeof completionLogprobs> | null, finishReason: string | null) {
  return { index, text, logprobs, finish_reason: finishReason };
}

export function textCompletion(id: string, created: number, model: string, choices: ReturnType<typeof completionChoice>[], u: Usage | null) {
  return { id, object: 'text_completion', created, model, system_fingerprint: SYSTEM_FINGERPRINT, choices, ...(u ? { usage: u } : {}) };
}
