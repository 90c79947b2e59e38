// The OpenAI-compatible HTTP server on node:http: routes, API key, CORS, body limits, and the
// two completion endpoints (streaming as server-sent events or one JSON answer), all served
// by one continuous-batching Engine. A bad request is a 4xx in OpenAI's error format; an
// error inside generation is a 500 (or an SSE error event) for that request only.
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { timingSafeEqual } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { basename, resolve } from 'node:path';
import type { ChatMessage } from '../chat-template.js';
import { contextLength } from '../generate.js';
import type { GenerationModel } from '../step.js';
import type { Tokenizer } from '../tokenizer.js';
import { Engine, EngineError, type GenerationJob, type JobHandle, type SequenceParams, type TokenInfo } from './engine.js';
import { ApiError, badParam } from './errors.js';
import {
  TokenText, chatChunk, chatCompletion, completionChoice, completionLogprobs, newId, now, textCompletion, usage, usageChunk,
  type ChatChoiceResult, type ChatLogprob,
} from './format.js';
import { responseFormatConstraint, toolFamily } from './structured.js';
import { ToolCallStream, parseToolCalls, type ToolCallFamily } from '../tool-calls.js';
import { parseChatRequest, parseCompletionRequest, type ChatRequest, type CompletionRequest, type SamplingFields } from './validate.js';

export interface LoadedModel {
  model: GenerationModel;
  tokenizer: Tokenizer | null;
}

export interface ServerOptions {
  /** The model: a loaded { model, tokenizer } (load the folder with lm's `load`). */
  model: LoadedModel;
  /** The id clients name in `model` (and /v1/models lists). Default 'lathe'. */
  modelId?: string;
  /** Other names accepted for the model (a folder path, say). */
  modelAliases?: readonly string[];
  /** Requests must carry `Authorization: Bearer <apiKey>`. Default: none needed. */
  apiKey?: string | null;
  /** Rows (sequences) decoded at once. Default 8. */
  maxConcurrency?: number;
  /** Requests that may wait for a row; more get 429. Default 64. */
  maxQueue?: number;
  /** Access-Control-Allow-Origin: '*', an origin, or a comma-separated list; null: no CORS headers. Default '*'. */
  corsOrigin?: string | null;
  /** Largest request body in bytes (413 beyond). Default 4 MiB. */
  maxBodyBytes?: number;
  /** Prompt tokens per prefill chunk. Default 512. */
  prefillStepSize?: number;
  /** Finished sequences' KV caches kept for later prompts to reuse (MLX-LM's --prompt-cache-size). Default 10; 0: no reuse. */
  promptCacheSize?: number;
  /** The most bytes those caches hold (MLX-LM's --prompt-cache-bytes). Default: no limit but the count; 0: no reuse. */
  promptCacheBytes?: number;
  /**
   * Batch-invariant matrix products on the CPU (LATHE_BATCH_INVARIANT=1), so a greedy request
   * returns the same text alone or among others. Default true.
   */
  batchInvariant?: boolean;
  /** How long close() lets running requests finish before cancelling them. Default 30 s. */
  shutdownGraceMs?: number;
  /** response_format: the longest run of whitespace allowed between JSON tokens. Default 16. */
  jsonMaxWhitespace?: number;
  /** One line per request (method, path, status, ms). Default: none. */
  log?: ((line: string) => void) | null;
}

const ROUTES: Record<string, string[]> = {
  '/health': ['GET'],
  '/v1/models': ['GET'],
  '/v1/chat/completions': ['POST'],
  '/v1/completions': ['POST'],
};

/** A running server: `url`, the `engine` (stats), `close()`. */
export class LatheServer {
  readonly engine: Engine;
  readonly http: Server;
  readonly modelId: string;
  url = '';
  private readonly options: Required<Omit<ServerOptions, 'model' | 'modelId' | 'modelAliases' | 'log'>> & { log: ((line: string) => void) | null };
  private readonly names: Set<string>;
  private readonly tokenText: TokenText;
  private readonly toolFamily: ToolCallFamily;
  private readonly created = now();
  private closing: Promise<void> | null = null;

  constructor(private readonly loaded: LoadedModel, options: Omit<ServerOptions, 'model'> = {}) {
    this.options = {
      apiKey: options.apiKey ?? null,
      maxConcurrency: options.maxConcurrency ?? 8,
      maxQueue: options.maxQueue ?? 64,
      corsOrigin: options.corsOrigin === undefined ? '*' : options.corsOrigin,
      maxBodyBytes: options.maxBodyBytes ?? 4 * 2 ** 20,
      prefillStepSize: options.prefillStepSize ?? 512,
      promptCacheSize: options.promptCacheSize ?? 10,
      promptCacheBytes: options.promptCacheBytes ?? Infinity,
      batchInvariant: options.batchInvariant ?? true,
      shutdownGraceMs: options.shutdownGraceMs ?? 30_000,
      jsonMaxWhitespace: options.jsonMaxWhitespace ?? 16,
      log: options.log ?? null,
    };
    if (!Number.isInteger(this.options.maxBodyBytes) || this.options.maxBodyBytes < 1) throw new Error(`[serve] maxBodyBytes must be a positive integer, got ${this.options.maxBodyBytes}`);
    this.modelId = options.modelId ?? 'lathe';
    this.names = new Set([this.modelId, ...(options.modelAliases ?? [])]);
    if (this.options.batchInvariant) batchInvariance.acquire();
    this.engine = new Engine(loaded.model, loaded.tokenizer, {
      maxConcurrency: this.options.maxConcurrency, maxQueue: this.options.maxQueue, prefillStepSize: this.options.prefillStepSize,
      promptCacheSize: this.options.promptCacheSize, promptCacheBytes: this.options.promptCacheBytes,
    });
    this.tokenText = new TokenText(loaded.tokenizer);
    this.toolFamily = toolFamily(loaded.tokenizer);
    this.http = createHttpServer((req, res) => { void this.handle(req, res); });
  }

  /** Starts listening (port 0: any free port); resolves with the base URL (`http://host:port`). */
  listen(port = 8080, host = '127.0.0.1'): Promise<string> {
    return new Promise((resolvePromise, reject) => {
      this.http.once('error', reject);
      this.http.listen(port, host, () => {
        this.http.off('error', reject);
        const a = this.http.address() as AddressInfo;
        const h = a.family === 'IPv6' ? `[${a.address}]` : a.address;
        this.url = `http://${h}:${a.port}`;
        resolvePromise(this.url);
      });
    });
  }

  /**
   * Stops accepting connections, lets running requests finish (cancelling them after
   * `graceMs`), frees the engine's caches, and closes idle connections.
   */
  close(graceMs = this.options.shutdownGraceMs): Promise<void> {
    this.closing ??= (async () => {
      const closed = new Promise<void>((r) => this.http.close(() => r()));
      await this.engine.close(graceMs);
      this.http.closeIdleConnections();
      const force = setTimeout(() => this.http.closeAllConnections(), 1000);
      force.unref();
      await closed;
      clearTimeout(force);
      if (this.options.batchInvariant) batchInvariance.release();
    })();
    return this.closing;
  }

  // ---------------------------------------------------------------- plumbing

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const start = performance.now();
    res.on('finish', () => this.options.log?.(`${req.method} ${req.url} ${res.statusCode} ${(performance.now() - start).toFixed(0)}ms`));
    try {
      this.cors(req, res);
      const path = (req.url ?? '/').split('?')[0].replace(/\/+$/, '') || '/';
      const methods = ROUTES[path];
      if (req.method === 'OPTIONS') {
        res.writeHead(204, { Allow: [...(methods ?? ['GET', 'POST']), 'OPTIONS'].join(', ') }).end();
        return;
      }
      if (!methods) throw new ApiError(404, `Unknown route: ${req.method} ${path} (routes: ${Object.keys(ROUTES).join(', ')})`, null, 'not_found');
      if (!methods.includes(req.method ?? '')) {
        res.setHeader('Allow', [...methods, 'OPTIONS'].join(', '));
        throw new ApiError(405, `Method ${req.method} is not allowed on ${path} (allowed: ${methods.join(', ')})`, null, 'method_not_allowed');
      }
      if (path === '/health') { this.json(res, 200, { status: 'ok', ...this.engine.stats() }); return; }
      this.authorize(req);
      if (path === '/v1/models') { this.json(res, 200, { object: 'list', data: [this.modelObject()] }); return; }
      const body = await this.readJson(req);
      if (path === '/v1/chat/completions') await this.chat(parseChatRequest(body, this.options.maxConcurrency), req, res);
      else await this.completions(parseCompletionRequest(body, this.options.maxConcurrency), req, res);
    } catch (e) {
      this.fail(res, e);
    }
  }

  private modelObject() {
    return { id: this.modelId, object: 'model', created: this.created, owned_by: 'lathe' };
  }

  private cors(req: IncomingMessage, res: ServerResponse): void {
    const allowed = this.options.corsOrigin;
    if (!allowed) return;
    const origin = req.headers.origin;
    if (allowed === '*') res.setHeader('Access-Control-Allow-Origin', '*');
    else {
      const list = allowed.split(',').map((s) => s.trim());
      res.setHeader('Vary', 'Origin');
      if (origin && list.includes(origin)) res.setHeader('Access-Control-Allow-Origin', origin);
    }
    if (req.method === 'OPTIONS') {
      res.setHeader('Access-Control-Allow-Methods', 'GET, POST, OPTIONS');
      res.setHeader('Access-Control-Allow-Headers', req.headers['access-control-request-headers'] ?? 'Authorization, Content-Type');
      res.setHeader('Access-Control-Max-Age', '600');
    }
  }

  private authorize(req: IncomingMessage): void {
    const key = this.options.apiKey;
    if (!key) return;
    const header = req.headers.authorization;
    if (!header) throw new ApiError(401, "You didn't provide an API key. Send it as 'Authorization: Bearer <key>'.", null, 'invalid_api_key');
    const m = /^Bearer\s+(.+)$/i.exec(header);
    const given = Buffer.from(m ? m[1].trim() : '');
    const want = Buffer.from(key);
    if (given.length !== want.length || !timingSafeEqual(given, want)) throw new ApiError(401, 'Incorrect API key provided.', null, 'invalid_api_key');
  }

  private readJson(req: IncomingMessage): Promise<unknown> {
    const limit = this.options.maxBodyBytes;
    const tooLarge = () => new ApiError(413, `The request body is larger than the server's limit of ${limit} bytes`, null, 'request_too_large');
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) return Promise.reject(tooLarge());
    return new Promise((resolvePromise, reject) => {
      const chunks: Buffer[] = [];
      let size = 0, failed = false;
      req.on('data', (c: Buffer) => {
        if (failed) return;
        size += c.length;
        if (size > limit) { failed = true; reject(tooLarge()); return; }
        chunks.push(c);
      });
      req.on('error', (e) => { if (!failed) { failed = true; reject(e); } });
      req.on('end', () => {
        if (failed) return;
        const text = Buffer.concat(chunks).toString('utf8');
        if (text.trim() === '') { reject(new ApiError(400, 'The request body is empty; expected a JSON object', null, 'invalid_json')); return; }
        try {
          resolvePromise(JSON.parse(text));
        } catch (e) {
          reject(new ApiError(400, `The request body is not valid JSON: ${(e as Error).message}`, null, 'invalid_json'));
        }
      });
    });
  }

  private json(res: ServerResponse, status: number, body: unknown): void {
    if (res.writableEnded || res.destroyed) return; // the client went away
    const text = JSON.stringify(body);
    res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) }).end(text);
  }

  /** The error answer: a JSON error if nothing was sent yet, else an SSE error event. */
  private fail(res: ServerResponse, e: unknown): void {
    const err = toApiError(e);
    if (err.status >= 500) this.options.log?.(`error: ${(e as Error)?.stack ?? String(e)}`);
    if (res.writableEnded || res.destroyed) return;
    if (res.headersSent) {
      res.end(`data: ${JSON.stringify(err.body)}\n\n`);
      return;
    }
    if (err.status === 413) res.setHeader('Connection', 'close'); // the rest of the body is not read
    if (err.status === 429) res.setHeader('Retry-After', '1');
    this.json(res, err.status, err.body);
  }

  private checkModel(model: string): void {
    if (!this.names.has(model)) throw new ApiError(404, `The model '${model}' does not exist; this server serves '${this.modelId}'`, 'model', 'model_not_found');
  }

  /** max_tokens checked against the context the prompt leaves (default: all of it). */
  private maxTokens(requested: number | null, promptLength: number, promptParam: string, param = 'max_tokens'): number {
    const context = contextLength(this.loaded.model);
    if (context === null) return requested ?? 4096;
    if (promptLength >= context)
      throw new ApiError(400, `This model's maximum context length is ${context} tokens, but the prompt has ${promptLength} tokens`, promptParam, 'context_length_exceeded');
    const room = context - promptLength;
    if (requested === null) return room;
    if (requested > room)
      throw new ApiError(400, `This model's maximum context length is ${context} tokens. However, you requested ${promptLength + requested} tokens (${promptLength} in the prompt, ${requested} in the completion). Reduce the prompt or ${param}.`, param, 'context_length_exceeded');
    return requested;
  }

  private vocabSize(): number {
    const args = this.loaded.model.args as { vocab_size?: number } | undefined;
    return args?.vocab_size ?? this.loaded.tokenizer?.vocabSize ?? Infinity;
  }

  private sequenceParams(r: SamplingFields, maxTokens: number, logprobs: boolean, topLogprobs: number): SequenceParams {
    if (r.logitBias) {
      const V = this.vocabSize();
      for (const id of Object.keys(r.logitBias).map(Number)) if (id >= V) throw badParam('logit_bias', `'logit_bias' names token ${id}, but the vocabulary has ${V} tokens`);
    }
    return {
      temp: r.temperature, topP: r.topP, topK: r.topK, minP: r.minP, seed: r.seed,
      maxTokens, stop: r.stop, logprobs, topLogprobs,
      logitBias: r.logitBias, repetitionPenalty: r.repetitionPenalty, repetitionContextSize: r.repetitionContextSize,
      presencePenalty: r.presencePenalty, frequencyPenalty: r.frequencyPenalty,
      constraint: responseFormatConstraint(this.loaded.tokenizer, r.responseFormat, { maxWhitespace: this.options.jsonMaxWhitespace }),
    };
  }

  /** Submits jobs (all or none: a refused one cancels the others) and cancels them if the client goes away. */
  private submit(jobs: GenerationJob[], res: ServerResponse): JobHandle[] {
    const handles: JobHandle[] = [];
    try {
      for (const j of jobs) handles.push(this.engine.submit(j));
    } catch (e) {
      for (const h of handles) h.cancel();
      throw e;
    }
    res.on('close', () => { for (const h of handles) h.cancel(); });
    return handles;
  }

  private startStream(res: ServerResponse): void {
    res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache', Connection: 'keep-alive', 'X-Accel-Buffering': 'no' });
  }

  private send(res: ServerResponse, data: unknown): void {
    if (!res.writableEnded && !res.destroyed) res.write(`data: ${JSON.stringify(data)}\n\n`);
  }

  private endStream(res: ServerResponse): void {
    if (!res.writableEnded && !res.destroyed) res.end('data: [DONE]\n\n');
  }

  // ---------------------------------------------------------------- /v1/chat/completions

  private async chat(r: ChatRequest, _req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.checkModel(r.model);
    const tk = this.loaded.tokenizer;
    if (!tk) throw new ApiError(400, 'This model has no tokenizer, so it cannot take chat messages; use /v1/completions with token ids', 'messages');
    if (!tk.hasChatTemplate) throw new ApiError(400, 'This model has no chat template; use /v1/completions', 'messages');
    const useTools = r.tools !== null && r.toolChoice !== 'none';
    let prompt: number[];
    try {
      prompt = tk.applyChatTemplate(r.messages as ChatMessage[], { addGenerationPrompt: true, tools: useTools ? r.tools : null });
    } catch (e) {
      throw badParam('messages', `The chat template cannot render these messages: ${(e as Error).message}`);
    }
    const maxTokens = this.maxTokens(r.maxTokens, prompt.length, 'messages', r.maxTokensParam);
    const params = this.sequenceParams(r, maxTokens, r.logprobs, r.topLogprobs);
    const [handle] = this.submit([{ prompt, n: r.n, params }], res);
    const id = newId('chatcmpl'), created = now();
    const parse = useTools;

    if (!r.stream) {
      const texts = new globalThis.Array<string>(r.n).fill(''), reasons = new globalThis.Array<string>(r.n).fill('length');
      const lps: ChatLogprob[][] = texts.map(() => []);
      for await (const e of handle) {
        if (e.type === 'delta') { texts[e.choice] += e.text; if (r.logprobs) lps[e.choice].push(...e.tokens.map((t) => this.tokenText.chat(t))); }
        else reasons[e.choice] = e.reason;
      }
      const choices: ChatChoiceResult[] = texts.map((text, i) => {
        let toolCalls = null, content: string | null = text, finishReason = reasons[i];
        if (parse) {
          const p = parseToolCalls(text, this.toolFamily);
          if (p.toolCalls.length > 0) { toolCalls = p.toolCalls; content = p.content; finishReason = 'tool_calls'; }
        }
        return { index: i, text: content, toolCalls, finishReason, logprobs: r.logprobs ? lps[i] : null };
      });
      this.json(res, 200, chatCompletion(id, created, r.model, choices, usage(handle.promptTokens, sum(handle.completionTokens), handle.cachedTokens)));
      return;
    }

    this.startStream(res);
    const chunk = (index: number, delta: Parameters<typeof chatChunk>[4], finish: string | null, lp: ChatLogprob[] | null) =>
      this.send(res, chatChunk(id, created, r.model, index, delta, finish, lp, r.includeUsage));
    for (let i = 0; i < r.n; i++) chunk(i, { role: 'assistant', content: '' }, null, null);
    // With tools, text from where a tool call may start is held back (ToolCallStream), so a
    // call is never streamed as content; it is sent as tool_calls when the choice ends.
    const calls = parse ? globalThis.Array.from({ length: r.n }, () => new ToolCallStream(this.toolFamily)) : null;
    try {
      for await (const e of handle) {
        if (e.type === 'delta') {
          const lp = r.logprobs ? e.tokens.map((t) => this.tokenText.chat(t)) : null;
          const text = calls ? calls[e.choice].push(e.text) : e.text;
          if (text !== '' || lp) chunk(e.choice, { content: text }, null, lp);
          continue;
        }
        let reason: string = e.reason;
        if (calls) {
          const p = calls[e.choice].finish();
          if (p.content) chunk(e.choice, { content: p.content }, null, null);
          if (p.toolCalls.length > 0) {
            chunk(e.choice, { tool_calls: p.toolCalls.map((c, index) => ({ index, ...c })) }, null, null);
            reason = 'tool_calls';
          }
        }
        chunk(e.choice, {}, reason, null);
      }
    } catch (err) {
      this.fail(res, err);
      return;
    }
    if (r.includeUsage) this.send(res, usageChunk('chat.completion.chunk', id, created, r.model, usage(handle.promptTokens, sum(handle.completionTokens), handle.cachedTokens)));
    this.endStream(res);
  }

  // ---------------------------------------------------------------- /v1/completions

  private async completions(r: CompletionRequest, _req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.checkModel(r.model);
    const tk = this.loaded.tokenizer;
    const V = this.vocabSize();
    const prompts = r.prompts.map((p, i) => {
      if (typeof p === 'string') {
        if (!tk) throw badParam('prompt', 'This model has no tokenizer: send the prompt as token ids');
        const addSpecial = tk.bosToken === null || !p.startsWith(tk.bosToken);
        return tk.encode(p, { addSpecialTokens: addSpecial });
      }
      const bad = p.find((t) => t >= V);
      if (bad !== undefined) throw badParam('prompt', `'prompt'${r.prompts.length > 1 ? `[${i}]` : ''} holds token ${bad}, but the vocabulary has ${V} tokens`);
      return p;
    });
    const withLogprobs = r.logprobs !== null;
    const jobs = prompts.map((prompt) => ({ prompt, n: r.n, params: this.sequenceParams(r, this.maxTokens(r.maxTokens, prompt.length, 'prompt', r.maxTokensParam), withLogprobs, r.logprobs ?? 0) }));
    const echoText = (i: number) => {
      const p = r.prompts[i];
      return typeof p === 'string' ? p : tk ? tk.decode(p) : '';
    };
    const handles = this.submit(jobs, res);
    const id = newId('cmpl'), created = now();
    const promptTokens = sum(handles.map((h) => h.promptTokens));
    const completionTokens = () => sum(handles.flatMap((h) => h.completionTokens));
    const cachedTokens = () => sum(handles.map((h) => h.cachedTokens));

    if (!r.stream) {
      const results = await Promise.all(handles.map(async (h, pi) => {
        const texts = new globalThis.Array<string>(r.n).fill(''), reasons = new globalThis.Array<string>(r.n).fill('length');
        const tokens: TokenInfo[][] = texts.map(() => []);
        for await (const e of h) {
          if (e.type === 'delta') { texts[e.choice] += e.text; tokens[e.choice].push(...e.tokens); }
          else reasons[e.choice] = e.reason;
        }
        return texts.map((text, j) => {
          const prefix = r.echo ? echoText(pi) : '';
          const lp = withLogprobs ? completionLogprobs(this.tokenText, tokens[j], prefix.length, (r.logprobs ?? 0) > 0) : null;
          return completionChoice(pi * r.n + j, prefix + text, lp, reasons[j]);
        });
      }));
      this.json(res, 200, textCompletion(id, created, r.model, results.flat(), usage(promptTokens, completionTokens(), cachedTokens())));
      return;
    }

    this.startStream(res);
    const send = (index: number, text: string, lp: ReturnType<typeof completionLogprobs> | null, finish: string | null) =>
      this.send(res, { ...textCompletion(id, created, r.model, [completionChoice(index, text, lp, finish)], null), ...(r.includeUsage ? { usage: null } : {}) });
    try {
      await Promise.all(handles.map(async (h, pi) => {
        const offsets = new globalThis.Array<number>(r.n).fill(0);
        if (r.echo) for (let j = 0; j < r.n; j++) { const t = echoText(pi); send(pi * r.n + j, t, null, null); offsets[j] = t.length; }
        for await (const e of h) {
          const index = pi * r.n + e.choice;
          if (e.type === 'finish') { send(index, '', null, e.reason); continue; }
          const lp = withLogprobs ? completionLogprobs(this.tokenText, e.tokens, offsets[e.choice], (r.logprobs ?? 0) > 0) : null;
          offsets[e.choice] += e.text.length;
          if (e.text !== '' || lp || !tk) send(index, e.text, lp, null); // no tokenizer: a chunk per token
        }
      }));
    } catch (err) {
      for (const h of handles) h.cancel();
      this.fail(res, err);
      return;
    }
    if (r.includeUsage) this.send(res, usageChunk('text_completion', id, created, r.model, usage(promptTokens, completionTokens(), cachedTokens())));
    this.endStream(res);
  }
}

const sum = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0);

/** LATHE_BATCH_INVARIANT=1 while any server that wants it runs; the previous value comes back after the last. */
const batchInvariance = {
  users: 0,
  previous: undefined as string | undefined,
  acquire(): void {
    if (this.users++ === 0) this.previous = process.env.LATHE_BATCH_INVARIANT;
    process.env.LATHE_BATCH_INVARIANT = '1';
  },
  release(): void {
    if (--this.users > 0) return;
    if (this.previous === undefined) delete process.env.LATHE_BATCH_INVARIANT;
    else process.env.LATHE_BATCH_INVARIANT = this.previous;
  },
};

function toApiError(e: unknown): ApiError {
  if (e instanceof ApiError) return e;
  if (e instanceof EngineError) return new ApiError(e.status, e.message, e.param, e.code);
  const message = e instanceof Error ? e.message : String(e);
  return new ApiError(500, `The server failed while generating: ${message}`, null, 'internal_error');
}

/** The id a model folder is served under: its folder name. */
export function modelIdFor(dir: string): string {
  return basename(resolve(dir));
}
