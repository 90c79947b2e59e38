// OpenAI's `response_format` as a logits processor: per step, every token that cannot
// continue valid JSON (for the schema) is masked to -inf; the end-of-sequence tokens are
// allowed only once the JSON is complete, and then they are the only ones.
import * as mx from '../../core/index.js';
import type { Array } from '../../core/index.js';
import type { LogitsProcessor } from '../sample.js';
import { Grammar, type GrammarOptions, type Stack } from './grammar.js';
import { allowedTokenBits, maskCache, type MaskCache } from './mask.js';
import { ANY_OBJECT, SchemaError, compileSchema, type SchemaNode } from './schema.js';
import { tokenTrie, type TokenTrie, type TokenVocabulary } from './vocab.js';

/** OpenAI's response_format. */
export type ResponseFormat =
  | { type: 'text' }
  | { type: 'json_object' }
  | { type: 'json_schema'; json_schema: JsonSchemaFormat };

export interface JsonSchemaFormat {
  name: string;
  description?: string;
  /** The JSON Schema the output must match (absent: any JSON value). */
  schema?: Record<string, unknown> | boolean;
  /** OpenAI's strict mode: additionalProperties is false everywhere. */
  strict?: boolean | null;
}

/** Constrained decoding state for one sequence. */
export interface ConstrainedProcessor {
  /**
   * Masks logits (1, V) — or every row of (B, V) alike — to -inf outside the allowed tokens.
   * It does not advance the state: call `accept` with each sampled token. Its `tokens`
   * argument is ignored.
   */
  readonly processor: LogitsProcessor;
  /** Advances the state by a generated token; throws if the token is not allowed here. */
  accept(token: number): void;
  /** Whether the JSON value is complete (the end-of-sequence tokens are allowed). */
  isComplete(): boolean;
  /** Whether an end-of-sequence token was accepted. */
  readonly finished: boolean;
  /** The ids allowed next (end-of-sequence ids included when complete; only they once finished). */
  allowedTokens(): Int32Array;
  /** An independent copy of the state (cheap: states are immutable and shared). */
  clone(): ConstrainedProcessor;
  /**
   * A processor for streamGenerate / generate (one sequence): it accepts the new tokens it
   * finds in its `tokens` argument (the history) itself; its first call takes the history as
   * the prompt. Use either this or `processor` + `accept`, not both.
   */
  trackingProcessor(): LogitsProcessor;
}

export interface ConstrainedOptions {
  /** The longest run of whitespace between JSON tokens (0: compact JSON). Default 16. */
  maxWhitespace?: number;
}

/** A JSON recognizer without a tokenizer: feed text, ask whether it is (still) valid. */
export class JsonRecognizer {
  private constructor(readonly grammar: Grammar, private current: Stack[]) {}

  /** The recognizer's state (immutable: share it freely). */
  get state(): readonly Stack[] { return this.current; }

  static fromSchemaNode(root: SchemaNode, options: GrammarOptions = {}): JsonRecognizer {
    const g = new Grammar(root, options);
    return new JsonRecognizer(g, g.initial());
  }

  /** For `{ type: 'json_object' }` or `'json_schema'`. */
  static fromResponseFormat(format: ResponseFormat, options: GrammarOptions = {}): JsonRecognizer {
    const root = responseFormatRoot(format);
    if (!root) throw new SchemaError("response_format 'text' has nothing to recognize");
    return JsonRecognizer.fromSchemaNode(root, options);
  }

  /** Advances by the UTF-8 bytes of `text`; false (and the state unchanged) if they cannot continue valid JSON. */
  feed(text: string | Uint8Array): boolean {
    const bytes = typeof text === 'string' ? new TextEncoder().encode(text) : text;
    const next = this.grammar.advance(this.current, bytes);
    if (next.length === 0) return false;
    this.current = next;
    return true;
  }

  isComplete(): boolean { return this.current.some((s) => this.grammar.canEnd(s)); }
  clone(): JsonRecognizer { return new JsonRecognizer(this.grammar, this.current); }

  /** Whether `text` is a complete valid document. */
  static accepts(format: ResponseFormat, text: string, options: GrammarOptions = {}): boolean {
    const r = JsonRecognizer.fromResponseFormat(format, options);
    return r.feed(text) && r.isComplete();
  }
}

/** The schema root of a response_format (null for 'text'); throws SchemaError for a malformed or unsupported one. */
export function responseFormatRoot(format: ResponseFormat): SchemaNode | null {
  const f = format as unknown;
  if (typeof f !== 'object' || f === null || globalThis.Array.isArray(f)) throw new SchemaError(`response_format must be an object, got ${JSON.stringify(f)}`);
  const type = (f as { type?: unknown }).type;
  if (type === 'text') return null;
  if (type === 'json_object') return ANY_OBJECT;
  if (type !== 'json_schema') throw new SchemaError(`response_format.type must be 'text', 'json_object' or 'json_schema', got ${JSON.stringify(type)}`, 'type');
  const js = (f as { json_schema?: unknown }).json_schema;
  if (typeof js !== 'object' || js === null || globalThis.Array.isArray(js)) throw new SchemaError("response_format.json_schema must be an object { name, schema, strict? }", 'json_schema');
  const { name, schema, strict } = js as Record<string, unknown>;
  if (typeof name !== 'string' || name.length === 0) throw new SchemaError('response_format.json_schema.name must be a non-empty string', 'name');
  if (strict !== undefined && strict !== null && typeof strict !== 'boolean') throw new SchemaError(`response_format.json_schema.strict must be a boolean, got ${JSON.stringify(strict)}`, 'strict');
  return compileSchema(schema === undefined ? true : schema, { strict: strict === true });
}

// Compiled grammars per vocabulary and schema, so repeated requests reuse their frames.
const grammars = new WeakMap<TokenTrie, Map<string, Grammar>>();
function grammarFor(trie: TokenTrie, format: ResponseFormat, options: ConstrainedOptions): Grammar | null {
  let byKey = grammars.get(trie);
  if (!byKey) grammars.set(trie, (byKey = new Map()));
  let key: string;
  try {
    key = JSON.stringify([format, options.maxWhitespace ?? null]);
  } catch (e) {
    throw new SchemaError(`response_format must be plain JSON: ${(e as Error).message}`);
  }
  let g = byKey.get(key);
  if (g) {
    byKey.delete(key);
    byKey.set(key, g);
    return g;
  }
  const root = responseFormatRoot(format);
  if (!root) return null;
  g = new Grammar(root, { maxWhitespace: options.maxWhitespace });
  if (byKey.size >= 64) byKey.delete(byKey.keys().next().value!);
  byKey.set(key, g);
  return g;
}

/**
 * Constrained decoding for OpenAI's response_format: `{ type: 'json_object' }` (any JSON
 * object) or `{ type: 'json_schema', json_schema: { name, schema, strict } }`. Returns null
 * for `{ type: 'text' }`. Throws SchemaError (a 400 for a server) for a malformed format or
 * a schema keyword outside the supported subset (docs/lm-structured.md).
 */
export function makeResponseFormatProcessor(tokenizer: TokenVocabulary, responseFormat: ResponseFormat & { type: 'text' }, options?: ConstrainedOptions): null;
export function makeResponseFormatProcessor(tokenizer: TokenVocabulary, responseFormat: ResponseFormat & { type: 'json_object' | 'json_schema' }, options?: ConstrainedOptions): ConstrainedProcessor;
export function makeResponseFormatProcessor(tokenizer: TokenVocabulary, responseFormat: ResponseFormat, options?: ConstrainedOptions): ConstrainedProcessor | null;
export function makeResponseFormatProcessor(tokenizer: TokenVocabulary, responseFormat: ResponseFormat, options: ConstrainedOptions = {}): ConstrainedProcessor | null {
  const trie = tokenTrie(tokenizer);
  const grammar = grammarFor(trie, responseFormat, options);
  if (!grammar) return null;
  if (trie.eos.length === 0) throw new Error('[makeResponseFormatProcessor] the tokenizer has no end-of-sequence token, which constrained decoding needs to end the JSON');
  return new JsonConstraint(tokenizer, trie, grammar, maskCache(trie), grammar.initial(), false);
}

class JsonConstraint implements ConstrainedProcessor {
  readonly processor: LogitsProcessor;
  private bits: Uint32Array | null = null; // the allowed set of the current state (computed on demand)
  private complete: boolean | null = null;

  constructor(
    private readonly vocab: TokenVocabulary, private readonly trie: TokenTrie, private readonly grammar: Grammar,
    private readonly cache: MaskCache, private state: Stack[], private done: boolean,
  ) {
    this.processor = (_tokens, logits) => this.mask(logits);
  }

  get finished(): boolean { return this.done; }

  isComplete(): boolean {
    return (this.complete ??= this.state.some((s) => this.grammar.canEnd(s)));
  }

  private allowedBits(): Uint32Array {
    if (!this.bits) {
      this.bits = new Uint32Array((this.trie.size + 31) >>> 5);
      if (!this.done) allowedTokenBits(this.grammar, this.cache, this.state, this.bits);
      // Complete, ended (a batch may keep a finished row running), or stuck (a schema whose
      // bounds conflict): the end-of-sequence tokens, so no row is left with nothing to sample.
      if (this.done || this.isComplete() || this.bits.every((w) => w === 0)) for (const id of this.trie.eos) this.bits[id >>> 5] |= 1 << (id & 31);
    }
    return this.bits;
  }

  allowedTokens(): Int32Array {
    const bits = this.allowedBits();
    let count = 0;
    for (let i = 0; i < bits.length; i++) for (let w = bits[i]; w !== 0; w &= w - 1) count++;
    const out = new Int32Array(count);
    let k = 0;
    for (let i = 0; i < bits.length; i++) for (let w = bits[i]; w !== 0; w &= w - 1) out[k++] = (i << 5) + 31 - Math.clz32(w & -w);
    return out;
  }

  private mask(logits: Array): Array {
    const V = logits.shape[logits.ndim - 1];
    const bits = this.allowedBits();
    const keep = new Uint8Array(V);
    const n = Math.min(V, this.trie.size);
    for (let i = 0; i < bits.length; i++) {
      let w = bits[i];
      if (w === 0) continue;
      const base = i << 5;
      if (w === 0xffffffff && base + 32 <= n) { keep.fill(1, base, base + 32); continue; }
      for (; w !== 0; w &= w - 1) {
        const id = base + 31 - Math.clz32(w & -w);
        if (id < n) keep[id] = 1;
      }
    }
    return mx.where(mx.array(keep, mx.bool), logits, mx.array(-Infinity, logits.dtype));
  }

  accept(token: number): void {
    if (this.done) throw new Error(`[ConstrainedProcessor.accept] the JSON already ended (end-of-sequence accepted); got token ${token}`);
    if (this.trie.eos.includes(token)) {
      const bits = this.allowedBits();
      if (((bits[token >>> 5] >>> (token & 31)) & 1) === 0) throw new Error(`[ConstrainedProcessor.accept] end-of-sequence token ${token} before the JSON is complete`);
      this.done = true;
      this.bits = null;
      return;
    }
    let bytes: Uint8Array;
    try {
      bytes = this.vocab.isSpecial(token) ? new Uint8Array(0) : this.vocab.tokenBytes(token);
    } catch {
      bytes = new Uint8Array(0);
    }
    const next = bytes.length > 0 ? this.grammar.advance(this.state, bytes) : [];
    if (next.length === 0) {
      const text = new TextDecoder().decode(bytes);
      throw new Error(`[ConstrainedProcessor.accept] token ${token} (${JSON.stringify(text)}) cannot continue the JSON here; sample from the masked logits`);
    }
    this.state = next;
    this.bits = null;
    this.complete = null;
  }

  clone(): ConstrainedProcessor {
    return new JsonConstraint(this.vocab, this.trie, this.grammar, this.cache, this.state, this.done);
  }

  trackingProcessor(): LogitsProcessor {
    let seen = -1;
    return (tokens, logits) => {
      if (tokens.ndim === 2 && tokens.shape[0] !== 1) throw new Error(`[ConstrainedProcessor.trackingProcessor] follows one sequence; got a history of ${tokens.shape[0]} rows (use processor + accept per row)`);
      const history = (tokens.ndim === 2 ? (tokens.tolist() as number[][])[0] : (tokens.tolist() as number[]));
      if (seen < 0) seen = history.length;
      for (; seen < history.length; seen++) this.accept(history[seen]);
      return this.processor(tokens, logits);
    };
  }
}
