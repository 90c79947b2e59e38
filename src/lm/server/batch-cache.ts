// The KV cache of a running batch (MLX-LM's BatchKVCache, as operations on lathe's KVCache):
// rows are left-padded to one length, so sequences of different lengths decode together.
// Rows join (`extend`: the shorter side gets zero columns on the left) and leave (`filter`:
// the rows are dropped and the padding every remaining row shares is cut), so finished
// sequences stop costing compute and memory. Row b's token at column j has position
// j - leftPadding[b], so adding or cutting shared padding never moves a token.
import * as mx from '../../core/index.js';
import type { Array } from '../../core/index.js';
import { KVCache } from '../cache.js';

type Pair = [Array, Array] | null;

/** Zero columns on the left of keys or values (B, H, S, D). */
function padLeft(a: Array, columns: number): Array {
  if (columns === 0) return a;
  const [B, H, , D] = a.shape;
  return mx.concatenate([mx.zeros([B, H, columns, D], a.dtype), a], 2);
}

export class BatchCache {
  /** One KVCache per layer; each holds (rows, kvHeads, offset, headDim) and this batch's padding. */
  layers: KVCache[];
  /** Padding columns at the start of each row. */
  padding: number[];

  private constructor(layers: KVCache[], padding: number[]) {
    this.layers = layers;
    this.padding = padding;
    this.replace(layers, padding);
  }

  /** An empty batch for a model with `numLayers` layers. */
  static empty(numLayers: number): BatchCache {
    return new BatchCache(globalThis.Array.from({ length: numLayers }, () => new KVCache()), []);
  }

  /**
   * The rows of a prefilled cache (`cache`, its rows left-padded by `padding`), row i
   * repeated `copies[i]` times (0 drops it), with the padding the kept rows share cut. The
   * arrays of `cache` are taken over or freed.
   */
  static fromPrefill(cache: readonly KVCache[], padding: readonly number[], copies: readonly number[]): BatchCache {
    if (padding.length !== copies.length) throw new Error(`[BatchCache.fromPrefill] ${padding.length} paddings for ${copies.length} copy counts`);
    for (const n of copies) if (!Number.isInteger(n) || n < 0) throw new Error(`[BatchCache.fromPrefill] copies must be non-negative integers, got ${n}`);
    for (const c of cache) {
      if (c.constructor !== KVCache) throw new Error(`[BatchCache.fromPrefill] only plain KVCache layers can be batched, got ${c.constructor.name}`);
      if (c.keys && c.keys.shape[0] !== padding.length) throw new Error(`[BatchCache.fromPrefill] the cache has ${c.keys.shape[0]} rows, the padding ${padding.length}`);
    }
    const rows = copies.flatMap((n, i) => new globalThis.Array<number>(n).fill(i));
    const offset = cache[0]?.offset ?? 0;
    const pairs: Pair[] = cache.map((c) => (c.keys && c.values ? [c.keys, c.values] : null));
    const b = new BatchCache(pairs.map((p) => {
      const c = new KVCache();
      if (p) [c.keys, c.values] = p;
      c.offset = offset;
      return c;
    }), [...padding]);
    b.filter(rows); // repeats, drops, and cuts the shared padding (a no-op for one copy of each unpadded row)
    return b;
  }

  /** `copies` rows holding one prefilled sequence (`cache`: one row, no padding). */
  static fromSequence(cache: readonly KVCache[], copies: number): BatchCache {
    return BatchCache.fromPrefill(cache, [0], [copies]);
  }

  get rows(): number { return this.padding.length; }
  /** Columns per row, padding included. */
  get offset(): number { return this.layers[0]?.offset ?? 0; }
  /** Every array the batch holds. */
  get arrays(): Array[] { return this.layers.flatMap((c) => c.state); }
  get nbytes(): number { return this.arrays.reduce((n, a) => n + a.nbytes, 0); }

  /** Appends the rows of `other` (which is emptied): the shorter side is padded on the left. */
  extend(other: BatchCache): void {
    if (other.layers.length !== this.layers.length) throw new Error(`[BatchCache.extend] the caches have ${this.layers.length} and ${other.layers.length} layers`);
    if (other.rows === 0) return;
    if (this.rows === 0) { this.replace(other.layers, other.padding); other.forget(); return; }
    const width = Math.max(this.offset, other.offset);
    const mine = width - this.offset, theirs = width - other.offset;
    const pairs: Pair[] = mx.tidy(() => this.layers.map((c, i) => {
      const o = other.layers[i];
      const k = [c.keys, o.keys], v = [c.values, o.values];
      const like = k[0] ?? k[1];
      if (!like) return null; // nothing cached on either side yet
      const fill = (a: Array | null, rows: number, pad: number, ref: Array) => (a ? padLeft(a, pad)
        : mx.zeros([rows, ref.shape[1], width, ref.shape[3]], ref.dtype));
      return [
        mx.concatenate([fill(k[0], this.rows, mine, like), fill(k[1], other.rows, theirs, like)], 0),
        mx.concatenate([fill(v[0], this.rows, mine, (v[0] ?? v[1])!), fill(v[1], other.rows, theirs, (v[0] ?? v[1])!)], 0),
      ] as [Array, Array];
    }));
    const old = [...this.arrays, ...other.arrays];
    this.setPairs(pairs, width, [...this.padding.map((p) => p + mine), ...other.padding.map((p) => p + theirs)]);
    other.forget();
    mx.dispose(old);
  }

  /** Keeps the rows `keep` (indices in the order given, repeats allowed) and cuts the padding they all share. */
  filter(keep: readonly number[]): void {
    for (const r of keep) if (!Number.isInteger(r) || r < 0 || r >= this.rows) throw new Error(`[BatchCache.filter] row ${r} is out of range for ${this.rows} rows`);
    if (keep.length === this.rows && keep.every((r, i) => r === i) && Math.min(...this.padding) === 0) return;
    if (keep.length === 0) { this.dispose(); return; }
    const padding = keep.map((r) => this.padding[r]);
    const shift = Math.min(...padding);
    const width = this.offset - shift;
    const pairs: Pair[] = mx.tidy(() => this.layers.map((c) => {
      if (!c.keys || !c.values) return null;
      const idx = mx.array(Int32Array.from(keep));
      const cut = (a: Array) => mx.take(mx.index(a, mx.s(), mx.s(), mx.s(shift, null)), idx, 0);
      return [cut(c.keys), cut(c.values)] as [Array, Array];
    }));
    const old = this.arrays;
    this.setPairs(pairs, width, padding.map((p) => p - shift));
    mx.dispose(old);
  }

  /**
   * Row `b`'s real columns (its padding cut) as one-row KVCache layers with offset = its
   * token count: what the prompt cache stores. New arrays (evaluated here, so the batch may
   * drop or replace its own at once); an unpadded lone row shares its buffers, which are
   * reference counted.
   */
  extractRow(b: number): KVCache[] {
    if (!Number.isInteger(b) || b < 0 || b >= this.rows) throw new Error(`[BatchCache.extractRow] row ${b} is out of range for ${this.rows} rows`);
    const start = this.padding[b];
    const states = mx.tidy(() => {
      const out = this.layers.map((c) => (c.keys && c.values
        ? [c.keys, c.values].map((a) => mx.stopGradient(mx.index(a, mx.s(b, b + 1), mx.s(), mx.s(start, null))))
        : []));
      mx.eval(out.flat());
      return out;
    });
    return states.map((s) => {
      const c = new KVCache();
      c.state = s;
      return c;
    });
  }

  /** Frees every array; the batch is empty afterwards. */
  dispose(): void {
    mx.dispose(this.arrays);
    this.forget();
  }

  private forget(): void { this.replace(this.layers.map(() => new KVCache()), []); }

  private replace(layers: KVCache[], padding: number[]): void {
    this.layers = layers;
    this.padding = padding;
    for (const c of layers) c.leftPadding = padding.length ? padding : null;
  }

  private setPairs(pairs: Pair[], offset: number, padding: number[]): void {
    const layers = pairs.map((p) => {
      const c = new KVCache();
      if (p) [c.keys, c.values] = p;
      c.offset = offset;
      return c;
    });
    this.replace(layers, padding);
  }
}
