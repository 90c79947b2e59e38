// A KV cache with fixed shapes, for decoding steps that are compiled once and replayed (a
// CUDA graph on the GPU). KVCache grows by concatenation, so every token changes the shapes
// of the cache and of attention; StaticKVCache holds (B, kvHeads, maxSize, headDim) from the
// first update on, writes new keys and values at their positions, and attention always reads
// all maxSize columns with a mask hiding the ones not written yet. The position of the next
// token can be a device array (`position`): the write, the mask and the rotary angles are
// then computed from it on the device, so one compiled step serves every token.
//
// Left-padded batches (batchGenerate) work as with KVCache: the rows advance together, so
// they share one write column; the mask also hides row b's first leftPadding[b] columns, and
// row b's token at column j has position j - leftPadding[b]. Inside a compiled step the
// padding is a device array (`padding`, (B,) int32) like the position, so batches with
// different paddings share one trace.
//
// A masked column adds exp(-huge) = 0 to the softmax sum and 0 · v to the output, so
// attention over the whole buffer gives what attention over the written columns gives, up
// to the order in which a backend adds the zeros.
import * as mx from '../core/index.js';
import type { Array } from '../core/index.js';
import { KVCache, type CacheOptions } from './cache.js';
import { Positions } from './rope.js';

/**
 * Positions from device arrays: the first new token's column (a 0-d int32 array) and, for a
 * left-padded batch, each row's padding ((B,) int32): row b's positions start at column - padding[b].
 */
export class DevicePositions extends Positions {
  private rowStarts: Array | undefined;

  constructor(readonly start: Array, length: number, readonly padding: Array | null = null) {
    super(0, length, null);
  }

  /** The rotary schedules that depend on the sequence length (dynamic, longrope) cannot be used with device positions. */
  override get seqLen(): number { return this.length; }
  /** The first token's position: 0-d, or (B,) per row with padding. */
  override starts(): Array {
    if (!this.padding) return this.start;
    return this.rowStarts ??= mx.subtract(this.start, this.padding);
  }
  /** Positions as float32: (L,), or (B, 1, L) with padding (as Positions.values). */
  override values(): Array {
    const t = mx.arange(0, this.length, 1, 'float32');
    if (!this.padding) return mx.add(t, mx.astype(this.start, mx.float32));
    return mx.add(t, mx.reshape(mx.astype(this.starts(), mx.float32), [-1, 1, 1]));
  }
}

export class StaticKVCache extends KVCache {
  /**
   * The position of the next token as a 0-d int32 device array, or null: then `offset` (a
   * host number) places the tokens. compiled-step.ts sets it while it traces a step.
   */
  position: Array | null = null;
  /**
   * Each row's padding columns as a (B,) int32 device array, or null: then `leftPadding` (host
   * numbers, maybe null) gives them. compiled-step.ts passes it into the step with the position.
   */
  padding: Array | null = null;

  constructor(readonly maxSize: number, options: CacheOptions = {}) {
    super(options);
    if (!Number.isInteger(maxSize) || maxSize < 1) throw new Error(`[StaticKVCache] maxSize must be a positive integer, got ${maxSize}`);
  }

  /**
   * A cache over given buffers (B, kvHeads, maxSize, headDim) whose next token is at
   * `position`, with each row's padding columns `padding` ((B,) int32) when left-padded.
   */
  static over(keys: Array, values: Array, position: Array | null, offset = 0, padding: Array | null = null): StaticKVCache {
    if (padding && (padding.ndim !== 1 || padding.shape[0] !== keys.shape[0] || !padding.dtype.isInteger))
      throw new Error(`[StaticKVCache.over] padding must be integer (B,) = (${keys.shape[0]}), got ${padding.dtype.name} (${padding.shape.join(',')})`);
    const c = new StaticKVCache(keys.shape[2]);
    c.keys = keys;
    c.values = values;
    c.position = position;
    c.offset = offset;
    c.padding = padding;
    return c;
  }

  /** The padding as a (B,) int32 array (the device one, else leftPadding), or null without padding. */
  private paddingArray(): Array | null {
    if (this.padding) return this.padding;
    return this.leftPadding ? mx.array(Int32Array.from(this.leftPadding)) : null;
  }

  /** Where the next `length` tokens sit (rotary angles): device positions when `position` or `padding` is set. */
  positions(length: number): Positions {
    if (!this.position && !this.padding) return new Positions(this.offset, length, this.leftPadding);
    return new DevicePositions(this.position ?? mx.array(this.offset, mx.int32), length, this.paddingArray());
  }

  override updateAndFetch(keys: Array, values: Array): [Array, Array] {
    this.checkUpdate(keys, values);
    const L = keys.shape[2];
    if (!this.position && this.offset + L > this.maxSize)
      throw new Error(`[StaticKVCache] ${this.offset} + ${L} tokens do not fit its ${this.maxSize} positions`);
    if (!this.keys || !this.values) {
      const [B, H, , D] = keys.shape;
      this.keys = mx.zeros([B, H, this.maxSize, D], keys.dtype);
      this.values = mx.zeros([B, H, this.maxSize, values.shape[3]], values.dtype);
    }
    this.keys = this.write(this.keys, keys);
    this.values = this.write(this.values, values);
    this.offset += L;
    return [this.keys, this.values];
  }

  /**
   * `buf` with `update` (B, H, L, D) written at the next positions: a dynamic sliceUpdate at
   * the device position (a scatter that a graph runs in place on the donated buffer, writing
   * only the L new rows), or a static one at the host offset.
   */
  private write(buf: Array, update: Array): Array {
    const u = mx.astype(update, buf.dtype);
    return mx.sliceUpdate(buf, u, this.position ? mx.reshape(this.position, [1]) : [this.offset], [2]);
  }

  /**
   * Queries at the next `length` columns see the columns up to theirs (and within
   * `windowSize`): (L, maxSize); with padding, (B, 1, L, maxSize) also hiding each row's
   * padding columns. The window counts columns, as KVCache's mask does.
   */
  override makeMask(length: number, windowSize: number | null = null): Array {
    const start = this.position ?? mx.array(this.offset, mx.int32);
    const q = mx.add(mx.reshape(mx.arange(0, length, 1, 'int32'), [length, 1]), start);
    const k = mx.arange(0, this.maxSize, 1, 'int32');
    let mask = mx.lessEqual(k, q);
    if (windowSize !== null) mask = mx.logicalAnd(mask, mx.less(mx.subtract(q, k), windowSize));
    const pad = this.paddingArray();
    if (pad) mask = mx.logicalAnd(mask, mx.greaterEqual(k, mx.reshape(pad, [-1, 1, 1, 1])));
    return mask;
  }

  override get state(): Array[] { return this.keys && this.values ? [this.keys, this.values] : []; }
  override set state(v: Array[]) {
    if (v.length === 0) { this.keys = this.values = null; this.offset = 0; return; }
    if (v.length !== 2) throw new Error(`[StaticKVCache.state] expected [keys, values], got ${v.length} arrays`);
    if (v[0].shape[2] !== this.maxSize) throw new Error(`[StaticKVCache.state] expected buffers with ${this.maxSize} positions, got (${v[0].shape.join(',')})`);
    [this.keys, this.values] = v;
  }

  /** Trimming moves the position back; the stale columns stay hidden by the mask until overwritten. */
  override trim(n: number): number {
    n = Math.min(this.offset, Math.max(0, n));
    this.offset -= n;
    return n;
  }

  override toQuantized(): never {
    throw new Error('[StaticKVCache.toQuantized] a static cache cannot be quantized yet; use KVCache with kvBits');
  }
}

/** One StaticKVCache of `maxSize` positions per layer of `model` (left-padded rows with `options.leftPadding`). */
export function makeStaticCache(model: { readonly layers: readonly unknown[] }, maxSize: number, options: CacheOptions = {}): StaticKVCache[] {
  return model.layers.map(() => new StaticKVCache(maxSize, options));
}
