// KV caches as MLX-LM's: KVCache (grows), RotatingKVCache (keeps a window, for sliding-window
// layers or a bounded memory), QuantizedKVCache (keys and values stored at 4 or 8 bits with
// mx.quantize); the attention masks they imply; prompt caches saved to safetensors in
// MLX-LM's layout. Keys and values are (B, kvHeads, S, headDim), kept in temporal order.
//
// Batches of prompts of different lengths are left-padded: a cache made with
// `leftPadding: [p0, p1, ...]` hides row b's first p_b columns from every query, and row b's
// token at column j has position j - p_b. `offset` counts columns (padding included), the
// same for every row.
import * as mx from '../core/index.js';
import type { Array } from '../core/index.js';
import { loadSafetensors, saveSafetensors } from '../io/index.js';

export interface CacheOptions {
  /** Padding columns at the start of each row of the batch (null: no padding). */
  leftPadding?: readonly number[] | null;
}

/** The packed weight, scales and biases mx.quantize returns. */
export type QuantizedArrays = [Array, Array, Array];

/** The key columns a cache returns after an update: [0, sinks) and [start, end). */
interface KeyRange { sinks: number; start: number; end: number }

const concatSeq = (a: Array | null, b: Array): Array => (a ? mx.concatenate([a, b], 2) : b);
const sliceSeq = (a: Array, start: number, end: number): Array => mx.index(a, mx.s(), mx.s(), mx.s(start, end));

function checkPadding(where: string, pad: readonly number[] | null | undefined): number[] | null {
  if (pad === null || pad === undefined) return null;
  if (!pad.length || pad.some((p) => !Number.isInteger(p) || p < 0))
    throw new Error(`[${where}] leftPadding must be a non-empty list of non-negative integers (one per batch row), got [${pad.join(', ')}]`);
  return [...pad];
}

/**
 * Which keys each query may attend to, as a bool mask (true: attend) of shape (L, S), or
 * (B, 1, L, S) with left padding. Queries are columns offset..offset+L-1; keys are the columns
 * of `range` (stored as [0, range.sinks) then [start, end)). A key is visible if it is not in the future, lies within `windowSize` of the query
 * (a sliding-window layer) and within `cacheWindow` (a rotating cache's recent columns; its
 * `sinks` first columns stay visible), and is not padding.
 */
function buildMask(offset: number, L: number, range: KeyRange, windowSize: number | null, cacheWindow: number | null, sinks: number,
  leftPadding: readonly number[] | null): Array {
  const cols = range.sinks > 0
    ? mx.concatenate([mx.arange(0, range.sinks, 1, 'int32'), mx.arange(range.start, range.end, 1, 'int32')])
    : mx.arange(range.start, range.end, 1, 'int32');
  const k = mx.expandDims(cols, 0);
  const q = mx.expandDims(mx.arange(offset, offset + L, 1, 'int32'), 1);
  let mask = mx.lessEqual(k, q);
  if (windowSize !== null) mask = mx.logicalAnd(mask, mx.less(mx.subtract(q, k), windowSize));
  if (cacheWindow !== null) {
    const inWindow = mx.less(mx.subtract(q, k), cacheWindow);
    mask = mx.logicalAnd(mask, sinks > 0 ? mx.logicalOr(inWindow, mx.less(k, sinks)) : inWindow);
  }
  if (leftPadding) {
    const pad = mx.reshape(mx.array(Int32Array.from(leftPadding)), [-1, 1, 1, 1]);
    mask = mx.logicalAnd(mask, mx.greaterEqual(k, pad));
  }
  return mask;
}

/**
 * What attention is told to hide (MLX-LM's mask argument): null (nothing), 'causal' (the L
 * queries are the last L of the S key positions, each sees the keys up to its own: attention
 * kernels skip the hidden blocks instead of reading a mask), or a boolean array, true where a
 * query sees a key, of shape (L, S) or (B, 1, L, S).
 */
export type AttentionMask = Array | 'causal' | null;

/** The mask as an array for L queries over S keys (null stays null). */
export function maskArray(mask: AttentionMask, L: number, S: number): Array | null {
  if (mask !== 'causal') return mask;
  return mx.lessEqual(mx.expandDims(mx.arange(0, S, 1, 'int32'), 0), mx.expandDims(mx.arange(S - L, S, 1, 'int32'), 1));
}

/**
 * The attention mask for L new tokens with `cache` (or none: a plain causal mask over the L
 * tokens), for a layer that attends to the last `windowSize` tokens (null: all). Null when
 * nothing needs hiding (one new token, every cached key visible); 'causal' when keys and
 * queries are in order and no window or padding bites.
 */
export function createAttentionMask(L: number, cache: KVCache | null | undefined, windowSize: number | null = null): AttentionMask {
  if (cache) return cache.makeMask(L, windowSize);
  if (L === 1) return null;
  if (windowSize === null || L <= windowSize) return 'causal';
  return buildMask(0, L, { sinks: 0, start: 0, end: L }, windowSize, null, 0, null);
}

/** A cache that grows with every token: MLX-LM's KVCache. */
export class KVCache {
  keys: Array | null = null;
  values: Array | null = null;
  /** Columns (tokens, padding included) processed so far. */
  offset = 0;
  /** Padding columns at the start of each batch row, or null. */
  leftPadding: number[] | null;

  constructor(options: CacheOptions = {}) {
    this.leftPadding = checkPadding(this.constructor.name, options.leftPadding);
  }

  /** Appends keys and values (B, kvHeads, L, headDim) and returns every key and value to attend to. */
  updateAndFetch(keys: Array, values: Array): [Array, Array] {
    this.checkUpdate(keys, values);
    this.keys = concatSeq(this.keys, keys);
    this.values = concatSeq(this.values, values);
    this.offset += keys.shape[2];
    return [this.keys, this.values];
  }

  protected checkUpdate(keys: Array, values: Array): void {
    const name = this.constructor.name;
    if (keys.ndim !== 4 || values.ndim !== 4 || keys.shape[2] !== values.shape[2])
      throw new Error(`[${name}.updateAndFetch] expected keys and values of shape (B, kvHeads, L, headDim) with the same L, got (${keys.shape.join(',')}) and (${values.shape.join(',')})`);
    if (this.leftPadding && keys.shape[0] !== this.leftPadding.length)
      throw new Error(`[${name}.updateAndFetch] the cache was made for a batch of ${this.leftPadding.length} (leftPadding), got keys for ${keys.shape[0]}`);
  }

  /** The key columns the next update of `length` tokens will return. */
  protected keyRange(length: number): KeyRange { return { sinks: 0, start: 0, end: this.offset + length }; }

  /** How far back a query sees through this cache (a rotating cache's size), or null. */
  protected get cacheWindow(): number | null { return null; }

  /** The first columns that stay visible whatever the window (a rotating cache's `keep`). */
  protected get sinks(): number { return 0; }

  /** The mask for the next `length` tokens (call before updateAndFetch); see createAttentionMask. */
  makeMask(length: number, windowSize: number | null = null): AttentionMask {
    const range = this.keyRange(length);
    const S = range.sinks + range.end - range.start;
    const win = this.cacheWindow;
    if (!this.leftPadding && (windowSize === null || S <= windowSize) && (win === null || S - this.sinks <= win)) {
      if (length === 1) return null;
      if (range.sinks === 0 && range.start === 0) return 'causal'; // keys 0 .. offset + length - 1, in order
    }
    return buildMask(this.offset, length, range, windowSize, win, this.sinks, this.leftPadding);
  }

  /** The arrays the cache holds (what savePromptCache writes, and what a tidy scope must keep). */
  get state(): Array[] { return this.keys && this.values ? [this.keys, this.values] : []; }
  set state(v: Array[]) {
    if (v.length === 0) { this.keys = this.values = null; this.offset = 0; return; }
    if (v.length !== 2) throw new Error(`[${this.constructor.name}.state] expected [keys, values], got ${v.length} arrays`);
    [this.keys, this.values] = v;
    this.offset = v[0].shape[2];
  }

  /** Settings beside the arrays, as strings (MLX-LM's meta_state). */
  get metaState(): string[] { return this.leftPadding ? [`left_padding=${this.leftPadding.join(',')}`] : []; }
  set metaState(v: string[]) { this.leftPadding = parsePadding(v.find((s) => s.startsWith('left_padding='))); }

  isTrimmable(): boolean { return true; }

  /** Drops the last `n` tokens (speculative decoding rejects draft tokens); returns how many were dropped. */
  trim(n: number): number {
    n = Math.min(this.offset, Math.max(0, n));
    if (n === 0 || !this.keys || !this.values) return 0;
    this.offset -= n;
    this.keys = sliceSeq(this.keys, 0, this.offset);
    this.values = sliceSeq(this.values, 0, this.offset);
    return n;
  }

  size(): number { return this.offset; }
  empty(): boolean { return this.state.length === 0; }
  get nbytes(): number { return this.state.reduce((n, a) => n + a.nbytes, 0); }

  /** A QuantizedKVCache holding this cache's contents (MLX-LM's to_quantized). */
  toQuantized(groupSize = 64, bits = 4): QuantizedKVCache {
    const q = new QuantizedKVCache(groupSize, bits, { leftPadding: this.leftPadding });
    if (this.keys && this.values) {
      q.qkeys = mx.quantize(this.keys, groupSize, bits);
      q.qvalues = mx.quantize(this.values, groupSize, bits);
      q.offset = this.offset;
    }
    return q;
  }
}

function parsePadding(entry: string | undefined): number[] | null {
  if (!entry) return null;
  return entry.slice('left_padding='.length).split(',').map(Number);
}

/**
 * Keeps the last `maxSize` tokens (and the first `keep`, as attention sinks): the cache of a
 * sliding-window layer, or a bound on memory. During a multi-token update it returns up to
 * maxSize - 1 + L keys so each new query still sees a full window; the mask limits every
 * query to the sinks and the last maxSize - keep columns (maxSize keys, as a decoding step sees).
 */
export class RotatingKVCache extends KVCache {
  constructor(readonly maxSize: number, readonly keep = 0, options: CacheOptions = {}) {
    super(options);
    if (!Number.isInteger(maxSize) || maxSize < 1) throw new Error(`[RotatingKVCache] maxSize must be a positive integer, got ${maxSize}`);
    if (!Number.isInteger(keep) || keep < 0 || keep >= maxSize) throw new Error(`[RotatingKVCache] keep must be an integer in [0, maxSize), got ${keep}`);
  }

  /** Each query sees the sinks and the last maxSize - keep columns: maxSize keys in all. */
  protected override get cacheWindow(): number { return this.maxSize - this.keep; }
  protected override get sinks(): number { return this.keep; }

  protected override keyRange(length: number): KeyRange {
    const end = this.offset + length;
    if (this.offset <= this.maxSize - 1) return { sinks: 0, start: 0, end };
    return { sinks: this.keep, start: this.offset - (this.maxSize - 1 - this.keep), end };
  }

  /** The stored columns trimmed to the sinks and the last maxSize - 1 - keep tokens. */
  private trimmed(a: Array): Array {
    const n = a.shape[2], room = this.maxSize - 1;
    if (n <= room) return a;
    const tail = sliceSeq(a, n - (room - this.keep), n);
    return this.keep > 0 ? mx.concatenate([sliceSeq(a, 0, this.keep), tail], 2) : tail;
  }

  override updateAndFetch(keys: Array, values: Array): [Array, Array] {
    this.checkUpdate(keys, values);
    this.keys = concatSeq(this.keys ? this.trimmed(this.keys) : null, keys);
    this.values = concatSeq(this.values ? this.trimmed(this.values) : null, values);
    this.offset += keys.shape[2];
    return [this.keys, this.values];
  }

  override set state(v: Array[]) {
    if (v.length === 0) { this.keys = this.values = null; return; }
    if (v.length !== 2) throw new Error(`[RotatingKVCache.state] expected [keys, values], got ${v.length} arrays`);
    [this.keys, this.values] = v;
  }
  override get state(): Array[] { return super.state; }

  /** [keep, maxSize, offset, idx] as MLX-LM writes them (idx = the stored length: temporal order). */
  override get metaState(): string[] {
    const meta = [this.keep, this.maxSize, this.offset, this.keys ? this.keys.shape[2] : 0].map(String);
    return this.leftPadding ? [...meta, `left_padding=${this.leftPadding.join(',')}`] : meta;
  }
  override set metaState(v: string[]) {
    if (v.length < 4) throw new Error(`[RotatingKVCache.metaState] expected [keep, maxSize, offset, idx], got [${v.join(', ')}]`);
    const [keep, maxSize, offset, idx] = v.slice(0, 4).map(Number);
    if (keep !== this.keep || maxSize !== this.maxSize) throw new Error(`[RotatingKVCache.metaState] keep/maxSize ${keep}/${maxSize} do not match this cache's ${this.keep}/${this.maxSize}`);
    this.offset = offset;
    // MLX-LM writes its ring buffer as is: idx is where the next token goes (its _temporal_order).
    if (this.keys && this.values) {
      const n = this.keys.shape[2];
      const order = (a: Array) => (idx === n ? a
        : idx < offset ? mx.concatenate([sliceSeq(a, 0, this.keep), sliceSeq(a, idx, n), sliceSeq(a, this.keep, idx)], 2)
          : sliceSeq(a, 0, idx));
      this.keys = order(this.keys);
      this.values = order(this.values);
    }
    this.leftPadding = parsePadding(v.find((s) => s.startsWith('left_padding=')));
  }

  override isTrimmable(): boolean { return this.offset < this.maxSize; }

  override trim(n: number): number {
    if (!this.isTrimmable()) return 0;
    return super.trim(n);
  }

  override toQuantized(): QuantizedKVCache {
    throw new Error('[RotatingKVCache.toQuantized] a rotating cache cannot be quantized yet (as in MLX-LM); quantize only KVCache entries (maybeQuantizeKVCache does)');
  }
}

/**
 * Keys and values stored quantized (mx.quantize along headDim: groupSize 32, 64 or 128 must
 * divide it; bits 4 or 8). Attention reads them with quantizedMatmul (updateAndFetchQuantized);
 * updateAndFetch returns them dequantized, for code that needs plain arrays.
 */
export class QuantizedKVCache extends KVCache {
  qkeys: QuantizedArrays | null = null;
  qvalues: QuantizedArrays | null = null;

  constructor(readonly groupSize = 64, readonly bits = 8, options: CacheOptions = {}) {
    super(options);
  }

  updateAndFetchQuantized(keys: Array, values: Array): [QuantizedArrays, QuantizedArrays] {
    this.checkUpdate(keys, values);
    const D = keys.shape[3];
    if (D % this.groupSize !== 0 || values.shape[3] % this.groupSize !== 0)
      throw new Error(`[QuantizedKVCache] the head dims (${D}, ${values.shape[3]}) must be multiples of the group size ${this.groupSize}`);
    const join = (a: QuantizedArrays | null, b: QuantizedArrays): QuantizedArrays =>
      (a ? [concatSeq(a[0], b[0]), concatSeq(a[1], b[1]), concatSeq(a[2], b[2])] : b);
    this.qkeys = join(this.qkeys, mx.quantize(keys, this.groupSize, this.bits));
    this.qvalues = join(this.qvalues, mx.quantize(values, this.groupSize, this.bits));
    this.offset += keys.shape[2];
    return [this.qkeys, this.qvalues];
  }

  override updateAndFetch(keys: Array, values: Array): [Array, Array] {
    const [k, v] = this.updateAndFetchQuantized(keys, values);
    const dq = (q: QuantizedArrays) => mx.dequantize(q[0], q[1], q[2], this.groupSize, this.bits);
    return [dq(k), dq(v)];
  }

  override get state(): Array[] { return this.qkeys && this.qvalues ? [...this.qkeys, ...this.qvalues] : []; }
  override set state(v: Array[]) {
    if (v.length === 0) { this.qkeys = this.qvalues = null; this.offset = 0; return; }
    if (v.length !== 6) throw new Error(`[QuantizedKVCache.state] expected 6 arrays (keys and values, each packed, scales, biases), got ${v.length}`);
    this.qkeys = [v[0], v[1], v[2]];
    this.qvalues = [v[3], v[4], v[5]];
    this.offset = v[0].shape[2];
  }

  /** [offset, groupSize, bits] as MLX-LM writes them. */
  override get metaState(): string[] {
    const meta = [this.offset, this.groupSize, this.bits].map(String);
    return this.leftPadding ? [...meta, `left_padding=${this.leftPadding.join(',')}`] : meta;
  }
  override set metaState(v: string[]) {
    const [offset, groupSize, bits] = v.map(Number);
    if (groupSize !== this.groupSize || bits !== this.bits) throw new Error(`[QuantizedKVCache.metaState] groupSize/bits ${groupSize}/${bits} do not match this cache's ${this.groupSize}/${this.bits}`);
    this.offset = offset;
    this.leftPadding = parsePadding(v.find((s) => s.startsWith('left_padding=')));
  }

  override trim(n: number): number {
    n = Math.min(this.offset, Math.max(0, n));
    if (n === 0 || !this.qkeys || !this.qvalues) return 0;
    this.offset -= n;
    const cut = (q: QuantizedArrays): QuantizedArrays => [sliceSeq(q[0], 0, this.offset), sliceSeq(q[1], 0, this.offset), sliceSeq(q[2], 0, this.offset)];
    this.qkeys = cut(this.qkeys);
    this.qvalues = cut(this.qvalues);
    return n;
  }

  override toQuantized(): QuantizedKVCache { return this; }
}

/** What makePromptCache needs of a model: its layers, and its own makeCache if it has one. */
export interface CacheableModel {
  readonly layers: readonly unknown[];
  makeCache?(options?: CacheOptions): KVCache[];
}

/**
 * A cache for every layer of `model` (MLX-LM's make_prompt_cache): the model's own choice
 * (rotating caches for sliding-window layers), else KVCache. With `maxKvSize`, plain
 * KVCache entries become RotatingKVCache(maxKvSize, keep = 4).
 */
export function makePromptCache(model: CacheableModel, maxKvSize: number | null = null, options: CacheOptions = {}): KVCache[] {
  const caches = model.makeCache ? model.makeCache(options) : model.layers.map(() => new KVCache(options));
  if (maxKvSize === null) return caches;
  return caches.map((c) => (c.constructor === KVCache ? new RotatingKVCache(maxKvSize, 4, options) : c));
}

/**
 * Replaces, in place, the KVCache entries holding at least `quantizedKvStart` tokens by
 * QuantizedKVCache ones (MLX-LM's maybe_quantize_kv_cache); rotating caches stay as they are.
 */
export function maybeQuantizeKVCache(promptCache: KVCache[], quantizedKvStart: number, kvGroupSize = 64, kvBits: number | null = null): void {
  if (kvBits === null) return;
  promptCache.forEach((c, i) => {
    if (c.constructor === KVCache && c.offset >= quantizedKvStart) promptCache[i] = c.toQuantized(kvGroupSize, kvBits);
  });
}

/** Every array the caches hold: return it from an mx.tidy step so the caches survive the scope. */
export function cacheState(cache: readonly KVCache[]): Array[] {
  return cache.flatMap((c) => c.state);
}

const CACHE_CLASSES = ['KVCache', 'RotatingKVCache', 'QuantizedKVCache'] as const;

/**
 * Saves a prompt cache to a .safetensors file in MLX-LM's layout (tensors `i.j`, or `i.j.k`
 * for quantized caches; metadata `0.i[.j]` the meta states, `1.<key>` your metadata, `2.i`
 * the class names), so MLX-LM reads it and lathe reads MLX-LM's.
 */
export function savePromptCache(file: string, cache: readonly KVCache[], metadata: Record<string, string> = {}): void {
  const tensors: Record<string, Array> = {};
  const meta: Record<string, string> = {};
  cache.forEach((c, i) => {
    const name = c.constructor.name;
    if (!(CACHE_CLASSES as readonly string[]).includes(name)) throw new Error(`[savePromptCache] cannot save a cache of class ${name} (supported: ${CACHE_CLASSES.join(', ')})`);
    const st = c.state;
    if (c instanceof QuantizedKVCache) st.forEach((a, j) => { tensors[`${i}.${Math.floor(j / 3)}.${j % 3}`] = a; });
    else st.forEach((a, j) => { tensors[`${i}.${j}`] = a; });
    const ms = c.metaState;
    if (ms.length === 0) meta[`0.${i}`] = '';
    else ms.forEach((s, j) => { meta[`0.${i}.${j}`] = s; });
    meta[`2.${i}`] = name;
  });
  for (const [k, v] of Object.entries(metadata)) meta[`1.${k}`] = String(v);
  saveSafetensors(file, tensors, meta);
}

/** Loads a prompt cache written by savePromptCache (or MLX-LM's save_prompt_cache). */
export function loadPromptCache(file: string, returnMetadata?: false): KVCache[];
export function loadPromptCache(file: string, returnMetadata: true): [KVCache[], Record<string, string>];
export function loadPromptCache(file: string, returnMetadata = false): KVCache[] | [KVCache[], Record<string, string>] {
  const f = loadSafetensors(file);
  const meta = f.metadata ?? {};
  const classes: string[] = [];
  for (const [k, v] of Object.entries(meta)) {
    const m = /^2\.(\d+)$/.exec(k);
    if (m) classes[Number(m[1])] = v;
  }
  if (!classes.length) throw new Error(`[loadPromptCache] ${file}: no cache classes in the metadata (keys '2.<layer>'): not a prompt cache file`);
  const user: Record<string, string> = {};
  for (const [k, v] of Object.entries(meta)) if (k.startsWith('1.')) user[k.slice(2)] = v;
  const caches = classes.map((cls, i) => {
    if (cls === undefined) throw new Error(`[loadPromptCache] ${file}: no class recorded for layer ${i}`);
    const metaState: string[] = [];
    for (let j = 0; `0.${i}.${j}` in meta; j++) metaState.push(meta[`0.${i}.${j}`]);
    const names = Object.keys(f.info).filter((k) => k === `${i}` || k.startsWith(`${i}.`)).sort(compareDotted);
    const state = names.map((k) => f.tensors[k]);
    let c: KVCache;
    if (cls === 'KVCache') c = new KVCache();
    else if (cls === 'RotatingKVCache') c = new RotatingKVCache(Number(metaState[1]), Number(metaState[0]));
    else if (cls === 'QuantizedKVCache') c = new QuantizedKVCache(Number(metaState[1]), Number(metaState[2]));
    else throw new Error(`[loadPromptCache] ${file}: layer ${i} has cache class '${cls}', which lathe cannot read (it reads ${CACHE_CLASSES.join(', ')})`);
    c.state = state;
    if (metaState.length) c.metaState = metaState;
    return c;
  });
  return returnMetadata ? [caches, user] : caches;
}

/** Orders '0.1.2'-style keys by their numbers. */
function compareDotted(a: string, b: string): number {
  const pa = a.split('.').map(Number), pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? -1) - (pb[i] ?? -1);
    if (d !== 0) return d;
  }
  return 0;
}
