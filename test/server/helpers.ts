// Shared by the server tests: the shipped model loaded once, servers on port 0, raw HTTP
// requests, and a scripted model that replies with a fixed token sequence (for tool calls,
// which the tiny model was never trained to make).
import { fileURLToPath } from 'node:url';
import OpenAI from 'openai';
import * as mx from '../../src/index.js';
import { load, KVCache, type Tokenizer } from '../../src/lm/index.js';
import { serve, type Engine, type EngineStats, type LatheServer, type ServeOptions } from '../../src/lm/server/index.js';

export const TINY_LLAMA = fileURLToPath(new URL('../../models/tiny-llama', import.meta.url));
export const MODEL_ID = 'tiny-llama';
/** logit_bias that keeps the shipped model from ending (its eos ids 0 and 4): requests that must run long. */
export const NO_EOS = { 0: -100, 4: -100 };

let loaded: ReturnType<typeof load> | null = null;
/** The shipped model and tokenizer (loaded once per process). */
export function tiny(): ReturnType<typeof load> {
  return (loaded ??= load(TINY_LLAMA));
}

/** A server for the shipped model on a free port. */
export function startServer(options: Partial<ServeOptions> = {}): Promise<LatheServer> {
  return serve({ model: tiny(), modelId: MODEL_ID, port: 0, ...options });
}

export function client(server: LatheServer, apiKey = 'unused'): OpenAI {
  return new OpenAI({ baseURL: `${server.url}/v1`, apiKey, maxRetries: 0, timeout: 60_000 });
}

export interface RawResponse { status: number; headers: Headers; text: string; json: unknown }

/** A request with fetch; the body is sent as is when it is a string, else as JSON. */
export async function request(server: LatheServer, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<RawResponse> {
  const init: RequestInit = { method, headers: { 'content-type': 'application/json', ...headers } };
  if (body !== undefined) init.body = typeof body === 'string' ? body : JSON.stringify(body);
  const res = await fetch(server.url + path, init);
  const text = await res.text();
  let json: unknown = null;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return { status: res.status, headers: res.headers, text, json };
}

/**
 * Device memory back to `before`, give or take the scalar constants lathe pins on first use
 * of a value (at most 1024 of them, a few KB): nothing that grows with requests or tokens.
 */
export function assertFlat(after: number, before: number): void {
  if (Math.abs(after - before) > 8192) throw new Error(`active memory went from ${before} to ${after} bytes`);
}

/**
 * Device memory less what the engine's prompt cache holds: that store is bounded and kept on
 * purpose (memory checks account for it; test/server/prompt-cache.test.ts checks its bounds).
 */
export function heldMemory(engine: Engine): number {
  return mx.getActiveMemory() - engine.stats().promptCacheBytes;
}

/** The batch's part of the engine's stats (without the prompt cache's). */
export function batchStats(engine: Engine): Omit<EngineStats, 'promptCaches' | 'promptCacheBytes'> {
  const { promptCaches: _n, promptCacheBytes: _b, ...rest } = engine.stats();
  return rest;
}

/** Waits until `cond` holds (polling), or fails after `ms`. */
export async function waitFor(cond: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * A model whose reply is a fixed token sequence: after a prompt of `promptLength` tokens it
 * predicts script[0], script[1], ..., then `end`. It keeps a one-number KV cache per row so
 * the engine's batching (padding, merging, filtering) runs as for a real model.
 */
export class ScriptedModel {
  readonly layers = [{}];
  readonly args = { vocab_size: 1024, max_position_embeddings: 512 };
  promptLength = 0;
  constructor(public script: number[], readonly end: number) {}

  forward(inputs: mx.Array, cache?: KVCache[]): mx.Array {
    const [B, L] = inputs.shape;
    const c = cache![0];
    const offset = c.offset, pad = c.leftPadding ?? new Array<number>(B).fill(0);
    c.updateAndFetch(mx.zeros([B, 1, L, 1]), mx.zeros([B, 1, L, 1]));
    const V = this.args.vocab_size;
    const logits = new Float32Array(B * L * V).fill(-10);
    for (let b = 0; b < B; b++) for (let l = 0; l < L; l++) {
      const next = offset + l - pad[b] + 1 - this.promptLength; // index in the script of the token after this one
      const target = next >= 0 && next < this.script.length ? this.script[next] : this.end;
      logits[(b * L + l) * V + target] = 10;
    }
    return mx.reshape(mx.array(logits), [B, L, V]);
  }
}

/** The scripted model with the shipped tokenizer, as the server's `model`. */
export function scripted(text: string): { model: ScriptedModel; tokenizer: Tokenizer } {
  const { tokenizer } = tiny();
  const model = new ScriptedModel(tokenizer.encode(text, { addSpecialTokens: false }), tokenizer.tokenToId('<|end|>')!);
  return { model, tokenizer };
}
