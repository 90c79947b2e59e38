// Continuous batching for one model (what MLX-LM's BatchGenerator does for its server): a
// loop that admits queued requests, prefills the prompts admitted together as one
// left-padded batch (in fixed chunks, one chunk per turn, so running rows keep streaming),
// merges the prefilled rows into the running batch, and decodes one token for every row per
// step. Finished, cancelled and failed rows leave the batch at once. Each row keeps its own
// sampler, processors, stop strings, detokenizer and constraint. The loop yields to the
// event loop after every step.
//
// Prompt caches are reused across requests (MLX-LM's server): a row that finishes stores its
// KV in an LRUPromptCache keyed by the tokens it holds; an admitted prompt fetches the
// nearest stored cache and prefills only the rest, alone on top of it (misses prefill
// together, left-padded, as before).
import * as mx from '../../core/index.js';
import type { Array } from '../../core/index.js';
import { KVCache } from '../cache.js';
import { LRUPromptCache } from '../prompt-cache.js';
import { StopStringMatcher } from '../stop.js';
import type { StreamingDetokenizer } from '../detokenizer.js';
import type { Tokenizer } from '../tokenizer.js';
import type { LogitsProcessor, LogitsProcessorOptions } from '../sample.js';
import { logprobArrays, tidyStep, toLogprobs, type GenerationModel } from '../step.js';
import { BatchCache } from './batch-cache.js';
import { SeedStream, choiceSeed, randomSeed, rowProcessors, sampleRow, type RowSamplingOptions } from './row-sampling.js';

/** Per-row constrained decoding (response_format): masks logits, then follows the sampled tokens. */
export interface RowConstraint {
  readonly processor: LogitsProcessor;
  accept(token: number): void;
}

export interface SequenceParams extends RowSamplingOptions, LogitsProcessorOptions {
  maxTokens: number;
  /** Stop strings: the text ends before the first one. */
  stop: readonly string[];
  /** Ids that end a sequence besides the tokenizer's eos ids. */
  stopTokens?: readonly number[];
  /** Report each token's log-probability (and the topLogprobs most likely). */
  logprobs: boolean;
  topLogprobs: number;
  /** Makes the constraint of one choice (a fresh state each). */
  constraint?: (() => RowConstraint) | null;
}

export interface GenerationJob {
  prompt: readonly number[];
  /** Sequences generated from the prompt (OpenAI's n), each a row. */
  n: number;
  params: SequenceParams;
}

export interface TokenInfo {
  id: number;
  logprob: number | null;
  top: { id: number; logprob: number }[];
}

export type FinishReason = 'stop' | 'length';

export type JobEvent =
  | { type: 'delta'; choice: number; text: string; tokens: TokenInfo[] }
  | { type: 'finish'; choice: number; reason: FinishReason };

/** Errors a server answers with a status: a full queue (429), shutting down (503), cancelled. */
export class EngineError extends Error {
  constructor(message: string, readonly status: number, readonly code: string, readonly param: string | null = null) { super(message); }
}

export interface EngineOptions {
  /** Rows decoded at once. Default 8. */
  maxConcurrency?: number;
  /** Requests waiting for rows; more are refused (429). Default 64. */
  maxQueue?: number;
  /** Prompt tokens per prefill chunk; at most one chunk's worth of prompt runs between two decode steps. Default 512. */
  prefillStepSize?: number;
  /** KV caches of finished sequences kept for reuse by later prompts (MLX-LM's --prompt-cache-size). Default 10; 0: no reuse. */
  promptCacheSize?: number;
  /** The most bytes those caches may hold (MLX-LM's --prompt-cache-bytes). Default: no limit but the count; 0: no reuse. */
  promptCacheBytes?: number;
}

export interface EngineStats {
  /** Requests queued, prefilling or decoding. */
  requests: number;
  queued: number;
  prefilling: number;
  /** Rows in the decoding batch. */
  rows: number;
  /** Bytes the batch's KV cache holds. */
  cacheBytes: number;
  /** Sequences in the prompt cache, and the bytes they hold. */
  promptCaches: number;
  promptCacheBytes: number;
}

/** One request in flight: its events as an async iterator; cancel() ends it (its rows leave the batch). */
export class JobHandle implements AsyncIterable<JobEvent> {
  readonly promptTokens: number;
  /** Prompt tokens whose keys and values came from the prompt cache (set when its prefill starts). */
  cachedTokens = 0;
  /** Tokens generated per choice (an end-of-sequence token included). */
  readonly completionTokens: number[];
  private events: JobEvent[] = [];
  private waiter: (() => void) | null = null;
  private ended = false;
  private error: Error | null = null;
  cancelled = false;
  /** @internal Choices still generating. */
  openChoices: number;

  constructor(readonly job: GenerationJob, private readonly onCancel: (h: JobHandle) => void) {
    this.promptTokens = job.prompt.length;
    this.completionTokens = new globalThis.Array<number>(job.n).fill(0);
    this.openChoices = job.n;
  }

  /** Ends the request: queued, it leaves the queue; running, its rows leave the batch. */
  cancel(): void {
    if (this.ended || this.cancelled) return;
    this.cancelled = true;
    this.onCancel(this);
    this.end(null);
  }

  get done(): boolean { return this.ended; }

  /** @internal */ push(e: JobEvent): void {
    if (this.ended) return;
    this.events.push(e);
    this.wake();
  }

  /** @internal */ end(error: Error | null): void {
    if (this.ended) return;
    this.ended = true;
    this.error = error;
    this.wake();
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = null;
    w?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<JobEvent> {
    for (;;) {
      while (this.events.length) yield this.events.shift()!;
      if (this.ended) {
        if (this.error) throw this.error;
        return;
      }
      await new Promise<void>((resolve) => { this.waiter = resolve; });
    }
  }
}

/**
 * Prompts prefilled together: every prompt but its last token (the first decode input),
 * left-padded to one width, through one cache with that padding. Or one prompt found in the
 * prompt cache: the rest of it, unpadded, on top of the fetched cache.
 */
interface Prefill {
  handles: JobHandle[];
  rows: number[][];
  padding: number[];
  cache: KVCache[];
  /** Columns processed. */
  done: number;
  width: number;
}

interface Row {
  handle: JobHandle;
  choice: number;
  params: SequenceParams;
  history: number[];
  input: number;
  generated: number;
  detokenizer: StreamingDetokenizer | null;
  stops: StopStringMatcher;
  processors: LogitsProcessor[];
  constraint: RowConstraint | null;
  seeds: SeedStream;
  eos: Set<number>;
  finished: boolean;
}

const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/** The prompt cache's name for the engine's one model. */
const MODEL_KEY = 'model';

export class Engine {
  readonly maxConcurrency: number;
  readonly maxQueue: number;
  readonly prefillStepSize: number;
  /** Finished sequences' caches, or null when reuse is off. */
  readonly promptCache: LRUPromptCache | null;
  private queue: JobHandle[] = [];
  /** Admitted (their rows reserved), waiting for the next prefill batch. */
  private admitted: JobHandle[] = [];
  /** Run in order, one chunk per turn: each prompt-cache hit alone, then the misses admitted with them. */
  private prefills: Prefill[] = [];
  private rows: Row[] = [];
  private batch: BatchCache;
  private wakeLoop: (() => void) | null = null;
  private closing = false;
  private loop: Promise<void>;

  constructor(readonly model: GenerationModel, readonly tokenizer: Tokenizer | null, options: EngineOptions = {}) {
    this.maxConcurrency = options.maxConcurrency ?? 8;
    this.maxQueue = options.maxQueue ?? 64;
    this.prefillStepSize = options.prefillStepSize ?? 512;
    const cacheSize = options.promptCacheSize ?? 10;
    const cacheBytes = options.promptCacheBytes ?? Infinity;
    for (const [k, v, min] of [['maxConcurrency', this.maxConcurrency, 1], ['maxQueue', this.maxQueue, 0], ['prefillStepSize', this.prefillStepSize, 1], ['promptCacheSize', cacheSize, 0]] as const)
      if (!Number.isInteger(v) || v < min) throw new Error(`[Engine] ${k} must be an integer >= ${min}, got ${v}`);
    if (!(Number.isInteger(cacheBytes) || cacheBytes === Infinity) || cacheBytes < 0)
      throw new Error(`[Engine] promptCacheBytes must be an integer >= 0 (or Infinity: no limit), got ${cacheBytes}`);
    this.promptCache = cacheSize > 0 && cacheBytes > 0 ? new LRUPromptCache({ maxSize: cacheSize, maxBytes: cacheBytes }) : null;
    this.batch = BatchCache.empty(model.layers.length);
    this.loop = this.run();
  }

  /**
   * Queues a request; its events come through the returned handle. Throws EngineError 429
   * when the queue is full and 503 once the engine is closing.
   */
  submit(job: GenerationJob): JobHandle {
    if (this.closing) throw new EngineError('the server is shutting down', 503, 'server_shutting_down');
    if (!Number.isInteger(job.n) || job.n < 1 || job.n > this.maxConcurrency)
      throw new EngineError(`n must be an integer from 1 to ${this.maxConcurrency} (the server's max concurrency), got ${job.n}`, 400, 'invalid_value', 'n');
    if (job.prompt.length === 0) throw new EngineError('the prompt has no tokens', 400, 'invalid_value', 'prompt');
    const handle = new JobHandle(job, (h) => this.cancelled(h));
    if ((this.freeRows() < job.n || this.queue.length > 0) && this.queue.length >= this.maxQueue)
      throw new EngineError(`the server is busy: ${this.queue.length} requests are already waiting (max queue ${this.maxQueue}); retry later`, 429, 'rate_limit_exceeded');
    this.queue.push(handle);
    this.admit(); // takes free rows now, so the queue holds only requests that wait
    this.wake();
    return handle;
  }

  stats(): EngineStats {
    const prefilling = [...this.admitted, ...this.prefilling()].filter((h) => !h.done);
    const live = new Set([...this.queue, ...prefilling, ...this.rows.map((r) => r.handle)]);
    return {
      requests: live.size, queued: this.queue.length, prefilling: prefilling.length, rows: this.rows.length, cacheBytes: this.batch.nbytes,
      promptCaches: this.promptCache?.size ?? 0, promptCacheBytes: this.promptCache?.nbytes ?? 0,
    };
  }

  /**
   * Stops taking requests; queued ones fail (503). Running ones finish, or after `graceMs`
   * are cancelled; then the caches are freed. Resolves when the loop has stopped.
   */
  async close(graceMs = 30_000): Promise<void> {
    if (!this.closing) {
      this.closing = true;
      for (const h of this.queue.splice(0)) h.end(new EngineError('the server is shutting down', 503, 'server_shutting_down'));
      const timer = setTimeout(() => this.abortAll(new EngineError('the server shut down before the request finished', 503, 'server_shutting_down')), graceMs);
      timer.unref?.();
      this.wake();
      await this.loop;
      clearTimeout(timer);
    }
    await this.loop;
  }

  private prefilling(): JobHandle[] { return this.prefills.flatMap((p) => p.handles); }

  private freeRows(): number {
    const reserved = [...this.admitted, ...this.prefilling()].reduce((n, h) => n + (h.done ? 0 : h.job.n), 0);
    return this.maxConcurrency - this.rows.length - reserved;
  }

  private wake(): void {
    const w = this.wakeLoop;
    this.wakeLoop = null;
    w?.();
  }

  private cancelled(h: JobHandle): void {
    const q = this.queue.indexOf(h);
    if (q >= 0) this.queue.splice(q, 1);
    this.wake(); // the loop drops its prefill and rows
  }

  private abortAll(error: Error): void {
    for (const h of [...this.admitted, ...this.prefilling(), ...this.rows.map((r) => r.handle)]) h.end(error);
    this.wake();
  }

  private hasWork(): boolean {
    return this.queue.length > 0 || this.admitted.length > 0 || this.prefills.length > 0 || this.rows.length > 0;
  }

  private async run(): Promise<void> {
    for (;;) {
      this.reap();
      if (!this.hasWork()) {
        if (this.closing) break;
        await new Promise<void>((resolve) => { this.wakeLoop = resolve; });
        continue;
      }
      this.admit();
      this.prefillChunk();
      if (this.rows.length > 0) {
        try {
          this.decodeStep();
        } catch (e) {
          // The batch's forward pass failed: every running request gets the error; the engine goes on.
          const err = e instanceof Error ? e : new Error(String(e));
          for (const r of this.rows) r.handle.end(err);
          this.rows = [];
          this.batch.dispose();
        }
      }
      await yieldToEventLoop();
    }
    this.batch.dispose();
    this.promptCache?.clear();
  }

  /** Drops ended requests (cancelled, failed, aborted): their rows leave the batch; a prefill nobody waits for stops. */
  private reap(): void {
    this.admitted = this.admitted.filter((h) => !h.done);
    for (const p of this.prefills) if (p.handles.every((h) => h.done)) this.dropPrefill(p);
    if (this.rows.some((r) => r.handle.done)) this.keepRows((r) => !r.handle.done);
  }

  private dropPrefill(p: Prefill): void {
    mx.dispose(p.cache.flatMap((c) => c.state));
    this.prefills = this.prefills.filter((x) => x !== p);
  }

  private keepRows(pred: (r: Row) => boolean): void {
    const keep: number[] = [];
    this.rows.forEach((r, i) => { if (pred(r)) keep.push(i); });
    if (keep.length === this.rows.length) return;
    this.rows = keep.map((i) => this.rows[i]);
    this.batch.filter(keep);
  }

  /** Moves queued requests to prefill while rows are free (first come, first served). */
  private admit(): void {
    while (this.queue.length > 0 && this.freeRows() >= this.queue[0].job.n) this.admitted.push(this.queue.shift()!);
  }

  /**
   * One prefill chunk: when no prefill is running, the admitted prompts start theirs (see
   * startPrefills); the first prefill runs its next `prefillStepSize` columns, and when it is
   * done its rows join the decoding batch (prefills with nothing left to run join at once).
   * A row's result does not depend on the others (row-wise ops, masked padding), and chunk
   * boundaries never change a row's keys and values.
   */
  private prefillChunk(): void {
    if (this.prefills.length === 0 && this.admitted.length > 0) this.prefills = this.startPrefills(this.admitted.splice(0));
    while (this.prefills.length > 0 && this.prefills[0].done === this.prefills[0].width) this.join(this.prefills.shift()!);
    const p = this.prefills[0];
    if (!p) return;
    const n = Math.min(this.prefillStepSize, p.width - p.done);
    try {
      tidyStep([p.cache], () => {
        this.model.forward(mx.array(p.rows.map((r) => r.slice(p.done, p.done + n)), mx.int32), p.cache);
        return null;
      });
    } catch (e) {
      const err = e instanceof Error ? e : new Error(String(e));
      for (const h of p.handles) h.end(err);
      this.dropPrefill(p);
      return;
    }
    p.done += n;
    if (p.done === p.width) this.join(this.prefills.shift()!);
  }

  /**
   * The prefills of newly admitted requests: each prompt the prompt cache holds a prefix of
   * runs alone on top of the fetched cache (only its rest), in admission order; the misses
   * then run together as one left-padded batch.
   */
  private startPrefills(handles: JobHandle[]): Prefill[] {
    const out: Prefill[] = [];
    const misses: number[][] = [];
    const missHandles: JobHandle[] = [];
    for (const h of handles) {
      const hit = this.promptCache?.fetchNearestCache(MODEL_KEY, h.job.prompt);
      if (hit?.cache) {
        h.cachedTokens = hit.cached;
        const rest = hit.rest.slice(0, -1); // the prompt's last token is the first decode input
        out.push({ handles: [h], padding: [0], width: rest.length, done: 0, rows: [rest], cache: hit.cache });
      } else {
        missHandles.push(h);
        misses.push(h.job.prompt.slice(0, -1) as number[]);
      }
    }
    if (missHandles.length > 0) {
      const width = Math.max(...misses.map((p) => p.length));
      const padding = misses.map((p) => width - p.length);
      out.push({
        handles: missHandles, padding, width, done: 0,
        rows: misses.map((p, i) => [...new globalThis.Array<number>(padding[i]).fill(0), ...p]),
        cache: this.model.layers.map(() => new KVCache({ leftPadding: padding })),
      });
    }
    return out;
  }

  /** A finished prefill's rows (n copies per request still waiting) join the decoding batch. */
  private join(p: Prefill): void {
    const live = p.handles.map((h) => !h.done);
    try {
      const rows: Row[] = [];
      p.handles.forEach((handle, i) => {
        if (!live[i]) return;
        const { prompt, n, params } = handle.job;
        for (let choice = 0; choice < n; choice++) {
          const tk = this.tokenizer;
          rows.push({
            handle, choice, params,
            history: [...prompt],
            input: prompt[prompt.length - 1],
            generated: 0,
            detokenizer: tk ? tk.detokenizer : null,
            stops: new StopStringMatcher(params.stop),
            processors: rowProcessors(params),
            constraint: params.constraint ? params.constraint() : null,
            seeds: new SeedStream(choiceSeed(params.seed ?? randomSeed(), choice)),
            eos: new Set([...(tk?.eosTokenIds ?? []), ...(params.stopTokens ?? [])]),
            finished: false,
          });
        }
      });
      const copies = p.handles.map((h, i) => (live[i] ? h.job.n : 0));
      this.batch.extend(BatchCache.fromPrefill(p.cache, p.padding, copies));
      this.rows.push(...rows);
    } catch (e) {
      mx.dispose(p.cache.flatMap((c) => c.state));
      const err = e instanceof Error ? e : new Error(String(e));
      for (const h of p.handles) h.end(err);
    }
  }

  /** One token for every row. */
  private decodeStep(): void {
    const rows = this.rows;
    const B = rows.length;
    const wantLogprobs = rows.some((r) => r.params.logprobs);
    const k = Math.max(0, ...rows.map((r) => (r.params.logprobs ? r.params.topLogprobs : 0)));
    const perRow = rows.some((r) => r.processors.length > 0 || r.constraint);
    const sampled = rows.map((r) => r.params.temp > 0);
    const out = tidyStep([this.batch.layers], () => {
      const logits = this.model.forward(mx.array(rows.map((r) => [r.input]), mx.int32), this.batch.layers);
      let last = mx.reshape(mx.stridedSlice(logits, [null, -1], [null, null]), [B, -1]);
      if (perRow) {
        last = mx.concatenate(mx.split(last, B, 0).map((row, b) => {
          const r = rows[b];
          if (r.processors.length > 0) {
            const h = mx.array(r.history, mx.int32);
            for (const p of r.processors) row = p(h, row);
          }
          return r.constraint ? r.constraint.processor(mx.array([], mx.int32), row) : row;
        }), 0);
      }
      const logprobs = toLogprobs(last);
      let tokens: Array = mx.argmax(logprobs, -1);
      if (sampled.some(Boolean)) {
        const greedy = tokens;
        tokens = mx.concatenate(rows.map((r, b) => {
          const lp = mx.stridedSlice(logprobs, [b], [b + 1]);
          return sampled[b] ? mx.astype(sampleRow(lp, r.params, r.seeds), mx.uint32) : mx.astype(mx.stridedSlice(greedy, [b], [b + 1]), mx.uint32);
        }), 0);
      }
      return [tokens, ...(wantLogprobs ? logprobArrays(logprobs, tokens, k) : [])];
    });
    const tokens = out[0].tolist() as number[];
    const chosen = wantLogprobs ? (out[1].tolist() as number[]) : null;
    const topIds = wantLogprobs && k > 0 ? (out[2].tolist() as number[][]) : null;
    const topLps = wantLogprobs && k > 0 ? (out[3].tolist() as number[][]) : null;
    mx.dispose(out);
    for (let b = 0; b < B; b++) {
      const r = rows[b];
      if (r.handle.done) continue;
      const info: TokenInfo | null = r.params.logprobs
        ? { id: tokens[b], logprob: chosen![b], top: topIds ? topIds[b].slice(0, r.params.topLogprobs).map((id, i) => ({ id, logprob: topLps![b][i] })) : [] }
        : null;
      try {
        this.advance(r, tokens[b], info);
      } catch (e) {
        r.handle.end(e instanceof Error ? e : new Error(String(e)));
      }
    }
    if (this.promptCache) rows.forEach((r, b) => { if (r.finished) this.storeRow(r, b); });
    this.keepRows((r) => !r.finished && !r.handle.done);
  }

  /**
   * A finished row's keys and values go into the prompt cache (MLX-LM stores a sequence when
   * it finishes), keyed by the tokens they hold: the prompt and every generated token but the
   * last, which was sampled and never fed back (an end-of-sequence token is never fed either).
   */
  private storeRow(r: Row, b: number): void {
    const held = this.batch.offset - this.batch.padding[b];
    const expected = r.handle.job.prompt.length + r.generated - 1;
    if (held !== expected || held > r.history.length)
      throw new Error(`[Engine] a finished row holds ${held} columns of keys and values, expected ${expected} (prompt ${r.handle.job.prompt.length} + generated ${r.generated} - 1)`);
    this.promptCache!.insertCache(MODEL_KEY, r.history.slice(0, held), this.batch.extractRow(b));
  }

  /** Follows a row's new token: constraint, end of sequence, text, stop strings, length. */
  private advance(r: Row, token: number, info: TokenInfo | null): void {
    r.generated++;
    r.handle.completionTokens[r.choice]++;
    r.constraint?.accept(token);
    if (r.eos.has(token)) { this.finish(r, 'stop', true); return; }
    r.history.push(token);
    r.input = token;
    r.detokenizer?.addToken(token);
    const hit = r.stops.push(r.detokenizer?.lastSegment ?? '');
    // Without a tokenizer there is no text: every token is its own (empty) delta, so streams still advance.
    if (hit.text || info || !r.detokenizer) r.handle.push({ type: 'delta', choice: r.choice, text: hit.text, tokens: info ? [info] : [] });
    if (hit.stopped) this.finish(r, 'stop', false);
    else if (r.generated >= r.params.maxTokens) this.finish(r, 'length', true);
  }

  /** Ends a row (flushing the text its detokenizer and stop matcher held back); the request ends with its last row. */
  private finish(r: Row, reason: FinishReason, flush: boolean): void {
    if (flush) {
      r.detokenizer?.finalize();
      const tail = r.stops.flush(r.detokenizer?.lastSegment ?? '');
      if (tail.text) r.handle.push({ type: 'delta', choice: r.choice, text: tail.text, tokens: [] });
      if (tail.stopped) reason = 'stop';
    }
    r.finished = true;
    r.handle.push({ type: 'finish', choice: r.choice, reason });
    if (--r.handle.openChoices === 0) r.handle.end(null);
  }
}
